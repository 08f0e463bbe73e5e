//! Retention: which packages a publish drops from the metadata (`keep-versions=N`,
//! `keep-days=D`, stored per repository in its settings).
//!
//! For every name and arch the N newest EVRs stay (rpm's ordering,
//! [`rpmbucket_repodata::version`]); of the others, those uploaded less than D days ago stay
//! too. A dropped package leaves the metadata first; its object stays in the store for the
//! grace period (clients that read the previous `repomd.xml` may still download it) and is
//! deleted by a later publish.

use std::collections::BTreeMap;

use rpmbucket_repodata::Package;

use crate::config::Retention;

/// The hrefs (keys relative to the root) of `packages` that `retention` drops at time `now`
/// (seconds since the epoch), in key order. Packages are `(href, record)`; the upload time is
/// the record's file modification time.
pub fn plan<'a>(
    packages: impl IntoIterator<Item = (&'a str, &'a Package)>,
    retention: &Retention,
    now: i64,
) -> Vec<String> {
    let Some(keep) = retention.keep_versions else {
        return Vec::new();
    };
    let mut groups: BTreeMap<(&str, &str), Vec<(&str, &Package)>> = BTreeMap::new();
    for (href, p) in packages {
        groups
            .entry((p.name.as_str(), p.arch.as_str()))
            .or_default()
            .push((href, p));
    }
    let young = |p: &Package| match retention.keep_days {
        Some(days) => p.time_file > now - i64::from(days) * 86_400,
        None => false,
    };
    let mut drop = Vec::new();
    for (_, mut group) in groups {
        // Newest first; equal EVRs (the same build under two keys) count once.
        group.sort_by(|a, b| b.1.cmp_evr(a.1).then_with(|| a.0.cmp(b.0)));
        let mut distinct = 0u32;
        let mut last: Option<&Package> = None;
        for (href, p) in group {
            if last.is_none_or(|l| l.cmp_evr(p).is_ne()) {
                distinct += 1;
                last = Some(p);
            }
            if distinct > keep && !young(p) {
                drop.push(href.to_string());
            }
        }
    }
    drop.sort();
    drop
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, arch: &str, evr: (&str, &str, &str), mtime: i64) -> Package {
        Package {
            name: name.into(),
            arch: arch.into(),
            epoch: evr.0.into(),
            version: evr.1.into(),
            release: evr.2.into(),
            time_file: mtime,
            ..Package::default()
        }
    }

    fn run(pkgs: &[(&str, Package)], r: Retention, now: i64) -> Vec<String> {
        plan(pkgs.iter().map(|(h, p)| (*h, p)), &r, now)
    }

    #[test]
    fn keeps_n_newest_per_name_and_arch_in_rpm_order() {
        let pkgs = [
            ("a-1.0~rc1", pkg("a", "x86_64", ("0", "1.0~rc1", "1"), 0)),
            ("a-1.0", pkg("a", "x86_64", ("0", "1.0", "1"), 0)),
            ("a-1.0^git1", pkg("a", "x86_64", ("0", "1.0^git1", "1"), 0)),
            ("a-0.9-e1", pkg("a", "x86_64", ("1", "0.9", "1"), 0)),
            ("a-10", pkg("a", "x86_64", ("0", "10", "1"), 0)),
            ("a-2.noarch", pkg("a", "noarch", ("0", "2", "1"), 0)),
            ("b-1", pkg("b", "x86_64", ("0", "1", "1"), 0)),
        ];
        let keep2 = Retention {
            keep_versions: Some(2),
            keep_days: None,
        };
        // Newest first: 1:0.9 > 10 > 1.0^git1 > 1.0 > 1.0~rc1.
        assert_eq!(
            run(&pkgs, keep2, 100),
            vec!["a-1.0", "a-1.0^git1", "a-1.0~rc1"]
        );
        let keep1 = Retention {
            keep_versions: Some(1),
            ..keep2
        };
        assert_eq!(
            run(&pkgs, keep1, 100),
            vec!["a-1.0", "a-1.0^git1", "a-1.0~rc1", "a-10"]
        );
        assert!(run(&pkgs, Retention::default(), 100).is_empty());
    }

    #[test]
    fn keep_days_protects_young_packages() {
        let day = 86_400;
        let now = 100 * day;
        let pkgs = [
            ("old", pkg("a", "x86_64", ("0", "1", "1"), now - 10 * day)),
            ("young", pkg("a", "x86_64", ("0", "2", "1"), now - day)),
            (
                "newest",
                pkg("a", "x86_64", ("0", "3", "1"), now - 20 * day),
            ),
        ];
        let r = Retention {
            keep_versions: Some(1),
            keep_days: Some(5),
        };
        assert_eq!(run(&pkgs, r, now), vec!["old"]);
    }

    /// EVR edge cases (epochs, `~`, `^`, letters against digits, leading zeros, releases),
    /// uploaded in several shuffled orders: what retention keeps is exactly the newest N as the
    /// installed rpm ranks them (`rpm.ver` comparisons in rpm's Lua).
    #[test]
    fn keeps_what_rpm_ranks_newest_in_any_order() {
        const EVRS: &[&str] = &[
            "1.0~rc1-1",
            "1.0~rc1~git5-1",
            "1.0-1",
            "1.0^git1-1",
            "1.0^git1~pre-1",
            "1.0.1-1",
            "1.0a-1",
            "1.a-1",
            "2a-1",
            "2.0-1",
            "1:0.5-1",
            "1:0.5-1.el10",
            "1:0.5-1.el9",
            "2:0.0.1-0",
            "1.0010-1",
            "FC5-1",
            "fc4-1",
        ];
        let mut script = String::from("%{lua: local t = {");
        for e in EVRS {
            script.push_str(&format!("'{e}', "));
        }
        script.push_str(
            "} table.sort(t, function(a, b) return rpm.ver(a) > rpm.ver(b) end) \
             for _, v in ipairs(t) do print(v .. ' ') end}",
        );
        let ranked = rpmbucket_testenv::rpm_eval_words(&script);
        assert_eq!(ranked.len(), EVRS.len(), "{ranked:?}");
        let parse = |evr: &str| {
            let (epoch, vr) = evr.split_once(':').unwrap_or(("", evr));
            let (v, r) = vr.rsplit_once('-').unwrap();
            (epoch.to_owned(), v.to_owned(), r.to_owned())
        };
        let mut rng = fastrand::Rng::with_seed(16);
        for keep in [1, 3, 7] {
            let mut order: Vec<&str> = EVRS.to_vec();
            rng.shuffle(&mut order);
            let pkgs: Vec<(String, Package)> = order
                .iter()
                .map(|evr| {
                    let (e, v, r) = parse(evr);
                    (evr.to_string(), pkg("a", "x86_64", (&e, &v, &r), 0))
                })
                .collect();
            let dropped = plan(
                pkgs.iter().map(|(h, p)| (h.as_str(), p)),
                &Retention {
                    keep_versions: Some(keep),
                    keep_days: None,
                },
                0,
            );
            let mut want: Vec<String> = ranked[keep as usize..].to_vec();
            want.sort();
            assert_eq!(
                dropped, want,
                "keep-versions={keep}, upload order {order:?}"
            );
        }
    }

    #[test]
    fn the_same_evr_under_two_keys_counts_once() {
        let pkgs = [
            ("x/a-2", pkg("a", "x86_64", ("0", "2", "1"), 0)),
            ("y/a-2", pkg("a", "x86_64", ("", "2", "1"), 0)),
            ("a-1", pkg("a", "x86_64", ("0", "1", "1"), 0)),
        ];
        let r = Retention {
            keep_versions: Some(1),
            keep_days: None,
        };
        assert_eq!(run(&pkgs, r, 0), vec!["a-1"]);
    }
}

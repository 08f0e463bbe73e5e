//! rpm's version comparison, the one implementation the workspace uses (retention, "newest
//! version of NAME", sorting the repository page).
//!
//! The segment comparison is rpm's `rpmvercmp` (epochs compared as numbers, `~` sorts before
//! everything including the end of the string, `^` after the end but before anything else,
//! digit runs are newer than letter runs, leading zeros ignored), provided by the
//! `rpm-version` crate (rpm-rs). The tests below check its answers against rpm's own
//! `rpm.vercmp` (the `rpm` binary's Lua interpreter).
//!
//! ```
//! use std::cmp::Ordering;
//! use rpmbucket_repodata::version::{compare_evr, vercmp};
//!
//! assert_eq!(vercmp("1.0~rc1", "1.0"), Ordering::Less);
//! assert_eq!(compare_evr(("1", "1.0", "1"), ("", "9.9", "1")), Ordering::Greater);
//! ```

use std::cmp::Ordering;

use crate::Package;

/// Compare two version (or release) strings the way rpm's `rpmvercmp` does.
pub fn vercmp(a: &str, b: &str) -> Ordering {
    // An EVR with only a version compares exactly that segment (epoch 0, empty release on
    // both sides).
    compare_evr(("", a, ""), ("", b, ""))
}

/// Compare `(epoch, version, release)` triples as rpm orders packages (`rpmVersionCompare`):
/// epoch first (empty is 0), then version, then release.
pub fn compare_evr(a: (&str, &str, &str), b: (&str, &str, &str)) -> Ordering {
    let a = rpm_version::Evr::new(a.0, a.1, a.2);
    let b = rpm_version::Evr::new(b.0, b.1, b.2);
    a.cmp(&b)
}

impl Package {
    /// Compare this package's EVR with another's (rpm's ordering; name and arch are not
    /// looked at).
    pub fn cmp_evr(&self, other: &Package) -> Ordering {
        compare_evr(
            (&self.epoch, &self.version, &self.release),
            (&other.epoch, &other.version, &other.release),
        )
    }

    /// `[EPOCH:]VERSION-RELEASE` (the epoch only when it is not 0).
    pub fn evr(&self) -> String {
        if self.epoch.is_empty() || self.epoch == "0" {
            format!("{}-{}", self.version, self.release)
        } else {
            format!("{}:{}-{}", self.epoch, self.version, self.release)
        }
    }

    /// `NAME-[EPOCH:]VERSION-RELEASE.ARCH`, as dnf prints it.
    pub fn nevra(&self) -> String {
        format!("{}-{}.{}", self.name, self.evr(), self.arch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(a, b, rpm.vercmp(a, b))`, the expected value as rpm 4.18 prints it.
    const CASES: &[(&str, &str, i8)] = &[
        ("1.0", "1.0", 0),
        ("1.0", "2.0", -1),
        ("2.0", "10.0", -1),
        ("1.01", "1.1", 0),
        ("1.0010", "1.9", 1),
        ("1.05", "1.5", 0),
        ("1.0", "1", 1),
        ("1.0", "1.0.a", -1),
        ("1.0a", "1.0", 1),
        ("1.a", "1.1", -1),
        ("a", "b", -1),
        ("abc", "abd", -1),
        ("1.0aa", "1.0a", 1),
        ("FC5", "fc4", -1),
        ("2a", "2.0", -1),
        ("1.0~rc1", "1.0", -1),
        ("1.0~rc1", "1.0~rc2", -1),
        ("1.0~rc1~git123", "1.0~rc1", -1),
        ("1.0~~", "1.0~", -1),
        ("1.0~", "1.0", -1),
        ("1.0^", "1.0", 1),
        ("1.0^git1", "1.0", 1),
        ("1.0^git1", "1.0.1", -1),
        ("1.0^git1", "1.0^git2", -1),
        ("1.0^git1~pre", "1.0^git1", -1),
        ("1.0^1", "1.0~1", 1),
        ("1.0^", "1.0^", 0),
        ("1_0", "1.0", 0),
        ("1+0", "1.0", 0),
        ("1.0", "1.0.0", -1),
        ("0001", "1", 0),
        ("20251204git", "20251204", 1),
        ("5.4.0.el9", "5.4.0.el10", -1),
    ];

    macro_rules! ord {
        ($i:expr) => {
            match $i {
                -1 => Ordering::Less,
                0 => Ordering::Equal,
                _ => Ordering::Greater,
            }
        };
    }

    #[test]
    fn segment_table() {
        for &(a, b, want) in CASES {
            assert_eq!(vercmp(a, b), ord!(want), "vercmp({a:?}, {b:?})");
            assert_eq!(vercmp(b, a), ord!(want).reverse(), "vercmp({b:?}, {a:?})");
        }
    }

    #[test]
    fn epochs_win_and_compare_as_numbers() {
        assert_eq!(
            compare_evr(("1", "1.0", "1"), ("0", "9.9", "9")),
            Ordering::Greater
        );
        assert_eq!(
            compare_evr(("", "1.0", "1"), ("0", "1.0", "1")),
            Ordering::Equal
        );
        assert_eq!(
            compare_evr(("10", "1", "1"), ("9", "1", "1")),
            Ordering::Greater
        );
        assert_eq!(
            compare_evr(("01", "1", "1"), ("1", "1", "1")),
            Ordering::Equal
        );
        assert_eq!(
            compare_evr(("0", "1.0", "2.el9"), ("0", "1.0", "10.el9")),
            Ordering::Less
        );
    }

    /// The table above is rpm's own answer: ask the installed `rpm` (its Lua `rpm.vercmp`, the
    /// C `rpmvercmp`) for every pair, so a wrong row in the table cannot hide a wrong result.
    #[test]
    fn table_matches_installed_rpm() {
        let mut script = String::from("%{lua: ");
        for (a, b, _) in CASES {
            script.push_str(&format!("print(rpm.vercmp('{a}', '{b}') .. ' ') "));
        }
        script.push('}');
        let got: Vec<i8> = rpmbucket_testenv::rpm_eval_words(&script)
            .iter()
            .map(|s| s.parse::<i8>().expect("number").signum())
            .collect();
        let want: Vec<i8> = CASES.iter().map(|c| c.2).collect();
        assert_eq!(got, want, "rpm.vercmp over CASES");
    }

    #[test]
    fn nevra_strings() {
        let p = Package {
            name: "foo".into(),
            epoch: "0".into(),
            version: "1.0".into(),
            release: "1.el9".into(),
            arch: "x86_64".into(),
            ..Package::default()
        };
        assert_eq!(p.nevra(), "foo-1.0-1.el9.x86_64");
        let q = Package {
            epoch: "2".into(),
            ..p.clone()
        };
        assert_eq!(q.nevra(), "foo-2:1.0-1.el9.x86_64");
        assert_eq!(q.cmp_evr(&p), Ordering::Greater);
    }
}

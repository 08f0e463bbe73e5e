//! Promotion: copy packages from one repository to another inside the same store with a
//! server-side copy (S3 `CopyObject`), then publish the target. The package bodies are never
//! downloaded: the copy's ETag and the source record's pkgid are handed to the publish as a
//! hint, so it reads only the header range of each copy.

use std::collections::BTreeMap;

use rpmbucket_repodata::Package;

use crate::error::{Error, Result};
use crate::layout::normalise_root;
use crate::publish::{Change, ChangeKind, Indexer, PublishReport};
use crate::store::PutOptions;

/// One package copied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Promoted {
    /// `NAME-[EPOCH:]VERSION-RELEASE.ARCH`.
    pub nevra: String,
    /// Source key.
    pub from: String,
    /// Target key.
    pub to: String,
}

/// Which packages of `packages` (href → record) `wanted` names: a NEVRA (as `ls` prints it),
/// a key relative to the root, or a NAME (its newest EVR, per arch). Each selector must match;
/// the first that does not is returned as the error.
pub fn select<'a>(
    packages: &'a BTreeMap<String, &'a Package>,
    wanted: &[String],
) -> std::result::Result<Vec<&'a str>, String> {
    let mut out: Vec<&str> = Vec::new();
    for w in wanted {
        let exact: Vec<&str> = packages
            .iter()
            .filter(|(href, p)| p.nevra() == *w || href.as_str() == w)
            .map(|(h, _)| h.as_str())
            .collect();
        let found = if exact.is_empty() {
            let mut newest: BTreeMap<&str, (&str, &Package)> = BTreeMap::new();
            for (href, p) in packages.iter().filter(|(_, p)| p.name == *w) {
                let slot = newest.entry(p.arch.as_str()).or_insert((href, p));
                if p.cmp_evr(slot.1).is_gt() {
                    *slot = (href, p);
                }
            }
            newest.into_values().map(|(h, _)| h).collect()
        } else {
            exact
        };
        if found.is_empty() {
            return Err(w.clone());
        }
        out.extend(found);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

impl Indexer {
    /// Copy the packages `wanted` names from repository `from` to repository `to` (both in
    /// this indexer's store) and publish `to`.
    pub async fn promote(
        &self,
        from: &str,
        to: &str,
        wanted: &[String],
    ) -> Result<(Vec<Promoted>, PublishReport)> {
        let (from, to) = (normalise_root(from), normalise_root(to));
        let snap = self.snapshot(&from).await?;
        let records: BTreeMap<String, &Package> = snap
            .state
            .packages
            .iter()
            .map(|(h, e)| (h.clone(), &*e.package))
            .collect();
        let chosen = select(&records, wanted).map_err(|what| Error::NotInRepository {
            root: from.clone(),
            what,
        })?;
        let mut promoted = Vec::new();
        let mut changes = Vec::new();
        self.progress().report(crate::progress::Progress::Begin {
            what: "copying",
            total: chosen.len() as u64,
        });
        for href in chosen {
            let p = records[href];
            let name = href.rsplit('/').next().unwrap_or(href);
            let (src, dst) = (format!("{from}{href}"), format!("{to}{name}"));
            let opts = PutOptions {
                content_type: Some("application/x-rpm".into()),
                ..PutOptions::default()
            };
            let meta = self.store().copy(&src, &dst, opts).await?;
            self.progress().report(crate::progress::Progress::Step);
            changes.push(Change {
                key: dst.clone(),
                kind: ChangeKind::Created,
                etag: Some(meta.etag),
                sha256: Some(p.pkgid.clone()),
            });
            promoted.push(Promoted {
                nevra: p.nevra(),
                from: src,
                to: dst,
            });
        }
        let report = self.apply(&to, &changes).await?;
        Ok((promoted, report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, epoch: &str, version: &str, arch: &str) -> Package {
        Package {
            name: name.into(),
            epoch: epoch.into(),
            version: version.into(),
            release: "1".into(),
            arch: arch.into(),
            ..Package::default()
        }
    }

    #[test]
    fn names_pick_the_newest_per_arch_nevras_and_keys_are_exact() {
        let pkgs = [
            ("a-1.0.rpm", p("a", "0", "1.0", "x86_64")),
            ("a-1.0^git.rpm", p("a", "0", "1.0^git1", "x86_64")),
            ("a-2.0~rc.rpm", p("a", "0", "2.0~rc1", "x86_64")),
            ("a-0.1.noarch.rpm", p("a", "0", "0.1", "noarch")),
            ("b.rpm", p("b", "2", "0.1", "x86_64")),
        ];
        let map: BTreeMap<String, &Package> =
            pkgs.iter().map(|(h, p)| (h.to_string(), p)).collect();
        let s = |w: &[&str]| select(&map, &w.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&["a"]).unwrap(), ["a-0.1.noarch.rpm", "a-2.0~rc.rpm"]);
        assert_eq!(s(&["a-1.0-1.x86_64"]).unwrap(), ["a-1.0.rpm"]);
        assert_eq!(s(&["b-2:0.1-1.x86_64", "b.rpm"]).unwrap(), ["b.rpm"]);
        assert_eq!(s(&["a", "zz"]).unwrap_err(), "zz");
    }
}

//! Garbage and tombstone rules: when a file of a replaced generation may be deleted, which
//! names a new generation must not reuse, and which unreferenced files a sweep removes.
//!
//! - A file the base generation references and the new one does not becomes *garbage*, stamped
//!   with the time it stopped being referenced. Clients that read the previous `repomd.xml`
//!   may still be downloading it, so it stays for the grace period.
//! - Garbage past the grace period is deleted after the next swap and becomes a *tombstone*:
//!   a publisher that started from an older generation may still be deleting that name, so no
//!   new generation reuses it for [`TOMBSTONE_TTL`] (or the grace period, if longer); see
//!   [`crate::naming::content_name`].
//! - A sweep (reconcile) deletes content-addressed files under `repodata/` that nothing
//!   references, that are not garbage awaiting their grace period, and that are older than the
//!   grace period (left by crashed runs).

use std::collections::BTreeSet;

use crate::layout::REPODATA_DIR;
use crate::naming::is_content_addressed;
use crate::state::Garbage;
use crate::store::ObjectMeta;

/// How long (seconds) a deleted file's name is not reused.
pub(crate) const TOMBSTONE_TTL: i64 = 3600;

/// The garbage and tombstone lists of a new generation, and what to delete after its swap.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Collection {
    /// Garbage still within its grace period (kept in the new state).
    pub garbage: Vec<Garbage>,
    /// Names not to reuse (kept in the new state).
    pub tombstones: Vec<Garbage>,
    /// Files to delete once the new generation is published.
    pub expired: Vec<Garbage>,
}

/// Is any garbage past its grace period?
pub(crate) fn any_due(garbage: &[Garbage], now: i64, grace: i64) -> bool {
    garbage.iter().any(|g| g.since + grace <= now)
}

/// Garbage and tombstones of the generation that references `new_refs`, from the base's lists
/// and what the base referenced.
pub(crate) fn collect(
    base_garbage: &[Garbage],
    base_tombstones: &[Garbage],
    base_referenced: &BTreeSet<String>,
    new_refs: &BTreeSet<String>,
    now: i64,
    grace: i64,
) -> Collection {
    let mut garbage: Vec<Garbage> = base_garbage
        .iter()
        .filter(|g| !new_refs.contains(&g.href))
        .cloned()
        .collect();
    for old in base_referenced {
        if !new_refs.contains(old) && !garbage.iter().any(|g| &g.href == old) {
            garbage.push(Garbage {
                href: old.clone(),
                since: now,
            });
        }
    }
    let (expired, kept): (Vec<Garbage>, Vec<Garbage>) =
        garbage.into_iter().partition(|g| g.since + grace <= now);
    let tombstones = base_tombstones
        .iter()
        .filter(|t| t.since + TOMBSTONE_TTL.max(grace) > now)
        .cloned()
        .chain(expired.iter().map(|g| Garbage {
            href: g.href.clone(),
            since: now,
        }))
        .collect();
    Collection {
        garbage: kept,
        tombstones,
        expired,
    }
}

/// Keys of the objects of a `repodata/` listing under `root` that a sweep deletes: plain
/// content-addressed files (not `repomd.xml`, not the rejected list, nothing in a
/// subdirectory) that are not in `keep` (hrefs relative to the root) and were last modified
/// at least `grace` seconds before `now`.
pub(crate) fn orphans(
    listing: &[ObjectMeta],
    root: &str,
    keep: &BTreeSet<&str>,
    now: i64,
    grace: i64,
) -> Vec<String> {
    let dir = format!("{root}{REPODATA_DIR}/");
    listing
        .iter()
        .filter(|o| {
            let Some(name) = o.key.strip_prefix(&dir) else {
                return false;
            };
            let href = &o.key[root.len()..];
            !name.contains('/')
                && is_content_addressed(name)
                && !keep.contains(href)
                && o.last_modified + grace <= now
        })
        .map(|o| o.key.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(href: &str, since: i64) -> Garbage {
        Garbage {
            href: href.into(),
            since,
        }
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn collect_table() {
        const GRACE: i64 = 100;
        const NOW: i64 = 1000;
        // (base garbage, base tombstones, base refs, new refs) → (garbage, tombstones, expired)
        #[allow(clippy::type_complexity)]
        let table: Vec<(
            Vec<Garbage>,
            Vec<Garbage>,
            &[&str],
            &[&str],
            Vec<Garbage>,
            Vec<Garbage>,
            Vec<Garbage>,
        )> = vec![
            // Nothing replaced.
            (vec![], vec![], &["x"], &["x"], vec![], vec![], vec![]),
            // A replaced file becomes garbage now.
            (
                vec![],
                vec![],
                &["x"],
                &["y"],
                vec![g("x", NOW)],
                vec![],
                vec![],
            ),
            // Garbage within its grace stays; past it, it expires and becomes a tombstone.
            (
                vec![g("o", NOW - GRACE + 1)],
                vec![],
                &["y"],
                &["y"],
                vec![g("o", NOW - GRACE + 1)],
                vec![],
                vec![],
            ),
            (
                vec![g("o", NOW - GRACE)],
                vec![],
                &["y"],
                &["y"],
                vec![],
                vec![g("o", NOW)],
                vec![g("o", NOW - GRACE)],
            ),
            // Garbage referenced again (same content published again) is no longer garbage.
            (
                vec![g("o", 0)],
                vec![],
                &["y"],
                &["o", "y"],
                vec![],
                vec![],
                vec![],
            ),
            // Garbage keeps its first stamp when the base still lists it.
            (
                vec![g("x", NOW - 5)],
                vec![],
                &["x"],
                &["y"],
                vec![g("x", NOW - 5)],
                vec![],
                vec![],
            ),
            // Tombstones last TOMBSTONE_TTL (longer than this grace).
            (
                vec![],
                vec![g("t", NOW - TOMBSTONE_TTL + 1), g("u", NOW - TOMBSTONE_TTL)],
                &[],
                &[],
                vec![],
                vec![g("t", NOW - TOMBSTONE_TTL + 1)],
                vec![],
            ),
        ];
        for (i, (bg, bt, br, nr, garbage, tombstones, expired)) in table.into_iter().enumerate() {
            let c = collect(&bg, &bt, &set(br), &set(nr), NOW, GRACE);
            assert_eq!(c.garbage, garbage, "row {i}: garbage");
            assert_eq!(c.tombstones, tombstones, "row {i}: tombstones");
            assert_eq!(c.expired, expired, "row {i}: expired");
        }
        // With a grace longer than the tombstone TTL, tombstones last the grace.
        let c = collect(
            &[],
            &[g("t", 0)],
            &set(&[]),
            &set(&[]),
            TOMBSTONE_TTL,
            2 * TOMBSTONE_TTL,
        );
        assert_eq!(c.tombstones, [g("t", 0)]);
        assert!(any_due(&[g("a", 0)], 10, 10));
        assert!(!any_due(&[g("a", 1)], 10, 10));
    }

    #[test]
    fn orphans_table() {
        let h = "a".repeat(64);
        let o = |name: &str, mtime: i64| ObjectMeta {
            key: format!("r/repodata/{name}"),
            last_modified: mtime,
            ..ObjectMeta::default()
        };
        let kept = format!("repodata/{h}-kept.xml.gz");
        let keep = BTreeSet::from([kept.as_str()]);
        let listing = [
            o(&format!("{h}-old.xml.gz"), 0),     // orphan, old: deleted
            o(&format!("{h}-young.xml.gz"), 950), // orphan, within grace: kept
            o(&format!("{h}-edge.xml.gz"), 900),  // exactly the grace: deleted
            o(&format!("{h}-kept.xml.gz"), 0),    // referenced
            o("repomd.xml", 0),                   // never
            o("rpmbucket-rejected.json", 0),      // never
            o("comps.xml", 0),                    // not ours by name
            o(&format!("sub/{h}-x.xml.gz"), 0),   // subdirectory
        ];
        let got = orphans(&listing, "r/", &keep, 1000, 100);
        assert_eq!(
            got,
            [
                format!("r/repodata/{h}-old.xml.gz"),
                format!("r/repodata/{h}-edge.xml.gz")
            ]
        );
    }
}

//! The pure part of a publish: what a batch does to the state, given what the store reported
//! about each key, and whether that needs a new generation. No I/O here; the executor
//! (`super::execute`) renders and writes what this decides.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rpmbucket_repodata::writer::location_cmp;
use rpmbucket_repodata::Package;

use crate::config::Retention;
use crate::state::{Entry, Rejected, State};
use crate::store::ObjectMeta;

/// What kind of run a publish round belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Apply notifications.
    Apply,
    /// Full listing: publish even an empty repository.
    Reindex,
    /// Full listing plus removal of orphaned metadata files.
    Reconcile,
    /// One checkpoint of a reconcile with many packages to read: publish the packages of the
    /// batch (read from the reconcile's listing) on top of the published ones, and nothing
    /// else. Like `Apply` it never removes what it was not given, never expands to the root's
    /// listing and never sweeps; unlike `Apply` it is not verified by HEADs (the reconcile's
    /// final round lists the root again after the last checkpoint).
    Checkpoint,
}

impl Mode {
    /// A run over the whole listing of the root (`Reindex`, `Reconcile`): keys published but
    /// not listed are removed, every package is checked again when the policy changed, and a
    /// repository is created even when it is empty.
    pub(crate) fn is_full(self) -> bool {
        matches!(self, Mode::Reindex | Mode::Reconcile)
    }
}

/// What the store says a key holds.
#[derive(Debug, Clone)]
pub(crate) enum Seen {
    Absent,
    /// `headed`: the meta came from HEAD (has the stored checksum if any), not from a listing.
    Present {
        meta: ObjectMeta,
        headed: bool,
    },
}

/// Outcome of reading one package.
#[derive(Debug, Clone)]
pub(crate) enum Read {
    Package(Arc<Package>),
    Bad(String),
}

/// Everything learnt about keys during one call, kept across publish attempts.
#[derive(Debug, Default)]
pub(crate) struct Knowledge {
    pub seen: HashMap<String, Seen>,
    /// By (href, etag).
    pub reads: HashMap<(String, String), Read>,
    /// Checksums from notifications, by (key, etag).
    pub hints: HashMap<(String, String), String>,
    /// Extra-metadata sources read, by (href, etag): the bytes, or why they were not read.
    pub extra_reads: HashMap<(String, String), std::result::Result<bytes::Bytes, String>>,
}

/// What applying a batch did to the state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Applied {
    /// hrefs whose package entry was added or replaced.
    pub added: Vec<String>,
    /// hrefs whose package entry was removed.
    pub removed: Vec<String>,
    /// hrefs rejected in this batch, with the reason.
    pub rejected: Vec<(String, String)>,
    /// hrefs whose entry (package or rejection) changed.
    pub touched: Vec<String>,
    /// The package set changed.
    pub changed: bool,
    /// The rejected list changed.
    pub rejected_changed: bool,
    /// pkgid of the published entry of each href the batch may replace or remove (the
    /// databases' delta removes these).
    pub before: HashMap<String, String>,
}

impl Applied {
    /// The databases' delta: (pkgid, href) of entries that left or were replaced, then the
    /// hrefs that arrived, in createrepo_c order.
    pub fn db_delta(&self) -> (Vec<(String, String)>, Vec<String>) {
        let mut remove = Vec::new();
        for h in self.added.iter().chain(&self.removed) {
            if let Some(pkgid) = self.before.get(h) {
                remove.push((pkgid.clone(), h.clone()));
            }
        }
        let mut add = self.added.clone();
        add.sort_by(|a, b| location_cmp(a, b));
        (remove, add)
    }
}

/// Apply what the store reports about `hrefs` (`know.seen`, and the package reads by ETag) to
/// `state`. A key the store does not hold leaves the state; a key holding the object the
/// state was built from (or the one it rejected) stays as it is; another object is published
/// if it read as a package and rejected (and unpublished) if not. Keys nothing is known about
/// are left alone. `now` stamps new rejections.
pub(crate) fn apply_batch(
    state: &mut State,
    hrefs: &BTreeSet<String>,
    know: &Knowledge,
    now: i64,
) -> Applied {
    let mut out = Applied {
        before: hrefs
            .iter()
            .filter_map(|h| {
                state
                    .packages
                    .get(h)
                    .map(|e| (h.clone(), e.package.pkgid.clone()))
            })
            .collect(),
        ..Applied::default()
    };
    for href in hrefs {
        if super::extras::extra_kind(href).is_some() {
            // Extra metadata: `super::extras::plan_extras`.
            continue;
        }
        match know.seen.get(href) {
            None => {}
            Some(Seen::Absent) => {
                let was_pkg = state.packages.remove(href).is_some();
                let was_rej =
                    state.rejected.remove(href).is_some() | state.retired.remove(href).is_some();
                out.changed |= was_pkg;
                out.rejected_changed |= was_rej;
                if was_pkg {
                    out.removed.push(href.clone());
                }
                if was_pkg || was_rej {
                    out.touched.push(href.clone());
                }
            }
            Some(Seen::Present { meta, .. }) => {
                let published = state.packages.get(href).and_then(|e| e.etag.as_deref());
                if published == Some(meta.etag.as_str()) {
                    out.rejected_changed |= state.rejected.remove(href).is_some();
                    continue;
                }
                let etag = Some(meta.etag.as_str());
                if state.rejected.get(href).map(|r| r.etag.as_str()) == etag
                    || state.retired.get(href).map(|r| r.etag.as_str()) == etag
                {
                    if state.packages.remove(href).is_some() {
                        out.changed = true;
                        out.removed.push(href.clone());
                        out.touched.push(href.clone());
                    }
                    continue;
                }
                match know.reads.get(&(href.clone(), meta.etag.clone())) {
                    None => {}
                    Some(Read::Package(p)) => {
                        let p = if p.location_href == *href {
                            p.clone()
                        } else {
                            let mut own = (**p).clone();
                            own.location_href = href.clone();
                            Arc::new(own)
                        };
                        state.packages.insert(
                            href.clone(),
                            Entry {
                                etag: Some(meta.etag.clone()),
                                package: p,
                            },
                        );
                        out.changed = true;
                        out.rejected_changed |= state.rejected.remove(href).is_some()
                            | state.retired.remove(href).is_some();
                        out.added.push(href.clone());
                        out.touched.push(href.clone());
                    }
                    Some(Read::Bad(reason)) => {
                        if state.packages.remove(href).is_some() {
                            out.changed = true;
                            out.removed.push(href.clone());
                        }
                        out.rejected_changed = true;
                        state.rejected.insert(
                            href.clone(),
                            Rejected {
                                etag: meta.etag.clone(),
                                reason: reason.clone(),
                                since: now,
                            },
                        );
                        out.rejected.push((href.clone(), reason.clone()));
                        out.touched.push(href.clone());
                    }
                }
            }
        }
    }
    out
}

/// Retention, after the batch (every record of `state` loaded): the packages `retention` no
/// longer keeps leave the metadata and become `retired` (their object stays for the grace
/// period); retired entries older than `grace` leave the state and are returned, for the
/// executor to delete their objects after the swap.
pub(crate) fn apply_retention(
    state: &mut State,
    out: &mut Applied,
    retention: &Retention,
    now: i64,
    grace: i64,
) -> Vec<String> {
    if retention.is_active() {
        let drop = crate::retention::plan(
            state
                .packages
                .iter()
                .map(|(h, e)| (h.as_str(), &*e.package)),
            retention,
            now,
        );
        for href in drop {
            let Some(e) = state.packages.remove(&href) else {
                continue;
            };
            out.before
                .entry(href.clone())
                .or_insert_with(|| e.package.pkgid.clone());
            state.retired.insert(
                href.clone(),
                Rejected {
                    etag: e.etag.clone().unwrap_or_default(),
                    reason: "retention".into(),
                    since: now,
                },
            );
            out.changed = true;
            out.added.retain(|a| a != &href);
            out.removed.push(href);
        }
    }
    let due: Vec<String> = state
        .retired
        .iter()
        .filter(|(_, r)| r.since + grace <= now)
        .map(|(h, _)| h.clone())
        .collect();
    for h in &due {
        state.retired.remove(h);
    }
    due
}

/// What a publish round does once the batch is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nothing to write: the published generation stays.
    Unchanged,
    /// Nothing to write, but sweep orphaned files (reconcile).
    SweepOnly,
    /// Write a new generation.
    Publish,
}

/// Facts [`decide`] weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    /// The batch changed packages or rejections.
    pub content_changed: bool,
    /// The repository's stored settings differ from the ones this publish uses.
    pub settings_changed: bool,
    /// Some garbage is past its grace period (deleting it needs a new generation that forgets it).
    pub garbage_due: bool,
    /// A `repomd.xml` exists.
    pub exists: bool,
}

/// Publish a new generation only when something changed; a full run creates even an empty
/// repository; reconcile sweeps orphans even when nothing changed.
pub(crate) fn decide(facts: Facts, mode: Mode) -> Decision {
    let same = !facts.content_changed && !facts.settings_changed && !facts.garbage_due;
    let must_create = !facts.exists && mode.is_full();
    match mode {
        _ if !same || must_create => Decision::Publish,
        Mode::Reconcile if facts.exists => Decision::SweepOnly,
        _ => Decision::Unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Entry;

    fn pkg(href: &str, pkgid: &str) -> Arc<Package> {
        Arc::new(Package {
            location_href: href.to_string(),
            pkgid: pkgid.to_string(),
            ..Package::default()
        })
    }

    fn meta(etag: &str) -> Seen {
        Seen::Present {
            meta: ObjectMeta {
                etag: etag.to_string(),
                ..ObjectMeta::default()
            },
            headed: true,
        }
    }

    /// A state publishing `a` (etag e1) and `b` (e1), rejecting `r` (e1).
    fn base() -> State {
        let mut s = State::default();
        for h in ["a", "b"] {
            s.packages.insert(
                h.to_string(),
                Entry {
                    etag: Some("e1".into()),
                    package: pkg(h, &format!("sum-{h}")),
                },
            );
        }
        s.rejected.insert(
            "r".into(),
            Rejected {
                etag: "e1".into(),
                reason: "bad".into(),
                since: 1,
            },
        );
        s
    }

    enum Store {
        Absent,
        Holds(&'static str),
        /// Holds this etag and it reads as a package (`true`) or not.
        Read(&'static str, bool),
    }

    /// (key, what the store reports) → (published after, rejected after, added, removed,
    /// touched, changed, rejected_changed)
    #[test]
    fn batch_table() {
        use Store::*;
        #[allow(clippy::type_complexity)]
        let table: Vec<(
            &str,
            Store,
            &[&str],
            &[&str],
            &[&str],
            &[&str],
            &[&str],
            bool,
            bool,
        )> = vec![
            // key, store, packages after, rejected after, added, removed, touched, changed, rej_changed
            (
                "a",
                Holds("e1"),
                &["a", "b"],
                &["r"],
                &[],
                &[],
                &[],
                false,
                false,
            ),
            (
                "a",
                Absent,
                &["b"],
                &["r"],
                &[],
                &["a"],
                &["a"],
                true,
                false,
            ),
            (
                "a",
                Read("e2", true),
                &["a", "b"],
                &["r"],
                &["a"],
                &[],
                &["a"],
                true,
                false,
            ),
            (
                "a",
                Read("e2", false),
                &["b"],
                &["a", "r"],
                &[],
                &["a"],
                &["a"],
                true,
                true,
            ),
            // Not read yet (HEAD only): left alone.
            (
                "a",
                Holds("e2"),
                &["a", "b"],
                &["r"],
                &[],
                &[],
                &[],
                false,
                false,
            ),
            (
                "c",
                Read("e1", true),
                &["a", "b", "c"],
                &["r"],
                &["c"],
                &[],
                &["c"],
                true,
                false,
            ),
            (
                "c",
                Absent,
                &["a", "b"],
                &["r"],
                &[],
                &[],
                &[],
                false,
                false,
            ),
            (
                "r",
                Holds("e1"),
                &["a", "b"],
                &["r"],
                &[],
                &[],
                &[],
                false,
                false,
            ),
            ("r", Absent, &["a", "b"], &[], &[], &[], &["r"], false, true),
            (
                "r",
                Read("e2", true),
                &["a", "b", "r"],
                &[],
                &["r"],
                &[],
                &["r"],
                true,
                true,
            ),
            (
                "r",
                Read("e2", false),
                &["a", "b"],
                &["r"],
                &[],
                &[],
                &["r"],
                false,
                true,
            ),
        ];
        for (i, (key, store, pkgs, rej, added, removed, touched, changed, rej_changed)) in
            table.into_iter().enumerate()
        {
            let mut state = base();
            let mut know = Knowledge::default();
            match store {
                Absent => {
                    know.seen.insert(key.into(), Seen::Absent);
                }
                Holds(etag) => {
                    know.seen.insert(key.into(), meta(etag));
                }
                Read(etag, good) => {
                    know.seen.insert(key.into(), meta(etag));
                    let read = if good {
                        super::Read::Package(pkg("elsewhere", "new"))
                    } else {
                        super::Read::Bad("not an rpm".into())
                    };
                    know.reads.insert((key.into(), etag.into()), read);
                }
            }
            let hrefs = BTreeSet::from([key.to_string()]);
            let out = apply_batch(&mut state, &hrefs, &know, 7);
            let keys = |it: Vec<&String>| it.into_iter().cloned().collect::<Vec<_>>();
            assert_eq!(
                keys(state.packages.keys().collect()),
                pkgs,
                "row {i}: packages"
            );
            assert_eq!(
                keys(state.rejected.keys().collect()),
                rej,
                "row {i}: rejected"
            );
            assert_eq!(out.added, added, "row {i}: added");
            assert_eq!(out.removed, removed, "row {i}: removed");
            assert_eq!(out.touched, touched, "row {i}: touched");
            assert_eq!(out.changed, changed, "row {i}: changed");
            assert_eq!(
                out.rejected_changed, rej_changed,
                "row {i}: rejected_changed"
            );
            // An added package carries its own href and the ETag it was read from.
            for h in &out.added {
                let e = &state.packages[h];
                assert_eq!(&e.package.location_href, h, "row {i}");
                assert!(e.etag.is_some(), "row {i}");
            }
            // New rejections are stamped with `now`.
            for (h, _) in &out.rejected {
                assert_eq!(state.rejected[h].since, 7, "row {i}");
            }
        }
    }

    #[test]
    fn retention_retires_then_expires() {
        let mut state = State::default();
        for (h, v) in [("a1", "1.0~rc1"), ("a2", "1.0"), ("a3", "1.0^git1")] {
            let mut p = (*pkg(h, &format!("id-{h}"))).clone();
            p.name = "a".into();
            p.version = v.into();
            state.packages.insert(
                h.into(),
                Entry {
                    etag: Some(format!("e-{h}")),
                    package: Arc::new(p),
                },
            );
        }
        let keep = Retention {
            keep_versions: Some(1),
            keep_days: None,
        };
        let mut out = Applied {
            added: vec!["a1".into()],
            ..Applied::default()
        };
        let due = apply_retention(&mut state, &mut out, &keep, 100, 50);
        assert!(due.is_empty());
        assert_eq!(state.packages.keys().collect::<Vec<_>>(), ["a3"]);
        assert_eq!(out.removed, ["a1", "a2"]);
        assert!(out.added.is_empty(), "added and dropped in one batch");
        assert_eq!(out.before["a2"], "id-a2");
        assert_eq!(state.retired["a1"].etag, "e-a1");
        assert!(out.changed);
        // The same object seen again stays out; after the grace period it is due.
        let mut know = Knowledge::default();
        know.seen.insert("a2".into(), meta("e-a2"));
        let again = apply_batch(&mut state, &["a2".to_string()].into(), &know, 120);
        assert!(!again.changed && again.added.is_empty());
        let mut out = Applied::default();
        let due = apply_retention(&mut state, &mut out, &keep, 150, 50);
        assert_eq!(due, ["a1", "a2"]);
        assert!(state.retired.is_empty());
        // A retired key that disappears leaves the retired list.
        state.retired.insert(
            "gone".into(),
            Rejected {
                etag: "x".into(),
                reason: "retention".into(),
                since: 150,
            },
        );
        know.seen.insert("gone".into(), Seen::Absent);
        let out = apply_batch(&mut state, &["gone".to_string()].into(), &know, 160);
        assert!(out.rejected_changed && !state.retired.contains_key("gone"));
    }

    #[test]
    fn db_delta_removes_replaced_and_removed_entries() {
        let mut state = base();
        let mut know = Knowledge::default();
        know.seen.insert("a".into(), meta("e2"));
        know.reads
            .insert(("a".into(), "e2".into()), Read::Package(pkg("a", "new-a")));
        know.seen.insert("b".into(), Seen::Absent);
        know.seen.insert("c".into(), meta("e1"));
        know.reads
            .insert(("c".into(), "e1".into()), Read::Package(pkg("c", "new-c")));
        let hrefs = BTreeSet::from(["a".to_string(), "b".into(), "c".into()]);
        let out = apply_batch(&mut state, &hrefs, &know, 0);
        let (remove, add) = out.db_delta();
        assert_eq!(
            remove,
            [
                ("sum-a".to_string(), "a".to_string()),
                ("sum-b".into(), "b".into())
            ]
        );
        assert_eq!(add, ["a", "c"]);
    }

    #[test]
    fn decision_table() {
        use Decision::*;
        use Mode::*;
        let f = |content_changed, settings_changed, garbage_due, exists| Facts {
            content_changed,
            settings_changed,
            garbage_due,
            exists,
        };
        let table = [
            // (facts, mode, decision)
            (f(false, false, false, true), Apply, Unchanged),
            (f(false, false, false, true), Reindex, Unchanged),
            (f(false, false, false, true), Reconcile, SweepOnly),
            (f(true, false, false, true), Apply, Publish),
            (f(false, true, false, true), Apply, Publish),
            (f(false, false, true, true), Apply, Publish),
            (f(false, false, true, true), Reconcile, Publish),
            // No repository yet: an apply with nothing to add creates nothing; full runs
            // create an empty repository.
            (f(false, false, false, false), Apply, Unchanged),
            (f(false, true, false, false), Apply, Publish),
            (f(false, false, false, false), Reindex, Publish),
            (f(false, false, false, false), Reconcile, Publish),
            // A checkpoint publishes what it read, never an empty repository, never sweeps.
            (f(true, false, false, true), Checkpoint, Publish),
            (f(true, false, false, false), Checkpoint, Publish),
            (f(false, false, false, true), Checkpoint, Unchanged),
            (f(false, false, false, false), Checkpoint, Unchanged),
            (f(false, false, true, true), Checkpoint, Publish),
        ];
        for (i, (facts, mode, want)) in table.into_iter().enumerate() {
            assert_eq!(decide(facts, mode), want, "row {i}: {facts:?} {mode:?}");
        }
    }
}

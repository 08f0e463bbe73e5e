//! Extra metadata (`updateinfo.xml`, `comps.xml`, `modules.yaml` next to the packages): the
//! pure part of a publish that turns what the store reported about these sources into records
//! to write and records to drop. The files are built by `rpmbucket_repodata::extra`.

use std::collections::BTreeSet;

use rpmbucket_repodata::extra::{self, ExtraFile, ExtraKind};

use super::plan::{Knowledge, Seen};
use crate::backend::Compression;
use crate::state::{ExtraSource, Rejected, State};

/// The kind of extra metadata an href (relative to the root) is the source of.
pub(crate) fn extra_kind(href: &str) -> Option<ExtraKind> {
    if href.contains('/') {
        return None;
    }
    ExtraKind::from_source_name(href)
}

/// What a batch does to the extra metadata.
#[derive(Debug, Default)]
pub(crate) struct ExtrasPlan {
    /// Records are added, replaced or removed.
    pub changed: bool,
    pub rejected_changed: bool,
    /// Record types replaced or removed (whoever wrote them).
    pub drop_types: BTreeSet<String>,
    /// New files and their records.
    pub files: Vec<ExtraFile>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub rejected: Vec<(String, String)>,
    pub touched: Vec<String>,
}

/// Apply what is known of the batch's extra-metadata sources to `state`: a new source
/// replaces the records of its kind (its own or another tool's), a deleted one removes them,
/// a bad one is rejected with its reason and the published records stay.
pub(crate) fn plan_extras(
    hrefs: &BTreeSet<String>,
    know: &Knowledge,
    state: &mut State,
    compression: Compression,
    now: i64,
) -> ExtrasPlan {
    let mut plan = ExtrasPlan::default();
    for href in hrefs {
        let Some(kind) = extra_kind(href) else {
            continue;
        };
        let types = kind.record_types().iter().map(|t| t.to_string());
        match know.seen.get(href) {
            None => {}
            Some(Seen::Absent) => {
                let was = state.extras.remove(href).is_some();
                let was_rejected = state.rejected.remove(href).is_some();
                plan.rejected_changed |= was_rejected;
                if was {
                    plan.changed = true;
                    plan.drop_types.extend(types);
                    plan.removed.push(href.clone());
                }
                if was || was_rejected {
                    plan.touched.push(href.clone());
                }
            }
            Some(Seen::Present { meta, .. }) => {
                if state.extras.get(href).map(|e| e.etag.as_str()) == Some(meta.etag.as_str()) {
                    plan.rejected_changed |= state.rejected.remove(href).is_some();
                    continue;
                }
                if state.rejected.get(href).map(|r| r.etag.as_str()) == Some(meta.etag.as_str()) {
                    continue;
                }
                let Some(read) = know.extra_reads.get(&(href.clone(), meta.etag.clone())) else {
                    continue;
                };
                let rendered = read.clone().and_then(|bytes| {
                    extra::render(kind, &bytes, compression)
                        .map(|(_, files)| files)
                        .map_err(|e| e.to_string())
                });
                plan.touched.push(href.clone());
                match rendered {
                    Ok(files) => {
                        state.extras.insert(
                            href.clone(),
                            ExtraSource {
                                etag: meta.etag.clone(),
                                since: now,
                            },
                        );
                        plan.rejected_changed |= state.rejected.remove(href).is_some();
                        plan.changed = true;
                        plan.drop_types.extend(types);
                        plan.files.extend(files);
                        plan.added.push(href.clone());
                    }
                    Err(reason) => {
                        tracing::warn!(href = %href, reason = %reason, "extra metadata rejected");
                        state.rejected.insert(
                            href.clone(),
                            Rejected {
                                etag: meta.etag.clone(),
                                reason: reason.clone(),
                                since: now,
                            },
                        );
                        plan.rejected_changed = true;
                        plan.rejected.push((href.clone(), reason));
                    }
                }
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ObjectMeta;

    fn present(etag: &str) -> Seen {
        Seen::Present {
            meta: ObjectMeta {
                key: "comps.xml".into(),
                etag: etag.into(),
                ..ObjectMeta::default()
            },
            headed: true,
        }
    }

    const COMPS: &[u8] = b"<comps><group><id>g</id><name>G</name></group></comps>";

    #[test]
    fn new_bad_unchanged_and_deleted_sources() {
        let hrefs: BTreeSet<String> = ["comps.xml".to_string(), "a.rpm".to_string()].into();
        let mut state = State::default();
        let mut know = Knowledge::default();
        know.seen.insert("comps.xml".into(), present("e1"));
        know.extra_reads
            .insert(("comps.xml".into(), "e1".into()), Ok(COMPS.to_vec().into()));
        let p = plan_extras(&hrefs, &know, &mut state, Compression::Gz, 5);
        assert!(p.changed);
        assert_eq!(p.added, ["comps.xml"]);
        assert_eq!(
            p.drop_types,
            ["group".to_string(), "group_gz".to_string()].into()
        );
        assert_eq!(p.files.len(), 2);
        assert_eq!(state.extras["comps.xml"].etag, "e1");

        // The same object again: nothing to do.
        let p = plan_extras(&hrefs, &know, &mut state, Compression::Gz, 6);
        assert!(!p.changed && !p.rejected_changed && p.touched.is_empty());

        // A bad replacement: rejected, the published source stays.
        know.seen.insert("comps.xml".into(), present("e2"));
        know.extra_reads.insert(
            ("comps.xml".into(), "e2".into()),
            Ok(b"<comps>".to_vec().into()),
        );
        let p = plan_extras(&hrefs, &know, &mut state, Compression::Gz, 7);
        assert!(!p.changed && p.rejected_changed);
        assert!(p.drop_types.is_empty() && p.files.is_empty());
        assert!(
            p.rejected[0].1.contains("not well-formed"),
            "{:?}",
            p.rejected
        );
        assert_eq!(state.extras["comps.xml"].etag, "e1");
        assert_eq!(state.rejected["comps.xml"].etag, "e2");

        // Deleted: records dropped, rejection forgotten.
        know.seen.insert("comps.xml".into(), Seen::Absent);
        let p = plan_extras(&hrefs, &know, &mut state, Compression::Gz, 8);
        assert!(p.changed && p.rejected_changed);
        assert_eq!(p.removed, ["comps.xml"]);
        assert!(p.drop_types.contains("group_gz"));
        assert!(state.extras.is_empty() && state.rejected.is_empty());
    }

    #[test]
    fn only_sources_at_the_root() {
        assert_eq!(extra_kind("updateinfo.xml"), Some(ExtraKind::Updateinfo));
        assert_eq!(extra_kind("sub/updateinfo.xml"), None);
        assert_eq!(extra_kind("a.rpm"), None);
    }
}

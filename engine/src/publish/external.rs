//! Publishing a generation rendered outside the engine: `rpmbucket index DIR` writes
//! createrepo_c-shaped metadata with its own writer and publishes it here, under the rules
//! every other face follows:
//!
//! 1. the swap is conditional on the `repomd.xml` the caller started from (its ETag, read with
//!    [`Indexer::current_repomd`]): a publisher that swapped in between (the local server, a
//!    reconcile) makes this one start again instead of losing its update;
//! 2. content-addressed files are written before the swap (`If-None-Match: *`; an existing one
//!    is written again: it may be damaged, and its modification time then says it is in use);
//! 3. files the new generation stops referencing (and the previous state's garbage) are
//!    touched before the swap, so they stay for the grace period: a sweep ages unreferenced
//!    files by their modification time, with the store's clock;
//! 4. after the swap, the same sweep as `reconcile` removes unreferenced content-addressed
//!    files older than the grace period (and never younger than [`MIN_SWEEP_AGE`]); with a
//!    grace period of zero, the replaced files are deleted right after the swap unless
//!    something wrote them since they were looked at before it (an ETag that changes on every
//!    write, as the local store's does, is what tells).

use std::path::PathBuf;

use super::*;
use crate::naming::is_content_addressed;

/// A generation rendered by the caller.
#[derive(Debug, Clone)]
pub struct ExternalGeneration {
    /// ETag of the `repomd.xml` the generation was built from (`None`: there was none).
    pub base_etag: Option<String>,
    /// The new `repomd.xml`.
    pub repomd: Vec<u8>,
    /// Its data files: href (`repodata/<sha256>-<name>`, relative to the root) and the local
    /// file holding the body.
    pub files: Vec<(String, PathBuf)>,
}

/// What [`Indexer::publish_external`] did.
#[derive(Debug, Clone, Default)]
pub struct ExternalReport {
    /// Keys deleted after the swap (replaced files with a zero grace period, orphans).
    pub deleted_files: Vec<String>,
    /// Replaced files kept for the grace period.
    pub kept_for_grace: usize,
}

/// What the published generation references, read cheaply (no package records).
pub(super) struct References {
    pub(super) etag: Option<String>,
    /// hrefs of `repomd.xml`'s records and of the state's chunks.
    pub(super) referenced: BTreeSet<String>,
    /// The state's garbage (hrefs within their grace period).
    pub(super) garbage: Vec<String>,
}

impl Indexer {
    /// The published `repomd.xml` of `root` and its ETag (`None` if there is none): the base a
    /// caller of [`Indexer::publish_external`] builds on.
    pub async fn current_repomd(&self, root: &str) -> Result<Option<(Bytes, String)>> {
        let key = format!("{}{REPODATA_DIR}/repomd.xml", normalise_root(root));
        match retry(&self.options, "get", || self.store.get(&key)).await {
            Ok((body, meta)) => Ok(Some((body, meta.etag))),
            Err(store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// How long to wait before attempt `attempt` (1-based) after a lost race.
    pub fn conflict_backoff(&self, attempt: u32) -> Duration {
        backoff(&self.options, attempt)
    }

    /// Publish `generation` as the next one of `root` (see the module documentation). `None`:
    /// the published `repomd.xml` is no longer the base it was built from (or the files took
    /// longer than [`MAX_PUBLISH_WINDOW`] to write); build it again from the current one.
    pub async fn publish_external(
        &self,
        root: &str,
        generation: ExternalGeneration,
    ) -> Result<Option<ExternalReport>> {
        let root = normalise_root(root);
        let run = self.new_run(&root);
        self.check_conditional_writes().await?;
        let bad = |source: Unwritable| Error::Render {
            root: root.clone(),
            source: Box::new(source),
        };
        let new =
            backend::parse_repomd(&generation.repomd).map_err(|e| bad(Unwritable::NewRepomd(e)))?;
        let new_refs: BTreeSet<String> = new.records.iter().map(|r| r.href.clone()).collect();
        for (href, _) in &generation.files {
            let name = href.strip_prefix("repodata/").unwrap_or_default();
            if !is_content_addressed(name) || !new_refs.contains(href) {
                return Err(bad(Unwritable::Unreferenced { href: href.clone() }));
            }
        }
        let base = self.references(&run).await?;
        if base.etag != generation.base_etag {
            return Ok(None);
        }

        // 1. The data files, every one (an existing file of that name may be damaged: the
        // caller rebuilt everything, as createrepo_c does).
        let started = Instant::now();
        for (href, path) in &generation.files {
            self.put_immutable_file(&run, href, path).await?;
        }

        // 2. What the new generation stops referencing stays for the grace period.
        let grace = self.config.grace_period;
        let replaced: BTreeSet<&String> = base
            .referenced
            .iter()
            .chain(&base.garbage)
            .filter(|h| !new_refs.contains(*h))
            .filter(|h| {
                h.strip_prefix("repodata/")
                    .is_some_and(|n| !n.contains('/') && is_content_addressed(n))
            })
            .collect();
        let mut report = ExternalReport::default();
        // Without a grace period: what each replaced file is now, to delete it after the swap
        // only if nothing wrote it since (a publisher that already starts from the new
        // generation may be writing the same content-addressed name).
        let mut versions = Vec::new();
        if grace.is_zero() {
            for href in &replaced {
                let key = format!("{root}{href}");
                match retry(&self.options, "head", || run.store.head(&key)).await {
                    Ok(m) => versions.push((key, m.etag)),
                    Err(store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        } else {
            for href in &replaced {
                let key = format!("{root}{href}");
                match retry(&self.options, "touch", || run.store.touch(&key)).await {
                    Ok(_) | Err(store::Error::NotFound { .. }) => {}
                    Err(e) => {
                        tracing::warn!(key, error = %e, "could not refresh a replaced file's time; a sweep may delete it before its grace period ends")
                    }
                }
            }
            report.kept_for_grace = replaced.len();
        }

        let key = format!("{root}{REPODATA_DIR}/repomd.xml");
        if let Some(e) = self.hooks.fault(hooks::FaultPoint::BeforeSwap, &key) {
            return Err(e);
        }
        self.hooks.pause(hooks::PausePoint::BeforeSwap, &root).await;
        if started.elapsed() > MAX_PUBLISH_WINDOW {
            tracing::warn!(root, elapsed = ?started.elapsed(), "publish took too long between writing its files and the swap; starting again");
            return Ok(None);
        }

        // 3. The swap, marked so that a retried PUT that had landed is recognised.
        let token = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let mut body = generation.repomd;
        body.extend_from_slice(execute::publish_mark(&token).as_bytes());
        let body = Bytes::from(body);
        let opts = PutOptions {
            mode: match &base.etag {
                Some(etag) => PutMode::Update(etag.clone()),
                None => PutMode::Create,
            },
            content_type: Some("application/xml".into()),
            cache_control: Some(CACHE_SHORT.into()),
        };
        match retry(&self.options, "put", || {
            run.store.put(&key, body.clone(), opts.clone())
        })
        .await
        {
            Ok(_) => {}
            Err(store::Error::Precondition { .. } | store::Error::AlreadyExists { .. }) => {
                if !self.swap_landed(&run, &key, &token).await? {
                    return Ok(None);
                }
            }
            Err(e) => return Err(e.into()),
        }

        // 4. Replaced files at once when there is no grace period, unless written since we
        // looked (the local store gives every write a new ETag), then orphans.
        for (k, etag) in versions {
            match retry(&self.options, "head", || run.store.head(&k)).await {
                Ok(m) if m.etag == etag => {}
                Ok(_) | Err(store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            retry(&self.options, "delete", || run.store.delete(&k)).await?;
            report.deleted_files.push(k);
        }
        report.deleted_files.extend(self.sweep_orphans(&run).await?);
        Ok(Some(report))
    }

    /// Write one content-addressed file from a local file (see [`Indexer::put_immutable`]).
    async fn put_immutable_file(
        &self,
        run: &Run,
        href: &str,
        path: &std::path::Path,
    ) -> Result<()> {
        let key = format!("{}{href}", run.root);
        let opts = |mode| PutOptions {
            mode,
            content_type: Some(content_type(href).into()),
            cache_control: Some(CACHE_IMMUTABLE.into()),
        };
        match retry(&self.options, "put", || {
            run.store.put_file(&key, path, opts(PutMode::Create))
        })
        .await
        {
            Ok(_) => Ok(()),
            Err(store::Error::AlreadyExists { .. } | store::Error::Precondition { .. }) => {
                retry(&self.options, "put", || {
                    run.store.put_file(&key, path, opts(PutMode::Overwrite))
                })
                .await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The published generation's references: `repomd.xml`'s records, and the chunks and
    /// garbage of its state if it has one (the records themselves are not read). A damaged
    /// state is an error: what it references is unknown.
    pub(super) async fn references(&self, run: &Run) -> Result<References> {
        let Some((repomd, meta)) = self.read_repomd(run).await? else {
            return Ok(References {
                etag: None,
                referenced: BTreeSet::new(),
                garbage: Vec::new(),
            });
        };
        let bad = |source: Unreadable| Error::Metadata {
            root: run.root.clone(),
            source,
        };
        let mut referenced: BTreeSet<String> =
            repomd.records.iter().map(|r| r.href.clone()).collect();
        let mut garbage = Vec::new();
        if let Some(rec) = repomd.records.iter().find(|r| r.data_type == STATE_TYPE) {
            let data = self.get_checked(run, rec).await?;
            let state = State::decode(&data).map_err(|source| {
                bad(Unreadable::State {
                    href: rec.href.clone(),
                    source,
                })
            })?;
            referenced.extend(state.chunks.iter().map(|c| c.href.clone()));
            garbage.extend(state.garbage.iter().map(|g| g.href.clone()));
        }
        Ok(References {
            etag: Some(meta.etag),
            referenced,
            garbage,
        })
    }
}

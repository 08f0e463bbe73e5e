//! The executor: render, write, swap, delete.

use super::*;

impl Indexer {
    /// Build the next generation from `base` and what we know, publish it. `None` when the
    /// `repomd.xml` swap lost a race.
    pub(super) async fn try_publish(
        &self,
        run: &Run,
        hrefs: &BTreeSet<String>,
        know: &Knowledge,
        base: Base,
        mode: Mode,
        config: &RepoConfig,
    ) -> Result<Option<Round>> {
        let now = now_secs();
        let root = run.root.as_str();
        // Take the base apart instead of cloning it (100k-package states are large).
        let Base {
            etag: base_etag,
            repomd: base_repomd,
            mut state,
            referenced: base_referenced,
            ..
        } = base;
        let was_signed = state
            .settings
            .as_ref()
            .is_some_and(|s| s.signing_key.is_some());
        let settings_changed = state.settings.as_ref() != Some(&Settings::of(config));
        let base_garbage = std::mem::take(&mut state.garbage);
        let base_tombstones = std::mem::take(&mut state.tombstones);
        let base_generation = state.generation;
        let base_packages = state.package_count();
        let mut applied = plan::apply_batch(&mut state, hrefs, know, now);
        let extras = extras::plan_extras(hrefs, know, &mut state, config.compression, now);
        let rejected_changed = applied.rejected_changed || extras.rejected_changed;
        let grace = config.grace_period.as_secs() as i64;
        let retired_due =
            plan::apply_retention(&mut state, &mut applied, &config.retention, now, grace);
        let decision = plan::decide(
            plan::Facts {
                content_changed: applied.changed
                    || extras.changed
                    || rejected_changed
                    || !retired_due.is_empty(),
                settings_changed,
                garbage_due: gc::any_due(&base_garbage, now, grace),
                exists: base_etag.is_some(),
            },
            mode,
        );
        let mut round = Round {
            added: applied.added.clone(),
            removed: applied.removed.clone(),
            rejected: applied.rejected.clone(),
            touched: applied.touched.clone(),
            ..Round::default()
        };
        round.rejected.extend(extras.rejected.iter().cloned());
        round.touched.extend(extras.touched.iter().cloned());
        match decision {
            Decision::Publish => {}
            Decision::Unchanged => {
                if mode.is_full() {
                    self.resign_current(run, config).await?;
                }
                round.unchanged = true;
                round.revision = base_repomd.revision.clone();
                round.packages = base_packages;
                round.touched.clear();
                return Ok(Some(round));
            }
            Decision::SweepOnly => {
                // Nothing to publish; still sweep orphans (and repair the signature).
                self.resign_current(run, config).await?;
                round.unchanged = true;
                round.revision = base_repomd.revision.clone();
                round.packages = base_packages;
                round.deleted_files = self.sweep_orphans(run).await?;
                return Ok(Some(round));
            }
        }

        // Render the metadata files (CPU work off the async threads): the chunks holding
        // changed packages from records, the others copied from the current files.
        state.generation = base_generation + 1;
        state.format = STATE_FORMAT;
        state.settings = Some(Settings::of(config));
        let total = state.package_count();
        let mut dirty: BTreeSet<usize> = round
            .added
            .iter()
            .chain(&round.removed)
            .filter_map(|h| state.chunk_for(h))
            .collect();
        let mut previous = None;
        let reusable = config.compression.concatenates()
            && state
                .chunks
                .iter()
                .enumerate()
                .any(|(j, c)| c.members.is_some() && !dirty.contains(&j));
        if reusable {
            previous = self
                .current_files(run, xml_records(&base_repomd, config.compression))
                .await?;
        }
        let mut previous_db = None;
        if config.database {
            previous_db = self.current_files(run, db_records(&base_repomd)).await?;
        }
        // Open-checksums of the current databases: their uncompressed files in the cache.
        let db_open: [(String, u64); 3] = db_records(&base_repomd)
            .map(|rs| {
                rs.map(|r| {
                    (
                        r.open_checksum.clone().unwrap_or_default(),
                        r.open_size.unwrap_or(0),
                    )
                })
            })
            .unwrap_or_default();
        if (reusable && previous.is_none()) || (config.database && previous_db.is_none()) {
            self.load_chunks(run, &mut state, None).await?;
            if previous.is_none() {
                dirty = (0..state.chunks.len()).collect();
            }
        }
        // The databases' delta: what left (or was replaced), then what arrived.
        let (db_remove, db_add) = applied.db_delta();
        let db_remove = Arc::new(db_remove);
        let db_add = Arc::new(db_add);
        let mut state = Arc::new(state);
        let generation = loop {
            let config = config.clone();
            let render_state = state.clone();
            let render_dirty = dirty.clone();
            let render_previous = previous.clone();
            let render_previous_db = previous_db.clone();
            let (db_remove, db_add) = (db_remove.clone(), db_add.clone());
            let threads = self.options.render_threads;
            let chunk_target = self.options.chunk_target.max(1);
            let cache = self.options.cache.clone();
            let db_open = db_open.clone();
            let rendered = tokio::task::spawn_blocking(move || {
                let delta = backend::DbDelta {
                    remove: (*db_remove).clone(),
                    add: db_add
                        .iter()
                        .filter_map(|h| render_state.packages.get(h).map(|e| &*e.package))
                        .collect(),
                };
                let blocks = (render_state.db_blocks.len() == 3)
                    .then_some(render_state.db_blocks.as_slice());
                render::render_generation(
                    &render_state,
                    &render_dirty,
                    render_previous.as_ref(),
                    render_previous_db.as_ref().map(|files| render::PreviousDb {
                        files,
                        blocks,
                        delta: &delta,
                        open: [
                            (db_open[0].0.as_str(), db_open[0].1),
                            (db_open[1].0.as_str(), db_open[1].1),
                            (db_open[2].0.as_str(), db_open[2].1),
                        ],
                    }),
                    &config,
                    render::Tuning {
                        threads,
                        chunk_target,
                        cache: cache.as_ref(),
                    },
                )
            })
            .await
            .map_err(|e| Error::Render {
                root: root.to_string(),
                source: Box::new(Unwritable::Task(e)),
            })?;
            match rendered {
                Ok(g) => break g,
                Err(render::RenderFailure::Reuse(e)) if previous.is_some() => {
                    // The current files do not match the state: render everything instead.
                    tracing::warn!(root, error = %e, "rendering every chunk from records");
                    let mut owned = Arc::try_unwrap(state).unwrap_or_else(|a| (*a).clone());
                    self.load_chunks(run, &mut owned, None).await?;
                    dirty = (0..owned.chunks.len()).collect();
                    previous = None;
                    state = Arc::new(owned);
                }
                Err(render::RenderFailure::Databases(e)) if previous_db.is_some() => {
                    tracing::warn!(root, error = %e, "rebuilding the databases from every record");
                    let mut owned = Arc::try_unwrap(state).unwrap_or_else(|a| (*a).clone());
                    self.load_chunks(run, &mut owned, None).await?;
                    previous_db = None;
                    state = Arc::new(owned);
                }
                Err(e) => {
                    return Err(Error::Render {
                        root: root.to_string(),
                        source: Box::new(e.into()),
                    })
                }
            }
        };
        let mut state = Arc::try_unwrap(state).unwrap_or_else(|a| (*a).clone());
        tracing::debug!(
            root,
            fresh_chunks = generation.fresh,
            reused_chunks = generation.reused,
            "rendered"
        );

        // Names: `<sha256>-<name>`, or `<sha256>-g<generation>-<name>` when the plain name was
        // deleted recently (an older publisher may still be deleting it).
        let tomb: BTreeSet<&str> = base_tombstones.iter().map(|g| g.href.as_str()).collect();
        let name_for =
            |checksum: &str, name: &str| content_name(checksum, name, state.generation, &tomb);
        let mut records = Vec::new();
        let mut uploads: Vec<(String, Bytes)> = Vec::new();
        state.db_blocks = generation
            .files
            .iter()
            .filter(|f| f.data_type.ends_with("_db") && !f.blocks.is_empty())
            .map(|f| f.blocks.clone())
            .collect();
        if state.db_blocks.len() != 3 {
            state.db_blocks.clear();
        }
        for f in generation.files {
            let href = name_for(&f.checksum, &f.name);
            records.push(Record {
                data_type: f.data_type.clone(),
                href: href.clone(),
                checksum: f.checksum.clone(),
                open_checksum: f.open.as_ref().map(|o| o.0.clone()),
                size: f.bytes.len() as u64,
                open_size: f.open.as_ref().map(|o| o.1),
                timestamp: now,
                database_version: f.database_version,
                raw: None,
            });
            uploads.push((href, Bytes::from(f.bytes)));
        }
        // Records this engine does not own (updateinfo added by modifyrepo_c, say) are carried
        // over byte for byte; their files stay referenced, so they never become garbage.
        // Extra metadata replaced or removed in this batch drops the records of its kind.
        records.extend(
            foreign_records(&base_repomd).filter(|r| !extras.drop_types.contains(&r.data_type)),
        );
        for f in extras.files {
            let href = name_for(&f.checksum, &f.name);
            records.push(Record {
                data_type: f.data_type,
                href: href.clone(),
                checksum: f.checksum,
                open_checksum: f.open.as_ref().map(|o| o.0.clone()),
                size: f.bytes.len() as u64,
                open_size: f.open.as_ref().map(|o| o.1),
                timestamp: now,
                database_version: None,
                raw: None,
            });
            uploads.push((href, Bytes::from(f.bytes)));
        }
        round.added.extend(extras.added);
        round.removed.extend(extras.removed);
        let mut chunks = Vec::with_capacity(generation.chunks.len());
        for c in generation.chunks {
            let href = match (c.href, c.file) {
                (Some(href), _) => href,
                (None, Some((sum, bytes))) => {
                    let href = name_for(&sum, CHUNK_FILE);
                    uploads.push((href.clone(), Bytes::from(bytes)));
                    href
                }
                (None, None) => unreachable!("a fresh chunk has a file"),
            };
            chunks.push(ChunkRef {
                href,
                count: c.count,
                first: c.first,
                members: c.members,
            });
        }
        state.packages.clear();
        state.loaded = vec![false; chunks.len()];
        state.chunks = chunks;

        // Garbage: what the base referenced and we do not, plus older garbage; expired entries
        // are deleted after the swap and remembered as tombstones.
        let new_refs: BTreeSet<String> = records
            .iter()
            .map(|r| r.href.clone())
            .chain(state.chunks.iter().map(|c| c.href.clone()))
            .collect();
        let collection = gc::collect(
            &base_garbage,
            &base_tombstones,
            &base_referenced,
            &new_refs,
            now,
            grace,
        );
        let expired = collection.expired;
        state.garbage = collection.garbage;
        state.tombstones = collection.tombstones;

        // The state file last: it holds the garbage lists.
        let state_bytes = state.encode();
        let state_sum = backend::sha256_hex(&state_bytes);
        let state_href = name_for(&state_sum, STATE_FILE);
        records.push(Record {
            data_type: STATE_TYPE.to_string(),
            href: state_href.clone(),
            checksum: state_sum,
            open_checksum: None,
            size: state_bytes.len() as u64,
            open_size: None,
            timestamp: now,
            database_version: None,
            raw: None,
        });
        uploads.push((state_href, Bytes::from(state_bytes)));

        // What the cache keeps once the swap landed: every file of this generation, named by
        // its checksum (the first 64 characters of its name), and the uncompressed databases.
        let to_cache: Vec<(String, Bytes)> = match &self.options.cache {
            Some(_) => uploads
                .iter()
                .filter_map(|(href, body)| {
                    let name = href.rsplit('/').next()?;
                    Some((name.get(..64)?.to_string(), body.clone()))
                })
                .collect(),
            None => Vec::new(),
        };
        let cache_keep: Vec<String> = records
            .iter()
            .flat_map(|r| [Some(r.checksum.clone()), r.open_checksum.clone()])
            .flatten()
            .chain(to_cache.iter().map(|(sum, _)| sum.clone()))
            .collect();

        // 1. Content-addressed files.
        let uploads_started = Instant::now();
        let puts = uploads
            .into_iter()
            .filter(|(href, _)| !base_referenced.contains(href))
            .map(|(href, body)| async move { self.put_immutable(run, &href, body).await })
            .collect::<Vec<_>>();
        futures::stream::iter(puts)
            .buffer_unordered(4)
            .try_collect::<Vec<()>>()
            .await?;

        let key = format!("{root}{REPODATA_DIR}/repomd.xml");
        if let Some(e) = self.hooks.fault(hooks::FaultPoint::BeforeSwap, &key) {
            return Err(e);
        }
        self.hooks.pause(hooks::PausePoint::BeforeSwap, root).await;
        if uploads_started.elapsed() > MAX_PUBLISH_WINDOW {
            // A sweep may take files older than MIN_SWEEP_AGE for orphans: never reference
            // files written longer ago than MAX_PUBLISH_WINDOW. Start again (the files are
            // written again, which refreshes them).
            tracing::warn!(root, elapsed = ?uploads_started.elapsed(), "publish took too long between writing its files and the swap; starting again");
            return Ok(None);
        }

        // Published keys before the swap: a client that reads the new repomd.xml and its
        // signature finds the key that made it.
        if let Some(signer) = &config.signer {
            if settings_changed || mode.is_full() {
                super::sign::put_public_keys(&*run.store, &self.options, root, signer).await?;
            }
        }

        // 2. The swap.
        let prev: u64 = base_repomd.revision.parse().unwrap_or(0);
        let revision = (now.max(0) as u64).max(prev + 1).to_string();
        let repomd = Repomd {
            revision: revision.clone(),
            records,
        };
        // A token of this attempt, so that a precondition failure after the SDK retried a
        // swap that had in fact landed can be told from a lost race (see `swap_landed`).
        let token = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let mut body = backend::write_repomd(&repomd);
        body.extend_from_slice(publish_mark(&token).as_bytes());
        let body = Bytes::from(body);
        let mode_put = match &base_etag {
            Some(etag) => PutMode::Update(etag.clone()),
            None => PutMode::Create,
        };
        let opts = PutOptions {
            mode: mode_put,
            content_type: Some("application/xml".into()),
            cache_control: Some(CACHE_SHORT.into()),
        };
        // Signed before the swap, and written together with it (`put_pair`: on the local
        // store one rename after the other, on S3 the next PUT), see `crate::trust`.
        let presigned = match &config.signer {
            Some(s) => Some(Bytes::from(super::sign::sign_repomd(s, root, &body)?)),
            None => None,
        };
        let asc_key = super::sign::signature_key(root);
        let swapped = retry(&self.options, "put", || async {
            match &presigned {
                Some(sig) => {
                    let (meta, asc) = run
                        .store
                        .put_pair(
                            (&key, body.clone(), opts.clone()),
                            (&asc_key, sig.clone(), super::sign::signature_put_options()),
                        )
                        .await?;
                    if let Err(e) = &asc {
                        tracing::warn!(root, error = %e, "writing repomd.xml.asc with the swap failed; writing it again");
                    }
                    Ok((meta, asc.is_ok()))
                }
                None => run
                    .store
                    .put(&key, body.clone(), opts.clone())
                    .await
                    .map(|m| (m, false)),
            }
        })
        .await;
        let (swapped_etag, asc_written) = match swapped {
            Ok((meta, asc_written)) => (meta.etag, asc_written),
            Err(store::Error::Precondition { .. }) | Err(store::Error::AlreadyExists { .. }) => {
                if !self.swap_landed(run, &key, &token).await? {
                    return Ok(None);
                }
                tracing::info!(
                    root,
                    "precondition failed on a retried swap that had landed"
                );
                // ETag unknown: the signing step reads back and signs what is there.
                (String::new(), false)
            }
            Err(e) => return Err(e.into()),
        };
        // Make sure the signature matches (see `crate::trust` on the window between the two).
        match &config.signer {
            Some(signer) => {
                let first = match (asc_written, presigned) {
                    (true, _) => super::sign::FirstSignature::Written,
                    (false, Some(sig)) => super::sign::FirstSignature::Made(sig),
                    (false, None) => super::sign::FirstSignature::ToMake,
                };
                super::sign::sign_published(
                    &*run.store,
                    &self.options,
                    root,
                    signer,
                    body,
                    swapped_etag,
                    first,
                )
                .await?
            }
            None if was_signed => {
                super::sign::remove_signature(&*run.store, &self.options, root).await?
            }
            None => {}
        }

        // The files of the generation now published, for the next publish to start from.
        if let Some(cache) = self.options.cache.clone() {
            let kept = tokio::task::spawn_blocking(move || {
                for (sum, body) in &to_cache {
                    cache.put(sum, body);
                }
                let keep: Vec<&str> = cache_keep.iter().map(String::as_str).collect();
                cache.trim(&keep);
            })
            .await;
            if let Err(e) = kept {
                tracing::warn!(root, error = %e, "caching the published files failed");
            }
        }

        // 3. After the swap: expired files, rejected list.
        for g in &expired {
            let k = format!("{root}{}", g.href);
            match retry(&self.options, "delete", || run.store.delete(&k)).await {
                Ok(()) => round.deleted_files.push(k),
                Err(e) => {
                    tracing::warn!(key = %k, error = %e, "could not delete an expired metadata file")
                }
            }
        }
        // Packages retention dropped a grace period ago: the metadata forgot them above.
        for h in &retired_due {
            let k = format!("{root}{h}");
            match retry(&self.options, "delete", || run.store.delete(&k)).await {
                Ok(()) => round.deleted_files.push(k),
                Err(e) => {
                    tracing::warn!(key = %k, error = %e, "could not delete a package dropped by retention")
                }
            }
        }
        if rejected_changed {
            if let Err(e) = self.write_rejected(run, &revision, &state).await {
                tracing::warn!(root, error = %e, "could not write the rejected-keys list");
            }
        }
        if mode == Mode::Reconcile {
            round.deleted_files.extend(self.sweep_orphans(run).await?);
        }
        round.packages = total;
        round.revision = revision;
        Ok(Some(round))
    }

    /// Write one content-addressed file. An existing object of that name that the base
    /// generation does not reference is rewritten, so its modification time says it is in use
    /// (reconcile removes unreferenced files only when old).
    pub(super) async fn put_immutable(&self, run: &Run, href: &str, body: Bytes) -> Result<()> {
        let key = format!("{}{href}", run.root);
        let content_type = content_type(href);
        let opts = |mode| PutOptions {
            mode,
            content_type: Some(content_type.into()),
            cache_control: Some(CACHE_IMMUTABLE.into()),
        };
        match retry(&self.options, "put", || {
            run.store.put(&key, body.clone(), opts(PutMode::Create))
        })
        .await
        {
            Ok(_) => Ok(()),
            // It exists: written by a crashed run, or by a publisher creating the same content
            // at the same moment (409/412, or our own first attempt that the SDK retried).
            // Rewrite it, so its modification time says it is in use (a sweep leaves young
            // files alone).
            Err(store::Error::AlreadyExists { .. } | store::Error::Precondition { .. }) => {
                retry(&self.options, "put", || {
                    run.store.put(&key, body.clone(), opts(PutMode::Overwrite))
                })
                .await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn write_rejected(
        &self,
        run: &Run,
        revision: &str,
        state: &State,
    ) -> Result<()> {
        let body = Bytes::from(RejectedList::of_state(&run.root, revision, state).to_json());
        let key = format!("{}{REPODATA_DIR}/{REJECTED_FILE}", run.root);
        let opts = PutOptions {
            mode: PutMode::Overwrite,
            content_type: Some("application/json".into()),
            cache_control: Some(CACHE_SHORT.into()),
        };
        retry(&self.options, "put", || {
            run.store.put(&key, body.clone(), opts.clone())
        })
        .await?;
        Ok(())
    }

    /// Did our `repomd.xml` (marked with `token`) land although its PUT answered with a
    /// precondition failure (the SDK retried a request whose first attempt had succeeded)?
    pub(super) async fn swap_landed(&self, run: &Run, key: &str, token: &str) -> Result<bool> {
        match retry(&self.options, "get", || run.store.get(key)).await {
            Ok((bytes, _)) => Ok(has_publish_mark(&bytes, token)),
            Err(store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The store's clock: the modification time of an object written just now (the local
    /// clock may be skewed against the one that stamps the objects a sweep ages).
    pub(super) async fn store_clock(&self, run: &Run) -> Result<i64> {
        let key = format!("{}{REPODATA_DIR}/{CLOCK_FILE}", run.root);
        let written = retry(&self.options, "put", || {
            run.store
                .put(&key, Bytes::from_static(b"clock\n"), PutOptions::default())
        })
        .await?;
        let meta = retry(&self.options, "head", || run.store.head(&key)).await;
        if let Err(e) = retry(&self.options, "delete", || run.store.delete(&key)).await {
            tracing::warn!(key, error = %e, "could not delete the clock object");
        }
        Ok(meta
            .map(|m| m.last_modified)
            .unwrap_or(written.last_modified))
    }

    /// Delete content-addressed files under `repodata/` that the current generation neither
    /// references nor keeps as garbage and that are older than the sweep age (the grace period,
    /// and at least [`MIN_SWEEP_AGE`]), measured with the store's clock: files left by
    /// crashed runs. A live publisher references no file it wrote longer than
    /// [`MAX_PUBLISH_WINDOW`] ago, so a sweep never takes its files.
    pub(super) async fn sweep_orphans(&self, run: &Run) -> Result<Vec<String>> {
        let now = self.store_clock(run).await?;
        // What is referenced now (not what this run saw earlier: another publisher may have
        // swapped since); the references only, not the package records.
        let base = match self.references(run).await {
            Ok(b) => b,
            Err(e) if is_damage(&e) => {
                tracing::warn!(root = %run.root, error = %e, "not sweeping: what the published generation references is unknown");
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        };
        let dir = format!("{}{REPODATA_DIR}/", run.root);
        let mut listing = Vec::new();
        self.walk_listing(&*run.store, &dir, store::PageStart::First, |o| {
            listing.push(o)
        })
        .await?;
        let age = sweep_age(self.config.grace_period);
        let keep: BTreeSet<&str> = base
            .referenced
            .iter()
            .chain(&base.garbage)
            .map(String::as_str)
            .collect();
        let candidates = gc::orphans(&listing, &run.root, &keep, now, age);
        self.hooks
            .pause(hooks::PausePoint::BeforeSweepDelete, &run.root)
            .await;
        let mut deleted = Vec::new();
        for key in candidates {
            // Look again right before deleting: a publisher that rewrote the file since the
            // listing uses it.
            match retry(&self.options, "head", || run.store.head(&key)).await {
                Ok(m) if m.last_modified + age <= now => {}
                Ok(_) | Err(store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            retry(&self.options, "delete", || run.store.delete(&key)).await?;
            tracing::info!(key = %key, "deleted orphaned metadata file");
            deleted.push(key);
        }
        Ok(deleted)
    }
}

/// Name of the object [`Indexer::store_clock`] writes (and deletes) under `repodata/`.
pub(crate) const CLOCK_FILE: &str = "rpmbucket-clock";

/// A sweep never deletes an unreferenced file younger than this (seconds), whatever the grace
/// period: longer than any publish takes between writing its files and its swap.
pub const MIN_SWEEP_AGE: i64 = 900;

/// A publish whose files were written longer ago than this starts again instead of swapping
/// (a third of [`MIN_SWEEP_AGE`], leaving room for clock rates and the swap itself).
pub const MAX_PUBLISH_WINDOW: Duration = Duration::from_secs(300);

/// The age (seconds) from which a sweep deletes an unreferenced file.
pub(crate) fn sweep_age(grace: Duration) -> i64 {
    (grace.as_secs() as i64).max(MIN_SWEEP_AGE)
}

/// The comment that marks a `repomd.xml` with the token of the attempt that wrote it.
pub(crate) fn publish_mark(token: &str) -> String {
    format!("<!-- rpmbucket-publish {token} -->\n")
}

/// Does `repomd` carry the mark of `token`?
pub(crate) fn has_publish_mark(repomd: &[u8], token: &str) -> bool {
    let mark = publish_mark(token);
    repomd.windows(mark.len()).any(|w| w == mark.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_age_is_never_below_the_minimum() {
        assert_eq!(sweep_age(Duration::ZERO), MIN_SWEEP_AGE);
        assert_eq!(sweep_age(Duration::from_secs(3600)), 3600);
        assert!(MAX_PUBLISH_WINDOW.as_secs() as i64 * 3 <= MIN_SWEEP_AGE);
    }

    #[test]
    fn publish_marks() {
        let mut body = backend::write_repomd(&Repomd::default());
        body.extend_from_slice(publish_mark("abc").as_bytes());
        assert!(has_publish_mark(&body, "abc"));
        assert!(!has_publish_mark(&body, "abd"));
        // The mark does not disturb reading the file back.
        backend::parse_repomd(&body).unwrap();
    }
}

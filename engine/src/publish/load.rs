//! Reading the published generation back: `repomd.xml`, the state and its chunks, the current
//! files a publish copies from, and recovery when any of them is damaged.

use super::*;

impl Indexer {
    /// The published `repomd.xml`, parsed, with its object metadata; `None` when the
    /// repository has none yet.
    pub(super) async fn read_repomd(&self, run: &Run) -> Result<Option<(Repomd, ObjectMeta)>> {
        let key = format!("{}{REPODATA_DIR}/repomd.xml", run.root);
        let (bytes, meta) = match retry(&self.options, "get", || run.store.get(&key)).await {
            Ok(x) => x,
            Err(store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let repomd = backend::parse_repomd(&bytes).map_err(|e| Error::Metadata {
            root: run.root.clone(),
            source: Unreadable::Repomd(e),
        })?;
        Ok(Some((repomd, meta)))
    }

    /// Read the published generation. Damaged metadata (a missing or corrupt state file) is
    /// recovered from, see [`Indexer::recover_state`]; `full` (reindex, reconcile) allows starting
    /// over from an empty state.
    pub(super) async fn load(&self, run: &Run, full: bool) -> Result<Base> {
        let Some((repomd, meta)) = self.read_repomd(run).await? else {
            return Ok(Base::default());
        };
        let bad = |source: Unreadable| Error::Metadata {
            root: run.root.clone(),
            source,
        };
        let mut referenced: BTreeSet<String> =
            repomd.records.iter().map(|r| r.href.clone()).collect();
        let state = match repomd.records.iter().find(|r| r.data_type == STATE_TYPE) {
            Some(rec) => {
                let read = match self.get_checked(run, rec).await {
                    Ok(data) => State::decode(&data).map_err(|source| {
                        bad(Unreadable::State {
                            href: rec.href.clone(),
                            source,
                        })
                    }),
                    Err(e) => Err(e),
                };
                match read {
                    Ok(state) => state,
                    Err(e) if is_damage(&e) => {
                        self.recover_state(run, &repomd, State::default(), full, e)
                            .await?
                    }
                    Err(e) => return Err(e),
                }
            }
            None => self.state_from_xml(run, &repomd).await?,
        };
        referenced.extend(state.chunks.iter().map(|c| c.href.clone()));
        Ok(Base {
            etag: Some(meta.etag),
            repomd,
            state,
            referenced,
            reverify: false,
        })
    }

    /// Does the next generation need every package's record (not only the changed chunks)?
    /// Not when the XML is gzip or zstd in both generations (unchanged chunks' members are
    /// copied) and the databases, if configured, can be updated in place from the previous ones.
    pub(super) fn needs_all_records(config: &RepoConfig, base: &Base) -> bool {
        !config.compression.concatenates()
            || xml_records(&base.repomd, config.compression).is_none()
            || config.retention.is_active()
            || base.state.chunks.iter().any(|c| c.members.is_none())
            || (config.database && db_records(&base.repomd).is_none())
    }

    /// The settings a publish of this repository uses: the ones stored in its state (chosen
    /// when it was created or last overridden), unless this indexer overrides them or there
    /// are none; the grace period is always this indexer's.
    pub(super) fn effective_config(&self, state: &State) -> RepoConfig {
        match (&state.settings, self.override_settings) {
            (Some(s), false) => RepoConfig {
                compression: Compression::from_name(&s.compression)
                    .unwrap_or(self.config.compression),
                database: s.database,
                changelog_limit: s.changelog_limit,
                grace_period: self.config.grace_period,
                signer: self.config.signer.clone(),
                package_policy: crate::trust::PackagePolicy::from_name(&s.package_policy)
                    .unwrap_or(crate::trust::PackagePolicy::Keys),
                trusted_keys: crate::trust::TrustedKeys::from_armored(&s.trusted_keys)
                    .unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "stored trusted keys unreadable; trusting none");
                        crate::trust::TrustedKeys::default()
                    }),
                retention: s.retention,
                page: s.page,
                page_limit: self.config.page_limit,
                max_upload_size: s.max_upload_size,
            },
            _ => self.config.clone(),
        }
    }

    /// Read the chunks holding `hrefs` (all chunks for `None`) into `state.packages`.
    pub(super) async fn load_chunks(
        &self,
        run: &Run,
        state: &mut State,
        hrefs: Option<&BTreeSet<String>>,
    ) -> Result<()> {
        let wanted: BTreeSet<usize> = match hrefs {
            None => (0..state.chunks.len()).collect(),
            Some(hrefs) => hrefs.iter().filter_map(|h| state.chunk_for(h)).collect(),
        };
        let wanted: Vec<(usize, ChunkRef)> = wanted
            .into_iter()
            .filter(|i| !state.loaded[*i])
            .map(|i| (i, state.chunks[i].clone()))
            .collect();
        let bad = |source: Unreadable| Error::Metadata {
            root: run.root.clone(),
            source,
        };
        let gets = wanted.into_iter().map(|(i, chunk)| async move {
            let key = format!("{}{}", run.root, chunk.href);
            let name = chunk.href.rsplit('/').next().unwrap_or_default();
            let data = match self.cached(name.get(..64).unwrap_or_default()).await {
                Some(data) => data,
                None => retry(&self.options, "get", || run.store.get(&key)).await?.0,
            };
            let sum = backend::sha256_hex(&data);
            if name.get(..64) != Some(sum.as_str()) {
                return Err(bad(Unreadable::ChunkChecksum {
                    href: chunk.href.clone(),
                    actual: sum,
                }));
            }
            let entries = tokio::task::spawn_blocking(move || decode_chunk(&data))
                .await
                .map_err(|e| bad(Unreadable::Task(e)))?
                .map_err(|source| {
                    bad(Unreadable::State {
                        href: chunk.href.clone(),
                        source,
                    })
                })?;
            Ok::<_, Error>((i, entries))
        });
        let loaded: Vec<(usize, Vec<Entry>)> = futures::stream::iter(gets)
            .buffer_unordered(self.options.read_concurrency.max(1))
            .try_collect()
            .await?;
        for (i, entries) in loaded {
            state
                .add_chunk(i, entries)
                .map_err(|e| bad(Unreadable::Chunks(e)))?;
        }
        Ok(())
    }

    /// The current generation's three files named by `records` (XML to copy members from, or
    /// databases to update), checksums verified; `None` when there are not three, or when they
    /// are missing or damaged (then the caller renders from records).
    pub(super) async fn current_files(
        &self,
        run: &Run,
        records: Option<[&Record; 3]>,
    ) -> Result<Option<[Bytes; 3]>> {
        let Some(records) = records else {
            return Ok(None);
        };
        match futures::future::try_join_all(records.map(|r| self.get_checked(run, r))).await {
            Ok(files) => Ok(Some(files.try_into().expect("three files"))),
            Err(e) if is_damage(&e) => {
                tracing::warn!(root = %run.root, error = %e, "current metadata unreadable; rendering from records");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The state file or a chunk of it is missing or corrupt (deleted by hand, say): take the
    /// records from the published primary/filelists/other XML instead, as for a repository
    /// made by createrepo_c (they have no ETags, so the next reindex reads those packages once),
    /// keeping what the damaged state still says (settings, rejected keys, garbage). If the XML
    /// cannot be read either, a full run (`full`) starts from an empty state and reads every
    /// package of the listing; an apply gives up with `damage` (run `reconcile`).
    pub(super) async fn recover_state(
        &self,
        run: &Run,
        repomd: &Repomd,
        damaged: State,
        full: bool,
        damage: Error,
    ) -> Result<State> {
        tracing::warn!(root = %run.root, error = %damage, "state unreadable; taking the records from the published XML");
        let mut state = match self.state_from_xml(run, repomd).await {
            Ok(state) => state,
            Err(e) if full && is_damage(&e) => {
                tracing::warn!(root = %run.root, error = %e, "published XML unreadable too; reading every package");
                State::default()
            }
            Err(_) => return Err(damage),
        };
        state.generation = damaged.generation;
        state.settings = damaged.settings;
        state.rejected = damaged.rejected;
        state.retired = damaged.retired;
        state.garbage = damaged.garbage;
        state.tombstones = damaged.tombstones;
        state.extras = damaged.extras;
        Ok(state)
    }

    pub(super) async fn get_checked(&self, run: &Run, rec: &Record) -> Result<Bytes> {
        if let Some(data) = self.cached(&rec.checksum).await {
            return Ok(data);
        }
        let key = format!("{}{}", run.root, rec.href);
        let (data, _) = retry(&self.options, "get", || run.store.get(&key)).await?;
        let sum = backend::sha256_hex(&data);
        if !sum.eq_ignore_ascii_case(&rec.checksum) {
            return Err(Error::Metadata {
                root: run.root.clone(),
                source: Unreadable::Checksum {
                    href: rec.href.clone(),
                    actual: sum,
                    expected: rec.checksum.clone(),
                },
            });
        }
        Ok(data)
    }

    /// The file whose SHA-256 is `sha256` from the cache, if there is one and it holds it
    /// (checked, see [`crate::cache`]).
    async fn cached(&self, sha256: &str) -> Option<Bytes> {
        let cache = self.options.cache.clone()?;
        let sum = sha256.to_string();
        tokio::task::spawn_blocking(move || cache.get(&sum))
            .await
            .ok()
            .flatten()
    }

    /// Records of a repository without our state record (made by createrepo_c, say).
    pub(super) async fn state_from_xml(&self, run: &Run, repomd: &Repomd) -> Result<State> {
        let find = |t: &str| repomd.records.iter().find(|r| r.data_type == t);
        let Some(primary) = find("primary") else {
            return Ok(State::default());
        };
        let bad = |source: Unreadable| Error::Metadata {
            root: run.root.clone(),
            source,
        };
        let mut open = Vec::new();
        for rec in [Some(primary), find("filelists"), find("other")] {
            match rec {
                Some(rec) => {
                    let data = self.get_checked(run, rec).await?;
                    let xml = backend::decompress(&rec.href, &data).map_err(|e| bad(e.into()))?;
                    open.push(Some(xml));
                }
                None => open.push(None),
            }
        }
        let (Some(p), Some(f), Some(o)) = (&open[0], &open[1], &open[2]) else {
            return Err(bad(Unreadable::Incomplete));
        };
        let packages = backend::read_published(p, f, o).map_err(|e| bad(Unreadable::Xml(e)))?;
        tracing::info!(root = %run.root, packages = packages.len(), "no rpmbucket state; records taken from primary/filelists/other");
        let mut state = State::default();
        for p in packages {
            state.packages.insert(
                p.location_href.clone(),
                Entry {
                    etag: None,
                    package: Arc::new(p),
                },
            );
        }
        Ok(state)
    }
}

/// Published metadata that is missing or does not match what references it (as opposed to a
/// store that is failing): something to recover from by reading more, not to retry.
pub(super) fn is_damage(e: &Error) -> bool {
    matches!(
        e,
        Error::Metadata { .. } | Error::Store(store::Error::NotFound { .. })
    )
}

/// The `primary_db`, `filelists_db` and `other_db` records, if all three are bzip2 sqlite files
/// of the current database version.
pub(super) fn db_records(repomd: &Repomd) -> Option<[&Record; 3]> {
    three_records(repomd, ["primary_db", "filelists_db", "other_db"], |r| {
        r.href.ends_with(".sqlite.bz2")
            && r.database_version == Some(rpmbucket_repodata::sqlite::DB_VERSION)
    })
}

/// The `primary`, `filelists` and `other` records, if all three are XML compressed with
/// `compression` (after a change of compression, the previous files cannot be copied from).
pub(super) fn xml_records(repomd: &Repomd, compression: Compression) -> Option<[&Record; 3]> {
    let suffix = format!(".xml{}", compression.suffix());
    three_records(repomd, ["primary", "filelists", "other"], |r| {
        r.href.ends_with(&suffix)
    })
}

pub(super) fn three_records<'a>(
    repomd: &'a Repomd,
    types: [&str; 3],
    accept: impl Fn(&Record) -> bool,
) -> Option<[&'a Record; 3]> {
    let find = |t: &str| {
        repomd
            .records
            .iter()
            .find(|r| r.data_type == t && accept(r))
    };
    Some([find(types[0])?, find(types[1])?, find(types[2])?])
}

/// The records of `repomd` this engine neither writes nor replaces: everything but the package
/// metadata and the state.
pub(super) fn foreign_records(repomd: &Repomd) -> impl Iterator<Item = Record> + '_ {
    repomd
        .records
        .iter()
        .filter(|r| !r.is_package_derived() && r.data_type != STATE_TYPE)
        .cloned()
}

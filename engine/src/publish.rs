//! Incremental, atomic publishing of one repository's metadata.
//!
//! One publish, in order (see the README, "Publish protocol"):
//! 1. read `repomd.xml` (remember its ETag), the state file it references and the chunks of it
//!    that hold the changed keys;
//! 2. HEAD each changed key (ETag, size, mtime, stored sha256) — unchanged packages are never
//!    touched; read the header of each new object with ranged GETs (or stream it once through
//!    sha256 when the store has no checksum);
//! 3. render the new metadata, chunks and state — changed chunks from their records, the
//!    others' gzip members copied from the current XML, the databases updated in place (see
//!    [`crate::render`]) — and write them under content-addressed names (`If-None-Match: *`);
//! 4. swap `repomd.xml` with `If-Match` the ETag read in 1 (or `If-None-Match: *`); on a
//!    precondition failure start again at 1 with the package reads kept;
//! 5. delete files of generations replaced longer than the grace period ago;
//! 6. HEAD the changed keys again: if one changed meanwhile, apply it (an event for a change
//!    that happened between our HEAD and our swap may have been judged "nothing to do" by
//!    another indexer reading the previous generation).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use rpmbucket_repodata::Package;
use sha2::Digest;

use crate::backend::{self, Compression, Extent, FileFacts, Record, Repomd};
use crate::config::RepoConfig;
use crate::counting::{CountingStore, RequestCounts};
use crate::error::{store_error_is_retryable, Error, Result};
use crate::layout::{normalise_root, Layout, REPODATA_DIR};
use crate::render;
use crate::state::{
    decode_chunk, ChunkRef, Entry, Garbage, Rejected, Settings, State, CHUNK_FILE, CHUNK_TARGET,
    STATE_FILE, STATE_FORMAT, STATE_TYPE,
};
use crate::store::{self, ObjectMeta, ObjectStore, PutMode, PutOptions};

/// Cache-Control of `repomd.xml` and other files that change in place.
pub const CACHE_SHORT: &str = "max-age=10";
/// Cache-Control of content-addressed files.
pub const CACHE_IMMUTABLE: &str = "max-age=31536000, immutable";
/// Per-repository list of rejected keys (machine-readable, rewritten after each publish that
/// changes it).
pub const REJECTED_FILE: &str = "rpmbucket-rejected.json";
/// How long a deleted file's name is not reused.
const TOMBSTONE_TTL: i64 = 3600;

/// What happened to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Removed,
}

/// A change notification for one key. The kind, ETag and checksum are hints: the engine always
/// asks the store what the key holds now, so stale, duplicated or reordered notifications end
/// in the state the bucket really has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    pub kind: ChangeKind,
    /// ETag from the notification, if any.
    pub etag: Option<String>,
    /// Hex sha256 of the object, if the sender knows it (used when the store's ETag matches).
    pub sha256: Option<String>,
}

impl Change {
    /// A created (or overwritten) key.
    pub fn created(key: impl Into<String>) -> Change {
        Change {
            key: key.into(),
            kind: ChangeKind::Created,
            etag: None,
            sha256: None,
        }
    }

    /// A deleted key.
    pub fn removed(key: impl Into<String>) -> Change {
        Change {
            key: key.into(),
            kind: ChangeKind::Removed,
            etag: None,
            sha256: None,
        }
    }
}

/// What one `apply`/`reindex`/`reconcile` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PublishReport {
    /// Repository root.
    pub root: String,
    /// Revision of the `repomd.xml` now published (the previous one when `unchanged`; empty if
    /// the repository does not exist).
    pub revision: String,
    /// Keys added or replaced.
    pub added: Vec<String>,
    /// Keys removed from the metadata.
    pub removed: Vec<String>,
    /// Keys rejected in this run, with the reason.
    pub rejected: Vec<(String, String)>,
    /// Body bytes read from the store.
    pub bytes_read: u64,
    /// Body bytes written to the store.
    pub bytes_written: u64,
    /// Requests by kind.
    pub requests: RequestCounts,
    /// Lost `repomd.xml` races that were retried.
    pub conflicts_retried: u32,
    /// Packages whose pkgid needed the whole object streamed through sha256.
    pub hashed_by_stream: u32,
    /// Packages whose pkgid came from the store's checksum.
    pub hashed_by_checksum: u32,
    /// Files of old generations deleted.
    pub deleted_files: Vec<String>,
    /// Packages in the published metadata.
    pub packages: usize,
    #[serde(skip)]
    pub duration: Duration,
    /// Nothing needed publishing.
    pub unchanged: bool,
}

/// Where a fault-injection hook stops a publish (tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// After writing the data files, before the `repomd.xml` swap.
    BeforeSwap,
}

/// Tuning of retries and parallelism.
#[derive(Debug, Clone)]
pub struct IndexerOptions {
    /// Publish attempts per batch when the `repomd.xml` swap loses a race.
    pub max_attempts: u32,
    /// Attempts of one store request that fails with a retryable error.
    pub store_attempts: u32,
    /// First backoff; doubles per attempt up to `max_backoff`, with full jitter.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Package headers read in parallel.
    pub read_concurrency: usize,
    /// Rounds of "HEAD the changed keys after the swap and apply what changed meanwhile".
    pub verify_rounds: u32,
    /// Threads rendering chunks (default: the available parallelism).
    pub render_threads: usize,
    /// Packages per chunk of the state when chunks are cut ([`CHUNK_TARGET`]); small values
    /// exercise splitting in tests.
    pub chunk_target: usize,
}

impl Default for IndexerOptions {
    fn default() -> IndexerOptions {
        IndexerOptions {
            max_attempts: 40,
            store_attempts: 5,
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            read_concurrency: 16,
            verify_rounds: 3,
            render_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            chunk_target: CHUNK_TARGET,
        }
    }
}

/// Keeps one bucket's repositories up to date.
#[derive(Debug, Clone)]
pub struct Indexer {
    store: Arc<dyn ObjectStore>,
    layout: Layout,
    config: RepoConfig,
    options: IndexerOptions,
    fault: Option<FaultPoint>,
    /// Apply `config`'s compression, databases and changelog limit even to repositories that
    /// have stored settings (and store them).
    override_settings: bool,
}

/// What the store says a key holds.
#[derive(Debug, Clone)]
enum Seen {
    Absent,
    /// `headed`: the meta came from HEAD (has the stored checksum if any), not from a listing.
    Present {
        meta: ObjectMeta,
        headed: bool,
    },
}

/// Outcome of reading one package.
#[derive(Debug, Clone)]
enum Read {
    Package(Arc<Package>),
    Bad(String),
}

/// Everything learnt about keys during one call, kept across publish attempts.
#[derive(Debug, Default)]
struct Knowledge {
    seen: HashMap<String, Seen>,
    /// By (href, etag).
    reads: HashMap<(String, String), Read>,
    /// Checksums from notifications, by (key, etag).
    hints: HashMap<(String, String), String>,
}

/// The published generation a publish starts from.
#[derive(Debug, Default)]
struct Base {
    /// ETag of `repomd.xml`; `None` if there is none.
    etag: Option<String>,
    repomd: Repomd,
    state: State,
    /// hrefs referenced by `repomd.xml`.
    referenced: BTreeSet<String>,
}

/// Per-call bookkeeping.
struct Run {
    root: String,
    store: Arc<CountingStore>,
    started: Instant,
    hashed_by_stream: AtomicU32,
    hashed_by_checksum: AtomicU32,
    conflicts: u32,
    /// The repository's changelog limit, for parsing packages (set from its settings).
    changelog_limit: std::sync::atomic::AtomicI32,
}

/// Result of one successful publish round.
#[derive(Debug, Default)]
struct Round {
    revision: String,
    added: Vec<String>,
    removed: Vec<String>,
    rejected: Vec<(String, String)>,
    /// hrefs whose entry changed, with what the store said when we decided.
    touched: Vec<String>,
    deleted_files: Vec<String>,
    packages: usize,
    unchanged: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Apply notifications.
    Apply,
    /// Full listing: publish even an empty repository.
    Reindex,
    /// Full listing plus removal of orphaned metadata files.
    Reconcile,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Indexer {
    /// An indexer over `store`.
    pub fn new(store: Arc<dyn ObjectStore>, layout: Layout, config: RepoConfig) -> Indexer {
        Indexer {
            store,
            layout,
            config,
            options: IndexerOptions::default(),
            fault: None,
            override_settings: false,
        }
    }

    /// Publish with this indexer's compression, databases and changelog limit even where the
    /// repository has stored settings, and store them: how an operator changes a repository's
    /// settings (`rpmbucket index --compress-type …`). Without it, a repository keeps the
    /// settings it was created with, whatever the indexer that publishes it is configured with.
    pub fn overriding_settings(mut self) -> Indexer {
        self.override_settings = true;
        self
    }

    /// Replace the retry/parallelism options.
    pub fn with_options(mut self, options: IndexerOptions) -> Indexer {
        self.options = options;
        self
    }

    /// Stop every publish at `point` with [`Error::Injected`] (crash tests).
    #[doc(hidden)]
    pub fn with_fault(mut self, point: Option<FaultPoint>) -> Indexer {
        self.fault = point;
        self
    }

    /// The layout in use.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The repository settings in use.
    pub fn config(&self) -> &RepoConfig {
        &self.config
    }

    /// Apply a batch of changes to one repository root and publish.
    pub async fn apply(&self, root: &str, changes: &[Change]) -> Result<PublishReport> {
        let root = normalise_root(root);
        let mut know = Knowledge::default();
        let mut pending = BTreeSet::new();
        for c in changes {
            if self.layout.repo_root(&c.key).as_deref() != Some(root.as_str()) {
                return Err(Error::WrongRoot {
                    root,
                    key: c.key.clone(),
                });
            }
            if let (Some(etag), Some(sha)) = (&c.etag, &c.sha256) {
                know.hints
                    .insert((c.key.clone(), etag.clone()), sha.to_ascii_lowercase());
            }
            pending.insert(c.key[root.len()..].to_string());
        }
        self.run(&root, pending, know, Mode::Apply).await
    }

    /// Group changes by repository root (keys the layout ignores are skipped) and apply each
    /// group; one result per root.
    pub async fn apply_all(&self, changes: &[Change]) -> Vec<(String, Result<PublishReport>)> {
        let mut by_root: BTreeMap<String, Vec<Change>> = BTreeMap::new();
        for c in changes {
            match self.layout.repo_root(&c.key) {
                Some(root) => by_root.entry(root).or_default().push(c.clone()),
                None => tracing::debug!(key = %c.key, "not a package of a repository, ignored"),
            }
        }
        let runs = by_root.into_iter().map(|(root, changes)| async move {
            let r = self.apply(&root, &changes).await;
            (root, r)
        });
        futures::future::join_all(runs).await
    }

    /// Build or rebuild a repository from a listing of its root, reusing the published
    /// records of objects whose ETag is unchanged.
    pub async fn reindex(&self, root: &str) -> Result<PublishReport> {
        self.full(root, Mode::Reindex).await
    }

    /// Compare the listing with the published metadata, publish what drifted (lost
    /// notifications, manual deletes) and delete orphaned metadata files older than the grace
    /// period. The report lists what changed.
    pub async fn reconcile(&self, root: &str) -> Result<PublishReport> {
        self.full(root, Mode::Reconcile).await
    }

    /// Repository roots under `prefix`: roots of the package keys there and directories that
    /// already hold a `repodata/repomd.xml`.
    pub async fn list_roots(&self, prefix: &str) -> Result<Vec<String>> {
        let prefix = normalise_root(prefix);
        let objects = retry(&self.options, "list", || self.store.list(&prefix)).await?;
        let mut roots = BTreeSet::new();
        for o in &objects {
            if let Some(r) = self.layout.repo_root(&o.key) {
                roots.insert(r);
            } else if let Some(dir) = o.key.strip_suffix("repodata/repomd.xml") {
                if self.layout.covers_root(dir)
                    || dir.is_empty() && self.layout.prefixes().is_empty()
                {
                    roots.insert(dir.to_string());
                }
            }
        }
        Ok(roots.into_iter().collect())
    }

    /// Is `key` in the published metadata of `root`? Returns the published revision if so.
    pub async fn published(&self, root: &str, key: &str) -> Result<Option<String>> {
        let root = normalise_root(root);
        let Some(href) = key.strip_prefix(root.as_str()) else {
            return Ok(None);
        };
        let run = self.new_run(&root);
        let mut base = self.load(&run, false).await?;
        let one: BTreeSet<String> = [href.to_string()].into();
        self.load_chunks(&run, &mut base.state, Some(&one)).await?;
        Ok(base
            .state
            .packages
            .contains_key(href)
            .then(|| base.repomd.revision.clone()))
    }

    fn new_run(&self, root: &str) -> Run {
        Run {
            root: root.to_string(),
            store: Arc::new(CountingStore::new(self.store.clone())),
            started: Instant::now(),
            hashed_by_stream: AtomicU32::new(0),
            hashed_by_checksum: AtomicU32::new(0),
            conflicts: 0,
            changelog_limit: std::sync::atomic::AtomicI32::new(self.config.changelog_limit),
        }
    }

    async fn full(&self, root: &str, mode: Mode) -> Result<PublishReport> {
        let root = normalise_root(root);
        let listing = retry(&self.options, "list", || self.store.list(&root)).await?;
        let mut know = Knowledge::default();
        let mut pending = BTreeSet::new();
        for o in listing {
            if self.layout.repo_root(&o.key).as_deref() != Some(root.as_str()) {
                continue;
            }
            let href = o.key[root.len()..].to_string();
            know.seen.insert(
                href.clone(),
                Seen::Present {
                    meta: o,
                    headed: false,
                },
            );
            pending.insert(href);
        }
        // Keys published but not listed are gone: `run` marks them absent (no HEAD needed).
        self.run(&root, pending, know, mode).await
    }

    async fn run(
        &self,
        root: &str,
        mut pending: BTreeSet<String>,
        mut know: Knowledge,
        mode: Mode,
    ) -> Result<PublishReport> {
        let mut run = self.new_run(root);
        let mut report = PublishReport {
            root: root.to_string(),
            unchanged: true,
            ..PublishReport::default()
        };
        let mut round_no = 0;
        loop {
            let this_mode = if round_no == 0 { mode } else { Mode::Apply };
            let round = self
                .publish(&mut run, &pending, &mut know, this_mode)
                .await?;
            report.revision = round.revision.clone();
            report.packages = round.packages;
            report.unchanged &= round.unchanged;
            merge_keys(&mut report.added, round.added, root);
            merge_keys(&mut report.removed, round.removed, root);
            for (href, reason) in round.rejected {
                report.rejected.push((format!("{root}{href}"), reason));
            }
            report.deleted_files.extend(round.deleted_files);
            round_no += 1;
            if round.touched.is_empty() || round_no > self.options.verify_rounds {
                break;
            }
            // Verify: did any key we decided on change before our swap became visible?
            let changed = if this_mode == Mode::Apply {
                self.verify(&run, &round.touched, &know).await?
            } else {
                self.verify_by_listing(&run, &round.touched, &know).await?
            };
            if changed.is_empty() {
                break;
            }
            tracing::info!(
                root,
                keys = changed.len(),
                "keys changed during publish, applying again"
            );
            for href in &changed {
                know.seen.remove(href);
            }
            pending = changed.into_iter().collect();
        }
        report.bytes_read = run.store.bytes_read();
        report.bytes_written = run.store.bytes_written();
        report.requests = run.store.requests();
        report.conflicts_retried = run.conflicts;
        report.hashed_by_stream = run.hashed_by_stream.load(Ordering::Relaxed);
        report.hashed_by_checksum = run.hashed_by_checksum.load(Ordering::Relaxed);
        report.duration = run.started.elapsed();
        tracing::info!(
            root,
            revision = %report.revision,
            added = report.added.len(),
            removed = report.removed.len(),
            rejected = report.rejected.len(),
            unchanged = report.unchanged,
            conflicts = report.conflicts_retried,
            hashed_by_checksum = report.hashed_by_checksum,
            hashed_by_stream = report.hashed_by_stream,
            bytes_read = report.bytes_read,
            requests = report.requests.total(),
            ms = report.duration.as_millis() as u64,
            "publish done"
        );
        Ok(report)
    }

    /// HEAD the touched keys again; hrefs whose object differs from what was applied.
    async fn verify(&self, run: &Run, touched: &[String], know: &Knowledge) -> Result<Vec<String>> {
        let checks = touched.iter().map(|href| async move {
            let now = self.head(run, href).await?;
            let before = know.seen.get(href);
            let same = match (before, &now) {
                (Some(Seen::Absent), Seen::Absent) => true,
                (Some(Seen::Present { meta: a, .. }), Seen::Present { meta: b, .. }) => {
                    a.etag == b.etag
                }
                _ => false,
            };
            Ok::<_, Error>((!same).then(|| href.clone()))
        });
        let checks: Vec<_> = checks.collect();
        let results: Vec<Option<String>> = futures::stream::iter(checks)
            .buffer_unordered(self.options.read_concurrency.max(1))
            .try_collect()
            .await?;
        Ok(results.into_iter().flatten().collect())
    }

    /// Like [`Indexer::verify`] for full runs: one listing instead of a HEAD per key.
    async fn verify_by_listing(
        &self,
        run: &Run,
        touched: &[String],
        know: &Knowledge,
    ) -> Result<Vec<String>> {
        let listing = retry(&self.options, "list", || run.store.list(&run.root)).await?;
        // Only this repository's packages, as in `full`: a key below the root that the layout
        // gives to another repository (nested roots, a changed layout) was removed here on
        // purpose and must not come back through the apply round.
        let now: HashMap<&str, &str> = listing
            .iter()
            .filter(|o| self.layout.repo_root(&o.key).as_deref() == Some(run.root.as_str()))
            .map(|o| (&o.key[run.root.len()..], o.etag.as_str()))
            .collect();
        Ok(touched
            .iter()
            .filter(|href| {
                let before = match know.seen.get(*href) {
                    Some(Seen::Present { meta, .. }) => Some(meta.etag.as_str()),
                    _ => None,
                };
                before != now.get(href.as_str()).copied()
            })
            .cloned()
            .collect())
    }

    async fn head(&self, run: &Run, href: &str) -> Result<Seen> {
        let key = format!("{}{href}", run.root);
        match retry(&self.options, "head", || run.store.head(&key)).await {
            Ok(meta) => Ok(Seen::Present { meta, headed: true }),
            Err(store::Error::NotFound { .. }) => Ok(Seen::Absent),
            Err(e) => Err(e.into()),
        }
    }

    /// Read the published generation. Damaged metadata (a missing or corrupt state file) is
    /// recovered from, see [`Indexer::recover_state`]; `full` (reindex, reconcile) allows starting
    /// over from an empty state.
    async fn load(&self, run: &Run, full: bool) -> Result<Base> {
        let repomd_key = format!("{}{REPODATA_DIR}/repomd.xml", run.root);
        let (bytes, meta) = match retry(&self.options, "get", || run.store.get(&repomd_key)).await {
            Ok(x) => x,
            Err(store::Error::NotFound { .. }) => return Ok(Base::default()),
            Err(e) => return Err(e.into()),
        };
        let bad = |reason: String| Error::Metadata {
            root: run.root.clone(),
            reason,
        };
        let repomd = backend::parse_repomd(&bytes).map_err(|e| bad(format!("repomd.xml: {e}")))?;
        let mut referenced: BTreeSet<String> =
            repomd.records.iter().map(|r| r.href.clone()).collect();
        let state = match repomd.records.iter().find(|r| r.data_type == STATE_TYPE) {
            Some(rec) => {
                let read = match self.get_checked(run, rec).await {
                    Ok(data) => State::decode(&data).map_err(|e| bad(format!("{}: {e}", rec.href))),
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
        })
    }

    /// Does the next generation need every package's record (not only the changed chunks)?
    /// Not when the XML is gzip (unchanged chunks' members are copied) and the databases, if
    /// configured, can be updated in place from the previous ones.
    fn needs_all_records(config: &RepoConfig, base: &Base) -> bool {
        config.compression != Compression::Gz
            || base.state.chunks.iter().any(|c| c.members.is_none())
            || (config.database && db_records(&base.repomd).is_none())
    }

    /// The settings a publish of this repository uses: the ones stored in its state (chosen
    /// when it was created or last overridden), unless this indexer overrides them or there
    /// are none; the grace period is always this indexer's.
    fn effective_config(&self, state: &State) -> RepoConfig {
        match (&state.settings, self.override_settings) {
            (Some(s), false) => RepoConfig {
                compression: Compression::from_name(&s.compression)
                    .unwrap_or(self.config.compression),
                database: s.database,
                changelog_limit: s.changelog_limit,
                grace_period: self.config.grace_period,
            },
            _ => self.config.clone(),
        }
    }

    /// Read the chunks holding `hrefs` (all chunks for `None`) into `state.packages`.
    async fn load_chunks(
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
        let bad = |reason: String| Error::Metadata {
            root: run.root.clone(),
            reason,
        };
        let gets = wanted.into_iter().map(|(i, chunk)| async move {
            let key = format!("{}{}", run.root, chunk.href);
            let (data, _) = retry(&self.options, "get", || run.store.get(&key)).await?;
            let name = chunk.href.rsplit('/').next().unwrap_or_default();
            let sum = backend::sha256_hex(&data);
            if name.get(..64) != Some(sum.as_str()) {
                return Err(bad(format!("{}: checksum is {sum}", chunk.href)));
            }
            let entries = tokio::task::spawn_blocking(move || decode_chunk(&data))
                .await
                .map_err(|e| bad(format!("decode task: {e}")))?
                .map_err(|e| bad(format!("{}: {e}", chunk.href)))?;
            Ok::<_, Error>((i, entries))
        });
        let loaded: Vec<(usize, Vec<Entry>)> = futures::stream::iter(gets)
            .buffer_unordered(self.options.read_concurrency.max(1))
            .try_collect()
            .await?;
        for (i, entries) in loaded {
            state
                .add_chunk(i, entries)
                .map_err(|e| bad(e.to_string()))?;
        }
        Ok(())
    }

    /// The current generation's three files named by `records` (XML to copy members from, or
    /// databases to update), checksums verified; `None` when there are not three, or when they
    /// are missing or damaged (then the caller renders from records).
    async fn current_files(
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
    async fn recover_state(
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
        state.garbage = damaged.garbage;
        state.tombstones = damaged.tombstones;
        Ok(state)
    }

    async fn get_checked(&self, run: &Run, rec: &Record) -> Result<Bytes> {
        let key = format!("{}{}", run.root, rec.href);
        let (data, _) = retry(&self.options, "get", || run.store.get(&key)).await?;
        let sum = backend::sha256_hex(&data);
        if !sum.eq_ignore_ascii_case(&rec.checksum) {
            return Err(Error::Metadata {
                root: run.root.clone(),
                reason: format!(
                    "{}: checksum {sum} differs from repomd.xml's {}",
                    rec.href, rec.checksum
                ),
            });
        }
        Ok(data)
    }

    /// Records of a repository without our state record (made by createrepo_c, say).
    async fn state_from_xml(&self, run: &Run, repomd: &Repomd) -> Result<State> {
        let find = |t: &str| repomd.records.iter().find(|r| r.data_type == t);
        let Some(primary) = find("primary") else {
            return Ok(State::default());
        };
        let bad = |reason: String| Error::Metadata {
            root: run.root.clone(),
            reason,
        };
        let mut open = Vec::new();
        for rec in [Some(primary), find("filelists"), find("other")] {
            match rec {
                Some(rec) => {
                    let data = self.get_checked(run, rec).await?;
                    open.push(Some(backend::decompress(&rec.href, &data).map_err(bad)?));
                }
                None => open.push(None),
            }
        }
        let (Some(p), Some(f), Some(o)) = (&open[0], &open[1], &open[2]) else {
            return Err(bad("repomd.xml lacks filelists or other".into()));
        };
        let packages = backend::read_published(p, f, o)
            .map_err(|e| bad(format!("reading published XML: {e}")))?;
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

    /// One publish round, retried on lost races.
    async fn publish(
        &self,
        run: &mut Run,
        pending: &BTreeSet<String>,
        know: &mut Knowledge,
        mode: Mode,
    ) -> Result<Round> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut base = self.load(run, mode != Mode::Apply).await?;
            let config = self.effective_config(&base.state);
            run.changelog_limit
                .store(config.changelog_limit, Ordering::Relaxed);
            let scope = (mode == Mode::Apply && !Self::needs_all_records(&config, &base))
                .then_some(pending);
            if let Err(e) = self.load_chunks(run, &mut base.state, scope).await {
                if !is_damage(&e) {
                    return Err(e);
                }
                let kept = std::mem::take(&mut base.state);
                base.state = self
                    .recover_state(run, &base.repomd, kept, mode != Mode::Apply, e)
                    .await?;
            }
            if mode != Mode::Apply {
                // Published keys missing from the listing are gone.
                for href in base.state.packages.keys().chain(base.state.rejected.keys()) {
                    know.seen.entry(href.clone()).or_insert(Seen::Absent);
                }
            }
            let all: BTreeSet<String> = if mode == Mode::Apply {
                pending.clone()
            } else {
                know.seen.keys().cloned().collect()
            };
            self.learn(run, &all, &mut base.state, know).await?;
            match self
                .try_publish(run, &all, know, base, mode, &config)
                .await?
            {
                Some(round) => return Ok(round),
                None if attempt < self.options.max_attempts => {
                    run.conflicts += 1;
                    let pause = backoff(&self.options, attempt);
                    tracing::debug!(root = %run.root, attempt, ?pause, "repomd.xml changed underneath, retrying");
                    tokio::time::sleep(pause).await;
                }
                None => {
                    return Err(Error::Conflict {
                        root: run.root.clone(),
                        attempts: attempt,
                    })
                }
            }
        }
    }

    /// HEAD unknown keys and read the packages whose object is not the published one.
    async fn learn(
        &self,
        run: &Run,
        hrefs: &BTreeSet<String>,
        state: &mut State,
        know: &mut Knowledge,
    ) -> Result<()> {
        // HEAD what we know nothing about.
        let unknown: Vec<&String> = hrefs
            .iter()
            .filter(|h| !know.seen.contains_key(*h))
            .collect();
        let heads: Vec<_> = unknown
            .into_iter()
            .map(|href| async move { Ok::<_, Error>((href.clone(), self.head(run, href).await?)) })
            .collect();
        let heads = futures::stream::iter(heads)
            .buffer_unordered(self.options.read_concurrency.max(1))
            .try_collect::<Vec<_>>()
            .await?;
        know.seen.extend(heads);

        // Records read back from another tool's XML have no ETag. Like `createrepo_c --update`,
        // take a package whose size and modification time are the recorded ones as unchanged
        // (and remember its ETag) instead of reading it again.
        for href in hrefs {
            let (Some(Seen::Present { meta, .. }), Some(entry)) =
                (know.seen.get(href), state.packages.get_mut(href))
            else {
                continue;
            };
            if entry.etag.is_none()
                && u64::try_from(entry.package.size_package) == Ok(meta.size)
                && entry.package.time_file == meta.last_modified
            {
                entry.etag = Some(meta.etag.clone());
            }
        }

        // Read the objects that differ from the published entry.
        let mut to_read = Vec::new();
        for href in hrefs {
            let Some(Seen::Present { meta, headed }) = know.seen.get(href) else {
                continue;
            };
            let published = state.packages.get(href).and_then(|e| e.etag.as_deref());
            let rejected = state.rejected.get(href).map(|r| r.etag.as_str());
            if published == Some(meta.etag.as_str())
                || rejected == Some(meta.etag.as_str())
                || know.reads.contains_key(&(href.clone(), meta.etag.clone()))
            {
                continue;
            }
            to_read.push((href.clone(), meta.clone(), *headed));
        }
        let hints = &know.hints;
        let reads: Vec<_> = to_read
            .into_iter()
            .map(|(href, meta, headed)| async move {
                let r = self.read_package(run, &href, meta, headed, hints).await?;
                Ok::<_, Error>((href, r))
            })
            .collect();
        let reads = futures::stream::iter(reads)
            .buffer_unordered(self.options.read_concurrency.max(1))
            .try_collect::<Vec<_>>()
            .await?;
        for (href, (seen, read)) in reads {
            if let (Seen::Present { meta, .. }, Some(read)) = (&seen, read) {
                know.reads.insert((href.clone(), meta.etag.clone()), read);
            }
            know.seen.insert(href, seen);
        }
        Ok(())
    }

    /// Read one package's header and pkgid. Returns what the key holds (it may have changed or
    /// vanished since it was seen) and the read if it is present.
    async fn read_package(
        &self,
        run: &Run,
        href: &str,
        mut meta: ObjectMeta,
        mut headed: bool,
        hints: &HashMap<(String, String), String>,
    ) -> Result<(Seen, Option<Read>)> {
        let key = format!("{}{href}", run.root);
        for _ in 0..3 {
            let hint = hints.get(&(key.clone(), meta.etag.clone())).cloned();
            if meta.sha256.is_none() && hint.is_none() && !headed {
                // A listing has no checksums; HEAD may have one.
                match self.head(run, href).await? {
                    Seen::Present { meta: m, .. } => {
                        meta = m;
                        headed = true;
                        continue;
                    }
                    Seen::Absent => return Ok((Seen::Absent, None)),
                }
            }
            let sha = meta.sha256.clone().or(hint);
            let outcome = match sha {
                Some(sha) => self.read_ranged(run, &key, &meta, sha).await,
                None => self.read_streamed(run, &key, &meta).await,
            };
            match outcome {
                Ok(read) => {
                    if let Read::Bad(reason) = &read {
                        tracing::warn!(key = %key, reason = %reason, "package rejected");
                    }
                    return Ok((Seen::Present { meta, headed }, Some(read)));
                }
                Err(ReadError::Changed) | Err(ReadError::Store(store::Error::NotFound { .. })) => {
                    // Overwritten or deleted since we looked: look again.
                    match self.head(run, href).await? {
                        Seen::Present { meta: m, .. } => {
                            meta = m;
                            headed = true;
                        }
                        Seen::Absent => return Ok((Seen::Absent, None)),
                    }
                }
                Err(ReadError::Store(e)) => return Err(e.into()),
            }
        }
        Err(Error::Store(store::Error::Other {
            key,
            source: "object kept changing while being read".into(),
        }))
    }

    async fn read_ranged(
        &self,
        run: &Run,
        key: &str,
        meta: &ObjectMeta,
        sha: String,
    ) -> Result<Read, ReadError> {
        let mut buf: Vec<u8> = Vec::new();
        let mut want = backend::SPECULATIVE_READ;
        let end = loop {
            let have = buf.len() as u64;
            if want > have {
                if have >= meta.size {
                    return Ok(Read::Bad(format!(
                        "truncated: headers need {want} bytes, object has {}",
                        meta.size
                    )));
                }
                let (part, m) = retry(&self.options, "get_range", || {
                    run.store.get_range(key, have..want.max(have + 1))
                })
                .await?;
                if m.etag != meta.etag {
                    return Err(ReadError::Changed);
                }
                if part.is_empty() {
                    return Ok(Read::Bad("truncated: empty read".into()));
                }
                buf.extend_from_slice(&part);
            }
            match backend::header_extent(&buf) {
                Err(reason) => return Ok(Read::Bad(reason)),
                Ok(Extent::NeedBytes(n)) => want = n,
                Ok(Extent::Complete { end }) if end <= buf.len() as u64 => break end,
                Ok(Extent::Complete { end }) => {
                    if end > meta.size {
                        return Ok(Read::Bad(format!(
                            "truncated: headers end at {end}, object has {} bytes",
                            meta.size
                        )));
                    }
                    want = end;
                }
            }
            if want <= buf.len() as u64 {
                // header_extent asked for no more than we have: malformed.
                return Ok(Read::Bad("malformed header sizes".into()));
            }
        };
        run.hashed_by_checksum.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(key, pkgid_source = "checksum", "read package header");
        Ok(self.parse(key, run, meta, sha, &buf[..end as usize]))
    }

    async fn read_streamed(
        &self,
        run: &Run,
        key: &str,
        meta: &ObjectMeta,
    ) -> Result<Read, ReadError> {
        let (mut stream, m) =
            retry(&self.options, "get_stream", || run.store.get_stream(key)).await?;
        if m.etag != meta.etag {
            return Err(ReadError::Changed);
        }
        let mut hasher = sha2::Sha256::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut end: Option<Result<u64, String>> = None;
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            total += chunk.len() as u64;
            match end {
                None => {
                    buf.extend_from_slice(&chunk);
                    match backend::header_extent(&buf) {
                        Ok(Extent::Complete { end: e }) => end = Some(Ok(e)),
                        Ok(Extent::NeedBytes(_)) => {}
                        Err(reason) => end = Some(Err(reason)),
                    }
                }
                Some(Ok(e)) if (buf.len() as u64) < e => {
                    let need = (e - buf.len() as u64).min(chunk.len() as u64) as usize;
                    buf.extend_from_slice(&chunk[..need]);
                }
                Some(_) => {}
            }
        }
        if total != meta.size {
            return Err(ReadError::Changed);
        }
        let sha = hex::encode(hasher.finalize());
        run.hashed_by_stream.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            key,
            pkgid_source = "stream",
            bytes = total,
            "hashed package by streaming it"
        );
        match end {
            Some(Ok(e)) if e <= buf.len() as u64 => {
                Ok(self.parse(key, run, meta, sha, &buf[..e as usize]))
            }
            Some(Ok(e)) => Ok(Read::Bad(format!(
                "truncated: headers end at {e}, object has {total} bytes"
            ))),
            Some(Err(reason)) => Ok(Read::Bad(reason)),
            None => Ok(Read::Bad(format!(
                "truncated: {total} bytes hold no complete header"
            ))),
        }
    }

    fn parse(&self, key: &str, run: &Run, meta: &ObjectMeta, sha: String, header: &[u8]) -> Read {
        let root = run.root.as_str();
        let changelog_limit = run.changelog_limit.load(Ordering::Relaxed);
        let facts = FileFacts {
            location_href: key[root.len()..].to_string(),
            size: meta.size,
            mtime: meta.last_modified,
            pkgid: sha,
        };
        match backend::parse_package(header, &facts, changelog_limit) {
            Ok(p) => Read::Package(Arc::new(p)),
            Err(reason) => Read::Bad(reason),
        }
    }

    /// Build the next generation from `base` and what we know, publish it. `None` when the
    /// `repomd.xml` swap lost a race.
    async fn try_publish(
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
        // Take the base apart instead of cloning it (100k-package states are large); track
        // what changed while applying.
        let Base {
            etag: base_etag,
            repomd: base_repomd,
            mut state,
            referenced: base_referenced,
        } = base;
        let base_garbage = std::mem::take(&mut state.garbage);
        let base_tombstones = std::mem::take(&mut state.tombstones);
        let base_generation = state.generation;
        let base_packages = state.package_count();
        // pkgids of the entries the batch may replace or remove (for the databases).
        let before: HashMap<String, String> = hrefs
            .iter()
            .filter_map(|h| {
                state
                    .packages
                    .get(h)
                    .map(|e| (h.clone(), e.package.pkgid.clone()))
            })
            .collect();
        let mut changed = false;
        let mut rejected_changed = false;
        let mut round = Round::default();
        for href in hrefs {
            match know.seen.get(href) {
                None => {}
                Some(Seen::Absent) => {
                    let was_pkg = state.packages.remove(href).is_some();
                    let was_rej = state.rejected.remove(href).is_some();
                    changed |= was_pkg;
                    rejected_changed |= was_rej;
                    if was_pkg {
                        round.removed.push(href.clone());
                    }
                    if was_pkg || was_rej {
                        round.touched.push(href.clone());
                    }
                }
                Some(Seen::Present { meta, .. }) => {
                    let published = state.packages.get(href).and_then(|e| e.etag.as_deref());
                    if published == Some(meta.etag.as_str()) {
                        rejected_changed |= state.rejected.remove(href).is_some();
                        continue;
                    }
                    if state.rejected.get(href).map(|r| r.etag.as_str()) == Some(meta.etag.as_str())
                    {
                        if state.packages.remove(href).is_some() {
                            changed = true;
                            round.removed.push(href.clone());
                            round.touched.push(href.clone());
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
                            changed = true;
                            rejected_changed |= state.rejected.remove(href).is_some();
                            round.added.push(href.clone());
                            round.touched.push(href.clone());
                        }
                        Some(Read::Bad(reason)) => {
                            if state.packages.remove(href).is_some() {
                                changed = true;
                                round.removed.push(href.clone());
                            }
                            rejected_changed = true;
                            state.rejected.insert(
                                href.clone(),
                                Rejected {
                                    etag: meta.etag.clone(),
                                    reason: reason.clone(),
                                    since: now,
                                },
                            );
                            round.rejected.push((href.clone(), reason.clone()));
                            round.touched.push(href.clone());
                        }
                    }
                }
            }
        }

        let exists = base_etag.is_some();
        let settings_changed = state.settings.as_ref() != Some(&Settings::of(config));
        let same_content = !changed && !rejected_changed && !settings_changed;
        let due_garbage = base_garbage
            .iter()
            .any(|g| g.since + config.grace_period.as_secs() as i64 <= now);
        let must_create = !exists && mode != Mode::Apply;
        if same_content && !due_garbage && !must_create && mode != Mode::Reconcile {
            round.unchanged = true;
            round.revision = base_repomd.revision.clone();
            round.packages = base_packages;
            round.touched.clear();
            return Ok(Some(round));
        }
        if same_content && !due_garbage && exists && mode == Mode::Reconcile {
            // Nothing to publish; still sweep orphans.
            round.unchanged = true;
            round.revision = base_repomd.revision.clone();
            round.packages = base_packages;
            round.deleted_files = self
                .sweep_orphans(run, &base_referenced, &base_garbage, now)
                .await?;
            return Ok(Some(round));
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
        let reusable = config.compression == Compression::Gz
            && state
                .chunks
                .iter()
                .enumerate()
                .any(|(j, c)| c.members.is_some() && !dirty.contains(&j));
        if reusable {
            previous = self.current_files(run, xml_records(&base_repomd)).await?;
        }
        let mut previous_db = None;
        if config.database {
            previous_db = self.current_files(run, db_records(&base_repomd)).await?;
        }
        if (reusable && previous.is_none()) || (config.database && previous_db.is_none()) {
            self.load_chunks(run, &mut state, None).await?;
            if previous.is_none() {
                dirty = (0..state.chunks.len()).collect();
            }
        }
        // The databases' delta: what left (or was replaced), then what arrived.
        let mut db_remove: Vec<(String, String)> = Vec::new();
        let mut db_add: Vec<String> = Vec::new();
        for h in round.added.iter().chain(&round.removed) {
            if let Some(pkgid) = before.get(h) {
                db_remove.push((pkgid.clone(), h.clone()));
            }
        }
        db_add.extend(round.added.iter().cloned());
        db_add.sort_by(|a, b| crate::state::createrepo_order(a, b));
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
                    }),
                    &config,
                    threads,
                    chunk_target,
                )
            })
            .await
            .map_err(|e| Error::Render {
                root: root.to_string(),
                reason: format!("render task: {e}"),
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
                        reason: e.to_string(),
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
        let name_for = |checksum: &str, name: &str| {
            let plain = format!("{REPODATA_DIR}/{checksum}-{name}");
            if tomb.contains(plain.as_str()) {
                format!("{REPODATA_DIR}/{checksum}-g{}-{name}", state.generation)
            } else {
                plain
            }
        };
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
        records.extend(foreign_records(&base_repomd));
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
        let grace = config.grace_period.as_secs() as i64;
        let mut garbage: Vec<Garbage> = base_garbage
            .iter()
            .filter(|g| !new_refs.contains(&g.href))
            .cloned()
            .collect();
        for old in &base_referenced {
            if !new_refs.contains(old) && !garbage.iter().any(|g| &g.href == old) {
                garbage.push(Garbage {
                    href: old.clone(),
                    since: now,
                });
            }
        }
        let (expired, kept): (Vec<Garbage>, Vec<Garbage>) =
            garbage.into_iter().partition(|g| g.since + grace <= now);
        state.garbage = kept;
        state.tombstones = base_tombstones
            .iter()
            .filter(|t| t.since + TOMBSTONE_TTL.max(grace) > now)
            .cloned()
            .chain(expired.iter().map(|g| Garbage {
                href: g.href.clone(),
                since: now,
            }))
            .collect();

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

        // 1. Content-addressed files.
        let puts = uploads
            .into_iter()
            .filter(|(href, _)| !base_referenced.contains(href))
            .map(|(href, body)| async move { self.put_immutable(run, &href, body).await })
            .collect::<Vec<_>>();
        futures::stream::iter(puts)
            .buffer_unordered(4)
            .try_collect::<Vec<()>>()
            .await?;

        if self.fault == Some(FaultPoint::BeforeSwap) {
            return Err(Error::Injected {
                root: root.to_string(),
                point: FaultPoint::BeforeSwap,
            });
        }

        // 2. The swap.
        let prev: u64 = base_repomd.revision.parse().unwrap_or(0);
        let revision = (now.max(0) as u64).max(prev + 1).to_string();
        let repomd = Repomd {
            revision: revision.clone(),
            records,
        };
        let body = Bytes::from(backend::write_repomd(&repomd));
        let mode_put = match &base_etag {
            Some(etag) => PutMode::Update(etag.clone()),
            None => PutMode::Create,
        };
        let key = format!("{root}{REPODATA_DIR}/repomd.xml");
        let opts = PutOptions {
            mode: mode_put,
            content_type: Some("application/xml".into()),
            cache_control: Some(CACHE_SHORT.into()),
        };
        match retry(&self.options, "put", || {
            run.store.put(&key, body.clone(), opts.clone())
        })
        .await
        {
            Ok(_) => {}
            Err(store::Error::Precondition { .. }) | Err(store::Error::AlreadyExists { .. }) => {
                return Ok(None)
            }
            Err(e) => return Err(e.into()),
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
        if rejected_changed {
            if let Err(e) = self.write_rejected(run, &revision, &state).await {
                tracing::warn!(root, error = %e, "could not write the rejected-keys list");
            }
        }
        if mode == Mode::Reconcile {
            let referenced: BTreeSet<String> = repomd
                .records
                .iter()
                .map(|r| r.href.clone())
                .chain(state.chunks.iter().map(|c| c.href.clone()))
                .collect();
            round.deleted_files.extend(
                self.sweep_orphans(run, &referenced, &state.garbage, now)
                    .await?,
            );
        }
        round.packages = total;
        round.revision = revision;
        Ok(Some(round))
    }

    /// Write one content-addressed file. An existing object of that name that the base
    /// generation does not reference is rewritten, so its modification time says it is in use
    /// (reconcile removes unreferenced files only when old).
    async fn put_immutable(&self, run: &Run, href: &str, body: Bytes) -> Result<()> {
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
            Err(store::Error::AlreadyExists { .. }) => {
                retry(&self.options, "put", || {
                    run.store.put(&key, body.clone(), opts(PutMode::Overwrite))
                })
                .await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn write_rejected(&self, run: &Run, revision: &str, state: &State) -> Result<()> {
        #[derive(serde::Serialize)]
        struct Item<'a> {
            key: String,
            etag: &'a str,
            reason: &'a str,
            since: i64,
        }
        let items: Vec<Item> = state
            .rejected
            .iter()
            .map(|(href, r)| Item {
                key: format!("{}{href}", run.root),
                etag: &r.etag,
                reason: &r.reason,
                since: r.since,
            })
            .collect();
        let doc = serde_json::json!({ "root": run.root, "revision": revision, "rejected": items });
        let body = Bytes::from(serde_json::to_vec_pretty(&doc).expect("json"));
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

    /// Delete files under `repodata/` that no generation references, that are not awaiting
    /// their grace period, and that are older than the grace period (left by crashed runs).
    async fn sweep_orphans(
        &self,
        run: &Run,
        referenced: &BTreeSet<String>,
        garbage: &[Garbage],
        now: i64,
    ) -> Result<Vec<String>> {
        let dir = format!("{}{REPODATA_DIR}/", run.root);
        let listing = retry(&self.options, "list", || run.store.list(&dir)).await?;
        let grace = self.config.grace_period.as_secs() as i64;
        let keep: BTreeSet<&str> = referenced
            .iter()
            .map(String::as_str)
            .chain(garbage.iter().map(|g| g.href.as_str()))
            .collect();
        let mut deleted = Vec::new();
        for o in listing {
            let href = &o.key[run.root.len()..];
            let name = &href[dir.len() - run.root.len()..];
            if name.contains('/')
                || name == "repomd.xml"
                || name == REJECTED_FILE
                || !is_content_addressed(name)
            {
                continue;
            }
            if keep.contains(href) || o.last_modified + grace > now {
                continue;
            }
            retry(&self.options, "delete", || run.store.delete(&o.key)).await?;
            tracing::info!(key = %o.key, "deleted orphaned metadata file");
            deleted.push(o.key);
        }
        Ok(deleted)
    }
}

/// Published metadata that is missing or does not match what references it (as opposed to a
/// store that is failing): something to recover from by reading more, not to retry.
fn is_damage(e: &Error) -> bool {
    matches!(
        e,
        Error::Metadata { .. } | Error::Store(store::Error::NotFound { .. })
    )
}

/// The `primary_db`, `filelists_db` and `other_db` records, if all three are bzip2 sqlite files
/// of the current database version.
fn db_records(repomd: &Repomd) -> Option<[&Record; 3]> {
    three_records(repomd, ["primary_db", "filelists_db", "other_db"], |r| {
        r.href.ends_with(".sqlite.bz2")
            && r.database_version == Some(rpmbucket_repodata::sqlite::DB_VERSION)
    })
}

/// The `primary`, `filelists` and `other` records, if all three are gzip XML.
fn xml_records(repomd: &Repomd) -> Option<[&Record; 3]> {
    three_records(repomd, ["primary", "filelists", "other"], |r| {
        r.href.ends_with(".xml.gz")
    })
}

fn three_records<'a>(
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
fn foreign_records(repomd: &Repomd) -> impl Iterator<Item = Record> + '_ {
    repomd
        .records
        .iter()
        .filter(|r| !r.is_package_derived() && r.data_type != STATE_TYPE)
        .cloned()
}

/// `<64 hex>-…`: a name this engine (or createrepo_c) gives a content-addressed file.
fn is_content_addressed(name: &str) -> bool {
    name.len() > 65
        && name.as_bytes()[64] == b'-'
        && name[..64].bytes().all(|b| b.is_ascii_hexdigit())
}

fn content_type(href: &str) -> &'static str {
    if href.ends_with(".gz") {
        "application/gzip"
    } else if href.ends_with(".zst") {
        "application/zstd"
    } else if href.ends_with(".xz") {
        "application/x-xz"
    } else if href.ends_with(".bz2") {
        "application/x-bzip2"
    } else if href.ends_with(".xml") {
        "application/xml"
    } else if href.ends_with(".sqlite") {
        "application/vnd.sqlite3"
    } else {
        "application/octet-stream"
    }
}

fn merge_keys(into: &mut Vec<String>, hrefs: Vec<String>, root: &str) {
    for h in hrefs {
        let k = format!("{root}{h}");
        if !into.contains(&k) {
            into.push(k);
        }
    }
}

#[derive(Debug)]
enum ReadError {
    /// The object is not the one we looked at.
    Changed,
    Store(store::Error),
}

impl From<store::Error> for ReadError {
    fn from(e: store::Error) -> ReadError {
        ReadError::Store(e)
    }
}

impl From<ReadError> for Error {
    fn from(e: ReadError) -> Error {
        match e {
            ReadError::Store(e) => Error::Store(e),
            ReadError::Changed => Error::Store(store::Error::Other {
                key: String::new(),
                source: "object changed while being read".into(),
            }),
        }
    }
}

fn backoff(options: &IndexerOptions, attempt: u32) -> Duration {
    let exp = options
        .backoff
        .saturating_mul(1u32 << attempt.min(16).saturating_sub(1))
        .min(options.max_backoff);
    // Full jitter: uniform in [exp/2, exp].
    let ms = exp.as_millis() as u64;
    Duration::from_millis(ms / 2 + fastrand::u64(0..=ms / 2))
}

/// Run a store request, retrying retryable errors with jittered exponential backoff.
async fn retry<T, F, Fut>(options: &IndexerOptions, what: &str, mut f: F) -> store::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = store::Result<T>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match f().await {
            Err(e) if store_error_is_retryable(&e) && attempt < options.store_attempts => {
                let pause = backoff(options, attempt);
                tracing::warn!(op = what, attempt, error = %e, ?pause, "store request failed, retrying");
                tokio::time::sleep(pause).await;
            }
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_addressed_names() {
        let h = "a".repeat(64);
        assert!(is_content_addressed(&format!("{h}-primary.xml.gz")));
        assert!(is_content_addressed(&format!("{h}-g3-primary.xml.gz")));
        assert!(!is_content_addressed("repomd.xml"));
        assert!(!is_content_addressed(&format!("{}-x", "z".repeat(64))));
    }

    #[test]
    fn backoff_is_bounded() {
        let o = IndexerOptions::default();
        for a in 1..50 {
            let d = backoff(&o, a);
            assert!(d <= o.max_backoff, "{d:?}");
        }
        assert!(backoff(&o, 1) <= o.backoff);
    }
}

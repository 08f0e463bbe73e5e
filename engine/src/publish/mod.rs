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
//!
//! Where the rules live: `plan` decides what a batch does to the state and whether a new
//! generation is needed (pure, table-tested); `gc` holds the garbage, tombstone and orphan
//! rules (pure, table-tested); [`crate::naming`] names the files. `load` reads the published
//! generation back, `read` reads packages, `execute` renders, writes, swaps and deletes, and
//! this module drives the rounds (attempts on lost races, verification).

mod all;
mod execute;
mod external;
mod extras;
mod gc;
#[cfg(feature = "testkit")]
pub mod hooks;
#[cfg(not(feature = "testkit"))]
#[allow(dead_code)]
mod hooks;
mod load;
mod plan;
mod probe;
mod read;
pub(crate) mod retry;
mod sign;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use crate::backend::{self, Compression, Record, Repomd};
use crate::config::RepoConfig;
use crate::counting::{CountingStore, RequestCounts};
use crate::error::{Error, Result, Unreadable, Unwritable};
use crate::layout::{normalise_root, Layout, REPODATA_DIR};
use crate::naming::{content_name, content_type};
use crate::render;
use crate::state::{
    decode_chunk, ChunkRef, Entry, Settings, State, CHUNK_FILE, CHUNK_TARGET, STATE_FILE,
    STATE_FORMAT, STATE_TYPE,
};
use crate::store::{self, ObjectMeta, ObjectStore, PutMode, PutOptions};
use load::{db_records, foreign_records, is_damage, xml_records};
use plan::{Decision, Knowledge, Mode, Read, Seen};
pub use probe::conditional_writes;
use probe::{probe_conditional_writes, ProbeError};
use retry::backoff;
pub(crate) use retry::retry;

pub use all::{cursor_key, CursorPlace, ReconcileAll, ReconcileAllOptions, STATE_DIR};
pub use execute::{MAX_PUBLISH_WINDOW, MIN_SWEEP_AGE};
pub use external::{ExternalGeneration, ExternalReport};

/// Cache-Control of `repomd.xml` and other files that change in place.
pub const CACHE_SHORT: &str = "max-age=10";
/// Cache-Control of content-addressed files.
pub const CACHE_IMMUTABLE: &str = "max-age=31536000, immutable";
/// The version token given to a key that breaks [`store::validate_key`] (it names no object).
const INVALID_KEY_ETAG: &str = "invalid-key";

pub use crate::rejected::{RejectedList, REJECTED_FILE};
/// What happened to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The key was written (created or overwritten).
    Created,
    /// The key was deleted.
    Removed,
}

/// A change notification for one key. The kind, ETag and checksum are hints: the engine always
/// asks the store what the key holds now, so stale, duplicated or reordered notifications end
/// in the state the bucket really has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The object key in the store (the whole key, repository root included).
    pub key: String,
    /// What the sender says happened to it.
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
    /// Wall time of the run, from its start to the end of the publish.
    #[serde(skip)]
    pub duration: Duration,
    /// Nothing needed publishing.
    pub unchanged: bool,
    /// Checkpoint publishes of a reconcile before its final one
    /// ([`IndexerOptions::reconcile_checkpoint`]); 0 for every other run.
    pub checkpoints: u32,
}

/// A repository's published generation, read back ([`Indexer::snapshot`]).
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Repository root.
    pub root: String,
    /// Has a `repomd.xml`.
    pub exists: bool,
    /// `repomd.xml` revision.
    pub revision: String,
    /// When `repomd.xml` was last written (seconds since the epoch; 0 if unknown).
    pub published_at: i64,
    /// Packages in the metadata.
    pub package_count: usize,
    /// The settings a publish of it uses (stored ones, else the indexer's).
    pub config: RepoConfig,
    /// The state: generation, rejected keys, and (when loaded) every record in `packages`.
    pub state: State,
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
    /// Upper bound of one backoff pause, before jitter.
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
    /// Largest extra-metadata source (`updateinfo.xml`, `comps.xml`, `modules.yaml`) read;
    /// a bigger one is rejected with this limit named in the reason.
    pub max_extra_bytes: u64,
    /// Read every new package whole and check its payload digest (as `rpmbucket index`
    /// does), even when the store or the uploader supplied its SHA-256; the upload faces
    /// (`serve`, the indexer Lambda, `reconcile`) turn it on.
    pub verify_payload: bool,
    /// Keep the published metadata files (and the uncompressed databases) in this local
    /// cache, so that the next publish by this indexer reads only what changed from the
    /// store ([`crate::cache`]); `None`: read them back each time.
    pub cache: Option<crate::cache::MetadataCache>,
    /// Objects per page when listing (reindex, reconcile, finding repositories): one page is
    /// held at a time ([`store::DEFAULT_PAGE_SIZE`], S3's maximum; small values exercise
    /// paging in tests).
    pub list_page_size: usize,
    /// A reconcile that must read more than this many packages of one repository reads and
    /// publishes them this many at a time, in key order, before its final publish (removals,
    /// rejections, the sweep): a reconcile stopped halfway keeps what it published, and the
    /// next one reads only the rest. 0: no checkpoints, one publish at the end.
    pub reconcile_checkpoint: usize,
}

/// Default of [`IndexerOptions::reconcile_checkpoint`]: packages per checkpoint publish.
pub const RECONCILE_CHECKPOINT: usize = 10_000;
/// Environment: [`IndexerOptions::reconcile_checkpoint`] of the faces configured from the
/// environment (the indexer Lambda, the gateway, `serve`).
pub const RECONCILE_CHECKPOINT_ENV: &str = "RPMBUCKET_RECONCILE_CHECKPOINT";

/// `RPMBUCKET_RECONCILE_CHECKPOINT` (packages per checkpoint, 0 = none); unset, empty or not a
/// number: [`RECONCILE_CHECKPOINT`] (the last with a warning).
pub fn reconcile_checkpoint_from_env() -> usize {
    match std::env::var(RECONCILE_CHECKPOINT_ENV) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().unwrap_or_else(|_| {
            tracing::warn!(value = %v, "{RECONCILE_CHECKPOINT_ENV} is not a number of packages; using the default");
            RECONCILE_CHECKPOINT
        }),
        _ => RECONCILE_CHECKPOINT,
    }
}

/// Default of [`IndexerOptions::max_extra_bytes`]: 64 MiB (Fedora's updateinfo is ~10 MiB).
pub const MAX_EXTRA_BYTES: u64 = 64 << 20;

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
            max_extra_bytes: MAX_EXTRA_BYTES,
            verify_payload: false,
            cache: None,
            list_page_size: store::DEFAULT_PAGE_SIZE,
            reconcile_checkpoint: RECONCILE_CHECKPOINT,
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
    hooks: hooks::Hooks,
    /// Where long steps report their progress (the CLI's bar).
    progress: crate::progress::ProgressFn,
    /// Outcome of the conditional-write probe of this indexer's store (run once, shared by
    /// clones).
    probe: Arc<tokio::sync::OnceCell<std::result::Result<(), String>>>,
    /// Apply `config`'s compression, databases and changelog limit even to repositories that
    /// have stored settings (and store them).
    override_settings: bool,
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
    /// The package policy or trusted keys changed: check every package again.
    reverify: bool,
}

/// An ETag no object has: entries marked with it are read again.
const REVERIFY: &str = "rpmbucket-reverify";

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
    /// Keys packages must be signed by (from the repository's policy); `None`: no check.
    policy: std::sync::Mutex<Option<Arc<rpmbucket_repodata::trust::Keyring>>>,
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
    /// A checkpoint that published nothing because the reconcile's final round must do the
    /// work (the package policy changed).
    stop: bool,
}

pub(crate) fn now_secs() -> i64 {
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
            hooks: hooks::Hooks::default(),
            progress: crate::progress::ProgressFn::default(),
            probe: Arc::default(),
            override_settings: false,
        }
    }

    /// Sign with this key (or stop signing with `None`); see [`RepoConfig::signer`].
    pub fn with_signer(mut self, signer: Option<crate::trust::Signer>) -> Indexer {
        self.config.signer = signer;
        self
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

    /// Report the progress of long steps (package reads, promotion copies) to `progress`.
    pub fn with_progress(mut self, progress: crate::progress::ProgressFn) -> Indexer {
        self.progress = progress;
        self
    }

    /// Where long steps report their progress.
    pub(crate) fn progress(&self) -> &crate::progress::ProgressFn {
        &self.progress
    }

    /// Stop every publish at `point` with a retryable error ([`hooks::is_injected`]; crash
    /// tests).
    #[cfg(feature = "testkit")]
    pub fn with_fault(mut self, point: Option<hooks::FaultPoint>) -> Indexer {
        self.hooks.fault = point;
        self
    }

    /// Await `pause` at each [`hooks::PausePoint`] (interleaving tests).
    #[cfg(feature = "testkit")]
    pub fn with_pause(mut self, pause: hooks::PauseFn) -> Indexer {
        self.hooks.pause = Some(pause);
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

    /// The store it publishes to.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The retry/parallelism options.
    pub fn options(&self) -> &IndexerOptions {
        &self.options
    }

    /// Apply a batch of changes to one repository root and publish.
    pub async fn apply(&self, root: &str, changes: &[Change]) -> Result<PublishReport> {
        let root = normalise_root(root);
        let mut know = Knowledge::default();
        let mut pending = BTreeSet::new();
        for c in changes {
            if self.layout.root_of(&c.key).as_deref() != Some(root.as_str()) {
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
        let mut roots = BTreeSet::new();
        self.walk_listing(&*self.store, &prefix, store::PageStart::First, |o| {
            if let Some(r) = self.root_of_listed(&o.key) {
                roots.insert(r);
            }
        })
        .await?;
        Ok(roots.into_iter().collect())
    }

    /// The repository root a listed key shows: the root of a package or extra-metadata key,
    /// or the directory of a `repodata/repomd.xml` the layout covers.
    fn root_of_listed(&self, key: &str) -> Option<String> {
        if let Some(r) = self.layout.root_of(key) {
            return Some(r);
        }
        let dir = key.strip_suffix("repodata/repomd.xml")?;
        (self.layout.covers_root(dir) || dir.is_empty() && self.layout.prefixes().is_empty())
            .then(|| dir.to_string())
    }

    /// Walk the listing of `prefix` from `start` one page at a time
    /// ([`IndexerOptions::list_page_size`] objects), giving each object to `each`: only one
    /// page is held. Each page request is retried like any store request. Returns the
    /// number of pages.
    pub(crate) async fn walk_listing(
        &self,
        store: &dyn ObjectStore,
        prefix: &str,
        start: store::PageStart,
        mut each: impl FnMut(ObjectMeta),
    ) -> Result<u64> {
        let mut start = start;
        let mut pages = 0;
        loop {
            let page = retry(&self.options, "list", || {
                store.list_page(prefix, &start, self.options.list_page_size)
            })
            .await?;
            pages += 1;
            page.objects.into_iter().for_each(&mut each);
            match page.next {
                Some(token) => start = store::PageStart::Token(token),
                None => return Ok(pages),
            }
        }
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
        let is_published =
            base.state.packages.contains_key(href) || base.state.extras.contains_key(href);
        Ok(is_published.then(|| base.repomd.revision.clone()))
    }

    /// The version token (ETag) of `root`'s published `repomd.xml`, `None` while it has none.
    /// `known` is the token the caller saw last: the read is then conditional (an unchanged
    /// repository costs one request and no body), which suits watching for publishes made by
    /// other processes.
    pub async fn metadata_version(
        &self,
        root: &str,
        known: Option<&str>,
    ) -> Result<Option<String>> {
        let key = format!("{}{REPODATA_DIR}/repomd.xml", normalise_root(root));
        let read = match known {
            Some(etag) => self.store.get_if_changed(&key, etag).await,
            None => self.store.get(&key).await.map(Some),
        };
        match read {
            Ok(None) => Ok(known.map(str::to_owned)),
            Ok(Some((_, meta))) => Ok(Some(meta.etag)),
            Err(store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The published generation of `root` with every package record (an empty snapshot if
    /// the repository has none): what `ls`, `status` and the repository page show.
    pub async fn snapshot(&self, root: &str) -> Result<Snapshot> {
        self.snapshot_opts(root, usize::MAX).await
    }

    /// Like [`Indexer::snapshot`], but the records are read only when the repository has at
    /// most `max_packages` of them (`packages` is empty otherwise; `package_count` is right).
    pub async fn snapshot_opts(&self, root: &str, max_packages: usize) -> Result<Snapshot> {
        let root = normalise_root(root);
        let run = self.new_run(&root);
        let mut base = self.load(&run, false).await?;
        let count = base.state.package_count();
        if count <= max_packages {
            self.load_chunks(&run, &mut base.state, None).await?;
        }
        let last_modified = match base.etag {
            Some(_) => {
                let key = format!("{root}{REPODATA_DIR}/repomd.xml");
                retry(&self.options, "head", || run.store.head(&key))
                    .await
                    .map(|m| m.last_modified)
                    .unwrap_or(0)
            }
            None => 0,
        };
        Ok(Snapshot {
            exists: base.etag.is_some(),
            revision: base.repomd.revision.clone(),
            published_at: last_modified,
            package_count: count,
            config: self.effective_config(&base.state),
            state: base.state,
            root,
        })
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
            policy: std::sync::Mutex::new(None),
        }
    }

    /// Why `key` is not published, if the repository rejected its current object: the
    /// rejected object's ETag and the reason.
    pub async fn rejected(&self, root: &str, key: &str) -> Result<Option<(String, String)>> {
        let root = normalise_root(root);
        let Some(href) = key.strip_prefix(root.as_str()) else {
            return Ok(None);
        };
        let run = self.new_run(&root);
        let base = self.load(&run, false).await?;
        Ok(base
            .state
            .rejected
            .get(href)
            .map(|r| (r.etag.clone(), r.reason.clone())))
    }

    /// The stored settings of a repository (`None`: none yet), e.g. whether it is signed and
    /// its package policy, for `.repo` files.
    pub async fn settings(&self, root: &str) -> Result<Option<Settings>> {
        let root = normalise_root(root);
        let run = self.new_run(&root);
        Ok(self.load(&run, false).await?.state.settings)
    }

    /// The signing and package-policy part of a publish: refuse to publish a signed
    /// repository without a key (its signature would go stale), set the keyring packages are
    /// checked against, and decide whether every package must be checked again (the policy
    /// or the trusted keys changed, on a full run).
    fn check_trust(
        &self,
        run: &Run,
        base: &mut Base,
        config: &RepoConfig,
        mode: Mode,
    ) -> Result<bool> {
        let stored = base.state.settings.as_ref();
        if let (Some(fpr), None) = (stored.and_then(|s| s.signing_key.as_ref()), &config.signer) {
            if !self.override_settings {
                return Err(Error::Unsigned {
                    root: run.root.clone(),
                    fingerprint: fpr.clone(),
                });
            }
        }
        *run.policy.lock().expect("policy lock") = crate::trust::policy_keyring(
            config.package_policy,
            &config.trusted_keys,
            config.signer.as_ref(),
        );
        let new = Settings::of(config);
        // A repository without stored settings had no policy.
        let (policy, trusted) = stored.map_or(("off", ""), |s| {
            (s.package_policy.as_str(), s.trusted_keys.as_str())
        });
        let same_trust = policy == new.package_policy && trusted == new.trusted_keys;
        base.reverify = mode.is_full() && !same_trust;
        Ok(same_trust)
    }

    /// Sign the current `repomd.xml` again (full runs that publish nothing: repairs a missing
    /// or stale `repomd.xml.asc`).
    async fn resign_current(&self, run: &Run, config: &RepoConfig) -> Result<()> {
        let Some(signer) = &config.signer else {
            return Ok(());
        };
        let key = format!("{}{REPODATA_DIR}/repomd.xml", run.root);
        let (body, meta) = match retry(&self.options, "get", || run.store.get(&key)).await {
            Ok(x) => x,
            Err(store::Error::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        sign::put_public_keys(&*run.store, &self.options, &run.root, signer).await?;
        sign::sign_published(
            &*run.store,
            &self.options,
            &run.root,
            signer,
            body,
            meta.etag,
            sign::FirstSignature::ToMake,
        )
        .await
    }

    async fn full(&self, root: &str, mode: Mode) -> Result<PublishReport> {
        let root = normalise_root(root);
        let mut run = self.new_run(&root);
        let mut report = PublishReport {
            root: root.to_string(),
            unchanged: true,
            ..PublishReport::default()
        };
        let mut know = Knowledge::default();
        let mut listed = self.listing(&*self.store, &root).await?;
        let every = self.options.reconcile_checkpoint;
        // No more listed than a checkpoint holds: nothing to checkpoint, and no reason to read
        // the state before the final round does.
        if mode == Mode::Reconcile && every > 0 && listed.len() > every {
            let unread = self.unread(&run, &listed).await?;
            if unread.len() > every {
                know.seen.extend(listed);
                self.checkpoints(&mut run, &mut report, &unread, &mut know)
                    .await?;
                // The final round starts from a listing made after the last checkpoint: it
                // sees what changed while the checkpoints ran (and so verifies them).
                know.seen.clear();
                listed = self.listing(&*self.store, &root).await?;
            }
        }
        let pending = listed.keys().cloned().collect();
        know.seen.extend(listed);
        // Keys published but not listed are gone: `run` marks them absent (no HEAD needed).
        self.run_with(run, report, pending, know, mode).await
    }

    /// The listed packages a reconcile must read, in key order: those whose object is not the
    /// published, rejected or retired one (by ETag; a record without one by size and time, as
    /// [`Indexer::learn`] decides). Reads the published state once. A state that cannot be
    /// read gives none: the final round recovers it and reads what it must, as before.
    /// Loaded as a checkpoint loads it (not `full`): a state that only a full run can recover
    /// (to an empty one) would make every checkpoint fail on the same damage.
    async fn unread(&self, run: &Run, listed: &HashMap<String, Seen>) -> Result<Vec<String>> {
        let mut base = match self.load(run, false).await {
            Ok(base) => base,
            Err(e) if is_damage(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        match self.load_chunks(run, &mut base.state, None).await {
            Ok(()) => {}
            Err(e) if is_damage(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
        let state = &base.state;
        let mut unread: Vec<String> = listed
            .iter()
            .filter(|(href, _)| extras::extra_kind(href).is_none())
            .filter_map(|(href, seen)| {
                let Seen::Present { meta, .. } = seen else {
                    return None;
                };
                let etag = Some(meta.etag.as_str());
                let same = match state.packages.get(href.as_str()) {
                    Some(e) if e.etag.is_none() => {
                        u64::try_from(e.package.size_package) == Ok(meta.size)
                            && e.package.time_file == meta.last_modified
                    }
                    Some(e) => e.etag.as_deref() == etag,
                    None => false,
                };
                let known = same
                    || state.rejected.get(href.as_str()).map(|r| r.etag.as_str()) == etag
                    || state.retired.get(href.as_str()).map(|r| r.etag.as_str()) == etag;
                (!known).then(|| href.clone())
            })
            .collect();
        unread.sort();
        Ok(unread)
    }

    /// Read and publish `unread` [`IndexerOptions::reconcile_checkpoint`] packages at a time,
    /// in key order, while more than that many are left (the rest is the final round's): a
    /// reconcile stopped halfway keeps what its checkpoints published, and the next one reads
    /// only the rest. Each checkpoint is a normal publish of the published packages plus its
    /// batch: nothing is removed and no orphan is swept (the final round does both).
    async fn checkpoints(
        &self,
        run: &mut Run,
        report: &mut PublishReport,
        unread: &[String],
        know: &mut Knowledge,
    ) -> Result<()> {
        let every = self.options.reconcile_checkpoint;
        let mut rest = unread;
        while rest.len() > every {
            let (batch, after) = rest.split_at(every);
            rest = after;
            let batch: BTreeSet<String> = batch.iter().cloned().collect();
            let mut round = match self.publish(run, &batch, know, Mode::Checkpoint).await {
                Ok(round) => round,
                Err(e) if is_damage(&e) => {
                    tracing::warn!(root = %run.root, error = %e, "published metadata damaged: no more checkpoints, the final round rebuilds");
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            if round.stop {
                tracing::info!(root = %run.root, "package policy changed: no checkpoints, the final round checks every package");
                return Ok(());
            }
            let touched = std::mem::take(&mut round.touched);
            report.checkpoints += 1;
            // Published: the state holds these records now; the parsed packages need not stay
            // in memory until the end of the reconcile.
            know.reads.clear();
            tracing::info!(
                root = %run.root,
                checkpoint = report.checkpoints,
                packages = round.packages,
                left = rest.len(),
                "reconcile checkpoint published"
            );
            fold(report, round, &run.root);
            if !self.verify_checkpoint(run, report, touched, know).await? {
                return Ok(());
            }
            self.hooks
                .pause(hooks::PausePoint::AfterCheckpoint, &run.root)
                .await;
        }
        Ok(())
    }

    /// Verify a checkpoint as a reconcile's round is: one listing of the root, compared with
    /// the keys it `touched`. A key deleted or replaced since the reconcile listed it (say,
    /// after the checkpoint read it and before its swap: the delete's own apply found nothing
    /// published to remove) goes through apply rounds now, so the published metadata never
    /// names a deleted package once the checkpoint returns (a reconcile stopped right after
    /// it leaves no `repomd.xml` whose packages 404). `false`: the metadata is damaged, no
    /// more checkpoints (the final round rebuilds).
    async fn verify_checkpoint(
        &self,
        run: &mut Run,
        report: &mut PublishReport,
        mut touched: Vec<String>,
        know: &mut Knowledge,
    ) -> Result<bool> {
        let mut rounds = 0;
        while !touched.is_empty() {
            let changed = if rounds == 0 {
                self.verify_by_listing(run, &touched, know).await?
            } else {
                self.verify(run, &touched, know).await?
            };
            if changed.is_empty() {
                break;
            }
            rounds += 1;
            if rounds > self.options.verify_rounds {
                return Err(Error::Unsettled {
                    root: run.root.clone(),
                    rounds,
                });
            }
            tracing::info!(root = %run.root, keys = changed.len(), "keys changed during a reconcile checkpoint, applying again");
            for href in &changed {
                know.seen.remove(href);
            }
            let pending: BTreeSet<String> = changed.into_iter().collect();
            let mut round = match self.publish(run, &pending, know, Mode::Apply).await {
                Ok(round) => round,
                Err(e) if is_damage(&e) => {
                    tracing::warn!(root = %run.root, error = %e, "published metadata damaged: no more checkpoints, the final round rebuilds");
                    return Ok(false);
                }
                Err(e) => return Err(e),
            };
            touched = std::mem::take(&mut round.touched);
            fold(report, round, &run.root);
        }
        Ok(true)
    }

    /// This repository's packages as a listing of its root shows them, by href.
    async fn listing(&self, store: &dyn ObjectStore, root: &str) -> Result<HashMap<String, Seen>> {
        let mut listed = HashMap::new();
        self.walk_listing(store, root, store::PageStart::First, |o| {
            if self.layout.root_of(&o.key).as_deref() == Some(root) {
                let href = o.key[root.len()..].to_string();
                listed.insert(
                    href,
                    Seen::Present {
                        meta: o,
                        headed: false,
                    },
                );
            }
        })
        .await?;
        Ok(listed)
    }

    /// Check once per indexer (and its clones) that the store honours conditional writes:
    /// a `Create` of an existing key and an `Update` with a wrong ETag must both fail. A store
    /// that ignores them would let concurrent publishers overwrite each other's `repomd.xml`.
    async fn check_conditional_writes(&self) -> Result<()> {
        let outcome = self
            .probe
            .get_or_try_init(|| async {
                match probe_conditional_writes(&*self.store).await {
                    Ok(()) => Ok(Ok(())),
                    Err(ProbeError::Ignored(reason)) => Ok(Err(reason)),
                    Err(ProbeError::Store(e)) => Err(e),
                }
            })
            .await;
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(Error::ConditionalWritesIgnored {
                reason: reason.clone(),
            }),
            // Could not probe (store failing, or no right to write the probe key): nothing is
            // cached, so the next publish of this indexer probes again.
            Err(e) => {
                tracing::warn!(error = %e, "conditional-write probe failed; probing again next time");
                Ok(())
            }
        }
    }

    async fn run(
        &self,
        root: &str,
        pending: BTreeSet<String>,
        know: Knowledge,
        mode: Mode,
    ) -> Result<PublishReport> {
        let run = self.new_run(root);
        let report = PublishReport {
            root: root.to_string(),
            unchanged: true,
            ..PublishReport::default()
        };
        self.run_with(run, report, pending, know, mode).await
    }

    /// [`Indexer::run`] in `run`, adding to `report` (what checkpoints did before).
    async fn run_with(
        &self,
        mut run: Run,
        mut report: PublishReport,
        mut pending: BTreeSet<String>,
        mut know: Knowledge,
        mode: Mode,
    ) -> Result<PublishReport> {
        let root = run.root.clone();
        let root = root.as_str();
        let mut round_no = 0;
        loop {
            let this_mode = if round_no == 0 { mode } else { Mode::Apply };
            let mut round = self
                .publish(&mut run, &pending, &mut know, this_mode)
                .await?;
            let touched = std::mem::take(&mut round.touched);
            fold(&mut report, round, root);
            round_no += 1;
            if touched.is_empty() {
                break;
            }
            self.hooks
                .pause(hooks::PausePoint::BeforeVerify, root)
                .await;
            // Verify: did any key we decided on change before our swap became visible?
            let changed = if this_mode == Mode::Apply {
                self.verify(&run, &touched, &know).await?
            } else {
                self.verify_by_listing(&run, &touched, &know).await?
            };
            if changed.is_empty() {
                break;
            }
            if round_no > self.options.verify_rounds {
                // Published, but not what the bucket holds now: say so instead of Ok.
                return Err(Error::Unsettled {
                    root: root.to_string(),
                    rounds: round_no,
                });
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
        if !report.unchanged {
            if let Err(e) = self.write_page(root).await {
                tracing::warn!(root, error = %e, "could not write the repository page");
            }
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
        // Only this repository's packages, as in `full`: a key below the root that the layout
        // gives to another repository (nested roots, a changed layout) was removed here on
        // purpose and must not come back through the apply round.
        let mut now: HashMap<String, String> = HashMap::new();
        self.walk_listing(&*run.store, &run.root, store::PageStart::First, |o| {
            if self.layout.repo_root(&o.key).as_deref() == Some(run.root.as_str()) {
                now.insert(o.key[run.root.len()..].to_string(), o.etag);
            }
        })
        .await?;
        Ok(touched
            .iter()
            .filter(|href| {
                let before = match know.seen.get(*href) {
                    Some(Seen::Present { meta, .. }) => Some(meta.etag.as_str()),
                    _ => None,
                };
                before != now.get(href.as_str()).map(String::as_str)
            })
            .cloned()
            .collect())
    }

    async fn head(&self, run: &Run, href: &str) -> Result<Seen> {
        let key = format!("{}{href}", run.root);
        if store::validate_key(&key).is_err() {
            // Not a key any store can hold: seen as an object that reads as bad, so it lands
            // in the rejected list (with the rule it breaks) and the rest of the batch publishes.
            return Ok(Seen::Present {
                meta: ObjectMeta {
                    key,
                    size: 0,
                    etag: INVALID_KEY_ETAG.to_string(),
                    last_modified: 0,
                    sha256: None,
                },
                headed: true,
            });
        }
        match retry(&self.options, "head", || run.store.head(&key)).await {
            Ok(meta) => Ok(Seen::Present { meta, headed: true }),
            Err(store::Error::NotFound { .. }) => Ok(Seen::Absent),
            Err(e) => Err(e.into()),
        }
    }

    /// One publish round, retried on lost races.
    async fn publish(
        &self,
        run: &mut Run,
        pending: &BTreeSet<String>,
        know: &mut Knowledge,
        mode: Mode,
    ) -> Result<Round> {
        self.check_conditional_writes().await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            if attempt > 1 {
                // What the store said before the lost race may be stale (a key deleted or
                // replaced since): ask again instead of resurrecting or unpublishing it. Package
                // reads are kept (by ETag).
                if !mode.is_full() {
                    know.seen.retain(|href, _| !pending.contains(href));
                } else {
                    know.seen = self.listing(&*run.store, &run.root).await?;
                }
            }
            let mut base = self.load(run, mode.is_full()).await?;
            let config = self.effective_config(&base.state);
            run.changelog_limit
                .store(config.changelog_limit, Ordering::Relaxed);
            let same_trust = self.check_trust(run, &mut base, &config, mode)?;
            let has_checked = base.state.package_count() > 0 || !base.state.rejected.is_empty();
            if mode == Mode::Checkpoint && !same_trust && has_checked {
                // The package policy changed since the reconcile looked: a checkpoint would
                // store the new policy without checking the published packages again. Leave
                // everything to the reconcile's final round, which does.
                return Ok(Round {
                    unchanged: true,
                    stop: true,
                    revision: base.repomd.revision.clone(),
                    packages: base.state.package_count(),
                    ..Round::default()
                });
            }
            let scope =
                (!mode.is_full() && !Self::needs_all_records(&config, &base)).then_some(pending);
            if let Err(e) = self.load_chunks(run, &mut base.state, scope).await {
                if !is_damage(&e) {
                    return Err(e);
                }
                let kept = std::mem::take(&mut base.state);
                base.state = self
                    .recover_state(run, &base.repomd, kept, mode.is_full(), e)
                    .await?;
            }
            if mode.is_full() {
                // Published keys missing from the listing are gone.
                let state = &base.state;
                let known = state.packages.keys().chain(state.rejected.keys());
                let known = known.chain(state.extras.keys());
                for href in known.chain(state.retired.keys()) {
                    know.seen.entry(href.clone()).or_insert(Seen::Absent);
                }
            }
            let mut all: BTreeSet<String> = if !mode.is_full() {
                pending.clone()
            } else {
                know.seen.keys().cloned().collect()
            };
            let stored = base.state.settings.as_ref().map(|s| s.compression.as_str());
            if stored.is_some_and(|c| c != config.compression.name()) {
                // The XML compression changes (a profile switch): the extra metadata built
                // from our sources is built again in the new compression, not carried over.
                for (href, source) in base.state.extras.iter_mut() {
                    source.etag = REVERIFY.into();
                    all.insert(href.clone());
                }
            }
            if mode == Mode::Apply && base.etag.is_none() {
                // No repository yet: publish every package of its root, not only the batch
                // (a first publish from one event would otherwise list one package). Not for
                // a checkpoint: its batch is a slice of a listing on purpose.
                for (href, seen) in self.listing(&*run.store, &run.root).await? {
                    know.seen.entry(href.clone()).or_insert(seen);
                    all.insert(href);
                }
            }
            if base.reverify {
                // Every package is read and checked again under the new policy.
                for e in base.state.packages.values_mut() {
                    e.etag = Some(REVERIFY.into());
                }
                base.state.rejected.clear();
                know.reads.clear();
            }
            self.learn(run, &all, &mut base.state, know).await?;
            self.hooks
                .pause(hooks::PausePoint::AfterLearn, &run.root)
                .await;
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
        let mut extras_to_read = Vec::new();
        for href in hrefs {
            let Some(Seen::Present { meta, headed }) = know.seen.get(href) else {
                continue;
            };
            let rejected = state.rejected.get(href).map(|r| r.etag.as_str());
            if extras::extra_kind(href).is_some() {
                let published = state.extras.get(href).map(|e| e.etag.as_str());
                if published != Some(meta.etag.as_str())
                    && rejected != Some(meta.etag.as_str())
                    && !know
                        .extra_reads
                        .contains_key(&(href.clone(), meta.etag.clone()))
                {
                    extras_to_read.push((href.clone(), meta.clone()));
                }
                continue;
            }
            let published = state.packages.get(href).and_then(|e| e.etag.as_deref());
            let retired = state.retired.get(href).map(|r| r.etag.as_str());
            if published == Some(meta.etag.as_str())
                || rejected == Some(meta.etag.as_str())
                || retired == Some(meta.etag.as_str())
                || know.reads.contains_key(&(href.clone(), meta.etag.clone()))
            {
                continue;
            }
            to_read.push((href.clone(), meta.clone(), *headed));
        }
        let hints = &know.hints;
        if !to_read.is_empty() {
            self.progress.report(crate::progress::Progress::Begin {
                what: "reading",
                total: to_read.len() as u64,
            });
        }
        let reads: Vec<_> = to_read
            .into_iter()
            .map(|(href, meta, headed)| async move {
                let r = self.read_package(run, &href, meta, headed, hints).await?;
                self.progress.report(crate::progress::Progress::Step);
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
        for (href, meta) in extras_to_read {
            let (seen, read) = self.read_extra(run, &href, meta).await?;
            if let (Seen::Present { meta, .. }, Some(read)) = (&seen, read) {
                know.extra_reads
                    .insert((href.clone(), meta.etag.clone()), read);
            }
            know.seen.insert(href, seen);
        }
        Ok(())
    }

    /// Read an extra-metadata source whole (it is small; bigger than
    /// [`IndexerOptions::max_extra_bytes`] is refused unread).
    async fn read_extra(
        &self,
        run: &Run,
        href: &str,
        meta: ObjectMeta,
    ) -> Result<(Seen, Option<std::result::Result<Bytes, String>>)> {
        let limit = self.options.max_extra_bytes;
        if meta.size > limit {
            let reason = format!(
                "{} bytes is more than the limit for extra metadata ({limit} bytes, max_extra_bytes)",
                meta.size
            );
            return Ok((Seen::Present { meta, headed: true }, Some(Err(reason))));
        }
        let key = format!("{}{href}", run.root);
        match retry(&self.options, "get", || run.store.get(&key)).await {
            Ok((bytes, now)) => Ok((
                Seen::Present {
                    meta: now,
                    headed: true,
                },
                Some(Ok(bytes)),
            )),
            Err(store::Error::NotFound { .. }) => Ok((Seen::Absent, None)),
            Err(e) => Err(e.into()),
        }
    }
}

/// Add what a publish round did to the report of its call.
fn fold(report: &mut PublishReport, round: Round, root: &str) {
    report.revision = round.revision;
    report.packages = round.packages;
    report.unchanged &= round.unchanged;
    merge_keys(&mut report.added, round.added, root);
    merge_keys(&mut report.removed, round.removed, root);
    for (href, reason) in round.rejected {
        report.rejected.push((format!("{root}{href}"), reason));
    }
    report.deleted_files.extend(round.deleted_files);
}

fn merge_keys(into: &mut Vec<String>, hrefs: Vec<String>, root: &str) {
    if hrefs.is_empty() {
        return;
    }
    // A set, not `Vec::contains`: a reconcile adds up to every package of the repository.
    let mut have: std::collections::HashSet<String> = into.iter().cloned().collect();
    for h in hrefs {
        let k = format!("{root}{h}");
        if have.insert(k.clone()) {
            into.push(k);
        }
    }
}

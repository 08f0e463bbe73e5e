//! The engine side of `rpmbucket index s3://BUCKET[/PREFIX]` and what it shares with
//! `rpmbucket reconcile`:
//! opening a location (a bucket or a directory) as an engine store, building the engine's
//! [`Indexer`] from the command line, and printing one summary line per repository.
//!
//! Metadata settings (`--compress-type`, `--no-database`, `--changelog-limit`) are stored with
//! each repository's state: `index s3://` applies and stores them (republishing a repository
//! whose settings differ); every other publisher — `reconcile`, the indexer Lambda, the local
//! server — keeps a repository's stored settings and uses its own only for new repositories.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use rpmbucket_engine::layout::normalise_prefix;
use rpmbucket_engine::store::s3::{parse_url, S3Options};
use rpmbucket_engine::{
    store, Compression, Indexer, IndexerOptions, Layout, LayoutRule, ObjectStore, PublishReport,
    RejectedList, RepoConfig, REJECTED_FILE,
};

/// Options of the engine commands: `index s3://...` and `reconcile` (bucket or directory).
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Engine (s3:// locations, and reconcile)")]
pub struct RemoteArgs {
    /// Only keys under these prefixes (comma-separated) hold repositories; default: the
    /// RPMBUCKET_PREFIXES variable, else the whole bucket.
    #[arg(long, value_name = "P1,P2", env = "RPMBUCKET_PREFIXES")]
    pub prefixes: Option<String>,

    /// How a package key maps to its repository: `auto` (the directory holding the .rpm, or
    /// the parent of a `Packages/` directory), `directory`, or `prefix` (each prefix, or the
    /// given PREFIX, is one repository of every .rpm below it).
    #[arg(long, value_name = "RULE", env = "RPMBUCKET_LAYOUT", value_parser = parse_rule)]
    pub layout: Option<LayoutRule>,

    /// Print one JSON report per repository (one object per line) instead of the summary.
    #[arg(long)]
    pub json: bool,
}

fn parse_rule(s: &str) -> Result<LayoutRule, String> {
    LayoutRule::parse(s).ok_or_else(|| format!("unknown layout {s:?} (auto, directory, prefix)"))
}

impl RemoteArgs {
    /// Whether any of these options was given.
    pub fn is_set(&self) -> bool {
        self.prefixes.is_some() || self.layout.is_some() || self.json
    }

    /// The layout: `--prefixes`/`--layout`; with the `prefix` rule and no prefixes, the
    /// location's own prefix is the one repository.
    fn layout(&self, location_prefix: &str) -> Layout {
        let mut prefixes: Vec<String> = self
            .prefixes
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        let rule = self.layout.unwrap_or_default();
        if prefixes.is_empty() && rule == LayoutRule::Prefix && !location_prefix.is_empty() {
            prefixes.push(location_prefix.to_owned());
        }
        Layout::with_rule(prefixes, rule)
    }
}

/// Metadata settings shared by `index s3://` and `reconcile`.
#[derive(Debug, Clone)]
pub struct Metadata {
    pub compression: Compression,
    pub database: bool,
    pub changelog_limit: i32,
    /// Signing key and package policy.
    pub trust: RepoConfig,
}

impl Metadata {
    /// The engine configuration: these settings, plus the grace period of replaced files from
    /// `RPMBUCKET_GRACE_SECONDS` (default one hour).
    fn config(&self) -> RepoConfig {
        RepoConfig {
            compression: self.compression,
            database: self.database,
            changelog_limit: self.changelog_limit,
            grace_period: RepoConfig::from_env().grace_period,
            page_limit: RepoConfig::from_env().page_limit,
            ..self.trust.clone()
        }
    }
}

/// A place repositories live: a bucket (from its root, so keys print as in S3) or a directory.
pub struct Location {
    store: Arc<dyn ObjectStore>,
    /// Normalised prefix to look for repositories under (`""` or ending in `/`).
    pub prefix: String,
    /// How keys are shown: `s3://bucket/` or `DIR/`.
    display: String,
}

impl Location {
    /// Opens `s3://bucket[/prefix]` (standard AWS configuration) or a directory.
    pub async fn open(location: &str) -> anyhow::Result<Location> {
        if location.starts_with("s3://") {
            let (bucket, prefix) = parse_url(location)?;
            let root = format!("s3://{bucket}");
            let store = store::open(&root, &S3Options::default())
                .await
                .map_err(|e| flat(format!("opening {root}"), e))?;
            return Ok(Location {
                store,
                prefix: normalise_prefix(&prefix),
                display: format!("{root}/"),
            });
        }
        let path = location.strip_prefix("file://").unwrap_or(location);
        if !Path::new(path).is_dir() {
            bail!("{path} is not a directory");
        }
        let store = store::open(path, &S3Options::default())
            .await
            .map_err(|e| flat(format!("opening {path}"), e))?;
        Ok(Location {
            store,
            prefix: String::new(),
            display: format!("{}/", path.trim_end_matches('/')),
        })
    }

    /// An indexer over this location; `verify_payload`: read new packages whole and check
    /// their payload digest (reconcile), instead of trusting a stored checksum.
    pub fn indexer(
        &self,
        remote: &RemoteArgs,
        meta: &Metadata,
        workers: Option<usize>,
        verify_payload: bool,
    ) -> Indexer {
        let mut options = IndexerOptions {
            verify_payload,
            ..IndexerOptions::default()
        };
        if let Some(n) = workers {
            options.read_concurrency = n.max(1);
        }
        Indexer::new(
            self.store.clone(),
            remote.layout(&self.prefix),
            meta.config(),
        )
        .with_options(options)
    }

    /// `s3://bucket/KEY` or `DIR/KEY`.
    pub fn show(&self, key: &str) -> String {
        format!("{}{key}", self.display)
    }

    /// Keys the repository at `root` lists as rejected now (its `repodata/rpmbucket-rejected.json`),
    /// with the reasons; empty when there is none.
    pub async fn rejected_keys(&self, root: &str) -> anyhow::Result<Vec<(String, String)>> {
        let key = format!("{root}repodata/{REJECTED_FILE}");
        let body = match self.store.get(&key).await {
            Ok((body, _)) => body,
            Err(store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(flat(format!("reading {}", self.show(&key)), e)),
        };
        let list = RejectedList::from_json(&body)
            .with_context(|| format!("parsing {}", self.show(&key)))?;
        Ok(list
            .rejected
            .into_iter()
            .map(|r| (r.key, r.reason))
            .collect())
    }
}

/// An engine or store error with context as one message: their `Display` already includes
/// the sources, which `{:#}` would print a second time.
pub fn flat(context: String, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{context}: {e}")
}

/// Logs on stderr, filtered by `RPMBUCKET_LOG` (else `default`), coloured only when stderr is a
/// terminal: a log file, journald or a pipe gets plain text that `grep` can read.
pub fn init_logging(default: &str) {
    use std::io::IsTerminal as _;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RPMBUCKET_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// A multi-threaded runtime for one command, with engine logs on stderr (`RPMBUCKET_LOG`,
/// default: errors only; the commands print rejected packages themselves).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    init_logging("error");
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// `rpmbucket index s3://...`: reindex every repository under the location with the engine
/// (`workers`, `quiet` and `strict` as `rpmbucket index` takes them).
pub async fn index_remote(
    location: &str,
    remote: &RemoteArgs,
    meta: &Metadata,
    workers: Option<usize>,
    quiet: bool,
    strict: bool,
) -> anyhow::Result<ExitCode> {
    let loc = Location::open(location).await?;
    let bar = crate::bar::EngineBar::new(quiet);
    let indexer = loc
        .indexer(remote, meta, workers, false)
        .overriding_settings()
        .with_progress(bar.hook());
    let mut roots = indexer
        .list_roots(&loc.prefix)
        .await
        .map_err(|e| flat(format!("listing {}", loc.show(&loc.prefix)), e))?;
    if roots.is_empty() {
        // Like createrepo_c on an empty directory: an empty repository at the prefix.
        if !indexer.layout().covers_root(&loc.prefix) {
            bail!(
                "no repository under {} and it is outside --prefixes",
                loc.show(&loc.prefix)
            );
        }
        roots.push(loc.prefix.clone());
    }
    let mut outcome = Outcome::default();
    for root in &roots {
        let result = indexer.reindex(root).await;
        bar.clear();
        outcome
            .record(&loc, root, result, quiet, remote.json, false)
            .await;
        if strict {
            outcome.check_rejected(&loc, root).await;
        }
    }
    Ok(outcome.exit_code(strict))
}

/// What a command did over several repositories.
#[derive(Debug, Default)]
pub struct Outcome {
    failed: usize,
    /// Roots that failed (a subset of `failed`, which counts other failures too).
    failed_roots: std::collections::BTreeSet<String>,
    /// Keys rejected, in this run or before and still rejected.
    rejected: std::collections::BTreeSet<String>,
}

impl Outcome {
    /// Print the result of one repository. `keys`: also list every added, removed and
    /// rejected key and deleted metadata file (reconcile).
    pub async fn record(
        &mut self,
        loc: &Location,
        root: &str,
        result: rpmbucket_engine::Result<PublishReport>,
        quiet: bool,
        json: bool,
        keys: bool,
    ) {
        let report = match result {
            Ok(r) => r,
            Err(e) => {
                self.failed += 1;
                self.failed_roots.insert(root.to_string());
                eprintln!("rpmbucket: error: {}: {e}", loc.show(root));
                return;
            }
        };
        for (key, reason) in &report.rejected {
            self.rejected.insert(key.clone());
            eprintln!("rpmbucket: rejected {}: {reason}", loc.show(key));
        }
        if json {
            let mut v = serde_json::to_value(&report).unwrap_or_default();
            v["duration_ms"] = serde_json::json!(report.duration.as_millis() as u64);
            println!("{v}");
            return;
        }
        if quiet {
            return;
        }
        println!("{}", summary(loc, &report));
        if keys {
            for k in &report.added {
                println!("  + {k}");
            }
            for k in &report.removed {
                println!("  - {k}");
            }
            for (k, reason) in &report.rejected {
                println!("  ! {k}: {reason}");
            }
            for k in &report.deleted_files {
                println!("  x {k}");
            }
        }
    }

    /// Note the keys `root` still rejects (from its rejected-keys list).
    pub async fn check_rejected(&mut self, loc: &Location, root: &str) {
        match loc.rejected_keys(root).await {
            Ok(keys) => {
                for (key, reason) in keys {
                    if self.rejected.insert(key.clone()) {
                        eprintln!("rpmbucket: still rejected {}: {reason}", loc.show(&key));
                    }
                }
            }
            Err(e) => {
                self.failed += 1;
                eprintln!("rpmbucket: error: {e:#}");
            }
        }
    }

    /// Record a failure of `root` found elsewhere (an earlier, interrupted run).
    pub fn fail(&mut self, loc: &Location, root: &str, why: &str) {
        self.failed_roots.insert(root.to_string());
        eprintln!("rpmbucket: error: {}: {why}", loc.show(root));
    }

    /// Did `root` fail in this run?
    pub fn has_failed(&self, root: &str) -> bool {
        self.failed_roots.contains(root)
    }

    /// 1 if a repository failed, else 2 with `strict` and rejected keys, else 0.
    pub fn exit_code(&self, strict: bool) -> ExitCode {
        if self.failed > 0 || !self.failed_roots.is_empty() {
            ExitCode::from(1)
        } else if strict && !self.rejected.is_empty() {
            eprintln!(
                "rpmbucket: {} package(s) rejected (--strict)",
                self.rejected.len()
            );
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// One line: `LOCATION/ROOT: added A, removed R, rejected J; N packages, revision V
/// (unchanged); read B bytes in T requests (get g, range r, stream s, head h, list l, put p,
/// delete d); S s`.
fn summary(loc: &Location, r: &PublishReport) -> String {
    let q = &r.requests;
    format!(
        "{}: added {}, removed {}, rejected {}; {} packages, revision {}{}; read {} bytes in {} \
         requests (get {}, range {}, stream {}, head {}, list {}, put {}, delete {}); {}",
        loc.show(&r.root),
        r.added.len(),
        r.removed.len(),
        r.rejected.len(),
        r.packages,
        if r.revision.is_empty() {
            "-"
        } else {
            &r.revision
        },
        if r.unchanged { " (unchanged)" } else { "" },
        r.bytes_read,
        q.total(),
        q.get,
        q.get_range,
        q.get_stream,
        q.head,
        q.list,
        q.put,
        q.delete,
        seconds(r.duration),
    )
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

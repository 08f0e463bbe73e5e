//! `rpmbucket index DIR`: the createrepo_c workflow for a local directory.
//!
//! 1. Find every `*.rpm` under DIR (symlinks followed, `DIR/repodata` skipped), in createrepo_c's
//!    order (basename, then directory).
//! 2. Read the packages' headers on `--workers` threads; with `--update`, reuse the records of
//!    the published metadata for files whose path, size and mtime are unchanged.
//! 3. Stream the records into [`RepodataWriter`] (inside a temporary directory
//!    `DIR/.rpmbucket-tmp-*`), then publish through the engine, like every other face
//!    (see [`rpmbucket_engine::ExternalGeneration`]): the data files are written under their
//!    unique `<checksum>-<name>` names, `repomd.xml` is replaced in one conditional swap under
//!    the directory lock `serve` and `reconcile` take (when another publisher swapped since
//!    this run read it, the run starts again), files the new `repomd.xml` no longer
//!    references stay for the grace period (`RPMBUCKET_GRACE_SECONDS`, default one hour), and
//!    unreferenced files are removed only once older than that. A reader of DIR sees either
//!    the old or the new repository, never a mix.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rpmbucket_engine::{ExternalGeneration, Indexer, Layout, LocalStore, RepoConfig};
use rpmbucket_repodata::compress::Compression;
use rpmbucket_repodata::metadata_error::MetadataError;
use rpmbucket_repodata::parse::{mtime_secs, read_package_file, ParseOptions};
use rpmbucket_repodata::read::{PrimaryReader, ThreadedPackageStream};
use rpmbucket_repodata::repomd::{describes_packages, Repomd};
use rpmbucket_repodata::writer::{location_cmp, RepodataWriter, WriteOptions};
use rpmbucket_repodata::Package;

/// Shown after `rpmbucket index --help`.
pub const EXIT_STATUS_HELP: &str = "\
Examples:
  rpmbucket index ./repo
  rpmbucket index ./repo --update --compress-type zstd --no-database
  rpmbucket index s3://my-rpms/el9/ --signing-key repo-key.asc

Exit status:
  0  repodata written (packages that could not be read were reported and left out)
  1  error, nothing was published (invalid arguments, unreadable directory, write failure);
     with s3://, repositories other than the failed one may have been published
  2  --strict and at least one package could not be read; for a directory nothing was
     published, for s3:// the other packages were (rejected keys are listed in each
     repository's repodata/rpmbucket-rejected.json)";

/// Options of `rpmbucket index`.
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Directory holding the .rpm files; metadata goes to DIR/repodata/. Or
    /// s3://BUCKET[/PREFIX]: (re)index every repository under PREFIX in the bucket, reusing
    /// the published records of objects whose ETag is unchanged (AWS configuration from the
    /// environment: AWS_ENDPOINT_URL, AWS_S3_FORCE_PATH_STYLE, credentials, region).
    #[arg(value_name = "DIR|s3://BUCKET[/PREFIX]")]
    pub dir: PathBuf,

    /// Threads reading package headers (default: number of CPUs).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,

    /// Reuse the records of the existing repodata for files whose path, size and mtime are
    /// unchanged; read only new and changed packages.
    #[arg(long)]
    pub update: bool,

    /// Do not write the sqlite databases (primary_db, filelists_db, other_db).
    #[arg(long)]
    pub no_database: bool,

    /// Compression of the XML metadata.
    #[arg(long, value_name = "TYPE", default_value = "gz", value_parser = parse_compression)]
    pub compress_type: Compression,

    /// Revision string for repomd.xml (default: current Unix time).
    #[arg(long)]
    pub revision: Option<String>,

    /// Changelog entries kept per package (-1 = all).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10,
        allow_negative_numbers = true
    )]
    pub changelog_limit: i32,

    /// Fail (exit status 2, nothing published) if any package cannot be read.
    #[arg(long)]
    pub strict: bool,

    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,

    /// Options of s3:// locations (the engine).
    #[command(flatten)]
    pub remote: crate::remote::RemoteArgs,

    #[command(flatten)]
    pub signing: crate::trust::SigningArgs,

    #[command(flatten)]
    pub policy: crate::trust::PolicyArgs,
}

pub(crate) fn parse_compression(s: &str) -> Result<Compression, String> {
    match Compression::from_name(s) {
        Some(c) if c != Compression::None => Ok(c),
        _ => Err(format!(
            "unknown compression {s:?} (use gz, zstd, xz or bz2)"
        )),
    }
}

/// Why `rpmbucket index` failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Walk(String),
    #[error(transparent)]
    Write(#[from] MetadataError),
    /// Publishing through the engine failed.
    #[error("{0}")]
    Engine(String),
}

fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> IndexError {
    let path = path.into();
    move |source| IndexError::Io { path, source }
}

/// One .rpm file to index.
#[derive(Debug, Clone)]
struct Task {
    path: PathBuf,
    href: String,
    size: u64,
    mtime: i64,
}

/// What happened to the packages.
#[derive(Debug, Default)]
struct Counts {
    read: usize,
    reused: usize,
    bad: usize,
}

/// `rpmbucket index LOCATION`: directories keep the createrepo_c-style indexer, `s3://`
/// locations go to the engine.
pub fn command(args: &IndexArgs) -> anyhow::Result<ExitCode> {
    let location = args.dir.to_string_lossy();
    if !location.starts_with("s3://") {
        if args.remote.is_set() {
            anyhow::bail!("--prefixes, --layout and --json apply to s3:// locations only");
        }
        if args.policy.is_set() {
            anyhow::bail!(
                "--package-policy applies to s3:// locations and `rpmbucket reconcile DIR`"
            );
        }
        let signer = args.signing.signer()?;
        let code = run(args)?;
        if let (Some(signer), true) = (signer, code == ExitCode::SUCCESS) {
            crate::trust::sign_directory(&args.dir, &signer)?;
        }
        return Ok(code);
    }
    if args.revision.is_some() {
        anyhow::bail!(
            "--revision applies to directories only (the engine numbers revisions itself)"
        );
    }
    let trust = args
        .policy
        .apply(RepoConfig::default().with_signer(args.signing.signer()?))?;
    let meta = crate::remote::Metadata {
        compression: args.compress_type,
        database: !args.no_database,
        changelog_limit: args.changelog_limit,
        trust,
    };
    crate::remote::runtime()?.block_on(crate::remote::index_remote(
        &location,
        &args.remote,
        &meta,
        args.workers,
        args.quiet,
        args.strict,
    ))
}

/// Runs `rpmbucket index` and returns the exit code.
///
/// The generation is published through the engine ([`Indexer::publish_external`]) on the
/// directory as a local store: the `repomd.xml` swap is conditional on the one this run
/// started from, under the same directory lock as `serve` and `reconcile`, and replaced
/// files stay for the grace period (`RPMBUCKET_GRACE_SECONDS`). When another publisher swapped
/// in between, the directory is walked again and indexed again, reusing this run's records
/// of unchanged files.
pub fn run(args: &IndexArgs) -> Result<ExitCode, IndexError> {
    let dir = std::fs::canonicalize(&args.dir).map_err(io_err(&args.dir))?;
    if !dir.is_dir() {
        return Err(IndexError::Walk(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let rt = crate::remote::runtime().map_err(|e| IndexError::Engine(format!("{e:#}")))?;
    let store = LocalStore::new(&dir).map_err(|e| IndexError::Engine(e.to_string()))?;
    let indexer = Indexer::new(Arc::new(store), Layout::default(), RepoConfig::from_env());
    let engine_err = |e: rpmbucket_engine::Error| IndexError::Engine(e.to_string());
    let attempts = indexer.options().max_attempts.max(1);
    // The previous attempt's output (records of the files it read), after a lost race.
    let mut previous: Option<(tempfile::TempDir, Repomd)> = None;
    for attempt in 1..=attempts {
        let base = rt
            .block_on(indexer.current_repomd(""))
            .map_err(engine_err)?;
        let base_etag = base.as_ref().map(|(_, etag)| etag.clone());
        let old_repomd = base.as_ref().and_then(|(b, _)| Repomd::parse(b).ok());
        let attempt_out = index_once(args, &dir, old_repomd.as_ref(), previous.as_ref())?;
        let Attempt::Written { tmp, out, counts } = attempt_out else {
            return Ok(ExitCode::from(2));
        };
        let repomd = with_foreign_records(&out.repomd, old_repomd.as_ref());
        let generation = ExternalGeneration {
            base_etag,
            repomd: repomd.to_xml().into_bytes(),
            files: out
                .files
                .iter()
                .map(|f| (format!("repodata/{}", f.file_name), f.path.clone()))
                .collect(),
        };
        match rt
            .block_on(indexer.publish_external("", generation))
            .map_err(engine_err)?
        {
            Some(_) => {
                if !args.quiet {
                    eprintln!(
                        "rpmbucket: indexed {} packages in {} ({} read, {} reused, {} skipped)",
                        out.package_count,
                        dir.display(),
                        counts.read,
                        counts.reused,
                        counts.bad
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            None => {
                if !args.quiet {
                    eprintln!(
                        "rpmbucket: {}/repodata changed while indexing (another publisher); indexing again",
                        dir.display()
                    );
                }
                // This attempt's files are its records: reuse them for unchanged packages.
                let mut own = out.repomd.clone();
                for r in &mut own.records {
                    let name = r.file_name().to_owned();
                    r.location_href = name;
                }
                previous = Some((tmp, own));
                std::thread::sleep(indexer.conflict_backoff(attempt));
            }
        }
    }
    Err(IndexError::Engine(format!(
        "{}: gave up after {attempts} attempts: other publishers kept changing repodata/",
        dir.display()
    )))
}

/// The outcome of indexing the directory once.
enum Attempt {
    /// The new metadata, in `tmp`.
    Written {
        tmp: tempfile::TempDir,
        out: Box<rpmbucket_repodata::writer::Output>,
        counts: Counts,
    },
    /// `--strict` and some package could not be read: nothing to publish.
    Strict,
}

/// Walks `dir`, reads the packages (reusing records of unchanged files: from `previous`, this
/// run's last attempt, or with `--update` from `old_repomd`) and writes the metadata into a
/// temporary directory in `dir`.
fn index_once(
    args: &IndexArgs,
    dir: &Path,
    old_repomd: Option<&Repomd>,
    previous: Option<&(tempfile::TempDir, Repomd)>,
) -> Result<Attempt, IndexError> {
    let (tasks, walk_errors) = find_packages(dir)?;
    for e in &walk_errors {
        eprintln!("rpmbucket: skipping {e}");
    }

    // Which files are unchanged since the metadata we reuse (path, size, mtime)? Their
    // records are streamed from the old XML in order while writing, so memory does not
    // depend on the repository size.
    let reuse_from: Option<(&Path, &Repomd)> = match (previous, old_repomd) {
        (Some((tmp, md)), _) => Some((tmp.path(), md)),
        (None, Some(md)) if args.update => Some((dir, md)),
        _ => None,
    };
    let mut reusable = vec![false; tasks.len()];
    let mut old_stream = None;
    if let Some((root, md)) = reuse_from {
        match old_primary_index(root, md) {
            Ok(old) => {
                for (i, t) in tasks.iter().enumerate() {
                    reusable[i] = old.get(&t.href) == Some(&(t.size as i64, t.mtime));
                }
                match OldPackages::open(root, md) {
                    Ok(s) => old_stream = Some(s),
                    Err(e) => warn_unusable(&e),
                }
            }
            Err(e) => warn_unusable(&e),
        }
    }
    if old_stream.is_none() {
        reusable.iter_mut().for_each(|r| *r = false);
    }

    // Work files go to a hidden directory next to repodata/ (same file system); repodata/
    // itself is touched only when publishing.
    let tmp = tempfile::Builder::new()
        .prefix(".rpmbucket-tmp-")
        .tempdir_in(dir)
        .map_err(io_err(dir))?;

    let progress = if !args.quiet && std::io::stderr().is_terminal() {
        let pb =
            ProgressBar::with_draw_target(Some(tasks.len() as u64), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    } else {
        ProgressBar::hidden()
    };

    let opts = WriteOptions::default()
        .with_compression(args.compress_type)
        .with_database(!args.no_database);
    let mut writer = RepodataWriter::new(tmp.path(), tasks.len(), &opts)?;
    let parse_opts = ParseOptions {
        changelog_limit: args.changelog_limit,
    };
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);

    let mut counts = Counts {
        bad: walk_errors.len(),
        ..Default::default()
    };
    read_in_order(&tasks, &reusable, &parse_opts, workers, |task, outcome| {
        progress.inc(1);
        let outcome = match outcome {
            Outcome::Reuse => match old_stream.as_mut().and_then(|s| s.take(&task.href)) {
                Some(p) => {
                    counts.reused += 1;
                    writer.add_shared(Arc::new(p))?;
                    return Ok(());
                }
                // Not where the old metadata's order said it would be: read the file.
                None => match read_package_file(&task.path, &task.href, &parse_opts) {
                    Ok(p) => Outcome::Read(Arc::new(p)),
                    Err(e) => Outcome::Bad(e.to_string()),
                },
            },
            o => o,
        };
        match outcome {
            Outcome::Read(p) => {
                counts.read += 1;
                writer.add_shared(p)?;
            }
            Outcome::Bad(reason) => {
                counts.bad += 1;
                let line = format!("rpmbucket: skipping {}: {reason}", task.path.display());
                progress.suspend(|| eprintln!("{line}"));
            }
            Outcome::Reuse => unreachable!("handled above"),
        }
        Ok(())
    })?;
    progress.finish_and_clear();
    drop(old_stream);

    if args.strict && counts.bad > 0 {
        eprintln!(
            "rpmbucket: {} package(s) could not be read; --strict: nothing published",
            counts.bad
        );
        return Ok(Attempt::Strict);
    }

    // Revisions only grow, also across other publishers of the directory.
    let revision = args.revision.clone().or_else(|| {
        let prev: u64 = old_repomd
            .and_then(|m| m.revision.parse().ok())
            .unwrap_or(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Some(now.max(prev + 1).to_string())
    });
    let out = writer.finish(revision)?;
    Ok(Attempt::Written {
        tmp,
        out: Box::new(out),
        counts,
    })
}

/// Walks `dir` like createrepo_c: follows symlinks, takes regular files named `*.rpm`, skips
/// `dir/repodata`. Returns tasks in createrepo_c order and per-entry problems.
fn find_packages(dir: &Path) -> Result<(Vec<Task>, Vec<String>), IndexError> {
    let mut tasks = Vec::new();
    let mut problems = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| {
            !(e.depth() == 1
                && (e.file_name() == "repodata"
                    || e.file_name()
                        .to_string_lossy()
                        .starts_with(".rpmbucket-tmp-")))
        });
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                if e.depth() == 0 {
                    return Err(IndexError::Walk(format!("{}: {e}", dir.display())));
                }
                let path = e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                problems.push(format!("{path}: {e}"));
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        if !name.ends_with(".rpm") {
            continue;
        }
        let rel = match entry.path().strip_prefix(dir) {
            Ok(r) => r,
            Err(_) => continue,
        };
        let Some(href) = rel.to_str() else {
            problems.push(format!(
                "{}: file name is not UTF-8",
                entry.path().display()
            ));
            continue;
        };
        let href = href.replace(std::path::MAIN_SEPARATOR, "/");
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) => {
                problems.push(format!("{}: {e}", entry.path().display()));
                continue;
            }
        };
        tasks.push(Task {
            path: entry.path().to_owned(),
            href,
            size: meta.len(),
            mtime: mtime_secs(&meta),
        });
    }
    tasks.sort_by(|a, b| location_cmp(&a.href, &b.href));
    Ok((tasks, problems))
}

type Stream = BufReader<Box<dyn Read + Send>>;

fn warn_unusable(e: &MetadataError) {
    eprintln!("rpmbucket: warning: old metadata unusable ({e}); reading all packages");
}

fn open_decompressed(root: &Path, href: &str) -> Result<Stream, MetadataError> {
    let path = root.join(href);
    let f = File::open(&path).map_err(|e| MetadataError::Io {
        path: path.clone(),
        source: e,
    })?;
    let dec = Compression::from_file_name(href)
        .decoder_send(f)
        .map_err(|e| MetadataError::Io { path, source: e })?;
    Ok(BufReader::with_capacity(256 * 1024, dec))
}

fn record_href<'a>(md: &'a Repomd, t: &str) -> Result<&'a str, MetadataError> {
    md.record(t)
        .map(|r| r.location_href.as_str())
        .ok_or_else(|| MetadataError::Usage(format!("repomd.xml has no {t} record")))
}

/// `location_href → (size, mtime)` of the packages in the published primary.xml.
fn old_primary_index(
    root: &Path,
    md: &Repomd,
) -> Result<HashMap<String, (i64, i64)>, MetadataError> {
    let mut r = PrimaryReader::new(open_decompressed(root, record_href(md, "primary")?)?);
    let mut map = HashMap::new();
    while let Some(p) = r.next_package()? {
        map.insert(p.location_href, (p.size_package, p.time_file));
    }
    Ok(map)
}

/// The published packages, read in lockstep from primary/filelists/other, handed out in
/// createrepo_c order.
struct OldPackages {
    stream: Option<ThreadedPackageStream>,
    peeked: Option<Package>,
}

impl OldPackages {
    fn open(root: &Path, md: &Repomd) -> Result<Self, MetadataError> {
        let open = |t| open_decompressed(root, record_href(md, t)?);
        Ok(OldPackages {
            stream: Some(ThreadedPackageStream::new(
                open("primary")?,
                open("filelists")?,
                open("other")?,
            )),
            peeked: None,
        })
    }

    /// The old record of `href`, if it comes next in order. Records of files that are gone are
    /// skipped; an error in the old metadata ends the stream (callers then read the files).
    fn take(&mut self, href: &str) -> Option<Package> {
        loop {
            if self.peeked.is_none() {
                match self.stream.as_mut()?.next() {
                    Some(Ok(p)) => self.peeked = Some(p),
                    Some(Err(e)) => {
                        warn_unusable(&e);
                        self.stream = None;
                        return None;
                    }
                    None => {
                        self.stream = None;
                        return None;
                    }
                }
            }
            let p = self.peeked.as_ref()?;
            match location_cmp(&p.location_href, href) {
                std::cmp::Ordering::Less => self.peeked = None,
                std::cmp::Ordering::Equal => return self.peeked.take(),
                std::cmp::Ordering::Greater => return None,
            }
        }
    }
}

enum Outcome {
    /// Unchanged since the published metadata: take the old record.
    Reuse,
    Read(Arc<Package>),
    Bad(String),
}

/// Reads the tasks on `workers` threads and hands the outcomes to `sink` in task order.
fn read_in_order<F>(
    tasks: &[Task],
    reusable: &[bool],
    opts: &ParseOptions,
    workers: usize,
    mut sink: F,
) -> Result<(), IndexError>
where
    F: FnMut(&Task, Outcome) -> Result<(), IndexError>,
{
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<(usize, Outcome)>(workers * 16);
    std::thread::scope(|s| -> Result<(), IndexError> {
        for _ in 0..workers {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(task) = tasks.get(i) else { break };
                let outcome = if reusable[i] {
                    Outcome::Reuse
                } else {
                    match read_package_file(&task.path, &task.href, opts) {
                        Ok(p) => Outcome::Read(Arc::new(p)),
                        Err(e) => Outcome::Bad(e.to_string()),
                    }
                };
                if tx.send((i, outcome)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending: BTreeMap<usize, Outcome> = BTreeMap::new();
        let mut want = 0usize;
        let mut result = Ok(());
        for (i, outcome) in rx.iter() {
            pending.insert(i, outcome);
            while let Some(o) = pending.remove(&want) {
                if result.is_ok() {
                    result = sink(&tasks[want], o);
                    if result.is_err() {
                        // Stop the workers: they see the exhausted counter.
                        next.store(tasks.len(), Ordering::Relaxed);
                    }
                }
                want += 1;
            }
        }
        result
    })
}

/// `new` plus the records of `old` that another tool added (updateinfo from modifyrepo_c,
/// say), carried over byte for byte (their files stay referenced).
fn with_foreign_records(new: &Repomd, old: Option<&Repomd>) -> Repomd {
    let mut repomd = new.clone();
    if let Some(old) = old {
        repomd.records.extend(
            old.records
                .iter()
                .filter(|r| {
                    !describes_packages(&r.data_type)
                        && r.data_type != rpmbucket_engine::state::STATE_TYPE
                })
                .cloned(),
        );
        repomd.sort_records();
    }
    repomd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_skips_repodata_and_sorts_like_createrepo() {
        let d = tempfile::tempdir().unwrap();
        for p in [
            "b/x.rpm",
            "a.rpm",
            "x.rpm",
            "repodata/z.rpm",
            "c/readme.txt",
        ] {
            let path = d.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"x").unwrap();
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(d.path().join("b"), d.path().join("link")).unwrap();
        let (tasks, problems) = find_packages(d.path()).unwrap();
        let hrefs: Vec<_> = tasks.iter().map(|t| t.href.as_str()).collect();
        #[cfg(unix)]
        assert_eq!(hrefs, ["a.rpm", "x.rpm", "b/x.rpm", "link/x.rpm"]);
        assert!(problems.is_empty(), "{problems:?}");
    }
}

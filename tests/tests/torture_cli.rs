//! Multi-process torture of the publish protocol with the real `rpmbucket` binary.
//!
//! Several writer loops run `rpmbucket add` / `rpmbucket rm` on one repository at the same
//! time, each command a process of its own; some are killed with SIGKILL at a random moment.
//! Two backends: moto behind the fault-injecting proxy (500, 503 SlowDown, resets before the
//! answer and mid-body, "landed then 500", latency), and a local directory. An independent
//! checker reads every `repomd.xml` that appears (straight from moto or the directory, not
//! through the proxy) and counts as violations:
//!
//! - a metadata file named by the current `repomd.xml` that is missing or has another size or
//!   checksum, or a published package whose checksum is not the uploaded file's;
//! - a published package that is missing although nobody ever ran `rm` on it;
//! - an acknowledged add (`rpmbucket add` exited 0) whose package is not published afterwards,
//!   unless an `rm` of it ran at the same time or later;
//! - an acknowledged `rm` whose package is published again afterwards, unless an `add` of it
//!   ran at the same time or later;
//! - at the end (faults off): drift between the listing and the published packages that no
//!   killed or failed command explains, and, after `rpmbucket reconcile`, any drift at all.
//!
//! `the_checker_reports_planted_violations` shows the checker reports each kind it claims to (a
//! mutation check on a repository with planted faults).
//!
//! It prints publishes observed, commands, kills, faults and violations, and asserts that
//! there are no violations. The default run is short (CI): `RPMBUCKET_TORTURE_SECS` (seconds
//! per backend, default 40) and `RPMBUCKET_TORTURE_WRITERS` (default 6) make it longer;
//! `RPMBUCKET_TORTURE_REPORT=FILE` appends the figures as a JSON line (scripts/torture.sh
//! writes RELIABILITY.md from them).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rpmbucket_engine::store::Error as StoreError;
use rpmbucket_engine::testkit::{moto, S3Kind, S3Server};
use rpmbucket_engine::{LocalStore, ObjectStore};
use rpmbucket_repodata::repomd::Repomd;
use rpmbucket_tests::s3proxy::{Fault, FaultProxy, Rule, Stats};
use rpmbucket_tests::{gen, rpmbucket_command};
use sha2::{Digest, Sha256};

/// Repository root inside the bucket.
const ROOT: &str = "el9/x86_64/";
/// Packages in the pool; the first `REMOVABLE` are added and removed, the rest only added
/// (so a missing one is always a violation).
const POOL: u64 = 24;
const REMOVABLE: usize = 16;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// One package of the pool.
#[derive(Debug, Clone)]
struct Pkg {
    path: PathBuf,
    name: String,
    sha256: String,
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn pool(dir: &Path) -> Vec<Pkg> {
    let paths = gen::generate(POOL, dir, 13, 2).expect("generate packages");
    let mut pkgs: Vec<Pkg> = paths
        .into_iter()
        .map(|path| Pkg {
            name: path.file_name().unwrap().to_str().unwrap().to_owned(),
            sha256: sha256_hex(&std::fs::read(&path).unwrap()),
            path,
        })
        .collect();
    pkgs.sort_by(|a, b| a.name.cmp(&b.name));
    pkgs
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Rm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Exit(i32),
    Killed,
}

/// One command a writer ran.
#[derive(Debug, Clone)]
struct Op {
    kind: Kind,
    /// Package file names (hrefs).
    names: Vec<String>,
    start: Instant,
    /// Exit or kill time; `None` while running.
    end: Option<Instant>,
    outcome: Option<Outcome>,
}

impl Op {
    fn acked(&self) -> bool {
        self.outcome == Some(Outcome::Exit(0))
    }
    /// Alive at some moment after `t` (or still running).
    fn reaches_past(&self, t: Instant) -> bool {
        self.end.is_none_or(|e| e > t)
    }
}

/// Where the repository lives, for the writers and for the checker.
struct Backend {
    name: &'static str,
    /// The `rpmbucket` argument naming the repository.
    location: String,
    /// Environment of the writers.
    env: Vec<(&'static str, String)>,
    /// The checker's own view (not through the proxy).
    store: Arc<dyn ObjectStore>,
    /// Root of the repository in `store`.
    root: String,
    proxy: Option<FaultProxy>,
}

#[derive(Default)]
struct Shared {
    ops: Mutex<Vec<Op>>,
    /// Packages of the latest observed repomd (writers pick removals from it).
    published: Mutex<BTreeSet<String>>,
    violations: Mutex<Vec<String>>,
    kills: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn violation(&self, what: String) {
        eprintln!("VIOLATION: {what}");
        self.violations.lock().unwrap().push(what);
    }
}

fn rpmbucket(backend: &Backend, args: &[String]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::from(rpmbucket_command());
    cmd.args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in &backend.env {
        cmd.env(k, v);
    }
    cmd
}

/// One writer: add or remove random packages until told to stop; a quarter of the commands
/// get a SIGKILL timer.
async fn writer(id: usize, backend: Arc<Backend>, pkgs: Arc<Vec<Pkg>>, shared: Arc<Shared>) {
    let log_every = env_u64("RPMBUCKET_TORTURE_LOG_FAILURES", 1);
    let mut failures = 0u64;
    while !shared.stop.load(Ordering::SeqCst) {
        let removable: Vec<String> = {
            let published = shared.published.lock().unwrap();
            pkgs[..REMOVABLE]
                .iter()
                .filter(|p| published.contains(&p.name))
                .map(|p| p.name.clone())
                .collect()
        };
        let (kind, names, mut args) = if !removable.is_empty() && fastrand::u8(..10) < 4 {
            let name = removable[fastrand::usize(..removable.len())].clone();
            (
                Kind::Rm,
                vec![name.clone()],
                vec!["rm".into(), backend.location.clone(), name],
            )
        } else {
            let n = 1 + fastrand::usize(..2);
            let mut picked: Vec<&Pkg> = (0..n)
                .map(|_| &pkgs[fastrand::usize(..pkgs.len())])
                .collect();
            picked.sort_by(|a, b| a.name.cmp(&b.name));
            picked.dedup_by(|a, b| a.name == b.name);
            let mut args = vec!["add".to_string(), backend.location.clone()];
            args.extend(picked.iter().map(|p| p.path.display().to_string()));
            (
                Kind::Add,
                picked.iter().map(|p| p.name.clone()).collect(),
                args,
            )
        };
        let index = {
            let mut ops = shared.ops.lock().unwrap();
            ops.push(Op {
                kind,
                names,
                start: Instant::now(),
                end: None,
                outcome: None,
            });
            ops.len() - 1
        };
        let mut child = match rpmbucket(&backend, &std::mem::take(&mut args)).spawn() {
            Ok(c) => c,
            Err(e) => panic!("spawn rpmbucket: {e}"),
        };
        let mut stderr = child.stderr.take().expect("stderr");
        let errors = tokio::spawn(async move {
            let mut s = String::new();
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut s).await;
            s
        });
        let kill_after =
            (fastrand::u8(..4) == 0).then(|| Duration::from_millis(fastrand::u64(50..2500)));
        let status = match kill_after {
            Some(d) => tokio::select! {
                s = child.wait() => s,
                _ = tokio::time::sleep(d) => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            },
            None => child.wait().await,
        }
        .expect("wait for rpmbucket");
        let end = Instant::now();
        let outcome = match status.code() {
            Some(c) => Outcome::Exit(c),
            None => {
                shared.kills.fetch_add(1, Ordering::SeqCst);
                Outcome::Killed
            }
        };
        let stderr = errors.await.unwrap_or_default();
        if let Outcome::Exit(c) = outcome {
            if c != 0 {
                failures += 1;
                if log_every > 0 && failures.is_multiple_of(log_every) {
                    let ops = shared.ops.lock().unwrap();
                    eprintln!(
                        "writer {id}: {:?} {:?} exited {c}: {}",
                        ops[index].kind,
                        ops[index].names,
                        stderr.trim()
                    );
                }
            }
        }
        let mut ops = shared.ops.lock().unwrap();
        ops[index].end = Some(end);
        ops[index].outcome = Some(outcome);
    }
}

/// `repomd.xml` of the repository, or `None` before the first publish.
async fn read_repomd(store: &dyn ObjectStore, root: &str) -> Option<Bytes> {
    for attempt in 0.. {
        match store.get(&format!("{root}repodata/repomd.xml")).await {
            Ok((b, _)) => return Some(b),
            Err(StoreError::NotFound { .. }) => return None,
            Err(e) if attempt < 5 => {
                eprintln!("checker: reading repomd.xml: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("checker cannot read repomd.xml: {e}"),
        }
    }
    unreachable!()
}

/// What the checker found in one `repomd.xml`.
struct Observed {
    packages: BTreeMap<String, String>,
}

/// Checks one `repomd.xml` (read between `t0` and `t1`); `None` when it was replaced while
/// being checked before anything could be concluded (the next one is checked instead).
async fn check_repomd(
    backend: &Backend,
    pkgs: &[Pkg],
    shared: &Shared,
    bytes: &Bytes,
    t0: Instant,
    t1: Instant,
) -> Option<Observed> {
    let store = &*backend.store;
    let root = &backend.root;
    let still_current = || async { read_repomd(store, root).await.as_ref() == Some(bytes) };
    let repomd = match Repomd::parse(bytes) {
        Ok(r) => r,
        Err(e) => {
            shared.violation(format!("repomd.xml does not parse: {e}"));
            return None;
        }
    };
    let mut files: BTreeMap<String, Bytes> = BTreeMap::new();
    for rec in &repomd.records {
        let key = format!("{root}{}", rec.location_href);
        let problem = match store.get(&key).await {
            Ok((data, _)) if data.len() as u64 != rec.size => {
                Some(format!("size {} instead of {}", data.len(), rec.size))
            }
            Ok((data, _)) if sha256_hex(&data) != rec.checksum => {
                Some("checksum differs".to_string())
            }
            Ok((data, _)) => {
                files.insert(rec.location_href.clone(), data);
                None
            }
            Err(e) => Some(format!("{e}")),
        };
        if let Some(p) = problem {
            if still_current().await {
                shared.violation(format!("repomd.xml names {key}: {p}"));
            }
            return None;
        }
    }
    let read = rpmbucket_repodata::read::read_published(&repomd, |href| {
        files
            .get(href)
            .map(|d| Box::new(std::io::Cursor::new(d.clone())) as Box<dyn Read>)
            .ok_or_else(|| std::io::Error::other(format!("{href} not in repomd")))
    });
    let packages = match read {
        Ok(p) => p,
        Err(e) => {
            shared.violation(format!("published metadata does not read back: {e}"));
            return None;
        }
    };
    let by_name: BTreeMap<&str, &Pkg> = pkgs.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut out = BTreeMap::new();
    for p in &packages {
        match by_name.get(p.location_href.as_str()) {
            Some(k) if k.sha256 == p.pkgid => {}
            Some(_) => shared.violation(format!("{}: published checksum differs", p.location_href)),
            None => shared.violation(format!("{}: not a package of the test", p.location_href)),
        }
        out.insert(p.location_href.clone(), p.pkgid.clone());
    }
    // Published packages must exist, unless someone ran `rm` on them.
    let ever_removed: BTreeSet<String> = shared
        .ops
        .lock()
        .unwrap()
        .iter()
        .filter(|o| o.kind == Kind::Rm)
        .flat_map(|o| o.names.clone())
        .collect();
    for name in out.keys() {
        if ever_removed.contains(name) {
            continue;
        }
        if let Err(e) = store.head(&format!("{root}{name}")).await {
            let removed_now = shared
                .ops
                .lock()
                .unwrap()
                .iter()
                .any(|o| o.kind == Kind::Rm && o.names.contains(name));
            if !removed_now && still_current().await {
                shared.violation(format!("published package {name} is missing: {e}"));
            }
        }
    }
    // Acknowledged adds are published; acknowledged removals stay removed. Per package and
    // kind only the acknowledged command that started last counts: one that started earlier
    // is explained whenever that one is (its window starts earlier).
    let ops = shared.ops.lock().unwrap();
    let mut by_name: BTreeMap<&str, Vec<(usize, &Op)>> = BTreeMap::new();
    for (i, o) in ops.iter().enumerate() {
        for n in &o.names {
            by_name.entry(n.as_str()).or_default().push((i, o));
        }
    }
    let mut found = Vec::new();
    for (name, list) in &by_name {
        for kind in [Kind::Add, Kind::Rm] {
            let last = list
                .iter()
                .filter(|(_, o)| o.kind == kind && o.acked() && o.end.is_some_and(|e| e < t0))
                .max_by_key(|(_, o)| o.start);
            let Some((i, a)) = last else { continue };
            let present = out.contains_key(*name);
            let (want, other) = match kind {
                Kind::Add => (true, Kind::Rm),
                Kind::Rm => (false, Kind::Add),
            };
            if present == want {
                continue;
            }
            // Explained by a command of the other kind on the same package that ran at the
            // same time or later (and had started when the repomd.xml was read).
            let explained = list
                .iter()
                .any(|(_, o)| o.kind == other && o.start < t1 && o.reaches_past(a.start));
            if !explained {
                found.push(format!(
                    "{name}: acknowledged {kind:?} (command #{i}) {} in a later repomd.xml",
                    if want {
                        "is not published"
                    } else {
                        "is published again"
                    }
                ));
            }
        }
    }
    drop(ops);
    for v in found {
        shared.violation(v);
    }
    Some(Observed { packages: out })
}

/// Follows `repomd.xml` until told to stop; returns the publishes observed.
async fn checker(
    backend: Arc<Backend>,
    pkgs: Arc<Vec<Pkg>>,
    shared: Arc<Shared>,
    done: Arc<AtomicBool>,
) -> u64 {
    let mut last: Option<Bytes> = None;
    let mut observed = 0u64;
    loop {
        let finished = done.load(Ordering::SeqCst);
        let t0 = Instant::now();
        let current = read_repomd(&*backend.store, &backend.root).await;
        let t1 = Instant::now();
        if let Some(bytes) = current {
            if last.as_ref() != Some(&bytes) {
                observed += 1;
                if let Some(o) = check_repomd(&backend, &pkgs, &shared, &bytes, t0, t1).await {
                    *shared.published.lock().unwrap() = o.packages.into_keys().collect();
                }
                last = Some(bytes);
            }
        }
        if finished {
            return observed;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `.rpm` keys in the store, as hrefs.
async fn listing(backend: &Backend) -> BTreeSet<String> {
    backend
        .store
        .list(&backend.root)
        .await
        .expect("list")
        .into_iter()
        .filter_map(|o| o.key.strip_prefix(&backend.root).map(str::to_owned))
        .filter(|h| h.ends_with(".rpm") && !h.contains('/'))
        .collect()
}

async fn published_now(backend: &Backend, pkgs: &[Pkg], shared: &Shared) -> BTreeSet<String> {
    let bytes = read_repomd(&*backend.store, &backend.root)
        .await
        .expect("a repomd.xml at the end");
    let t = Instant::now();
    check_repomd(backend, pkgs, shared, &bytes, t, t)
        .await
        .map(|o| o.packages.into_keys().collect())
        .unwrap_or_default()
}

fn faults_of(stats: &Stats) -> BTreeMap<String, u64> {
    stats
        .rules
        .iter()
        .map(|r| (r.name.clone(), r.fired))
        .collect()
}

/// Faults for the S3 run: every request kind, a few percent each.
fn fault_rules() -> Vec<Rule> {
    vec![
        Rule::new("latency", Fault::Latency { ms: 40 }).probability(0.15),
        Rule::new("500", Fault::InternalError).probability(0.03),
        Rule::new("503 SlowDown", Fault::SlowDown).probability(0.03),
        Rule::new("reset", Fault::Reset).probability(0.02),
        Rule::new("reset mid-body", Fault::ResetMidBody)
            .method("GET")
            .probability(0.03),
        Rule::new("PUT landed then 500", Fault::LandThen500)
            .method("PUT")
            .probability(0.04),
        Rule::new("DELETE landed then 500", Fault::LandThen500)
            .method("DELETE")
            .probability(0.04),
    ]
}

async fn torture(backend: Backend) {
    let secs = env_u64("RPMBUCKET_TORTURE_SECS", 40);
    let writers = env_u64("RPMBUCKET_TORTURE_WRITERS", 6) as usize;
    let dir = tempfile::tempdir().unwrap();
    let pkgs = Arc::new(pool(dir.path()));
    let backend = Arc::new(backend);
    let shared = Arc::new(Shared::default());
    let done = Arc::new(AtomicBool::new(false));
    if let Some(p) = &backend.proxy {
        p.set_rules(fault_rules());
    }
    let started = Instant::now();
    let check = tokio::spawn(checker(
        backend.clone(),
        pkgs.clone(),
        shared.clone(),
        done.clone(),
    ));
    let tasks: Vec<_> = (0..writers)
        .map(|i| tokio::spawn(writer(i, backend.clone(), pkgs.clone(), shared.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    shared.stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("writer task");
    }
    let fault_stats = backend.proxy.as_ref().map(|p| p.stats());
    if let Some(p) = &backend.proxy {
        p.set_rules(vec![]);
    }
    done.store(true, Ordering::SeqCst);
    let publishes = check.await.expect("checker task");
    let duration = started.elapsed();

    // The end: drift only where a killed or failed command explains it.
    let ops = shared.ops.lock().unwrap().clone();
    let listed = listing(&backend).await;
    let published = published_now(&backend, &pkgs, &shared).await;
    let unfinished = |name: &str, kind: Kind| {
        ops.iter()
            .any(|o| o.kind == kind && !o.acked() && o.names.iter().any(|n| n == name))
    };
    let concurrent = |name: &str| {
        ops.iter().any(|a| {
            a.kind == Kind::Add
                && a.names.iter().any(|n| n == name)
                && ops.iter().any(|r| {
                    r.kind == Kind::Rm
                        && r.names.iter().any(|n| n == name)
                        && r.start < a.end.unwrap()
                        && a.start < r.end.unwrap()
                })
        })
    };
    let drift: Vec<String> = listed.symmetric_difference(&published).cloned().collect();
    for name in &drift {
        let explained = if listed.contains(name) {
            unfinished(name, Kind::Add) || concurrent(name)
        } else {
            unfinished(name, Kind::Rm) || concurrent(name)
        };
        if !explained {
            shared.violation(format!(
                "{name}: {} at the end and no killed or failed command explains it",
                if listed.contains(name) {
                    "listed but not published"
                } else {
                    "published but not listed"
                }
            ));
        }
    }
    // Reconcile repairs what the killed commands left; then the state equals the listing.
    let out = rpmbucket(
        &backend,
        &["reconcile".to_string(), backend.location.clone()],
    )
    .output()
    .await
    .expect("run reconcile");
    assert!(out.status.success(), "reconcile: {out:?}");
    let listed_after = listing(&backend).await;
    let published_after = published_now(&backend, &pkgs, &shared).await;
    if listed_after != published_after {
        shared.violation(format!(
            "after reconcile: listed {listed_after:?} but published {published_after:?}"
        ));
    }

    let count =
        |k: Kind, f: &dyn Fn(&Op) -> bool| ops.iter().filter(|o| o.kind == k && f(o)).count();
    let acked_adds = count(Kind::Add, &|o| o.acked());
    let acked_rms = count(Kind::Rm, &|o| o.acked());
    let failed = ops
        .iter()
        .filter(|o| matches!(o.outcome, Some(Outcome::Exit(c)) if c != 0))
        .count();
    let kills = shared.kills.load(Ordering::SeqCst);
    let violations = shared.violations.lock().unwrap().clone();
    let faults = fault_stats.as_ref().map_or(0, |s| s.faults);
    let report = serde_json::json!({
        "backend": backend.name,
        "seconds": duration.as_secs(),
        "writers": writers,
        "commands": ops.len(),
        "acknowledged_adds": acked_adds,
        "acknowledged_removals": acked_rms,
        "failed_commands": failed,
        "kills": kills,
        "publishes_observed": publishes,
        "requests_through_proxy": fault_stats.as_ref().map(|s| s.requests),
        "faults": faults,
        "delayed": fault_stats.as_ref().map(|s| s.delayed),
        "faults_by_kind": fault_stats.as_ref().map(faults_of),
        "drift_before_reconcile": drift.len(),
        "final_packages": published_after.len(),
        "violations": violations.len(),
    });
    eprintln!("torture {}: {report}", backend.name);
    if let Ok(path) = std::env::var("RPMBUCKET_TORTURE_REPORT") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("open the report file");
        writeln!(f, "{report}").expect("write the report");
    }
    assert!(
        violations.is_empty(),
        "{} violations: {violations:#?}",
        violations.len()
    );
    // The run must have exercised something.
    assert!(publishes >= 5, "only {publishes} publishes observed");
    assert!(acked_adds >= 5 && acked_rms >= 1, "{report}");
    assert!(kills >= 1, "{report}");
    if backend.proxy.is_some() {
        assert!(faults >= 10, "{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_through_the_fault_proxy() {
    let moto = moto().await;
    let bucket = moto.new_bucket().await;
    let proxy = FaultProxy::start(moto.endpoint()).expect("start the proxy");
    let env = S3Server::new(S3Kind::Moto, &proxy.endpoint()).env_vars();
    torture(Backend {
        name: "s3 (moto behind the fault proxy)",
        location: format!("s3://{}/{ROOT}", bucket.bucket()),
        env,
        store: Arc::new(bucket),
        root: ROOT.into(),
        proxy: Some(proxy),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_directory() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    torture(Backend {
        name: "local directory",
        location: repo.display().to_string(),
        env: vec![],
        store: Arc::new(LocalStore::new(&repo).unwrap()),
        root: String::new(),
        proxy: None,
    })
    .await;
}

/// The checker is not blind (a mutation check): on a repository published by the real
/// `rpmbucket add`, the intact state gives no violation, and each planted fault is reported —
/// an acknowledged add that is not published, a published package whose file is gone, a
/// metadata file with another checksum, and a `repomd.xml` naming a missing file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_reports_planted_violations() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    let store = LocalStore::new(&repo).unwrap();
    let backend = Backend {
        name: "planted",
        location: repo.display().to_string(),
        env: vec![],
        store: Arc::new(store.clone()),
        root: String::new(),
        proxy: None,
    };
    let pkgdir = tempfile::tempdir().unwrap();
    let pkgs = pool(pkgdir.path());
    let start = Instant::now();
    let out = rpmbucket_command()
        .args(["add", &backend.location])
        .arg(&pkgs[0].path)
        .arg(&pkgs[1].path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let acked = |names: &[&Pkg]| Op {
        kind: Kind::Add,
        names: names.iter().map(|p| p.name.clone()).collect(),
        start,
        end: Some(Instant::now()),
        outcome: Some(Outcome::Exit(0)),
    };
    let check = |shared: Shared| {
        let backend = &backend;
        let pkgs = &pkgs;
        async move {
            let bytes = read_repomd(&*backend.store, "").await.unwrap();
            let t0 = Instant::now();
            check_repomd(backend, pkgs, &shared, &bytes, t0, t0).await;
            let v = shared.violations.lock().unwrap().clone();
            v
        }
    };
    let with_ops = |ops: Vec<Op>| Shared {
        ops: Mutex::new(ops),
        ..Shared::default()
    };

    // Intact.
    let v = check(with_ops(vec![acked(&[&pkgs[0], &pkgs[1]])])).await;
    assert!(v.is_empty(), "{v:?}");
    // An acknowledged add that is not published.
    let v = check(with_ops(vec![acked(&[&pkgs[0], &pkgs[2]])])).await;
    assert!(
        v.len() == 1 && v[0].contains(&pkgs[2].name) && v[0].contains("is not published"),
        "{v:?}"
    );
    // A published package whose file is gone (nobody ran `rm`).
    let moved = dir.path().join("moved.rpm");
    std::fs::rename(repo.join(&pkgs[1].name), &moved).unwrap();
    let v = check(with_ops(vec![])).await;
    assert!(
        v.len() == 1 && v[0].contains(&format!("published package {} is missing", pkgs[1].name)),
        "{v:?}"
    );
    std::fs::rename(&moved, repo.join(&pkgs[1].name)).unwrap();
    // A metadata file with another checksum (same size).
    let md = Repomd::parse(&read_repomd(&store, "").await.unwrap()).unwrap();
    let primary = repo.join(&md.record("primary").unwrap().location_href);
    let good = std::fs::read(&primary).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    std::fs::write(&primary, &bad).unwrap();
    let v = check(with_ops(vec![])).await;
    assert!(
        v.len() == 1 && v[0].contains("primary") && v[0].contains("checksum differs"),
        "{v:?}"
    );
    std::fs::write(&primary, &good).unwrap();
    // A repomd.xml naming a missing file.
    let filelists = repo.join(&md.record("filelists").unwrap().location_href);
    std::fs::remove_file(&filelists).unwrap();
    let v = check(with_ops(vec![])).await;
    assert!(
        v.len() == 1 && v[0].contains("filelists") && v[0].contains("not found"),
        "{v:?}"
    );
}

//! A real `rpmbucket reconcile` of a moto bucket (through the fault proxy, which slows package
//! reads and counts requests) is killed with SIGKILL after some repositories are done. The
//! next run resumes after the last repository finished: it lists from there, sends no request
//! about a finished repository, and leaves the state a full reconcile gives (a full run after
//! it changes nothing).

use std::collections::BTreeSet;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use rpmbucket_engine::testkit::{moto, S3Kind, S3Server};
use rpmbucket_engine::{ObjectStore, PutOptions};
use rpmbucket_tests::rpmbucket_command;
use rpmbucket_tests::s3proxy::{Fault, FaultProxy, Rule};
use serde_json::Value;

const REPOS: usize = 6;
const PER_REPO: usize = 3;

fn root(i: usize) -> String {
    format!("dist/r{i}/")
}

/// The `--json` reports of a run, in output order.
/// Runs `rpmbucket ARGS` to the end and expects success; its output and its stderr as text.
fn run_ok(args: &[&str], env: &[(&'static str, String)]) -> (Output, String) {
    let out = rpmbucket_command()
        .args(args)
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (out, stderr)
}

/// Starts `rpmbucket ARGS` (stdout and stderr piped) with every GET of a key matching `keys`
/// delayed by `ms` in the proxy, so that the test can kill it halfway.
fn start_slowed(
    proxy: &FaultProxy,
    keys: &str,
    ms: u64,
    args: &[&str],
    env: &[(&'static str, String)],
) -> Child {
    proxy.set_rules(vec![Rule::new("slow package reads", Fault::Latency { ms })
        .method("GET")
        .key(keys)]);
    rpmbucket_command()
        .args(args)
        .envs(env.iter().cloned())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rpmbucket reconcile")
}

fn reports(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_reconcile_resumes_after_the_last_finished_repository() {
    let moto = moto().await;
    let bucket = moto.new_bucket().await;
    let name = bucket.bucket().to_owned();
    let gen_dir = tempfile::tempdir().unwrap();
    let rpms = rpmbucket_tests::gen::generate((REPOS * PER_REPO) as u64, gen_dir.path(), 11, 2)
        .expect("generate packages");
    for i in 0..REPOS {
        for rpm in &rpms[i * PER_REPO..(i + 1) * PER_REPO] {
            let file = rpm.file_name().unwrap().to_str().unwrap();
            let body = std::fs::read(rpm).unwrap();
            bucket
                .put(
                    &format!("{}{file}", root(i)),
                    body.into(),
                    PutOptions::default(),
                )
                .await
                .unwrap();
        }
    }
    bucket
        .put("dist/README", "not a package".into(), PutOptions::default())
        .await
        .unwrap();

    let proxy = FaultProxy::start(moto.endpoint()).expect("start the proxy");
    let env = S3Server::new(S3Kind::Moto, &proxy.endpoint()).env_vars();
    let location = format!("s3://{name}/dist");
    let args = ["reconcile", &location, "--page-size", "2", "--json"];
    let cursor_key = rpmbucket_engine::publish::cursor_key("dist/");

    // Every package read is slow, so the run is killed with repositories left.
    let mut child = start_slowed(&proxy, "dist/r*.rpm", 400, &args, &env);
    let deadline = Instant::now() + Duration::from_secs(120);
    let recorded = loop {
        if let Ok((body, _)) = bucket.get(&cursor_key).await {
            let v: Value = serde_json::from_slice(&body).expect("cursor is JSON");
            if v["done"].as_u64().unwrap_or(0) >= 2 {
                break v;
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("rpmbucket finished ({status}) before it could be killed halfway");
        }
        assert!(Instant::now() < deadline, "no repository finished in 120 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    let killed = child.wait_with_output().unwrap();
    assert!(!killed.status.success());
    // What the killed run finished: the cursor as it is now (it may have moved on a step).
    let (body, _) = bucket
        .get(&cursor_key)
        .await
        .expect("a killed run leaves its cursor");
    let cursor: Value = serde_json::from_slice(&body).unwrap();
    let after = cursor["after"].as_str().unwrap().to_owned();
    let done = cursor["done"].as_u64().unwrap() as usize;
    assert!(
        done >= recorded["done"].as_u64().unwrap() as usize && done < REPOS,
        "killed too late: {cursor}"
    );
    assert_eq!(after, root(done - 1), "{cursor}");
    // A repository's report is printed after its cursor is written: the kill can fall between.
    let killed_reports = reports(&killed.stdout);
    assert!(
        (done - 1..=done).contains(&killed_reports.len()),
        "{done} done: {killed_reports:?}"
    );

    // The second run: every request about a finished repository is counted (none allowed),
    // and so are the listing pages.
    let mut rules = vec![Rule::new("listing pages", Fault::Latency { ms: 0 })
        .method("GET")
        .key("")
        .query("list-type=2")];
    for i in 0..done {
        rules.push(Rule::new(&root(i), Fault::Latency { ms: 0 }).key(&format!("{}*", root(i))));
    }
    proxy.set_rules(rules);
    let (out, stderr) = run_ok(&args, &env);
    assert!(
        stderr.contains(&format!(
            "resuming an interrupted reconcile after s3://{name}/{after}"
        )),
        "{stderr}"
    );
    let resumed: Vec<String> = reports(&out.stdout)
        .iter()
        .map(|r| r["root"].as_str().unwrap().to_owned())
        .collect();
    let rest: Vec<String> = (done..REPOS).map(root).collect();
    assert_eq!(resumed, rest, "{stderr}");
    let stats = proxy.stats();
    for rule in &stats.rules[1..] {
        assert_eq!(
            rule.matched, 0,
            "the resumed run touched {}: {stats:?}",
            rule.name
        );
    }
    // Finding the repositories lists only the keys after the cursor, 2 a page; then each
    // repository lists its own keys (twice: the listing and the check after the swap).
    let keys_after = bucket
        .list("dist/")
        .await
        .unwrap()
        .iter()
        .filter(|o| o.key > after && o.key != cursor_key)
        .count();
    let listings = stats.rules[0].matched as usize;
    assert!(
        listings >= keys_after.div_ceil(2),
        "{listings} listing requests for {keys_after} keys: {stats:?}"
    );
    assert!(
        matches!(
            bucket.head(&cursor_key).await,
            Err(rpmbucket_engine::store::Error::NotFound { .. })
        ),
        "the finished run deleted the cursor"
    );

    // The state equals a full reconcile's: a full run now changes nothing, and every
    // repository publishes its packages.
    proxy.set_rules(vec![]);
    let full = rpmbucket_command().args(args).envs(env).output().unwrap();
    assert!(
        full.status.success(),
        "{}",
        String::from_utf8_lossy(&full.stderr)
    );
    let full = reports(&full.stdout);
    let roots: BTreeSet<String> = full
        .iter()
        .map(|r| r["root"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(roots, (0..REPOS).map(root).collect());
    for r in &full {
        assert_eq!(r["unchanged"], true, "{r}");
        assert_eq!(r["packages"], PER_REPO, "{r}");
    }
}

const BIG: usize = 300;
const CHECKPOINT: usize = 50;

/// One repository of 300 packages, `--checkpoint 50`: the reconcile publishes every 50 packages
/// read; a real SIGKILL once `repomd.xml` lists at least 100 of them leaves those published, and
/// the next run reads only the others and ends with every package listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_reconcile_of_one_big_repository_resumes_from_its_last_checkpoint() {
    let moto = moto().await;
    let bucket = moto.new_bucket().await;
    let name = bucket.bucket().to_owned();
    let gen_dir = tempfile::tempdir().unwrap();
    let rpms = rpmbucket_tests::gen::generate(BIG as u64, gen_dir.path(), 17, 2)
        .expect("generate packages");
    let uploads = rpms.iter().map(|rpm| {
        let bucket = bucket.clone();
        async move {
            let file = rpm.file_name().unwrap().to_str().unwrap();
            let body = std::fs::read(rpm).unwrap();
            bucket
                .put(&format!("big/{file}"), body.into(), PutOptions::default())
                .await
                .unwrap();
        }
    });
    futures::future::join_all(uploads).await;
    // Reads the published package count (repomd.xml and the state) straight from moto.
    let watcher = rpmbucket_engine::Indexer::new(
        std::sync::Arc::new(bucket.clone()),
        rpmbucket_engine::Layout::default(),
        rpmbucket_engine::RepoConfig::default(),
    );
    let published = || async {
        watcher
            .snapshot_opts("big/", 0)
            .await
            .expect("read the published generation")
            .package_count
    };

    let proxy = FaultProxy::start(moto.endpoint()).expect("start the proxy");
    let env = S3Server::new(S3Kind::Moto, &proxy.endpoint()).env_vars();
    let location = format!("s3://{name}/big");
    let checkpoint = CHECKPOINT.to_string();
    let args = [
        "reconcile",
        &location,
        "--checkpoint",
        &checkpoint,
        "--json",
    ];
    // Package reads are slow, so the run is killed between checkpoints.
    let mut child = start_slowed(&proxy, "big/*.rpm", 300, &args, &env);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if published().await >= 2 * CHECKPOINT {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("rpmbucket finished ({status}) before 100 packages were published");
        }
        assert!(Instant::now() < deadline, "no 2 checkpoints in 300 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("SIGKILL");
    let killed = child.wait_with_output().unwrap();
    assert!(!killed.status.success());
    assert!(
        reports(&killed.stdout).is_empty(),
        "killed inside the repository, before its report"
    );
    // A repomd.xml PUT in flight at the kill (in the proxy, or sent to moto) can still land:
    // read the published count until two reads a second apart agree.
    let mut kept = published().await;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let again = published().await;
        if again == kept {
            break;
        }
        kept = again;
    }
    assert!(
        (2 * CHECKPOINT..BIG).contains(&kept) && kept % CHECKPOINT == 0,
        "{kept} packages published at the kill: whole checkpoints, not all"
    );

    // The rerun reads only what the killed run's checkpoints had not published.
    proxy.set_rules(vec![]);
    let (out, _) = run_ok(&args, &env);
    let rerun = reports(&out.stdout);
    assert_eq!(rerun.len(), 1, "{rerun:?}");
    let r = &rerun[0];
    let added = r["added"].as_array().unwrap().len();
    let read = r["hashed_by_checksum"].as_u64().unwrap() + r["hashed_by_stream"].as_u64().unwrap();
    eprintln!(
        "killed with {kept} of {BIG} packages published; the rerun read {read} packages in {} checkpoints and the final publish",
        r["checkpoints"]
    );
    assert_eq!(added, BIG - kept, "{r}");
    assert_eq!(read as usize, BIG - kept, "{r}");
    assert_eq!(
        r["checkpoints"].as_u64().unwrap() as usize,
        (BIG - kept - 1) / CHECKPOINT,
        "{r}"
    );
    assert_eq!(r["packages"], BIG, "{r}");
    assert_eq!(published().await, BIG);
    let listed: BTreeSet<String> = watcher
        .snapshot("big/")
        .await
        .unwrap()
        .state
        .packages
        .into_keys()
        .collect();
    let want: BTreeSet<String> = rpms
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, want);
}

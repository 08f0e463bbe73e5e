//! Day-2 commands of the real `rpmbucket` binary (`config`, `add`, `ls`, `rm`, `status`) on a
//! directory and on a moto bucket, retention applied at every publish (EVR edge cases, uploads
//! in random order) with dnf reading the result, and the browsable page in headless chromium.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rpm::PackageBuilder;
use rpmbucket_engine::testkit::{moto, MotoServer};
use rpmbucket_tests::{dnf_nevras, file_url, fixture, free_port, fx, rpmbucket_bin};
use serde_json::Value;

/// `rpmbucket ARGS` with `env` added (moto's, the grace period) and proxies removed.
fn rpmbucket(env: &[(&str, String)], args: &[&str]) -> Output {
    let mut cmd = Command::new(rpmbucket_bin());
    cmd.args(args)
        .env_remove("RPMBUCKET_PREFIXES")
        .env_remove("RPMBUCKET_LAYOUT");
    for var in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run rpmbucket")
}

/// Runs and expects exit status `code`; returns stdout.
fn expect(env: &[(&str, String)], args: &[&str], code: i32) -> String {
    let out = rpmbucket(env, args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "rpmbucket {args:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Expects failure with status 1 and `needle` in stderr.
fn refused(env: &[(&str, String)], args: &[&str], needle: &str) {
    let out = rpmbucket(env, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "rpmbucket {args:?}: {stderr}");
    assert!(stderr.contains(needle), "rpmbucket {args:?}: {stderr}");
}

/// `(epoch, version)` of the retention package, oldest first in rpm's order.
const VERSIONS: [(u32, &str); 5] = [
    (0, "1.0~rc1"),
    (0, "1.0"),
    (0, "1.0^git1"),
    (0, "1.0.1"),
    (1, "0.5"),
];

/// Builds `rt-app` in every version of [`VERSIONS`] into `dir`; paths in that order.
fn versions(dir: &Path) -> Vec<PathBuf> {
    VERSIONS
        .iter()
        .map(|(epoch, version)| {
            let mut b = PackageBuilder::new("rt-app", version, "MIT", "noarch", "retention test");
            b.release("1");
            if *epoch > 0 {
                b.epoch(*epoch);
            }
            let pkg = b.build().unwrap();
            let path = dir.join(format!("rt-app-{epoch}-{version}-1.noarch.rpm"));
            pkg.write_file(&path).unwrap();
            path
        })
        .collect()
}

fn dnf_form((epoch, version): (u32, &str)) -> String {
    format!("rt-app-{epoch}:{version}-1.noarch")
}

/// A fixed shuffle (uploads in an order that is neither oldest nor newest first).
const ORDER: [usize; 5] = [3, 0, 4, 1, 2];

fn ls_json(env: &[(&str, String)], repo: &str) -> Vec<Value> {
    let out = expect(env, &["ls", repo, "--json"], 0);
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn nevras_of(rows: &[Value]) -> BTreeSet<String> {
    rows.iter()
        .map(|r| r["nevra"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn day2_commands_and_retention_on_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("repo");
    fs::create_dir(&repo_dir).unwrap();
    let repo = repo_dir.to_str().unwrap();
    let built = tmp.path().join("built");
    fs::create_dir(&built).unwrap();
    let pkgs = versions(&built);
    let env = vec![("RPMBUCKET_GRACE_SECONDS", "3600".to_string())];

    // Settings: shown, validated, changed; bad values refused and nothing changed.
    let shown = expect(&env, &["config", repo], 0);
    assert!(shown.contains("keep-versions=off\n"), "{shown}");
    assert!(shown.contains("compression=gz\n"), "{shown}");
    assert!(shown.starts_with("profile=compat\n"), "{shown}");
    refused(&env, &["config", repo, "profile=fast"], "compat or modern");
    let dry = expect(&env, &["config", repo, "profile=modern", "--dry-run"], 0);
    assert!(
        dry.contains("profile=modern\ncompression=zstd\nsqlite=off\n"),
        "{dry}"
    );
    let dry = expect(
        &env,
        &["config", repo, "profile=modern", "sqlite=on", "--dry-run"],
        0,
    );
    assert!(
        dry.starts_with("profile=custom\ncompression=zstd\nsqlite=on\n"),
        "{dry}"
    );
    refused(
        &env,
        &["config", repo, "keep-versions=0"],
        "positive number",
    );
    refused(&env, &["config", repo, "keep-versions"], "not KEY=VALUE");
    refused(&env, &["config", repo, "compression=rar"], "one of gz");
    refused(&env, &["config", repo, "colour=blue"], "unknown setting");
    refused(&env, &["config", "/nonexistent/dir"], "not a directory");
    let set = expect(&env, &["config", repo, "keep-versions=2", "--json"], 0);
    let v: Value = serde_json::from_str(&set).unwrap();
    assert_eq!(v["keep-versions"], 2);
    assert!(expect(&env, &["config", repo], 0).contains("keep-versions=2\n"));

    // Uploads in random order with `add`, plus two fixtures; retention applies at every one.
    expect(
        &env,
        &[
            "add",
            repo,
            fixture(fx::BASIC).to_str().unwrap(),
            fixture(fx::LIB_1_2).to_str().unwrap(),
        ],
        0,
    );
    for &i in &ORDER {
        let out = expect(&env, &["add", repo, pkgs[i].to_str().unwrap()], 0);
        assert!(out.contains("packages, revision"), "{out}");
    }
    let kept: BTreeSet<String> = [VERSIONS[3], VERSIONS[4]].map(dnf_form).into();
    let rt: BTreeSet<String> = dnf_nevras(&file_url(&repo_dir))
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with("rt-app-"))
        .collect();
    assert_eq!(rt, kept, "dnf sees only the two newest rt-app");
    let rows = ls_json(&env, repo);
    assert_eq!(
        nevras_of(&rows),
        [
            "fx-basic-1.0-1.noarch",
            "fx-lib-1.2-1.noarch",
            "rt-app-1.0.1-1.noarch",
            "rt-app-1:0.5-1.noarch"
        ]
        .map(String::from)
        .into()
    );
    assert_eq!(rows[0]["key"], fx::BASIC);
    assert!(rows[0]["size"].as_u64().unwrap() > 1000);
    // Dropped packages left the metadata but wait out the grace period in the store.
    for i in [0, 1, 2] {
        assert!(repo_dir.join(pkgs[i].file_name().unwrap()).exists());
    }
    let st: Value = serde_json::from_str(&expect(&env, &["status", repo, "--json"], 0)).unwrap();
    assert_eq!(st["packages"], 4);
    assert_eq!(st["retired"].as_array().unwrap().len(), 3, "{st}");
    assert_eq!(st["drift"]["new"], Value::Array(vec![]), "{st}");

    // Text `ls` has a header and one line per package.
    let text = expect(&env, &["ls", repo], 0);
    assert!(text.starts_with("NEVRA"), "{text}");
    assert_eq!(text.lines().count(), 5, "{text}");

    // Dry run of a stricter rule names what would go and changes nothing.
    let dry = expect(&env, &["config", repo, "keep-versions=1", "--dry-run"], 0);
    assert!(
        dry.contains("rt-app-0-1.0.1-1.noarch.rpm (would be dropped"),
        "{dry}"
    );
    assert_eq!(ls_json(&env, repo).len(), 4);

    // With no grace period, the next publish deletes the retired objects.
    let now = vec![("RPMBUCKET_GRACE_SECONDS", "0".to_string())];
    expect(&now, &["config", repo, "keep-days=30"], 0);
    for i in [0, 1, 2] {
        assert!(!repo_dir.join(pkgs[i].file_name().unwrap()).exists());
    }
    // keep-days protects the young: nothing else goes even with keep-versions=1.
    expect(&now, &["config", repo, "keep-versions=1"], 0);
    assert_eq!(ls_json(&env, repo).len(), 4);

    // Drift: a file copied in behind the engine's back.
    fs::copy(fixture(fx::META), repo_dir.join(fx::META)).unwrap();
    let st = expect(&env, &["status", repo], 0);
    assert!(
        st.contains(&format!("+ {repo}/{} (not indexed)", fx::META)),
        "{st}"
    );
    assert!(st.contains("packages:     4"), "{st}");

    // rm by NEVRA and by key; unknown names refused before anything is deleted.
    refused(
        &env,
        &["rm", repo, "fx-basic-1.0-1.noarch", "nope-1-1.x86_64"],
        "nope-1-1.x86_64: no such package",
    );
    assert!(repo_dir.join(fx::BASIC).exists());
    let out = expect(&env, &["rm", repo, "fx-basic-1.0-1.noarch", fx::LIB_1_2], 0);
    assert!(out.contains(&format!("- {repo}/{}", fx::BASIC)), "{out}");
    assert!(!repo_dir.join(fx::BASIC).exists());
    assert_eq!(nevras_of(&ls_json(&env, repo)).len(), 2);

    // add: a missing file and a non-package are refused; a broken .rpm is rejected (exit 2).
    refused(&env, &["add", repo, "/nonexistent.rpm"], "no such file");
    refused(
        &env,
        &["add", repo, repo_dir.join("index.html").to_str().unwrap()],
        "not an .rpm",
    );
    let broken = tmp.path().join("broken-1-1.noarch.rpm");
    fs::write(&broken, b"not an rpm at all").unwrap();
    let out = rpmbucket(&env, &["add", repo, broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let st: Value = serde_json::from_str(&expect(&env, &["status", repo, "--json"], 0)).unwrap();
    assert_eq!(st["rejected"][0]["key"], "broken-1-1.noarch.rpm", "{st}");

    // Every command documents itself with an example; usage errors are status 1.
    for cmd in ["config", "add", "ls", "rm", "status"] {
        let help = expect(&[], &[cmd, "--help"], 0);
        assert!(help.contains("Example"), "{cmd}: {help}");
    }
    refused(&[], &["ls"], "REPO");
    refused(&[], &["add", repo], "FILE");
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_on_a_moto_bucket_dnf_sees_only_kept_versions() {
    let server: MotoServer = moto().await;
    let store = server.new_bucket().await;
    server.make_public(&store).await;
    let mut env: Vec<(&str, String)> = server.env_vars();
    env.push(("RPMBUCKET_GRACE_SECONDS", "3600".into()));
    let repo = format!("s3://{}/el9/x86_64/", store.bucket());
    let tmp = tempfile::tempdir().unwrap();
    let pkgs = versions(tmp.path());

    expect(&env, &["config", &repo, "keep-versions=3"], 0);
    for &i in &ORDER {
        expect(&env, &["add", &repo, pkgs[i].to_str().unwrap()], 0);
    }
    let url = format!("{}el9/x86_64/", server.base_url(&store));
    let kept: BTreeSet<String> = [VERSIONS[2], VERSIONS[3], VERSIONS[4]].map(dnf_form).into();
    assert_eq!(dnf_nevras(&url).unwrap(), kept);
    let rows = ls_json(&env, &repo);
    assert_eq!(rows.len(), 3);
    assert!(rows
        .iter()
        .all(|r| r["key"].as_str().unwrap().starts_with("el9/x86_64/")));
    let st: Value = serde_json::from_str(&expect(&env, &["status", &repo, "--json"], 0)).unwrap();
    assert_eq!(st["packages"], 3);
    assert_eq!(st["retired"].as_array().unwrap().len(), 2);
    assert_eq!(st["drift"]["new"], Value::Array(vec![]), "{st}");
    // The page is in the bucket, short-cached, and lists what dnf sees.
    let page = http_get(&format!("{url}index.html"));
    assert!(
        page.head
            .to_ascii_lowercase()
            .contains("cache-control: max-age=10"),
        "{}",
        page.head
    );
    assert_eq!(page.body.matches("<tr data-search=").count(), 3);

    // rm over S3.
    expect(&env, &["rm", &repo, "rt-app-1:0.5-1.noarch"], 0);
    assert_eq!(ls_json(&env, &repo).len(), 2);
}

struct Fetched {
    head: String,
    body: String,
}

/// A plain HTTP/1.0 GET (no client library: the tests stay on loopback).
fn http_get(url: &str) -> Fetched {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = TcpStream::connect(host).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    let (head, body) = all.split_once("\r\n\r\n").unwrap();
    Fetched {
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// `rpmbucket serve` on a free port; killed on drop.
struct Served {
    child: Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(root: &Path) -> Served {
    let port = free_port();
    let child = Command::new(rpmbucket_bin())
        .args(["serve", "--root", root.to_str().unwrap(), "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "rpmbucket serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Served {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// Headless chromium's DOM of `url` after its scripts ran.
fn chromium_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--virtual-time-budget=2000", "--dump-dom", url])
        .output()
        .expect("run chromium (installed by scripts/test.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Rows of the dumped DOM that the filter left visible.
fn visible_rows(dom: &str) -> Vec<String> {
    dom.split("<tr data-search=\"")
        .skip(1)
        .filter(|r| {
            let tag = &r[..r.find('>').unwrap()];
            !tag.contains(" hidden")
        })
        .map(|r| r[..r.find('"').unwrap()].to_owned())
        .collect()
}

#[test]
fn the_page_lists_filters_and_runs_no_package_script_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let repo_dir = tmp.path().join("el9").join("x86_64");
    fs::create_dir_all(&repo_dir).unwrap();
    // A package whose Summary and Description are markup that would run a script.
    let evil_summary = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">";
    let mut b = PackageBuilder::new("evil", "1.0", "MIT", "noarch", evil_summary);
    b.release("1")
        .description("<script>document.body.setAttribute('data-pwned','2')</script>");
    let evil = tmp.path().join("evil-1.0-1.noarch.rpm");
    b.build().unwrap().write_file(&evil).unwrap();
    let mut args = vec!["add".to_string(), repo_dir.to_str().unwrap().to_string()];
    for f in [fx::BASIC, fx::LIB_1_0, fx::LIB_1_2, fx::UTF8, fx::EPOCH] {
        args.push(fixture(f).to_str().unwrap().to_owned());
    }
    args.push(evil.to_str().unwrap().to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    expect(&[], &args, 0);

    let server = serve(tmp.path());
    let url = format!("{}/el9/x86_64/", server.base);
    // The repository URL answers with the page, short-cached.
    let page = http_get(&url);
    assert!(
        page.head.starts_with("HTTP/1.0 200") || page.head.starts_with("HTTP/1.1 200"),
        "{}",
        page.head
    );
    assert!(
        page.head
            .to_ascii_lowercase()
            .contains("cache-control: max-age=10"),
        "{}",
        page.head
    );

    let dom = chromium_dom(&url);
    let rows = visible_rows(&dom);
    assert_eq!(rows.len(), 6, "every package listed: {rows:?}");
    assert!(
        rows.iter()
            .any(|r| r.starts_with("fx-epoch 3:2.5.1~rc1^git7-4.fc40")),
        "{rows:?}"
    );
    // The evil summary is text, nothing ran.
    // (The text of the summary names the attribute; only an element carrying it means a run.)
    assert!(dom.contains("data-pwned"), "the summary is on the page");
    assert!(!dom.contains("data-pwned=\""), "a package script ran");
    assert!(
        dom.contains("&lt;img src=x onerror="),
        "summary shown as text"
    );
    assert!(!dom.contains("<img"), "no element from package text");
    // The snippet's baseurl is the page's own directory (filled in by our script).
    assert!(
        dom.contains(&format!("baseurl=<span id=\"baseurl\">{url}</span>")),
        "{dom}"
    );

    // The filter narrows the list (`?q=` sets the box; words must all match).
    let dom = chromium_dom(&format!("{url}?q=fx-lib"));
    let rows = visible_rows(&dom);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.starts_with("fx-lib ")));
    assert!(dom.contains("2 of 6 shown"), "counter updated");
    let dom = chromium_dom(&format!("{url}#q=lib%201.2"));
    assert_eq!(visible_rows(&dom).len(), 1);
    let dom = chromium_dom(&format!("{url}?q=onerror"));
    assert_eq!(
        visible_rows(&dom),
        vec![visible_rows(&chromium_dom(&format!("{url}?q=evil")))[0].clone()]
    );

    // A screenshot for the README, when asked for (RPMBUCKET_SCREENSHOT=PATH).
    if let Ok(path) = std::env::var("RPMBUCKET_SCREENSHOT") {
        let profile = tempfile::tempdir().unwrap();
        let status = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--screenshot={path}"))
            .args(["--window-size=1100,760", &url])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

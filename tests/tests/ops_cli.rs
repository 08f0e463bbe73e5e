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
use rpmbucket_engine::ObjectStore;
use rpmbucket_tests::{dnf_nevras, file_url, fixture, fx, rpmbucket_bin, Served};
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
    // The fixtures are built with a fixed build time (SOURCE_DATE_EPOCH: 2024-01-10).
    assert_eq!(rows[0]["build_time"], 1_704_888_000, "{}", rows[0]);
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
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NEVRA", "SIZE", "BUILT", "(UTC)", "KEY"], "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("fx-basic-1.0-1.noarch ")
            && l.contains(" 2024-01-10 12:00 ")
            && l.ends_with(&format!("{repo}/{}", fx::BASIC))),
        "{text}"
    );

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
    assert!(
        st["rejected"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not an rpm"),
        "{st}"
    );
    // The last publish (a time, with its revision) and the generation.
    let last = st["last_publish"].as_i64().unwrap();
    let now_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now_secs - 600..=now_secs + 5).contains(&last), "{st}");
    assert!(st["generation"].as_u64().unwrap() >= 2, "{st}");
    assert!(!st["revision"].as_str().unwrap().is_empty(), "{st}");
    let text = expect(&env, &["status", repo], 0);
    for field in [
        "last publish: ",
        "generation:   ",
        "rejected:     1",
        "not an rpm",
    ] {
        assert!(text.contains(field), "{field}: {text}");
    }

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

fn serve(root: &Path) -> Served {
    rpmbucket_tests::serve(&rpmbucket_bin(), root)
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

/// Publishes fixtures, a package whose Summary and Description are markup that would run a
/// script, and `extra` (built here: name, summary) into `el9/x86_64/` under `tmp` with `add`, and
/// serves `tmp`; returns the server and the repository URL.
fn published_page(tmp: &Path, extra: &[(&str, &str)]) -> (Served, String) {
    let repo_dir = tmp.join("el9").join("x86_64");
    fs::create_dir_all(&repo_dir).unwrap();
    let evil_summary = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">";
    let mut b = PackageBuilder::new("evil", "1.0", "MIT", "noarch", evil_summary);
    b.release("1")
        .description("<script>document.body.setAttribute('data-pwned','2')</script>");
    let evil = tmp.join("evil-1.0-1.noarch.rpm");
    b.build().unwrap().write_file(&evil).unwrap();
    let mut args = vec!["add".to_string(), repo_dir.to_str().unwrap().to_string()];
    for f in [fx::BASIC, fx::LIB_1_0, fx::LIB_1_2, fx::UTF8, fx::EPOCH] {
        args.push(fixture(f).to_str().unwrap().to_owned());
    }
    args.push(evil.to_str().unwrap().to_owned());
    for (name, summary) in extra {
        let mut b = PackageBuilder::new(name, "1.0", "MIT", "x86_64", summary);
        b.release("1");
        let file = tmp.join(format!("{name}-1.0-1.x86_64.rpm"));
        b.build().unwrap().write_file(&file).unwrap();
        args.push(file.to_str().unwrap().to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    expect(&[], &args, 0);
    let server = serve(tmp);
    let url = format!("{}/el9/x86_64/", server.base);
    (server, url)
}

#[test]
fn the_page_lists_filters_and_runs_no_package_script_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let (_server, url) = published_page(tmp.path(), &[]);
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

/// Headless chromium driven over the DevTools protocol (one page, flat session): device
/// emulation, navigation, evaluation in the page and screenshots. Killed on drop.
struct Browser {
    child: Child,
    ws: tungstenite::WebSocket<TcpStream>,
    session: Option<String>,
    next: u64,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn launch() -> Browser {
        use std::io::BufRead;
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run chromium (installed by scripts/test.sh)");
        // chromium says where its DevTools endpoint listens on stderr; keep draining it after.
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let mut said = String::new();
        let endpoint = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!("chromium exited before its DevTools endpoint: {said}");
            };
            if let Some(at) = line.find("ws://") {
                break line[at..].trim().to_owned();
            }
            said.push_str(&line);
            said.push('\n');
        };
        std::thread::spawn(move || lines.for_each(drop));
        let addr = endpoint
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let stream = TcpStream::connect(&addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let (ws, _) = tungstenite::client(endpoint.as_str(), stream).expect("DevTools handshake");
        let mut b = Browser {
            child,
            ws,
            session: None,
            next: 0,
            _profile: profile,
        };
        let target = b.call(
            "Target.createTarget",
            serde_json::json!({"url": "about:blank"}),
        );
        let attached = b.call(
            "Target.attachToTarget",
            serde_json::json!({"targetId": target["targetId"], "flatten": true}),
        );
        b.session = Some(attached["sessionId"].as_str().unwrap().to_owned());
        b
    }

    /// One DevTools command; its result (events in between are skipped).
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = serde_json::json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = Value::from(s.as_str());
        }
        self.ws
            .send(tungstenite::Message::text(msg.to_string()))
            .unwrap();
        loop {
            let tungstenite::Message::Text(text) = self.ws.read().unwrap() else {
                continue;
            };
            let v: Value = serde_json::from_str(text.as_str()).unwrap();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// The page's viewport: `width`×`height` CSS pixels at `scale` device pixels each; `mobile`
    /// makes chromium lay out as a phone does (the page's `<meta name=viewport>` applies).
    fn emulate(&mut self, width: u32, height: u32, scale: f64, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({
                "width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile,
            }),
        );
        self.call(
            "Emulation.setTouchEmulationEnabled",
            serde_json::json!({"enabled": mobile}),
        );
    }

    /// Loads `url` and waits until the page and its script are done.
    fn open(&mut self, url: &str) {
        self.call("Page.navigate", serde_json::json!({"url": url}));
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.eval("document.readyState === 'complete' && location.href !== 'about:blank'")
            != Value::Bool(true)
        {
            assert!(Instant::now() < deadline, "{url} did not load");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The value of `expression` evaluated in the page (a JSON value).
    fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            serde_json::json!({"expression": expression, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    /// A PNG of the viewport into `path`, scaled by `scale`.
    fn screenshot(&mut self, path: &str, scale: f64) {
        use base64::Engine as _;
        let metrics = self.eval("[window.innerWidth, window.innerHeight]");
        let r = self.call(
            "Page.captureScreenshot",
            serde_json::json!({"format": "png", "clip": {
                "x": 0, "y": 0, "width": metrics[0], "height": metrics[1], "scale": scale,
            }}),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        fs::write(path, png).unwrap();
    }
}

/// What the page looks like to the browser: the viewport, the document's width, every element
/// that sticks out of the viewport or whose content spills out of its own box (on a desktop the
/// `.repo` snippet may scroll inside its box; on a phone it wraps), the filter box, the visible
/// rows.
const LAYOUT: &str = r#"((vw) => {
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className ? '.' + el.className : '');
  const out = [], spill = [];
  for (const el of document.querySelectorAll('body *')) {
    if ((vw > 700 && el.closest('pre')) || el.closest('[hidden]') || el.tagName === 'SCRIPT')
      continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.left < -0.5 || r.right > vw + 0.5)
      out.push(name(el) + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1)
      spill.push(name(el) + ' ' + el.scrollWidth + '>' + el.clientWidth);
  }
  const rect = el => { const r = el.getBoundingClientRect();
    return { left: r.left, right: r.right, top: r.top + scrollY, width: r.width, height: r.height }; };
  const rows = [...document.querySelectorAll('tr[data-search]')].filter(r => !r.hidden);
  return {
    viewport: document.documentElement.clientWidth, innerWidth: innerWidth, dpr: devicePixelRatio,
    scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    out, spill,
    filter: rect(document.getElementById('filter')),
    rows: rows.map(r => Object.assign(rect(r), { search: r.dataset.search,
      display: getComputedStyle(r).display,
      cellTops: [...r.cells].map(c => Math.round(c.getBoundingClientRect().top)) })),
    fontPx: Math.min(...[...document.querySelectorAll('td')].map(c =>
      parseFloat(getComputedStyle(c).fontSize))),
  };
})"#;

/// [`LAYOUT`] of the page in `b` for a viewport `width` pixels wide.
fn layout(b: &mut Browser, width: u32) -> Value {
    b.eval(&format!("{LAYOUT}({width})"))
}

/// Asserts the page is usable in a `width`-pixel viewport: nothing wider than it, no text out of
/// its box, the filter box and all `rows` rows on screen width-wise with real sizes, text at a
/// readable size. Returns the layout.
fn assert_usable(layout: &Value, width: u32, rows: usize) {
    let w = f64::from(width);
    assert_eq!(layout["viewport"].as_f64(), Some(w), "{layout:#}");
    assert_eq!(
        layout["innerWidth"].as_f64(),
        Some(w),
        "the page widened the viewport: {layout:#}"
    );
    assert!(
        layout["scrollWidth"].as_f64().unwrap() <= w,
        "the page scrolls sideways: {layout:#}"
    );
    assert!(
        layout["bodyScrollWidth"].as_f64().unwrap() <= w,
        "{layout:#}"
    );
    assert_eq!(layout["out"], serde_json::json!([]), "out of the viewport");
    assert_eq!(
        layout["spill"],
        serde_json::json!([]),
        "text out of its box"
    );
    let filter = &layout["filter"];
    assert!(
        filter["left"].as_f64().unwrap() >= 0.0
            && filter["right"].as_f64().unwrap() <= w
            && filter["width"].as_f64().unwrap() >= (w * 0.5).min(250.0)
            && filter["height"].as_f64().unwrap() >= 24.0,
        "filter box: {filter}"
    );
    let shown = layout["rows"].as_array().unwrap();
    assert_eq!(shown.len(), rows, "{layout:#}");
    for r in shown {
        assert!(
            r["left"].as_f64().unwrap() >= 0.0
                && r["right"].as_f64().unwrap() <= w
                && r["height"].as_f64().unwrap() >= 16.0,
            "row: {r}"
        );
    }
    assert!(layout["fontPx"].as_f64().unwrap() >= 12.0, "{layout:#}");
}

/// The page at phone size (390×844 CSS pixels, 3 device pixels each, laid out as a phone) and
/// at desktop size: no sideways scrolling, no text out of its box, the filter box and every row
/// on screen; on the phone each package is a block, on the desktop a table row. The check is
/// shown to catch a layout that does not fit: without the page's small-screen rules the same
/// page overflows the phone.
#[test]
fn the_page_fits_a_phone_and_a_desktop_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let long_name = "a-package-name-long-enough-to-need-wrapping-on-any-phone-screen-x";
    let long_summary = "Summary_with_one_long_unbreakable_word_\
                        ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz_0123456789";
    let (_server, url) = published_page(tmp.path(), &[(long_name, long_summary)]);
    let mut b = Browser::launch();

    b.emulate(390, 844, 3.0, true);
    b.open(&url);
    let phone = layout(&mut b, 390);
    assert_usable(&phone, 390, 7);
    assert_eq!(phone["dpr"].as_f64(), Some(3.0), "{phone:#}");
    // Each package is a card: the name on its line, then version, arch, size and date, then
    // the summary.
    for r in phone["rows"].as_array().unwrap() {
        assert_ne!(r["display"], "table-row", "{r}");
        let tops: Vec<i64> = r["cellTops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_i64().unwrap())
            .collect();
        assert!(tops[0] < tops[1] && tops[4] < tops[5], "{r}");
    }
    if let Ok(path) = std::env::var("RPMBUCKET_SCREENSHOT_PHONE") {
        b.screenshot(&path, 0.5);
    }
    // The filter works at this size too.
    b.open(&format!("{url}?q=fx-lib"));
    assert_usable(&layout(&mut b, 390), 390, 2);

    // The same measurements catch a page that does not fit: drop the small-screen rules.
    b.open(&url);
    let broken = b.eval(&format!(
        "(() => {{ for (const s of document.styleSheets) \
           for (let i = s.cssRules.length - 1; i >= 0; i--) \
             if (s.cssRules[i].conditionText && s.cssRules[i].conditionText.includes('max-width')) \
               s.deleteRule(i); \
           return {LAYOUT}(390); }})()"
    ));
    assert!(
        broken["scrollWidth"].as_f64().unwrap() > 390.0
            || !broken["out"].as_array().unwrap().is_empty(),
        "the check cannot see an overflowing page: {broken:#}"
    );

    b.emulate(1280, 800, 1.0, false);
    b.open(&url);
    let desktop = layout(&mut b, 1280);
    assert_usable(&desktop, 1280, 7);
    for r in desktop["rows"].as_array().unwrap() {
        assert_eq!(r["display"], "table-row", "{r}");
        let tops = r["cellTops"].as_array().unwrap();
        assert!(
            tops.iter().all(|t| t == &tops[0]),
            "cells side by side: {r}"
        );
    }
}

/// moto's request recorder: what reached the server for `bucket` while `f` ran, as
/// `(method, path and query, Range header)`.
fn recorded<T>(
    server: &MotoServer,
    bucket: &str,
    f: impl FnOnce() -> T,
) -> (T, Vec<(String, String, Option<String>)>) {
    server.start_recording();
    let out = f();
    let requests = server
        .recorded(bucket)
        .into_iter()
        .map(|r| (r.method, r.path, r.range))
        .collect();
    (out, requests)
}

#[test]
fn promote_between_directories_picks_the_newest_and_copies_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let (testing, stable) = (
        tmp.path().join("el9/testing"),
        tmp.path().join("el9/stable"),
    );
    fs::create_dir_all(&testing).unwrap();
    fs::create_dir_all(&stable).unwrap();
    let built = tmp.path().join("built");
    fs::create_dir(&built).unwrap();
    let pkgs = versions(&built);
    let (t, s) = (testing.to_str().unwrap(), stable.to_str().unwrap());
    let basic = fixture(fx::BASIC);
    let mut add = vec!["add", t, basic.to_str().unwrap()];
    let paths: Vec<String> = ORDER
        .iter()
        .map(|&i| pkgs[i].to_str().unwrap().to_owned())
        .collect();
    add.extend(paths.iter().map(String::as_str));
    expect(&[], &add, 0);

    // Bad arguments: nothing promoted, status 1, the reason said.
    refused(
        &[],
        &["promote", t, s, "rt-app", "nope"],
        "no package \"nope\"",
    );
    refused(&[], &["promote", t, t, "rt-app"], "same repository");
    refused(
        &[],
        &["promote", t, "/nonexistent/dir", "rt-app"],
        "not a directory",
    );
    refused(&[], &["promote", t, s], "NAME|NEVRA");
    assert!(ls_json(&[], s).is_empty());

    // NAME: the newest by rpm's order (the epoch wins over 1.0.1); a NEVRA is exact.
    let out = expect(
        &[],
        &["promote", t, s, "rt-app", "fx-basic-1.0-1.noarch"],
        0,
    );
    assert!(out.contains("rt-app-1:0.5-1.noarch: "), "{out}");
    assert!(
        out.contains(&format!("{s}/: 2 packages, revision")),
        "{out}"
    );
    assert_eq!(
        nevras_of(&ls_json(&[], s)),
        ["fx-basic-1.0-1.noarch", "rt-app-1:0.5-1.noarch"]
            .map(String::from)
            .into()
    );
    let copied = stable.join("rt-app-1-0.5-1.noarch.rpm");
    assert_eq!(fs::read(&copied).unwrap(), fs::read(&pkgs[4]).unwrap());
    // The source is untouched, and dnf installs the promoted package from the target.
    assert_eq!(ls_json(&[], t).len(), 6);
    let root = tmp.path().join("installroot");
    let log = rpmbucket_tests::dnf_install(&file_url(&stable), "rt-app", &root).unwrap();
    assert!(log.contains("rt-app"), "{log}");
    assert!(dnf_nevras(&file_url(&stable))
        .unwrap()
        .contains("rt-app-1:0.5-1.noarch"));

    // --json names each copy.
    let v: Value = serde_json::from_str(&expect(
        &[],
        &["promote", t, s, "rt-app-1.0^git1-1.noarch", "--json"],
        0,
    ))
    .unwrap();
    assert_eq!(v["promoted"][0]["nevra"], "rt-app-1.0^git1-1.noarch", "{v}");
    assert_eq!(v["packages"], 3, "{v}");
    let help = expect(&[], &["promote", "--help"], 0);
    assert!(help.contains("Example"), "{help}");
}

#[tokio::test(flavor = "multi_thread")]
async fn promote_on_moto_copies_server_side_and_dnf_installs_from_the_target() {
    let server: MotoServer = moto().await;
    let store = server.new_bucket().await;
    server.make_public(&store).await;
    let env: Vec<(&str, String)> = server.env_vars();
    let bucket = store.bucket().to_owned();
    let (testing, stable) = (
        format!("s3://{bucket}/el9/testing/"),
        format!("s3://{bucket}/el9/stable/"),
    );
    let tmp = tempfile::tempdir().unwrap();
    let pkgs = versions(tmp.path());
    let mut add = vec!["add".to_owned(), testing.clone()];
    add.extend(ORDER.iter().map(|&i| pkgs[i].to_str().unwrap().to_owned()));
    add.push(fixture(fx::BASIC).to_str().unwrap().to_owned());
    let add: Vec<&str> = add.iter().map(String::as_str).collect();
    expect(&env, &add, 0);
    refused(
        &env,
        &[
            "promote",
            &testing,
            "s3://other-bucket/el9/stable/",
            "rt-app",
        ],
        "different buckets",
    );

    let (out, requests) = recorded(&server, &bucket, || {
        expect(
            &env,
            &["promote", &testing, &stable, "rt-app", "fx-basic"],
            0,
        )
    });
    assert!(out.contains("2 packages"), "{out}");
    // Two server-side copies; no package body fetched: a GET of an .rpm is only ever a
    // ranged read of its header, far below the package's size.
    let copies: Vec<_> = requests.iter().filter(|(m, _, _)| m == "COPY").collect();
    assert_eq!(copies.len(), 2, "{requests:#?}");
    let rpm_gets: Vec<_> = requests
        .iter()
        .filter(|(m, p, _)| m == "GET" && p.split('?').next().unwrap().ends_with(".rpm"))
        .collect();
    // (These packages are smaller than one speculative header read, so a range may cover
    // all of one: what is checked is that every read is a bounded ranged read.)
    for (_, path, range) in &rpm_gets {
        let range = range
            .as_deref()
            .unwrap_or_else(|| panic!("whole GET of {path}"));
        let (from, to) = range.trim_start_matches("bytes=").split_once('-').unwrap();
        let (from, to): (u64, u64) = (from.parse().unwrap(), to.parse().unwrap());
        assert!(to - from < 1 << 20, "{path}: {range}");
    }
    assert!(
        !requests
            .iter()
            .any(|(m, p, _)| m == "PUT" && p.ends_with(".rpm")),
        "a package was uploaded again: {requests:#?}"
    );
    eprintln!(
        "promote on moto: {} requests ({} copies, {} ranged header reads of .rpm)",
        requests.len(),
        copies.len(),
        rpm_gets.len()
    );

    // dnf installs the promoted package straight from the bucket.
    let url = format!("{}el9/stable/", server.base_url(&store));
    assert_eq!(
        dnf_nevras(&url).unwrap(),
        ["fx-basic-0:1.0-1.noarch".to_owned(), dnf_form(VERSIONS[4])].into()
    );
    let root = tmp.path().join("installroot");
    let log = rpmbucket_tests::dnf_install(&url, "rt-app", &root).unwrap();
    assert!(log.contains("rt-app"), "{log}");
}

/// `doctor --json` findings as `check -> [level]`, and the exit status.
fn doctor(env: &[(&str, String)], location: &str) -> (i32, Vec<(String, String, String)>) {
    let out = rpmbucket(env, &["doctor", location, "--json"]);
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let rows = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["check"].as_str().unwrap().to_owned(),
                r["level"].as_str().unwrap().to_owned(),
                format!("{} {}", r["detail"], r["fix"]),
            )
        })
        .collect();
    (out.status.code().unwrap(), rows)
}

fn level<'a>(rows: &'a [(String, String, String)], check: &str, needle: &str) -> &'a str {
    rows.iter()
        .find(|(c, _, d)| c == check && d.contains(needle))
        .map(|(_, l, _)| l.as_str())
        .unwrap_or_else(|| panic!("no {check} finding with {needle:?}: {rows:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_tells_a_good_bucket_from_a_bad_one_on_moto() {
    use aws_sdk_s3::types::{
        AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus,
        CorsConfiguration, CorsRule, Event, ExpirationStatus, FilterRule, FilterRuleName,
        LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
        NotificationConfiguration, NotificationConfigurationFilter, PublicAccessBlockConfiguration,
        QueueConfiguration, S3KeyFilter, ServerSideEncryption, ServerSideEncryptionByDefault,
        ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
    };
    let server: MotoServer = moto().await;
    let env = server.env_vars();
    let queue = |events: Vec<Event>| {
        NotificationConfiguration::builder()
            .queue_configurations(
                QueueConfiguration::builder()
                    .queue_arn("arn:aws:sqs:us-east-1:123456789012:rpmbucket-events")
                    .set_events(Some(events))
                    .filter(
                        NotificationConfigurationFilter::builder()
                            .key(
                                S3KeyFilter::builder()
                                    .filter_rules(
                                        FilterRule::builder()
                                            .name(FilterRuleName::Suffix)
                                            .value(".rpm")
                                            .build(),
                                    )
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let enable_versioning = |c: aws_sdk_s3::Client, b: String| async move {
        c.put_bucket_versioning()
            .bucket(b)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    };

    // Good: what infra/terraform makes.
    let good = server.new_bucket().await;
    let c = good.client();
    let b = good.bucket();
    c.put_bucket_notification_configuration()
        .bucket(b)
        .notification_configuration(queue(vec![
            Event::from("s3:ObjectCreated:*"),
            Event::from("s3:ObjectRemoved:*"),
        ]))
        .send()
        .await
        .unwrap();
    enable_versioning(c.clone(), b.to_owned()).await;
    c.put_public_access_block()
        .bucket(b)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.put_bucket_encryption()
        .bucket(b)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // Every lifecycle rule here is enabled for every key.
    let rule = |id: &str, r: aws_sdk_s3::types::builders::LifecycleRuleBuilder| {
        r.id(id)
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .build()
            .unwrap()
    };
    let put_lifecycle = |c: aws_sdk_s3::Client, b: String, rules: Vec<LifecycleRule>| async move {
        c.put_bucket_lifecycle_configuration()
            .bucket(b)
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .set_rules(Some(rules))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    };
    // One package in s3://BUCKET/el9/x86_64/.
    let add_basic = |b: &str| {
        let repo = format!("s3://{b}/el9/x86_64/");
        expect(
            &env,
            &["add", &repo, fixture(fx::BASIC).to_str().unwrap()],
            0,
        );
    };
    put_lifecycle(
        c.clone(),
        b.to_owned(),
        vec![
            rule(
                "expire-noncurrent-versions",
                LifecycleRule::builder().noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(30)
                        .build(),
                ),
            ),
            rule(
                "abort-incomplete-multipart-uploads",
                LifecycleRule::builder().abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(7)
                        .build(),
                ),
            ),
        ],
    )
    .await;
    add_basic(b);
    let (code, rows) = doctor(&env, &format!("s3://{b}"));
    assert_eq!(code, 0, "{rows:#?}");
    assert!(rows.iter().all(|(_, l, _)| l == "ok"), "{rows:#?}");
    // The versioning setting was read (moto's answer has a non-AWS root element).
    assert_eq!(level(&rows, "lifecycle", "old versions expire"), "ok");
    for check in [
        "bucket",
        "conditional-writes",
        "notifications",
        "public-access",
        "encryption",
        "cors",
        "lifecycle",
        "metadata",
    ] {
        assert!(
            rows.iter().any(|(c, _, _)| c == check),
            "{check}: {rows:#?}"
        );
    }
    assert_eq!(level(&rows, "metadata", "1 repositories"), "ok");
    let text = expect(&env, &["doctor", &format!("s3://{b}")], 0);
    assert!(text.contains("0 warnings, 0 failed"), "{text}");

    // Bad: creates notified but not deletes, anyone may upload, a CORS rule lets any site
    // write, current objects expire, versions pile up, no encryption block, no PAB.
    let bad = server.new_bucket().await;
    let c = bad.client();
    let b = bad.bucket();
    c.put_bucket_notification_configuration()
        .bucket(b)
        .notification_configuration(queue(vec![Event::from("s3:ObjectCreated:*")]))
        .send()
        .await
        .unwrap();
    c.put_bucket_policy()
        .bucket(b)
        .policy(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::{b}/*"}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    c.put_bucket_cors()
        .bucket(b)
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(
                    CorsRule::builder()
                        .allowed_origins("*")
                        .allowed_methods("GET")
                        .allowed_methods("PUT")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    enable_versioning(c.clone(), b.to_owned()).await;
    put_lifecycle(
        c.clone(),
        b.to_owned(),
        vec![rule(
            "cleanup",
            LifecycleRule::builder().expiration(LifecycleExpiration::builder().days(30).build()),
        )],
    )
    .await;
    // Metadata that cannot be read.
    add_basic(b);
    c.put_object()
        .bucket(b)
        .key("el9/x86_64/repodata/repomd.xml")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            b"<not repomd",
        ))
        .send()
        .await
        .unwrap();
    let (code, rows) = doctor(&env, &format!("s3://{b}"));
    assert_eq!(code, 2, "{rows:#?}");
    assert_eq!(
        level(&rows, "notifications", "removed ones are not"),
        "warn"
    );
    assert_eq!(level(&rows, "public-access", "s3:PutObject"), "fail");
    assert_eq!(level(&rows, "cors", "PUT from any origin"), "warn");
    assert_eq!(
        level(&rows, "lifecycle", "cleanup expire current objects"),
        "fail"
    );
    assert_eq!(
        level(&rows, "lifecycle", "AbortIncompleteMultipartUpload"),
        "warn"
    );
    assert_eq!(
        level(&rows, "lifecycle", "NoncurrentVersionExpiration"),
        "warn"
    );
    assert_eq!(level(&rows, "metadata", "reconcile"), "fail");
    assert_eq!(level(&rows, "conditional-writes", "honoured"), "ok");
    let text = rpmbucket(&env, &["doctor", &format!("s3://{b}")]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("fix: remove the statement"), "{text}");

    // Usage errors and a missing bucket.
    refused(&env, &["doctor"], "LOCATION");
    let out = rpmbucket(&env, &["doctor", "s3://no-such-bucket-rpmbucket"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("cannot be reached"));
    let help = expect(&[], &["doctor", "--help"], 0);
    assert!(help.contains("Example"), "{help}");
}

#[test]
fn doctor_on_a_directory_finds_strays_and_broken_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("el9");
    fs::create_dir(&repo).unwrap();
    let dir = tmp.path().to_str().unwrap();
    expect(
        &[],
        &[
            "add",
            repo.to_str().unwrap(),
            fixture(fx::BASIC).to_str().unwrap(),
        ],
        0,
    );
    let (code, rows) = doctor(&[], dir);
    assert_eq!(code, 0, "{rows:#?}");
    assert!(rows.iter().all(|(_, l, _)| l == "ok"), "{rows:#?}");

    // A temporary file of a writer that died two hours ago.
    let stray = repo.join(".rpmbucket-tmp-99-1-2");
    fs::write(&stray, b"half an upload").unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(7200);
    fs::File::options()
        .write(true)
        .open(&stray)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let (code, rows) = doctor(&[], dir);
    assert_eq!(code, 0, "{rows:#?}");
    assert_eq!(level(&rows, "temp-files", ".rpmbucket-tmp-99-1-2"), "warn");

    fs::write(repo.join("repodata/repomd.xml"), b"<broken").unwrap();
    let (code, rows) = doctor(&[], dir);
    assert_eq!(code, 2, "{rows:#?}");
    assert_eq!(level(&rows, "metadata", "el9/"), "fail");
    refused(&[], &["doctor", "/nonexistent/dir"], "not a directory");
}

/// `PUT` a package to `rpmbucket serve` with curl; returns the HTTP status.
fn curl_put(base: &str, dir: &str, file: &Path) -> String {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--noproxy",
            "*",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-T",
        ])
        .arg(file)
        .arg(format!("{base}/{dir}/"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn config_stores_the_package_policy_and_signing_and_the_server_honours_them() {
    use rpmbucket_tests::gpg::{policy_packages, Algo, Gpg};
    let gpg = Gpg::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let pkgs = policy_packages(&gpg, tmp.path()).unwrap();
    let keys = gpg.write("trusted.asc", &pkgs.trusted).unwrap();
    let at_keys = format!("trusted-keys=@{}", keys.display());
    let root = tmp.path().join("root");
    let repo_dir = root.join("el9");
    fs::create_dir_all(&repo_dir).unwrap();
    let repo = repo_dir.to_str().unwrap();

    // Validation: nothing stored on a bad value.
    refused(
        &[],
        &["config", repo, "package-policy=keys"],
        "needs trusted-keys",
    );
    refused(
        &[],
        &["config", repo, "package-policy=maybe"],
        "one of off, signed, keys",
    );
    refused(&[], &["config", repo, "trusted-keys=ABCD"], "@FILE");
    refused(
        &[],
        &["config", repo, "trusted-keys=@/nonexistent.asc"],
        "reading",
    );
    let not_a_key = tmp.path().join("not-a-key.asc");
    fs::write(&not_a_key, "hello").unwrap();
    refused(
        &[],
        &[
            "config",
            repo,
            &format!("trusted-keys=@{}", not_a_key.display()),
        ],
        "trusted-keys",
    );
    refused(&[], &["config", repo, "signing=on"], "--signing-key");
    let shown = expect(&[], &["config", repo], 0);
    assert!(
        shown.contains("package-policy=off\ntrusted-keys=none\nsigning=off\n"),
        "{shown}"
    );

    let v: Value = serde_json::from_str(&expect(
        &[],
        &["config", repo, "package-policy=keys", &at_keys, "--json"],
        0,
    ))
    .unwrap();
    assert_eq!(v["package-policy"], "keys", "{v}");
    assert_eq!(v["trusted-keys"].as_array().unwrap().len(), 2, "{v}");

    // The local server (the gateway's local mode) publishes by the stored policy.
    let server = serve(&root);
    for p in pkgs.good.iter().chain([&pkgs.unsigned, &pkgs.by_other]) {
        assert_eq!(curl_put(&server.base, "el9", p), "201", "{}", p.display());
    }
    let status = |name: &str| {
        let out = Command::new("curl")
            .args(["-sS", "--noproxy", "*", "-w", "\n%{http_code}"])
            .arg(format!("{}/status/el9/{name}?wait=20", server.base))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(status("good-rsa.rpm").ends_with("\n200"));
    assert!(status("good-ed.rpm").ends_with("\n200"));
    let unsigned = status("unsigned.rpm");
    assert!(unsigned.ends_with("\n422"), "{unsigned}");
    let other = status("other.rpm");
    assert!(other.ends_with("\n422"), "{other}");
    assert!(other.contains(&pkgs.other_key_id), "{other}");
    assert_eq!(
        dnf_nevras(&format!("{}/el9/", server.base)).unwrap(),
        ["fx-basic-0:1.0-1.noarch", "fx-lib-0:1.0-1.noarch"]
            .map(String::from)
            .into()
    );
    drop(server);

    // Policy off again: every package is checked again, the refused ones come in.
    expect(
        &[],
        &["config", repo, "package-policy=off", "trusted-keys=none"],
        0,
    );
    assert_eq!(ls_json(&[], repo).len(), 4);
    // And on again: the published unsigned ones leave.
    expect(&[], &["config", repo, "package-policy=keys", &at_keys], 0);
    assert_eq!(ls_json(&[], repo).len(), 2);
    expect(
        &[],
        &["config", repo, "package-policy=off", "trusted-keys=none"],
        0,
    );

    // Signing: the key is the publisher's. A signed repository refuses a change without it,
    // takes it with --signing-key, and stops signing only when told.
    let fpr = gpg.generate("Config Repo", Algo::Ed25519).unwrap();
    let key = gpg
        .write("repo-key.asc", &gpg.export_secret(&[&fpr]).unwrap())
        .unwrap();
    let key = key.to_str().unwrap();
    expect(&[], &["reconcile", "--signing-key", key, repo], 0);
    let shown = expect(&[], &["config", repo], 0);
    assert!(shown.contains(&format!("signing={fpr}\n")), "{shown}");
    refused(
        &[],
        &["config", repo, "keep-versions=3"],
        "--signing-key FILE",
    );
    let asc = repo_dir.join("repodata/repomd.xml.asc");
    let before = fs::read(&asc).unwrap();
    let out = expect(
        &[],
        &["config", repo, "keep-versions=3", "--signing-key", key],
        0,
    );
    assert!(out.contains(&format!("signing={fpr}\n")), "{out}");
    assert_ne!(
        fs::read(&asc).unwrap(),
        before,
        "the new repomd.xml is signed"
    );
    let out = expect(&[], &["config", repo, "signing=off"], 0);
    assert!(out.contains("signing=off\n"), "{out}");
    assert!(!asc.exists());
    assert!(expect(&[], &["config", repo], 0).contains("signing=off\n"));
}

/// Polls `ls --json` of `repo` until its NEVRAs are `want` (the server publishes after it
/// answered the upload); returns the last set seen.
fn wait_for_nevras(repo: &str, want: &BTreeSet<String>) -> BTreeSet<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = nevras_of(&ls_json(&[], repo));
        if &got == want || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn retention_through_the_local_server_dnf_sees_only_kept_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let repo_dir = root.join("el9/x86_64");
    fs::create_dir_all(&repo_dir).unwrap();
    let repo = repo_dir.to_str().unwrap();
    let built = tmp.path().join("built");
    fs::create_dir(&built).unwrap();
    let pkgs = versions(&built);
    let ls_form = |(epoch, version): (u32, &str)| {
        if epoch == 0 {
            format!("rt-app-{version}-1.noarch")
        } else {
            format!("rt-app-{epoch}:{version}-1.noarch")
        }
    };

    // Stored before the first upload; the server (the gateway's local mode) applies it at each
    // of its publishes. Uploads with curl, in an order that is neither oldest nor newest first.
    expect(&[], &["config", repo, "keep-versions=2"], 0);
    let server = serve(&root);
    for &i in &ORDER {
        assert_eq!(curl_put(&server.base, "el9/x86_64", &pkgs[i]), "201");
    }
    let kept: BTreeSet<String> = [VERSIONS[3], VERSIONS[4]].map(ls_form).into();
    assert_eq!(wait_for_nevras(repo, &kept), kept);
    let url = format!("{}/el9/x86_64/", server.base);
    let dnf_kept: BTreeSet<String> = [VERSIONS[3], VERSIONS[4]].map(dnf_form).into();
    assert_eq!(dnf_nevras(&url).unwrap(), dnf_kept);
    // The page the server answers the repository URL with lists the same two.
    let page = http_get(&url);
    assert_eq!(
        page.body.matches("<tr data-search=").count(),
        2,
        "{}",
        page.body
    );

    // --dry-run names what a stricter rule would drop and changes nothing.
    let dry = expect(&[], &["config", repo, "keep-versions=1", "--dry-run"], 0);
    assert!(
        dry.contains("rt-app-0-1.0.1-1.noarch.rpm (would be dropped by retention)"),
        "{dry}"
    );
    assert_eq!(dnf_nevras(&url).unwrap(), dnf_kept);

    // keep-days: with keep-versions=1, a young older version uploaded through the server stays.
    expect(&[], &["config", repo, "keep-versions=1", "keep-days=30"], 0);
    let mut b = PackageBuilder::new("rt-app", "0.9", "MIT", "noarch", "retention test");
    b.release("1");
    let older = built.join("rt-app-0-0.9-1.noarch.rpm");
    b.build().unwrap().write_file(&older).unwrap();
    assert_eq!(curl_put(&server.base, "el9/x86_64", &older), "201");
    let young: BTreeSet<String> = [VERSIONS[3], VERSIONS[4], (0, "0.9")].map(ls_form).into();
    assert_eq!(wait_for_nevras(repo, &young), young);
    assert_eq!(
        dnf_nevras(&url).unwrap(),
        [VERSIONS[3], VERSIONS[4], (0, "0.9")].map(dnf_form).into()
    );
    // Without keep-days only the newest is left, for the server's next publish too.
    expect(&[], &["config", repo, "keep-days=off"], 0);
    assert_eq!(curl_put(&server.base, "el9/x86_64", &pkgs[0]), "201");
    let newest: BTreeSet<String> = [ls_form(VERSIONS[4])].into();
    assert_eq!(wait_for_nevras(repo, &newest), newest);
    assert_eq!(dnf_nevras(&url).unwrap(), [dnf_form(VERSIONS[4])].into());
}

/// Every command and subcommand: `--help` exits 0 with an example of itself, an unknown option
/// and missing arguments exit 1 with a usage message on stderr and nothing on stdout.
#[test]
fn every_command_has_help_with_an_example_and_refuses_bad_arguments() {
    let commands: &[&[&str]] = &[
        &[],
        &["index"],
        &["reconcile"],
        &["config"],
        &["add"],
        &["ls"],
        &["rm"],
        &["status"],
        &["promote"],
        &["doctor"],
        &["serve"],
        &["token"],
        &["token", "hash"],
    ];
    for cmd in commands {
        let mut args = cmd.to_vec();
        args.push("--help");
        let help = expect(&[], &args, 0);
        assert!(help.contains("Examples:"), "{cmd:?}: {help}");
        let own = format!("rpmbucket {}", cmd.join(" "));
        let example = help.split("Examples:").nth(1).unwrap();
        assert!(example.contains(own.trim_end()), "{cmd:?}: {example}");

        let mut bad = cmd.to_vec();
        bad.push("--no-such-option");
        let out = rpmbucket(&[], &bad);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bad:?}: {stderr}");
        assert!(stderr.contains("--no-such-option"), "{bad:?}: {stderr}");
        assert!(stderr.contains("Usage:"), "{bad:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{bad:?}");
    }
    // Missing required arguments name what is missing.
    for (args, needle) in [
        (&["index"][..], "DIR"),
        (&["reconcile"][..], "s3://BUCKET"),
        (&["config"][..], "REPO"),
        (&["add", "./x"][..], "FILE"),
        (&["ls"][..], "REPO"),
        (&["rm", "./x"][..], "NEVRA|KEY"),
        (&["status"][..], "REPO"),
        (&["promote", "./a", "./b"][..], "NAME|NEVRA"),
        (&["doctor"][..], "LOCATION"),
        (&["serve"][..], "--root"),
        (&["token"][..], "hash"),
        (&["no-such-command"][..], "unrecognized subcommand"),
    ] {
        refused(&[], args, needle);
    }
    // Bad values are refused with the reason, before anything is touched.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    refused(
        &[],
        &["serve", "--root", dir, "--listen", "nowhere"],
        "nowhere",
    );
    refused(
        &[],
        &["token", "hash", "--scheme", "md5"],
        "possible values: auto, sha256, argon2",
    );
    refused(
        &[],
        &["token", "hash", "--generate", "--permissions", "rwx"],
        "unknown permission \"rwx\"",
    );
    let out = Command::new(rpmbucket_bin())
        .args(["token", "hash"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty secret"));
    refused(&[], &["index", "/nonexistent/dir"], "/nonexistent/dir");
    refused(&[], &["reconcile", "/nonexistent/dir"], "/nonexistent/dir");
    refused(&[], &["ls", "/nonexistent/dir"], "not a directory");
    refused(&[], &["status", "/nonexistent/dir"], "not a directory");
    refused(&[], &["rm", dir, "nope-1-1.noarch"], "no such package");
    refused(&[], &["promote", dir, dir, "x"], "same repository");
    refused(
        &[],
        &["promote", "s3://a/x/", "s3://b/y/", "x"],
        "different buckets",
    );

    // A token line from a secret on stdin: exit 0 and a line that `serve --tokens` accepts.
    let mut child = Command::new(rpmbucket_bin())
        .args([
            "token",
            "hash",
            "--user",
            "qa",
            "--permissions",
            "r",
            "--scheme",
            "sha256",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"0123456789abcdef0123456789abcdef0123456789abcdef\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.starts_with("qa:") && line.trim_end().ends_with(" r"),
        "{line}"
    );
}

/// Runs `rpmbucket ARGS` with a terminal as stdin/stdout/stderr (util-linux `script`); returns
/// the exit status and everything the terminal received.
fn on_a_terminal(args: &[&str]) -> (i32, String) {
    on_a_terminal_with(&[], args)
}

/// [`on_a_terminal`] with `env` added.
fn on_a_terminal_with(env: &[(&str, String)], args: &[&str]) -> (i32, String) {
    let mut line = shell_quote(rpmbucket_bin().to_str().unwrap());
    for a in args {
        line.push(' ');
        line.push_str(&shell_quote(a));
    }
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("TERM", "xterm")
        .env("COLUMNS", "100")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .expect("run script (util-linux)");
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `index` and `add` draw a progress bar when stderr is a terminal, and write not one byte of
/// it (no escape sequences, no counters) when it is not.
#[test]
fn progress_bars_on_a_terminal_and_none_in_scripts() {
    let tmp = tempfile::tempdir().unwrap();
    let (tty_dir, pipe_dir) = (tmp.path().join("tty"), tmp.path().join("pipe"));
    for d in [&tty_dir, &pipe_dir] {
        fs::create_dir(d).unwrap();
        for f in fx::ALL {
            fs::copy(fixture(f), d.join(f)).unwrap();
        }
    }
    let n = fx::ALL.len();
    let (code, seen) = on_a_terminal(&["index", tty_dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{seen}");
    assert!(
        seen.contains(&format!("/{n}")),
        "no bar on a terminal: {seen:?}"
    );
    assert!(seen.contains('\u{1b}'), "{seen:?}");
    let out = rpmbucket(&[], &["index", pipe_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let quiet =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!quiet.contains('\u{1b}'), "{quiet:?}");
    assert!(!quiet.contains(&format!("/{n}")), "{quiet:?}");

    let (a, b) = (tmp.path().join("add-tty"), tmp.path().join("add-pipe"));
    let files: Vec<String> = [fx::BASIC, fx::LIB_1_0, fx::LIB_1_2]
        .iter()
        .map(|f| fixture(f).to_str().unwrap().to_owned())
        .collect();
    for (dir, tty) in [(&a, true), (&b, false)] {
        fs::create_dir(dir).unwrap();
        let mut args = vec!["add", dir.to_str().unwrap()];
        args.extend(files.iter().map(String::as_str));
        if tty {
            let (code, seen) = on_a_terminal(&args);
            assert_eq!(code, 0, "{seen}");
            assert!(
                seen.contains("uploading ["),
                "no bar on a terminal: {seen:?}"
            );
            assert!(seen.contains("3 packages, revision"), "{seen:?}");
        } else {
            let out = rpmbucket(&[], &args);
            assert_eq!(out.status.code(), Some(0));
            assert!(
                out.stderr.is_empty(),
                "{:?}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stdout = String::from_utf8(out.stdout).unwrap();
            assert!(
                !stdout.contains('\u{1b}') && !stdout.contains("uploading"),
                "{stdout:?}"
            );
        }
    }
}

/// Runs `args` piped (stderr not a terminal): must succeed and print no bar of `what`, not one
/// escape byte; returns stdout.
fn quiet_in_a_pipe(env: &[(&str, String)], args: &[&str], what: &str) -> String {
    let out = rpmbucket(env, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    for text in [&stderr, &stdout] {
        assert!(!text.contains('\u{1b}'), "{args:?}: {text:?}");
        assert!(!text.contains(&format!("{what} [")), "{args:?}: {text:?}");
    }
    stdout
}

/// Runs `args` on a terminal: must succeed, draw a bar `what [...] k/total`, and still print
/// `result`.
fn bar_on_a_terminal(
    env: &[(&str, String)],
    args: &[&str],
    what: &str,
    total: usize,
    result: &str,
) {
    let (code, seen) = on_a_terminal_with(env, args);
    assert_eq!(code, 0, "{args:?}: {seen}");
    assert!(
        seen.contains(&format!("{what} [")) && seen.contains(&format!("/{total}")),
        "no {what} bar on a terminal for {args:?}: {seen:?}"
    );
    assert!(seen.contains('\u{1b}'), "{seen:?}");
    assert!(seen.contains(result), "{args:?}: {seen:?}");
}

/// `reconcile` (reading the drifted packages), `index s3://` (reading every package) and
/// `promote` (copying) draw a bar on a terminal and write nothing of it in a pipe.
#[tokio::test(flavor = "multi_thread")]
async fn progress_bars_on_reconcile_index_s3_and_promote() {
    let tmp = tempfile::tempdir().unwrap();
    let drifted = [fx::LIB_1_0, fx::LIB_1_2, fx::UTF8];
    // reconcile DIR: three packages put next to a published one without publishing.
    let (tty, pipe) = (tmp.path().join("tty"), tmp.path().join("pipe"));
    for d in [&tty, &pipe] {
        fs::create_dir(d).unwrap();
        expect(
            &[],
            &[
                "add",
                d.to_str().unwrap(),
                fixture(fx::BASIC).to_str().unwrap(),
            ],
            0,
        );
        for f in drifted {
            fs::copy(fixture(f), d.join(f)).unwrap();
        }
    }
    bar_on_a_terminal(
        &[],
        &["reconcile", tty.to_str().unwrap()],
        "reading",
        3,
        "+ ",
    );
    let out = quiet_in_a_pipe(&[], &["reconcile", pipe.to_str().unwrap()], "reading");
    assert_eq!(
        out.lines()
            .filter(|l| l.trim_start().starts_with("+ "))
            .count(),
        3,
        "{out}"
    );
    assert_eq!(ls_json(&[], tty.to_str().unwrap()).len(), 4);

    // promote DIR DIR: three copies.
    let names = ["fx-basic", "fx-lib", "fx-utf8"];
    for (from, tty_run) in [(&tty, true), (&pipe, false)] {
        let to = from.join("stable");
        fs::create_dir(&to).unwrap();
        let mut args = vec!["promote", from.to_str().unwrap(), to.to_str().unwrap()];
        args.extend(names);
        if tty_run {
            bar_on_a_terminal(&[], &args, "copying", 3, "3 packages, revision");
        } else {
            let out = quiet_in_a_pipe(&[], &args, "copying");
            assert!(out.contains("3 packages, revision"), "{out}");
        }
        assert_eq!(ls_json(&[], to.to_str().unwrap()).len(), 3);
    }

    // index s3://: every package of a prefix no metadata knows yet is read.
    let server: MotoServer = moto().await;
    let store = server.new_bucket().await;
    let env: Vec<(&str, String)> = server.env_vars();
    for prefix in ["tty/", "pipe/"] {
        for f in fx::ALL {
            store
                .put_file(&format!("{prefix}{f}"), &fixture(f), Default::default())
                .await
                .unwrap();
        }
    }
    let n = fx::ALL.len();
    let bucket = store.bucket().to_owned();
    bar_on_a_terminal(
        &env,
        &["index", &format!("s3://{bucket}/tty/")],
        "reading",
        n,
        "tty/",
    );
    quiet_in_a_pipe(&env, &["index", &format!("s3://{bucket}/pipe/")], "reading");
    assert_eq!(ls_json(&env, &format!("s3://{bucket}/pipe/")).len(), n);
}

/// Logs written to a pipe (a log file, journald, CloudWatch) are plain text: no colour escape
/// codes between a field's name and its value, so `grep 'packages=3'` finds it.
#[test]
fn engine_logs_on_a_pipe_are_plain_text() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    fs::create_dir(&repo).unwrap();
    let rpms = rpmbucket_tests::fixture_rpms();
    for rpm in rpms.iter().take(3) {
        fs::copy(rpm, repo.join(rpm.file_name().unwrap())).unwrap();
    }
    let env = [("RPMBUCKET_LOG", "rpmbucket_engine=info".to_string())];
    let out = rpmbucket(&env, &["reconcile", repo.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("publish done"), "no engine log: {stderr}");
    assert!(stderr.contains(" added=3 "), "fields not plain: {stderr}");
    assert!(
        !stderr.contains('\x1b'),
        "escape codes on a pipe: {stderr:?}"
    );
}

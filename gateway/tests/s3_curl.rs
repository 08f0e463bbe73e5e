//! The gateway in S3 mode against moto, driven by the real `curl`: the 307 redirect flow and the
//! presign flow, with and without a bound SHA-256. (moto accepts any signature and body; the
//! refusals of expired/tampered URLs and wrong bodies are tested against LocalStack.)

use std::time::Duration;

use rpmbucket_gateway::presign::hex_to_base64;
use rpmbucket_tests::{fixture, fx};
use sha2::Digest;

mod common;

use common::{curl, s, Gateway};

async fn gateway() -> Gateway {
    Gateway::start(common::moto_client(), Duration::from_secs(120)).await
}

fn sha256_hex(path: &std::path::Path) -> String {
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_flow_uploads_to_s3_without_leaking_credentials() {
    let gw = gateway().await;
    let pkg = fixture(fx::BASIC);
    let c = curl(vec![
        s("-v"),
        s("-f"),
        s("-L"),
        s("-u"),
        s("ci:pw"),
        s("-T"),
        pkg.display().to_string(),
        gw.url("el9/x86_64/"),
    ])
    .await;
    assert!(c.ok, "{}", c.stderr);
    assert!(c.stderr.contains("< HTTP/1.1 307"), "{}", c.stderr);
    // Credentials go to the gateway only, never to the presigned S3 URL.
    let auth_lines = c
        .stderr
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("> authorization:"))
        .count();
    assert_eq!(auth_lines, 1, "{}", c.stderr);
    assert_eq!(
        gw.object("el9/x86_64/fx-basic-1.0-1.noarch.rpm")
            .await
            .unwrap(),
        std::fs::read(&pkg).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_flow_with_bound_checksum_header() {
    let gw = gateway().await;
    let pkg = fixture(fx::LIB_1_2);
    let b64 = hex_to_base64(&sha256_hex(&pkg)).unwrap();
    let c = curl(vec![
        s("-v"),
        s("-f"),
        s("-L"),
        s("-u"),
        s("ci:pw"),
        s("-H"),
        format!("x-amz-checksum-sha256: {b64}"),
        s("-T"),
        pkg.display().to_string(),
        gw.url("el9/x86_64/"),
    ])
    .await;
    assert!(c.ok, "{}", c.stderr);
    // The presigned URL signs the length and the checksum header, and curl sends it on to S3.
    let location = c
        .stderr
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("< location:"))
        .unwrap()
        .to_string();
    assert!(
        location.contains("X-Amz-SignedHeaders=content-length%3Bhost%3Bx-amz-checksum-sha256"),
        "{location}"
    );
    let sent = c
        .stderr
        .lines()
        .filter(|l| l.starts_with("> x-amz-checksum-sha256:"))
        .count();
    assert_eq!(sent, 2, "{}", c.stderr);
    assert_eq!(
        gw.object("el9/x86_64/fx-lib-1.2-1.noarch.rpm")
            .await
            .unwrap(),
        std::fs::read(&pkg).unwrap()
    );
    // A sha256= query alone cannot work in the redirect flow (curl would not forward it as the
    // signed header): refused with the reason.
    let c = curl(vec![
        s("-u"),
        s("ci:pw"),
        s("-T"),
        pkg.display().to_string(),
        gw.url(&format!("el9/x86_64/?sha256={}", sha256_hex(&pkg))),
    ])
    .await;
    assert!(c.stdout.contains("send it as a header"), "{}", c.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presign_flow_text_and_json() {
    let gw = gateway().await;
    let pkg = fixture(fx::LIB_1_0);
    // Text: the one-liner from the README.
    let url = curl(vec![
        s("-f"),
        s("-u"),
        s("ci:pw"),
        gw.url(&format!(
            "presign/el9/x86_64/fx-lib-1.0-1.noarch.rpm?size={}",
            std::fs::metadata(&pkg).unwrap().len()
        )),
    ])
    .await;
    assert!(url.ok, "{}", url.stderr);
    let c = curl(vec![
        s("-f"),
        s("-T"),
        pkg.display().to_string(),
        url.stdout.trim().to_string(),
    ])
    .await;
    assert!(c.ok, "{}", c.stderr);
    assert_eq!(
        gw.object("el9/x86_64/fx-lib-1.0-1.noarch.rpm")
            .await
            .unwrap(),
        std::fs::read(&pkg).unwrap()
    );
    // JSON with a bound checksum: send the listed headers.
    let pkg = fixture(fx::EPOCH);
    let hex = sha256_hex(&pkg);
    let j = curl(vec![
        s("-f"),
        s("-u"),
        s("ci:pw"),
        s("-H"),
        s("Accept: application/json"),
        gw.url(&format!(
            "presign/el9/{}?sha256={hex}&size={}",
            fx::EPOCH.replace('^', "%5E"),
            std::fs::metadata(&pkg).unwrap().len()
        )),
    ])
    .await;
    assert!(j.ok, "{}", j.stderr);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["sha256"], hex.as_str());
    let mut args = vec![s("-f")];
    for (k, val) in v["headers"].as_object().unwrap() {
        args.push(s("-H"));
        args.push(format!("{k}: {}", val.as_str().unwrap()));
    }
    // The checksum header and the signed size.
    assert_eq!(
        args.len(),
        5,
        "exactly the checksum and length headers: {v}"
    );
    assert!(
        args.iter().any(|a| a.starts_with("content-length: ")),
        "{v}"
    );
    args.extend([
        s("-T"),
        pkg.display().to_string(),
        s(v["url"].as_str().unwrap()),
    ]);
    let c = curl(args).await;
    assert!(c.ok, "{}", c.stderr);
    assert_eq!(
        gw.object(&format!("el9/{}", fx::EPOCH)).await.unwrap(),
        std::fs::read(&pkg).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_body_is_never_read_by_the_gateway() {
    let gw = gateway().await;
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big-1.0-1.noarch.rpm");
    let body: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&big, &body).unwrap();
    let trace = dir.path().join("trace.txt");
    let c = curl(vec![
        s("-f"),
        s("-L"),
        s("-u"),
        s("ci:pw"),
        s("--trace-ascii"),
        trace.display().to_string(),
        s("-T"),
        big.display().to_string(),
        gw.url("el9/x86_64/"),
    ])
    .await;
    assert!(c.ok, "{}", c.stderr);
    let trace = std::fs::read_to_string(&trace).unwrap();
    assert!(trace.contains("Expect: 100-continue"));
    // Body bytes sent over both connections add up to one copy: the gateway answered the 307
    // before the body and none of it went to the gateway.
    let sent: u64 = trace
        .lines()
        .filter_map(|l| l.strip_prefix("=> Send data, "))
        .filter_map(|l| l.split(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(sent, body.len() as u64, "body sent {sent} bytes");
    assert_eq!(
        gw.object("el9/x86_64/big-1.0-1.noarch.rpm")
            .await
            .unwrap()
            .len(),
        body.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_the_object() {
    let gw = gateway().await;
    gw.client
        .put_object()
        .bucket(&gw.bucket)
        .key("el9/gone-1-1.noarch.rpm")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    let c = curl(vec![
        s("-f"),
        s("-u"),
        s("ci:pw"),
        s("-X"),
        s("DELETE"),
        gw.url("el9/gone-1-1.noarch.rpm"),
    ])
    .await;
    assert!(c.ok, "{}", c.stderr);
    assert!(gw.object("el9/gone-1-1.noarch.rpm").await.is_none());
}

/// The whole S3 path: packages uploaded through the gateway by every flow, indexed by the engine
/// as the indexer Lambda would (one `apply` with the changes the S3 events describe), then the
/// status route reports them and dnf installs from the bucket over plain HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploaded_packages_are_indexed_and_installable_from_the_bucket() {
    use rpmbucket_engine::{Change, Indexer, Layout, ObjectStore, RepoConfig};

    let moto = rpmbucket_engine::testkit::moto().await;
    let store = moto.new_bucket().await;
    moto.make_public(&store).await;
    let gw = Gateway::start_in(
        store.client().clone(),
        store.bucket().to_string(),
        Duration::from_secs(120),
    )
    .await;
    let root = "el9/x86_64/";
    let auth = [s("-f"), s("-u"), s("ci:pw")];

    // 1. redirect flow, no checksum
    let mut a = auth.to_vec();
    a.extend([
        s("-L"),
        s("-T"),
        fixture(fx::LIB_1_2).display().to_string(),
        gw.url(root),
    ]);
    assert!(curl(a).await.ok);
    // 2. redirect flow, bound checksum header
    let b64 = hex_to_base64(&sha256_hex(&fixture(fx::BASIC))).unwrap();
    let mut a = auth.to_vec();
    a.extend([
        s("-L"),
        s("-H"),
        format!("x-amz-checksum-sha256: {b64}"),
        s("-T"),
        fixture(fx::BASIC).display().to_string(),
        gw.url(root),
    ]);
    assert!(curl(a).await.ok);
    // 3. presign flow, text
    let mut a = auth.to_vec();
    a.push(gw.url(&format!(
        "presign/{root}{}?size={}",
        fx::UTF8,
        std::fs::metadata(fixture(fx::UTF8)).unwrap().len()
    )));
    let url = curl(a).await;
    assert!(url.ok, "{}", url.stderr);
    let c = curl(vec![
        s("-f"),
        s("-T"),
        fixture(fx::UTF8).display().to_string(),
        url.stdout.trim().to_string(),
    ])
    .await;
    assert!(c.ok, "{}", c.stderr);
    // 4. presign flow, JSON with checksum; a key with a space
    let space_hex = sha256_hex(&fixture(fx::SPACE));
    let mut a = auth.to_vec();
    a.extend([
        s("-H"),
        s("Accept: application/json"),
        gw.url(&format!(
            "presign/{root}{}?sha256={space_hex}&size={}",
            fx::SPACE.replace(' ', "%20"),
            std::fs::metadata(fixture(fx::SPACE)).unwrap().len()
        )),
    ]);
    let j = curl(a).await;
    assert!(j.ok, "{}", j.stderr);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["key"], format!("{root}{}", fx::SPACE));
    let mut a = vec![s("-f")];
    for (k, val) in v["headers"].as_object().unwrap() {
        a.extend([s("-H"), format!("{k}: {}", val.as_str().unwrap())]);
    }
    a.extend([
        s("-T"),
        fixture(fx::SPACE).display().to_string(),
        s(v["url"].as_str().unwrap()),
    ]);
    let c = curl(a).await;
    assert!(c.ok, "{}", c.stderr);

    // Not published yet.
    let status = |name: &str| {
        let mut a = auth.to_vec();
        a.push(gw.url(&format!("status/{root}{}", name.replace(' ', "%20"))));
        curl(a)
    };
    assert!(!status(fx::BASIC).await.ok);

    // The indexer's view of the uploads: S3 events carry key and ETag; the checksum is known
    // for the two uploads that bound it.
    let mut changes = Vec::new();
    for (name, sha) in [
        (fx::LIB_1_2, None),
        (fx::BASIC, Some(sha256_hex(&fixture(fx::BASIC)))),
        (fx::UTF8, None),
        (fx::SPACE, Some(space_hex.clone())),
    ] {
        let key = format!("{root}{name}");
        let meta = store.head(&key).await.unwrap();
        let mut c = Change::created(key);
        c.etag = Some(meta.etag);
        c.sha256 = sha;
        changes.push(c);
    }
    let indexer = Indexer::new(
        std::sync::Arc::new(store.clone()),
        Layout::new(Vec::new()),
        RepoConfig::default(),
    );
    let report = indexer.apply(root, &changes).await.unwrap();
    assert_eq!(report.added.len(), 4, "{report:?}");
    assert!(report.rejected.is_empty(), "{report:?}");
    // The two bound checksums spared the indexer reading those bodies.
    assert_eq!(
        (report.hashed_by_checksum, report.hashed_by_stream),
        (2, 2),
        "{report:?}"
    );

    for name in [fx::LIB_1_2, fx::BASIC, fx::UTF8, fx::SPACE] {
        let c = status(name).await;
        assert!(c.ok, "{name}: {}", c.stderr);
        assert!(
            c.stdout.starts_with(&format!(
                "published {root}{name} (revision {})",
                report.revision
            )),
            "{}",
            c.stdout
        );
    }

    // dnf installs from the bucket (fx-basic needs fx-lib: both came through the gateway).
    let baseurl = format!("{}{root}", moto.base_url(&store));
    let installroot = tempfile::tempdir().unwrap();
    let ir = installroot.path().to_path_buf();
    let b = baseurl.clone();
    tokio::task::spawn_blocking(move || rpmbucket_tests::dnf_install(&b, "fx-basic", &ir).unwrap())
        .await
        .unwrap();
    assert!(installroot
        .path()
        .join("usr/share/fx-basic/data.txt")
        .is_file());
    let nevras =
        tokio::task::spawn_blocking(move || rpmbucket_tests::dnf_nevras(&baseurl).unwrap())
            .await
            .unwrap();
    assert!(nevras.contains("fx-space-0:1.0-1.noarch"), "{nevras:?}");
    assert!(nevras.contains("fx-utf8-0:1.0-1.noarch"), "{nevras:?}");
}

/// `POST /promote` on the S3 gateway: a token must read FROM and write TO (403 naming what is
/// missing, nothing copied); the copy is server-side (CopyObject, no GET of a package body, no
/// upload again), the target is published, and dnf sees the promoted packages in the bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_on_s3_copies_server_side_with_read_and_write() {
    let server = rpmbucket_engine::testkit::moto().await;
    let store = common::published_bucket(
        &server,
        "el9/testing/",
        &[fx::LIB_1_0, fx::LIB_1_2, fx::BASIC],
    )
    .await;
    let bucket = store.bucket().to_owned();
    let client = store.client().clone();
    let state = common::s3_state(
        client.clone(),
        bucket.clone(),
        common::promotion_tokens(),
        Duration::from_secs(120),
    );
    let gw = Gateway::start_with(state, client, bucket.clone()).await;
    let url = gw.url("promote?from=el9/testing/&to=el9/stable/");
    // (status, body) of a promote request as `user` naming `names`.
    let promote =
        |user: Option<&'static str>, names: &'static str| common::promote(url.clone(), user, names);
    assert_eq!(promote(None, "fx-lib").await.0, "401");
    let (code, body) = promote(Some("release:rel"), "fx-lib").await;
    assert_eq!(code, "403", "{body}");
    assert!(
        body.contains("no read permission for el9/testing/"),
        "{body}"
    );
    let (code, body) = promote(Some("qa:qa"), "fx-lib").await;
    assert_eq!(code, "403", "{body}");
    assert!(
        body.contains("no write permission for el9/stable/"),
        "{body}"
    );
    let (code, body) = promote(Some("ci:pw"), "nope").await;
    assert_eq!(code, "404", "{body}");
    assert!(gw.object("el9/stable/repodata/repomd.xml").await.is_none());
    assert!(gw
        .object(&format!("el9/stable/{}", fx::LIB_1_2))
        .await
        .is_none());

    server.start_recording();
    let (code, body) = promote(Some("ci:pw"), "fx-lib\nfx-basic-1.0-1.noarch\n").await;
    let requests = server.recorded(&bucket);
    assert_eq!(code, "200", "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["packages"], 2, "{v}");
    let copies = requests.iter().filter(|r| r.method == "COPY").count();
    assert_eq!(copies, 2, "{requests:#?}");
    for r in &requests {
        let rpm = r.path.split('?').next().unwrap().ends_with(".rpm");
        assert!(
            !(rpm && r.method == "PUT"),
            "a package was uploaded again: {r:?}"
        );
        if rpm && r.method == "GET" {
            // A header read at most: a bounded range, never the whole body.
            let range = r
                .range
                .as_deref()
                .unwrap_or_else(|| panic!("whole GET: {r:?}"));
            let (a, b) = range.trim_start_matches("bytes=").split_once('-').unwrap();
            let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
            assert!(b - a < 1 << 20, "{r:?}");
        }
    }
    eprintln!(
        "promote through the S3 gateway: {} requests, {copies} copies",
        requests.len()
    );
    assert_eq!(
        gw.object(&format!("el9/stable/{}", fx::LIB_1_2))
            .await
            .unwrap(),
        std::fs::read(fixture(fx::LIB_1_2)).unwrap()
    );
    let baseurl = format!("{}el9/stable/", server.base_url(&store));
    let nevras =
        tokio::task::spawn_blocking(move || rpmbucket_tests::dnf_nevras(&baseurl).unwrap())
            .await
            .unwrap();
    assert_eq!(nevras, common::promoted_nevras());
}

/// A gateway in S3 mode reaching `bucket` through `proxy`, with these limits and longest wait.
async fn waiting_gateway(
    proxy: &rpmbucket_tests::s3proxy::FaultProxy,
    bucket: &str,
    limits: rpmbucket_gateway::app::Limits,
    max_wait: Duration,
) -> Gateway {
    let client = common::client_for(&proxy.endpoint());
    let mut state = common::s3_state(
        client.clone(),
        bucket.to_string(),
        common::promotion_tokens(),
        Duration::from_secs(120),
    );
    state.limits = limits;
    state.max_wait = max_wait;
    Gateway::start_with(state, client, bucket.to_string()).await
}

/// `/status?wait=` in S3 mode. The indexer publishes from another process, so while a
/// repository has waiters one task reads its `repomd.xml` with a conditional GET: N waiters
/// make one stream of such requests (counted by a proxy in front of moto), not N, and the
/// indexer's publish wakes them all. A publish of the gateway's own (`POST /promote`) wakes
/// its waiters at once, long before the next read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_waiters_share_one_conditional_poll_and_wake_on_publish() {
    use rpmbucket_engine::{Change, Indexer, Layout, ObjectStore, RepoConfig};
    use rpmbucket_tests::s3proxy::{Fault, FaultProxy, Rule};

    const WAITERS: usize = 24;
    const POLL: Duration = Duration::from_millis(250);
    let moto = rpmbucket_engine::testkit::moto().await;
    let store = moto.new_bucket().await;
    let proxy = FaultProxy::start(moto.endpoint()).unwrap();
    let rules = || {
        vec![
            Rule::new("conditional repomd.xml reads", Fault::Latency { ms: 0 })
                .method("GET")
                .key("*repodata/repomd.xml")
                .header("if-none-match"),
            Rule::new("all repomd.xml reads", Fault::Latency { ms: 0 })
                .method("GET")
                .key("*repodata/repomd.xml"),
        ]
    };
    let limits = rpmbucket_gateway::app::Limits::default().with_status_poll(POLL);
    let waiters = limits.waiters().clone();
    let gw = waiting_gateway(&proxy, store.bucket(), limits, Duration::from_secs(60)).await;

    // The other process: an indexer of its own over the bucket (not through the proxy).
    let indexer = Indexer::new(
        std::sync::Arc::new(store.clone()),
        Layout::new(Vec::new()),
        RepoConfig::default(),
    );
    let root = "el9/x86_64/";
    let put = |name: &'static str| {
        let store = store.clone();
        async move {
            let key = format!("{root}{name}");
            let meta = store
                .put_file(&key, &fixture(name), Default::default())
                .await
                .unwrap();
            let mut c = Change::created(key);
            c.etag = Some(meta.etag);
            c
        }
    };
    // The repository exists (so the watcher has an ETag to send); fx-basic is uploaded but
    // not yet indexed.
    let lib = put(fx::LIB_1_2).await;
    indexer.apply(root, &[lib]).await.unwrap();
    let basic = put(fx::BASIC).await;

    let wait_url = |gw: &Gateway, dir: &str, secs: u32| {
        gw.url(&format!("status/{dir}{}?wait={secs}", fx::BASIC))
    };
    let mut tasks = Vec::new();
    for _ in 0..WAITERS {
        let url = wait_url(&gw, root, 60);
        tasks.push(tokio::spawn(async move {
            let c = curl(vec![s("-u"), s("ci:pw"), s("-w"), s("\n%{http_code}"), url]).await;
            (c.stdout, std::time::Instant::now())
        }));
    }
    let started = std::time::Instant::now();
    while waiters.waiting() < WAITERS {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "only {} of {WAITERS} waiters after 60 s",
            waiters.waiting()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(waiters.watched(), 1, "one watch for the one repository");
    // A waiter counts as waiting from its subscription, before its own first check; the
    // watch's first read wakes every waiter for one more check. Once those are over (a
    // window with conditional reads only; per-waiter polling never gets there), count the
    // reads of repomd.xml over 8 poll intervals.
    let quiet_by = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        proxy.set_rules(rules());
        tokio::time::sleep(POLL * 4).await;
        let stats = proxy.stats();
        if stats.rules[0].matched > 0 && stats.rules[1].matched == stats.rules[0].matched {
            break;
        }
        assert!(
            std::time::Instant::now() < quiet_by,
            "repomd.xml still read by more than the watch after 60 s: {stats:?}"
        );
    }
    proxy.set_rules(rules());
    let window = std::time::Instant::now();
    tokio::time::sleep(POLL * 8).await;
    let stats = proxy.stats();
    let elapsed = window.elapsed();
    let (conditional, all) = (stats.rules[0].matched, stats.rules[1].matched);
    let most = (elapsed.as_millis() / POLL.as_millis()) as u64 + 2;
    eprintln!("{WAITERS} waiters: {conditional} conditional reads of repomd.xml in {elapsed:?}");
    assert!(
        (1..=most).contains(&conditional),
        "{conditional} conditional reads in {elapsed:?} for {WAITERS} waiters (one stream: at most {most})"
    );
    assert_eq!(
        all, conditional,
        "every read while nothing changed was conditional"
    );
    assert_eq!(
        waiters.waiting(),
        WAITERS,
        "nobody answered before the publish"
    );

    // The other process publishes: every waiter answers 200, woken well before its 60 s.
    let published_at = std::time::Instant::now();
    indexer.apply(root, &[basic]).await.unwrap();
    for t in tasks {
        let (out, done) = t.await.unwrap();
        let (body, code) = out.rsplit_once('\n').unwrap();
        assert_eq!(code, "200", "{body}");
        assert!(
            body.starts_with(&format!("published {root}{}", fx::BASIC)),
            "{body}"
        );
        assert!(
            done.duration_since(published_at) < Duration::from_secs(20),
            "woken {:?} after the publish",
            done.duration_since(published_at)
        );
    }
    assert_eq!(waiters.waiting(), 0);
    // The watch ends with its last waiter.
    let started = std::time::Instant::now();
    while waiters.watched() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the watch outlived its waiters"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A publish of the gateway's own wakes at once: with reads a minute apart, a waiter on
    // the promotion target answers as soon as the promotion has published.
    drop(gw);
    let limits =
        rpmbucket_gateway::app::Limits::default().with_status_poll(Duration::from_secs(60));
    let waiters = limits.waiters().clone();
    let gw = waiting_gateway(&proxy, store.bucket(), limits, Duration::from_secs(50)).await;
    let url = wait_url(&gw, "el9/stable/", 50);
    let waiter = tokio::spawn(async move {
        let c = curl(vec![s("-u"), s("ci:pw"), s("-w"), s("\n%{http_code}"), url]).await;
        (c.stdout, std::time::Instant::now())
    });
    let started = std::time::Instant::now();
    while waiters.waiting() < 1 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the waiter never waited"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Past the watch's first read (it starts with one), so only a notification can wake it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(waiters.waiting(), 1);
    let promoted = curl(vec![
        s("-f"),
        s("-u"),
        s("ci:pw"),
        s("--data-binary"),
        s("fx-basic"),
        gw.url("promote?from=el9/x86_64/&to=el9/stable/"),
    ])
    .await;
    assert!(promoted.ok, "{} {}", promoted.stdout, promoted.stderr);
    let promoted_at = std::time::Instant::now();
    let (out, done) = waiter.await.unwrap();
    let (body, code) = out.rsplit_once('\n').unwrap();
    assert_eq!(code, "200", "{body}");
    assert!(
        done.duration_since(promoted_at) < Duration::from_secs(20),
        "woken {:?} after the promotion (the next read was a minute away)",
        done.duration_since(promoted_at)
    );
}

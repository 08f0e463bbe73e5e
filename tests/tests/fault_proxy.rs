//! The fault-injecting S3 proxy (`rpmbucket_tests::s3proxy`) in front of a real moto server:
//! each fault does what the S3 client sees from a real failure (checked with the AWS SDK with
//! retries off, then on), and a lying backend (`strip_conditionals`) is refused by the
//! engine's conditional-write probe with `Error::ConditionalWritesIgnored`, also through the
//! `rpmbucket` binary.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use rpmbucket_engine::store::s3::{self, S3Options};
use rpmbucket_engine::testkit::{moto, MotoServer, S3Kind, S3Server};
use rpmbucket_engine::{Change, Error, Indexer, Layout, ObjectStore, PutOptions, RepoConfig};
use rpmbucket_engine::{PutMode, S3Store};
use rpmbucket_tests::s3proxy::{Fault, FaultProxy, Rule};
use rpmbucket_tests::{fixture, fx, rpmbucket_bin};

/// moto, a proxy in front of it, a fresh bucket; `direct` talks to moto, `via` through the proxy.
struct Setup {
    _moto: MotoServer,
    proxy: FaultProxy,
    direct: S3Store,
    bucket: String,
}

async fn setup() -> Setup {
    let moto = moto().await;
    let proxy = FaultProxy::start(moto.endpoint()).expect("start proxy");
    let direct = moto.new_bucket().await;
    let bucket = direct.bucket().to_owned();
    Setup {
        _moto: moto,
        proxy,
        direct,
        bucket,
    }
}

impl Setup {
    /// An SDK client through the proxy making `attempts` attempts per request.
    async fn client(&self, attempts: u32) -> aws_sdk_s3::Client {
        let server = S3Server::new(S3Kind::Moto, &self.proxy.endpoint());
        s3::client(
            &server.sdk_config().await,
            &S3Options::default()
                .with_force_path_style(true)
                .with_max_attempts(attempts),
        )
    }

    async fn via(&self, attempts: u32) -> S3Store {
        S3Store::new(self.client(attempts).await, &self.bucket, "")
    }

    async fn put_direct(&self, key: &str, body: &'static [u8]) {
        self.direct
            .put(key, Bytes::from_static(body), PutOptions::default())
            .await
            .expect("put through moto directly");
    }

    /// Put fixture `name` under `key` through moto directly.
    async fn put_fixture(&self, key: &str, name: &str) {
        self.direct
            .put(
                key,
                Bytes::from(std::fs::read(fixture(name)).unwrap()),
                PutOptions::default(),
            )
            .await
            .unwrap();
    }

    fn fired(&self, rule: &str) -> u64 {
        self.proxy
            .stats()
            .rules
            .iter()
            .find(|r| r.name == rule)
            .map_or(0, |r| r.fired)
    }
}

/// A GET through `client` that must fail.
async fn get_err(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::get_object::GetObjectError> {
    client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect_err("the GET must fail")
}

#[tokio::test]
async fn requests_pass_unchanged_without_rules() {
    let s = setup().await;
    let via = s.via(1).await;
    via.put(
        "a/b c+d.txt",
        Bytes::from_static(b"hello"),
        PutOptions::default(),
    )
    .await
    .unwrap();
    let (body, meta) = via.get("a/b c+d.txt").await.unwrap();
    assert_eq!(&body[..], b"hello");
    assert_eq!(via.head("a/b c+d.txt").await.unwrap().etag, meta.etag);
    assert_eq!(
        via.get_range("a/b c+d.txt", 1..3).await.unwrap().0,
        Bytes::from_static(b"el")
    );
    let keys: Vec<String> = via
        .list("a/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, ["a/b c+d.txt"]);
    // Conditional writes reach moto: a second create is refused.
    let again = via
        .put(
            "a/b c+d.txt",
            Bytes::from_static(b"x"),
            PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            },
        )
        .await;
    assert!(again.is_err(), "{again:?}");
    via.delete("a/b c+d.txt").await.unwrap();
    assert!(s.direct.list("").await.unwrap().is_empty());
    let st = s.proxy.stats();
    assert!(st.requests >= 7, "{st:?}");
    assert_eq!(st.faults, 0);
}

#[tokio::test]
async fn s3_errors_carry_their_codes_and_the_sdk_retries_them() {
    let s = setup().await;
    s.put_direct("k500", b"five hundred").await;
    s.put_direct("k503", b"slow").await;
    s.proxy.set_rules(vec![
        Rule::new("500", Fault::InternalError)
            .method("GET")
            .key("k500")
            .times(3),
        Rule::new("503", Fault::SlowDown).key("k503").times(3),
    ]);
    let once = s.client(1).await;
    let e = get_err(&once, &s.bucket, "k500").await;
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(500));
    assert_eq!(e.code(), Some("InternalError"), "{e:?}");
    let e = get_err(&once, &s.bucket, "k503").await;
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(503));
    assert_eq!(e.code(), Some("SlowDown"), "{e:?}");
    // A 503 on PUT: the object is not written (the proxy answered alone).
    let e = once
        .put_object()
        .bucket(&s.bucket)
        .key("k503")
        .body(ByteStream::from_static(b"replaced"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("SlowDown"), "{e:?}");
    assert_eq!(&s.direct.get("k503").await.unwrap().0[..], b"slow");
    // Two faults left on each rule; three attempts get through.
    let thrice = s.client(3).await;
    for (key, want) in [("k500", &b"five hundred"[..]), ("k503", b"slow")] {
        let out = thrice
            .get_object()
            .bucket(&s.bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: {e:?}"));
        assert_eq!(&out.body.collect().await.unwrap().into_bytes()[..], want);
    }
    assert_eq!((s.fired("500"), s.fired("503")), (3, 3));
}

#[tokio::test]
async fn resets_before_the_answer_and_mid_body() {
    let s = setup().await;
    let body: &'static [u8] = &[7u8; 64 * 1024];
    s.put_direct("big", body).await;
    s.proxy.set_rules(vec![
        Rule::new("reset", Fault::Reset).method("HEAD").times(1),
        Rule::new("mid-body", Fault::ResetMidBody)
            .method("GET")
            .times(1),
    ]);
    let once = s.client(1).await;
    let e = once
        .head_object()
        .bucket(&s.bucket)
        .key("big")
        .send()
        .await
        .unwrap_err();
    assert!(e.raw_response().is_none(), "no answer at all: {e:?}");
    // The status and headers arrive, the body breaks off.
    let out = once
        .get_object()
        .bucket(&s.bucket)
        .key("big")
        .send()
        .await
        .expect("headers arrive");
    assert_eq!(out.content_length(), Some(body.len() as i64));
    let read = out.body.collect().await;
    assert!(read.is_err(), "the body must break off");
    // Through the engine's store (SDK retries on): the whole object.
    let via = s.via(3).await;
    s.proxy
        .set_rules(vec![Rule::new("mid-body", Fault::ResetMidBody)
            .method("GET")
            .times(1)]);
    let got = via.get("big").await;
    match got {
        Ok((b, _)) => assert_eq!(&b[..], body),
        // The SDK does not retry a body that broke after the headers; the error is a
        // retryable store error, never a short object.
        Err(e) => assert!(
            rpmbucket_engine::Error::Store(e).is_retryable(),
            "a broken body is retryable"
        ),
    }
    assert_eq!(s.fired("mid-body"), 1);
}

#[tokio::test]
async fn land_then_500_writes_and_fails() {
    let s = setup().await;
    s.proxy
        .set_rules(vec![Rule::new("landed", Fault::LandThen500)
            .method("PUT")
            .times(1)]);
    let once = s.client(1).await;
    let e = once
        .put_object()
        .bucket(&s.bucket)
        .key("k")
        .body(ByteStream::from_static(b"landed"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InternalError"), "{e:?}");
    assert_eq!(&s.direct.get("k").await.unwrap().0[..], b"landed");
    assert_eq!(s.fired("landed"), 1);
}

#[tokio::test]
async fn latency_delays_matching_requests_only() {
    let s = setup().await;
    s.put_direct("slow", b"1").await;
    s.put_direct("fast", b"2").await;
    s.proxy.set_rules(vec![
        Rule::new("slow", Fault::Latency { ms: 400 }).key("slow")
    ]);
    let via = s.via(1).await;
    let t = Instant::now();
    via.get("slow").await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    via.get("fast").await.unwrap();
    let st = s.proxy.stats();
    assert_eq!((st.delayed, st.faults, st.requests), (1, 0, 2));
}

fn lying_rules() -> Vec<Rule> {
    vec![
        Rule::new("drop if-match", Fault::StripConditionals).header("if-match"),
        Rule::new("drop if-none-match", Fault::StripConditionals).header("if-none-match"),
    ]
}

/// A backend that ignores conditional writes: the probe refuses it before anything is
/// published, and nothing of the probe is left behind. The same store without the lie
/// publishes.
#[tokio::test]
async fn the_engine_refuses_a_backend_that_ignores_conditional_writes() {
    let s = setup().await;
    let root = "el9/x86_64/";
    let key = format!("{root}{}", fx::BASIC);
    s.put_fixture(&key, fx::BASIC).await;
    s.proxy.set_rules(lying_rules());
    let via: Arc<dyn ObjectStore> = Arc::new(s.via(3).await);
    let indexer = Indexer::new(via.clone(), Layout::new(vec![]), RepoConfig::default());
    match indexer.apply(root, &[Change::created(&key)]).await {
        Err(Error::ConditionalWritesIgnored { reason }) => {
            assert!(reason.contains("If-None-Match"), "{reason}")
        }
        other => panic!("a lying backend must be refused: {other:?}"),
    }
    assert!(s.fired("drop if-none-match") >= 1);
    let left: Vec<String> = s
        .direct
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(
        left,
        std::slice::from_ref(&key),
        "nothing published, no probe left"
    );
    // Honest again: a new indexer probes again and publishes.
    s.proxy.set_rules(vec![]);
    let indexer = Indexer::new(via, Layout::new(vec![]), RepoConfig::default());
    let report = indexer.apply(root, &[Change::created(&key)]).await.unwrap();
    assert_eq!(report.added, [key]);
    assert!(s
        .direct
        .head(&format!("{root}repodata/repomd.xml"))
        .await
        .is_ok());
}

/// The same refusal through the `rpmbucket` binary, rules set over the proxy's HTTP control
/// endpoint with curl.
#[tokio::test]
async fn the_cli_refuses_a_lying_backend_and_names_the_problem() {
    let s = setup().await;
    let rules = serde_json::to_string(&lying_rules()).unwrap();
    let out = Command::new("curl")
        .args(["-fsS", "-X", "PUT", "--data-binary", &rules])
        .arg(format!("{}/_proxy/rules", s.proxy.endpoint()))
        .output()
        .expect("curl");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\"rules\":2}");
    let server = S3Server::new(S3Kind::Moto, &s.proxy.endpoint());
    let run = |s3: &S3Server| {
        let mut cmd = Command::new(rpmbucket_bin());
        cmd.arg("add")
            .arg(format!("s3://{}/el9/x86_64/", s.bucket))
            .arg(fixture(fx::BASIC));
        for (k, v) in s3.env_vars() {
            cmd.env(k, v);
        }
        cmd.output().expect("run rpmbucket")
    };
    let out = run(&server);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr.contains("ignores conditional writes"), "{stderr}");
    let stats = Command::new("curl")
        .arg("-fsS")
        .arg(format!("{}/_proxy/stats", s.proxy.endpoint()))
        .output()
        .expect("curl");
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert!(stats["faults"].as_u64().unwrap() >= 1, "{stats}");
    assert!(s
        .direct
        .head("el9/x86_64/repodata/repomd.xml")
        .await
        .is_err());
    // The same command against the honest proxy publishes.
    s.proxy.set_rules(vec![]);
    let out = run(&server);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(s
        .direct
        .head("el9/x86_64/repodata/repomd.xml")
        .await
        .is_ok());
}

/// A probe that could not run (its first write failed) lets that publish go on, but is not
/// remembered as a pass: the next publish of the same indexer probes again and refuses the
/// lying backend.
#[tokio::test]
async fn a_probe_that_could_not_run_is_tried_again() {
    let s = setup().await;
    let root = "el9/x86_64/";
    let key = format!("{root}{}", fx::BASIC);
    s.put_fixture(&key, fx::BASIC).await;
    let mut rules = lying_rules();
    rules.push(
        Rule::new("probe fails", Fault::InternalError)
            .method("PUT")
            .key("rpmbucket-conditional-write-probe-*")
            .times(1),
    );
    s.proxy.set_rules(rules);
    let via: Arc<dyn ObjectStore> = Arc::new(s.via(1).await);
    let indexer = Indexer::new(via, Layout::new(vec![]), RepoConfig::default());
    indexer
        .apply(root, &[Change::created(&key)])
        .await
        .expect("the probe could not run: this publish goes on");
    assert_eq!(s.fired("probe fails"), 1);
    match indexer.apply(root, &[Change::created(&key)]).await {
        Err(Error::ConditionalWritesIgnored { .. }) => {}
        other => panic!("the second publish must probe again and refuse: {other:?}"),
    }
}

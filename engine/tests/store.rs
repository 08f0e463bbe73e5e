//! The store conformance suite against S3 — a real moto server and LocalStack (host mode) on
//! 127.0.0.1, each S3 test running once per server — and the local store across processes.
//!
//! LocalStack comes from the test script (`RPMBUCKET_TEST_LOCALSTACK_ENDPOINT`); without it the
//! LocalStack variants skip with a note, or fail under `CI` (see `testkit::localstack`).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rpmbucket_engine::store::conformance;
use rpmbucket_engine::store::{Error, ObjectStore, PutMode, PutOptions};
use rpmbucket_engine::testkit::{S3Kind, S3Server};
use rpmbucket_engine::{LocalStore, S3Store};
use sha2::{Digest, Sha256};

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Each S3 test as `moto::NAME` and `localstack::NAME`, given the server.
macro_rules! s3_servers {
    ($($name:ident),* $(,)?) => {
        mod moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let server = rpmbucket_engine::testkit::moto().await;
                    super::$name(&server).await;
                }
            )*
        }
        mod localstack {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(server) = rpmbucket_engine::testkit::localstack() else {
                        return;
                    };
                    super::$name(&server).await;
                }
            )*
        }
    };
}

s3_servers!(
    conformance,
    conformance_under_prefix,
    rejects_hostile_keys_like_local,
    head_returns_the_stored_sha256,
    sends_content_type_and_cache_control,
    presigned_put_with_checksum_uploads_with_curl,
    presigned_get_and_public_bucket_serve_plain_http,
    missing_bucket_is_an_error_not_a_decision,
    store_from_url_and_environment,
);

async fn conformance(server: &S3Server) {
    let store = server.new_bucket().await;
    conformance::run_all(Arc::new(store), 1100).await;
}

async fn conformance_under_prefix(server: &S3Server) {
    let store = server.new_bucket_with_prefix("repo/el9").await;
    assert_eq!(store.prefix(), "repo/el9/");
    conformance::run_all(Arc::new(store.clone()), 50).await;

    // Objects really live under the prefix, and the store sees nothing outside it.
    let outside = S3Store::new(store.client().clone(), store.bucket(), "");
    outside
        .put(
            "repo/other",
            Bytes::from_static(b"o"),
            PutOptions::default(),
        )
        .await
        .unwrap();
    store
        .put("inside", Bytes::from_static(b"i"), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(outside.get("repo/el9/inside").await.unwrap().0, "i");
    let keys: Vec<_> = store
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(keys, ["inside"]);
}

async fn rejects_hostile_keys_like_local(server: &S3Server) {
    let store = server.new_bucket().await;
    conformance::hostile_keys_rejected(&store).await;
    assert!(store.list("").await.unwrap().is_empty());
}

async fn head_returns_the_stored_sha256(server: &S3Server) {
    let store = server.new_bucket().await;
    let body = Bytes::from_static(b"a package body");
    let put = store
        .put("pkgs/a.rpm", body.clone(), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(put.sha256.as_deref(), Some(sha256_hex(&body).as_str()));
    let head = store.head("pkgs/a.rpm").await.unwrap();
    assert_eq!(head.sha256.as_deref(), Some(sha256_hex(&body).as_str()));
    assert_eq!(head.etag, put.etag);

    // put_file streams from disk and stores the checksum too.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.rpm");
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 249) as u8).collect();
    std::fs::write(&path, &big).unwrap();
    store
        .put_file("pkgs/big.rpm", &path, PutOptions::default())
        .await
        .unwrap();
    let head = store.head("pkgs/big.rpm").await.unwrap();
    assert_eq!(head.size, big.len() as u64);
    assert_eq!(head.sha256.as_deref(), Some(sha256_hex(&big).as_str()));
}

async fn sends_content_type_and_cache_control(server: &S3Server) {
    let store = server.new_bucket().await;
    let opts = PutOptions {
        mode: PutMode::Create,
        content_type: Some("application/xml".into()),
        cache_control: Some("max-age=0, no-cache".into()),
    };
    store
        .put(
            "repodata/repomd.xml",
            Bytes::from_static(b"<repomd/>"),
            opts,
        )
        .await
        .unwrap();
    let out = store
        .client()
        .head_object()
        .bucket(store.bucket())
        .key("repodata/repomd.xml")
        .send()
        .await
        .unwrap();
    assert_eq!(out.content_type(), Some("application/xml"));
    assert_eq!(out.cache_control(), Some("max-age=0, no-cache"));
}

fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (body.to_owned(), code.to_owned())
}

/// `X-Amz-SignedHeaders` of a presigned URL, lowercase, `;`-separated.
fn signed_headers(url: &str) -> String {
    let signed = url.split_once("X-Amz-SignedHeaders=").unwrap().1;
    signed
        .split('&')
        .next()
        .unwrap()
        .replace("%3B", ";")
        .to_ascii_lowercase()
}

async fn presigned_put_with_checksum_uploads_with_curl(server: &S3Server) {
    let store = server.new_bucket_with_prefix("up").await;
    let body = b"uploaded with a presigned URL";
    let digest = sha256_hex(body);
    let presigned = store
        .presign_put(
            "pkgs/my pkg+1.0.rpm",
            Duration::from_secs(300),
            Some(&digest),
        )
        .await
        .unwrap();
    assert!(
        presigned.url.starts_with("http://127.0.0.1:"),
        "{}",
        presigned.url
    );
    assert!(
        presigned.url.contains("X-Amz-Signature="),
        "{}",
        presigned.url
    );
    // The uploader sends exactly the checksum header; nothing else is signed but `host` (no
    // SDK-only header such as `x-amz-sdk-checksum-algorithm`, which `curl -T` following the
    // gateway's redirect would not send).
    let b64 = "cgSl8TRSuoLHg3zGuG8Yb5bLFiUXvsPOWwGmIpYlHI0=";
    assert_eq!(
        presigned.headers,
        [("x-amz-checksum-sha256".to_owned(), b64.to_owned())]
    );
    assert_eq!(signed_headers(&presigned.url), "host;x-amz-checksum-sha256");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body");
    std::fs::write(&file, body).unwrap();
    let checksum_header = format!("x-amz-checksum-sha256: {b64}");
    // `-T` (PUT, no form Content-Type: moto drops a form-encoded body).
    let put = |file: &std::path::Path, url: &str, header: Option<&str>| {
        let mut args = vec!["-T", file.to_str().unwrap()];
        if let Some(h) = header {
            args.extend(["-H", h]);
        }
        args.push(url);
        curl(&args)
    };
    if server.kind() == S3Kind::LocalStack {
        // A server that validates: another body of the same length under the bound checksum is
        // refused, and so is the request without the signed header.
        let tampered = dir.path().join("tampered");
        let mut other = body.to_vec();
        other[0] ^= 0xff;
        std::fs::write(&tampered, &other).unwrap();
        let (resp, code) = put(&tampered, &presigned.url, Some(&checksum_header));
        assert_eq!(code, "400", "{resp}");
        assert!(resp.contains("BadDigest"), "{resp}");
        let (resp, code) = put(&file, &presigned.url, None);
        assert_eq!(code, "403", "{resp}");
        let gone = store.head("pkgs/my pkg+1.0.rpm").await;
        assert!(matches!(gone, Err(Error::NotFound { .. })), "{gone:?}");
    }
    let (resp, code) = put(&file, &presigned.url, Some(&checksum_header));
    assert_eq!(code, "200", "{resp}");

    let head = store.head("pkgs/my pkg+1.0.rpm").await.unwrap();
    assert_eq!(head.size, body.len() as u64);
    // moto stores a checksum only when also told the algorithm (x-amz-sdk-checksum-algorithm).
    let stored = (server.kind() == S3Kind::LocalStack).then_some(digest.as_str());
    assert_eq!(head.sha256.as_deref(), stored);
    assert_eq!(store.get("pkgs/my pkg+1.0.rpm").await.unwrap().0, &body[..]);

    // Without a checksum nothing but `host` is signed: a bare `curl -T FILE URL` uploads.
    let plain = store
        .presign_put("pkgs/plain.rpm", Duration::from_secs(300), None)
        .await
        .unwrap();
    assert!(plain.headers.is_empty(), "{plain:?}");
    assert_eq!(signed_headers(&plain.url), "host");
    let (resp, code) = put(&file, &plain.url, None);
    assert_eq!(code, "200", "{resp}");
    assert_eq!(store.get("pkgs/plain.rpm").await.unwrap().0, &body[..]);

    let bad = store
        .presign_put("pkgs/x.rpm", Duration::from_secs(60), Some("abcd"))
        .await;
    assert!(matches!(bad, Err(Error::Other { .. })), "{bad:?}");
    let bad = store
        .presign_put("../x.rpm", Duration::from_secs(60), None)
        .await;
    assert!(matches!(bad, Err(Error::InvalidKey { .. })), "{bad:?}");
}

async fn presigned_get_and_public_bucket_serve_plain_http(server: &S3Server) {
    let store = server.new_bucket_with_prefix("repo").await;
    store
        .put(
            "repodata/repomd.xml",
            Bytes::from_static(b"<repomd/>"),
            PutOptions::default(),
        )
        .await
        .unwrap();

    let url = store
        .presign_get("repodata/repomd.xml", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(curl(&[&url]), ("<repomd/>".to_owned(), "200".to_owned()));

    let anonymous = format!("{}repodata/repomd.xml", server.base_url(&store));
    match server.kind() {
        S3Kind::Moto => assert_eq!(curl(&[&anonymous]).1, "403"),
        // LocalStack (community) enforces no bucket policy or ACL: a private bucket answers
        // anonymous GETs too. The gateway and the documented setup must not rely on a test
        // against it to prove a bucket private.
        S3Kind::LocalStack => assert_eq!(curl(&[&anonymous]).1, "200"),
    }
    server.make_public(&store).await;
    assert_eq!(
        curl(&[&anonymous]),
        ("<repomd/>".to_owned(), "200".to_owned())
    );
}

async fn missing_bucket_is_an_error_not_a_decision(server: &S3Server) {
    let store = S3Store::new(server.client().await, "no-such-bucket-rpmbucket", "");
    let err = store
        .put("k", Bytes::from_static(b"x"), PutOptions::default())
        .await
        .unwrap_err();
    // Not retried: a missing bucket does not appear by trying again.
    assert!(matches!(err, Error::Permanent { .. }), "{err:?}");
    assert!(err.to_string().contains("NoSuchBucket"), "{err}");
}

async fn store_from_url_and_environment(server: &S3Server) {
    let bucket = server.new_bucket().await;
    // Child processes get the same configuration through the environment; here the explicit
    // options stand in for it (mutating this process's environment would race other tests).
    let config = server.sdk_config().await;
    let opts = rpmbucket_engine::store::s3::S3Options::default().with_force_path_style(true);
    let client = rpmbucket_engine::store::s3::client(&config, &opts);
    let (b, p) =
        rpmbucket_engine::store::s3::parse_url(&format!("s3://{}/pre/fix/", bucket.bucket()))
            .unwrap();
    let store = S3Store::new(client, b, p);
    store
        .put("k", Bytes::from_static(b"v"), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(bucket.get("pre/fix/k").await.unwrap().0, "v");
    assert!(server
        .env_vars()
        .iter()
        .any(|(k, v)| *k == "AWS_ENDPOINT_URL" && v == server.endpoint()));
}

const CHILD_ROOT: &str = "RPMBUCKET_TEST_LOCAL_CHILD_ROOT";
const PROCESSES: usize = 3;
const TASKS: usize = 2;
const INCREMENTS: usize = 15;

/// Read-modify-write `counter` with `Update` until `INCREMENTS` increments have landed.
async fn increment(store: LocalStore) -> usize {
    let mut conflicts = 0;
    let mut done = 0;
    while done < INCREMENTS {
        let (body, meta) = store.get("counter").await.unwrap();
        let n: usize = std::str::from_utf8(&body).unwrap().parse().unwrap();
        let next = Bytes::from((n + 1).to_string());
        let opts = PutOptions {
            mode: PutMode::Update(meta.etag),
            ..Default::default()
        };
        match store.put("counter", next, opts).await {
            Ok(_) => done += 1,
            Err(Error::Precondition { .. }) => conflicts += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    conflicts
}

/// Processes and, inside each, tasks with their own `LocalStore` on one root increment a counter
/// with `Update`: no increment is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_update_is_race_free_across_processes() {
    if let Ok(root) = std::env::var(CHILD_ROOT) {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| tokio::spawn(increment(LocalStore::new(&root).unwrap())))
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path()).unwrap();
    store
        .put("counter", Bytes::from_static(b"0"), PutOptions::default())
        .await
        .unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "local_update_is_race_free_across_processes",
                    "--test-threads=1",
                ])
                .env(CHILD_ROOT, dir.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // This process competes too.
    let here: Vec<_> = (0..TASKS)
        .map(|_| tokio::spawn(increment(LocalStore::new(dir.path()).unwrap())))
        .collect();
    for t in here {
        t.await.unwrap();
    }
    for child in children {
        // Captured, so the children's own "test result" lines stay out of the run's output.
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "child failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (body, _) = store.get("counter").await.unwrap();
    assert_eq!(body, ((PROCESSES + 1) * TASKS * INCREMENTS).to_string());
}

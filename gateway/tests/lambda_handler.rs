//! The hostile-client attacks of issue 12 that apply to the Lambda gateway, run against its
//! handler in-process: function-URL events (the JSON the Lambda runtime hands the function),
//! turned into requests by `lambda_http` as the runtime does, through
//! `rpmbucket_gateway::lambda::router`, the router and adapter the deployed function runs
//! (it takes the client address from the event's request context).
//!
//! What applies: a credential storm (bounded argon2 work and memory, 401/429/503, a valid
//! client still served), hostile keys (400 naming the rule), oversized lengths (413; the
//! presigned URL binds the length, the repository's own `max-upload-size` included), token
//! scopes (403). What does not: connection limits and timeouts (the function URL front end
//! holds the connections, and the function gets a whole request or none), symlinks (there is
//! no file system), the bodies themselves (they go to S3 through the presigned URL).
#![cfg(feature = "lambda")]

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode};
use base64::Engine as _;
use http_body_util::BodyExt;
use rpmbucket_engine::{Indexer, Layout, LocalStore, ObjectStore, RepoConfig};
use rpmbucket_gateway::auth::{hash_token, hash_token_fast, AuthLimits, Tokens};
use rpmbucket_gateway::AppState;
use tower::ServiceExt;

mod common;

/// The fast-scheme secret of `ci` (write to el9/) and `reader` (read everywhere) differ.
const CI: &str = "5f2b6c9d0e1a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4";
const READER: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
const PKG: &str = "/el9/x86_64/hello-1.0-1.noarch.rpm";

fn basic(user: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    )
}

/// The gateway as `lambda::state_from_env` builds it: tokens, presigned S3 writes (presigning
/// is local computation; the endpoint is never contacted), the repository over `dir`.
fn state(dir: &std::path::Path, tokens: Tokens) -> AppState {
    common::presign_state(dir, tokens)
}

/// A function-URL event (payload format 2.0), as the Lambda runtime delivers it.
fn event(method: &str, raw_path: &str, query: &str, headers: &[(&str, &str)], ip: &str) -> String {
    let mut h = serde_json::Map::new();
    h.insert("host".into(), "gw.lambda-url.us-east-1.on.aws".into());
    h.insert("x-forwarded-proto".into(), "https".into());
    for (k, v) in headers {
        h.insert(k.to_ascii_lowercase(), (*v).into());
    }
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": h,
        "isBase64Encoded": false,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "gw",
            "domainName": "gw.lambda-url.us-east-1.on.aws",
            "domainPrefix": "gw",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": ip,
                "userAgent": "curl/8"
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "04/Dec/2026:12:00:00 +0000",
            "timeEpoch": 1_796_385_600_000u64
        }
    })
    .to_string()
}

/// Hand `event` to the Lambda router → (status, headers, body).
async fn invoke(router: &axum::Router, event: &str) -> (StatusCode, HeaderMap, String) {
    let req = lambda_http::request::from_str(event).expect("a function URL event");
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// A PUT as `curl -T` sends it (the body goes to S3 after the redirect, never in the event).
fn put(path: &str, auth: &str, length: &str, ip: &str) -> String {
    event(
        "PUT",
        path,
        "",
        &[("authorization", auth), ("content-length", length)],
        ip,
    )
}

/// `ci` (fast scheme, write to el9/) and `reader` (fast scheme, read everywhere).
fn fast_tokens() -> String {
    format!(
        "ci:{} rw el9/\nreader:{} r\n",
        hash_token_fast(CI).unwrap(),
        hash_token_fast(READER).unwrap(),
    )
}

/// The Lambda router over `dir` with the fast tokens (failures stay cheap).
fn router(dir: &std::path::Path) -> axum::Router {
    rpmbucket_gateway::lambda::router(state(dir, Tokens::parse(&fast_tokens()).unwrap()))
}

/// The storm's client address.
const STORM_IP: &str = "198.51.100.1";

/// Peak resident set of this test process (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// 600 random credentials, 150 at once, through one handler (a deployed instance takes one
/// invocation at a time; this is the worst case of one process): answered 401, 429 or 503,
/// the memory stays bounded, and the CI token is served during the storm.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn credential_storm_against_the_lambda_handler() {
    let dir = tempfile::tempdir().unwrap();
    // Plus a legacy token with argon2's default parameters (19 MiB per verification): every
    // refused presentation costs an argon2 run (a dummy one for unknown users). The failure
    // limit is lowered from 30 to 1 so that the storm surely reaches it (a debug build runs
    // few argon2 verifications in the storm's seconds).
    let tokens = Tokens::parse(&format!(
        "{}old:{} rw\n",
        fast_tokens(),
        hash_token("legacy-secret")
    ))
    .unwrap()
    .with_limits(AuthLimits {
        failures_per_minute: 1,
        ..AuthLimits::default()
    });
    let router = rpmbucket_gateway::lambda::router(state(dir.path(), tokens));
    let storm = {
        let router = router.clone();
        tokio::spawn(async move {
            let sem = Arc::new(tokio::sync::Semaphore::new(150));
            let mut tasks = Vec::new();
            for i in 0..600u32 {
                let permit = Arc::clone(&sem).acquire_owned().await.unwrap();
                let router = router.clone();
                tasks.push(tokio::spawn(async move {
                    let _p = permit;
                    let secret = format!("guess-{i}-{:x}", i.wrapping_mul(0x9E37_79B9));
                    let auth = match i % 3 {
                        0 => basic("old", &secret),
                        1 => basic(&format!("nobody{i}"), &secret),
                        _ => format!("Bearer {secret}"),
                    };
                    invoke(&router, &put(PKG, &auth, "4", STORM_IP)).await.0
                }));
            }
            let mut codes = std::collections::BTreeMap::<u16, u32>::new();
            for t in tasks {
                *codes.entry(t.await.unwrap().as_u16()).or_default() += 1;
            }
            codes
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, headers, body) =
        invoke(&router, &put(PKG, &basic("ci", CI), "1234", "192.0.2.7")).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT, "{body}");
    assert!(headers.contains_key(header::LOCATION));
    let codes = storm.await.unwrap();
    eprintln!("storm answers: {codes:?}");
    assert_eq!(codes.values().sum::<u32>(), 600);
    for c in codes.keys() {
        assert!([401, 429, 503].contains(c), "unexpected {c}: {codes:?}");
    }
    // The argon2 runs that were let through refused the credentials, and counted against the
    // address of the event's request context: it is now limited, another address is not.
    assert!(codes.get(&401).copied().unwrap_or(0) > 0, "{codes:?}");
    let (status, headers, body) =
        invoke(&router, &put(PKG, &basic("old", "again"), "4", STORM_IP)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(headers.contains_key(header::RETRY_AFTER));
    let (status, _, body) = invoke(
        &router,
        &put(PKG, &basic("old", "again"), "4", "198.51.100.77"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let peak = peak_rss_kib();
    eprintln!("peak RSS of the test process {} MiB", peak / 1024);
    assert!(peak < 256 * 1024, "peak RSS {peak} KiB");
}

#[tokio::test]
async fn hostile_keys_are_400_with_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let router = router(dir.path());
    let admin = basic("ci", CI);
    let long = format!("/el9/{}/x.rpm", vec!["d".repeat(200); 10].join("/"));
    for (path, why) in [
        ("/el9%2F..%2Fx.rpm", "%2f"),
        ("/el9/%2e%2e/x.rpm", "traversal"),
        ("/el9/%2E%2e/%2e%2E/x.rpm", "traversal"),
        ("/el9/..%5C..%5Cx.rpm", "backslash"),
        ("/el9/a%00b.rpm", "control character"),
        ("/el9/evil%E2%80%AEmpr.rpm", "Unicode format character"),
        (long.as_str(), "longer than 1024 bytes"),
    ] {
        for (method, prefix) in [("PUT", ""), ("GET", "/presign"), ("DELETE", "")] {
            let raw = format!("{prefix}{path}");
            let (status, _, body) = invoke(
                &router,
                &event(
                    method,
                    &raw,
                    "",
                    &[("authorization", &admin), ("content-length", "8")],
                    "192.0.2.7",
                ),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {raw}: {body}");
            assert!(body.contains(why), "{method} {raw}: {body}");
        }
    }
}

#[tokio::test]
async fn oversized_lengths_are_refused_and_the_url_binds_the_length() {
    let dir = tempfile::tempdir().unwrap();
    let router = router(dir.path());
    let ci = basic("ci", CI);
    let ip = "192.0.2.7";
    // Content-Length over the server's limit: 413 before anything else.
    let (status, _, body) = invoke(&router, &put(PKG, &ci, "5368709120", ip)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // No declared length: the URL could not bind it.
    let (status, _, body) = invoke(
        &router,
        &event("PUT", PKG, "", &[("authorization", &ci)], ip),
    )
    .await;
    assert_eq!(status, StatusCode::LENGTH_REQUIRED, "{body}");
    // The repository's own limit (its stored max-upload-size), smaller than the server's.
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()).unwrap());
    let config = RepoConfig {
        max_upload_size: Some(1000),
        ..RepoConfig::default()
    };
    Indexer::new(store, Layout::new(Vec::new()), config)
        .overriding_settings()
        .apply("el9/x86_64/", &[])
        .await
        .unwrap();
    let (status, _, body) = invoke(&router, &put(PKG, &ci, "1001", ip)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body.contains("max-upload-size"), "{body}");
    let (status, _, body) = invoke(
        &router,
        &event(
            "GET",
            &format!("/presign{PKG}"),
            "size=1001",
            &[("authorization", &ci)],
            ip,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // At the limit: the presigned URL signs exactly that length.
    let (status, headers, body) = invoke(&router, &put(PKG, &ci, "1000", ip)).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT, "{body}");
    let location = headers[header::LOCATION].to_str().unwrap();
    assert!(location.contains("content-length"), "{location}");
    let (status, _, body) = invoke(
        &router,
        &event(
            "GET",
            &format!("/presign{PKG}"),
            "size=1000",
            &[("authorization", &ci), ("accept", "application/json")],
            ip,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["headers"]["content-length"], "1000", "{v}");
    // Another repository keeps the server's limit.
    let (status, _, body) = invoke(
        &router,
        &put("/el9/aarch64/hello-1.0-1.noarch.rpm", &ci, "1001", ip),
    )
    .await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT, "{body}");
}

#[tokio::test]
async fn token_scopes_hold() {
    let dir = tempfile::tempdir().unwrap();
    let router = router(dir.path());
    let ip = "192.0.2.7";
    let ci = basic("ci", CI);
    let reader = basic("reader", READER);
    // Write scope is el9/ only.
    let (status, _, body) = invoke(
        &router,
        &put("/el8/x86_64/hello-1.0-1.noarch.rpm", &ci, "8", ip),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("no write permission for el8/"), "{body}");
    // el9-testing/ is not inside el9/.
    let (status, _, _) = invoke(
        &router,
        &put("/el9-testing/hello-1.0-1.noarch.rpm", &ci, "8", ip),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Write is not delete.
    let (status, _, body) = invoke(
        &router,
        &event("DELETE", PKG, "", &[("authorization", &ci)], ip),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("no delete permission"), "{body}");
    // Read is not write, nor presign.
    let (status, _, _) = invoke(&router, &put(PKG, &reader, "8", ip)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = invoke(
        &router,
        &event(
            "GET",
            &format!("/presign{PKG}"),
            "size=8",
            &[("authorization", &reader)],
            ip,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A known secret presented in another form is a different presentation: the reader's
    // secret as a Bearer token (no user) matches the reader, never the CI token.
    let (status, _, _) = invoke(
        &router,
        &event(
            "GET",
            &format!("/status{PKG}"),
            "",
            &[("authorization", &format!("Bearer {READER}"))],
            ip,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "read allowed, not published");
    let (status, _, _) = invoke(&router, &put(PKG, &format!("Bearer {READER}"), "8", ip)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Wrong secrets: 401 with the reason, and the address is rate-limited (429 + Retry-After).
    let mut last = StatusCode::OK;
    for i in 0..40 {
        let (status, headers, body) = invoke(
            &router,
            &put(PKG, &basic("ci", &format!("wrong{i}")), "8", "203.0.113.5"),
        )
        .await;
        if i == 0 {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
            assert_eq!(body, "invalid credentials\n");
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(headers.contains_key(header::RETRY_AFTER));
        }
        last = status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

/// `POST /promote` through the Lambda handler over a moto bucket: 403 with the reason for a
/// token lacking read on FROM or write on TO, then a server-side copy (no GET of a package
/// body) and the target published with both packages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_through_the_lambda_handler_on_s3() {
    let server = rpmbucket_engine::testkit::moto().await;
    let store =
        common::published_bucket(&server, "el9/testing/", &[rpmbucket_tests::fx::LIB_1_2]).await;
    let bucket = store.bucket().to_owned();
    let router = rpmbucket_gateway::lambda::router(common::s3_state(
        store.client().clone(),
        bucket.clone(),
        common::promotion_tokens(),
        Duration::from_secs(120),
    ));
    let promote = |auth: String, names: &str| {
        let mut e: serde_json::Value = serde_json::from_str(&event(
            "POST",
            "/promote",
            "from=el9/testing/&to=el9/stable/",
            &[("authorization", &auth), ("content-type", "text/plain")],
            "192.0.2.9",
        ))
        .unwrap();
        e["body"] = names.into();
        e.to_string()
    };
    let (status, _, body) = invoke(&router, &promote(basic("release", "rel"), "fx-lib")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body.contains("no read permission for el9/testing/"),
        "{body}"
    );
    let (status, _, body) = invoke(&router, &promote(basic("qa", "qa"), "fx-lib")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body.contains("no write permission for el9/stable/"),
        "{body}"
    );

    server.start_recording();
    let (status, _, body) = invoke(&router, &promote(basic("ci", "pw"), "fx-lib\n")).await;
    let requests = server.recorded(&bucket);
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["promoted"][0]["nevra"], "fx-lib-1.2-1.noarch", "{v}");
    assert_eq!(v["packages"], 1, "{v}");
    assert_eq!(
        requests.iter().filter(|r| r.method == "COPY").count(),
        1,
        "{requests:#?}"
    );
    assert!(
        !requests.iter().any(|r| r.path.contains(".rpm")
            && ((r.method == "GET" && r.range.is_none()) || r.method == "PUT")),
        "a package body was downloaded or uploaded: {requests:#?}"
    );
    // The target's metadata lists the copy.
    let indexer = Indexer::new(
        Arc::new(store.clone()),
        Layout::default(),
        RepoConfig::default(),
    );
    assert_eq!(
        indexer
            .published("el9/stable/", "el9/stable/fx-lib-1.2-1.noarch.rpm")
            .await
            .unwrap(),
        Some(v["revision"].as_str().unwrap().to_owned())
    );
}

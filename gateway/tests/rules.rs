//! Auth and path rules of the shared router, driven with `app().oneshot(request)`.
//!
//! The router runs in S3 mode with a real presigner (presigning is local computation; nothing
//! is sent) and a store that is never reached by these requests.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine as _;
use http_body_util::BodyExt;
use rpmbucket_gateway::auth::{hash_token_with, Tokens};
use rpmbucket_gateway::{app, AppState};
use tower::ServiceExt;

mod common;

fn cheap(secret: &str) -> String {
    hash_token_with(secret, argon2::Params::new(256, 1, 1, None).unwrap())
}

fn basic(user: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    )
}

fn state(dir: &std::path::Path) -> AppState {
    let tokens = Tokens::parse(&format!(
        "ci:{} rw el9/\nreader:{} r\nadmin:{} rwd\n",
        cheap("ci-secret"),
        cheap("read-secret"),
        cheap("admin-secret")
    ))
    .unwrap();
    common::presign_state(dir, tokens)
}

async fn send(
    method: &str,
    uri: &str,
    auth: Option<&str>,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if method == "PUT"
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        // What curl -T sends; the body is never read in S3 mode.
        req = req.header(header::CONTENT_LENGTH, "8");
    }
    let resp = app(state(dir.path()))
        .oneshot(req.body(Body::from("not read")).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

const PKG: &str = "/el9/x86_64/hello-1.0-1.noarch.rpm";

#[tokio::test]
async fn no_token_is_401() {
    let (status, headers, body) = send("PUT", PKG, None, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.contains_key(header::WWW_AUTHENTICATE));
    assert!(body.contains("authentication required"), "{body}");
    assert_eq!(body.lines().count(), 1);
}

#[tokio::test]
async fn wrong_token_is_401() {
    for auth in [
        basic("ci", "wrong"),
        basic("nobody", "ci-secret"),
        basic("admin", "ci-secret"),
        "Bearer ci:wrong".to_string(),
        "Bearer wrong".to_string(),
    ] {
        let (status, _, body) = send("PUT", PKG, Some(&auth), &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth}");
        assert_eq!(body, "invalid credentials\n");
    }
}

#[tokio::test]
async fn out_of_scope_is_403() {
    let ci = basic("ci", "ci-secret");
    let (status, _, body) = send("PUT", "/el8/x86_64/hello-1.0-1.noarch.rpm", Some(&ci), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body.contains("no write permission for el8/x86_64/"),
        "{body}"
    );
    // el9-testing/ is not inside el9/
    let (status, _, _) = send("PUT", "/el9-testing/hello-1.0-1.noarch.rpm", Some(&ci), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // write scope does not include delete
    let (status, _, body) = send("DELETE", PKG, Some(&ci), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("no delete permission"), "{body}");
    // read-only token cannot write or presign
    let reader = basic("reader", "read-secret");
    let (status, _, _) = send("PUT", PKG, Some(&reader), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = send("GET", &format!("/presign{PKG}"), Some(&reader), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_paths_are_400_with_a_reason() {
    let admin = basic("admin", "admin-secret");
    for (path, reason) in [
        ("/el9/../etc/hello.rpm", "traversal"),
        ("/el9/%2e%2e/hello.rpm", "traversal"),
        ("/el9/%2E%2e/%2e%2e/hello.rpm", "traversal"),
        ("/el9%2f..%2f..%2fetc/hello.rpm", "%2f"),
        ("/el9/..%5c..%5chello.rpm", "backslash"),
        ("//etc/hello.rpm", "absolute"),
        ("/el9//hello.rpm", "empty path segment"),
        ("/el9/hello%0a.rpm", "control character"),
        ("/el9/hello.tar.gz", "not an RPM"),
        ("/el9/hello.rpm.txt", "not an RPM"),
        ("/el9/repodata/hello.rpm", "repodata/"),
        ("/el9/x86_64/", "no file name"),
    ] {
        for (method, prefix) in [
            ("PUT", ""),
            ("DELETE", ""),
            ("GET", "/presign"),
            ("GET", "/status"),
        ] {
            let uri = format!("{prefix}{path}");
            let (status, _, body) = send(method, &uri, Some(&admin), &[]).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {uri}: {body}");
            assert!(body.contains(reason), "{method} {uri}: {body}");
            assert_eq!(body.lines().count(), 1, "{body}");
        }
    }
    // Path rules are checked before credentials: no token still gets the 400 reason.
    let (status, _, body) = send("PUT", "/el9/repodata/repomd.xml", None, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("repodata/"), "{body}");
}

#[tokio::test]
async fn put_redirects_to_presigned_url() {
    let ci = basic("ci", "ci-secret");
    let (status, headers, _) = send("PUT", PKG, Some(&ci), &[]).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    let loc = headers[header::LOCATION].to_str().unwrap();
    assert!(
        loc.starts_with("http://127.0.0.1:9/bucket/el9/x86_64/hello-1.0-1.noarch.rpm?"),
        "{loc}"
    );
    assert!(loc.contains("X-Amz-Expires=120"), "{loc}");
    assert!(loc.contains("X-Amz-Signature="), "{loc}");
    // Bearer works the same.
    let (status, _, _) = send("PUT", PKG, Some("Bearer ci:ci-secret"), &[]).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
}

#[tokio::test]
async fn presign_text_and_json_with_checksum() {
    let ci = basic("ci", "ci-secret");
    let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let uri = format!("/presign{PKG}?sha256={hex}&size=8");
    let (status, _, text) = send("GET", &uri, Some(&ci), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.starts_with("http://127.0.0.1:9/bucket/el9/"), "{text}");
    assert!(
        text.contains("x-amz-checksum-sha256"),
        "checksum not signed: {text}"
    );
    let (status, _, json) = send("GET", &uri, Some(&ci), &[("accept", "application/json")]).await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["method"], "PUT");
    assert_eq!(v["key"], "el9/x86_64/hello-1.0-1.noarch.rpm");
    assert_eq!(v["sha256"], hex);
    assert_eq!(
        v["headers"]["x-amz-checksum-sha256"],
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    );
    // The size is signed too.
    assert_eq!(v["headers"]["content-length"], "8", "{v}");
    assert_eq!(v["size"], 8);
    // A header and a query that disagree are refused.
    let (status, _, body) = send(
        "GET",
        &uri,
        Some(&ci),
        &[(
            "x-amz-checksum-sha256",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("disagree"), "{body}");
    let (status, _, body) = send("GET", &format!("/presign{PKG}?sha256=xyz"), Some(&ci), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("64 hex digits"), "{body}");
}

#[tokio::test]
async fn repo_file_and_status() {
    let (status, _, body) = send("GET", "/el9/x86_64/mine.repo", None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("[mine]\n"), "{body}");
    assert!(
        body.contains("\nbaseurl=https://bucket.example/el9/x86_64/\n"),
        "{body}"
    );
    let reader = basic("reader", "read-secret");
    let (status, _, body) = send("GET", &format!("/status{PKG}"), Some(&reader), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.starts_with("not published"), "{body}");
    let (status, _, _) = send("GET", &format!("/status{PKG}"), None, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// The hostile-client attacks that apply to the Lambda gateway, in-process.
#[tokio::test]
async fn hostile_requests_against_the_gateway() {
    let ci = basic("ci", "ci-secret");
    // Oversized declared body: 413 before anything else (no token needed to learn the limit).
    let (status, _, body) = send("PUT", PKG, None, &[("content-length", "5368709120")]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // No declared length: the presigned URL could not bind it.
    let dir = tempfile::tempdir().unwrap();
    let req = Request::builder()
        .method("PUT")
        .uri(PKG)
        .header(header::AUTHORIZATION, &ci)
        .body(Body::from("x"))
        .unwrap();
    let resp = app(state(dir.path())).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::LENGTH_REQUIRED);
    // The presigned URL binds the size.
    let (status, headers, body) = send("PUT", PKG, Some(&ci), &[("content-length", "1234")]).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT, "{body}");
    let location = headers[header::LOCATION].to_str().unwrap();
    assert!(location.contains("content-length"), "{location}");
    // Without size= there is no URL (it would bind no size); a bad size is refused.
    let (status, _, body) = send("GET", &format!("/presign{PKG}"), Some(&ci), &[]).await;
    assert_eq!(status, StatusCode::LENGTH_REQUIRED, "{body}");
    assert!(body.contains("size= required"), "{body}");
    let (status, _, body) = send("GET", &format!("/presign{PKG}?size=8"), Some(&ci), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("content-length"), "{body}");
    let (status, _, body) = send("GET", &format!("/presign{PKG}?size=x"), Some(&ci), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("size="), "{body}");
    let (status, _, _) = send(
        "GET",
        &format!("/presign{PKG}?size=5368709120"),
        Some(&ci),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Hostile keys: 400 naming the rule.
    for (path, why) in [
        ("/el9%2F..%2Fx.rpm", "%2f"),
        ("/el9/%2e%2e/x.rpm", "traversal"),
        ("/el9/a%5Cb.rpm", "backslash"),
        ("/el9/a%00b.rpm", "control character"),
        ("/el9/evil%E2%80%AEmpr.rpm", "Unicode format character"),
    ] {
        let (status, _, body) = send("PUT", path, Some(&ci), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(body.contains(why), "{path}: {body}");
    }
    let long = format!("/el9/{}/x.rpm", vec!["d".repeat(200); 10].join("/"));
    let (status, _, body) = send("PUT", &long, Some(&ci), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("longer than 1024 bytes"), "{body}");
    // `.repo` never takes its baseurl from the Host header.
    let (_, _, body) = send(
        "GET",
        "/el9/x86_64/mine.repo",
        None,
        &[("host", "evil.example")],
    )
    .await;
    assert!(!body.contains("evil.example"), "{body}");
}

#[tokio::test]
async fn failed_authentications_are_rate_limited_per_client_address() {
    use rpmbucket_gateway::app::ClientAddr;
    let dir = tempfile::tempdir().unwrap();
    let router = app(state(dir.path()));
    let from = |ip: &str, auth: &str| {
        let mut req = Request::builder()
            .method("GET")
            .uri(format!("/status{PKG}"))
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
            .unwrap();
        req.extensions_mut().insert(ClientAddr(ip.parse().unwrap()));
        req
    };
    let reader = basic("reader", "read-secret");
    // Verified before the guessing starts.
    let r = router
        .clone()
        .oneshot(from("192.0.2.9", &reader))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let mut codes = Vec::new();
    for i in 0..40 {
        let r = router
            .clone()
            .oneshot(from("192.0.2.9", &basic("nobody", &format!("guess{i}"))))
            .await
            .unwrap();
        codes.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers().contains_key(header::RETRY_AFTER));
        }
    }
    assert_eq!(codes[0], StatusCode::UNAUTHORIZED);
    assert_eq!(codes[39], StatusCode::TOO_MANY_REQUESTS, "{codes:?}");
    // The verified reader still works from there; another address is not limited.
    let r = router
        .clone()
        .oneshot(from("192.0.2.9", &reader))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = router
        .clone()
        .oneshot(from("192.0.2.10", &basic("nobody", "x")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

//! Presigned URLs from the gateway against LocalStack in host mode, which validates them like
//! AWS (moto accepts anything): an expired URL, a tampered URL and a corrupted body under a
//! bound checksum are refused by the store, while the untouched flows succeed.
//!
//! `scripts/test.sh` starts LocalStack (`scripts/localstack.sh`) and exports
//! `RPMBUCKET_TEST_LOCALSTACK_ENDPOINT`; without it these tests fail rather than pass silently.

use std::time::Duration;

use rpmbucket_gateway::presign::hex_to_base64;
use rpmbucket_tests::{fixture, fx};
use sha2::Digest;

mod common;

use common::{curl, s, Gateway};

fn endpoint() -> String {
    std::env::var("RPMBUCKET_TEST_LOCALSTACK_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
        .expect(
            "RPMBUCKET_TEST_LOCALSTACK_ENDPOINT is not set: run the tests through scripts/test.sh",
        )
}

async fn gateway(expires: Duration) -> Gateway {
    Gateway::start(common::client_for(&endpoint()), expires).await
}

fn sha256_hex(path: &std::path::Path) -> String {
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// `(http code, body)` of `curl -T file url [-H header]`.
async fn put(file: &std::path::Path, url: &str, headers: &[String]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("body");
    let mut args = vec![
        s("-o"),
        out.display().to_string(),
        s("-w"),
        s("%{http_code}"),
    ];
    for h in headers {
        args.extend([s("-H"), h.clone()]);
    }
    args.extend([s("-T"), file.display().to_string(), s(url)]);
    let c = curl(args).await;
    assert!(c.ok, "{}", c.stderr);
    (c.stdout, std::fs::read_to_string(out).unwrap_or_default())
}

/// Presign `key` for the fixture of the same file name (its size is signed).
async fn presign(gw: &Gateway, key: &str, sha256: Option<&str>) -> serde_json::Value {
    let name = key.rsplit('/').next().unwrap();
    let size = std::fs::metadata(fixture(name)).unwrap().len();
    let q = match sha256 {
        Some(h) => format!("?sha256={h}&size={size}"),
        None => format!("?size={size}"),
    };
    let c = curl(vec![
        s("-f"),
        s("-u"),
        s("ci:pw"),
        s("-H"),
        s("Accept: application/json"),
        gw.url(&format!("presign/{key}{q}")),
    ])
    .await;
    assert!(c.ok, "{}", c.stderr);
    serde_json::from_str(&c.stdout).unwrap()
}

fn header_args(v: &serde_json::Value) -> Vec<String> {
    v["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, val)| format!("{k}: {}", val.as_str().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_urls_are_accepted() {
    let gw = gateway(Duration::from_secs(120)).await;
    let pkg = fixture(fx::BASIC);
    // Redirect flow through the gateway, with the checksum header, validated by the store.
    let b64 = hex_to_base64(&sha256_hex(&pkg)).unwrap();
    let c = curl(vec![
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
    assert!(c.ok, "{} {}", c.stdout, c.stderr);
    assert_eq!(
        gw.object("el9/x86_64/fx-basic-1.0-1.noarch.rpm")
            .await
            .unwrap(),
        std::fs::read(&pkg).unwrap()
    );
    // Presign flow without a checksum.
    let v = presign(&gw, "el9/fx-lib-1.0-1.noarch.rpm", None).await;
    let (code, body) = put(&fixture(fx::LIB_1_0), v["url"].as_str().unwrap(), &[]).await;
    assert_eq!(code, "200", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_url_is_refused() {
    let gw = gateway(Duration::from_secs(1)).await;
    let v = presign(&gw, "el9/fx-lib-1.0-1.noarch.rpm", None).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (code, body) = put(&fixture(fx::LIB_1_0), v["url"].as_str().unwrap(), &[]).await;
    assert_eq!(code, "403", "{body}");
    assert!(body.contains("expired"), "{body}");
    assert!(gw.object("el9/fx-lib-1.0-1.noarch.rpm").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_url_is_refused() {
    let gw = gateway(Duration::from_secs(120)).await;
    let v = presign(&gw, "el9/fx-lib-1.0-1.noarch.rpm", None).await;
    let url = v["url"].as_str().unwrap();
    // Another key under the same signature.
    let other_key = url.replace("fx-lib-1.0-1", "fx-lib-6.6-6");
    assert_ne!(other_key, url);
    let (code, body) = put(&fixture(fx::LIB_1_0), &other_key, &[]).await;
    assert_eq!(code, "403", "{body}");
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
    // A changed signature.
    let i = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &url[i..=i] == "0" { "1" } else { "0" };
    let bad_sig = format!("{}{flipped}{}", &url[..i], &url[i + 1..]);
    let (code, body) = put(&fixture(fx::LIB_1_0), &bad_sig, &[]).await;
    assert_eq!(code, "403", "{body}");
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
    // A longer lifetime than signed.
    let longer = url.replace("X-Amz-Expires=120", "X-Amz-Expires=604800");
    assert_ne!(longer, url);
    let (code, body) = put(&fixture(fx::LIB_1_0), &longer, &[]).await;
    assert_eq!(code, "403", "{body}");
    assert!(gw.object("el9/fx-lib-1.0-1.noarch.rpm").await.is_none());
    assert!(gw.object("el9/fx-lib-6.6-6.noarch.rpm").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_body_under_bound_checksum_is_refused() {
    let gw = gateway(Duration::from_secs(120)).await;
    let good = fixture(fx::LIB_1_2);
    let v = presign(&gw, "el9/fx-lib-1.2-1.noarch.rpm", Some(&sha256_hex(&good))).await;
    let url = v["url"].as_str().unwrap();
    let headers = header_args(&v);
    // The same length, one byte flipped.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("fx-lib-1.2-1.noarch.rpm");
    let mut bytes = std::fs::read(&good).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&bad, &bytes).unwrap();
    let (code, body) = put(&bad, url, &headers).await;
    assert_eq!(code, "400", "{body}");
    assert!(body.contains("BadDigest"), "{body}");
    // Leaving the signed checksum header out is refused too.
    let (code, body) = put(&bad, url, &[]).await;
    assert_eq!(code, "403", "{body}");
    assert!(gw.object("el9/fx-lib-1.2-1.noarch.rpm").await.is_none());
    // The right body with the header goes in.
    let (code, body) = put(&good, url, &headers).await;
    assert_eq!(code, "200", "{body}");
    assert_eq!(
        gw.object("el9/fx-lib-1.2-1.noarch.rpm").await.unwrap(),
        std::fs::read(&good).unwrap()
    );
}

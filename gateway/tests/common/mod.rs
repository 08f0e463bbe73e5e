//! Helpers shared by the gateway's integration tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_s3::Client;
use rpmbucket_engine::S3Store;
use rpmbucket_gateway::auth::{hash_token_with, Tokens};
use rpmbucket_gateway::{app, Access, AppState, Writes};

/// An S3 client for the moto server started by the test script.
pub fn moto_client() -> aws_sdk_s3::Client {
    client_for(&rpmbucket_tests::s3_endpoint())
}

/// An S3 client (path style, static test credentials) for `endpoint`.
pub fn client_for(endpoint: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

pub struct Gateway {
    pub addr: SocketAddr,
    pub client: Client,
    pub bucket: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

static BUCKETS: AtomicU32 = AtomicU32::new(0);

impl Gateway {
    /// A gateway in S3 mode on 127.0.0.1 over a fresh bucket of `client`'s server (token
    /// `ci:pw`, read/write/delete under `el9/`).
    pub async fn start(client: Client, expires: Duration) -> Gateway {
        let bucket = format!(
            "gw-{}-{}",
            std::process::id(),
            BUCKETS.fetch_add(1, Ordering::Relaxed)
        );
        client.create_bucket().bucket(&bucket).send().await.unwrap();
        Gateway::start_in(client, bucket, expires).await
    }

    /// A gateway in S3 mode over an existing bucket.
    pub async fn start_in(client: Client, bucket: String, expires: Duration) -> Gateway {
        let hash = hash_token_with("pw", argon2::Params::new(256, 1, 1, None).unwrap());
        let tokens = Tokens::parse(&format!("ci:{hash} rwd el9/")).unwrap();
        Gateway::start_with(
            s3_state(client.clone(), bucket.clone(), tokens, expires),
            client,
            bucket,
        )
        .await
    }

    /// A gateway serving `state` (S3 mode over `client`'s `bucket`).
    pub async fn start_with(state: AppState, client: Client, bucket: String) -> Gateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app(state)).await.unwrap();
        });
        Gateway {
            addr,
            client,
            bucket,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    pub async fn object(&self, key: &str) -> Option<Vec<u8>> {
        let r = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(r.body.collect().await.unwrap().to_vec())
    }
}

pub struct Curl {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Run the real curl (off the runtime's workers).
pub async fn curl(args: Vec<String>) -> Curl {
    tokio::task::spawn_blocking(move || {
        let out = Command::new("curl")
            .args(["-sS", "--noproxy", "*"])
            .args(&args)
            .output()
            .expect("run curl");
        Curl {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

pub fn s(x: impl AsRef<str>) -> String {
    x.as_ref().to_string()
}

/// The gateway in S3 mode as `lambda::state_from_env` builds it: `tokens`, presigned writes to
/// `bucket` at an endpoint that is never contacted (presigning is local computation), and the
/// repository over `dir`.
pub fn presign_state(dir: &std::path::Path, tokens: Tokens) -> AppState {
    let client = client_for("http://127.0.0.1:9");
    let repo =
        rpmbucket_gateway::local_repository(dir, rpmbucket_engine::RepoConfig::from_env()).unwrap();
    AppState {
        access: Access::Tokens(tokens),
        writes: Writes::Presign {
            presigner: rpmbucket_gateway::presign::Bucket::new(S3Store::new(client, "bucket", "")),
            expires: Duration::from_secs(120),
        },
        repo,
        baseurl: Some("https://bucket.example/".into()),
        max_wait: Duration::from_secs(2),
        limits: rpmbucket_gateway::app::Limits::default(),
    }
}

/// The gateway in S3 mode as `lambda::state_from_env` builds it, over `client`'s `bucket`:
/// `tokens`, presigned writes, the engine repository on the bucket.
pub fn s3_state(client: Client, bucket: String, tokens: Tokens, expires: Duration) -> AppState {
    AppState {
        access: Access::Tokens(tokens),
        writes: Writes::Presign {
            presigner: rpmbucket_gateway::presign::Bucket::new(S3Store::new(
                client.clone(),
                bucket.clone(),
                "",
            )),
            expires,
        },
        repo: rpmbucket_gateway::s3_repository(client, bucket.clone()),
        baseurl: Some(format!("https://example.invalid/{bucket}/")),
        max_wait: Duration::from_secs(5),
        limits: rpmbucket_gateway::app::Limits::default(),
    }
}

/// Tokens for the promotion tests: `ci` reads and writes all of el9/, `qa` only el9/testing/,
/// `release` may only write el9/stable/ (secrets `pw`, `qa`, `rel`).
pub fn promotion_tokens() -> Tokens {
    let params = || argon2::Params::new(256, 1, 1, None).unwrap();
    Tokens::parse(&format!(
        "ci:{} rw el9/\nqa:{} rw el9/testing/\nrelease:{} w el9/stable/\n",
        hash_token_with("pw", params()),
        hash_token_with("qa", params()),
        hash_token_with("rel", params()),
    ))
    .unwrap()
}

/// (status, body) of a promote request to `url` (`.../promote?from=...&to=...`) as `user`
/// (`name:secret`, or anonymous) naming `names` (one per line), sent by the real curl.
pub async fn promote(url: String, user: Option<&str>, names: &str) -> (String, String) {
    let mut a = vec![s("-w"), s("\n%{http_code}"), s("--data-binary"), s(names)];
    if let Some(u) = user {
        a.extend([s("-u"), s(u)]);
    }
    a.push(url);
    let c = curl(a).await;
    let (body, code) = c.stdout.rsplit_once('\n').unwrap();
    (code.to_owned(), body.to_owned())
}

/// What dnf lists in el9/stable/ once the promotion tests have promoted `fx-lib` (its newest,
/// 1.2) and `fx-basic-1.0-1.noarch` there from el9/testing/ (which holds fx-lib 1.0 and 1.2 and
/// fx-basic).
pub fn promoted_nevras() -> std::collections::BTreeSet<String> {
    ["fx-basic-0:1.0-1.noarch", "fx-lib-0:1.2-1.noarch"]
        .map(String::from)
        .into()
}

/// A bucket of moto with `files` published as the repository `root` (by the engine, as the
/// indexer Lambda would), readable by anyone (dnf).
pub async fn published_bucket(
    server: &rpmbucket_engine::testkit::MotoServer,
    root: &str,
    files: &[&str],
) -> S3Store {
    use rpmbucket_engine::ObjectStore as _;
    let store = server.new_bucket().await;
    server.make_public(&store).await;
    for f in files {
        store
            .put_file(
                &format!("{root}{f}"),
                &rpmbucket_tests::fixture(f),
                Default::default(),
            )
            .await
            .unwrap();
    }
    let indexer = rpmbucket_engine::Indexer::new(
        std::sync::Arc::new(store.clone()),
        rpmbucket_engine::Layout::default(),
        rpmbucket_engine::RepoConfig::default(),
    );
    indexer.reindex(root).await.unwrap();
    store
}

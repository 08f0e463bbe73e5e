//! Test helpers (feature `testkit`): S3-compatible servers on 127.0.0.1 (moto, LocalStack) and
//! fresh buckets on them.
//!
//! [`moto`] uses the server named by `RPMBUCKET_TEST_S3_ENDPOINT` when set (the test script
//! starts one for the whole run); otherwise it starts `moto_server` once per test process (from
//! `$RPMBUCKET_CACHE/venv/bin`, else `$HOME/.cache/rpmbucket/venv/bin`, else `PATH`) and the
//! server stops when the process exits. [`MotoServer::spawn`] starts a private server that stops
//! when dropped.
//!
//! [`localstack`] is LocalStack in host mode, which checks signatures, checksums and conditional
//! writes more like AWS than moto does. It is never started here (it needs its own Python and
//! takes seconds): the test script starts it and exports `RPMBUCKET_TEST_LOCALSTACK_ENDPOINT`.
//!
//! Both dereference to [`S3Server`], which makes buckets, clients and child-process
//! environments for an endpoint. Each [`S3Server::new_bucket`] builds its own client, so a
//! bucket belongs to the tokio runtime of the test that made it.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::ops::Deref;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::config::Credentials;

use crate::store::s3::{self, S3Options};
use crate::S3Store;

/// Region the helpers configure.
pub const REGION: &str = "us-east-1";

/// Environment variable naming a running LocalStack (`http://127.0.0.1:PORT`).
pub const LOCALSTACK_ENDPOINT_VAR: &str = "RPMBUCKET_TEST_LOCALSTACK_ENDPOINT";

/// One request moto's recorder saw ([`S3Server::recorded`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The HTTP method, or `COPY` for a server-side copy (a PUT with `x-amz-copy-source`).
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
}

/// Which implementation an [`S3Server`] is, for the few assertions where they differ from AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Kind {
    /// moto: does not validate signatures or checksums (stores what the client claims).
    Moto,
    /// LocalStack (community, host mode): validates signatures and checksums like AWS, but
    /// enforces no bucket policy or ACL, so anonymous requests are allowed on every bucket.
    LocalStack,
}

/// An S3-compatible server at an endpoint, with dummy credentials (`test`/`test`, which both
/// moto and LocalStack accept).
#[derive(Debug, Clone)]
pub struct S3Server {
    kind: S3Kind,
    endpoint: String,
}

/// A moto server (shared or private). Cloning shares the same server.
#[derive(Debug, Clone)]
pub struct MotoServer {
    server: S3Server,
    _process: Option<Arc<ServerProcess>>,
}

impl Deref for MotoServer {
    type Target = S3Server;

    fn deref(&self) -> &S3Server {
        &self.server
    }
}

/// A LocalStack server (host mode) started by the test script.
#[derive(Debug, Clone)]
pub struct LocalStackServer {
    server: S3Server,
}

impl Deref for LocalStackServer {
    type Target = S3Server;

    fn deref(&self) -> &S3Server {
        &self.server
    }
}

/// The running `moto_server` behind a `sh` watchdog that kills it when its stdin closes: when
/// this is dropped, or when the test process dies whatever the way.
#[derive(Debug)]
struct ServerProcess {
    child: Mutex<Child>,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        drop(child.stdin.take()); // the watchdog kills moto_server
        let _ = child.wait();
    }
}

/// The shared server: `RPMBUCKET_TEST_S3_ENDPOINT`, or one started for this process.
pub async fn moto() -> MotoServer {
    if let Ok(endpoint) = std::env::var("RPMBUCKET_TEST_S3_ENDPOINT") {
        if !endpoint.is_empty() {
            return MotoServer {
                server: S3Server::new(S3Kind::Moto, &endpoint),
                _process: None,
            };
        }
    }
    static SHARED: OnceLock<MotoServer> = OnceLock::new();
    if let Some(server) = SHARED.get() {
        return server.clone();
    }
    let server = tokio::task::spawn_blocking(|| {
        SHARED
            .get_or_init(|| MotoServer::spawn_blocking().expect("start moto_server"))
            .clone()
    })
    .await
    .expect("moto start task");
    server
}

/// The LocalStack named by `RPMBUCKET_TEST_LOCALSTACK_ENDPOINT`, or `None` when the variable
/// is unset or empty: the caller then skips (`let Some(ls) = localstack() else { return };`),
/// after a banner on stderr ([`rpmbucket_testenv::skip`]).
///
/// # Panics
///
/// When the variable is unset and `CI` is set (to anything but `false`/`0`): the test script
/// always starts LocalStack, so its absence there is a broken setup, not a reason to pass.
pub fn localstack() -> Option<LocalStackServer> {
    let endpoint = std::env::var(LOCALSTACK_ENDPOINT_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty());
    match endpoint {
        Some(endpoint) => Some(LocalStackServer {
            server: S3Server::new(S3Kind::LocalStack, &endpoint),
        }),
        None => {
            rpmbucket_testenv::skip(
                &format!("{LOCALSTACK_ENDPOINT_VAR} is not set"),
                "run through scripts/test.sh, or start LocalStack with scripts/localstack.sh and \
                 export it",
            );
            None
        }
    }
}

fn moto_binary() -> PathBuf {
    let cache = std::env::var_os("RPMBUCKET_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/rpmbucket")));
    if let Some(cache) = cache {
        let bin = cache.join("venv/bin/moto_server");
        if bin.is_file() {
            return bin;
        }
    }
    // Resolve from PATH here so a missing binary fails at once, not after a timeout.
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("moto_server"))
        .find(|bin| bin.is_file())
        .unwrap_or_else(|| PathBuf::from("moto_server"))
}

impl MotoServer {
    /// Starts a private `moto_server` on a free 127.0.0.1 port; it stops when the last clone
    /// is dropped.
    pub async fn spawn() -> std::io::Result<MotoServer> {
        tokio::task::spawn_blocking(Self::spawn_blocking)
            .await
            .map_err(std::io::Error::other)?
    }

    fn spawn_blocking() -> std::io::Result<MotoServer> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let bin = moto_binary();
        if !bin.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "moto_server not found (set RPMBUCKET_TEST_S3_ENDPOINT, or install moto[server] \
                 into $RPMBUCKET_CACHE/venv or PATH)",
            ));
        }
        let log = tempfile_path("moto", "log");
        let recording = tempfile_path("moto", "recording");
        let child = Command::new("sh")
            // The request recorder (tests that count requests turn it on) writes here.
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .arg("-c")
            .arg(r#""$1" -H 127.0.0.1 -p "$2" >"$3" 2>&1 & pid=$!; read _; kill "$pid"; wait "$pid"; rm -f "$4""#)
            .arg("sh")
            .arg(&bin)
            .arg(port.to_string())
            .arg(&log)
            .arg(&recording)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let process = Arc::new(ServerProcess {
            child: Mutex::new(child),
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                let mut out = String::new();
                let _ = std::fs::File::open(&log).and_then(|mut f| f.read_to_string(&mut out));
                let _ = std::fs::remove_file(&log);
                return Err(std::io::Error::other(format!(
                    "{} did not listen on 127.0.0.1:{port} within 30 s: {out}",
                    bin.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // moto keeps logging into the unlinked file; nothing is left behind.
        let _ = std::fs::remove_file(&log);
        Ok(MotoServer {
            server: S3Server::new(S3Kind::Moto, &format!("http://127.0.0.1:{port}")),
            _process: Some(process),
        })
    }
}

impl S3Server {
    /// A handle on a `kind` server at `endpoint` (`http://host:port`, a trailing `/` is
    /// dropped).
    pub fn new(kind: S3Kind, endpoint: &str) -> S3Server {
        S3Server {
            kind,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
        }
    }

    /// Which implementation this is.
    pub fn kind(&self) -> S3Kind {
        self.kind
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Environment for a child process (a CLI under test) to reach this server through the
    /// standard AWS configuration: endpoint, dummy credentials, region, path style.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_S3_FORCE_PATH_STYLE", "1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// An SDK configuration for this server with dummy credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new(REGION))
            .credentials_provider(Credentials::new(
                "test",
                "test",
                None,
                None,
                "rpmbucket-testkit",
            ))
            .load()
            .await
    }

    /// An S3 client for this server (path style).
    pub async fn client(&self) -> aws_sdk_s3::Client {
        s3::client(
            &self.sdk_config().await,
            &S3Options::default().with_force_path_style(true),
        )
    }

    /// A new, empty, uniquely named bucket as a store (no prefix).
    pub async fn new_bucket(&self) -> S3Store {
        self.new_bucket_with_prefix("").await
    }

    /// A new, empty, uniquely named bucket as a store whose keys live under `prefix`.
    pub async fn new_bucket_with_prefix(&self, prefix: &str) -> S3Store {
        static N: AtomicU64 = AtomicU64::new(0);
        let bucket = format!(
            "rpmbucket-test-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos()
        );
        let client = self.client().await;
        client
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create bucket");
        S3Store::new(client, bucket, prefix)
    }

    /// Lets anyone read `store`'s bucket (GET and HEAD objects, list) over plain HTTP, as dnf
    /// and zypper do (LocalStack lets anyone read already; the policy is stored all the same).
    /// On AWS `s3:GetObject` also allows HEAD; moto checks a HEAD against an action of its own,
    /// `s3:HeadObject` (anonymous HEAD → 403 without it; zypper starts with one), so the
    /// policy names both.
    pub async fn make_public(&self, store: &S3Store) {
        let bucket = store.bucket();
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[
                {{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:HeadObject"],"Resource":"arn:aws:s3:::{bucket}/*"}},
                {{"Sid":"PublicList","Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::{bucket}"}}]}}"#
        );
        store
            .client()
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy)
            .send()
            .await
            .expect("put bucket policy");
    }

    /// Starts moto's request recorder afresh (moto only: tests that count requests). One
    /// recording per server at a time: tests of one process that record must not overlap.
    pub fn start_recording(&self) {
        self.moto_api("reset-recording");
        self.moto_api("start-recording");
    }

    /// Stops the recorder; the requests it saw for `bucket`, in order.
    pub fn recorded(&self, bucket: &str) -> Vec<Recorded> {
        self.moto_api("stop-recording");
        let log = self.moto_api("download-recording");
        let mut out = Vec::new();
        // One JSON object per request, separated by whitespace: moto's threads can write two
        // entries before their newlines, so the entries are read as a stream, not by lines.
        for entry in serde_json::Deserializer::from_str(&log).into_iter::<serde_json::Value>() {
            let entry = entry.expect("a recorder entry");
            let url = entry["url"].as_str().unwrap_or_default();
            let path = url
                .split_once("://")
                .map_or(url, |(_, r)| &r[r.find('/').unwrap_or(r.len())..]);
            if !path.starts_with(&format!("/{bucket}")) {
                continue;
            }
            let header = |name: &str| {
                entry["headers"].as_object().and_then(|h| {
                    h.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.as_str().unwrap_or_default().to_owned())
                })
            };
            let method = if header("x-amz-copy-source").is_some() {
                "COPY".to_owned()
            } else {
                entry["method"].as_str().unwrap_or_default().to_owned()
            };
            out.push(Recorded {
                method,
                path: path.to_owned(),
                range: header("range"),
            });
        }
        out
    }

    /// GET `/moto-api/recorder/WHAT` (a plain HTTP/1.0 request on loopback); the body.
    fn moto_api(&self, what: &str) -> String {
        use std::io::Write as _;
        let host = self.endpoint.trim_start_matches("http://");
        let mut s = TcpStream::connect(host).expect("connect to moto");
        write!(
            s,
            "GET /moto-api/recorder/{what} HTTP/1.0\r\nHost: {host}\r\n\r\n"
        )
        .expect("send to moto");
        let mut all = String::new();
        s.read_to_string(&mut all).expect("read from moto");
        all.split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default()
    }

    /// Plain HTTP URL of `store`'s root on this server (path style): a dnf `baseurl` once the
    /// bucket is public.
    pub fn base_url(&self, store: &S3Store) -> String {
        format!("{}/{}/{}", self.endpoint, store.bucket(), store.prefix())
    }
}

fn tempfile_path(what: &str, ext: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "rpmbucket-{what}-{}-{}.{ext}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

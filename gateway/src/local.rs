//! The local server: one process that stores uploads in a directory, indexes them in-process
//! and serves the directory to dnf/yum (GET/HEAD with Range).
//!
//! An upload is streamed into `DIR/.rpmbucket-uploads/` (a name the engine's stores never list), hashed (SHA-256) on the way, then renamed
//! into place, so a reader never sees half a package and a failed upload leaves nothing behind.
//! The change (with its checksum, so the indexer reads only the header) goes to an indexing task
//! that waits for a quiet moment — [`QUIET`], at most [`MAX_DELAY`] after the first change — and
//! publishes each touched repository once for the whole burst.

use rpmbucket_repodata::extra::{self, ExtraKind};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::app::{app, refuse, Access, AppState, Writes};
use crate::auth::Tokens;
use crate::path::PackagePath;
use crate::repo::{Change, Repository};

/// Quiet time after the last upload before publishing.
pub const QUIET: Duration = Duration::from_millis(200);
/// Longest wait between the first change of a burst and its publish.
pub const MAX_DELAY: Duration = Duration::from_millis(800);
/// Directory (inside the root) for uploads in progress.
pub const TMP_DIR: &str = ".rpmbucket-uploads";

/// Options of [`serve_local`].
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// The directory served and written (created if missing).
    pub root: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Tokens; `None` or empty: writes are open, but only on a loopback address.
    pub tokens: Option<Tokens>,
    /// Metadata settings of new repositories, signing key and package policy (default:
    /// `RepoConfig::from_env()`).
    pub config: Option<rpmbucket_engine::RepoConfig>,
}

impl LocalOptions {
    /// Options for `root` on `127.0.0.1:8080` without tokens.
    pub fn new(root: impl Into<PathBuf>) -> LocalOptions {
        LocalOptions {
            root: root.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tokens: None,
            config: None,
        }
    }

    /// Publish with this configuration (signing key, package policy, metadata settings).
    pub fn with_config(mut self, config: rpmbucket_engine::RepoConfig) -> LocalOptions {
        self.config = Some(config);
        self
    }

    /// Listen on `addr`.
    pub fn with_listen(mut self, addr: SocketAddr) -> LocalOptions {
        self.listen = addr;
        self
    }

    /// Require these tokens for writes.
    pub fn with_tokens(mut self, tokens: Tokens) -> LocalOptions {
        self.tokens = Some(tokens);
        self
    }
}

/// The write side of the local server (used by the router in local mode).
#[derive(Clone)]
pub struct LocalSink {
    root: PathBuf,
    tx: mpsc::UnboundedSender<Change>,
    files: ServeDir,
    repo: Arc<dyn Repository>,
    rename_lock: Arc<tokio::sync::Mutex<()>>,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl LocalSink {
    /// A sink writing into `root` (the directory `repo` indexes) and sending changes to `tx`.
    pub fn new(
        root: PathBuf,
        repo: Arc<dyn Repository>,
        tx: mpsc::UnboundedSender<Change>,
    ) -> LocalSink {
        let files = ServeDir::new(&root).append_index_html_on_directories(true);
        LocalSink {
            root,
            tx,
            files,
            repo,
            rename_lock: Arc::default(),
        }
    }

    fn dest(&self, p: &PackagePath) -> PathBuf {
        let mut dest = self.root.clone();
        for seg in p.key.split('/') {
            dest.push(seg);
        }
        dest
    }

    pub(crate) async fn put(
        &self,
        p: &PackagePath,
        _root: &str,
        bound: Option<String>,
        body: Body,
    ) -> Response {
        let dest = self.dest(p);
        if dest.is_dir() {
            return refuse(StatusCode::CONFLICT, format!("{} is a directory", p.key));
        }
        let tmpdir = self.root.join(TMP_DIR);
        if let Err(e) = tokio::fs::create_dir_all(&tmpdir).await {
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("creating {TMP_DIR}: {e}"),
            );
        }
        let tmp = tmpdir.join(format!(
            "{}-{}.part",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        match stream_to(&tmp, body).await {
            Ok((size, sha256)) => {
                let fail = |status, msg: String| {
                    let tmp = tmp.clone();
                    async move {
                        let _ = tokio::fs::remove_file(&tmp).await;
                        refuse(status, msg)
                    }
                };
                if size == 0 {
                    return fail(StatusCode::BAD_REQUEST, "empty body".into()).await;
                }
                if let Some(want) = bound {
                    if want != sha256 {
                        return fail(
                            StatusCode::BAD_REQUEST,
                            format!(
                                "body sha256 {sha256} does not match the bound checksum {want}"
                            ),
                        )
                        .await;
                    }
                }
                if let Some(kind) = ExtraKind::from_source_name(&p.name) {
                    // Extra metadata is small: check it before it replaces the published one.
                    let checked = match tokio::fs::read(&tmp).await {
                        Ok(data) => extra::validate(kind, &data).map_err(|e| e.to_string()),
                        Err(e) => Err(format!("reading the upload: {e}")),
                    };
                    if let Err(reason) = checked {
                        return fail(StatusCode::BAD_REQUEST, format!("refused: {reason}")).await;
                    }
                }
                if let Some(parent) = dest.parent() {
                    if let Err(e) = tokio::fs::create_dir_all(parent).await {
                        return fail(StatusCode::CONFLICT, format!("creating directory: {e}"))
                            .await;
                    }
                }
                // Rename and read the new version under one lock, so the checksum is paired
                // with the ETag of this body even when the same key is uploaded twice at once.
                let etag = {
                    let _guard = self.rename_lock.lock().await;
                    if let Err(e) = tokio::fs::rename(&tmp, &dest).await {
                        return fail(StatusCode::INTERNAL_SERVER_ERROR, format!("storing: {e}"))
                            .await;
                    }
                    self.repo.etag(&p.key).await
                };
                let _ = self.tx.send(Change {
                    key: p.key.clone(),
                    removed: false,
                    etag,
                    sha256: Some(sha256.clone()),
                });
                tracing::info!(key = %p.key, size, %sha256, "stored");
                (
                    StatusCode::CREATED,
                    format!("stored {} ({size} bytes, sha256 {sha256})\n", p.key),
                )
                    .into_response()
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                refuse(StatusCode::BAD_REQUEST, format!("upload failed: {e}"))
            }
        }
    }

    pub(crate) async fn delete(&self, p: &PackagePath, _root: &str) -> Response {
        match tokio::fs::remove_file(self.dest(p)).await {
            Ok(()) => {
                let _ = self.tx.send(Change {
                    key: p.key.clone(),
                    removed: true,
                    etag: None,
                    sha256: None,
                });
                tracing::info!(key = %p.key, "deleted");
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                refuse(StatusCode::NOT_FOUND, format!("no such package: {}", p.key))
            }
            Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("deleting: {e}")),
        }
    }

    pub(crate) async fn serve(&self, req: Request) -> Response {
        if req
            .uri()
            .path()
            .split('/')
            .any(|s| s.starts_with('.') || s.starts_with("%2e") || s.starts_with("%2E"))
        {
            return refuse(StatusCode::NOT_FOUND, "not found");
        }
        let path = req.uri().path();
        let rpm = path.ends_with(".rpm");
        // The repository page (`DIR/` serves `DIR/index.html`) and repomd.xml change in place:
        // short caching, as the engine stores them in a bucket.
        let short =
            path.ends_with('/') || path.ends_with("/index.html") || path.ends_with("/repomd.xml");
        match self.files.clone().oneshot(req).await {
            Ok(r) => {
                let mut r = r.map(Body::new);
                if rpm && r.status().is_success() {
                    r.headers_mut().insert(
                        axum::http::header::CONTENT_TYPE,
                        axum::http::HeaderValue::from_static("application/x-rpm"),
                    );
                }
                if short && r.status().is_success() {
                    r.headers_mut().insert(
                        axum::http::header::CACHE_CONTROL,
                        axum::http::HeaderValue::from_static(rpmbucket_engine::CACHE_SHORT),
                    );
                }
                r
            }
            Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e),
        }
    }
}

/// Stream `body` into a new file at `tmp`, returning its size and hex SHA-256.
async fn stream_to(tmp: &Path, body: Body) -> std::io::Result<(u64, String)> {
    let mut file = tokio::fs::File::create(tmp).await?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(std::io::Error::other)?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk).await?;
    }
    file.sync_all().await?;
    Ok((size, hex::encode(hasher.finalize())))
}

/// Receive changes and publish them in bursts: wait for [`QUIET`] without a new change (at
/// most [`MAX_DELAY`] after the first), then apply each repository root's changes once.
pub async fn index_loop(mut rx: mpsc::UnboundedReceiver<Change>, repo: Arc<dyn Repository>) {
    // First catch up with what is already in the directory (uploads stored just before a
    // crash, packages copied in by hand); uploads arriving meanwhile wait in the channel.
    for (root, result) in repo.reconcile_all().await {
        match result {
            Ok(p) if p.added.is_empty() && p.removed.is_empty() => {}
            Ok(p) => tracing::info!(
                root = %p.root, revision = %p.revision, added = p.added.len(),
                removed = p.removed.len(), "reconciled on start"
            ),
            Err(e) => tracing::error!(%root, error = %e, "reconciling on start failed"),
        }
    }
    while let Some(first) = rx.recv().await {
        let started = tokio::time::Instant::now();
        let mut batch = vec![first];
        loop {
            let until = (tokio::time::Instant::now() + QUIET).min(started + MAX_DELAY);
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(c)) => batch.push(c),
                Ok(None) | Err(_) => break,
            }
        }
        // Last change of a key wins; group by repository root.
        let mut by_root: BTreeMap<String, BTreeMap<String, Change>> = BTreeMap::new();
        for c in batch {
            match repo.root_of(&c.key) {
                Some(root) => {
                    by_root.entry(root).or_default().insert(c.key.clone(), c);
                }
                None => tracing::warn!(key = %c.key, "not in a configured repository; not indexed"),
            }
        }
        for (root, changes) in by_root {
            let changes: Vec<Change> = changes.into_values().collect();
            match repo.apply(&root, &changes).await {
                Ok(p) => tracing::info!(
                    root = %p.root, revision = %p.revision, added = p.added.len(),
                    removed = p.removed.len(), rejected = ?p.rejected, ms = p.duration.as_millis() as u64,
                    "published"
                ),
                Err(e) => tracing::error!(%root, error = %e, "publishing failed"),
            }
        }
    }
}

/// Who may write: the tokens if any; without tokens everyone on a loopback address, nobody
/// otherwise (every write is refused with 401). Also says whether writes are open.
fn access_for(tokens: Option<Tokens>, addr: SocketAddr) -> (Access, bool) {
    match tokens.filter(|t| !t.is_empty()) {
        Some(t) => (Access::Tokens(t), false),
        None if addr.ip().is_loopback() => (Access::Open, true),
        None => (Access::Tokens(Tokens::default()), false),
    }
}

/// A bound local server, ready to run.
pub struct LocalServer {
    listener: tokio::net::TcpListener,
    router: axum::Router,
    addr: SocketAddr,
    open_writes: bool,
    tokens: usize,
}

impl LocalServer {
    /// Bind the listener and set up the indexing task (needs a tokio runtime).
    pub async fn bind(opts: LocalOptions) -> anyhow::Result<LocalServer> {
        use anyhow::Context as _;
        tokio::fs::create_dir_all(&opts.root)
            .await
            .with_context(|| format!("creating {}", opts.root.display()))?;
        let root = tokio::fs::canonicalize(&opts.root).await?;
        let config = opts
            .config
            .clone()
            .unwrap_or_else(rpmbucket_engine::RepoConfig::from_env);
        let repo = crate::engine::local_repository(&root, config)?;
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .with_context(|| format!("listening on {}", opts.listen))?;
        let addr = listener.local_addr()?;
        let n_tokens = opts.tokens.as_ref().map_or(0, Tokens::len);
        let (access, open_writes) = access_for(opts.tokens, addr);
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(index_loop(rx, Arc::clone(&repo)));
        let state = AppState {
            access,
            writes: Writes::Local(LocalSink::new(root, Arc::clone(&repo), tx)),
            repo,
            baseurl: None,
            max_wait: Duration::from_secs(300),
        };
        Ok(LocalServer {
            listener,
            router: app(state),
            addr,
            open_writes,
            tokens: n_tokens,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How to use the server, printed on start.
    pub fn banner(&self, root: &Path) -> String {
        let base = format!("http://{}", self.addr);
        let auth = if self.tokens > 0 {
            format!(
                "Writes need one of the {} configured tokens (curl -u USER:TOKEN ...).",
                self.tokens
            )
        } else if self.open_writes {
            "No tokens configured: anyone who can reach this loopback address may upload and delete.".to_string()
        } else {
            "No tokens configured and not listening on loopback: uploads are refused (read-only). Pass --tokens FILE to accept uploads.".to_string()
        };
        let cred = if self.tokens > 0 {
            "-u USER:TOKEN "
        } else {
            ""
        };
        format!(
            "rpmbucket: serving {root} at {base}/\n\
             {auth}\n\
             upload:   curl {cred}-T pkg.rpm {base}/el9/x86_64/\n\
             delete:   curl {cred}-X DELETE {base}/el9/x86_64/pkg.rpm\n\
             wait:     curl -f {cred}'{base}/status/el9/x86_64/pkg.rpm?wait=10'\n\
             baseurl:  {base}/el9/x86_64/   (any directory you upload to is a repository)\n\
             repo:     curl -o /etc/yum.repos.d/el9.repo {base}/el9/x86_64/el9.repo\n",
            root = root.display()
        )
    }

    /// Serve until `shutdown` resolves.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// Run the local server until Ctrl-C, printing the banner on start.
pub async fn serve_local(opts: LocalOptions) -> anyhow::Result<()> {
    let root = opts.root.clone();
    let server = LocalServer::bind(opts).await?;
    eprint!("{}", server.banner(&root));
    server
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_without_tokens_only_on_loopback() {
        let open = |addr: &str| access_for(None, addr.parse().unwrap()).1;
        assert!(open("127.0.0.1:8080"));
        assert!(open("127.8.9.10:8080"));
        assert!(open("[::1]:8080"));
        assert!(!open("0.0.0.0:8080"));
        assert!(!open("[::]:8080"));
        assert!(!open("192.0.2.7:8080"));
        // Not open means an empty token set: every write is refused.
        match access_for(Some(Tokens::default()), "0.0.0.0:80".parse().unwrap()) {
            (Access::Tokens(t), false) => assert!(t.is_empty()),
            other => panic!("{other:?}"),
        }
    }
}

//! The local server: one process that stores uploads in a directory, indexes them in-process
//! and serves the directory to dnf/yum (GET/HEAD with Range).
//!
//! An upload is streamed into `DIR/.rpmbucket-uploads/` (a name the engine's stores never list), hashed (SHA-256) on the way, then renamed
//! into place, so a reader never sees half a package and a failed upload leaves nothing behind.
//! The change (with its checksum, so the indexer reads only the header) goes to an indexing task
//! that waits for a quiet moment — [`QUIET`], at most [`MAX_DELAY`] after the first change — and
//! publishes each touched repository once for the whole burst.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use tokio::sync::{mpsc, watch, Semaphore};
use tower::Layer as _;

use crate::app::{app, Access, AppState, Limits, Writes};
use crate::auth::{AuthLimits, Tokens};
use crate::waiters::Waiters;

/// Connection limits of the local server (see SECURITY.md for the reasoning behind each
/// default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Time to receive a request's complete header, counted from the connection's start or
    /// the end of the previous response (hyper's `header_read_timeout`).
    pub header_timeout: Duration,
    /// Idle keep-alive timeout: a connection with no traffic for this long is closed as soon
    /// as it has no request in progress (at once when idle between requests; after the
    /// response otherwise). The header timeout also bounds the wait for a next request, so an
    /// idle connection lives at most the shorter of the two.
    pub idle_timeout: Duration,
    /// Longest time to receive one upload's body, in total (a body trickling in slowly is cut
    /// too, not only one that stalls; tower-http's `RequestBodyTimeout` also applies it
    /// between two pieces of any request body).
    pub body_timeout: Duration,
    /// Open connections at most; more are answered 503 and closed.
    pub max_connections: usize,
    /// Open connections per client address at most; more are answered 503 and closed.
    pub max_connections_per_client: usize,
}

impl Default for ConnLimits {
    fn default() -> ConnLimits {
        ConnLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
            body_timeout: crate::sink::DEFAULT_BODY_TIMEOUT,
            max_connections: 512,
            max_connections_per_client: 64,
        }
    }
}
use crate::engine::Repository;
use crate::repo::Change;

/// Quiet time after the last upload before publishing.
pub const QUIET: Duration = Duration::from_millis(200);
/// Longest wait between the first change of a burst and its publish.
pub const MAX_DELAY: Duration = Duration::from_millis(800);
pub use crate::sink::{LocalSink, TMP_DIR};

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
    /// Base URL written into `.repo` files; default `http://LISTEN` unless listening on an
    /// unspecified address (then `.repo` files need it). Never taken from the Host header.
    pub public_url: Option<String>,
    /// Connection limits.
    pub conn: ConnLimits,
    /// Request limits (upload size, `/status` waiters).
    pub limits: Limits,
    /// Authentication limits.
    pub auth: AuthLimits,
}

impl LocalOptions {
    /// Options for `root` on `127.0.0.1:8080` without tokens.
    pub fn new(root: impl Into<PathBuf>) -> LocalOptions {
        LocalOptions {
            root: root.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tokens: None,
            config: None,
            public_url: None,
            conn: ConnLimits::default(),
            limits: Limits::default(),
            auth: AuthLimits::default(),
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

/// One open connection of a client address; the count drops with it.
struct ClientSlot {
    ip: IpAddr,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl ClientSlot {
    fn take(counts: &Arc<Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr, max: usize) -> Option<Self> {
        let mut c = counts.lock().expect("connection counts");
        let n = c.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            ip,
            counts: Arc::clone(counts),
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().expect("connection counts");
        if let Some(n) = c.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.remove(&self.ip);
            }
        }
    }
}

/// Milliseconds since the first call (a clock for [`Activity`]).
fn now_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

/// A connection's stream that records when bytes last moved in either direction (for the
/// idle timeout).
struct Activity {
    inner: tokio::net::TcpStream,
    last: Arc<AtomicU64>,
}

impl Activity {
    fn touch(&self) {
        self.last.store(now_ms(), Ordering::Relaxed);
    }
}

impl tokio::io::AsyncRead for Activity {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl tokio::io::AsyncWrite for Activity {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// First wait after a failed publish; doubled after each failure up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait between retries of a failed publish.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Receive changes and publish them in bursts: wait for [`QUIET`] without a new change (at
/// most [`MAX_DELAY`] after the first), then apply each repository root's changes once.
///
/// A root whose publish fails keeps its changes (merged with newer ones, last change of a key
/// winning) and is retried with exponential backoff ([`FIRST_BACKOFF`] .. [`MAX_BACKOFF`]): an
/// acknowledged upload is never dropped. Keys the engine cannot publish (invalid, not a
/// package) are not failures: they land in the repository's rejected list. After a restart
/// the reconcile on start publishes or rejects whatever was stored. The `/status` waiters of
/// a repository are woken after every publish attempt of it.
pub async fn index_loop(
    mut rx: mpsc::UnboundedReceiver<Change>,
    repo: Arc<Repository>,
    waiters: Waiters,
) {
    // First catch up with what is already in the directory (uploads stored just before a
    // crash, packages copied in by hand); uploads arriving meanwhile wait in the channel.
    for (root, result) in repo.reconcile_all().await {
        match result {
            Ok(p) if p.added.is_empty() && p.removed.is_empty() && p.rejected.is_empty() => {}
            Ok(p) => tracing::info!(
                root = %p.root, revision = %p.revision, added = p.added.len(),
                removed = p.removed.len(), rejected = ?p.rejected, "reconciled on start"
            ),
            Err(e) => tracing::error!(%root, error = %e, "reconciling on start failed"),
        }
        waiters.published(&root);
    }
    // Changes not yet published, by root; the backoff of roots whose last attempt failed.
    let mut pending: BTreeMap<String, BTreeMap<String, Change>> = BTreeMap::new();
    let mut backoff: Option<(tokio::time::Instant, Duration)> = None;
    loop {
        // Wait for the first change, or for the retry time of a failed root.
        let first = match backoff {
            Some((at, _)) => match tokio::time::timeout_at(at, rx.recv()).await {
                Ok(Some(c)) => Some(c),
                Ok(None) if pending.is_empty() => return,
                Ok(None) => {
                    tokio::time::sleep_until(at).await;
                    None
                }
                Err(_) => None,
            },
            None => match rx.recv().await {
                Some(c) => Some(c),
                None => return,
            },
        };
        let mut batch: Vec<Change> = first.into_iter().collect();
        if !batch.is_empty() {
            let started = tokio::time::Instant::now();
            loop {
                let until = (tokio::time::Instant::now() + QUIET).min(started + MAX_DELAY);
                match tokio::time::timeout_at(until, rx.recv()).await {
                    Ok(Some(c)) => batch.push(c),
                    Ok(None) | Err(_) => break,
                }
            }
        }
        if backoff.is_some_and(|(at, _)| tokio::time::Instant::now() < at) && batch.is_empty() {
            continue;
        }
        for c in batch {
            match repo.root_of(&c.key) {
                Some(root) => {
                    pending.entry(root).or_default().insert(c.key.clone(), c);
                }
                None => tracing::warn!(key = %c.key, "not in a configured repository; not indexed"),
            }
        }
        let mut failed = false;
        for (root, changes) in std::mem::take(&mut pending) {
            let list: Vec<Change> = changes.values().cloned().collect();
            match repo.apply(&root, &list).await {
                Ok(p) => tracing::info!(
                    root = %p.root, revision = %p.revision, added = p.added.len(),
                    removed = p.removed.len(), rejected = ?p.rejected, ms = p.duration.as_millis() as u64,
                    "published"
                ),
                Err(e) => {
                    tracing::error!(%root, error = %e, keys = list.len(), "publishing failed; will retry");
                    failed = true;
                    pending.insert(root.clone(), changes);
                }
            }
            waiters.published(&root);
        }
        backoff = if failed {
            let wait = backoff.map_or(FIRST_BACKOFF, |(_, w)| (w * 2).min(MAX_BACKOFF));
            Some((tokio::time::Instant::now() + wait, wait))
        } else {
            None
        };
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
    conn: ConnLimits,
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
        let tokens = opts.tokens.map(|t| t.with_limits(opts.auth));
        let (access, open_writes) = access_for(tokens, addr);
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(index_loop(
            rx,
            Arc::clone(&repo),
            opts.limits.waiters().clone(),
        ));
        let baseurl = match opts.public_url {
            Some(u) => Some(u),
            None if !addr.ip().is_unspecified() => Some(format!("http://{addr}")),
            None => None,
        };
        let state = AppState {
            access,
            writes: Writes::Local(
                LocalSink::new(root, Arc::clone(&repo), tx)
                    .with_body_timeout(opts.conn.body_timeout),
            ),
            repo,
            baseurl,
            max_wait: Duration::from_secs(300),
            limits: opts.limits,
        };
        let router = app(state).layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            opts.conn.body_timeout,
        ));
        Ok(LocalServer {
            listener,
            router,
            addr,
            open_writes,
            tokens: n_tokens,
            conn: opts.conn,
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

    /// Serve until `shutdown` resolves: HTTP/1.1 through hyper with the header-read timeout,
    /// the idle keep-alive timeout, at most [`ConnLimits::max_connections`] connections and
    /// [`ConnLimits::max_connections_per_client`] per client address (more are answered 503
    /// and closed at once, so they cost no file descriptor for long).
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use hyper_util::rt::{TokioIo, TokioTimer};
        const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\nContent-Length: 47\r\nConnection: close\r\n\r\ntoo many connections (from this address or all)\n";
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.conn.header_timeout)
            .keep_alive(true);
        // Connections close gracefully (finishing the request in progress) when this turns
        // true; the server waits for them by taking back every connection slot.
        let (stop_tx, stop_rx) = watch::channel(false);
        let max_connections = self.conn.max_connections.clamp(1, Semaphore::MAX_PERMITS);
        let slots = Arc::new(Semaphore::new(max_connections));
        let per_client: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
        let idle = self.conn.idle_timeout;
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                r = self.listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of descriptors or a connection reset before accept: wait a
                        // little instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                let _ = stream.try_write(BUSY);
                continue;
            };
            let Some(client) =
                ClientSlot::take(&per_client, peer.ip(), self.conn.max_connections_per_client)
            else {
                let _ = stream.try_write(BUSY);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let last = Arc::new(AtomicU64::new(now_ms()));
            let io = Activity {
                inner: stream,
                last: Arc::clone(&last),
            };
            let svc = axum::Extension(ConnectInfo(peer)).layer(self.router.clone());
            let conn = http.serve_connection(
                TokioIo::new(io),
                hyper_util::service::TowerToHyperService::new(svc),
            );
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                // The connection (and its socket) is dropped at the end of this block, before
                // its slots are given back: a slot is free only once the descriptor is closed.
                {
                    let mut conn = std::pin::pin!(conn);
                    let mut closing = false;
                    loop {
                        let quiet = Duration::from_millis(
                            now_ms().saturating_sub(last.load(Ordering::Relaxed)),
                        );
                        let check = tokio::time::sleep(idle.saturating_sub(quiet));
                        tokio::select! {
                            _ = conn.as_mut() => break,
                            () = check, if !closing => {
                                let quiet = now_ms().saturating_sub(last.load(Ordering::Relaxed));
                                if Duration::from_millis(quiet) >= idle {
                                    conn.as_mut().graceful_shutdown();
                                    closing = true;
                                }
                            }
                            _ = stop.changed(), if !closing => {
                                conn.as_mut().graceful_shutdown();
                                closing = true;
                            }
                        }
                    }
                }
                drop((slot, client));
            });
        }
        drop(self.listener);
        // In-flight requests finish; idle connections close.
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            slots.acquire_many(max_connections as u32),
        )
        .await;
        Ok(())
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

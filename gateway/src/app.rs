//! The HTTP router shared by the Lambda (`lambda_http`), the standalone server and tests.
//!
//! | request | needs | answer |
//! |---|---|---|
//! | `PUT /<repo>/<file>.rpm` | write | S3 mode: `307` to a presigned PUT URL (before the body is read); local mode: the body is stored, `201` |
//! | `GET /presign/<repo>/<file>.rpm?size=BYTES` | write | the presigned URL (binding the size) as text, or JSON on `Accept: application/json`; `411` without `size=` |
//! | `DELETE /<repo>/<file>.rpm` | delete | `204` |
//! | `GET /status/<repo>/<file>.rpm[?wait=N]` | read | `200` published (with the repomd revision) or `404` |
//! | `POST /promote?from=<repo>/&to=<repo>/` | read on `from`, write on `to` | copies the packages named in the body (one NAME, NEVRA or key per line; NAME: its newest version) server-side and publishes `to`; `200` with JSON |
//! | `GET /<repo>/<name>.repo` | – | a `.repo` file whose baseurl is that repository |
//! | `GET`/`HEAD` anything else | – | local mode: the file (Range supported); S3 mode: `404` |
//!
//! `sha256=HEX` (query) or `x-amz-checksum-sha256: BASE64` (header) binds the package checksum:
//! S3 refuses another body, the local server checks it while streaming, and the indexer is told
//! the checksum so it needs no full read. Refusals carry a one-line reason in the body.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;

use crate::auth::{Permission, Tokens};
use crate::engine::Repository;
use crate::path::{self, PackagePath};
use crate::presign::{self, Bucket};
pub(crate) use crate::refusal::{refuse, Refusal, UploadLimit};
use crate::repo::PromoteError;
use crate::sink::LocalSink;
use crate::waiters::{Waiters, Watch};

/// Who may do what.
#[derive(Debug, Clone)]
pub enum Access {
    /// Tokens decide (an empty set refuses everything that needs a permission).
    Tokens(Tokens),
    /// No tokens: everyone may read and write (the local server on a loopback address only).
    Open,
}

/// Where writes go.
#[derive(Clone)]
pub enum Writes {
    /// Redirect to presigned S3 URLs; deletes go to the store.
    Presign {
        /// The bucket the URLs point into.
        presigner: Bucket,
        /// Lifetime of each presigned URL.
        expires: Duration,
    },
    /// Store directly into a local directory and index in-process.
    Local(LocalSink),
}

/// Everything the handlers need.
#[derive(Clone)]
pub struct AppState {
    /// Who may read, write and delete.
    pub access: Access,
    /// Where uploads and deletes go.
    pub writes: Writes,
    /// The repositories: where a key belongs, what is published, applying changes.
    pub repo: Arc<Repository>,
    /// Base URL of the repositories for `.repo` files (the bucket's public URL); `None` means
    /// "this server" (the local server serves its files itself).
    pub baseurl: Option<String>,
    /// Longest `?wait=` honoured by `/status`.
    pub max_wait: Duration,
    /// Upload size and `/status` waiter limits.
    pub limits: Limits,
}

/// Default [`Limits::max_upload`]: 4 GiB, larger than any real package.
pub const DEFAULT_MAX_UPLOAD: u64 = 4 << 30;
/// Default [`Limits::max_waiters`].
pub const DEFAULT_MAX_WAITERS: usize = 256;
/// Default [`Limits::status_poll`].
pub const DEFAULT_STATUS_POLL: Duration = Duration::from_secs(1);

/// Per-request limits shared by the local server and the S3 gateway.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest package accepted, in bytes: a larger `Content-Length` gets 413 before the body
    /// is read, a body growing past it is cut and nothing of it is kept; presigned URLs bind
    /// the declared length.
    pub max_upload: u64,
    /// Requests waiting in `/status?wait=` at once; more get 503.
    pub max_waiters: usize,
    /// S3 mode: how often one task per repository with waiters reads its `repomd.xml`
    /// (conditional GET) to notice publishes made by other processes (see [`Waiters`]).
    pub status_poll: Duration,
    waiters: Waiters,
}

impl Limits {
    /// Limits with these values.
    pub fn new(max_upload: u64, max_waiters: usize) -> Limits {
        Limits {
            max_upload,
            max_waiters,
            status_poll: DEFAULT_STATUS_POLL,
            waiters: Waiters::new(max_waiters),
        }
    }

    /// Read a repository with `/status` waiters every `every` (S3 mode).
    pub fn with_status_poll(mut self, every: Duration) -> Limits {
        self.status_poll = every;
        self
    }

    /// The `/status?wait=` waiters (shared by every clone of these limits): publishes of
    /// this process are announced to them with [`Waiters::published`].
    pub fn waiters(&self) -> &Waiters {
        &self.waiters
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::new(DEFAULT_MAX_UPLOAD, DEFAULT_MAX_WAITERS)
    }
}

/// The limit for uploads into `root`: the smaller of the server's and the repository's.
async fn upload_limit(state: &AppState, root: &str) -> Result<UploadLimit, Refusal> {
    let server = UploadLimit::server(state.limits.max_upload);
    match state.repo.upload_limit(root).await {
        Ok(Some(n)) if n < server.bytes => Ok(UploadLimit {
            bytes: n,
            what: format!(
                "the upload limit of {n} bytes of repository /{root} (its max-upload-size setting)"
            ),
        }),
        Ok(_) => Ok(server),
        Err(e) => {
            let status = if e.is_retryable() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::BAD_GATEWAY
            };
            Err(Refusal::new(
                status,
                format!("reading the settings of repository /{root}: {e}"),
            ))
        }
    }
}

/// Environment variable: base URL for generated `.repo` files.
pub const BASEURL_ENV: &str = "RPMBUCKET_BASEURL";

/// The router.
pub fn app(state: AppState) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

/// The address of the client, as the server saw it: `ConnectInfo` from the local server's
/// accept loop, or [`ClientAddr`] set by the Lambda adapter from the function URL's context.
fn client_ip(req: &Request) -> Option<IpAddr> {
    if let Some(ConnectInfo(addr)) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
        return Some(addr.ip());
    }
    req.extensions().get::<ClientAddr>().map(|c| c.0)
}

/// A client address supplied by an adapter that has no socket (the Lambda function URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    let client = client_ip(&req);
    let uri = req.uri().clone();
    let raw = uri.path();
    let method = req.method().clone();
    if let Some(rest) = raw.strip_prefix("/presign").filter(|r| r.starts_with('/')) {
        if method != Method::GET {
            return refuse(StatusCode::METHOD_NOT_ALLOWED, "presign takes GET");
        }
        return presign(&state, rest, &uri, req.headers(), client).await;
    }
    if let Some(rest) = raw.strip_prefix("/status").filter(|r| r.starts_with('/')) {
        if method != Method::GET && method != Method::HEAD {
            return refuse(StatusCode::METHOD_NOT_ALLOWED, "status takes GET");
        }
        return status(&state, rest, &uri, req.headers(), client).await;
    }
    if raw == "/promote" {
        if method != Method::POST {
            return refuse(StatusCode::METHOD_NOT_ALLOWED, "promote takes POST");
        }
        return promote(&state, req, client).await;
    }
    match method {
        Method::PUT => put(&state, req, client).await,
        Method::DELETE => delete(&state, raw, req.headers(), client).await,
        Method::GET | Method::HEAD if raw.ends_with(".repo") => {
            repo_file(&state, raw, req.headers()).await
        }
        Method::GET | Method::HEAD => match &state.writes {
            Writes::Local(sink) => sink.serve(req).await,
            Writes::Presign { .. } => refuse(
                StatusCode::NOT_FOUND,
                "not found: packages and metadata are served by the bucket",
            ),
        },
        _ => refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {method} not allowed"),
        ),
    }
}

/// Authenticate and authorise `perm` on `key`.
async fn check(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
    perm: Permission,
    key: &str,
) -> Result<(), Refusal> {
    check_all(state, headers, client, &[(perm, key)]).await
}

/// Largest `/promote` body (names, one per line).
const MAX_PROMOTE_BODY: usize = 64 << 10;

/// A repository root from a `/promote` query parameter: a configured repository's directory.
fn promote_root(state: &AppState, uri: &Uri, name: &str) -> Result<String, Refusal> {
    let bad = |m: String| Refusal::new(StatusCode::BAD_REQUEST, m);
    let value = query_param(uri, name)
        .ok_or_else(|| bad(format!("{name}= (a repository directory) is required")))?;
    let dir = value.trim_matches('/');
    if dir.is_empty() {
        return Err(bad(format!("{name}= names no repository")));
    }
    // Validated like a package key in that directory, and it must be a repository's root.
    let probe = format!("/{dir}/promote-probe.rpm");
    let p = path::package_path(&probe).map_err(|e| bad(format!("{name}={value}: {e}")))?;
    let root = p.dir;
    if state.repo.root_of(&p.key).as_deref() != Some(root.as_str()) {
        return Err(bad(format!(
            "{name}={value} is not a configured repository"
        )));
    }
    Ok(root)
}

/// `POST /promote?from=…&to=…`: authenticate once, then read on `from` and write on `to`.
async fn promote(state: &AppState, req: Request, client: Option<IpAddr>) -> Response {
    let uri = req.uri().clone();
    let roots = promote_root(state, &uri, "from").and_then(|f| {
        let t = promote_root(state, &uri, "to")?;
        Ok((f, t))
    });
    let (from, to) = match roots {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    if from == to {
        return refuse(
            StatusCode::BAD_REQUEST,
            "from= and to= are the same repository",
        );
    }
    if let Err(r) = check_all(
        state,
        req.headers(),
        client,
        &[(Permission::Read, &from), (Permission::Write, &to)],
    )
    .await
    {
        return r.into_response();
    }
    let body = match axum::body::to_bytes(req.into_body(), MAX_PROMOTE_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the list of packages is larger than {MAX_PROMOTE_BODY} bytes"),
            )
        }
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "the list of packages is not UTF-8");
    };
    let wanted: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if wanted.is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "name the packages in the body: one NAME, NEVRA or key per line",
        );
    }
    match state.repo.promote(&from, &to, &wanted).await {
        Ok(p) => {
            state.limits.waiters.published(&to);
            let body = json!({
                "promoted": p.promoted,
                "root": p.published.root,
                "revision": p.published.revision,
                "packages": p.packages,
                "rejected": p.published.rejected,
            });
            json_response(StatusCode::OK, &body)
        }
        Err(PromoteError::Unknown(m)) => refuse(StatusCode::NOT_FOUND, m),
        Err(PromoteError::Repo(e)) if e.is_retryable() => {
            refuse(StatusCode::SERVICE_UNAVAILABLE, e)
        }
        Err(PromoteError::Repo(e)) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// Authenticate once and authorise every `(permission, key)`.
async fn check_all(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
    wants: &[(Permission, &str)],
) -> Result<(), Refusal> {
    match &state.access {
        Access::Open => Ok(()),
        Access::Tokens(tokens) => {
            let auth = headers
                .get(header::AUTHORIZATION)
                .map(HeaderValue::as_bytes);
            let id = tokens
                .authenticate(auth, client)
                .await
                .map_err(Refusal::from)?;
            for (perm, key) in wants {
                tokens.authorize(&id, *perm, key).map_err(Refusal::from)?;
            }
            Ok(())
        }
    }
}

/// Validate the package path and that it belongs to a configured repository.
fn package(state: &AppState, raw: &str) -> Result<(PackagePath, String), Refusal> {
    let p = path::package_path(raw).map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e))?;
    let root = state.repo.root_of(&p.key).ok_or_else(|| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("{} is not in a configured repository prefix", p.key),
        )
    })?;
    Ok((p, root))
}

/// The checksum the client bound, as lowercase hex: `sha256=` query (hex) or
/// `x-amz-checksum-sha256` header (base64). Both given must agree.
pub(crate) fn bound_sha256(uri: &Uri, headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    let bad = |m: &str| Refusal::new(StatusCode::BAD_REQUEST, m);
    let from_query = match query_param(uri, "sha256") {
        Some(q) => {
            let q = q.to_ascii_lowercase();
            if q.len() != 64 || !q.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad("sha256= must be 64 hex digits"));
            }
            Some(q)
        }
        None => None,
    };
    let from_header = match headers.get("x-amz-checksum-sha256") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(presign::base64_to_hex)
                .ok_or_else(|| bad("x-amz-checksum-sha256 must be the base64 of 32 bytes"))?,
        ),
        None => None,
    };
    match (from_query, from_header) {
        (Some(q), Some(h)) if q != h => Err(bad("sha256= and x-amz-checksum-sha256 disagree")),
        (q, h) => Ok(q.or(h)),
    }
}

pub(crate) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn put(state: &AppState, req: Request, client: Option<IpAddr>) -> Response {
    let (p, root) = match package(state, req.uri().path()) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    // The declared size is checked before anything else: the body is never read.
    let length = match req.headers().get(header::CONTENT_LENGTH) {
        Some(v) => match v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(n) => Some(n),
            None => return refuse(StatusCode::BAD_REQUEST, "Content-Length is not a number"),
        },
        None => None,
    };
    let server = UploadLimit::server(state.limits.max_upload);
    if let Some(n) = length.filter(|n| *n > server.bytes) {
        return server.refuse(format!("Content-Length {n}"));
    }
    if let Err(r) = check(state, req.headers(), client, Permission::Write, &p.key).await {
        return r.into_response();
    }
    // The repository's own limit, once the client may write there (reading it costs a read
    // of the repository's state, which an unauthenticated client must not be able to cause).
    let limit = match upload_limit(state, &root).await {
        Ok(l) => l,
        Err(r) => return r.into_response(),
    };
    if let Some(n) = length.filter(|n| *n > limit.bytes) {
        return limit.refuse(format!("Content-Length {n}"));
    }
    let sha256 = match bound_sha256(req.uri(), req.headers()) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    match &state.writes {
        Writes::Presign {
            presigner, expires, ..
        } => {
            if sha256.is_some() && !req.headers().contains_key("x-amz-checksum-sha256") {
                // The signed header must reach S3, and curl repeats only headers it was given.
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "to bind a checksum in the redirect flow send it as a header: -H 'x-amz-checksum-sha256: BASE64' (curl forwards it to S3; a sha256= query is not)",
                );
            }
            let Some(length) = length else {
                return refuse(
                    StatusCode::LENGTH_REQUIRED,
                    "Content-Length required: the presigned URL binds the package size (curl -T sends it)",
                );
            };
            // Answer before touching the body: with `Expect: 100-continue` the client has not
            // sent it yet, and it goes straight to S3 after the redirect.
            match presigner
                .presign_put(&p.key, *expires, sha256.as_deref(), Some(length))
                .await
            {
                Ok(signed) => {
                    let mut r = (
                        StatusCode::TEMPORARY_REDIRECT,
                        format!("upload {} to the presigned URL\n", p.key),
                    )
                        .into_response();
                    match HeaderValue::from_str(&signed.url) {
                        Ok(v) => {
                            r.headers_mut().insert(header::LOCATION, v);
                        }
                        Err(_) => {
                            return refuse(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                "presigned URL is not a valid header",
                            )
                        }
                    }
                    r.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    r
                }
                Err(e) => refuse(StatusCode::BAD_GATEWAY, format!("presigning failed: {e}")),
            }
        }
        Writes::Local(sink) => sink.put(&p, &root, sha256, &limit, req.into_body()).await,
    }
}

async fn presign(
    state: &AppState,
    rest: &str,
    uri: &Uri,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Response {
    let (p, root) = match package(state, rest) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    if let Err(r) = check(state, headers, client, Permission::Write, &p.key).await {
        return r.into_response();
    }
    let sha256 = match bound_sha256(uri, headers) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let Writes::Presign {
        presigner, expires, ..
    } = &state.writes
    else {
        return refuse(
            StatusCode::NOT_FOUND,
            "presign is for the S3 gateway; PUT the package to this server directly",
        );
    };
    // `size=BYTES` binds the package size into the URL (a signed `content-length`, so S3
    // refuses a body of another size) and is checked against the upload limit here. It is
    // required: a URL without a bound size would let its holder store any amount.
    let size = match query_param(uri, "size").map(|s| s.parse::<u64>()) {
        None => {
            return refuse(
                StatusCode::LENGTH_REQUIRED,
                "size= required: the presigned URL binds the package size (GET /presign/KEY?size=BYTES, e.g. size=$(stat -c %s pkg.rpm))",
            )
        }
        Some(Ok(n)) if n > 0 => Some(n),
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "size= must be the package size in bytes (a positive whole number)",
            )
        }
    };
    let limit = match upload_limit(state, &root).await {
        Ok(l) => l,
        Err(r) => return r.into_response(),
    };
    if let Some(size) = size.filter(|&n| n > limit.bytes) {
        return limit.refuse(format!("size {size}"));
    }
    let signed = match presigner
        .presign_put(&p.key, *expires, sha256.as_deref(), size)
        .await
    {
        Ok(s) => s,
        Err(e) => return refuse(StatusCode::BAD_GATEWAY, format!("presigning failed: {e}")),
    };
    if wants_json(headers) {
        let hdrs: serde_json::Map<String, serde_json::Value> = signed
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let body = json!({
            "key": p.key,
            "method": "PUT",
            "url": signed.url,
            "headers": hdrs,
            "expires_in": signed.expires_in.as_secs(),
            "sha256": sha256,
            "size": size,
        });
        return json_response(StatusCode::OK, &body);
    }
    let mut r = (StatusCode::OK, format!("{}\n", signed.url)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn delete(
    state: &AppState,
    raw: &str,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Response {
    let (p, root) = match package(state, raw) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    if let Err(r) = check(state, headers, client, Permission::Delete, &p.key).await {
        return r.into_response();
    }
    match &state.writes {
        Writes::Presign { presigner, .. } => match presigner.delete(&p.key).await {
            Ok(()) => (StatusCode::NO_CONTENT, ()).into_response(),
            Err(e) => refuse(StatusCode::BAD_GATEWAY, format!("delete failed: {e}")),
        },
        Writes::Local(sink) => sink.delete(&p, &root).await,
    }
}

async fn status(
    state: &AppState,
    rest: &str,
    uri: &Uri,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Response {
    let (p, root) = match package(state, rest) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    if let Err(r) = check(state, headers, client, Permission::Read, &p.key).await {
        return r.into_response();
    }
    let wait = match query_param(uri, "wait") {
        Some(w) => match w.parse::<u64>() {
            Ok(s) => Duration::from_secs(s).min(state.max_wait),
            Err(_) => return refuse(StatusCode::BAD_REQUEST, "wait= must be whole seconds"),
        },
        None => Duration::ZERO,
    };
    let deadline = tokio::time::Instant::now() + wait;
    // A waiter subscribes before its first check. The local server publishes everything
    // itself and announces it; in S3 mode the indexer publishes from another process, so one
    // task per repository also watches its repomd.xml (see `waiters`).
    let mut waiter = if wait.is_zero() {
        None
    } else {
        let how = match &state.writes {
            Writes::Local(_) => Watch::Notified,
            Writes::Presign { .. } => Watch::Poll {
                repo: Arc::clone(&state.repo),
                every: state.limits.status_poll,
            },
        };
        match state.limits.waiters.wait(&root, how) {
            Ok(w) => Some(w),
            Err(e) => {
                let mut r = refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return r;
            }
        }
    };
    let revision = loop {
        if let Some(w) = waiter.as_mut() {
            w.seen();
        }
        match state.repo.published(&root, &p.key).await {
            Ok(Some(rev)) => break Some(rev),
            Ok(None) => {
                if let Some(reason) = state.repo.rejected(&root, &p.key).await {
                    let code = StatusCode::UNPROCESSABLE_ENTITY;
                    if wants_json(headers) {
                        return json_response(
                            code,
                            &json!({"key": p.key, "root": root, "published": false, "rejected": reason}),
                        );
                    }
                    return (code, format!("rejected {}: {reason}\n", p.key)).into_response();
                }
                let Some(w) = waiter
                    .as_mut()
                    .filter(|_| tokio::time::Instant::now() < deadline)
                else {
                    break None;
                };
                w.changed(deadline).await;
            }
            Err(e) => return refuse(StatusCode::BAD_GATEWAY, format!("reading metadata: {e}")),
        }
    };
    let code = if revision.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    if wants_json(headers) {
        return json_response(
            code,
            &json!({"key": p.key, "root": root, "published": revision.is_some(), "revision": revision}),
        );
    }
    let text = match revision {
        Some(rev) => format!("published {} (revision {rev})\n", p.key),
        None => format!("not published: {}\n", p.key),
    };
    (code, text).into_response()
}

async fn repo_file(state: &AppState, raw: &str, headers: &HeaderMap) -> Response {
    let (dir, id) = match path::repo_file_path(raw) {
        Ok(x) => x,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e),
    };
    let _ = headers;
    // Never from the Host header: a client could make the file point anywhere.
    let Some(base) = state
        .baseurl
        .as_deref()
        .map(|b| b.trim_end_matches('/').to_string())
    else {
        return refuse(
            StatusCode::NOT_FOUND,
            format!(
                "no public URL configured: start the server with --public-url (or set {BASEURL_ENV})"
            ),
        );
    };
    let baseurl = format!("{base}/{}", path::encode_key(&dir));
    let name = if dir.is_empty() {
        id.clone()
    } else {
        format!("{id} ({})", dir.trim_end_matches('/'))
    };
    let trust = state.repo.trust(&dir).await;
    let gpg = gpg_lines(trust, &baseurl);
    let body =
        format!("[{id}]\nname={name}\nbaseurl={baseurl}\nenabled=1\n{gpg}metadata_expire=60\n");
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The GPG lines of a `.repo` file: `repo_gpgcheck=1` and the published keys when the
/// metadata is signed, `gpgcheck=1` when the package policy requires signed packages.
fn gpg_lines(trust: crate::repo::RepoTrust, baseurl: &str) -> String {
    let mut s = format!(
        "gpgcheck={}\nrepo_gpgcheck={}\n",
        u8::from(trust.signed_packages),
        u8::from(trust.signed_metadata)
    );
    if trust.signed_metadata {
        s.push_str(&format!(
            "gpgkey={}/repodata/repomd.xml.key\n",
            baseurl.trim_end_matches('/')
        ));
    }
    s
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

fn json_response(code: StatusCode, body: &serde_json::Value) -> Response {
    let mut r = (code, format!("{body}\n")).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

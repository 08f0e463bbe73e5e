//! The write side of the local server: uploads streamed into the served directory (hashed on
//! the way, renamed into place), deletes, and the directory served to dnf (GET/HEAD with
//! Range). The router calls it in local mode; changes go to the local server's index loop.

use rpmbucket_repodata::extra::{self, ExtraKind};
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

use crate::engine::Repository;
use crate::path::PackagePath;
use crate::refusal::{refuse, UploadLimit};
use crate::repo::Change;

/// Directory (inside the root) for uploads in progress.
pub const TMP_DIR: &str = ".rpmbucket-uploads";

/// Default longest time to receive one upload's body (`ConnLimits::body_timeout`).
pub(crate) const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(3600);

/// The write side of the local server (used by the router in local mode).
#[derive(Clone)]
pub struct LocalSink {
    root: PathBuf,
    tx: mpsc::UnboundedSender<Change>,
    files: ServeDir,
    repo: Arc<Repository>,
    rename_lock: Arc<tokio::sync::Mutex<()>>,
    /// Longest time to receive one upload's body.
    body_timeout: Duration,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl LocalSink {
    /// A sink writing into `root` (the directory `repo` indexes) and sending changes to `tx`.
    pub fn new(
        root: PathBuf,
        repo: Arc<Repository>,
        tx: mpsc::UnboundedSender<Change>,
    ) -> LocalSink {
        let files = ServeDir::new(&root).append_index_html_on_directories(true);
        LocalSink {
            root,
            tx,
            files,
            repo,
            rename_lock: Arc::default(),
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }

    /// Cut uploads whose body takes longer than `timeout` in total.
    pub fn with_body_timeout(mut self, timeout: Duration) -> LocalSink {
        self.body_timeout = timeout;
        self
    }

    /// Is `path` (existing, or its nearest existing ancestor) inside the served root once
    /// symlinks are resolved?
    async fn inside_root(&self, path: &Path) -> bool {
        let mut p = path.to_path_buf();
        loop {
            match tokio::fs::canonicalize(&p).await {
                Ok(real) => return real.starts_with(&self.root),
                Err(_) => {
                    if !p.pop() {
                        return false;
                    }
                }
            }
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
        limit: &UploadLimit,
        body: Body,
    ) -> Response {
        let dest = self.dest(p);
        if !self.inside_root(&dest).await {
            return refuse(
                StatusCode::FORBIDDEN,
                format!("{} leads outside the served directory (symlink)", p.key),
            );
        }
        if tokio::fs::symlink_metadata(&dest)
            .await
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            return refuse(
                StatusCode::FORBIDDEN,
                format!("{} is a symlink; not written through", p.key),
            );
        }
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
        let streamed =
            match tokio::time::timeout(self.body_timeout, stream_to(&tmp, body, limit.bytes)).await
            {
                Ok(r) => r,
                Err(_) => Err(StreamError::TooSlow),
            };
        match streamed {
            Err(StreamError::TooSlow) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                refuse(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the upload took longer than {} s (--body-timeout); nothing was kept",
                        self.body_timeout.as_secs()
                    ),
                )
            }
            Err(StreamError::TooLarge) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                limit.refuse("the upload (cut; nothing was kept)")
            }
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
                    if !self.inside_root(parent).await {
                        return fail(
                            StatusCode::FORBIDDEN,
                            format!("{} leads outside the served directory (symlink)", p.key),
                        )
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
            Err(StreamError::Io(e)) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                refuse(StatusCode::BAD_REQUEST, format!("upload failed: {e}"))
            }
        }
    }

    pub(crate) async fn delete(&self, p: &PackagePath, _root: &str) -> Response {
        let dest = self.dest(p);
        if !self.inside_root(dest.parent().unwrap_or(&self.root)).await {
            return refuse(
                StatusCode::FORBIDDEN,
                format!("{} leads outside the served directory (symlink)", p.key),
            );
        }
        match tokio::fs::remove_file(&dest).await {
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
        // Decode once with the request-path rules (no encoded '/', no dot or hidden segment),
        // and never serve through a symlink leading out of the root.
        let segs = match crate::path::segments(req.uri().path()) {
            Ok(s) => s,
            Err(e) => return refuse(StatusCode::BAD_REQUEST, e),
        };
        let mut target = self.root.clone();
        for seg in segs.iter().filter(|s| !s.is_empty()) {
            target.push(seg);
        }
        if !self.inside_root(&target).await {
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

/// Why an upload could not be stored.
#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error("upload larger than the limit")]
    TooLarge,
    #[error("upload took longer than the body timeout")]
    TooSlow,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Stream `body` into a new file at `tmp`, returning its size and hex SHA-256; stops as soon
/// as more than `max` bytes arrived.
async fn stream_to(tmp: &Path, body: Body, max: u64) -> Result<(u64, String), StreamError> {
    let mut file = tokio::fs::File::create(tmp).await?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(std::io::Error::other)?;
        size += chunk.len() as u64;
        if size > max {
            return Err(StreamError::TooLarge);
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    file.sync_all().await?;
    Ok((size, hex::encode(hasher.finalize())))
}

//! [`S3Store`]: an S3 bucket (optionally under a key prefix) through `aws-sdk-s3`.
//!
//! - Conditional writes are S3's own: `Create` sends `If-None-Match: *`, `Update(etag)` sends
//!   `If-Match: etag`; 412 becomes [`Error::AlreadyExists`] / [`Error::Precondition`], 409
//!   `ConditionalRequestConflict` (a concurrent conditional write) [`Error::Precondition`].
//! - Every write asks S3 to store a SHA-256 checksum (`x-amz-checksum-sha256`), which `head`
//!   returns as [`ObjectMeta::sha256`] (full-object checksums only; composite multipart
//!   checksums `…-N` are not the object's hash and are ignored).
//! - Transient errors are retried by the SDK (standard mode, 5 attempts by default). A retried
//!   conditional write whose first attempt did land answers 412: `Create` then reports
//!   `AlreadyExists` for the caller's own object and `Update` reports `Precondition` although the
//!   new body is in place. Callers that must tell these apart re-read and compare (content-
//!   addressed `Create`s need not care).
//! - A server that ignores `Range` (no `Content-Range`) still gives correct ranged reads: the
//!   whole body is sliced.
//! - The client comes from the standard AWS configuration (`aws_config::load_defaults`:
//!   `AWS_ENDPOINT_URL`, `AWS_REGION`, credentials chain). S3-compatible servers (MinIO, Ceph,
//!   moto) usually need path-style addressing: [`S3Options::with_force_path_style`] or
//!   `AWS_S3_FORCE_PATH_STYLE=1`.

use std::ops::Range;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ChecksumType};
use aws_sdk_s3::Client;
use aws_smithy_types::retry::RetryConfig;
use bytes::Bytes;

use super::{
    validate_key, ByteStream, Error, ListPage, ObjectMeta, ObjectStore, PageStart, PutMode,
    PutOptions, Result, DEFAULT_PAGE_SIZE,
};

/// Characters escaped in a `CopyObject` source key (`/` stays a separator).
const COPY_SOURCE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Retry attempts (first try included) when [`S3Options::max_attempts`] is not set.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// How to build the S3 client beyond the standard AWS configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct S3Options {
    /// Path-style addressing (`http://host/bucket/key`). `None`: the `AWS_S3_FORCE_PATH_STYLE`
    /// environment variable (`1`/`true`/`yes`), else virtual-hosted style.
    pub force_path_style: Option<bool>,
    /// Attempts per request, first try included (SDK standard retry mode).
    pub max_attempts: Option<u32>,
    /// Endpoint overriding the configuration's (`AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// Region when the configuration names none (default `us-east-1`).
    pub default_region: Option<String>,
}

impl S3Options {
    /// Sets [`force_path_style`](Self::force_path_style).
    pub fn with_force_path_style(mut self, yes: bool) -> Self {
        self.force_path_style = Some(yes);
        self
    }

    /// Sets [`max_attempts`](Self::max_attempts).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Sets [`endpoint_url`](Self::endpoint_url).
    pub fn with_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Sets [`default_region`](Self::default_region).
    pub fn with_default_region(mut self, region: impl Into<String>) -> Self {
        self.default_region = Some(region.into());
        self
    }

    fn path_style(&self) -> bool {
        self.force_path_style.unwrap_or_else(|| {
            std::env::var("AWS_S3_FORCE_PATH_STYLE").is_ok_and(|v| {
                matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes")
            })
        })
    }
}

/// An S3 client for `config` adjusted by `opts` (path style, retries, endpoint, region).
pub fn client(config: &aws_config::SdkConfig, opts: &S3Options) -> Client {
    let mut b = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(opts.path_style())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(opts.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS)),
        );
    if let Some(url) = &opts.endpoint_url {
        b = b.endpoint_url(url);
    }
    if config.region().is_none() {
        let region = opts
            .default_region
            .clone()
            .unwrap_or_else(|| "us-east-1".to_owned());
        b = b.region(aws_sdk_s3::config::Region::new(region));
    }
    Client::from_conf(b.build())
}

/// A presigned upload: `PUT` the body to `url`, sending `headers` unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPut {
    /// The URL, signature in the query string.
    pub url: String,
    /// Headers besides `host` that are part of the signature; the uploader must send them as
    /// they are: `x-amz-checksum-sha256` when a checksum is bound (S3 then rejects a body with
    /// another hash), else none.
    pub headers: Vec<(String, String)>,
}

/// An S3 bucket, or the part of it under a key prefix, as an [`ObjectStore`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3Store {
    /// A store over `client`'s `bucket`, keys under `prefix` (a `/` is added unless empty).
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        let mut prefix: String = prefix.into();
        let trimmed = prefix.trim_matches('/');
        prefix = if trimmed.is_empty() {
            String::new()
        } else {
            format!("{trimmed}/")
        };
        S3Store {
            client,
            bucket: bucket.into(),
            prefix,
        }
    }

    /// A store built from the standard AWS configuration with default [`S3Options`].
    pub async fn connect(bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self::connect_opts(bucket, prefix, &S3Options::default()).await
    }

    /// A store built from the standard AWS configuration adjusted by `opts`.
    pub async fn connect_opts(
        bucket: impl Into<String>,
        prefix: impl Into<String>,
        opts: &S3Options,
    ) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(client(&config, opts), bucket, prefix)
    }

    /// [`connect`](Self::connect) to `s3://bucket[/prefix]`.
    pub async fn from_url(url: &str) -> Result<Self> {
        Self::from_url_opts(url, &S3Options::default()).await
    }

    /// [`connect_opts`](Self::connect_opts) to `s3://bucket[/prefix]`.
    pub async fn from_url_opts(url: &str, opts: &S3Options) -> Result<Self> {
        let (bucket, prefix) = parse_url(url)?;
        Ok(Self::connect_opts(bucket, prefix, opts).await)
    }

    /// The SDK client (for operations the trait lacks, e.g. bucket policies in tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix, empty or ending in `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The S3 key of store key `key`.
    pub fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// A URL to upload `key` with a plain HTTP `PUT` for `expires` (`curl -T FILE URL`). With
    /// `sha256` (hex), the checksum is signed into the request as `x-amz-checksum-sha256`, the
    /// one header the uploader must send ([`PresignedPut::headers`]): S3 rejects a body with
    /// another hash (moto does not check, LocalStack and AWS do) and stores the checksum so
    /// `head` reports it (moto stores it only when told the algorithm, which is not signed here).
    ///
    /// Only `host` and that checksum header are signed: no content type and no
    /// `x-amz-sdk-checksum-algorithm` (which the SDK signs when the request names an algorithm),
    /// since a client following the gateway's redirect repeats only the headers it was given.
    pub async fn presign_put(
        &self,
        key: &str,
        expires: Duration,
        sha256: Option<&str>,
    ) -> Result<PresignedPut> {
        self.presign_put_sized(key, expires, sha256, None).await
    }

    /// [`S3Store::presign_put`] that also signs `content-length` when `length` is given: S3
    /// refuses a body of any other size (the upload gateway's size limit holds for the
    /// redirected upload too).
    pub async fn presign_put_sized(
        &self,
        key: &str,
        expires: Duration,
        sha256: Option<&str>,
        length: Option<u64>,
    ) -> Result<PresignedPut> {
        validate_key(key)?;
        let presigning = PresigningConfig::expires_in(expires).map_err(|e| Error::other(key, e))?;
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full_key(key));
        if let Some(hex_digest) = sha256 {
            let raw = hex::decode(hex_digest)
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| Error::other(key, format!("not a hex SHA-256: {hex_digest:?}")))?;
            req = req.checksum_sha256(aws_smithy_types::base64::encode(raw));
        }
        if let Some(n) = length {
            req = req.content_length(i64::try_from(n).map_err(|e| Error::other(key, e))?);
        }
        let signed = req
            .presigned(presigning)
            .await
            .map_err(|e| map_err(key, e, Op::Read))?;
        Ok(PresignedPut {
            url: signed.uri().to_owned(),
            // `host` is the URL's; every HTTP client sends it.
            headers: signed
                .headers()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        })
    }

    /// A URL to download `key` with a plain HTTP `GET` for `expires`.
    pub async fn presign_get(&self, key: &str, expires: Duration) -> Result<String> {
        validate_key(key)?;
        let presigning = PresigningConfig::expires_in(expires).map_err(|e| Error::other(key, e))?;
        let signed = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .presigned(presigning)
            .await
            .map_err(|e| map_err(key, e, Op::Read))?;
        Ok(signed.uri().to_owned())
    }

    async fn put_body(
        &self,
        key: &str,
        body: SdkByteStream,
        size: u64,
        opts: PutOptions,
    ) -> Result<ObjectMeta> {
        validate_key(key)?;
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .body(body)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .set_content_type(opts.content_type)
            .set_cache_control(opts.cache_control);
        let op = match &opts.mode {
            PutMode::Overwrite => Op::Write,
            PutMode::Create => {
                req = req.if_none_match("*");
                Op::Create
            }
            PutMode::Update(etag) => {
                req = req.if_match(etag);
                Op::Update
            }
        };
        let out = req.send().await.map_err(|e| map_err(key, e, op))?;
        Ok(ObjectMeta {
            key: key.to_owned(),
            size,
            etag: out.e_tag().unwrap_or_default().to_owned(),
            last_modified: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
            sha256: full_object_sha256(out.checksum_sha256(), out.checksum_type(), out.e_tag()),
        })
    }
}

/// Splits `s3://bucket[/prefix]`.
pub fn parse_url(url: &str) -> Result<(String, String)> {
    let bad = |reason| {
        Err(Error::InvalidKey {
            key: url.to_owned(),
            reason,
        })
    };
    let Some(rest) = url.strip_prefix("s3://") else {
        return bad("not an s3:// URL");
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return bad("no bucket in s3:// URL");
    }
    let prefix = prefix.trim_matches('/');
    if !prefix.is_empty() && validate_key(prefix).is_err() {
        return bad("invalid prefix in s3:// URL");
    }
    Ok((bucket.to_owned(), prefix.to_owned()))
}

/// Hex of a full-object base64 SHA-256; `None` for composite (multipart) checksums.
///
/// A multipart object (ETag `"…-N"`) never has a full-object SHA-256 on S3 (full-object
/// checksums of multipart uploads exist for the CRC algorithms only), so its SHA-256 is the
/// composite one even when the server omits the `-N` suffix and the checksum type, as moto 5.2
/// does.
fn full_object_sha256(
    b64: Option<&str>,
    kind: Option<&ChecksumType>,
    etag: Option<&str>,
) -> Option<String> {
    let b64 = b64?;
    let multipart = etag.is_some_and(|e| e.contains('-'));
    if multipart || b64.contains('-') || matches!(kind, Some(ChecksumType::Composite)) {
        return None;
    }
    let raw = aws_smithy_types::base64::decode(b64).ok()?;
    (raw.len() == 32).then(|| hex::encode(raw))
}

fn seconds(t: Option<&aws_smithy_types::DateTime>) -> i64 {
    t.map(|t| t.secs()).unwrap_or(0)
}

/// Total size from `Content-Range: bytes a-b/total`.
fn content_range_total(range: Option<&str>) -> Option<u64> {
    range?.rsplit_once('/')?.1.trim().parse().ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    Write,
    Create,
    Update,
}

fn map_err<E>(key: &str, err: SdkError<E, HttpResponse>, op: Op) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.status();
    let code = err.code().unwrap_or_default().to_owned();
    let key = key.to_owned();
    match (status, code.as_str(), op) {
        // A missing bucket or a denied request is a configuration error, not a missing object,
        // and retrying does not fix it.
        (_, "NoSuchBucket", _) | (Some(403), _, _) | (_, "AccessDenied", _) => Error::Permanent {
            key,
            source: Box::new(DisplayErrorContext(err)),
        },
        (Some(412), _, Op::Create) | (_, "PreconditionFailed", Op::Create) => {
            Error::AlreadyExists { key }
        }
        (Some(412), _, _) | (_, "PreconditionFailed", _) => Error::Precondition { key },
        (Some(409), _, Op::Create | Op::Update) | (_, "ConditionalRequestConflict", _) => {
            Error::Precondition { key }
        }
        // `If-Match` on a missing key: the object is not the one the caller saw.
        (Some(404), _, Op::Update) => Error::Precondition { key },
        (Some(404), _, _) | (_, "NoSuchKey" | "NotFound", _) => Error::NotFound { key },
        _ => Error::Other {
            key,
            source: Box::new(DisplayErrorContext(err)),
        },
    }
}

/// The HTTP status of an SDK error's response, if it got one.
trait HasStatus {
    fn status(&self) -> Option<u16>;
}

impl<E> HasStatus for SdkError<E, HttpResponse> {
    fn status(&self) -> Option<u16> {
        self.raw_response().map(|r| r.status().as_u16())
    }
}

/// Shows the whole chain of an SDK error (its `Display` alone says only "service error").
struct DisplayErrorContext<E>(E);

impl<E: std::error::Error> std::fmt::Display for DisplayErrorContext<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}",
            aws_smithy_types::error::display::DisplayErrorContext(&self.0)
        )
    }
}

impl<E: std::error::Error> std::fmt::Debug for DisplayErrorContext<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl<E: std::error::Error + 'static> std::error::Error for DisplayErrorContext<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl S3Store {
    /// GetObject as a stream, with `If-None-Match` when given (then `None` is the 304 Not
    /// Modified answer: the object is still that ETag and no body was sent).
    async fn open(
        &self,
        key: &str,
        if_none_match: Option<&str>,
    ) -> Result<Option<(ByteStream, ObjectMeta)>> {
        validate_key(key)?;
        let res = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .set_if_none_match(if_none_match.map(str::to_owned))
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
        let out = match res {
            Ok(out) => out,
            Err(e) if if_none_match.is_some() && e.status() == Some(304) => return Ok(None),
            Err(e) => return Err(map_err(key, e, Op::Read)),
        };
        let meta = ObjectMeta {
            key: key.to_owned(),
            size: out.content_length().unwrap_or(0).max(0) as u64,
            etag: out.e_tag().unwrap_or_default().to_owned(),
            last_modified: seconds(out.last_modified()),
            sha256: full_object_sha256(out.checksum_sha256(), out.checksum_type(), out.e_tag()),
        };
        let owned_key = key.to_owned();
        let stream =
            futures::stream::try_unfold((out.body, owned_key), |(mut body, key)| async move {
                match body.try_next().await {
                    Ok(Some(chunk)) => Ok(Some((chunk, (body, key)))),
                    Ok(None) => Ok(None),
                    Err(e) => Err(Error::other(&key, e)),
                }
            });
        Ok(Some((Box::pin(stream), meta)))
    }
}

/// The whole body of `stream`, which must be `meta.size` bytes long.
async fn collect_whole(
    key: &str,
    stream: ByteStream,
    meta: ObjectMeta,
) -> Result<(Bytes, ObjectMeta)> {
    let chunks: Vec<Bytes> = futures::TryStreamExt::try_collect(stream).await?;
    let body = if chunks.len() == 1 {
        chunks.into_iter().next().unwrap_or_default()
    } else {
        Bytes::from(chunks.concat())
    };
    if body.len() as u64 != meta.size {
        return Err(Error::other(
            key,
            format!("short read: {} of {} bytes", body.len(), meta.size),
        ));
    }
    Ok((body, meta))
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        validate_key(key)?;
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|e| map_err(key, e, Op::Read))?;
        Ok(ObjectMeta {
            key: key.to_owned(),
            size: out.content_length().unwrap_or(0).max(0) as u64,
            etag: out.e_tag().unwrap_or_default().to_owned(),
            last_modified: seconds(out.last_modified()),
            sha256: full_object_sha256(out.checksum_sha256(), out.checksum_type(), out.e_tag()),
        })
    }

    async fn get(&self, key: &str) -> Result<(Bytes, ObjectMeta)> {
        let (stream, meta) = self.get_stream(key).await?;
        collect_whole(key, stream, meta).await
    }

    async fn get_if_changed(&self, key: &str, etag: &str) -> Result<Option<(Bytes, ObjectMeta)>> {
        match self.open(key, Some(etag)).await? {
            // 304 Not Modified: still `etag`, and no body was sent.
            None => Ok(None),
            Some((stream, meta)) => collect_whole(key, stream, meta).await.map(Some),
        }
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<(Bytes, ObjectMeta)> {
        validate_key(key)?;
        if range.start >= range.end {
            return Ok((Bytes::new(), self.head(key).await?));
        }
        let res = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .range(format!("bytes={}-{}", range.start, range.end - 1))
            .send()
            .await;
        let out = match res {
            Ok(out) => out,
            // 416: the range starts at or past the end (or the object is empty).
            Err(e) if e.status() == Some(416) || e.code() == Some("InvalidRange") => {
                return Ok((Bytes::new(), self.head(key).await?));
            }
            Err(e) => return Err(map_err(key, e, Op::Read)),
        };
        let total = content_range_total(out.content_range());
        let mut meta = ObjectMeta {
            key: key.to_owned(),
            size: total.unwrap_or(0),
            etag: out.e_tag().unwrap_or_default().to_owned(),
            last_modified: seconds(out.last_modified()),
            sha256: None,
        };
        let mut body = out
            .body
            .collect()
            .await
            .map_err(|e| Error::other(key, e))?
            .into_bytes();
        if total.is_none() {
            // No Content-Range: the server ignored the range and sent the whole object.
            meta.size = body.len() as u64;
            let start = range.start.min(meta.size) as usize;
            let end = range.end.clamp(range.start, meta.size) as usize;
            body = body.slice(start.min(end)..end);
        }
        let want = range.end.min(meta.size).saturating_sub(range.start);
        if body.len() as u64 != want {
            return Err(Error::other(
                key,
                format!("short range read: {} of {want} bytes", body.len()),
            ));
        }
        Ok((body, meta))
    }

    async fn get_stream(&self, key: &str) -> Result<(ByteStream, ObjectMeta)> {
        self.open(key, None)
            .await?
            .ok_or_else(|| Error::other(key, "304 Not Modified to an unconditional GET"))
    }

    async fn put(&self, key: &str, body: Bytes, opts: PutOptions) -> Result<ObjectMeta> {
        let size = body.len() as u64;
        self.put_body(key, SdkByteStream::from(body), size, opts)
            .await
    }

    async fn put_file(&self, key: &str, path: &Path, opts: PutOptions) -> Result<ObjectMeta> {
        validate_key(key)?;
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| Error::other(key, e))?
            .len();
        let body = SdkByteStream::from_path(path)
            .await
            .map_err(|e| Error::other(key, e))?;
        self.put_body(key, body, size, opts).await
    }

    /// `CopyObject` inside the bucket: the body never leaves S3. S3 computes the copy's SHA-256
    /// (stored like an upload's); content type and cache control are `opts`'.
    async fn copy(&self, from: &str, to: &str, opts: PutOptions) -> Result<ObjectMeta> {
        validate_key(from)?;
        validate_key(to)?;
        if opts.mode != PutMode::Overwrite {
            return Err(Error::other(
                to,
                "a server-side copy on S3 always overwrites its target (no conditional copy)",
            ));
        }
        let source = format!(
            "{}/{}",
            self.bucket,
            percent_encoding::utf8_percent_encode(&self.full_key(from), COPY_SOURCE)
        );
        let out = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(self.full_key(to))
            .copy_source(source)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .set_content_type(opts.content_type)
            .set_cache_control(opts.cache_control)
            .send()
            .await
            .map_err(|e| map_err(from, e, Op::Read))?;
        let result = out.copy_object_result();
        let etag = result
            .and_then(|r| r.e_tag())
            .unwrap_or_default()
            .to_owned();
        let mut meta = self.head(to).await?;
        if !etag.is_empty() && meta.etag != etag {
            return Err(Error::other(
                to,
                "copied object changed before it could be checked",
            ));
        }
        meta.key = to.to_owned();
        Ok(meta)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        let res = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .send()
            .await;
        match res.map_err(|e| map_err(key, e, Op::Write)) {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(self.full_key(prefix))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_err(prefix, e, Op::Read))?;
            for obj in page.contents() {
                let Some(key) = obj.key().and_then(|k| k.strip_prefix(&self.prefix)) else {
                    continue;
                };
                out.push(ObjectMeta {
                    key: key.to_owned(),
                    size: obj.size().unwrap_or(0).max(0) as u64,
                    etag: obj.e_tag().unwrap_or_default().to_owned(),
                    last_modified: seconds(obj.last_modified()),
                    sha256: None,
                });
            }
        }
        // S3 lists in UTF-8 byte order already; some compatible servers do not.
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn list_page(
        &self,
        prefix: &str,
        start: &PageStart,
        max_keys: usize,
    ) -> Result<ListPage> {
        let mut req = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(self.full_key(prefix))
            .max_keys(i32::try_from(max_keys.clamp(1, DEFAULT_PAGE_SIZE)).unwrap_or(1000));
        req = match start {
            PageStart::First => req,
            PageStart::After(key) => req.start_after(self.full_key(key)),
            PageStart::Token(token) => req.continuation_token(token),
        };
        let page = req.send().await.map_err(|e| map_err(prefix, e, Op::Read))?;
        let mut objects: Vec<ObjectMeta> = page
            .contents()
            .iter()
            .filter_map(|obj| {
                let key = obj.key()?.strip_prefix(&self.prefix)?;
                Some(ObjectMeta {
                    key: key.to_owned(),
                    size: obj.size().unwrap_or(0).max(0) as u64,
                    etag: obj.e_tag().unwrap_or_default().to_owned(),
                    last_modified: seconds(obj.last_modified()),
                    sha256: None,
                })
            })
            .collect();
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        let next = match (page.is_truncated(), page.next_continuation_token()) {
            (Some(true), Some(token)) => Some(token.to_owned()),
            (Some(true), None) => {
                return Err(Error::other(
                    prefix,
                    "the store said the listing goes on but gave no continuation token",
                ))
            }
            _ => None,
        };
        Ok(ListPage { objects, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::put_object::PutObjectError;

    #[test]
    fn parses_s3_urls() {
        assert_eq!(parse_url("s3://b").unwrap(), ("b".into(), "".into()));
        assert_eq!(parse_url("s3://b/").unwrap(), ("b".into(), "".into()));
        assert_eq!(
            parse_url("s3://b/p/q/").unwrap(),
            ("b".into(), "p/q".into())
        );
        for bad in ["b/p", "s3://", "s3:///p", "http://b/p", "s3://b/../x"] {
            assert!(
                matches!(parse_url(bad), Err(Error::InvalidKey { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn decodes_full_object_checksums_only() {
        // SHA-256 of "hello".
        let b64 = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";
        let hex = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let single = Some("\"5d41402abc4b2a76b9719d911017c592\"");
        assert_eq!(
            full_object_sha256(Some(b64), None, single).as_deref(),
            Some(hex)
        );
        assert_eq!(
            full_object_sha256(Some(b64), None, None).as_deref(),
            Some(hex)
        );
        assert_eq!(
            full_object_sha256(Some(b64), Some(&ChecksumType::FullObject), single).as_deref(),
            Some(hex)
        );
        assert_eq!(
            full_object_sha256(Some(b64), Some(&ChecksumType::Composite), single),
            None
        );
        assert_eq!(full_object_sha256(Some("abc-3"), None, single), None);
        // A multipart object's SHA-256 without suffix or type (moto): still composite.
        let multipart = Some("\"d8e8fca2dc0f896fd7cb4cb0031ba249-1\"");
        assert_eq!(full_object_sha256(Some(b64), None, multipart), None);
        assert_eq!(full_object_sha256(Some("!!"), None, single), None);
        assert_eq!(full_object_sha256(None, None, single), None);
    }

    #[test]
    fn reads_content_range_totals() {
        assert_eq!(content_range_total(Some("bytes 0-99/1234")), Some(1234));
        assert_eq!(content_range_total(Some("bytes */1234")), Some(1234));
        assert_eq!(content_range_total(Some("bytes 0-99/*")), None);
        assert_eq!(content_range_total(None), None);
    }

    fn service_error(status: u16, code: &str) -> SdkError<PutObjectError, HttpResponse> {
        let meta = aws_sdk_s3::error::ErrorMetadata::builder()
            .code(code)
            .message("m")
            .build();
        let status = aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap();
        let raw = HttpResponse::new(status, aws_smithy_types::body::SdkBody::empty());
        SdkError::service_error(PutObjectError::generic(meta), raw)
    }

    #[test]
    fn maps_service_errors_to_decisions() {
        use Op::*;
        let cases: &[(u16, &str, Op, &str)] = &[
            (412, "PreconditionFailed", Create, "AlreadyExists"),
            (412, "PreconditionFailed", Update, "Precondition"),
            (412, "", Create, "AlreadyExists"),
            (409, "ConditionalRequestConflict", Create, "Precondition"),
            (409, "ConditionalRequestConflict", Update, "Precondition"),
            (409, "OperationAborted", Write, "Other"),
            (404, "NoSuchKey", Read, "NotFound"),
            (404, "", Read, "NotFound"),
            (404, "NoSuchKey", Update, "Precondition"),
            (404, "NoSuchBucket", Read, "Permanent"),
            (404, "NoSuchBucket", Create, "Permanent"),
            (403, "AccessDenied", Read, "Permanent"),
            (403, "", Write, "Permanent"),
            (500, "InternalError", Write, "Other"),
            (503, "SlowDown", Create, "Other"),
        ];
        for &(status, code, op, want) in cases {
            let err = map_err("k", service_error(status, code), op);
            let got = match &err {
                Error::NotFound { .. } => "NotFound",
                Error::AlreadyExists { .. } => "AlreadyExists",
                Error::Precondition { .. } => "Precondition",
                Error::InvalidKey { .. } => "InvalidKey",
                Error::Permanent { .. } => "Permanent",
                Error::Other { .. } => "Other",
            };
            assert_eq!(got, want, "{status} {code} {op:?}: {err}");
            assert_eq!(err.key(), "k");
        }
        let err = map_err("k", service_error(403, "AccessDenied"), Op::Read);
        assert!(err.to_string().contains("AccessDenied"), "{err}");
    }

    #[test]
    fn prefixes_are_normalised() {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .build();
        let client = Client::from_conf(conf);
        assert_eq!(S3Store::new(client.clone(), "b", "").prefix(), "");
        assert_eq!(S3Store::new(client.clone(), "b", "/").prefix(), "");
        assert_eq!(S3Store::new(client.clone(), "b", "repo").prefix(), "repo/");
        assert_eq!(S3Store::new(client, "b", "/a/b/").full_key("x"), "a/b/x");
    }
}

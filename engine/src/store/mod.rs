//! The object-store seam: a small trait with the operations the engine needs, modelled on
//! object_store's design (`PutMode`, errors that are decisions), implemented for S3 (through
//! `aws-sdk-s3`) and for a local directory. Both backends honour the preconditions.

use std::fmt::Debug;
use std::ops::Range;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

/// What a store knows about one object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectMeta {
    /// Full key, `/`-separated, no leading `/`.
    pub key: String,
    /// Size of the whole object in bytes.
    pub size: u64,
    /// Opaque version token used for `PutMode::Update` (the S3 ETag, quotes included as S3
    /// returns them; the local store makes its own).
    pub etag: String,
    /// Last modification, seconds since the Unix epoch.
    pub last_modified: i64,
    /// Hex SHA-256 of the whole object when the store has it without reading the body
    /// (S3 additional checksum `ChecksumSHA256` of a single-part upload).
    pub sha256: Option<String>,
}

/// Precondition of a write (object_store's `PutMode`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PutMode {
    /// Write whatever is there.
    #[default]
    Overwrite,
    /// Fail with [`Error::AlreadyExists`] if the key exists (`If-None-Match: *`).
    Create,
    /// Fail with [`Error::Precondition`] unless the current ETag is this one (`If-Match`).
    Update(String),
}

/// Options of a write.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PutOptions {
    pub mode: PutMode,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
}

/// A stream of body chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// Store errors. The first variants are decisions the engine takes; `Other` is retried.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("object not found: {key}")]
    NotFound { key: String },
    #[error("object already exists: {key}")]
    AlreadyExists { key: String },
    #[error("precondition failed (object changed): {key}")]
    Precondition { key: String },
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("store error on {key}: {source}")]
    Other {
        key: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// `Result` with the store [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The operations the engine needs from an object store.
#[async_trait]
pub trait ObjectStore: Debug + Send + Sync {
    /// Metadata of one object.
    async fn head(&self, key: &str) -> Result<ObjectMeta>;
    /// The whole object.
    async fn get(&self, key: &str) -> Result<(Bytes, ObjectMeta)>;
    /// Bytes `range` of the object (clipped to its end); `meta.size` is the whole size.
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<(Bytes, ObjectMeta)>;
    /// The whole object as a stream of chunks (for hashing large packages).
    async fn get_stream(&self, key: &str) -> Result<(ByteStream, ObjectMeta)>;
    /// Write an object, honouring `opts.mode`. Returns the new object's metadata (ETag).
    async fn put(&self, key: &str, body: Bytes, opts: PutOptions) -> Result<ObjectMeta>;
    /// Delete an object; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Every object whose key starts with `prefix`, in key order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>>;
}

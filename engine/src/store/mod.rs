//! The object-store seam: a small trait with the operations the engine needs, modelled on
//! object_store's design (`PutMode`, errors that are decisions), implemented for S3 (through
//! `aws-sdk-s3`) and for a local directory. Both backends honour the preconditions.

use std::fmt::Debug;
use std::ops::Range;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

pub mod local;
pub mod s3;

#[cfg(any(test, feature = "testkit"))]
pub mod conformance;

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
    /// Precondition of the write.
    pub mode: PutMode,
    /// `Content-Type` served with the object (S3; the local store ignores it).
    pub content_type: Option<String>,
    /// `Cache-Control` served with the object (S3; the local store ignores it).
    pub cache_control: Option<String>,
}

/// Where a page of a listing starts ([`ObjectStore::list_page`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PageStart {
    /// At the first key.
    #[default]
    First,
    /// At the first key greater than this one (S3's `StartAfter`): where a listing resumes
    /// after an interruption, from a key it recorded.
    After(String),
    /// Where the previous page stopped: its [`ListPage::next`] (S3's continuation token;
    /// opaque, valid for the same prefix only).
    Token(String),
}

impl PageStart {
    /// The key a page starts after, in a store whose token is a key (the last key of the
    /// previous page, see [`ListPage::up_to_last_key`]): there `After` and `Token` mean the same.
    pub fn after_key(&self) -> Option<&str> {
        match self {
            PageStart::First => None,
            PageStart::After(k) | PageStart::Token(k) => Some(k),
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListPage {
    /// At most the asked number of objects, in key order.
    pub objects: Vec<ObjectMeta>,
    /// Where the next page starts ([`PageStart::Token`]); `None` on the last page.
    pub next: Option<String>,
}

impl ListPage {
    /// A page of a store whose token is a key: `objects` in key order, and, when `more` objects
    /// follow, the last key as the token ([`PageStart::after_key`] reads it back).
    pub fn up_to_last_key(objects: Vec<ObjectMeta>, more: bool) -> ListPage {
        let next = if more {
            objects.last().map(|o| o.key.clone())
        } else {
            None
        };
        ListPage { objects, next }
    }
}

/// Objects per page of a listing unless told otherwise (S3's own maximum).
pub const DEFAULT_PAGE_SIZE: usize = 1000;

/// A stream of body chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// Store errors. The first variants are decisions the engine takes; `Permanent` is reported
/// without retrying; `Other` is retried.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No object under the key.
    #[error("object not found: {key}")]
    NotFound {
        /// The key asked for.
        key: String,
    },
    /// A `Create` write found the key already present (`If-None-Match: *` failed).
    #[error("object already exists: {key}")]
    AlreadyExists {
        /// The key written.
        key: String,
    },
    /// An `If-Match` write found a different ETag: the object changed since it was read.
    #[error("precondition failed (object changed): {key}")]
    Precondition {
        /// The key written.
        key: String,
    },
    /// The key breaks [`validate_key`].
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The store refused in a way retrying does not fix (access denied, no such bucket).
    #[error("store refused {key}: {source}")]
    Permanent {
        /// The key of the request (or the prefix of a listing).
        key: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// Any other failure (network, throttling, server error); retried by the engine.
    #[error("store error on {key}: {source}")]
    Other {
        /// The key of the request (or the prefix of a listing).
        key: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    /// Wraps any error as [`Error::Other`] for `key`.
    pub fn other(key: &str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Other {
            key: key.to_owned(),
            source: source.into(),
        }
    }

    /// The key the error is about.
    pub fn key(&self) -> &str {
        match self {
            Error::NotFound { key }
            | Error::AlreadyExists { key }
            | Error::Precondition { key }
            | Error::InvalidKey { key, .. }
            | Error::Permanent { key, .. }
            | Error::Other { key, .. } => key,
        }
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Error>();
};

/// Names starting with this are the stores' own (temporary and lock files); no key segment may
/// start with it.
pub const RESERVED_PREFIX: &str = ".rpmbucket-";

/// Longest key accepted, in bytes (S3's own limit).
pub const MAX_KEY_BYTES: usize = 1024;

/// Unicode format characters (general category Cf: bidirectional overrides and isolates such
/// as U+202E, zero-width joiners and spaces, the BOM, tag characters...). They make a key
/// display differently from what it is, so no key may hold one. Table: Unicode 16 `Cf`.
pub fn is_format_char(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// The one key rule, used by the stores, the indexer and the gateway: `key` is a plain
/// relative `/`-separated path both backends store the same way: not empty, no leading or
/// trailing `/`, no empty, `.` or `..` segment, no backslash, NUL or other control character,
/// no Unicode format character ([`is_format_char`]), no segment starting with
/// [`RESERVED_PREFIX`], at most [`MAX_KEY_BYTES`] bytes. The error's reason says which rule.
pub fn validate_key(key: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("empty key");
    }
    if key.len() > MAX_KEY_BYTES {
        return bad("longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return bad("absolute key");
    }
    if key.contains('\\') {
        return bad("backslash in key");
    }
    if key.chars().any(char::is_control) {
        return bad("control character in key");
    }
    if key.chars().any(is_format_char) {
        return bad("Unicode format character (such as a bidirectional override) in key");
    }
    for segment in key.split('/') {
        match segment {
            "" => return bad("empty path segment"),
            "." | ".." => return bad("`.` or `..` path segment (path traversal)"),
            s if s.starts_with(RESERVED_PREFIX) => return bad("reserved name"),
            _ => {}
        }
    }
    Ok(())
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
    /// The whole object unless its version token is still `etag` (`Ok(None)` then): a
    /// conditional GET (S3 `If-None-Match`), so checking an unchanged object costs one request
    /// and no body. The default compares [`head`](Self::head)'s token first.
    async fn get_if_changed(&self, key: &str, etag: &str) -> Result<Option<(Bytes, ObjectMeta)>> {
        if self.head(key).await?.etag == etag {
            return Ok(None);
        }
        self.get(key).await.map(Some)
    }
    /// The whole object as a stream of chunks (for hashing large packages).
    async fn get_stream(&self, key: &str) -> Result<(ByteStream, ObjectMeta)>;
    /// Write an object, honouring `opts.mode`. Returns the new object's metadata (ETag).
    async fn put(&self, key: &str, body: Bytes, opts: PutOptions) -> Result<ObjectMeta>;
    /// Write an object from a local file (large packages) without holding it all in memory
    /// where the backend allows it. The default reads the file and calls [`put`](Self::put).
    async fn put_file(&self, key: &str, path: &Path, opts: PutOptions) -> Result<ObjectMeta> {
        let body = tokio::fs::read(path)
            .await
            .map_err(|e| Error::other(key, e))?;
        self.put(key, Bytes::from(body), opts).await
    }
    /// Write `first` (honouring its mode) and then `second`, so that readers see the two
    /// changes as close together in time as the backend allows; `second` is written only if
    /// `first` was. An `Err` means `first` was not written; otherwise the inner result is
    /// that of `second`. Used for `repomd.xml` and its detached signature, which readers
    /// fetch one after the other. The default writes one after the other (on S3 the two
    /// changes are one PUT apart); the local store renames both files in one step.
    async fn put_pair(
        &self,
        first: (&str, Bytes, PutOptions),
        second: (&str, Bytes, PutOptions),
    ) -> Result<(ObjectMeta, Result<ObjectMeta>)> {
        let meta = self.put(first.0, first.1, first.2).await?;
        Ok((meta, self.put(second.0, second.1, second.2).await))
    }
    /// Copy the object at `from` to `to`. Backends that can do it server-side (S3
    /// `CopyObject`, the kernel's `copy_file_range` for a directory) never move the body
    /// through the caller; the default reads and writes. S3 supports only
    /// [`PutMode::Overwrite`] here (and single copies up to 5 GiB).
    async fn copy(&self, from: &str, to: &str, opts: PutOptions) -> Result<ObjectMeta> {
        let (body, _) = self.get(from).await?;
        self.put(to, body, opts).await
    }

    /// Mark an object as in use now: its modification time becomes the store's present time,
    /// its body stays as it is ([`Error::NotFound`] if there is none). A sweep ages unreferenced
    /// files by their modification time, so a file a new generation stops referencing is
    /// touched to keep it for the grace period. The default says it cannot ([`Error::Other`]);
    /// the local store does it under its locks.
    async fn touch(&self, key: &str) -> Result<ObjectMeta> {
        Err(Error::other(
            key,
            "this store cannot refresh an object's modification time",
        ))
    }
    /// Delete an object; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Every object whose key starts with `prefix`, in key order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>>;
    /// One page of [`list`](Self::list): at most `max_keys` (at least 1) objects whose key
    /// starts with `prefix`, in key order, from `start`. Walking a listing page by page holds
    /// one page in memory, not the whole prefix. The default lists the whole prefix and cuts a
    /// page from it (memory grows with the prefix); both backends page for real (S3:
    /// `ListObjectsV2` with `MaxKeys` and a continuation token; the directory: a sorted walk
    /// that stops after `max_keys` files).
    async fn list_page(
        &self,
        prefix: &str,
        start: &PageStart,
        max_keys: usize,
    ) -> Result<ListPage> {
        let after = start.after_key();
        let mut objects: Vec<ObjectMeta> = self
            .list(prefix)
            .await?
            .into_iter()
            .filter(|o| after.is_none_or(|a| o.key.as_str() > a))
            .collect();
        let max_keys = max_keys.max(1);
        let more = objects.len() > max_keys;
        objects.truncate(max_keys);
        Ok(ListPage::up_to_last_key(objects, more))
    }
}

/// Forwarding, so `Arc<dyn ObjectStore>` (and `Arc<LocalStore>`, …) can be passed where an
/// `S: ObjectStore` is expected.
#[async_trait]
impl<T: ObjectStore + ?Sized> ObjectStore for Arc<T> {
    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        (**self).head(key).await
    }
    async fn get(&self, key: &str) -> Result<(Bytes, ObjectMeta)> {
        (**self).get(key).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<(Bytes, ObjectMeta)> {
        (**self).get_range(key, range).await
    }
    async fn get_if_changed(&self, key: &str, etag: &str) -> Result<Option<(Bytes, ObjectMeta)>> {
        (**self).get_if_changed(key, etag).await
    }
    async fn get_stream(&self, key: &str) -> Result<(ByteStream, ObjectMeta)> {
        (**self).get_stream(key).await
    }
    async fn put(&self, key: &str, body: Bytes, opts: PutOptions) -> Result<ObjectMeta> {
        (**self).put(key, body, opts).await
    }
    async fn copy(&self, from: &str, to: &str, opts: PutOptions) -> Result<ObjectMeta> {
        (**self).copy(from, to, opts).await
    }
    async fn put_file(&self, key: &str, path: &Path, opts: PutOptions) -> Result<ObjectMeta> {
        (**self).put_file(key, path, opts).await
    }
    async fn put_pair(
        &self,
        first: (&str, Bytes, PutOptions),
        second: (&str, Bytes, PutOptions),
    ) -> Result<(ObjectMeta, Result<ObjectMeta>)> {
        (**self).put_pair(first, second).await
    }
    async fn touch(&self, key: &str) -> Result<ObjectMeta> {
        (**self).touch(key).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        (**self).delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        (**self).list(prefix).await
    }
    async fn list_page(
        &self,
        prefix: &str,
        start: &PageStart,
        max_keys: usize,
    ) -> Result<ListPage> {
        (**self).list_page(prefix, start, max_keys).await
    }
}

/// Opens a store by location: `s3://bucket[/prefix]` is an [`S3Store`](s3::S3Store) from the
/// standard AWS configuration (with `opts`), anything else a directory for a
/// [`LocalStore`](local::LocalStore) (`file://` accepted).
pub async fn open(location: &str, opts: &s3::S3Options) -> Result<Arc<dyn ObjectStore>> {
    if location.starts_with("s3://") {
        return Ok(Arc::new(s3::S3Store::from_url_opts(location, opts).await?));
    }
    let path = location.strip_prefix("file://").unwrap_or(location);
    if path.is_empty() {
        return Err(Error::InvalidKey {
            key: location.to_owned(),
            reason: "empty store location",
        });
    }
    Ok(Arc::new(local::LocalStore::new(path)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_keys() {
        for good in [
            "a",
            "a/b.rpm",
            "my pkg+1.0.rpm",
            ".hidden",
            "a/..b",
            "a/b../c",
            "ü/é",
        ] {
            validate_key(good).unwrap_or_else(|e| panic!("{good:?}: {e}"));
        }
        for bad in [
            "", "/a", "a/", "a//b", "./a", "a/.", "..", "a\\b", "a\tb", "a\u{85}b",
        ] {
            assert!(
                matches!(validate_key(bad), Err(Error::InvalidKey { .. })),
                "{bad:?}"
            );
        }
        assert!(validate_key(&"a".repeat(1025)).is_err());
        assert!(validate_key(&"a".repeat(1024)).is_ok());
    }

    #[tokio::test]
    async fn opens_local_stores_by_path_or_file_url() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        let store = open(root.to_str().unwrap(), &s3::S3Options::default())
            .await
            .unwrap();
        store
            .put("x", Bytes::from_static(b"1"), PutOptions::default())
            .await
            .unwrap();
        let url = format!("file://{}", root.display());
        let again = open(&url, &s3::S3Options::default()).await.unwrap();
        assert_eq!(again.get("x").await.unwrap().0, "1");
        assert!(open("", &s3::S3Options::default()).await.is_err());
    }
}

//! A store wrapper that counts requests by kind and body bytes read, for the publish report and
//! the benchmarks.

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use crate::store::{ByteStream, ListPage, ObjectMeta, ObjectStore, PageStart, PutOptions, Result};

/// Requests made to the store, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RequestCounts {
    /// HEAD requests.
    pub head: u64,
    /// Whole-object GETs (metadata files, `repomd.xml`).
    pub get: u64,
    /// Ranged GETs (package headers).
    pub get_range: u64,
    /// Streamed GETs (hashing packages without a stored checksum).
    pub get_stream: u64,
    /// PUTs (metadata files and `repomd.xml`).
    pub put: u64,
    /// DELETEs (expired generations).
    pub delete: u64,
    /// Server-side copies (promotion).
    pub copy: u64,
    /// LIST calls (reindex, reconcile): one per `list` (the backend may page) or `list_page`.
    pub list: u64,
}

impl RequestCounts {
    /// All requests.
    pub fn total(&self) -> u64 {
        self.head
            + self.get
            + self.get_range
            + self.get_stream
            + self.put
            + self.copy
            + self.delete
            + self.list
    }
}

#[derive(Debug, Default)]
struct Counters {
    head: AtomicU64,
    get: AtomicU64,
    get_range: AtomicU64,
    get_stream: AtomicU64,
    put: AtomicU64,
    delete: AtomicU64,
    copy: AtomicU64,
    list: AtomicU64,
    bytes_read: Arc<AtomicU64>,
    bytes_written: AtomicU64,
}

/// Wraps a store and counts what goes through it.
#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    c: Counters,
}

impl CountingStore {
    /// Count the requests made to `inner` through this wrapper.
    pub fn new(inner: Arc<dyn ObjectStore>) -> CountingStore {
        CountingStore {
            inner,
            c: Counters::default(),
        }
    }

    /// Requests so far.
    pub fn requests(&self) -> RequestCounts {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RequestCounts {
            head: l(&self.c.head),
            get: l(&self.c.get),
            get_range: l(&self.c.get_range),
            get_stream: l(&self.c.get_stream),
            put: l(&self.c.put),
            delete: l(&self.c.delete),
            copy: l(&self.c.copy),
            list: l(&self.c.list),
        }
    }

    /// Body bytes received so far.
    pub fn bytes_read(&self) -> u64 {
        self.c.bytes_read.load(Ordering::Relaxed)
    }

    /// Body bytes sent so far.
    pub fn bytes_written(&self) -> u64 {
        self.c.bytes_written.load(Ordering::Relaxed)
    }
}

fn bump(a: &AtomicU64, n: u64) {
    a.fetch_add(n, Ordering::Relaxed);
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        bump(&self.c.head, 1);
        self.inner.head(key).await
    }

    async fn get(&self, key: &str) -> Result<(Bytes, ObjectMeta)> {
        bump(&self.c.get, 1);
        let r = self.inner.get(key).await?;
        bump(&self.c.bytes_read, r.0.len() as u64);
        Ok(r)
    }

    async fn get_if_changed(&self, key: &str, etag: &str) -> Result<Option<(Bytes, ObjectMeta)>> {
        bump(&self.c.get, 1);
        let r = self.inner.get_if_changed(key, etag).await?;
        if let Some((body, _)) = &r {
            bump(&self.c.bytes_read, body.len() as u64);
        }
        Ok(r)
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<(Bytes, ObjectMeta)> {
        bump(&self.c.get_range, 1);
        let r = self.inner.get_range(key, range).await?;
        bump(&self.c.bytes_read, r.0.len() as u64);
        Ok(r)
    }

    async fn get_stream(&self, key: &str) -> Result<(ByteStream, ObjectMeta)> {
        bump(&self.c.get_stream, 1);
        let (stream, meta) = self.inner.get_stream(key).await?;
        let counter = self.c.bytes_read.clone();
        let counted = stream.map(move |chunk| {
            if let Ok(b) = &chunk {
                counter.fetch_add(b.len() as u64, Ordering::Relaxed);
            }
            chunk
        });
        Ok((Box::pin(counted), meta))
    }

    async fn put(&self, key: &str, body: Bytes, opts: PutOptions) -> Result<ObjectMeta> {
        bump(&self.c.put, 1);
        bump(&self.c.bytes_written, body.len() as u64);
        self.inner.put(key, body, opts).await
    }

    async fn put_pair(
        &self,
        first: (&str, Bytes, PutOptions),
        second: (&str, Bytes, PutOptions),
    ) -> Result<(ObjectMeta, Result<ObjectMeta>)> {
        bump(&self.c.put, 2);
        bump(
            &self.c.bytes_written,
            (first.1.len() + second.1.len()) as u64,
        );
        self.inner.put_pair(first, second).await
    }

    async fn copy(&self, from: &str, to: &str, opts: PutOptions) -> Result<ObjectMeta> {
        bump(&self.c.copy, 1);
        self.inner.copy(from, to, opts).await
    }

    async fn put_file(&self, key: &str, path: &Path, opts: PutOptions) -> Result<ObjectMeta> {
        bump(&self.c.put, 1);
        let meta = self.inner.put_file(key, path, opts).await?;
        bump(&self.c.bytes_written, meta.size);
        Ok(meta)
    }

    async fn touch(&self, key: &str) -> Result<ObjectMeta> {
        bump(&self.c.head, 1);
        self.inner.touch(key).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        bump(&self.c.delete, 1);
        self.inner.delete(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        bump(&self.c.list, 1);
        self.inner.list(prefix).await
    }

    async fn list_page(
        &self,
        prefix: &str,
        start: &PageStart,
        max_keys: usize,
    ) -> Result<ListPage> {
        bump(&self.c.list, 1);
        self.inner.list_page(prefix, start, max_keys).await
    }
}

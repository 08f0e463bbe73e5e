//! The conditional-write probe: a store that ignores `If-None-Match: *` or `If-Match` would
//! let concurrent publishers overwrite each other's `repomd.xml` and lose updates silently
//! (older MinIO releases, some Ceph RGW versions). Checked once per indexer with preconditions
//! that must fail, on a fresh key that is deleted afterwards.

use bytes::Bytes;

use crate::store::{self, ObjectStore, PutMode, PutOptions};

/// Base name of the probe object (a random suffix is added; deleted after the probe).
pub(crate) const PROBE_PREFIX: &str = "rpmbucket-conditional-write-probe-";

/// Why a probe did not pass.
#[derive(Debug)]
pub(crate) enum ProbeError {
    /// The store wrote although the precondition must have failed.
    Ignored(String),
    /// The store failed; nothing learnt.
    Store(store::Error),
}

impl From<store::Error> for ProbeError {
    fn from(e: store::Error) -> ProbeError {
        ProbeError::Store(e)
    }
}

/// Create a fresh key, then try to create it again and to update it with a wrong ETag: both
/// must fail. The key is deleted whatever happens.
pub(crate) async fn probe_conditional_writes(store: &dyn ObjectStore) -> Result<(), ProbeError> {
    let key = format!("{PROBE_PREFIX}{:016x}", fastrand::u64(..));
    let outcome = probe_key(store, &key).await;
    if let Err(e) = store.delete(&key).await {
        tracing::warn!(key, error = %e, "could not delete the conditional-write probe");
    }
    if let Err(ProbeError::Ignored(reason)) = &outcome {
        tracing::error!(reason, "the store ignores conditional writes");
    }
    outcome
}

/// The probe for `rpmbucket doctor`: `Ok(None)` when the store honours conditional writes,
/// `Ok(Some(reason))` when it ignores them, `Err` when the store failed (nothing learnt).
pub async fn conditional_writes(store: &dyn ObjectStore) -> Result<Option<String>, store::Error> {
    match probe_conditional_writes(store).await {
        Ok(()) => Ok(None),
        Err(ProbeError::Ignored(reason)) => Ok(Some(reason)),
        Err(ProbeError::Store(e)) => Err(e),
    }
}

async fn probe_key(store: &dyn ObjectStore, key: &str) -> Result<(), ProbeError> {
    let put = |body: &'static str, mode: PutMode| {
        store.put(
            key,
            Bytes::from_static(body.as_bytes()),
            PutOptions {
                mode,
                ..PutOptions::default()
            },
        )
    };
    let first = put("1", PutMode::Create).await?;
    match put("2", PutMode::Create).await {
        Err(store::Error::AlreadyExists { .. } | store::Error::Precondition { .. }) => {}
        Ok(_) => {
            return Err(ProbeError::Ignored(
                "a write with If-None-Match: * replaced an existing object".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let wrong = if first.etag == "\"0\"" {
        "\"1\""
    } else {
        "\"0\""
    };
    match put("3", PutMode::Update(wrong.into())).await {
        Err(store::Error::Precondition { .. }) => Ok(()),
        Ok(_) => Err(ProbeError::Ignored(
            "a write with If-Match: <another ETag> replaced the object".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::local::LocalStore;

    /// A store that drops every precondition (what a backend ignoring the headers does).
    #[derive(Debug)]
    struct Lying(LocalStore);

    #[async_trait::async_trait]
    impl ObjectStore for Lying {
        async fn head(&self, key: &str) -> store::Result<store::ObjectMeta> {
            self.0.head(key).await
        }
        async fn get(&self, key: &str) -> store::Result<(Bytes, store::ObjectMeta)> {
            self.0.get(key).await
        }
        async fn get_range(
            &self,
            key: &str,
            range: std::ops::Range<u64>,
        ) -> store::Result<(Bytes, store::ObjectMeta)> {
            self.0.get_range(key, range).await
        }
        async fn get_stream(
            &self,
            key: &str,
        ) -> store::Result<(store::ByteStream, store::ObjectMeta)> {
            self.0.get_stream(key).await
        }
        async fn put(
            &self,
            key: &str,
            body: Bytes,
            mut opts: PutOptions,
        ) -> store::Result<store::ObjectMeta> {
            opts.mode = PutMode::Overwrite;
            self.0.put(key, body, opts).await
        }
        async fn delete(&self, key: &str) -> store::Result<()> {
            self.0.delete(key).await
        }
        async fn list(&self, prefix: &str) -> store::Result<Vec<store::ObjectMeta>> {
            self.0.list(prefix).await
        }
    }

    #[tokio::test]
    async fn honest_store_passes_and_the_probe_is_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path()).unwrap();
        probe_conditional_writes(&store).await.unwrap();
        assert!(store.list("").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn lying_store_is_refused_and_the_probe_is_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Lying(LocalStore::new(dir.path()).unwrap());
        match probe_conditional_writes(&store).await {
            Err(ProbeError::Ignored(reason)) => {
                assert!(reason.contains("If-None-Match"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert!(store.list("").await.unwrap().is_empty());
    }
}

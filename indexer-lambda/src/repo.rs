//! The one place this crate touches the engine's repository API (`Indexer`, `Layout`,
//! `Change`, `PublishReport`). Everything else goes through these functions.
//!
//! Until the engine's publish module lands, a placeholder with the contract's names keeps the
//! crate compiling; its operations fail with "engine not available".

use crate::event::{ChangeKind, ObjectChange};

pub use stub::{EngineError, Indexer, PublishReport};

/// The indexer the binary runs: S3 store on `bucket` (client built once from `sdk`), layout
/// and repository settings from the environment (`RPMBUCKET_PREFIXES`, `RPMBUCKET_LAYOUT`,
/// `RPMBUCKET_GRACE_SECONDS`, `RPMBUCKET_COMPRESSION`, `RPMBUCKET_DATABASE`).
pub fn indexer_from_env(
    sdk: &aws_config::SdkConfig,
    bucket: Option<&str>,
) -> Result<Indexer, Box<dyn std::error::Error + Send + Sync>> {
    let _ = (sdk, bucket);
    Ok(Indexer::default())
}

/// Repository root of a package key under the indexer's layout; `None` when the key is not a
/// package of a configured repository.
pub(crate) fn repo_root(indexer: &Indexer, key: &str) -> Option<String> {
    indexer.layout().repo_root(key)
}

/// Apply the changes of one repository and publish.
pub(crate) async fn apply(
    indexer: &Indexer,
    root: &str,
    changes: &[ObjectChange],
) -> Result<PublishReport, EngineError> {
    let changes: Vec<stub::Change> = changes
        .iter()
        .map(|c| stub::Change {
            key: c.key.clone(),
            kind: match c.kind {
                ChangeKind::Created => stub::ChangeKind::Created,
                ChangeKind::Removed => stub::ChangeKind::Removed,
            },
            etag: c.etag.clone(),
            sha256: None,
        })
        .collect();
    indexer.apply(root, &changes).await
}

/// Repair drift between the bucket and the published metadata of one repository.
pub(crate) async fn reconcile(indexer: &Indexer, root: &str) -> Result<PublishReport, EngineError> {
    indexer.reconcile(root).await
}

/// Every repository present in the bucket (under the configured prefixes).
pub(crate) async fn roots(indexer: &Indexer) -> Result<Vec<String>, EngineError> {
    indexer.list_roots("").await
}

/// Would trying again later help?
pub(crate) fn is_retryable(e: &EngineError) -> bool {
    e.is_retryable()
}

mod stub {
    #![allow(dead_code, missing_docs)]
    use std::time::Duration;

    #[derive(Debug, Default)]
    pub struct Layout;
    impl Layout {
        pub fn repo_root(&self, key: &str) -> Option<String> {
            if !key.ends_with(".rpm") || key.contains("repodata/") {
                return None;
            }
            Some(
                key.rfind('/')
                    .map_or(String::new(), |i| key[..=i].to_owned()),
            )
        }
    }
    pub enum ChangeKind {
        Created,
        Removed,
    }
    pub struct Change {
        pub key: String,
        pub kind: ChangeKind,
        pub etag: Option<String>,
        pub sha256: Option<String>,
    }
    #[derive(Debug, Default, Clone)]
    pub struct RequestCounts;
    #[derive(Debug, Default, Clone)]
    pub struct PublishReport {
        pub root: String,
        pub revision: String,
        pub added: Vec<String>,
        pub removed: Vec<String>,
        pub rejected: Vec<(String, String)>,
        pub bytes_read: u64,
        pub requests: RequestCounts,
        pub conflicts_retried: u32,
        pub hashed_by_stream: u32,
        pub hashed_by_checksum: u32,
        pub duration: Duration,
        pub unchanged: bool,
    }
    #[derive(Debug, thiserror::Error)]
    #[error("engine not available")]
    pub struct EngineError;
    impl EngineError {
        pub fn is_retryable(&self) -> bool {
            false
        }
    }
    #[derive(Debug, Default)]
    pub struct Indexer {
        layout: Layout,
    }
    impl Indexer {
        pub fn layout(&self) -> &Layout {
            &self.layout
        }
        pub async fn apply(
            &self,
            _root: &str,
            _changes: &[Change],
        ) -> Result<PublishReport, EngineError> {
            Err(EngineError)
        }
        pub async fn reconcile(&self, _root: &str) -> Result<PublishReport, EngineError> {
            Err(EngineError)
        }
        pub async fn list_roots(&self, _prefix: &str) -> Result<Vec<String>, EngineError> {
            Err(EngineError)
        }
    }
}

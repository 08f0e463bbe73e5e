//! The values that pass between the HTTP layer and the repository (the gateway's
//! `Repository`, over the engine's `Indexer`), so handlers never name engine types directly.

use std::time::Duration;

/// A change to apply (mirrors the engine's `Change`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The object key.
    pub key: String,
    /// The key was deleted (otherwise written).
    pub removed: bool,
    /// Version token (ETag) of the object the checksum belongs to; the engine uses the checksum
    /// only while the object still has this version.
    pub etag: Option<String>,
    /// Hex SHA-256 of the whole object when known (computed while streaming, or bound into the
    /// presigned URL), so the indexer need not read the body.
    pub sha256: Option<String>,
}

/// Outcome of publishing one repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// Repository root.
    pub root: String,
    /// Revision of the `repomd.xml` now published.
    pub revision: String,
    /// Keys added or replaced.
    pub added: Vec<String>,
    /// Keys removed from the metadata.
    pub removed: Vec<String>,
    /// Keys rejected in this run, with the reason.
    pub rejected: Vec<(String, String)>,
    /// Wall time of the publish.
    pub duration: Duration,
}

/// Signing facts of a repository that `.repo` files state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RepoTrust {
    /// `repomd.xml` is signed (`repodata/repomd.xml.asc`, keys in `repodata/repomd.xml.key`).
    pub signed_metadata: bool,
    /// Its package policy requires signed packages.
    pub signed_packages: bool,
}

/// A repository operation failed: the engine's error, shown as the engine words it (the HTTP
/// answers quote it) and asked whether a retry may help.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct RepoError(#[from] rpmbucket_engine::Error);

impl RepoError {
    /// Whether a retry may help (a throttled or unreachable store, a lost race).
    pub fn is_retryable(&self) -> bool {
        self.0.is_retryable()
    }
}

/// One package copied by a promotion.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PromotedPackage {
    /// `NAME-[EPOCH:]VERSION-RELEASE.ARCH`.
    pub nevra: String,
    /// Source key.
    pub from: String,
    /// Target key.
    pub to: String,
}

/// Outcome of a promotion: what was copied and the target's publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    /// The packages copied.
    pub promoted: Vec<PromotedPackage>,
    /// The target repository's publish.
    pub published: Published,
    /// Packages in the target after the publish.
    pub packages: usize,
}

/// Why a promotion failed.
#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    /// A name, NEVRA or key matches no package of the source repository (the engine's
    /// `NotInRepository`).
    #[error(transparent)]
    Unknown(rpmbucket_engine::Error),
    /// The store or the publish failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

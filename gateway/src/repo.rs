//! The seam between the gateway and the engine: what the HTTP layer needs from a repository
//! (where a key belongs, whether it is published, applying changes). One trait, implemented
//! over the engine's `Indexer`, so handlers never name engine types directly.

use std::time::Duration;

use async_trait::async_trait;

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

/// Errors of the repository seam, as text for the HTTP layer plus whether a retry may help.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RepoError {
    /// What went wrong, for the response body.
    pub message: String,
    /// Trying again later may succeed (store hiccups, lost races).
    pub retryable: bool,
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
    /// A name, NEVRA or key matches no package of the source repository.
    #[error("{0}")]
    Unknown(String),
    /// The store or the publish failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// What the gateway needs from the engine.
#[async_trait]
pub trait Repository: Send + Sync + 'static {
    /// The repository root (ends with `/`, or empty) of a package key; `None` when the key is
    /// not a package of a configured repository.
    fn root_of(&self, key: &str) -> Option<String>;
    /// The published revision if `key` is in `root`'s metadata.
    async fn published(&self, root: &str, key: &str) -> Result<Option<String>, RepoError>;
    /// The version token (ETag) of `root`'s published `repomd.xml` (`None`: not published
    /// yet), read conditionally against `known` (the token seen last) so that an unchanged
    /// repository costs one request and no body. Watching it notices publishes made by other
    /// processes; the default never sees one.
    async fn metadata_version(
        &self,
        _root: &str,
        known: Option<&str>,
    ) -> Result<Option<String>, RepoError> {
        Ok(known.map(str::to_owned))
    }
    /// The current version token (ETag) of `key`, if the store has one.
    async fn etag(&self, _key: &str) -> Option<String> {
        None
    }
    /// Bring every repository in the store up to date with its packages (used when the local
    /// server starts: uploads stored before a crash, or files copied in by hand). One result
    /// per repository root.
    async fn reconcile_all(&self) -> Vec<(String, Result<Published, RepoError>)> {
        Vec::new()
    }
    /// Why the current object of `key` was not published (the reason the repository gave),
    /// if it was rejected.
    async fn rejected(&self, _root: &str, _key: &str) -> Option<String> {
        None
    }
    /// How a repository is signed, for its `.repo` file.
    async fn trust(&self, _root: &str) -> RepoTrust {
        RepoTrust::default()
    }
    /// Copy the packages `wanted` names (NAME: its newest version per arch; NEVRA; key) from
    /// repository `from` to repository `to` with a server-side copy, then publish `to`.
    async fn promote(
        &self,
        _from: &str,
        _to: &str,
        _wanted: &[String],
    ) -> Result<Promotion, PromoteError> {
        Err(PromoteError::Repo(RepoError {
            message: "promotion is not supported by this repository".into(),
            retryable: false,
        }))
    }
    /// The repository's own upload limit in bytes (its stored `max-upload-size` setting), if
    /// it has one.
    async fn upload_limit(&self, _root: &str) -> Result<Option<u64>, RepoError> {
        Ok(None)
    }
    /// Apply a batch of changes to one root and publish.
    async fn apply(&self, root: &str, changes: &[Change]) -> Result<Published, RepoError>;
}

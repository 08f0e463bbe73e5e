//! The engine's error type.

use crate::store;

/// Errors of the engine. [`Error::is_retryable`] says whether trying the same work again later
/// can succeed (store hiccups, lost races) or not (broken state, bad configuration).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object store failed (after the engine's own retries).
    #[error(transparent)]
    Store(#[from] store::Error),
    /// Published metadata of a repository could not be read back.
    #[error("published metadata of repository {root:?} is unreadable: {reason}")]
    Metadata {
        /// The repository root (its key prefix in the store).
        root: String,
        /// What could not be read or parsed.
        reason: String,
    },
    /// Generating the new metadata failed (not caused by one package: those are rejected).
    #[error("writing metadata of repository {root:?} failed: {reason}")]
    Render {
        /// The repository root (its key prefix in the store).
        root: String,
        /// What the writer reported.
        reason: String,
    },
    /// The conditional `repomd.xml` swap kept losing against other publishers.
    #[error("repository {root:?}: gave up after {attempts} conflicting publish attempts")]
    Conflict {
        /// The repository root (its key prefix in the store).
        root: String,
        /// Publish attempts made before giving up.
        attempts: u32,
    },
    /// The key does not belong to the repository it was applied to.
    #[error("key {key:?} does not belong to repository {root:?}")]
    WrongRoot {
        /// The repository root (its key prefix in the store).
        root: String,
        /// The object key that lies outside it.
        key: String,
    },
    /// A package asked for by name, NEVRA or key is not in the repository.
    #[error("repository {root:?} has no package {what:?}")]
    NotInRepository {
        /// The repository root (its key prefix in the store).
        root: String,
        /// The name, NEVRA or key that was asked for.
        what: String,
    },
    /// Keys kept changing while their publish was verified: the published metadata may lag
    /// behind the bucket (trying the batch again later settles it).
    #[error("repository {root:?}: keys still changed after {rounds} publish rounds")]
    Unsettled {
        /// The repository root (its key prefix in the store).
        root: String,
        /// Publish rounds made before giving up.
        rounds: u32,
    },
    /// The store accepted a write whose precondition must fail: it ignores `If-None-Match` /
    /// `If-Match`, so concurrent publishers would silently lose updates. Refused.
    #[error(
        "the store ignores conditional writes ({reason}); publishing to it could lose updates, \
         so rpmbucket refuses (use a store that honours If-None-Match and If-Match)"
    )]
    ConditionalWritesIgnored {
        /// Which conditional write the store accepted although it had to fail.
        reason: String,
    },
    /// The repository is signed but this indexer has no signing key: publishing would leave
    /// a stale signature that clients refuse.
    #[error("repository {root:?} is signed with key {fingerprint}; this indexer has no signing key (--signing-key, RPMBUCKET_SIGNING_KEY), or run `rpmbucket index` without one to stop signing")]
    Unsigned {
        /// The repository root (its key prefix in the store).
        root: String,
        /// Fingerprint of the key the repository's state records as its signer.
        fingerprint: String,
    },
    /// A local I/O error (temporary files of the writers).
    #[error("local i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Can the same work succeed when tried again later?
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Store(e) => store_error_is_retryable(e),
            Error::Conflict { .. } | Error::Unsettled { .. } | Error::Io(_) => true,
            Error::Metadata { .. }
            | Error::Render { .. }
            | Error::WrongRoot { .. }
            | Error::NotInRepository { .. }
            | Error::ConditionalWritesIgnored { .. }
            | Error::Unsigned { .. } => false,
        }
    }
}

/// Store errors worth retrying: everything that is not a decision (`NotFound`,
/// `AlreadyExists`, `Precondition`, `InvalidKey`) or a permanent refusal (`Permanent`).
pub(crate) fn store_error_is_retryable(e: &store::Error) -> bool {
    matches!(e, store::Error::Other { .. })
}

/// `Result` with the engine [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync + 'static>() {}
    is::<Error>();
}

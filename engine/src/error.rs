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
    Metadata { root: String, reason: String },
    /// Generating the new metadata failed (not caused by one package: those are rejected).
    #[error("writing metadata of repository {root:?} failed: {reason}")]
    Render { root: String, reason: String },
    /// The conditional `repomd.xml` swap kept losing against other publishers.
    #[error("repository {root:?}: gave up after {attempts} conflicting publish attempts")]
    Conflict { root: String, attempts: u32 },
    /// The key does not belong to the repository it was applied to.
    #[error("key {key:?} does not belong to repository {root:?}")]
    WrongRoot { root: String, key: String },
    /// A fault-injection hook stopped the publish (tests only).
    #[error("publish of {root:?} stopped by fault injection at {point:?}")]
    Injected {
        root: String,
        point: crate::publish::FaultPoint,
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
            Error::Conflict { .. } | Error::Io(_) | Error::Injected { .. } => true,
            Error::Metadata { .. } | Error::Render { .. } | Error::WrongRoot { .. } => false,
        }
    }
}

/// Store errors worth retrying: everything that is not a decision (`NotFound`,
/// `AlreadyExists`, `Precondition`, `InvalidKey`).
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

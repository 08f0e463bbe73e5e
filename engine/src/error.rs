//! The engine's error type.

use rpmbucket_repodata::metadata_error::MetadataError;

use crate::backend::DecompressError;
use crate::render::RenderFailure;
use crate::state::StateError;
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
    #[error("published metadata of repository {root:?} is unreadable: {source}")]
    Metadata {
        /// The repository root (its key prefix in the store).
        root: String,
        /// What could not be read or parsed.
        #[source]
        source: Unreadable,
    },
    /// Generating the new metadata failed (not caused by one package: those are rejected).
    #[error("writing metadata of repository {root:?} failed: {source}")]
    Render {
        /// The repository root (its key prefix in the store).
        root: String,
        /// What the writer reported.
        #[source]
        source: Box<Unwritable>,
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

/// Why published metadata could not be read back ([`Error::Metadata`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Unreadable {
    /// `repomd.xml` does not parse.
    #[error("repomd.xml: {0}")]
    Repomd(#[source] MetadataError),
    /// A file's bytes are not the ones `repomd.xml` names.
    #[error("{href}: checksum {actual} differs from repomd.xml's {expected}")]
    Checksum {
        /// The file.
        href: String,
        /// SHA-256 of what was read.
        actual: String,
        /// SHA-256 in `repomd.xml`.
        expected: String,
    },
    /// A chunk file's bytes are not the ones its name says.
    #[error("{href}: checksum is {actual}")]
    ChunkChecksum {
        /// The chunk file.
        href: String,
        /// SHA-256 of what was read.
        actual: String,
    },
    /// The state file or a chunk file does not decode.
    #[error("{href}: {source}")]
    State {
        /// The file.
        href: String,
        /// What the decoder said.
        #[source]
        source: StateError,
    },
    /// The chunks read do not fit the state.
    #[error(transparent)]
    Chunks(StateError),
    /// A decoding task did not finish (it panicked or was cancelled).
    #[error("decode task: {0}")]
    Task(#[source] tokio::task::JoinError),
    /// A published metadata file does not decompress.
    #[error(transparent)]
    Decompress(#[from] DecompressError),
    /// `repomd.xml` has a primary record but not the other two.
    #[error("repomd.xml lacks filelists or other")]
    Incomplete,
    /// Published primary/filelists/other XML does not read back into records.
    #[error("reading published XML: {0}")]
    Xml(#[source] MetadataError),
}

/// Why the new metadata could not be written ([`Error::Render`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Unwritable {
    /// Rendering the files failed.
    #[error(transparent)]
    Render(#[from] RenderFailure),
    /// The rendering task did not finish (it panicked or was cancelled).
    #[error("render task: {0}")]
    Task(#[source] tokio::task::JoinError),
    /// A `repomd.xml` made elsewhere (`rpmbucket index DIR`) does not parse.
    #[error("the new repomd.xml: {0}")]
    NewRepomd(#[source] MetadataError),
    /// A file handed over with a `repomd.xml` made elsewhere is not one it references by
    /// content.
    #[error("{href} is not a content-addressed file of the new repomd.xml")]
    Unreferenced {
        /// The file.
        href: String,
    },
    /// Signing `repomd.xml` failed.
    #[error("signing repomd.xml: {0}")]
    Signing(#[source] rpmbucket_repodata::trust::TrustError),
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

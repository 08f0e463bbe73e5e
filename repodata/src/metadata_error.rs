//! Errors of the metadata writers and readers (compression, sqlite, repomd, XML read-back).

use std::path::PathBuf;

/// What went wrong while writing or reading repository metadata files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// A file could not be created, written, read or renamed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An i/o error on a stream that has no path (e.g. a decompressor fed from memory).
    #[error("i/o error: {0}")]
    Stream(#[from] std::io::Error),
    /// The sqlite library reported an error.
    #[error("sqlite error in {db}: {source}")]
    Sqlite {
        /// Which database: `"primary"`, `"filelists"` or `"other"`.
        db: &'static str,
        /// The sqlite error.
        #[source]
        source: rusqlite::Error,
    },
    /// An existing sqlite database cannot be updated in place: it is not a database of the
    /// expected kind, or not one createrepo_c's schema version 10 describes.
    #[error("{path} is not an updatable {db} database: {reason}")]
    Incompatible {
        /// The database file.
        path: PathBuf,
        /// Which database was expected: `"primary"`, `"filelists"` or `"other"`.
        db: &'static str,
        /// What does not match.
        reason: String,
    },
    /// Published XML (repomd.xml, primary/filelists/other) is not what createrepo_c writes.
    #[error("malformed {file}: {reason}")]
    Malformed {
        /// Which file (`"repomd.xml"`, `"primary.xml"`, ...).
        file: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The caller used the writer the wrong way (e.g. more packages than announced).
    #[error("{0}")]
    Usage(String),
}

impl MetadataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MetadataError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn malformed(file: &'static str, reason: impl Into<String>) -> Self {
        MetadataError::Malformed {
            file,
            reason: reason.into(),
        }
    }
}

/// Result of the writer/reader modules.
pub type MetadataResult<T, E = MetadataError> = std::result::Result<T, E>;

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<MetadataError>();
}

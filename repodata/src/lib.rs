//! Pure RPM-repository metadata: RPM header bytes → [`Package`] records → primary, filelists and
//! other XML, the sqlite databases and `repomd.xml`, byte-compatible with createrepo_c 0.17.3.
//!
//! No network, no async runtime, no cloud types: callers hand in bytes and get bytes back.
//! The rules followed are written down in `REPODATA-SPEC.md` (createrepo_c's behaviour, checked
//! against its output); createrepo_c is the oracle in the parity tests.

pub mod error;
pub mod header;
pub mod package;
pub mod parse;
mod tagtypes;
pub mod xml;

pub mod compress;
pub mod read;
pub mod repomd;
pub mod sqlite;
pub mod write_error;
pub mod writer;

pub use error::{Error, Result};
pub use package::{Changelog, DepFlag, Dependency, FileKind, Package, PackageFile};

//! Pure RPM-repository metadata: RPM header bytes → [`Package`] records → primary, filelists and
//! other XML, the sqlite databases and `repomd.xml`, byte-compatible with createrepo_c 0.17.3.
//!
//! No network, no async runtime, no cloud types: callers hand in bytes and get bytes back.
//! The rules followed are written down in `REPODATA-SPEC.md` (createrepo_c's behaviour, checked
//! against its output); createrepo_c is the oracle in the parity tests.
//!
//! ```no_run
//! use std::path::Path;
//! use rpmbucket_repodata::parse::{read_package_file, ParseOptions};
//! use rpmbucket_repodata::xml::{primary_chunk, primary_header, PRIMARY_FOOTER};
//!
//! let pkg = read_package_file(Path::new("repo/foo-1.0-1.noarch.rpm"), "foo-1.0-1.noarch.rpm", &ParseOptions::default())?;
//! let mut xml = primary_header(1).into_bytes();
//! primary_chunk(&pkg, &mut xml);
//! xml.extend_from_slice(PRIMARY_FOOTER.as_bytes());
//! # Ok::<(), rpmbucket_repodata::Error>(())
//! ```
//!
//! Reading over HTTP without the whole file: feed a growing prefix to
//! [`header::header_extent`] until it answers `Complete`, parse with [`header::RpmHeaders::parse`],
//! then build the record with [`Package::from_headers`] from facts the caller knows about the
//! object (size, mtime, SHA-256 — [`parse::FileHasher`] computes the latter while streaming and
//! also checks the payload digest).
//!
//! Deliberate differences from createrepo_c 0.17.3: [`parse::read_package_file`] and
//! [`parse::FileHasher`] reject a package whose payload does not match the digest in its header
//! (createrepo_c indexes it; rpm refuses to install it); strings that libxml2's loose UTF-8 check
//! accepts but that are not valid UTF-8 (overlong forms, surrogates) become U+FFFD instead of
//! being copied through.

pub mod error;
pub mod header;
pub mod package;
pub mod parse;
mod tagtypes;
pub mod xml;

pub mod bz2block;
pub mod compress;
pub mod extra;
pub mod members;
pub mod read;
pub mod repomd;
pub mod sqlite;
pub mod write_error;
pub mod writer;

pub use error::{Error, Result};
pub use package::{Changelog, DepFlag, Dependency, FileKind, Package, PackageFile};

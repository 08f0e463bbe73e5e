//! Pure RPM-repository metadata: RPM header bytes → [`Package`] records → primary, filelists and
//! other XML, the sqlite databases and `repomd.xml`, byte-compatible with createrepo_c 0.17.3.
//!
//! No network, no async runtime, no cloud types: callers hand in bytes and get bytes back.
//! The rules followed are written down in `docs/REPODATA-SPEC.md` of the repository
//! (createrepo_c's behaviour, checked against its output); createrepo_c is the oracle in the
//! parity tests.
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
//! Every face reads a package with the same routine, [`reader::PackageReader`]: it does no I/O
//! itself but says how many bytes of the file it needs next, so a local file
//! ([`reader::read_package`]), ranged GETs (the headers only, the SHA-256 known from the store)
//! and a streamed GET (the whole file, hashed and its payload digest checked) all drive it;
//! then [`Package::from_headers`] builds the record from facts the caller knows about the
//! object (size, mtime, SHA-256).
//!
//! Deliberate differences from createrepo_c 0.17.3: [`parse::read_package_file`] and
//! [`parse::FileHasher`] reject a package whose payload does not match the digest in its header
//! (createrepo_c indexes it; rpm refuses to install it); strings that libxml2's loose UTF-8 check
//! accepts but that are not valid UTF-8 (overlong forms, surrogates) become U+FFFD instead of
//! being copied through.
//!
//! # Why our own header reader, not the `rpm` crate's
//!
//! The `rpm` crate (rpm-rs) reads headers too, and the end-to-end tests use it to build packages.
//! For reading, the metadata must come out as createrepo_c sees the package through librpm, and
//! the crate behaves differently where it matters (`docs/REPODATA-SPEC.md` §11.2):
//!
//! - **Strings that are not UTF-8**: the crate decodes them lossily (U+FFFD) or fails when the
//!   package declares UTF-8; createrepo_c converts them as latin-1 with its own dropping rules
//!   (§7.1). The crate keeps the raw bytes private, so the conversion cannot be done on top.
//! - **Files**: its file-entry loader insists on user, group, mtime, link and rdev arrays of equal
//!   length and on digest lengths, and fails on packages createrepo_c indexes.
//! - **Acceptance**: which damaged headers are refused has to match librpm 4.18 (its size limits,
//!   region checks and duplicate-tag lookup); the mutated-header parity test holds us to it.
//! - **Range reads**: [`header::header_extent`] says from a prefix how many bytes the headers
//!   need, so the engine reads a package in at most two ranged GETs; the crate parses from a
//!   reader and has no such answer.
//! - Legacy SUSE weak-dependency tags and the archive size have no getters.
//!
//! What is left is a small index walker ([`header`]) plus tag typing, which costs less than
//! working around the crate, and keeps this crate's dependency tree small.

#![warn(missing_docs)]

pub mod error;
pub mod header;
pub mod package;
pub mod parse;
pub mod reader;
mod tagtypes;
pub mod xml;

pub mod bz2block;
pub mod compress;
pub mod extra;
pub mod members;
pub mod metadata_error;
pub mod page;
pub mod pool;
pub mod read;
pub mod repomd;
pub mod sqlite;
pub mod trust;
pub mod version;
pub mod writer;

pub use error::{Error, Result};
pub use package::{Changelog, DepFlag, Dependency, FileKind, Package, PackageFile};

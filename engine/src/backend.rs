//! The one place where the engine calls the `repodata` crate: header extents, package records,
//! rendering the metadata files, `repomd.xml`, and reading metadata written by other tools.
//! Everything here is synchronous and pure (bytes in, bytes out).

use std::path::PathBuf;

use rpmbucket_repodata::header::RpmHeaders;
use rpmbucket_repodata::metadata_error::MetadataError;
use rpmbucket_repodata::Package;

use crate::cache::MetadataCache;
use crate::config::RepoConfig;

pub use rpmbucket_repodata::bz2block::BlockRef;
pub use rpmbucket_repodata::compress::Compression;

/// Build the record of one package from its headers and the facts of its file that the
/// header does not hold (`info`: location, size, mtime, pkgid).
pub fn parse_package(
    headers: &RpmHeaders,
    info: &rpmbucket_repodata::parse::FileInfo,
    changelog_limit: i32,
) -> Result<Package, rpmbucket_repodata::Error> {
    use rpmbucket_repodata::parse::ParseOptions;
    let opts = ParseOptions::default().with_changelog_limit(changelog_limit);
    Package::from_headers(headers, info, &opts)
}

/// Why rendering metadata files failed (not because of one package's header: such packages
/// are rejected before).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// No temporary directory for the writers.
    #[error("temporary directory: {0}")]
    TempDir(#[source] std::io::Error),
    /// A package's record could not be written into the XML or a database.
    #[error("{href}: {source}")]
    Package {
        /// The package's location.
        href: String,
        /// What the writer said.
        #[source]
        source: MetadataError,
    },
    /// A writer or database failed.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// A file the render wrote could not be read back or written.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Compressing a database failed.
    #[error("compressing the {db} database: {source}")]
    Compress {
        /// `primary`, `filelists` or `other`.
        db: String,
        /// What the compressor said.
        #[source]
        source: MetadataError,
    },
    /// The previous generation's database could not be decompressed.
    #[error("previous {db} database: {source}")]
    PreviousDatabase {
        /// `primary`, `filelists` or `other`.
        db: &'static str,
        /// The decompressor's error.
        #[source]
        source: std::io::Error,
    },
    /// The previous databases lack a package the update removes: they do not match the state.
    #[error("{db} database lacks {href} ({pkgid})")]
    DatabaseLacks {
        /// `primary`, `filelists` or `other`.
        db: &'static str,
        /// The package's location.
        href: String,
        /// The package's pkgid.
        pkgid: String,
    },
}

impl RenderError {
    fn package(p: &Package) -> impl FnOnce(MetadataError) -> RenderError + '_ {
        |source| RenderError::Package {
            href: p.location_href.clone(),
            source,
        }
    }

    fn file(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> RenderError + '_ {
        |source| RenderError::File {
            path: path.to_owned(),
            source,
        }
    }
}

/// A metadata file that does not decompress.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {source}")]
pub struct DecompressError {
    /// The file's name (its suffix says the compression).
    pub name: String,
    /// The decompressor's error.
    #[source]
    pub source: std::io::Error,
}

/// One rendered metadata file.
#[derive(Debug, Clone)]
pub struct RenderedFile {
    /// repomd record type (`primary`, `primary_db`, …).
    pub data_type: String,
    /// Base name without checksum prefix, e.g. `primary.xml.gz`.
    pub name: String,
    /// The file's content as stored (compressed when the name says so).
    pub bytes: Vec<u8>,
    /// Hex sha256 of `bytes`.
    pub checksum: String,
    /// Hex sha256 and size of the uncompressed content (compressed files only).
    pub open: Option<(String, u64)>,
    /// `database_version` (sqlite records only).
    pub database_version: Option<u32>,
    /// Blocks of a bzip2 database written by [`compress_database`], to reuse next time.
    pub blocks: Vec<BlockRef>,
}

/// Render primary/filelists/other (and the sqlite databases if configured) for `packages`,
/// already in createrepo_c order.
pub fn render(
    packages: &[&Package],
    config: &RepoConfig,
) -> Result<Vec<RenderedFile>, RenderError> {
    use rpmbucket_repodata::writer::{RepodataWriter, WriteOptions};
    let tmp = tempfile::Builder::new()
        .prefix("rpmbucket-render-")
        .tempdir()
        .map_err(RenderError::TempDir)?;
    let opts = WriteOptions::default()
        .with_compression(config.compression)
        .with_database(config.database);
    let mut w = RepodataWriter::new(tmp.path(), packages.len(), &opts)?;
    for p in packages {
        w.add(p).map_err(RenderError::package(p))?;
    }
    let out = w.finish(None)?;
    let mut files = Vec::with_capacity(out.files.len());
    for f in out.files {
        let bytes = std::fs::read(&f.path).map_err(RenderError::file(&f.path))?;
        let name = f
            .file_name
            .strip_prefix(&format!("{}-", f.checksum))
            .unwrap_or(&f.file_name)
            .to_string();
        let compressed = !name.ends_with(".xml") && !name.ends_with(".sqlite");
        files.push(RenderedFile {
            database_version: f.data_type.ends_with("_db").then_some(10),
            data_type: f.data_type,
            name,
            bytes,
            checksum: f.checksum,
            open: compressed.then_some((f.open_checksum, f.open_size)),
            blocks: Vec::new(),
        });
    }
    Ok(files)
}

/// Build the sqlite databases for `packages` (createrepo_c order); `xml_checksums` are the
/// repomd checksums of the compressed primary, filelists and other XML (for `db_info`). The
/// three databases are built and compressed in parallel.
pub fn render_databases(
    packages: &[&Package],
    xml_checksums: [&str; 3],
    threads: usize,
    cache: Option<&MetadataCache>,
) -> Result<Vec<RenderedFile>, RenderError> {
    use rpmbucket_repodata::sqlite::SqliteDb;
    per_database(xml_checksums, cache, |kind, _, xml_sum, raw| {
        let mut db = SqliteDb::create(raw, kind)?;
        for p in packages {
            db.add(p).map_err(RenderError::package(p))?;
        }
        let raw = db.finish(xml_sum)?;
        let out = compress_database(&raw, kind.name(), None, None, threads)?;
        keep_raw(cache, &raw, &out);
        Ok(out)
    })
}

/// Keep an uncompressed database just compressed into `out` in the cache, for the next update.
fn keep_raw(cache: Option<&MetadataCache>, raw: &std::path::Path, out: &RenderedFile) {
    if let (Some(c), Some((open, _))) = (cache, &out.open) {
        c.keep_raw(raw, open);
    }
}

/// Run `f(kind, index, xml_checksum, path)` for primary, filelists and other in parallel, each
/// with a path for its database file in one temporary directory.
fn per_database<F>(
    xml_checksums: [&str; 3],
    cache: Option<&MetadataCache>,
    f: F,
) -> Result<Vec<RenderedFile>, RenderError>
where
    F: Fn(
            rpmbucket_repodata::sqlite::DbKind,
            usize,
            &str,
            &std::path::Path,
        ) -> Result<RenderedFile, RenderError>
        + Sync,
{
    use rpmbucket_repodata::sqlite::DbKind;
    // With a cache, the databases are built next to it: they are moved in afterwards.
    let tmp = match cache {
        Some(c) => c.work_dir(),
        None => tempfile::Builder::new().prefix("rpmbucket-db-").tempdir(),
    }
    .map_err(RenderError::TempDir)?;
    let kinds = [DbKind::Primary, DbKind::Filelists, DbKind::Other];
    let jobs: Vec<_> = kinds.iter().enumerate().zip(xml_checksums).collect();
    let results = rpmbucket_repodata::pool::map(&jobs, jobs.len(), |&((k, &kind), xml_sum)| {
        let raw = tmp.path().join(format!("{}.sqlite", kind.name()));
        f(kind, k, xml_sum, &raw)
    });
    results.into_iter().collect()
}

/// Input bytes per bzip2 block of a database. An in-place update changes a few dozen pages
/// spread over the file; 128 KiB blocks let most of the compressed file be copied, for about 2%
/// more bytes than one `BZh5` stream of 500 kB blocks.
pub const DB_BLOCK: usize = 128 * 1024;

/// Compress a database file as `NAME.sqlite.bz2` made of independent [`DB_BLOCK`] blocks,
/// copying the blocks of `previous` (the published file and its blocks) whose input is
/// unchanged. `written`: the pages an in-place update of the file `previous` holds wrote;
/// the blocks of the slices none of them touches are copied without hashing those slices
/// (see [`BlockWriter::with_unchanged`](rpmbucket_repodata::bz2block::BlockWriter::with_unchanged)).
pub fn compress_database(
    raw: &std::path::Path,
    name: &str,
    previous: Option<(&[u8], &[BlockRef])>,
    written: Option<&rpmbucket_repodata::sqlite::WrittenPages>,
    threads: usize,
) -> Result<RenderedFile, RenderError> {
    use rpmbucket_repodata::bz2block::BlockWriter;
    use rpmbucket_repodata::sqlite::DB_VERSION;
    use sha2::Digest;
    use std::io::Read;
    let bad = |source| RenderError::Compress {
        db: name.to_string(),
        source,
    };
    // The file is read a window of slices at a time (not held whole: the three databases of a
    // large repository are hundreds of MB).
    let mut file = std::fs::File::open(raw).map_err(RenderError::file(raw))?;
    let mut w = BlockWriter::new(DB_BLOCK, 5, threads, previous).map_err(bad)?;
    if let (Some(written), Some((_, blocks))) = (written, previous) {
        let slice = DB_BLOCK as u64;
        let unchanged = (0..blocks.len() as u64)
            .map(|i| !written.touches(i * slice, (i + 1) * slice))
            .collect();
        w = w.with_unchanged(unchanged);
    }
    let mut open = sha2::Sha256::new();
    let mut open_size = 0u64;
    let mut window = vec![0u8; DB_BLOCK * 32];
    loop {
        let mut n = 0;
        while n < window.len() {
            match file.read(&mut window[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RenderError::file(raw)(e)),
            }
        }
        open.update(&window[..n]);
        open_size += n as u64;
        w.push(&window[..n]).map_err(bad)?;
        if n < window.len() {
            break;
        }
    }
    let out = w.finish();
    Ok(RenderedFile {
        data_type: format!("{name}_db"),
        name: format!("{name}.sqlite.bz2"),
        checksum: sha256_hex(&out.stream),
        open: Some((hex::encode(open.finalize()), open_size)),
        bytes: out.stream,
        database_version: Some(DB_VERSION),
        blocks: out.blocks,
    })
}

/// What changed between two generations, for updating the databases in place.
#[derive(Debug, Default)]
pub struct DbDelta<'a> {
    /// `(pkgid, location_href)` of packages that left (or were replaced).
    pub remove: Vec<(String, String)>,
    /// Packages that arrived, in createrepo_c order.
    pub add: Vec<&'a Package>,
}

/// Update the previous generation's databases (`previous`: primary, filelists and other
/// `.sqlite.bz2` as published) with `delta` instead of rebuilding them from every record: each
/// is decompressed to a temporary file, updated in place (the same removals and additions in
/// the same order keep the three databases' `pkgKey`s equal), given the new `db_info` and
/// compressed again. Fails if a package to remove is not there (the databases do not match the
/// state): the caller then rebuilds them from every record.
pub fn update_databases(
    previous: &[bytes::Bytes; 3],
    previous_blocks: Option<&[Vec<BlockRef>]>,
    delta: &DbDelta,
    xml_checksums: [&str; 3],
    threads: usize,
    cache: Option<(&MetadataCache, [(&str, u64); 3])>,
) -> Result<Vec<RenderedFile>, RenderError> {
    use rpmbucket_repodata::sqlite::SqliteDb;
    per_database(
        xml_checksums,
        cache.map(|c| c.0),
        |kind, k, xml_sum, raw| {
            let old = &previous[k];
            // The uncompressed database of the previous generation, kept by the publish that
            // wrote it (checked against its open-checksum), else decompressed.
            let cached = cache.is_some_and(|(c, open)| c.take_raw(open[k].0, open[k].1, raw));
            if !cached {
                let mut file = std::fs::File::create(raw).map_err(RenderError::file(raw))?;
                let previous = |source| RenderError::PreviousDatabase {
                    db: kind.name(),
                    source,
                };
                let mut dec = Compression::Bz2.decoder(&old[..]).map_err(previous)?;
                std::io::copy(&mut dec, &mut file).map_err(previous)?;
            }
            let mut db = SqliteDb::open_existing(raw, kind)?;
            for (pkgid, href) in &delta.remove {
                if !db.remove(pkgid, href)? {
                    return Err(RenderError::DatabaseLacks {
                        db: kind.name(),
                        href: href.clone(),
                        pkgid: pkgid.clone(),
                    });
                }
            }
            for p in &delta.add {
                db.add(p).map_err(RenderError::package(p))?;
            }
            let (raw, written) = db.finish_update_pages(xml_sum)?;
            let old_blocks = previous_blocks.and_then(|b| b.get(k)).map(Vec::as_slice);
            let out = compress_database(
                &raw,
                kind.name(),
                old_blocks.map(|b| (&old[..], b)),
                written.as_ref(),
                threads,
            )?;
            keep_raw(cache.map(|c| c.0), &raw, &out);
            Ok(out)
        },
    )
}

/// A `<data>` record of `repomd.xml` as the engine tracks it.
///
/// Not [`rpmbucket_repodata::repomd::RepomdRecord`] on purpose: the engine writes sha256 only
/// (no checksum type to carry), never writes zchunk header checksums or `xml:base`, and keeps a
/// record it does not own as its verbatim XML (`raw`). [`parse_repomd`] and [`write_repomd`]
/// are the one translation between the two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// repomd record type (`primary`, `filelists_db`, `updateinfo`, ...).
    pub data_type: String,
    /// `repodata/NAME`, relative to the repository root.
    pub href: String,
    /// `<checksum>`: hex digest of the stored file (sha256 in the records this engine writes).
    pub checksum: String,
    /// `<open-checksum>`: hex digest of the uncompressed content; `None` for a file stored
    /// uncompressed.
    pub open_checksum: Option<String>,
    /// `<size>`: bytes of the stored file.
    pub size: u64,
    /// `<open-size>`: bytes of the uncompressed content; `None` like `open_checksum`.
    pub open_size: Option<u64>,
    /// `<timestamp>`: seconds since the Unix epoch.
    pub timestamp: i64,
    /// `<database_version>` (sqlite records only).
    pub database_version: Option<u32>,
    /// The `<data>` element as read from a published `repomd.xml`; written back verbatim when
    /// set (records this engine does not own are carried over byte for byte).
    pub raw: Option<String>,
}

impl Record {
    /// Does this engine write records of this type (the package metadata and its state), so
    /// that a published one is replaced rather than carried over?
    pub fn is_package_derived(&self) -> bool {
        rpmbucket_repodata::repomd::describes_packages(&self.data_type)
    }
}

/// A parsed `repomd.xml` as the engine tracks it: the revision and the records. Unlike
/// [`rpmbucket_repodata::repomd::Repomd`] it has no `<tags>`: the engine does not write them,
/// and a republish does not carry them over.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Repomd {
    /// `<revision>`.
    pub revision: String,
    /// The `<data>` records, in document order.
    pub records: Vec<Record>,
}

/// Serialise `repomd.xml` (records sorted the createrepo_c way).
pub fn write_repomd(repomd: &Repomd) -> Vec<u8> {
    use rpmbucket_repodata::repomd::{Repomd as R, RepomdRecord};
    let mut r = R {
        revision: repomd.revision.clone(),
        ..R::default()
    };
    for rec in &repomd.records {
        r.records.push(RepomdRecord {
            data_type: rec.data_type.clone(),
            checksum_type: "sha256".into(),
            checksum: rec.checksum.clone(),
            open_checksum: rec.open_checksum.clone(),
            location_href: rec.href.clone(),
            timestamp: rec.timestamp,
            size: rec.size,
            open_size: rec.open_size,
            database_version: rec.database_version,
            raw: rec.raw.clone(),
            ..RepomdRecord::default()
        });
    }
    r.sort_records();
    r.to_xml().into_bytes()
}

/// Parse `repomd.xml`.
pub fn parse_repomd(bytes: &[u8]) -> Result<Repomd, MetadataError> {
    let r = rpmbucket_repodata::repomd::Repomd::parse(bytes)?;
    Ok(Repomd {
        revision: r.revision,
        records: r
            .records
            .into_iter()
            .map(|x| Record {
                data_type: x.data_type,
                href: x.location_href,
                checksum: x.checksum,
                open_checksum: x.open_checksum,
                size: x.size,
                open_size: x.open_size,
                timestamp: x.timestamp,
                database_version: x.database_version,
                raw: x.raw,
            })
            .collect(),
    })
}

/// Records of a repository written by another tool, from its decompressed primary, filelists
/// and other XML.
pub fn read_published(
    primary: &[u8],
    filelists: &[u8],
    other: &[u8],
) -> Result<Vec<Package>, MetadataError> {
    rpmbucket_repodata::read::read_packages(primary, filelists, other)
}

/// Decompress a metadata file by its name's suffix.
pub fn decompress(name: &str, bytes: &[u8]) -> Result<Vec<u8>, DecompressError> {
    use std::io::Read;
    let mut out = Vec::new();
    Compression::from_file_name(name)
        .decoder(bytes)
        .and_then(|mut d| d.read_to_end(&mut out))
        .map_err(|source| DecompressError {
            name: name.to_string(),
            source,
        })?;
    Ok(out)
}

/// Hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repomd_round_trip_keeps_extra_records() {
        let md = Repomd {
            revision: "7".into(),
            records: vec![
                Record {
                    data_type: "rpmbucket-state".into(),
                    href: "repodata/bb-rpmbucket-state.json.gz".into(),
                    checksum: "bb".into(),
                    open_checksum: None,
                    size: 3,
                    open_size: None,
                    timestamp: 5,
                    database_version: None,
                    raw: None,
                },
                Record {
                    data_type: "primary".into(),
                    href: "repodata/aa-primary.xml.gz".into(),
                    checksum: "aa".into(),
                    open_checksum: Some("cc".into()),
                    size: 1,
                    open_size: Some(2),
                    timestamp: 5,
                    database_version: None,
                    raw: None,
                },
            ],
        };
        let mut back = parse_repomd(&write_repomd(&md)).unwrap();
        assert!(back.records.iter().all(|r| r.raw.is_some()));
        back.records.iter_mut().for_each(|r| r.raw = None);
        assert_eq!(back.revision, "7");
        assert_eq!(back.records[0], md.records[1], "primary sorts first");
        assert_eq!(back.records[1], md.records[0]);
    }
}

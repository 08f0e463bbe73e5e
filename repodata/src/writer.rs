//! Streaming writer of a complete `repodata/` directory: primary/filelists/other XML (compressed),
//! optionally the three sqlite databases (compressed), and `repomd.xml`.
//!
//! Packages are added one at a time, in their final order (see [`sort_packages`]). Each output
//! stream runs on its own thread behind a bounded channel, XML chunks go straight into the
//! compressors and the databases are files on disk, so memory stays flat however many packages
//! there are. Everything is written into a caller-provided temporary directory; publishing the
//! files (upload, rename into place) is the caller's job.
//!
//! ```no_run
//! use rpmbucket_repodata::writer::{RepodataWriter, WriteOptions};
//! # fn demo(packages: Vec<rpmbucket_repodata::Package>) -> Result<(), Box<dyn std::error::Error>> {
//! let tmp = tempfile::tempdir()?;
//! let mut w = RepodataWriter::new(tmp.path(), packages.len(), &WriteOptions::default())?;
//! for p in &packages {
//!     w.add(p)?;
//! }
//! let out = w.finish(None)?;
//! for f in &out.files {
//!     println!("{} -> repodata/{}", f.path.display(), f.file_name);
//! }
//! std::fs::write(tmp.path().join("repomd.xml"), &out.repomd_xml)?;
//! # Ok(()) }
//! ```

use std::cmp::Ordering;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::compress::{compress_file, CompressedFile, Compression, FileDigest};
use crate::metadata_error::{MetadataError, MetadataResult};
use crate::package::Package;
use crate::repomd::{Repomd, RepomdRecord};
use crate::sqlite::{DbKind, SqliteDb, DB_VERSION};
use crate::xml;

/// How the metadata is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Compression of primary/filelists/other XML (createrepo_c 0.17 default: gzip).
    pub compression: Compression,
    /// Also write primary/filelists/other sqlite databases (createrepo_c 0.17 default: yes).
    pub database: bool,
    /// Compression of the databases (createrepo_c default: bzip2).
    pub db_compression: Compression,
    /// Prefix file names with their checksum (`--unique-md-filenames`, the default).
    pub unique_md_filenames: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            compression: Compression::Gz,
            database: true,
            db_compression: Compression::Bz2,
            unique_md_filenames: true,
        }
    }
}

impl WriteOptions {
    /// Sets the XML compression.
    pub fn with_compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }

    /// Turns the sqlite databases on or off.
    pub fn with_database(mut self, on: bool) -> Self {
        self.database = on;
        self
    }

    /// Sets the database compression.
    pub fn with_db_compression(mut self, c: Compression) -> Self {
        self.db_compression = c;
        self
    }
}

/// One finished metadata file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// repomd type: `primary`, `filelists`, `other`, `primary_db`, `filelists_db`, `other_db`.
    pub data_type: String,
    /// The file in the temporary directory.
    pub path: PathBuf,
    /// Name under `repodata/`, e.g. `<checksum>-primary.xml.gz`.
    pub file_name: String,
    /// sha256 of the stored bytes.
    pub checksum: String,
    /// sha256 of the uncompressed content.
    pub open_checksum: String,
    /// Size of the stored bytes.
    pub size: u64,
    /// Size of the uncompressed content.
    pub open_size: u64,
}

/// Everything [`RepodataWriter::finish`] produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// Data files in repomd order.
    pub files: Vec<OutputFile>,
    /// The index describing them.
    pub repomd: Repomd,
    /// `repomd.xml` bytes (what [`Repomd::to_xml`] returns).
    pub repomd_xml: Vec<u8>,
    /// Number of packages written.
    pub package_count: usize,
}

/// createrepo_c's package order: by location basename, ties broken by the directory part
/// (byte-wise, the directory of a top-level file being empty).
pub fn location_cmp(a_href: &str, b_href: &str) -> Ordering {
    fn split(h: &str) -> (&str, &str) {
        match h.rfind('/') {
            Some(i) => (&h[..i], &h[i + 1..]),
            None => ("", h),
        }
    }
    let (ad, ab) = split(a_href);
    let (bd, bb) = split(b_href);
    ab.as_bytes()
        .cmp(bb.as_bytes())
        .then_with(|| ad.as_bytes().cmp(bd.as_bytes()))
}

/// Sorts packages into createrepo_c's order ([`location_cmp`] on `location_href`).
pub fn sort_packages(packages: &mut [Package]) {
    packages.sort_by(|a, b| location_cmp(&a.location_href, &b.location_href));
}

/// What a lane thread hands back when its channel closes.
enum LaneResult {
    Xml(FileDigest),
    Db(SqliteDb),
}

struct Lane {
    data_type: &'static str,
    tx: Option<SyncSender<Arc<Package>>>,
    handle: Option<JoinHandle<MetadataResult<LaneResult>>>,
}

impl Lane {
    fn join(&mut self) -> MetadataResult<LaneResult> {
        self.tx = None;
        match self.handle.take() {
            Some(h) => h.join().unwrap_or_else(|_| {
                Err(MetadataError::Usage(format!(
                    "{} writer panicked",
                    self.data_type
                )))
            }),
            None => Err(MetadataError::Usage(format!(
                "{} writer already finished",
                self.data_type
            ))),
        }
    }
}

const LANE_DEPTH: usize = 64;

/// One of the three XML files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlKind {
    /// `primary.xml`: package records with dependencies and the primary files.
    Primary,
    /// `filelists.xml`: every file of every package.
    Filelists,
    /// `other.xml`: changelogs.
    Other,
}

impl XmlKind {
    /// The three kinds, in repomd order.
    pub const ALL: [XmlKind; 3] = [XmlKind::Primary, XmlKind::Filelists, XmlKind::Other];

    /// `primary`, `filelists` or `other` (the repomd type).
    pub fn name(self) -> &'static str {
        match self {
            XmlKind::Primary => "primary",
            XmlKind::Filelists => "filelists",
            XmlKind::Other => "other",
        }
    }

    /// The file up to and including the root start tag, for `n` packages.
    pub fn header(self, n: usize) -> String {
        match self {
            XmlKind::Primary => xml::primary_header(n),
            XmlKind::Filelists => xml::filelists_header(n),
            XmlKind::Other => xml::other_header(n),
        }
    }

    /// The root end tag (no trailing newline, like createrepo_c).
    pub fn footer(self) -> &'static str {
        match self {
            XmlKind::Primary => xml::PRIMARY_FOOTER,
            XmlKind::Filelists => xml::FILELISTS_FOOTER,
            XmlKind::Other => xml::OTHER_FOOTER,
        }
    }

    /// Append one package's element.
    pub fn chunk(self, p: &Package, out: &mut Vec<u8>) {
        match self {
            XmlKind::Primary => xml::primary_chunk(p, out),
            XmlKind::Filelists => xml::filelists_chunk(p, out),
            XmlKind::Other => xml::other_chunk(p, out),
        }
    }
}

/// Writes a repodata directory's files from a stream of packages.
pub struct RepodataWriter {
    dir: PathBuf,
    announced: usize,
    added: usize,
    opts: WriteOptions,
    xml_lanes: Vec<Lane>,
    db_lanes: Vec<Lane>,
}

impl RepodataWriter {
    /// Starts writing into `tmp_dir` (which must exist; files named `primary.xml.gz` etc. are
    /// created in it). `package_count` goes into the XML headers; if a different number of
    /// packages is added, the headers are rewritten at the end (as createrepo_c does when some
    /// packages fail).
    pub fn new(tmp_dir: &Path, package_count: usize, opts: &WriteOptions) -> MetadataResult<Self> {
        let mut w = RepodataWriter {
            dir: tmp_dir.to_owned(),
            announced: package_count,
            added: 0,
            opts: opts.clone(),
            xml_lanes: Vec::new(),
            db_lanes: Vec::new(),
        };
        for kind in [XmlKind::Primary, XmlKind::Filelists, XmlKind::Other] {
            let path = w.xml_temp_path(kind);
            let mut file = CompressedFile::create(&path, opts.compression)?;
            file.write_all(kind.header(package_count).as_bytes())?;
            let (tx, rx) = sync_channel::<Arc<Package>>(LANE_DEPTH);
            let handle = std::thread::Builder::new()
                .name(format!("rpmbucket-{}-xml", kind.name()))
                .spawn(move || {
                    let mut buf = Vec::with_capacity(64 * 1024);
                    for p in rx {
                        buf.clear();
                        kind.chunk(&p, &mut buf);
                        file.write_all(&buf)?;
                    }
                    file.write_all(kind.footer().as_bytes())?;
                    Ok(LaneResult::Xml(file.finish()?))
                })
                .map_err(|e| MetadataError::io(&path, e))?;
            w.xml_lanes.push(Lane {
                data_type: kind.name(),
                tx: Some(tx),
                handle: Some(handle),
            });
        }
        if opts.database {
            for kind in [DbKind::Primary, DbKind::Filelists, DbKind::Other] {
                let path = tmp_dir.join(format!("{}.sqlite", kind.name()));
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(MetadataError::io(&path, e)),
                }
                let mut db = SqliteDb::create(&path, kind)?;
                let (tx, rx) = sync_channel::<Arc<Package>>(LANE_DEPTH);
                let handle = std::thread::Builder::new()
                    .name(format!("rpmbucket-{}-db", kind.name()))
                    .spawn(move || {
                        for p in rx {
                            db.add(&p)?;
                        }
                        Ok(LaneResult::Db(db))
                    })
                    .map_err(|e| MetadataError::io(&path, e))?;
                w.db_lanes.push(Lane {
                    data_type: kind.name(),
                    tx: Some(tx),
                    handle: Some(handle),
                });
            }
        }
        Ok(w)
    }

    fn xml_temp_path(&self, kind: XmlKind) -> PathBuf {
        self.dir.join(format!(
            "{}.xml{}",
            kind.name(),
            self.opts.compression.suffix()
        ))
    }

    /// Number of packages added so far.
    pub fn added(&self) -> usize {
        self.added
    }

    /// Appends one package to every output.
    pub fn add(&mut self, p: &Package) -> MetadataResult<()> {
        self.add_shared(Arc::new(p.clone()))
    }

    /// Like [`RepodataWriter::add`] without copying a package the caller already shares.
    pub fn add_shared(&mut self, p: Arc<Package>) -> MetadataResult<()> {
        for lane in self.xml_lanes.iter_mut().chain(self.db_lanes.iter_mut()) {
            let sent = match &lane.tx {
                Some(tx) => tx.send(Arc::clone(&p)).is_ok(),
                None => false,
            };
            if !sent {
                // The lane stopped early: its thread returned an error.
                return Err(match lane.join() {
                    Err(e) => e,
                    Ok(_) => MetadataError::Usage(format!("{} writer stopped", lane.data_type)),
                });
            }
        }
        self.added += 1;
        Ok(())
    }

    /// Closes all outputs, renames them to their final names and builds `repomd.xml`.
    /// `revision` defaults to the current Unix time, as in createrepo_c.
    pub fn finish(mut self, revision: Option<String>) -> MetadataResult<Output> {
        let mut xml_digests = Vec::new();
        for (lane, kind) in
            self.xml_lanes
                .iter_mut()
                .zip([XmlKind::Primary, XmlKind::Filelists, XmlKind::Other])
        {
            match lane.join()? {
                LaneResult::Xml(d) => xml_digests.push((kind, d)),
                LaneResult::Db(_) => unreachable!("xml lane returned a database"),
            }
        }
        let mut dbs = Vec::new();
        for lane in &mut self.db_lanes {
            match lane.join()? {
                LaneResult::Db(db) => dbs.push(db),
                LaneResult::Xml(_) => unreachable!("db lane returned xml"),
            }
        }

        if self.added != self.announced {
            for (kind, digest) in &mut xml_digests {
                let path = self.xml_temp_path(*kind);
                *digest = rewrite_package_count(&path, self.opts.compression, *kind, self.added)?;
            }
        }

        let mut files = Vec::new();
        for (kind, d) in &xml_digests {
            let path = self.xml_temp_path(*kind);
            let base = format!("{}.xml{}", kind.name(), self.opts.compression.suffix());
            files.push(self.place(kind.name().to_owned(), &path, &base, d)?);
        }

        // Databases: db_info gets the checksum of the compressed XML of the same kind; close,
        // then compress the three files in parallel (bzip2 is slow).
        let db_compression = self.opts.db_compression;
        let mut db_paths = Vec::new();
        for db in dbs {
            let kind = db.kind();
            let xml_sum = &xml_digests
                .iter()
                .find(|(k, _)| k.name() == kind.name())
                .expect("xml digest for every db")
                .1
                .checksum;
            db_paths.push((kind, db.finish(xml_sum)?));
        }
        // The three databases at once, one thread each.
        let compressed: Vec<MetadataResult<(DbKind, PathBuf, FileDigest)>> =
            crate::pool::map(&db_paths, db_paths.len(), |(kind, raw)| {
                let dst = PathBuf::from(format!("{}{}", raw.display(), db_compression.suffix()));
                let d = if db_compression == Compression::None {
                    // Stored as is: still hash it.
                    let tmp = raw.with_extension("sqlite.copy");
                    let d = compress_file(raw, &tmp, Compression::None)?;
                    std::fs::rename(&tmp, &dst).map_err(|e| MetadataError::io(&dst, e))?;
                    d
                } else {
                    let d = compress_file(raw, &dst, db_compression)?;
                    std::fs::remove_file(raw).map_err(|e| MetadataError::io(raw, e))?;
                    d
                };
                Ok((*kind, dst, d))
            });
        for r in compressed {
            let (kind, path, d) = r?;
            let base = format!("{}.sqlite{}", kind.name(), db_compression.suffix());
            files.push(self.place(format!("{}_db", kind.name()), &path, &base, &d)?);
        }

        let revision = revision.unwrap_or_else(|| unix_now().to_string());
        let mut repomd = Repomd {
            revision,
            tags: Default::default(),
            records: Vec::new(),
        };
        for f in &files {
            let compressed = if f.data_type.ends_with("_db") {
                db_compression != Compression::None
            } else {
                self.opts.compression != Compression::None
            };
            repomd.records.push(RepomdRecord {
                data_type: f.data_type.clone(),
                checksum_type: "sha256".into(),
                checksum: f.checksum.clone(),
                open_checksum: compressed.then(|| f.open_checksum.clone()),
                header_checksum: None,
                location_href: format!("repodata/{}", f.file_name),
                location_base: None,
                timestamp: mtime_secs(&f.path)?,
                size: f.size,
                open_size: compressed.then_some(f.open_size),
                header_size: None,
                database_version: f.data_type.ends_with("_db").then_some(DB_VERSION),
                raw: None,
            });
        }
        repomd.sort_records();
        let repomd_xml = repomd.to_xml().into_bytes();
        Ok(Output {
            files,
            repomd,
            repomd_xml,
            package_count: self.added,
        })
    }

    /// Renames a finished temp file to its final name inside the temp dir.
    fn place(
        &self,
        data_type: String,
        path: &Path,
        base: &str,
        d: &FileDigest,
    ) -> MetadataResult<OutputFile> {
        let file_name = if self.opts.unique_md_filenames {
            format!("{}-{}", d.checksum, base)
        } else {
            base.to_owned()
        };
        let final_path = self.dir.join(&file_name);
        if final_path != path {
            std::fs::rename(path, &final_path).map_err(|e| MetadataError::io(&final_path, e))?;
        }
        Ok(OutputFile {
            data_type,
            path: final_path,
            file_name,
            checksum: d.checksum.clone(),
            open_checksum: d.open_checksum.clone(),
            size: d.size,
            open_size: d.open_size,
        })
    }
}

impl Drop for RepodataWriter {
    fn drop(&mut self) {
        // Close channels first so that threads end, then wait for them (an abandoned writer
        // must not leave threads writing into a directory the caller is about to delete).
        for lane in self.xml_lanes.iter_mut().chain(self.db_lanes.iter_mut()) {
            lane.tx = None;
        }
        for lane in self.xml_lanes.iter_mut().chain(self.db_lanes.iter_mut()) {
            if let Some(h) = lane.handle.take() {
                let _ = h.join();
            }
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn mtime_secs(path: &Path) -> MetadataResult<i64> {
    let m = std::fs::metadata(path).map_err(|e| MetadataError::io(path, e))?;
    let t = m.modified().map_err(|e| MetadataError::io(path, e))?;
    Ok(match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    })
}

/// Re-encodes a finished XML file with a corrected `packages="N"` header (createrepo_c
/// `cr_rewrite_header_package_count`), streaming.
fn rewrite_package_count(
    path: &Path,
    compression: Compression,
    kind: XmlKind,
    n: usize,
) -> MetadataResult<FileDigest> {
    let src = std::fs::File::open(path).map_err(|e| MetadataError::io(path, e))?;
    let mut reader = BufReader::new(
        compression
            .decoder(src)
            .map_err(|e| MetadataError::io(path, e))?,
    );
    // Skip the two header lines (XML declaration, root start tag).
    let mut line = Vec::new();
    for _ in 0..2 {
        line.clear();
        reader
            .read_until(b'\n', &mut line)
            .map_err(|e| MetadataError::io(path, e))?;
    }
    let tmp = path.with_extension("rewrite");
    let mut out = CompressedFile::create(&tmp, compression)?;
    out.write_all(kind.header(n).as_bytes())?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let k = reader
            .read(&mut buf)
            .map_err(|e| MetadataError::io(path, e))?;
        if k == 0 {
            break;
        }
        out.write_all(&buf[..k])?;
    }
    let d = out.finish()?;
    std::fs::rename(&tmp, path).map_err(|e| MetadataError::io(path, e))?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::tests::sample;

    fn read_open(f: &OutputFile, c: Compression) -> Vec<u8> {
        let mut v = Vec::new();
        c.decoder(std::fs::File::open(&f.path).unwrap())
            .unwrap()
            .read_to_end(&mut v)
            .unwrap();
        v
    }

    fn expected_xml(pkgs: &[Package], kind: XmlKind) -> Vec<u8> {
        let mut v = kind.header(pkgs.len()).into_bytes();
        for p in pkgs {
            kind.chunk(p, &mut v);
        }
        v.extend_from_slice(kind.footer().as_bytes());
        v
    }

    #[test]
    fn order_is_basename_then_dir() {
        let mut hrefs = vec!["b/x.rpm", "a.rpm", "a-b/x.rpm", "x.rpm", "a/x.rpm", "B.rpm"];
        hrefs.sort_by(|a, b| location_cmp(a, b));
        assert_eq!(
            hrefs,
            ["B.rpm", "a.rpm", "x.rpm", "a/x.rpm", "a-b/x.rpm", "b/x.rpm"]
        );
    }

    #[test]
    fn writes_all_files_and_consistent_repomd() {
        let dir = tempfile::tempdir().unwrap();
        let pkgs: Vec<Package> = (0..300).map(|i| sample(&format!("pkg{i:03}"))).collect();
        let mut w = RepodataWriter::new(dir.path(), pkgs.len(), &WriteOptions::default()).unwrap();
        for p in &pkgs {
            w.add(p).unwrap();
        }
        let out = w.finish(Some("42".into())).unwrap();
        let types: Vec<_> = out.files.iter().map(|f| f.data_type.as_str()).collect();
        assert_eq!(
            types,
            [
                "primary",
                "filelists",
                "other",
                "primary_db",
                "filelists_db",
                "other_db"
            ]
        );
        assert_eq!(out.repomd.revision, "42");
        for (f, kind) in
            out.files[..3]
                .iter()
                .zip([XmlKind::Primary, XmlKind::Filelists, XmlKind::Other])
        {
            assert!(f.file_name.starts_with(&f.checksum));
            assert_eq!(std::fs::metadata(&f.path).unwrap().len(), f.size);
            assert!(read_open(f, Compression::Gz) == expected_xml(&pkgs, kind));
            let rec = out.repomd.record(&f.data_type).unwrap();
            assert_eq!(rec.location_href, format!("repodata/{}", f.file_name));
            assert_eq!(rec.open_size, Some(f.open_size));
        }
        // db_info.checksum is the compressed XML's checksum
        let raw = read_open(&out.files[3], Compression::Bz2);
        let db_path = dir.path().join("check.sqlite");
        std::fs::write(&db_path, raw).unwrap();
        let c = rusqlite::Connection::open(&db_path).unwrap();
        let sum: String = c
            .query_row("SELECT checksum FROM db_info", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sum, out.files[0].checksum);
        let n: i64 = c
            .query_row("SELECT count(*) FROM packages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 300);
        assert_eq!(
            out.repomd.record("primary_db").unwrap().database_version,
            Some(10)
        );
        assert_eq!(Repomd::parse(&out.repomd_xml).unwrap(), out.repomd);
        // only the final files remain in the temp dir
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != "check.sqlite")
            .collect();
        names.sort();
        let mut expected: Vec<_> = out.files.iter().map(|f| f.file_name.clone()).collect();
        expected.sort();
        assert_eq!(names, expected);
    }

    #[test]
    fn fewer_packages_than_announced_rewrites_count() {
        let dir = tempfile::tempdir().unwrap();
        let pkgs: Vec<Package> = (0..3).map(|i| sample(&format!("p{i}"))).collect();
        let opts = WriteOptions::default()
            .with_database(false)
            .with_compression(Compression::Zstd);
        let mut w = RepodataWriter::new(dir.path(), 10, &opts).unwrap();
        for p in &pkgs {
            w.add(p).unwrap();
        }
        let out = w.finish(None).unwrap();
        assert_eq!(out.files.len(), 3);
        assert!(out.files[0].file_name.ends_with("-primary.xml.zst"));
        for (f, kind) in
            out.files
                .iter()
                .zip([XmlKind::Primary, XmlKind::Filelists, XmlKind::Other])
        {
            let got = read_open(f, Compression::Zstd);
            assert!(got == expected_xml(&pkgs, kind));
            assert_eq!(got.len() as u64, f.open_size);
        }
        assert!(out.repomd.revision.parse::<u64>().unwrap() > 1_700_000_000);
    }

    #[test]
    fn empty_repository() {
        let dir = tempfile::tempdir().unwrap();
        let w = RepodataWriter::new(dir.path(), 0, &WriteOptions::default()).unwrap();
        let out = w.finish(Some("1".into())).unwrap();
        assert_eq!(out.files.len(), 6);
        let primary = read_open(&out.files[0], Compression::Gz);
        assert!(primary.ends_with(b"packages=\"0\">\n</metadata>"));
    }

    #[test]
    fn uncompressed_output_has_no_open_fields() {
        let dir = tempfile::tempdir().unwrap();
        let opts = WriteOptions::default()
            .with_compression(Compression::None)
            .with_db_compression(Compression::None);
        let mut w = RepodataWriter::new(dir.path(), 1, &opts).unwrap();
        w.add(&sample("a")).unwrap();
        let out = w.finish(Some("1".into())).unwrap();
        for r in &out.repomd.records {
            assert_eq!(r.open_checksum, None, "{}", r.data_type);
            assert_eq!(r.open_size, None);
        }
        assert!(out.files[3].file_name.ends_with("-primary.sqlite"));
        assert!(out.files.iter().all(|f| f.path.exists()));
    }
}

//! The three sqlite databases (`primary.sqlite`, `filelists.sqlite`, `other.sqlite`) exactly as
//! createrepo_c 0.17.3 builds them (`REPODATA-SPEC.md` §8; createrepo_c `src/sqlite.c`).
//!
//! A database is written straight to a file on disk inside one transaction, one package at a
//! time, so memory does not grow with the number of packages. Indexes are created when the
//! database is closed, after all rows are in, as createrepo_c does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};

use crate::package::{is_primary_file, Dependency, FileKind, Package};
use crate::write_error::{WriteError, WriteResult};

/// `db_info.dbversion` and repomd `<database_version>` (createrepo_c `CR_DB_CACHE_DBVERSION`).
pub const DB_VERSION: u32 = 10;

/// Which of the three databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DbKind {
    Primary,
    Filelists,
    Other,
}

impl DbKind {
    /// `primary`, `filelists` or `other` (the repomd type of the matching XML file).
    pub fn name(self) -> &'static str {
        match self {
            DbKind::Primary => "primary",
            DbKind::Filelists => "filelists",
            DbKind::Other => "other",
        }
    }

    fn tables(self) -> &'static [&'static str] {
        match self {
            DbKind::Primary => PRIMARY_TABLES,
            DbKind::Filelists => FILELISTS_TABLES,
            DbKind::Other => OTHER_TABLES,
        }
    }

    fn indexes(self) -> &'static [&'static str] {
        match self {
            DbKind::Primary => PRIMARY_INDEXES,
            DbKind::Filelists => FILELISTS_INDEXES,
            DbKind::Other => OTHER_INDEXES,
        }
    }
}

const DBINFO_TABLE: &str = "CREATE TABLE db_info (dbversion INTEGER, checksum TEXT)";

/// DDL in createrepo_c's order and spelling (sqlite keeps the text verbatim in sqlite_master).
const PRIMARY_TABLES: &[&str] = &[
    "CREATE TABLE packages (  pkgKey INTEGER PRIMARY KEY,  pkgId TEXT,  name TEXT,  arch TEXT,  version TEXT,  epoch TEXT,  release TEXT,  summary TEXT,  description TEXT,  url TEXT,  time_file INTEGER,  time_build INTEGER,  rpm_license TEXT,  rpm_vendor TEXT,  rpm_group TEXT,  rpm_buildhost TEXT,  rpm_sourcerpm TEXT,  rpm_header_start INTEGER,  rpm_header_end INTEGER,  rpm_packager TEXT,  size_package INTEGER,  size_installed INTEGER,  size_archive INTEGER,  location_href TEXT,  location_base TEXT,  checksum_type TEXT)",
    "CREATE TABLE files (  name TEXT,  type TEXT,  pkgKey INTEGER)",
    "CREATE TABLE requires (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,  release TEXT,  pkgKey INTEGER , pre BOOLEAN DEFAULT FALSE)",
    "CREATE TABLE provides (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,  release TEXT,  pkgKey INTEGER )",
    "CREATE TABLE conflicts (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,  release TEXT,  pkgKey INTEGER )",
    "CREATE TABLE obsoletes (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,  release TEXT,  pkgKey INTEGER )",
    "CREATE TABLE suggests (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,  release TEXT,  pkgKey INTEGER )",
    "CREATE TABLE enhances (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,  release TEXT,  pkgKey INTEGER )",
    "CREATE TABLE recommends (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,  release TEXT,  pkgKey INTEGER )",
    "CREATE TABLE supplements (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,  release TEXT,  pkgKey INTEGER )",
    "CREATE TRIGGER removals AFTER DELETE ON packages  BEGIN    DELETE FROM files WHERE pkgKey = old.pkgKey;    DELETE FROM requires WHERE pkgKey = old.pkgKey;    DELETE FROM provides WHERE pkgKey = old.pkgKey;    DELETE FROM conflicts WHERE pkgKey = old.pkgKey;    DELETE FROM obsoletes WHERE pkgKey = old.pkgKey;    DELETE FROM suggests WHERE pkgKey = old.pkgKey;    DELETE FROM enhances WHERE pkgKey = old.pkgKey;    DELETE FROM recommends WHERE pkgKey = old.pkgKey;    DELETE FROM supplements WHERE pkgKey = old.pkgKey;  END",
];

const PRIMARY_INDEXES: &[&str] = &[
    "CREATE INDEX packagename ON packages (name)",
    "CREATE INDEX packageId ON packages (pkgId)",
    "CREATE INDEX filenames ON files (name)",
    "CREATE INDEX pkgfiles ON files (pkgKey)",
    "CREATE INDEX pkgrequires on requires (pkgKey)",
    "CREATE INDEX requiresname ON requires (name)",
    "CREATE INDEX pkgprovides on provides (pkgKey)",
    "CREATE INDEX providesname ON provides (name)",
    "CREATE INDEX pkgconflicts on conflicts (pkgKey)",
    "CREATE INDEX pkgobsoletes on obsoletes (pkgKey)",
    "CREATE INDEX pkgsuggests on suggests (pkgKey)",
    "CREATE INDEX pkgenhances on enhances (pkgKey)",
    "CREATE INDEX pkgrecommends on recommends (pkgKey)",
    "CREATE INDEX pkgsupplements on supplements (pkgKey)",
];

const FILELISTS_TABLES: &[&str] = &[
    "CREATE TABLE packages (  pkgKey INTEGER PRIMARY KEY,  pkgId TEXT)",
    "CREATE TABLE filelist (  pkgKey INTEGER,  dirname TEXT,  filenames TEXT,  filetypes TEXT)",
    "CREATE TRIGGER remove_filelist AFTER DELETE ON packages  BEGIN    DELETE FROM filelist WHERE pkgKey = old.pkgKey;  END",
];

const FILELISTS_INDEXES: &[&str] = &[
    "CREATE INDEX keyfile ON filelist (pkgKey)",
    "CREATE INDEX pkgId ON packages (pkgId)",
    "CREATE INDEX dirnames ON filelist (dirname)",
];

const OTHER_TABLES: &[&str] = &[
    "CREATE TABLE packages (  pkgKey INTEGER PRIMARY KEY,  pkgId TEXT)",
    "CREATE TABLE changelog (  pkgKey INTEGER,  author TEXT,  date INTEGER,  changelog TEXT)",
    "CREATE TRIGGER remove_changelogs AFTER DELETE ON packages  BEGIN    DELETE FROM changelog WHERE pkgKey = old.pkgKey;  END",
];

const OTHER_INDEXES: &[&str] = &[
    "CREATE INDEX keychange ON changelog (pkgKey)",
    "CREATE INDEX pkgId ON packages (pkgId)",
];

const INSERT_PACKAGE: &str = "INSERT INTO packages (pkgId, name, arch, version, epoch, release, summary, description, url, time_file, time_build, rpm_license, rpm_vendor, rpm_group, rpm_buildhost, rpm_sourcerpm, rpm_header_start, rpm_header_end, rpm_packager, size_package, size_installed, size_archive, location_href, location_base, checksum_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const INSERT_PKGID: &str = "INSERT INTO packages (pkgId) VALUES (?)";
const INSERT_FILE: &str = "INSERT INTO files (name, type, pkgKey) VALUES (?, ?, ?)";
const INSERT_FILELIST: &str =
    "INSERT INTO filelist (pkgKey, dirname, filenames, filetypes)  VALUES (?, ?, ?, ?)";
const INSERT_CHANGELOG: &str =
    "INSERT INTO changelog (pkgKey, author, date, changelog) VALUES (?, ?, ?, ?)";

/// Empty string → SQL NULL (createrepo_c `force_null`: url, packager, location_base).
fn force_null(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// createrepo_c binds these with `sqlite3_bind_int`, i.e. truncated to 32 bits.
fn int32(v: i64) -> i64 {
    i64::from(v as i32)
}

/// One database being built in a file.
pub struct SqliteDb {
    kind: DbKind,
    path: PathBuf,
    conn: Connection,
}

impl SqliteDb {
    /// Creates a new database at `path` (which must not exist yet, or be empty), with the
    /// schema of `kind`, and opens the transaction all rows go into.
    pub fn create(path: &Path, kind: DbKind) -> WriteResult<Self> {
        let err = |source| WriteError::Sqlite {
            db: kind.name(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        // createrepo_c `db_tweak`.
        conn.pragma_update(None, "synchronous", "OFF")
            .map_err(err)?;
        conn.pragma_update_and_check(None, "journal_mode", "MEMORY", |_| Ok(()))
            .map_err(err)?;
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(err)?;
        conn.execute_batch("BEGIN").map_err(err)?;
        conn.execute_batch(DBINFO_TABLE).map_err(err)?;
        for ddl in kind.tables() {
            conn.execute_batch(ddl).map_err(err)?;
        }
        Ok(SqliteDb {
            kind,
            path: path.to_owned(),
            conn,
        })
    }

    /// Which database this is.
    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> WriteError {
        let db = self.kind.name();
        move |source| WriteError::Sqlite { db, source }
    }

    /// Adds one package; packages get `pkgKey` 1, 2, … in the order they are added.
    pub fn add(&mut self, p: &Package) -> WriteResult<()> {
        let r = match self.kind {
            DbKind::Primary => self.add_primary(p),
            DbKind::Filelists => self.add_filelists(p),
            DbKind::Other => self.add_other(p),
        };
        r.map_err(self.err())
    }

    fn add_primary(&self, p: &Package) -> rusqlite::Result<()> {
        let c = &self.conn;
        c.prepare_cached(INSERT_PACKAGE)?.execute(params![
            p.pkgid,
            p.name,
            p.arch,
            p.version,
            p.epoch,
            p.release,
            p.summary,
            force_null(&p.description),
            force_null(&p.url),
            int32(p.time_file),
            int32(p.time_build),
            p.license,
            p.vendor,
            p.group,
            p.buildhost,
            p.sourcerpm,
            int32(p.header_start),
            int32(p.header_end),
            force_null(&p.packager),
            p.size_package,
            p.size_installed,
            p.size_archive,
            p.location_href,
            force_null(&p.location_base),
            p.checksum_type,
        ])?;
        let key = c.last_insert_rowid();
        let lists: [(&str, &[Dependency]); 8] = [
            ("provides", &p.provides),
            ("conflicts", &p.conflicts),
            ("obsoletes", &p.obsoletes),
            ("requires", &p.requires),
            ("suggests", &p.suggests),
            ("enhances", &p.enhances),
            ("recommends", &p.recommends),
            ("supplements", &p.supplements),
        ];
        for (table, deps) in lists {
            if deps.is_empty() {
                continue;
            }
            if table == "requires" {
                let mut st = c.prepare_cached(
                    "INSERT INTO requires (name, flags, epoch, version, release, pkgKey, pre) VALUES (?, ?, ?, ?, ?, ?, ?)",
                )?;
                for d in deps {
                    st.execute(params![
                        d.name,
                        d.flags.map(|f| f.as_str()),
                        d.epoch,
                        d.version,
                        d.release,
                        key,
                        if d.pre { "TRUE" } else { "FALSE" },
                    ])?;
                }
            } else {
                let mut st = c.prepare_cached(&format!(
                    "INSERT INTO {table} (name, flags, epoch, version, release, pkgKey) VALUES (?, ?, ?, ?, ?, ?)"
                ))?;
                for d in deps {
                    st.execute(params![
                        d.name,
                        d.flags.map(|f| f.as_str()),
                        d.epoch,
                        d.version,
                        d.release,
                        key,
                    ])?;
                }
            }
        }
        let mut st = c.prepare_cached(INSERT_FILE)?;
        for f in &p.files {
            let path = f.path();
            if !is_primary_file(&path) {
                continue;
            }
            let kind = match f.kind {
                FileKind::File => "file",
                FileKind::Dir => "dir",
                FileKind::Ghost => "ghost",
            };
            st.execute(params![path, kind, key])?;
        }
        Ok(())
    }

    fn insert_pkgid(&self, p: &Package) -> rusqlite::Result<i64> {
        self.conn
            .prepare_cached(INSERT_PKGID)?
            .execute(params![p.pkgid])?;
        Ok(self.conn.last_insert_rowid())
    }

    fn add_filelists(&self, p: &Package) -> rusqlite::Result<()> {
        let key = self.insert_pkgid(p)?;
        let mut st = self.conn.prepare_cached(INSERT_FILELIST)?;
        for (dir, names, types) in pack_filelist(p) {
            st.execute(params![key, dir, names, types])?;
        }
        Ok(())
    }

    fn add_other(&self, p: &Package) -> rusqlite::Result<()> {
        let key = self.insert_pkgid(p)?;
        let mut st = self.conn.prepare_cached(INSERT_CHANGELOG)?;
        for c in &p.changelogs {
            st.execute(params![key, c.author, int32(c.date), c.text])?;
        }
        Ok(())
    }

    /// Writes `db_info` (`xml_checksum` = repomd checksum of the compressed XML file of the same
    /// kind), creates the indexes, commits and closes the file.
    pub fn finish(self, xml_checksum: &str) -> WriteResult<PathBuf> {
        let err = self.err();
        self.conn
            .execute(
                "INSERT INTO db_info (dbversion, checksum) VALUES (?, ?)",
                params![DB_VERSION, xml_checksum],
            )
            .map_err(&err)?;
        for ddl in self.kind.indexes() {
            self.conn.execute_batch(ddl).map_err(&err)?;
        }
        self.conn.execute_batch("COMMIT").map_err(&err)?;
        self.conn.close().map_err(|(_, e)| err(e))?;
        Ok(self.path)
    }
}

/// filelists.sqlite rows of a package: `(dirname, filenames, filetypes)` — files grouped by the
/// header dirname (trailing `/` removed unless the name is `/`, empty → `.`), basenames joined
/// with `/` (an empty basename is written as `/`), one type letter per file. Rows come in order
/// of each directory's first file (createrepo_c's order is a hash table's, i.e. unspecified).
pub fn pack_filelist(p: &Package) -> Vec<(String, String, String)> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut rows: Vec<(&str, String, String)> = Vec::new();
    for f in &p.files {
        let i = *index.entry(f.dirname.as_str()).or_insert_with(|| {
            rows.push((f.dirname.as_str(), String::new(), String::new()));
            rows.len() - 1
        });
        let row = &mut rows[i];
        if !row.1.is_empty() {
            row.1.push('/');
        }
        if f.basename.is_empty() {
            row.1.push('/');
        } else {
            row.1.push_str(&f.basename);
        }
        row.2.push(match f.kind {
            FileKind::File => 'f',
            FileKind::Dir => 'd',
            FileKind::Ghost => 'g',
        });
    }
    rows.into_iter()
        .map(|(dir, names, types)| {
            let mut d = dir;
            while d.len() > 1 && d.ends_with('/') {
                d = &d[..d.len() - 1];
            }
            let d = if d.is_empty() { "." } else { d };
            (d.to_owned(), names, types)
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::package::{Changelog, DepFlag, PackageFile};

    pub(crate) fn sample(name: &str) -> Package {
        let dep = |n: &str, f: Option<DepFlag>, v: Option<&str>, pre: bool| Dependency {
            name: n.into(),
            flags: f,
            epoch: v.map(|_| "0".into()),
            version: v.map(Into::into),
            release: None,
            pre,
        };
        let file = |d: &str, b: &str, kind| PackageFile {
            dirname: d.into(),
            basename: b.into(),
            kind,
        };
        Package {
            name: name.into(),
            arch: "x86_64".into(),
            epoch: "0".into(),
            version: "1.0".into(),
            release: "1".into(),
            checksum_type: "sha256".into(),
            pkgid: {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(name.as_bytes()))
            },
            summary: "A summary".into(),
            description: String::new(),
            packager: String::new(),
            url: "https://example.org".into(),
            time_file: 1_700_000_000,
            time_build: 1_690_000_000,
            size_package: 5_000_000_000,
            size_installed: 1234,
            size_archive: 2345,
            location_href: format!("Packages/{name}-1.0-1.x86_64.rpm"),
            location_base: String::new(),
            license: "MIT".into(),
            vendor: String::new(),
            group: "Unspecified".into(),
            buildhost: "build".into(),
            sourcerpm: format!("{name}-1.0-1.src.rpm"),
            header_start: 4504,
            header_end: 9000,
            provides: vec![dep(name, Some(DepFlag::Eq), Some("1.0"), false)],
            requires: vec![
                dep("/bin/sh", None, None, true),
                dep("libc.so.6", Some(DepFlag::Ge), Some("2.0"), false),
            ],
            conflicts: vec![],
            obsoletes: vec![],
            suggests: vec![dep("weak", None, None, false)],
            enhances: vec![],
            recommends: vec![],
            supplements: vec![],
            files: vec![
                file("/etc/", "edge.conf", FileKind::File),
                file("/usr/bin/", name, FileKind::File),
                file("/etc/", "edge.d", FileKind::Dir),
                file("/usr/share/doc/", name, FileKind::Dir),
                file("/etc/", "edge.ghost", FileKind::Ghost),
                file("/", "", FileKind::Dir),
            ],
            changelogs: vec![Changelog {
                author: "Dev <dev@example.org> - 1.0-1".into(),
                date: 1_690_000_000,
                text: "- first".into(),
            }],
        }
    }

    #[test]
    fn filelist_packing_matches_createrepo() {
        let rows = pack_filelist(&sample("edge"));
        assert_eq!(
            rows,
            vec![
                (
                    "/etc".into(),
                    "edge.conf/edge.d/edge.ghost".into(),
                    "fdg".into()
                ),
                ("/usr/bin".into(), "edge".into(), "f".into()),
                ("/usr/share/doc".into(), "edge".into(), "d".into()),
                ("/".into(), "/".into(), "d".into()),
            ]
        );
        let mut src = sample("s");
        src.files = vec![PackageFile {
            dirname: String::new(),
            basename: "s.spec".into(),
            kind: FileKind::File,
        }];
        assert_eq!(
            pack_filelist(&src),
            vec![(".".into(), "s.spec".into(), "f".into())]
        );
    }

    fn build(kind: DbKind, pkgs: &[Package]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("{}.sqlite", kind.name()));
        let mut db = SqliteDb::create(&path, kind).unwrap();
        for p in pkgs {
            db.add(p).unwrap();
        }
        db.finish("abc123").unwrap();
        (dir, path)
    }

    #[test]
    fn primary_rows_and_null_rules() {
        let (_d, path) = build(DbKind::Primary, &[sample("a"), sample("bb")]);
        let c = Connection::open(&path).unwrap();
        let (ver, sum): (i64, String) = c
            .query_row("SELECT dbversion, checksum FROM db_info", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((ver, sum.as_str()), (10, "abc123"));
        let row: (
            i64,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            String,
            i64,
        ) = c
            .query_row(
                "SELECT pkgKey, description, rpm_packager, location_base, rpm_vendor, url, size_package FROM packages WHERE name='bb'",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(
            row,
            (
                2,
                None,
                None,
                None,
                String::new(),
                "https://example.org".into(),
                5_000_000_000
            )
        );
        let pre: Vec<(String, Option<String>, String)> = c
            .prepare("SELECT name, flags, pre FROM requires WHERE pkgKey=1 ORDER BY rowid")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            pre,
            vec![
                ("/bin/sh".into(), None, "TRUE".into()),
                ("libc.so.6".into(), Some("GE".into()), "FALSE".into()),
            ]
        );
        let files: Vec<(String, String)> = c
            .prepare("SELECT name, type FROM files WHERE pkgKey=1 ORDER BY rowid")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            files,
            vec![
                ("/etc/edge.conf".into(), "file".into()),
                ("/usr/bin/a".into(), "file".into()),
                ("/etc/edge.d".into(), "dir".into()),
                ("/etc/edge.ghost".into(), "ghost".into()),
            ]
        );
        let n: i64 = c
            .query_row("SELECT count(*) FROM suggests", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn schema_matches_createrepo_order() {
        let (_d, path) = build(DbKind::Primary, &[sample("a")]);
        let c = Connection::open(&path).unwrap();
        let names: Vec<String> = c
            .prepare("SELECT name FROM sqlite_master ORDER BY rowid")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(names[..3], ["db_info", "packages", "files"]);
        assert_eq!(names[11], "removals");
        assert_eq!(names.last().unwrap(), "pkgsupplements");
        assert_eq!(names.len(), 1 + 10 + 1 + 14);
    }

    #[test]
    fn filelists_and_other_rows() {
        let (_d, path) = build(DbKind::Filelists, &[sample("a")]);
        let c = Connection::open(&path).unwrap();
        let n: i64 = c
            .query_row("SELECT count(*) FROM filelist WHERE pkgKey=1", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 4);
        let (_d2, path) = build(DbKind::Other, &[sample("a"), sample("b")]);
        let c = Connection::open(&path).unwrap();
        let rows: Vec<(i64, String, i64, String)> = c
            .prepare("SELECT pkgKey, author, date, changelog FROM changelog ORDER BY rowid")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].0, 2);
        assert_eq!(rows[1].2, 1_690_000_000);
    }
}

//! The three sqlite databases (`primary.sqlite`, `filelists.sqlite`, `other.sqlite`) exactly as
//! createrepo_c 0.17.3 builds them (`docs/REPODATA-SPEC.md` §8; createrepo_c `src/sqlite.c`).
//!
//! A database is written straight to a file on disk inside one transaction, one package at a
//! time, so memory does not grow with the number of packages. Indexes are created when the
//! database is closed, after all rows are in, as createrepo_c does.
//!
//! A published database can also be updated in place ([`SqliteDb::open_existing`],
//! [`SqliteDb::remove`], [`SqliteDb::add`], [`SqliteDb::finish_update`]): only the pages that
//! hold the removed and added rows change, instead of every page of a rebuilt file.
//!
//! `pkgKey` is a join key only. Consumers (yum's `sqlitesack.py`) look packages up by
//! `pkgKey = ?` and never rely on keys being dense or ordered, but yum's file search takes the
//! `pkgKey` of a `filelist` row and looks it up in *primary*, so the three databases of one
//! repository must give each package the same key. They do as long as the same sequence of
//! adds and removes is applied to each of them (see [`SqliteDb::remove`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::metadata_error::{MetadataError, MetadataResult};
use crate::package::{is_primary_file, Dependency, FileKind, Package};

/// `db_info.dbversion` and repomd `<database_version>` (createrepo_c `CR_DB_CACHE_DBVERSION`).
pub const DB_VERSION: u32 = 10;

/// Which of the three databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DbKind {
    /// `primary.sqlite`.
    Primary,
    /// `filelists.sqlite`.
    Filelists,
    /// `other.sqlite`.
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

    /// The tables whose rows belong to one package through `pkgKey` (all but `packages` and
    /// `db_info`).
    fn child_tables(self) -> impl Iterator<Item = &'static str> {
        self.tables()
            .iter()
            .filter(|ddl| ddl.starts_with("CREATE TABLE "))
            .map(|ddl| ddl_name(ddl))
            .filter(|name| *name != "packages")
    }
}

/// The name a `CREATE TABLE|INDEX|TRIGGER name …` statement defines.
fn ddl_name(ddl: &'static str) -> &'static str {
    ddl.split_whitespace().nth(2).unwrap_or_default()
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

/// One database being built, or updated, in a file.
pub struct SqliteDb {
    kind: DbKind,
    path: PathBuf,
    conn: Connection,
    /// Opened with [`SqliteDb::open_existing`]: `db_info` and the indexes exist already.
    existing: bool,
    /// The file's length and page size when [`SqliteDb::open_existing`] opened it.
    original: Option<(u64, u64)>,
}

/// The pages an update ([`SqliteDb::open_existing`] … [`SqliteDb::finish_update_pages`])
/// wrote: read from sqlite's rollback journal, which holds the original content of every page
/// of the file a transaction changes, before it changes it (pages past the original end are
/// new and not journaled). A page not listed here and below the original end holds the bytes
/// it had before the update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenPages {
    /// Bytes per page.
    pub page_size: u64,
    /// Length of the file before the update.
    pub original_len: u64,
    /// Numbers (1-based, as sqlite counts) of the original pages the update wrote.
    pub pages: std::collections::BTreeSet<u64>,
}

impl WrittenPages {
    /// May bytes `start..end` of the updated file differ from the same bytes before the
    /// update? (Past the original end: always.)
    pub fn touches(&self, start: u64, end: u64) -> bool {
        if end > self.original_len {
            return true;
        }
        if start >= end {
            return false;
        }
        let first = start / self.page_size + 1;
        let last = (end - 1) / self.page_size + 1;
        self.pages.range(first..=last).next().is_some()
    }

    /// Reads the journal a committed `journal_mode=PERSIST` transaction left: a header sector
    /// (512 bytes: the pager's sector size with power-safe overwrite, the unix default) whose
    /// first 28 bytes sqlite zeroed at commit, then one record per page: 4-byte page number
    /// (big-endian), the page's original content, a 4-byte checksum. `None` unless the file is
    /// exactly that (another layout, a second header, a page number outside the original file):
    /// the caller then treats every page as written.
    fn from_journal(path: &Path, page_size: u64, original_len: u64) -> Option<WrittenPages> {
        use std::os::unix::fs::FileExt;
        const HEADER: u64 = 512;
        let file = std::fs::File::open(path).ok()?;
        let len = file.metadata().ok()?.len();
        let record = page_size + 8;
        if page_size == 0 || len < HEADER || !(len - HEADER).is_multiple_of(record) {
            return None;
        }
        let mut head = [0u8; 28];
        file.read_exact_at(&mut head, 0).ok()?;
        if head.iter().any(|&b| b != 0) {
            return None;
        }
        let original_pages = original_len.div_ceil(page_size);
        let mut pages = std::collections::BTreeSet::new();
        for i in 0..(len - HEADER) / record {
            let mut n = [0u8; 4];
            file.read_exact_at(&mut n, HEADER + i * record).ok()?;
            let page = u64::from(u32::from_be_bytes(n));
            if page == 0 || page > original_pages || !pages.insert(page) {
                return None;
            }
        }
        Some(WrittenPages {
            page_size,
            original_len,
            pages,
        })
    }
}

/// createrepo_c `db_tweak`: the file is a scratch copy until it is published, so durability is
/// traded for speed.
fn tweak(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.pragma_update_and_check(None, "journal_mode", "MEMORY", |_| Ok(()))?;
    conn.pragma_update(None, "temp_store", "MEMORY")
}

impl SqliteDb {
    /// Creates a new database at `path` (which must not exist yet, or be empty), with the
    /// schema of `kind`, and opens the transaction all rows go into.
    pub fn create(path: &Path, kind: DbKind) -> MetadataResult<Self> {
        let err = |source| MetadataError::Sqlite {
            db: kind.name(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        tweak(&conn).map_err(err)?;
        conn.execute_batch("BEGIN").map_err(err)?;
        conn.execute_batch(DBINFO_TABLE).map_err(err)?;
        for ddl in kind.tables() {
            conn.execute_batch(ddl).map_err(err)?;
        }
        Ok(SqliteDb {
            kind,
            path: path.to_owned(),
            conn,
            existing: false,
            original: None,
        })
    }

    /// Opens a database of `kind` that [`SqliteDb::create`] + [`SqliteDb::finish`] (or
    /// createrepo_c) wrote, to update it in place, and opens the transaction all changes go
    /// into. The file must exist; it is checked to hold every table and index of
    /// `kind` and exactly one `db_info` row with `dbversion` [`DB_VERSION`], else
    /// [`MetadataError::Incompatible`].
    ///
    /// Work on a copy of the published file: durability is traded for speed (as createrepo_c
    /// does), so a crash in the middle of the update can leave the file damaged. Dropping the
    /// `SqliteDb` without [`SqliteDb::finish_update`] rolls everything back. The rollback
    /// journal is kept in `PATH-journal` (`journal_mode=PERSIST`) until the update is
    /// finished: it tells which pages the update wrote.
    pub fn open_existing(path: &Path, kind: DbKind) -> MetadataResult<Self> {
        let err = |source| MetadataError::Sqlite {
            db: kind.name(),
            source,
        };
        let incompatible = |reason: String| MetadataError::Incompatible {
            path: path.to_owned(),
            db: kind.name(),
            reason,
        };
        // Without SQLITE_OPEN_CREATE a missing file is an error instead of a new empty database.
        let meta = std::fs::metadata(path).map_err(|e| MetadataError::io(path, e))?;
        if !meta.is_file() {
            return Err(incompatible("not a regular file".into()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        let objects: Vec<(String, String)> = match conn
            .prepare("SELECT type, name FROM sqlite_master")
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()
            }) {
            Ok(o) => o,
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::NotADatabase =>
            {
                return Err(incompatible("not an sqlite database".into()));
            }
            Err(e) => return Err(err(e)),
        };
        // Triggers are not required: `remove` deletes dependent rows itself.
        let wanted = std::iter::once(("table", DBINFO_TABLE))
            .chain(
                kind.tables()
                    .iter()
                    .filter(|ddl| ddl.starts_with("CREATE TABLE "))
                    .map(|ddl| ("table", *ddl)),
            )
            .chain(kind.indexes().iter().map(|ddl| ("index", *ddl)));
        for (what, ddl) in wanted {
            let name = ddl_name(ddl);
            if !objects.iter().any(|(t, n)| t == what && n == name) {
                return Err(incompatible(format!("it has no {what} `{name}`")));
            }
        }
        tweak(&conn).map_err(err)?;
        // The rollback journal on disk and kept after the commit, to tell which pages the
        // update wrote (`finish_update_pages`). The database's own bytes are the same as
        // with the journal in memory.
        conn.pragma_update_and_check(None, "journal_mode", "PERSIST", |_| Ok(()))
            .map_err(err)?;
        let page_size: i64 = conn
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .map_err(err)?;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
        let versions: Vec<Option<i64>> = conn
            .prepare("SELECT dbversion FROM db_info")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(err)?;
        match versions[..] {
            [Some(v)] if v == i64::from(DB_VERSION) => {}
            [v] => {
                return Err(incompatible(format!(
                    "db_info.dbversion is {}, expected {DB_VERSION}",
                    v.map_or_else(|| "NULL".to_owned(), |v| v.to_string())
                )))
            }
            _ => {
                return Err(incompatible(format!(
                    "db_info has {} rows, expected 1",
                    versions.len()
                )))
            }
        }
        Ok(SqliteDb {
            kind,
            path: path.to_owned(),
            conn,
            existing: true,
            original: Some((meta.len(), page_size.max(0) as u64)),
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

    fn err(&self) -> impl Fn(rusqlite::Error) -> MetadataError {
        let db = self.kind.name();
        move |source| MetadataError::Sqlite { db, source }
    }

    /// Adds one package. It gets `pkgKey` = the largest key in the database + 1 (sqlite's
    /// choice for a new `INTEGER PRIMARY KEY` row), so a new database numbers its packages
    /// 1, 2, … in the order they are added, and the same sequence of adds and removes gives a
    /// package the same key in all three databases.
    pub fn add(&mut self, p: &Package) -> MetadataResult<()> {
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

    /// Removes one package and all its rows; `false` (and nothing changed) when there is no
    /// such package.
    ///
    /// Primary matches on `pkgId` and `location_href`, since the same file can be published at
    /// two locations. Filelists and other only have `pkgId`; there the package with the lowest
    /// `pkgKey` among those with that `pkgId` is removed. To keep the keys of the three
    /// databases equal (yum joins a filelists `pkgKey` to primary), primary removes the lowest
    /// key of that `pkgId` too: when the matching location has a higher key, that row takes
    /// over the `packages` columns (location, mtime, …) of the lowest-keyed copy, and the
    /// lowest-keyed row goes. Copies with one `pkgId` are the same file, so their files,
    /// dependencies, file lists and changelogs are identical and only the `packages` row
    /// differs; the content left is exactly "every package but the removed one".
    ///
    /// Dependent rows are deleted explicitly, table by table; the schema's triggers
    /// (`removals`, `remove_filelist`, `remove_changelogs`) would delete the same rows.
    pub fn remove(&mut self, pkgid: &str, location_href: &str) -> MetadataResult<bool> {
        let r = match self.kind {
            DbKind::Primary => self.remove_primary(pkgid, location_href),
            DbKind::Filelists | DbKind::Other => self.remove_lowest(pkgid),
        };
        r.map_err(self.err())
    }

    fn lowest_key(&self, pkgid: &str) -> rusqlite::Result<Option<i64>> {
        self.conn
            .prepare_cached("SELECT min(pkgKey) FROM packages WHERE pkgId = ?")?
            .query_row(params![pkgid], |r| r.get(0))
    }

    fn remove_primary(&self, pkgid: &str, location_href: &str) -> rusqlite::Result<bool> {
        let Some(key) = self
            .conn
            .prepare_cached(
                "SELECT pkgKey FROM packages WHERE pkgId = ? AND location_href = ? ORDER BY pkgKey LIMIT 1",
            )?
            .query_row(params![pkgid, location_href], |r| r.get::<_, i64>(0))
            .optional()?
        else {
            return Ok(false);
        };
        let lowest = self.lowest_key(pkgid)?.unwrap_or(key);
        if lowest != key {
            let columns: Vec<String> = self
                .conn
                .prepare_cached("SELECT name FROM pragma_table_info('packages')")?
                .query_map([], |r| r.get(0))?
                .filter(|c| !matches!(c.as_deref(), Ok("pkgKey")))
                .collect::<rusqlite::Result<_>>()?;
            let columns = columns.join(", ");
            self.conn.execute(
                &format!(
                    "UPDATE packages SET ({columns}) = (SELECT {columns} FROM packages WHERE pkgKey = ?1) WHERE pkgKey = ?2"
                ),
                params![lowest, key],
            )?;
        }
        self.delete_key(lowest)?;
        Ok(true)
    }

    fn remove_lowest(&self, pkgid: &str) -> rusqlite::Result<bool> {
        match self.lowest_key(pkgid)? {
            Some(key) => {
                self.delete_key(key)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn delete_key(&self, key: i64) -> rusqlite::Result<()> {
        for table in self.kind.child_tables() {
            self.conn
                .prepare_cached(&format!("DELETE FROM {table} WHERE pkgKey = ?"))?
                .execute(params![key])?;
        }
        self.conn
            .prepare_cached("DELETE FROM packages WHERE pkgKey = ?")?
            .execute(params![key])?;
        Ok(())
    }

    /// Writes `db_info` (`xml_checksum` = repomd checksum of the compressed XML file of the same
    /// kind), creates the indexes, commits and closes the file. For a database made with
    /// [`SqliteDb::create`]; an opened one ends with [`SqliteDb::finish_update`].
    pub fn finish(self, xml_checksum: &str) -> MetadataResult<PathBuf> {
        let err = self.err();
        if self.existing {
            return Err(MetadataError::Usage(format!(
                "{} database was opened with open_existing: finish it with finish_update",
                self.kind.name()
            )));
        }
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

    /// Ends an update begun with [`SqliteDb::open_existing`]: sets the one `db_info` row to
    /// `xml_checksum` (repomd checksum of the new compressed XML of the same kind), commits
    /// and closes. The indexes are kept up to date by sqlite and the file is not vacuumed, so
    /// pages no change touched stay byte-for-byte as they were.
    pub fn finish_update(self, xml_checksum: &str) -> MetadataResult<PathBuf> {
        Ok(self.finish_update_pages(xml_checksum)?.0)
    }

    /// [`SqliteDb::finish_update`], and the pages the update wrote ([`WrittenPages`]; `None`
    /// when the journal could not tell: then any page may have changed).
    pub fn finish_update_pages(
        self,
        xml_checksum: &str,
    ) -> MetadataResult<(PathBuf, Option<WrittenPages>)> {
        let err = self.err();
        if !self.existing {
            return Err(MetadataError::Usage(format!(
                "{} database was made with create: finish it with finish",
                self.kind.name()
            )));
        }
        self.conn
            .execute(
                "UPDATE db_info SET dbversion = ?, checksum = ?",
                params![DB_VERSION, xml_checksum],
            )
            .map_err(&err)?;
        self.conn.execute_batch("COMMIT").map_err(&err)?;
        self.conn.close().map_err(|(_, e)| err(e))?;
        let mut journal = self.path.clone().into_os_string();
        journal.push("-journal");
        let journal = PathBuf::from(journal);
        let written = self
            .original
            .and_then(|(len, page)| WrittenPages::from_journal(&journal, page, len));
        let _ = std::fs::remove_file(&journal);
        Ok((self.path, written))
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
#[path = "../tests/common/dbdump.rs"]
mod dbdump;

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

    const KINDS: [DbKind; 3] = [DbKind::Primary, DbKind::Filelists, DbKind::Other];

    /// A second copy of `p` published at another location (same file, same pkgId).
    fn moved(p: &Package, href: &str) -> Package {
        let mut q = p.clone();
        q.location_href = href.into();
        q.time_file += 60;
        q
    }

    fn build_in(dir: &Path, kind: DbKind, pkgs: &[Package], checksum: &str) -> PathBuf {
        let path = dir.join(format!("{}.sqlite", kind.name()));
        let mut db = SqliteDb::create(&path, kind).unwrap();
        for p in pkgs {
            db.add(p).unwrap();
        }
        db.finish(checksum).unwrap()
    }

    /// Opens `path`, removes `remove` (pkgId, href) and adds `add`, finishing with `checksum`.
    fn update(
        path: &Path,
        kind: DbKind,
        remove: &[(&str, &str)],
        add: &[Package],
        checksum: &str,
    ) -> Vec<bool> {
        let mut db = SqliteDb::open_existing(path, kind).unwrap();
        let removed = remove
            .iter()
            .map(|(id, href)| db.remove(id, href).unwrap())
            .collect();
        for p in add {
            db.add(p).unwrap();
        }
        db.finish_update(checksum).unwrap();
        removed
    }

    #[test]
    fn the_journal_names_every_page_an_update_changed() {
        let pkgs: Vec<Package> = (0..400).map(|i| sample(&format!("p{i:04}"))).collect();
        for kind in KINDS {
            let dir = tempfile::tempdir().unwrap();
            let path = build_in(dir.path(), kind, &pkgs, "old");
            let before = std::fs::read(&path).unwrap();
            let mut db = SqliteDb::open_existing(&path, kind).unwrap();
            for p in &pkgs[150..153] {
                assert!(db.remove(&p.pkgid, &p.location_href).unwrap());
            }
            for name in ["q1", "q2"] {
                db.add(&sample(name)).unwrap();
            }
            let (path, written) = db.finish_update_pages("new").unwrap();
            let w = written.expect("the journal tells");
            let after = std::fs::read(&path).unwrap();
            assert!(!dir
                .path()
                .join(format!("{}.sqlite-journal", kind.name()))
                .exists());
            assert_eq!((w.page_size, w.original_len), (4096, before.len() as u64));
            let ps = w.page_size as usize;
            let total = before.len() / ps;
            // Every page whose bytes changed is listed; a page not listed is as it was.
            let changed: Vec<u64> = (0..total.min(after.len() / ps))
                .filter(|&i| before[i * ps..(i + 1) * ps] != after[i * ps..(i + 1) * ps])
                .map(|i| i as u64 + 1)
                .collect();
            assert!(changed.contains(&1), "the header page changes");
            for p in &changed {
                assert!(
                    w.pages.contains(p),
                    "{kind:?}: page {p} changed, not listed"
                );
                assert!(w.touches((p - 1) * w.page_size, *p * w.page_size));
            }
            assert!(
                w.pages.len() < total / 2,
                "{kind:?}: {} of {total}",
                w.pages.len()
            );
            let untouched = (1..=total as u64).find(|p| !w.pages.contains(p)).unwrap();
            let at = (untouched - 1) * w.page_size;
            assert!(!w.touches(at, at + w.page_size));
            assert!(w.touches(0, before.len() as u64 + 1), "past the end");
        }
    }

    #[test]
    fn a_journal_of_another_layout_tells_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("db-journal");
        let record = |page: u32| [page.to_be_bytes().to_vec(), vec![7; 4096 + 4]].concat();
        let good = [vec![0; 512], record(2), record(5)].concat();
        std::fs::write(&j, &good).unwrap();
        let w = WrittenPages::from_journal(&j, 4096, 8 * 4096).unwrap();
        assert_eq!(w.pages.iter().copied().collect::<Vec<_>>(), [2, 5]);
        for bad in [
            [vec![1; 512], record(2)].concat(), // a header not zeroed: not committed
            [vec![0; 512], record(2), vec![0; 512]].concat(), // a second header
            [vec![0; 512], record(9)].concat(), // past the original file
            [vec![0; 512], record(0)].concat(),
            [vec![0; 512], record(3), record(3)].concat(),
        ] {
            std::fs::write(&j, &bad).unwrap();
            assert_eq!(WrittenPages::from_journal(&j, 4096, 8 * 4096), None);
        }
        assert_eq!(
            WrittenPages::from_journal(&dir.path().join("none"), 4096, 1),
            None
        );
    }

    #[test]
    fn update_in_place_equals_fresh_build() {
        let [a, b, c, d, x] = ["a", "b", "c", "d", "x"].map(sample);
        // X first, in the middle and last: the removed key is the lowest, a middle and the
        // highest one (then the next add reuses it).
        let starts = [
            vec![x.clone(), a.clone(), b.clone()],
            vec![a.clone(), x.clone(), b.clone()],
            vec![a.clone(), b.clone(), x.clone()],
        ];
        for start in &starts {
            let fresh_dir = tempfile::tempdir().unwrap();
            let upd_dir = tempfile::tempdir().unwrap();
            let mut upd_keys = Vec::new();
            for kind in KINDS {
                let fresh = build_in(
                    fresh_dir.path(),
                    kind,
                    &[a.clone(), b.clone(), c.clone(), d.clone()],
                    "new",
                );
                let path = build_in(upd_dir.path(), kind, start, "old");
                let removed = update(
                    &path,
                    kind,
                    &[(&x.pkgid, &x.location_href)],
                    &[c.clone(), d.clone()],
                    "new",
                );
                assert_eq!(removed, [true]);
                let (got, want) = (dbdump::dump(&path), dbdump::dump(&fresh));
                assert_eq!(got, want, "{kind:?}");
                // The dump covers every table, db_info included, which has one row.
                assert_eq!(
                    dbdump::db_info(&path),
                    [(i64::from(DB_VERSION), "new".into())]
                );
                assert_eq!(dbdump::integrity_check(&path), "ok");
                let keys = dbdump::keys(&path);
                let max_before = start.len() as i64;
                // The adds got max(pkgKey) + 1 in turn.
                let after_remove_max = if start.last() == Some(&x) {
                    max_before - 1
                } else {
                    max_before
                };
                assert_eq!(
                    keys[keys.len() - 2..],
                    [
                        (after_remove_max + 1, c.pkgid.clone()),
                        (after_remove_max + 2, d.pkgid.clone())
                    ]
                );
                upd_keys.push(keys);
            }
            assert_eq!(upd_keys[0], upd_keys[1], "primary/filelists keys");
            assert_eq!(upd_keys[0], upd_keys[2], "primary/other keys");
        }
    }

    #[test]
    fn every_child_row_goes_with_its_package() {
        // The schema's triggers cover every child table of each kind...
        for kind in KINDS {
            let dir = tempfile::tempdir().unwrap();
            let path = build_in(dir.path(), kind, &[sample("a"), sample("b")], "s");
            let c = Connection::open(&path).unwrap();
            c.execute("DELETE FROM packages WHERE pkgKey = 1", [])
                .unwrap();
            for t in kind.child_tables() {
                let count = |k: i64| -> i64 {
                    c.query_row(
                        &format!("SELECT count(*) FROM {t} WHERE pkgKey = ?"),
                        [k],
                        |r| r.get(0),
                    )
                    .unwrap()
                };
                assert_eq!(count(1), 0, "{kind:?} trigger leaves rows in {t}");
                if !matches!(
                    t,
                    "conflicts" | "obsoletes" | "enhances" | "recommends" | "supplements"
                ) {
                    assert!(count(2) > 0, "{kind:?} {t} has rows of the other package");
                }
            }
        }
        // ...and remove() leaves no orphans, triggers or not.
        for kind in KINDS {
            let dir = tempfile::tempdir().unwrap();
            let a = sample("a");
            let path = build_in(dir.path(), kind, &[a.clone(), sample("b")], "s");
            let c = Connection::open(&path).unwrap();
            for ddl in kind
                .tables()
                .iter()
                .filter(|d| d.starts_with("CREATE TRIGGER "))
            {
                c.execute_batch(&format!("DROP TRIGGER {}", ddl_name(ddl)))
                    .unwrap();
            }
            drop(c);
            let removed = update(&path, kind, &[(&a.pkgid, &a.location_href)], &[], "s");
            assert_eq!(removed, [true]);
            let rows = dbdump::dump(&path);
            for (t, rows) in &rows {
                assert!(
                    rows.iter().all(|(id, _)| id != "ORPHAN" && *id != a.pkgid),
                    "{kind:?} {t} keeps rows of the removed package"
                );
            }
        }
    }

    #[test]
    fn removing_an_absent_package_changes_nothing() {
        for kind in KINDS {
            let dir = tempfile::tempdir().unwrap();
            let a = sample("a");
            let path = build_in(dir.path(), kind, &[a.clone(), sample("b")], "same");
            let before = dbdump::dump(&path);
            let keys = dbdump::keys(&path);
            let mut tries = vec![(sample("zz").pkgid, a.location_href.clone())];
            if kind == DbKind::Primary {
                // Right file, wrong location.
                tries.push((a.pkgid.clone(), "elsewhere/a.rpm".into()));
            }
            let tries: Vec<(&str, &str)> = tries
                .iter()
                .map(|(i, h)| (i.as_str(), h.as_str()))
                .collect();
            let removed = update(&path, kind, &tries, &[], "same");
            assert!(removed.iter().all(|r| !r), "{kind:?}: {removed:?}");
            assert_eq!(dbdump::dump(&path), before, "{kind:?}");
            assert_eq!(dbdump::keys(&path), keys, "{kind:?}");
        }
    }

    #[test]
    fn same_file_at_two_locations_keeps_keys_aligned() {
        let a = sample("a");
        let a2 = moved(&a, "old/a-1.0-1.x86_64.rpm");
        let b = sample("b");
        // Remove the higher-keyed copy, then the lower-keyed one.
        for (gone, kept) in [(&a2, &a), (&a, &a2)] {
            let fresh_dir = tempfile::tempdir().unwrap();
            let upd_dir = tempfile::tempdir().unwrap();
            let mut all_keys = Vec::new();
            for kind in KINDS {
                let fresh = build_in(fresh_dir.path(), kind, &[kept.clone(), b.clone()], "n");
                let path = build_in(
                    upd_dir.path(),
                    kind,
                    &[a.clone(), b.clone(), a2.clone()],
                    "o",
                );
                let removed = update(&path, kind, &[(&gone.pkgid, &gone.location_href)], &[], "n");
                assert_eq!(removed, [true]);
                assert_eq!(dbdump::dump(&path), dbdump::dump(&fresh), "{kind:?}");
                assert_eq!(dbdump::integrity_check(&path), "ok");
                all_keys.push(dbdump::keys(&path));
            }
            assert_eq!(all_keys[0], all_keys[1]);
            assert_eq!(all_keys[0], all_keys[2]);
            // The lowest key of the pkgId went in every database.
            assert_eq!(all_keys[0], [(2, b.pkgid.clone()), (3, a.pkgid.clone())]);
        }
    }

    #[test]
    fn open_existing_checks_kind_version_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let pkgs = [sample("a")];
        let paths: Vec<PathBuf> = KINDS
            .iter()
            .map(|k| build_in(dir.path(), *k, &pkgs, "s"))
            .collect();
        for (i, path) in paths.iter().enumerate() {
            for (j, kind) in KINDS.iter().enumerate() {
                let r = SqliteDb::open_existing(path, *kind);
                if i == j {
                    assert!(r.is_ok(), "{kind:?}");
                } else {
                    let e = r.err().unwrap();
                    assert!(
                        matches!(e, MetadataError::Incompatible { db, .. } if db == kind.name()),
                        "{} as {kind:?}: {e}",
                        KINDS[i].name()
                    );
                }
            }
        }
        let e = SqliteDb::open_existing(&paths[1], DbKind::Primary)
            .err()
            .unwrap();
        assert!(e.to_string().contains("no table `files`"), "{e}");

        let c = Connection::open(&paths[0]).unwrap();
        c.execute("UPDATE db_info SET dbversion = 9", []).unwrap();
        drop(c);
        let e = SqliteDb::open_existing(&paths[0], DbKind::Primary)
            .err()
            .unwrap();
        assert!(e.to_string().contains("dbversion is 9, expected 10"), "{e}");

        let c = Connection::open(&paths[2]).unwrap();
        c.execute("INSERT INTO db_info VALUES (10, 'x')", [])
            .unwrap();
        drop(c);
        let e = SqliteDb::open_existing(&paths[2], DbKind::Other)
            .err()
            .unwrap();
        assert!(e.to_string().contains("db_info has 2 rows"), "{e}");

        let missing = dir.path().join("missing.sqlite");
        let e = SqliteDb::open_existing(&missing, DbKind::Primary)
            .err()
            .unwrap();
        assert!(matches!(e, MetadataError::Io { .. }), "{e}");
        assert!(!missing.exists(), "a missing file must not be created");

        let junk = dir.path().join("junk.sqlite");
        std::fs::write(
            &junk,
            b"BZh91AY&SY this is a compressed file, not a database".repeat(100),
        )
        .unwrap();
        let e = SqliteDb::open_existing(&junk, DbKind::Primary)
            .err()
            .unwrap();
        assert!(e.to_string().contains("not an sqlite database"), "{e}");
    }

    #[test]
    fn finish_and_finish_update_refuse_the_other_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.sqlite");
        let db = SqliteDb::create(&path, DbKind::Primary).unwrap();
        assert!(matches!(
            db.finish_update("x"),
            Err(MetadataError::Usage(_))
        ));
        std::fs::remove_file(&path).unwrap();
        let path = build_in(dir.path(), DbKind::Primary, &[sample("a")], "s");
        let before = dbdump::dump(&path);
        let mut db = SqliteDb::open_existing(&path, DbKind::Primary).unwrap();
        db.add(&sample("b")).unwrap();
        assert!(matches!(db.finish("x"), Err(MetadataError::Usage(_))));
        // Nothing was committed.
        assert_eq!(dbdump::dump(&path), before);
    }
}

//! Test helpers for the sqlite databases, shared by the unit tests in `src/sqlite.rs` and the
//! integration tests: dumps that compare two databases by content rather than by `pkgKey`,
//! sqlite's own integrity check, and a page-by-page file comparison.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

/// One row: the `pkgId` of the package it belongs to (`ORPHAN` for a row whose `pkgKey` has no
/// package, empty for `db_info`) and the other columns, `pkgKey` left out.
pub type Row = (String, String);

fn open(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// Every table of the database (name → rows, sorted), with `pkgKey` replaced by the package's
/// `pkgId`, so that two databases with the same packages compare equal whatever keys they use.
pub fn dump(path: &Path) -> BTreeMap<String, Vec<Row>> {
    let c = open(path);
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        let cols: Vec<String> = c
            .prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let rest: Vec<String> = cols
            .iter()
            .filter(|c| *c != "pkgKey")
            .map(|c| format!("t.{c}"))
            .collect();
        let sql = if t == "db_info" {
            format!("SELECT '', {} FROM db_info t", rest.join(", "))
        } else if t == "packages" {
            format!("SELECT t.pkgId, {} FROM packages t", rest.join(", "))
        } else {
            format!(
                "SELECT coalesce(p.pkgId, 'ORPHAN'), {} FROM {t} t LEFT JOIN packages p ON p.pkgKey = t.pkgKey",
                rest.join(", ")
            )
        };
        let n = rest.len();
        let mut rows: Vec<Row> = c
            .prepare(&sql)
            .unwrap()
            .query_map([], |r| {
                let id: String = r.get(0)?;
                let vals = (1..=n)
                    .map(|i| r.get::<_, Value>(i))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((id, format!("{vals:?}")))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        out.insert(t, rows);
    }
    out
}

/// `pkgKey → pkgId` of the `packages` table, by key.
pub fn keys(path: &Path) -> Vec<(i64, String)> {
    open(path)
        .prepare("SELECT pkgKey, pkgId FROM packages ORDER BY pkgKey")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The `db_info` rows.
pub fn db_info(path: &Path) -> Vec<(i64, String)> {
    open(path)
        .prepare("SELECT dbversion, checksum FROM db_info")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// What the `sqlite3` command-line tool says to `PRAGMA integrity_check` (`ok` when sound).
pub fn integrity_check(path: &Path) -> String {
    let out = Command::new("sqlite3")
        .arg(path)
        .arg("PRAGMA integrity_check;")
        .output()
        .expect("run the sqlite3 command-line tool");
    assert!(out.status.success(), "sqlite3 failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `(pages that differ, pages in the larger file)` for two files cut into `page`-byte pages;
/// a page present in only one of them counts as different.
pub fn pages_differ(a: &[u8], b: &[u8], page: usize) -> (usize, usize) {
    let total = a.len().max(b.len()).div_ceil(page);
    (differing_pages(a, b, page).len(), total)
}

/// Indexes of the `page`-byte pages that differ between two files (see [`pages_differ`]).
pub fn differing_pages(a: &[u8], b: &[u8], page: usize) -> Vec<usize> {
    let total = a.len().max(b.len()).div_ceil(page);
    (0..total)
        .filter(|i| {
            let get = |f: &[u8]| {
                let s = (i * page).min(f.len());
                let e = ((i + 1) * page).min(f.len());
                f[s..e].to_vec()
            };
            get(a) != get(b)
        })
        .collect()
}

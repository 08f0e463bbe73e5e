//! In-place updates of the sqlite databases on real packages from the corpus
//! (`RPMBUCKET_CORPUS`, default `../shared/corpus` next to the repository): an updated database
//! holds the same rows as one built from scratch, keeps the three databases' keys equal, and
//! works on databases createrepo_c wrote. Also prints how many pages an update changes.
//! Without the corpus or createrepo_c these fail under `CI` and skip loudly elsewhere
//! (`rpmbucket_testenv`).

#[path = "common/dbdump.rs"]
mod dbdump;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rpmbucket_repodata::compress::Compression;
use rpmbucket_repodata::parse::{read_package_file, ParseOptions};
use rpmbucket_repodata::sqlite::{DbKind, SqliteDb, DB_VERSION};
use rpmbucket_repodata::Package;

const KINDS: [DbKind; 3] = [DbKind::Primary, DbKind::Filelists, DbKind::Other];

/// `*.rpm` files under `dir`, relative to it, sorted.
fn rpm_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                walk(base, &p, out);
            } else if p.extension().is_some_and(|x| x == "rpm") {
                out.push(p.strip_prefix(base).expect("under base").to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Up to `limit` packages of the corpus that parse, with their paths as `location_href`.
fn corpus_packages(rpms: &Path, limit: usize) -> Vec<Package> {
    rpm_files(rpms)
        .iter()
        .filter_map(|rel| {
            let href = rel.to_str()?;
            read_package_file(&rpms.join(rel), href, &ParseOptions::default()).ok()
        })
        .take(limit)
        .collect()
}

fn build(dir: &Path, kind: DbKind, pkgs: &[&Package], checksum: &str) -> PathBuf {
    let path = dir.join(format!("{}.sqlite", kind.name()));
    let mut db = SqliteDb::create(&path, kind).unwrap();
    for p in pkgs {
        db.add(p).unwrap();
    }
    db.finish(checksum).unwrap()
}

fn update(path: &Path, kind: DbKind, remove: &[&Package], add: &[&Package], checksum: &str) {
    let mut db = SqliteDb::open_existing(path, kind).unwrap();
    for p in remove {
        assert!(db.remove(&p.pkgid, &p.location_href).unwrap(), "{kind:?}");
    }
    for p in add {
        db.add(p).unwrap();
    }
    db.finish_update(checksum).unwrap();
}

fn page_size(path: &Path) -> usize {
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
        .unwrap() as usize
}

#[test]
fn corpus_update_equals_fresh_build() {
    let Some(corpus) = rpmbucket_testenv::corpus_dir() else {
        return;
    };
    let all = corpus_packages(&corpus.join("rpms"), 3002);
    assert!(all.len() > 100, "too few corpus packages parse");
    let n = all.len() - 2;
    let (start, new) = all.split_at(n);
    let x = &start[n / 2];
    let first = &start[0];
    let work = tempfile::tempdir().unwrap();
    let mut keys = Vec::new();
    for kind in KINDS {
        let upd_dir = work.path().join(format!("upd-{}", kind.name()));
        std::fs::create_dir_all(&upd_dir).unwrap();
        let path = build(&upd_dir, kind, &start.iter().collect::<Vec<_>>(), "old");
        let before = std::fs::read(&path).unwrap();

        // Remove one package from the middle, add one.
        update(&path, kind, &[x], &[&new[0]], "new1");
        let after = std::fs::read(&path).unwrap();
        let fresh_dir = work.path().join(format!("fresh1-{}", kind.name()));
        std::fs::create_dir_all(&fresh_dir).unwrap();
        let want: Vec<&Package> = start
            .iter()
            .filter(|p| !std::ptr::eq(*p, x))
            .chain(&new[..1])
            .collect();
        let fresh = build(&fresh_dir, kind, &want, "new1");
        assert_eq!(dbdump::dump(&path), dbdump::dump(&fresh), "{kind:?}");
        assert_eq!(dbdump::integrity_check(&path), "ok", "{kind:?}");

        // Report only: how much of the file an update rewrites, versus a rebuild.
        let rebuilt = std::fs::read(&fresh).unwrap();
        let page = page_size(&path);
        let (upd, total) = dbdump::pages_differ(&before, &after, 4096);
        let (reb, _) = dbdump::pages_differ(&before, &rebuilt, 4096);
        println!(
            "{}: {} packages, sqlite page size {page}, file {} -> {} bytes; \
             remove 1 + add 1 in place: {upd} of {total} 4 KiB pages differ \
             (rebuild from scratch: {reb})",
            kind.name(),
            start.len(),
            before.len(),
            after.len()
        );

        // A second round on the same file: the first package (lowest key) goes, one more comes.
        update(&path, kind, &[first], &[&new[1]], "new2");
        let want: Vec<&Package> = want
            .into_iter()
            .filter(|p| !std::ptr::eq(*p, first))
            .chain(&new[1..])
            .collect();
        let fresh_dir = work.path().join(format!("fresh2-{}", kind.name()));
        std::fs::create_dir_all(&fresh_dir).unwrap();
        let fresh = build(&fresh_dir, kind, &want, "new2");
        assert_eq!(dbdump::dump(&path), dbdump::dump(&fresh), "{kind:?}");
        assert_eq!(
            dbdump::db_info(&path),
            [(i64::from(DB_VERSION), "new2".to_owned())]
        );
        assert_eq!(dbdump::integrity_check(&path), "ok", "{kind:?}");
        keys.push(dbdump::keys(&path));
    }
    assert_eq!(keys[0], keys[1], "primary and filelists keys");
    assert_eq!(keys[0], keys[2], "primary and other keys");
}

/// Rows of `dump` without those of package `pkgid` (and without `db_info`).
fn without(
    dump: &BTreeMap<String, Vec<dbdump::Row>>,
    pkgid: &str,
) -> BTreeMap<String, Vec<dbdump::Row>> {
    dump.iter()
        .filter(|(t, _)| *t != "db_info")
        .map(|(t, rows)| {
            let rows = rows.iter().filter(|(id, _)| id != pkgid).cloned().collect();
            (t.clone(), rows)
        })
        .collect()
}

#[test]
fn createrepo_c_databases_update_in_place() {
    let Some(corpus) = rpmbucket_testenv::corpus_dir() else {
        return;
    };
    if !rpmbucket_testenv::tool("createrepo_c") {
        return;
    }
    let rpms = corpus.join("rpms");
    let pkgs = corpus_packages(&rpms, 12);
    assert_eq!(pkgs.len(), 12);
    let (published, added) = pkgs.split_at(11);
    let (gone, added) = (&published[4], &added[0]);

    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    for p in published {
        let link = repo.join(&p.location_href);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(rpms.join(&p.location_href), &link).unwrap();
    }
    let status = Command::new("createrepo_c")
        .args(["--simple-md-filenames", "--quiet", "--workers", "2"])
        .arg(&repo)
        .env_remove("LANGUAGE")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .status()
        .expect("run createrepo_c");
    assert!(status.success(), "createrepo_c failed: {status}");

    let mut keys = Vec::new();
    for kind in KINDS {
        let bz2 = repo
            .join("repodata")
            .join(format!("{}.sqlite.bz2", kind.name()));
        let path = tmp.path().join(format!("{}.sqlite", kind.name()));
        let mut r = Compression::Bz2
            .decoder(std::fs::File::open(&bz2).unwrap())
            .unwrap();
        std::io::copy(&mut r, &mut std::fs::File::create(&path).unwrap()).unwrap();
        let theirs = dbdump::dump(&path);
        assert!(
            theirs["packages"].iter().any(|(id, _)| *id == gone.pkgid),
            "{kind:?}: createrepo_c indexed the package to remove"
        );

        update(&path, kind, &[gone], &[added], "new");
        assert_eq!(dbdump::integrity_check(&path), "ok", "{kind:?}");
        assert_eq!(
            dbdump::db_info(&path),
            [(i64::from(DB_VERSION), "new".to_owned())]
        );
        let ours_dir = tmp.path().join(format!("ours-{}", kind.name()));
        std::fs::create_dir_all(&ours_dir).unwrap();
        let ours = dbdump::dump(&build(&ours_dir, kind, &[added], "new"));
        let got = dbdump::dump(&path);
        // createrepo_c's rows of the packages that stayed are untouched...
        assert_eq!(
            without(&got, &added.pkgid),
            without(&theirs, &gone.pkgid),
            "{kind:?}"
        );
        // ...and the added package has the rows `add` writes.
        for (t, rows) in &ours {
            if t == "db_info" {
                continue;
            }
            let added_rows: Vec<_> = got[t]
                .iter()
                .filter(|(id, _)| *id == added.pkgid)
                .cloned()
                .collect();
            assert_eq!(&added_rows, rows, "{kind:?} {t}");
        }
        keys.push(dbdump::keys(&path));
    }
    assert_eq!(keys[0], keys[1], "primary and filelists keys");
    assert_eq!(keys[0], keys[2], "primary and other keys");
}

//! `rpmbucket index` against `createrepo_c` (0.17.3, the oracle) on the same directories.
//!
//! Needs: `createrepo_c` on PATH, the corpus (`RPMBUCKET_CORPUS`, default `../shared/corpus`
//! relative to the repository root) and the `rpmbucket` binary (`RPMBUCKET_BIN`, else
//! `$CARGO_TARGET_DIR/debug/rpmbucket`, built with `cargo build -p rpmbucket` when missing).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rpmbucket_repodata::compress::Compression;
use rpmbucket_repodata::read::read_published;
use rpmbucket_repodata::repomd::Repomd;
use rpmbucket_repodata::xml;
use rusqlite::types::Value;
use rusqlite::Connection;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate inside the workspace")
        .to_path_buf()
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn bin() -> PathBuf {
    if let Some(b) = env_path("RPMBUCKET_BIN") {
        return b;
    }
    let b = env_path("CARGO_TARGET_DIR")
        .unwrap_or_else(|| repo_root().join("target"))
        .join("debug")
        .join("rpmbucket");
    if !b.is_file() {
        let st = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "rpmbucket"])
            .current_dir(repo_root())
            .status()
            .expect("run cargo build");
        assert!(st.success(), "cargo build -p rpmbucket failed");
    }
    b
}

fn index(dir: &Path, extra: &[&str]) -> Output {
    index_env(dir, extra, &[])
}

fn index_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(bin())
        .arg("index")
        .args(extra)
        .arg(dir)
        .envs(env.iter().copied())
        .output()
        .expect("run rpmbucket");
    out
}

fn index_ok(dir: &Path, extra: &[&str]) -> String {
    index_ok_env(dir, extra, &[])
}

fn index_ok_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> String {
    let out = index_env(dir, extra, env);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "rpmbucket index failed: {stderr}");
    stderr
}

/// No grace period: files a new generation replaces are deleted right after its swap.
const NO_GRACE: &[(&str, &str)] = &[("RPMBUCKET_GRACE_SECONDS", "0")];

fn createrepo(dir: &Path) {
    let out = Command::new("createrepo_c")
        .args(["--database", "--quiet"])
        .arg(dir)
        .output()
        .expect("createrepo_c must be installed");
    // createrepo_c's exit status with unreadable packages varies by version; what matters is
    // that it published.
    assert!(
        dir.join("repodata/repomd.xml").is_file(),
        "createrepo_c wrote no repomd.xml: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Copies `src` to `dst`, keeping the modification time (both tools put it in `time file`).
fn copy_keep_mtime(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    std::fs::copy(src, dst).unwrap();
    let mtime = std::fs::metadata(src).unwrap().modified().unwrap();
    let f = std::fs::File::options().write(true).open(dst).unwrap();
    f.set_modified(mtime).unwrap();
}

/// A directory whose `corpus` entry is a symlink to the corpus' `rpms/` tree (both tools follow
/// it, so nothing is copied).
fn corpus_dir_link(corpus: &Path) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(corpus.join("rpms"), d.path().join("corpus")).unwrap();
    d
}

/// Test packages copied into `dir`: the fixture RPMs (awkward names, latin-1, weak deps, a
/// source RPM, …) plus, when the corpus is present, good corpus packages (every 7th, unique
/// basenames) up to `n` in all; every other one goes into `Packages/`.
fn some_rpms(dir: &Path, n: usize) -> Vec<PathBuf> {
    let mut sources = rpmbucket_tests::fixture_rpms();
    if let Some(corpus) = rpmbucket_tests::corpus_dir() {
        let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).unwrap();
        for line in manifest.lines().skip(1).step_by(7) {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() >= 9 && cols[8] == "good" {
                sources.push(corpus.join(cols[5]));
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for src in sources {
        let name = src.file_name().unwrap().to_owned();
        if !seen.insert(name.clone()) {
            continue;
        }
        let dst = if out.len() % 2 == 0 {
            dir.join("Packages").join(&name)
        } else {
            dir.join(&name)
        };
        copy_keep_mtime(&src, &dst);
        out.push(dst);
        if out.len() == n {
            break;
        }
    }
    out
}

fn repomd(dir: &Path) -> Repomd {
    Repomd::parse(&std::fs::read(dir.join("repodata/repomd.xml")).unwrap()).unwrap()
}

fn open_file(dir: &Path, md: &Repomd, t: &str) -> Vec<u8> {
    let rec = md.record(t).unwrap_or_else(|| panic!("no {t} record"));
    let href = &rec.location_href;
    let raw = std::fs::File::open(dir.join(href)).unwrap();
    let mut v = Vec::new();
    Compression::from_file_name(href)
        .decoder(raw)
        .unwrap()
        .read_to_end(&mut v)
        .unwrap();
    v
}

fn db(dir: &Path, md: &Repomd, t: &str, tmp: &Path) -> Connection {
    let bytes = open_file(dir, md, t);
    let path = tmp.join(format!(
        "{}-{t}.sqlite",
        dir.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&path, bytes).unwrap();
    Connection::open(path).unwrap()
}

fn rows(c: &Connection, sql: &str) -> Vec<Vec<Value>> {
    let mut st = c.prepare(sql).unwrap();
    let n = st.column_count();
    st.query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Asserts two texts are equal, reporting the first differing line.
fn assert_same_text(what: &str, ours: &[u8], theirs: &[u8]) {
    if ours == theirs {
        return;
    }
    let a = String::from_utf8_lossy(ours);
    let b = String::from_utf8_lossy(theirs);
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            panic!(
                "{what} differs at line {}:\n  rpmbucket:   {x}\n  createrepo_c: {y}",
                i + 1
            );
        }
    }
    panic!(
        "{what} differs in length: rpmbucket {} lines, createrepo_c {} lines",
        a.lines().count(),
        b.lines().count()
    );
}

/// Compares everything both tools wrote for the same input directory.
fn compare_with_createrepo(ours: &Path, theirs: &Path) {
    let a = repomd(ours);
    let b = repomd(theirs);
    let types = |m: &Repomd| {
        m.records
            .iter()
            .map(|r| r.data_type.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(types(&a), types(&b), "record types and order");
    for (ra, rb) in a.records.iter().zip(&b.records) {
        assert!(ra
            .location_href
            .starts_with(&format!("repodata/{}-", ra.checksum)));
        assert_eq!(ra.checksum_type, rb.checksum_type);
        assert_eq!(ra.database_version, rb.database_version, "{}", ra.data_type);
        assert_eq!(ra.open_size.is_some(), rb.open_size.is_some());
        let stored = std::fs::metadata(ours.join(&ra.location_href))
            .unwrap()
            .len();
        assert_eq!(ra.size, stored, "{} size", ra.data_type);
    }
    // The XML must be the same document, byte for byte once decompressed, and the same gzip
    // file: both are C zlib's gzip at level 6 (mtime 0, OS 3), so the records agree in every
    // field but the timestamp.
    for t in ["primary", "filelists", "other"] {
        let x = open_file(ours, &a, t);
        assert_eq!(x.len() as u64, a.record(t).unwrap().open_size.unwrap());
        assert_same_text(&format!("{t}.xml"), &x, &open_file(theirs, &b, t));
        let (ra, rb) = (a.record(t).unwrap(), b.record(t).unwrap());
        assert_eq!(
            (
                &ra.location_href,
                &ra.checksum,
                ra.size,
                &ra.open_checksum,
                ra.open_size
            ),
            (
                &rb.location_href,
                &rb.checksum,
                rb.size,
                &rb.open_checksum,
                rb.open_size
            ),
            "{t} record"
        );
    }
    // The databases: same schema, same rows.
    let tmp = tempfile::tempdir().unwrap();
    for (t, xml) in [
        ("primary_db", "primary"),
        ("filelists_db", "filelists"),
        ("other_db", "other"),
    ] {
        let ca = db(ours, &a, t, tmp.path());
        let cb = db(theirs, &b, t, tmp.path());
        let schema = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid";
        assert_eq!(rows(&ca, schema), rows(&cb, schema), "{t} schema");
        let info = rows(&ca, "SELECT dbversion, checksum FROM db_info");
        assert_eq!(
            info,
            vec![vec![
                Value::Integer(10),
                Value::Text(a.record(xml).unwrap().checksum.clone())
            ]],
            "{t} db_info"
        );
        let tables: &[(&str, bool)] = match t {
            "primary_db" => &[
                ("packages", false),
                ("files", false),
                ("requires", false),
                ("provides", false),
                ("conflicts", false),
                ("obsoletes", false),
                ("suggests", false),
                ("enhances", false),
                ("recommends", false),
                ("supplements", false),
            ],
            "filelists_db" => &[("packages", false), ("filelist", true)],
            _ => &[("packages", false), ("changelog", false)],
        };
        for &(table, as_set) in tables {
            let sql = format!("SELECT * FROM {table} ORDER BY rowid");
            let (ra, rb) = (rows(&ca, &sql), rows(&cb, &sql));
            if as_set {
                // filelist row order follows a GLib hash table in createrepo_c.
                let set = |r: Vec<Vec<Value>>| {
                    let mut m: BTreeMap<String, usize> = BTreeMap::new();
                    for row in r {
                        *m.entry(format!("{row:?}")).or_default() += 1;
                    }
                    m
                };
                assert!(set(ra) == set(rb), "{t}.{table} rows differ (as sets)");
            } else {
                assert_eq!(ra.len(), rb.len(), "{t}.{table} row count");
                for (x, y) in ra.iter().zip(&rb) {
                    assert_eq!(x, y, "{t}.{table} row differs");
                }
            }
        }
    }
}

#[test]
fn whole_corpus_matches_createrepo_c() {
    let Some(corpus) = rpmbucket_tests::corpus_dir() else {
        return;
    };
    let ours = corpus_dir_link(&corpus);
    let theirs = corpus_dir_link(&corpus);
    index_ok(ours.path(), &["--revision", "1"]);
    createrepo(theirs.path());
    compare_with_createrepo(ours.path(), theirs.path());

    // createrepo_c's repomd.xml reads back and re-serialises byte for byte.
    let raw = std::fs::read(theirs.path().join("repodata/repomd.xml")).unwrap();
    let md = Repomd::parse(&raw).unwrap();
    assert_same_text("repomd.xml", md.to_xml().as_bytes(), &raw);

    // createrepo_c's XML read back into records and written out again is the same XML
    // (what `--update` relies on).
    let root = theirs.path().to_owned();
    let pkgs = read_published(&md, |href| {
        Ok(Box::new(std::fs::File::open(root.join(href))?) as Box<dyn Read>)
    })
    .unwrap();
    let n = pkgs.len();
    let mut p = xml::primary_header(n).into_bytes();
    let mut f = xml::filelists_header(n).into_bytes();
    let mut o = xml::other_header(n).into_bytes();
    for pkg in &pkgs {
        xml::primary_chunk(pkg, &mut p);
        xml::filelists_chunk(pkg, &mut f);
        xml::other_chunk(pkg, &mut o);
    }
    p.extend_from_slice(xml::PRIMARY_FOOTER.as_bytes());
    f.extend_from_slice(xml::FILELISTS_FOOTER.as_bytes());
    o.extend_from_slice(xml::OTHER_FOOTER.as_bytes());
    assert_same_text(
        "re-written primary.xml",
        &p,
        &open_file(&root, &md, "primary"),
    );
    assert_same_text(
        "re-written filelists.xml",
        &f,
        &open_file(&root, &md, "filelists"),
    );
    assert_same_text("re-written other.xml", &o, &open_file(&root, &md, "other"));
}

#[test]
fn subdirectories_and_compression_types() {
    let ours = tempfile::tempdir().unwrap();
    some_rpms(ours.path(), 40);
    let theirs = tempfile::tempdir().unwrap();
    for e in walk(ours.path()) {
        copy_keep_mtime(
            &e,
            &theirs.path().join(e.strip_prefix(ours.path()).unwrap()),
        );
    }
    index_ok(ours.path(), &[]);
    createrepo(theirs.path());
    compare_with_createrepo(ours.path(), theirs.path());

    for (ty, suffix) in [("zstd", ".zst"), ("xz", ".xz")] {
        index_ok_env(
            ours.path(),
            &["--compress-type", ty, "--no-database"],
            NO_GRACE,
        );
        let md = repomd(ours.path());
        let types: Vec<_> = md.records.iter().map(|r| r.data_type.as_str()).collect();
        assert_eq!(types, ["primary", "filelists", "other"]);
        for t in ["primary", "filelists", "other"] {
            let rec = md.record(t).unwrap();
            assert!(rec.location_href.ends_with(&format!(".xml{suffix}")));
            // same content as createrepo_c's gzip files
            let b = repomd(theirs.path());
            assert_same_text(
                t,
                &open_file(ours.path(), &md, t),
                &open_file(theirs.path(), &b, t),
            );
        }
        assert_only_referenced_files(ours.path());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if p.file_name().unwrap() != "repodata" {
                out.extend(walk(&p));
            }
        } else {
            out.push(p);
        }
    }
    out
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        copy_keep_mtime(&p, &dst.join(p.file_name().unwrap()));
    }
}

/// repodata/ holds exactly repomd.xml and the files it references.
fn assert_only_referenced_files(dir: &Path) {
    let md = repomd(dir);
    let mut expected: BTreeSet<String> = md
        .records
        .iter()
        .map(|r| r.file_name().to_owned())
        .collect();
    expected.insert("repomd.xml".into());
    let present: BTreeSet<String> = std::fs::read_dir(dir.join("repodata"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(present, expected);
}

/// Parses the summary line: `(R read, U reused, S skipped)`.
fn summary(stderr: &str) -> (usize, usize, usize) {
    let line = stderr
        .lines()
        .find(|l| l.contains("rpmbucket: indexed"))
        .unwrap_or_else(|| panic!("no summary line in {stderr:?}"));
    let inner = line.rsplit_once('(').unwrap().1.trim_end_matches(')');
    let nums: Vec<usize> = inner
        .split(", ")
        .map(|p| p.split(' ').next().unwrap().parse().unwrap())
        .collect();
    (nums[0], nums[1], nums[2])
}

#[test]
fn update_reads_only_new_packages_and_matches_full_index() {
    let dir = tempfile::tempdir().unwrap();
    let rpms = some_rpms(dir.path(), 30);
    let n = rpms.len();
    // Hold one package back, index, then add it.
    let held = dir.path().join("held.rpm.tmp");
    std::fs::rename(&rpms[5], &held).unwrap();
    let s = index_ok(dir.path(), &[]);
    assert_eq!(summary(&s), (n - 1, 0, 0));
    let before = repomd(dir.path());
    std::fs::rename(&held, &rpms[5]).unwrap();

    let s = index_ok_env(dir.path(), &["--update"], NO_GRACE);
    assert_eq!(summary(&s), (1, n - 1, 0), "{s}");
    assert_only_referenced_files(dir.path());
    let after = repomd(dir.path());
    assert_ne!(
        before.record("primary").unwrap().checksum,
        after.record("primary").unwrap().checksum
    );

    // The result equals createrepo_c's for the same directory.
    let theirs = tempfile::tempdir().unwrap();
    for e in walk(dir.path()) {
        copy_keep_mtime(&e, &theirs.path().join(e.strip_prefix(dir.path()).unwrap()));
    }
    createrepo(theirs.path());
    compare_with_createrepo(dir.path(), theirs.path());

    // --update on top of createrepo_c's metadata reuses every record and changes nothing.
    let again = tempfile::tempdir().unwrap();
    for e in walk(theirs.path()) {
        copy_keep_mtime(
            &e,
            &again.path().join(e.strip_prefix(theirs.path()).unwrap()),
        );
    }
    copy_dir(
        &theirs.path().join("repodata"),
        &again.path().join("repodata"),
    );
    let s = index_ok(again.path(), &["--update"]);
    assert_eq!(summary(&s), (0, n, 0), "{s}");
    compare_with_createrepo(again.path(), theirs.path());

    // Broken old metadata: a warning, then every package is read.
    let md = repomd(again.path());
    let other = again
        .path()
        .join(&md.record("other").unwrap().location_href);
    let bytes = std::fs::read(&other).unwrap();
    std::fs::write(&other, &bytes[..bytes.len() / 2]).unwrap();
    let s = index_ok(again.path(), &["--update"]);
    assert!(s.contains("warning"), "{s}");
    let (read, reused, skipped) = summary(&s);
    assert_eq!((read + reused, skipped), (n, 0), "{s}");
    compare_with_createrepo(again.path(), theirs.path());

    // A changed file (new mtime) is read again; a removed one disappears.
    let f = std::fs::File::options().write(true).open(&rpms[0]).unwrap();
    f.set_modified(std::time::SystemTime::now()).unwrap();
    drop(f);
    std::fs::remove_file(&rpms[1]).unwrap();
    let s = index_ok(dir.path(), &["--update"]);
    assert_eq!(summary(&s), (1, n - 2, 0), "{s}");
    let md = repomd(dir.path());
    let primary = String::from_utf8(open_file(dir.path(), &md, "primary")).unwrap();
    assert!(primary.contains(&format!("packages=\"{}\"", n - 1)));
    let gone = rpms[1].strip_prefix(dir.path()).unwrap().to_str().unwrap();
    assert!(!primary.contains(&format!("href=\"{gone}\"")));
}

#[test]
fn bad_files_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    some_rpms(dir.path(), 20);
    let mut bad = Vec::new();
    let corpus_bad = rpmbucket_tests::corpus_dir()
        .map(|c| walk(&c.join("bad")))
        .unwrap_or_default();
    for e in corpus_bad {
        if e.extension().is_some_and(|x| x == "rpm") {
            let dst = dir.path().join("bad").join(format!(
                "{}-{}",
                bad.len(),
                e.file_name().unwrap().to_string_lossy()
            ));
            copy_keep_mtime(&e, &dst);
            bad.push(dst);
        }
    }
    std::fs::write(dir.path().join("empty.rpm"), b"").unwrap();
    std::fs::write(dir.path().join("text.rpm"), b"this is not an rpm\n").unwrap();
    let good = dir.path().join("Packages");
    let first_good = std::fs::read_dir(&good)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let truncated = dir.path().join("truncated.rpm");
    let bytes = std::fs::read(&first_good).unwrap();
    std::fs::write(&truncated, &bytes[..200.min(bytes.len())]).unwrap();

    let out = index(dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let (read, _, skipped) = summary(&stderr);
    let skip_lines: Vec<&str> = stderr.lines().filter(|l| l.contains("skipping")).collect();
    assert_eq!(skip_lines.len(), skipped, "one line per bad file: {stderr}");
    for p in ["empty.rpm", "text.rpm", "truncated.rpm"] {
        assert!(
            skip_lines
                .iter()
                .any(|l| l.contains(p) && l.split(": ").count() >= 3),
            "{p} not reported with a reason: {stderr}"
        );
    }

    // createrepo_c must refuse the same files, except those we refuse on purpose: a payload
    // that does not match its header digest (createrepo_c indexes it; rpm would not install it).
    let deliberate: Vec<PathBuf> = skip_lines
        .iter()
        .filter(|l| l.contains("payload digest mismatch"))
        .map(|l| {
            let path = l.trim_start_matches("rpmbucket: skipping ");
            PathBuf::from(&path[..path.find(": ").unwrap()])
        })
        .collect();
    let theirs = tempfile::tempdir().unwrap();
    for e in walk(dir.path()) {
        copy_keep_mtime(&e, &theirs.path().join(e.strip_prefix(dir.path()).unwrap()));
    }
    createrepo(theirs.path());
    let count = |d: &Path| {
        let md = repomd(d);
        String::from_utf8(open_file(d, &md, "primary"))
            .unwrap()
            .matches("<package type=\"rpm\">")
            .count()
    };
    assert_eq!(
        read + deliberate.len(),
        count(theirs.path()),
        "createrepo_c's count differs; {stderr}"
    );
    for p in &deliberate {
        std::fs::remove_file(theirs.path().join(p.strip_prefix(dir.path()).unwrap())).unwrap();
    }
    std::fs::remove_dir_all(theirs.path().join("repodata")).unwrap();
    createrepo(theirs.path());
    assert_eq!(read, count(theirs.path()));
    compare_with_createrepo(dir.path(), theirs.path());

    // --strict: exit status 2 and the published repodata is left alone.
    let before = std::fs::read(dir.path().join("repodata/repomd.xml")).unwrap();
    let out = index(dir.path(), &["--strict", "--revision", "999"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read(dir.path().join("repodata/repomd.xml")).unwrap(),
        before
    );
    assert_only_referenced_files(dir.path());

    // Without bad files --strict succeeds.
    for p in bad.iter().chain([
        &dir.path().join("empty.rpm"),
        &dir.path().join("text.rpm"),
        &truncated,
    ]) {
        std::fs::remove_file(p).unwrap();
    }
    let s = index_ok(dir.path(), &["--strict"]);
    assert_eq!(summary(&s).2, 0);
}

#[test]
fn strict_on_a_fresh_directory_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    some_rpms(dir.path(), 3);
    std::fs::write(dir.path().join("broken.rpm"), b"\xed\xab\xee\xdb garbage").unwrap();
    let out = index(dir.path(), &["--strict"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.rpm"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n == "repodata" || n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn errors_exit_with_status_1() {
    let out = index(Path::new("/nonexistent/rpmbucket-test-dir"), &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/rpmbucket-test-dir"),
        "{stderr}"
    );
    let out = index(Path::new("."), &["--compress-type", "lzma"]);
    assert_eq!(out.status.code(), Some(1), "usage errors exit 1");
    let help = Command::new(bin())
        .args(["index", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("Exit status:"), "{help}");
}

/// While the repository is re-indexed again and again, a reader that loads repomd.xml and then
/// every file it references never finds one missing.
#[test]
fn readers_never_see_a_half_written_repodata() {
    let dir = tempfile::tempdir().unwrap();
    let rpms = some_rpms(dir.path(), 20);
    index_ok(dir.path(), &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let root = dir.path().to_owned();
    let reader = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut checks = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let xml = std::fs::read(root.join("repodata/repomd.xml"))
                    .expect("repomd.xml always exists");
                let md = Repomd::parse(&xml).expect("repomd.xml always complete");
                for r in &md.records {
                    let p = root.join(&r.location_href);
                    // Files may be deleted after a newer repomd.xml replaced this one; only a
                    // file missing while this repomd.xml is still current is an error.
                    if !p.exists() {
                        let now = std::fs::read(root.join("repodata/repomd.xml")).unwrap();
                        assert_ne!(
                            now, xml,
                            "{} referenced by the current repomd.xml is missing",
                            r.location_href
                        );
                    }
                }
                checks += 1;
            }
            checks
        })
    };
    for round in 0..6 {
        // Alternate the package set so every round publishes new files and deletes old ones.
        let p = &rpms[round % rpms.len()];
        let hidden = p.with_extension("hidden");
        std::fs::rename(p, &hidden).unwrap();
        index_ok_env(dir.path(), &["--update"], NO_GRACE);
        std::fs::rename(&hidden, p).unwrap();
        index_ok_env(dir.path(), &[], NO_GRACE);
    }
    stop.store(true, Ordering::Relaxed);
    let checks = reader.join().expect("reader saw a broken repository");
    assert!(checks > 0);
    assert_only_referenced_files(dir.path());
}

/// File names (under repodata/) the current repomd.xml references.
fn referenced_names(dir: &Path) -> BTreeSet<String> {
    repomd(dir)
        .records
        .iter()
        .map(|r| r.file_name().to_owned())
        .collect()
}

fn set_age(path: &Path, age: std::time::Duration) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - age)
        .unwrap();
}

/// With a grace period (the default, one hour), files a new generation replaces stay, made
/// young again, and an unreferenced content-addressed file is removed only once older than
/// the grace period: a young one (another publisher's, written before its swap) is left alone.
#[test]
fn replaced_files_stay_for_the_grace_period_and_only_old_orphans_go() {
    let dir = tempfile::tempdir().unwrap();
    let rpms = some_rpms(dir.path(), 10);
    index_ok(dir.path(), &[]);
    let first = referenced_names(dir.path());
    let hidden = rpms[3].with_extension("hidden");
    std::fs::rename(&rpms[3], &hidden).unwrap();
    let before = std::time::SystemTime::now() - std::time::Duration::from_secs(2);
    index_ok(dir.path(), &[]);
    let second = referenced_names(dir.path());
    let replaced: Vec<&String> = first.difference(&second).collect();
    assert!(
        replaced.len() >= 3,
        "primary, filelists, other: {replaced:?}"
    );
    let repodata = dir.path().join("repodata");
    for name in &replaced {
        let mtime = std::fs::metadata(repodata.join(name))
            .unwrap_or_else(|e| panic!("replaced {name} deleted within the grace period: {e}"))
            .modified()
            .unwrap();
        assert!(mtime >= before, "replaced {name} was not made young again");
    }

    // An orphan written just now, and one written two hours ago (a crashed run); the
    // replaced files age past the grace period too.
    let two_hours = std::time::Duration::from_secs(7200);
    let young = repodata.join(format!("{}-primary.xml.gz", "a".repeat(64)));
    let old = repodata.join(format!("{}-filelists.xml.gz", "b".repeat(64)));
    std::fs::write(&young, b"young").unwrap();
    std::fs::write(&old, b"old").unwrap();
    set_age(&old, two_hours);
    for name in &replaced {
        set_age(&repodata.join(name), two_hours);
    }
    index_ok(dir.path(), &[]);
    assert!(young.exists(), "a young unreferenced file was swept");
    assert!(!old.exists(), "an old orphan was kept");
    for name in &replaced {
        assert!(
            !repodata.join(name).exists(),
            "{name}: replaced more than the grace period ago, still there"
        );
    }
    for name in referenced_names(dir.path()) {
        assert!(repodata.join(&name).is_file(), "{name} is referenced");
    }
}

fn serve(root: &Path) -> rpmbucket_tests::Served {
    rpmbucket_tests::serve(&bin(), root)
}

/// The package file names the current repomd.xml's primary lists (`None` while a file it
/// names cannot be read: the caller looks again).
fn published_names(repo: &Path) -> Option<BTreeSet<String>> {
    let xml = rpmbucket_tests::repodata_xml(repo, "primary").ok()?;
    Some(
        xml.split("<location href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(|href| href.rsplit('/').next().unwrap_or(href).to_owned())
            .collect(),
    )
}

/// A valid package of about `size` bytes (an uncompressed payload of pseudo-random bytes).
fn large_package(dir: &Path, size: usize) -> PathBuf {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let body: Vec<u8> = (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut b = rpm::PackageBuilder::new("synth-large", "1.0", "MIT", "noarch", "A large one");
    b.using_config(
        rpm::BuildConfig::default()
            .compression(rpm::CompressionWithLevel::None)
            .source_date(1_700_000_000),
    );
    b.with_file_contents(body, rpm::FileOptions::new("/usr/share/synth-large/blob"))
        .unwrap();
    let path = dir.join("synth-large-1.0-1.noarch.rpm");
    b.build().unwrap().write_file(&path).unwrap();
    path
}

/// `index` and `serve` publish the same directory at once. No packages are removed, so once
/// a repomd.xml lists a package every later one must list it too (an `index` that walked the
/// directory before an upload must not swap its older generation over `serve`'s publish of
/// it, nor `serve` over `index`'s), every file a current repomd.xml names exists, and in the
/// end every upload `serve` acknowledged (201) is listed.
#[test]
fn index_and_serve_on_one_directory_lose_nothing() {
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("el9/x86_64");
    let pool = tempfile::tempdir().unwrap();
    let mut pkgs = rpmbucket_tests::gen::generate(32, pool.path(), 17, 2).unwrap();
    let uploads = pkgs.split_off(8);
    // One large package, so that each index run spends a while hashing it between its walk
    // and its swap: serve publishes uploads in that window.
    pkgs.push(large_package(pool.path(), 80 << 20));
    for p in &pkgs {
        copy_keep_mtime(p, &repo.join(p.file_name().unwrap()));
    }
    pkgs.extend(uploads.iter().cloned());
    index_ok(&repo, &[]);
    let server = serve(root.path());
    let url = format!("{}/el9/x86_64/", server.base);

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (stop, repo) = (Arc::clone(&stop), repo.clone());
        std::thread::spawn(move || {
            let mut observations = 0u64;
            let mut listed: BTreeSet<String> = BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                let Some(names) = published_names(&repo) else {
                    // A file the repomd.xml named is unreadable: only acceptable if that
                    // repomd.xml is no longer current.
                    let md = std::fs::read(repo.join("repodata/repomd.xml")).unwrap();
                    let parsed = Repomd::parse(&md).unwrap();
                    let missing: Vec<_> = parsed
                        .records
                        .iter()
                        .filter(|r| !repo.join(&r.location_href).is_file())
                        .map(|r| r.location_href.clone())
                        .collect();
                    if !missing.is_empty() {
                        let now = std::fs::read(repo.join("repodata/repomd.xml")).unwrap();
                        assert_ne!(now, md, "the current repomd.xml names missing {missing:?}");
                    }
                    continue;
                };
                let lost: Vec<_> = listed.difference(&names).collect();
                assert!(
                    lost.is_empty(),
                    "published before, missing from a later repomd.xml: {lost:?}"
                );
                listed = names;
                observations += 1;
            }
            observations
        })
    };
    let indexer = {
        let (stop, repo) = (Arc::clone(&stop), repo.clone());
        std::thread::spawn(move || {
            let mut runs = 0u32;
            let mut again = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let s = index_ok(&repo, &["--workers", "1"]);
                again += s.matches("indexing again").count() as u32;
                runs += 1;
            }
            (runs, again)
        })
    };
    for p in &uploads {
        let out = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T"])
            .arg(p)
            .arg(&url)
            .output()
            .expect("curl");
        let code = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(code, "201", "upload of {}: {:?}", p.display(), out);
        // Spread the uploads over many index runs (serve publishes each after 200 ms).
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    // serve publishes after its 201: wait for the last uploads (index keeps running).
    let all: BTreeSet<String> = pkgs
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while published_names(&repo).as_ref() != Some(&all) {
        assert!(
            std::time::Instant::now() < deadline,
            "uploads not published within 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    std::thread::sleep(std::time::Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let observations = watcher.join().expect("the watcher found a lost update");
    let (runs, again) = indexer.join().expect("index failed");
    eprintln!("index runs: {runs} ({again} started again), observations: {observations}");
    assert!(runs >= 2 && observations > 0);
    assert_eq!(published_names(&repo).unwrap(), all);
    index_ok(&repo, &[]);
    assert_eq!(published_names(&repo).unwrap(), all);
}

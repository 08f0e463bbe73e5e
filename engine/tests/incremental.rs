//! Incremental publishing against createrepo_c: after every batch of additions, removals and
//! overwrites, the repository the engine publishes (built from copied gzip members or zstd
//! frames of unchanged chunks and databases updated in place) holds the same XML, byte for byte once
//! decompressed, and the same database rows as `createrepo_c` run on the same directory; and
//! dnf and zypper read it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rpmbucket_engine::state::State;
use rpmbucket_engine::store::local::LocalStore;
use rpmbucket_engine::{
    Change, Compression, Indexer, IndexerOptions, Layout, MetadataCache, Profile, RepoConfig,
};
use rpmbucket_repodata::repomd::Repomd;
use rusqlite::types::Value;
use rusqlite::Connection;

fn repomd(dir: &Path) -> Repomd {
    Repomd::parse(&std::fs::read(dir.join("repodata/repomd.xml")).unwrap()).unwrap()
}

fn open_file(dir: &Path, md: &Repomd, t: &str) -> Vec<u8> {
    rpmbucket_tests::read_decompressed(&dir.join(&md.record(t).unwrap().location_href)).unwrap()
}

/// The state the repository's repomd.xml references.
fn state(dir: &Path) -> State {
    let md = repomd(dir);
    let rec = md.record("rpmbucket-state").expect("state record");
    State::decode(&std::fs::read(dir.join(&rec.location_href)).unwrap()).unwrap()
}

/// Rows of every table of a database, `pkgKey` replaced by the package's `pkgId`, sorted: what a
/// client can observe (keys are internal and differ between an updated and a fresh database).
fn db_rows(dir: &Path, md: &Repomd, t: &str, tmp: &Path) -> BTreeMap<String, Vec<String>> {
    let path = tmp.join(format!(
        "{}-{t}.sqlite",
        dir.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&path, open_file(dir, md, t)).unwrap();
    let c = Connection::open(&path).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = BTreeMap::new();
    for table in tables {
        let cols: Vec<String> = c
            .prepare(&format!("PRAGMA table_info({table})"))
            .unwrap()
            .query_map([], |r| r.get(1))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let select: Vec<String> = cols
            .iter()
            .map(|col| match (table.as_str(), col.as_str()) {
                ("packages", "pkgKey") => "NULL".to_string(),
                (_, "pkgKey") => "(SELECT pkgId FROM packages p WHERE p.pkgKey = t.pkgKey)".into(),
                _ => format!("t.{col}"),
            })
            .collect();
        let sql = format!("SELECT {} FROM {table} t", select.join(", "));
        let mut st = c.prepare(&sql).unwrap();
        let n = st.column_count();
        let mut rows: Vec<String> = st
            .query_map([], |r| {
                (0..n)
                    .map(|i| r.get::<_, Value>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap()
            .map(|r| format!("{:?}", r.unwrap()))
            .collect();
        rows.sort();
        out.insert(table, rows);
    }
    let integrity: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "{t} integrity");
    out
}

/// The packages under `dir`, at any depth.
fn rpms(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(rpms(&p));
        } else if p.extension().is_some_and(|x| x == "rpm") {
            out.push(p);
        }
    }
    out
}

/// createrepo_c on a hard-linked copy of the packages in `dir`.
fn oracle(dir: &Path, database: bool) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for p in rpms(dir) {
        let dst = copy.path().join(p.strip_prefix(dir).unwrap());
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::hard_link(&p, dst).unwrap();
    }
    let flag = if database {
        "--database"
    } else {
        "--no-database"
    };
    rpmbucket_tests::createrepo_c(copy.path(), &[flag]).unwrap();
    copy
}

fn assert_matches_createrepo_c(dir: &Path, database: bool) {
    let theirs = oracle(dir, database);
    let (a, b) = (repomd(dir), repomd(theirs.path()));
    for t in ["primary", "filelists", "other"] {
        let (x, y) = (open_file(dir, &a, t), open_file(theirs.path(), &b, t));
        let rec = a.record(t).unwrap();
        assert_eq!(x.len() as u64, rec.open_size.unwrap(), "{t} open-size");
        assert_eq!(
            common::sha256_hex(&x),
            rec.open_checksum.clone().unwrap(),
            "{t} open-checksum"
        );
        if x != y {
            let (xs, ys) = (String::from_utf8_lossy(&x), String::from_utf8_lossy(&y));
            let line = xs
                .lines()
                .zip(ys.lines())
                .position(|(p, q)| p != q)
                .unwrap_or(0);
            panic!(
                "{t}.xml differs from createrepo_c's at line {}:\n  ours:   {:?}\n  theirs: {:?}",
                line + 1,
                xs.lines().nth(line),
                ys.lines().nth(line)
            );
        }
    }
    if database {
        let tmp = tempfile::tempdir().unwrap();
        for t in ["primary_db", "filelists_db", "other_db"] {
            let (ours, theirs_rows) = (
                db_rows(dir, &a, t, tmp.path()),
                db_rows(theirs.path(), &b, t, tmp.path()),
            );
            let (mut ours, mut theirs_rows) = (ours, theirs_rows);
            // db_info names each tool's own XML checksum.
            ours.remove("db_info");
            theirs_rows.remove("db_info");
            assert_eq!(ours, theirs_rows, "{t} rows");
        }
    }
}

/// Number of gzip members or zstd frames in a file.
fn members(path: &Path) -> usize {
    let raw = std::fs::read(path).unwrap();
    let mut rest = &raw[..];
    let mut n = 0;
    let zstd = path.to_string_lossy().ends_with(".zst");
    while !rest.is_empty() {
        if zstd {
            let len = zstd::zstd_safe::find_frame_compressed_size(rest).unwrap();
            rest = &rest[len..];
        } else {
            let mut d = flate2::bufread::GzDecoder::new(rest);
            std::io::copy(&mut d, &mut std::io::sink()).unwrap();
            rest = d.into_inner();
        }
        n += 1;
    }
    n
}

fn copy_in(dir: &Path, src: &Path, name: &str) -> String {
    let dst = dir.join(name);
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    std::fs::copy(src, dst).unwrap();
    name.to_string()
}

async fn apply(ix: &Indexer, changes: Vec<Change>) {
    let r = ix.apply("", &changes).await.expect("apply");
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
}

fn chunk_hrefs(dir: &Path) -> BTreeSet<String> {
    state(dir).chunks.into_iter().map(|c| c.href).collect()
}

async fn run_sequence(database: bool) -> tempfile::TempDir {
    run_sequence_with(RepoConfig {
        database,
        ..RepoConfig::default()
    })
    .await
}

async fn run_sequence_with(config: RepoConfig) -> tempfile::TempDir {
    run_sequence_cached(config, None).await
}

async fn run_sequence_cached(
    config: RepoConfig,
    cache: Option<MetadataCache>,
) -> tempfile::TempDir {
    let database = config.database;
    let pkgs: Vec<PathBuf> = common::synthetic(40);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::new(dir.path()).unwrap());
    let ix = Indexer::new(store, Layout::new(vec![]), config).with_options(IndexerOptions {
        chunk_target: 4,
        cache,
        ..IndexerOptions::default()
    });

    // 1. 20 packages, full index: chunks of 4..8.
    for (i, p) in pkgs[..20].iter().enumerate() {
        copy_in(dir.path(), p, &format!("p{i:02}.rpm"));
    }
    ix.reindex("").await.unwrap();
    assert_matches_createrepo_c(dir.path(), database);
    let st = state(dir.path());
    assert!(st.chunks.len() >= 3, "{} chunks", st.chunks.len());
    let md = repomd(dir.path());
    let primary = dir
        .path()
        .join(&md.record("primary").unwrap().location_href);
    assert_eq!(
        members(&primary),
        st.chunks.len() + 2,
        "header, chunks, footer"
    );

    // 2. One package: one chunk re-rendered, the others kept.
    let before = chunk_hrefs(dir.path());
    let k = copy_in(dir.path(), &pkgs[20], "p05a.rpm");
    apply(&ix, vec![Change::created(k)]).await;
    assert_matches_createrepo_c(dir.path(), database);
    let after = chunk_hrefs(dir.path());
    assert_eq!(
        before.difference(&after).count(),
        1,
        "exactly one chunk replaced"
    );
    assert_eq!(after.len(), before.len());

    // 3. Grow one chunk past twice the target: it is split.
    let mut changes = Vec::new();
    for (i, p) in pkgs[21..30].iter().enumerate() {
        changes.push(Change::created(copy_in(
            dir.path(),
            p,
            &format!("p10{i}.rpm"),
        )));
    }
    apply(&ix, changes).await;
    assert_matches_createrepo_c(dir.path(), database);
    assert!(chunk_hrefs(dir.path()).len() > after.len(), "split");

    // 4. Remove a whole chunk's worth, overwrite one key with another package, add at the
    //    front and the back.
    let mut changes = Vec::new();
    for i in 0..5 {
        let k = format!("p{i:02}.rpm");
        std::fs::remove_file(dir.path().join(&k)).unwrap();
        changes.push(Change::removed(k));
    }
    changes.push(Change::created(copy_in(dir.path(), &pkgs[30], "p12.rpm")));
    changes.push(Change::created(copy_in(
        dir.path(),
        &pkgs[31],
        "a-first.rpm",
    )));
    changes.push(Change::created(copy_in(
        dir.path(),
        &pkgs[32],
        "z-last.rpm",
    )));
    changes.push(Change::created(copy_in(
        dir.path(),
        &pkgs[33],
        "Packages/p07.rpm",
    )));
    apply(&ix, changes).await;
    assert_matches_createrepo_c(dir.path(), database);

    // 5. Remove everything but one package, then add back.
    let mut changes = Vec::new();
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".rpm") && name != "p13.rpm" {
            std::fs::remove_file(&p).unwrap();
            changes.push(Change::removed(name));
        }
    }
    std::fs::remove_dir_all(dir.path().join("Packages")).unwrap();
    changes.push(Change::removed("Packages/p07.rpm"));
    apply(&ix, changes).await;
    assert_matches_createrepo_c(dir.path(), database);
    assert_eq!(state(dir.path()).chunks.len(), 1);
    let changes = pkgs[34..40]
        .iter()
        .enumerate()
        .map(|(i, p)| Change::created(copy_in(dir.path(), p, &format!("q{i}.rpm"))))
        .collect();
    apply(&ix, changes).await;
    assert_matches_createrepo_c(dir.path(), database);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_xml_matches_createrepo_c() {
    run_sequence(false).await;
}

/// The `modern` profile (zstd XML, no databases): the same sequence, files made of one zstd
/// frame per chunk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_zstd_matches_createrepo_c() {
    let dir = run_sequence_with(RepoConfig::default().with_profile(Profile::Modern)).await;
    let md = repomd(dir.path());
    assert!(md.record("primary_db").is_none());
    for t in ["primary", "filelists", "other"] {
        let href = &md.record(t).unwrap().location_href;
        assert!(href.ends_with(&format!("-{t}.xml.zst")), "{href}");
    }
}

/// A publish that changes one package of a zstd (or gzip) repository reads one chunk and the
/// three current files, not every chunk; an xz repository (one stream per file: clients do not
/// read concatenated xz streams) reads every chunk and renders everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_frames_are_copied_for_zstd_and_gzip_not_xz() {
    let pkgs: Vec<PathBuf> = common::synthetic(25);
    for compression in [Compression::Zstd, Compression::Gz, Compression::Xz] {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(LocalStore::new(dir.path()).unwrap());
        let config = RepoConfig::default()
            .with_compression(compression)
            .with_database(false);
        let ix =
            Indexer::new(store.clone(), Layout::new(vec![]), config).with_options(IndexerOptions {
                chunk_target: 2,
                ..IndexerOptions::default()
            });
        for (i, p) in pkgs[..24].iter().enumerate() {
            copy_in(dir.path(), p, &format!("p{i:02}.rpm"));
        }
        ix.reindex("").await.unwrap();
        let chunks = state(dir.path()).chunks.len();
        assert_eq!(chunks, 12, "{compression:?}");
        let k = copy_in(dir.path(), &pkgs[24], "p05a.rpm");
        let r = ix.apply("", &[Change::created(k)]).await.unwrap();
        assert_matches_createrepo_c(dir.path(), false);
        let gets = r.requests.get + r.requests.get_range + r.requests.get_stream;
        let primary = dir
            .path()
            .join(&repomd(dir.path()).record("primary").unwrap().location_href);
        if compression.concatenates() {
            // repomd.xml, the state, the changed chunk, primary, filelists, other (and the new
            // package's header).
            assert!(gets <= 8, "{compression:?}: {gets} reads: {:?}", r.requests);
            assert_eq!(members(&primary), chunks + 2, "{compression:?}");
        } else {
            assert!(
                gets >= 2 + chunks as u64,
                "{compression:?}: {gets} reads: {:?}",
                r.requests
            );
            // One xz stream: a single-stream decoder reads the whole content.
            let raw = std::fs::read(&primary).unwrap();
            let mut out = Vec::new();
            xz2::read::XzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .unwrap();
            let rec = repomd(dir.path());
            assert_eq!(
                out.len() as u64,
                rec.record("primary").unwrap().open_size.unwrap()
            );
        }
    }
}

/// Switching profiles rewrites the repository once, in the new format, and the files of the
/// previous format stay (as garbage within the grace period) for clients that read the
/// previous repomd.xml; the next publish in the new format copies frames again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_profiles_rewrites_once_and_keeps_old_files() {
    let pkgs: Vec<PathBuf> = common::synthetic(23);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::new(dir.path()).unwrap());
    let options = IndexerOptions {
        chunk_target: 2,
        ..IndexerOptions::default()
    };
    let ix = |p: Profile| {
        Indexer::new(
            store.clone(),
            Layout::new(vec![]),
            RepoConfig::default().with_profile(p),
        )
        .with_options(options.clone())
        .overriding_settings()
    };
    for (i, p) in pkgs[..20].iter().enumerate() {
        copy_in(dir.path(), p, &format!("p{i:02}.rpm"));
    }
    ix(Profile::Compat).reindex("").await.unwrap();
    for (n, (to, suffix)) in [
        (Profile::Modern, ".xml.zst"),
        (Profile::Compat, ".xml.gz"),
        (Profile::Modern, ".xml.zst"),
    ]
    .into_iter()
    .enumerate()
    {
        let n = 20 + n;
        let before: Vec<String> = repomd(dir.path())
            .records
            .iter()
            .map(|r| r.location_href.clone())
            .collect();
        // The switch itself: no package change, everything rendered in the new format.
        let r = ix(to).apply("", &[]).await.unwrap();
        assert!(!r.unchanged, "{to:?}");
        let md = repomd(dir.path());
        for t in ["primary", "filelists", "other"] {
            assert!(md.record(t).unwrap().location_href.ends_with(suffix));
        }
        assert_eq!(md.record("primary_db").is_some(), to == Profile::Compat);
        assert_matches_createrepo_c(dir.path(), to == Profile::Compat);
        for href in &before {
            assert!(dir.path().join(href).is_file(), "{href} collected early");
        }
        // Then an ordinary publish copies the unchanged chunks' frames.
        let k = copy_in(dir.path(), &pkgs[n], &format!("q{n}.rpm"));
        let r = ix(to).apply("", &[Change::created(k)]).await.unwrap();
        assert_matches_createrepo_c(dir.path(), to == Profile::Compat);
        // repomd.xml, the state, one chunk, three XML files, the package (and the three
        // databases); rendering from records would read all ten chunks.
        let gets = r.requests.get + r.requests.get_range + r.requests.get_stream;
        let databases = if to == Profile::Compat { 3 } else { 0 };
        assert!(state(dir.path()).chunks.len() >= 10);
        assert!(
            gets <= 8 + databases,
            "{to:?}: {gets} reads: {:?}",
            r.requests
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_databases_match_createrepo_c() {
    let dir = run_sequence(true).await;
    // The databases are bzip2 streams of independent blocks: still one stream (what yum's
    // Python 2 bz2 module and libsolv read), decoded whole by a single-stream decoder.
    let md = repomd(dir.path());
    for t in ["primary_db", "filelists_db", "other_db"] {
        let rec = md.record(t).unwrap();
        let raw = std::fs::read(dir.path().join(&rec.location_href)).unwrap();
        let mut out = Vec::new();
        bzip2::read::BzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len() as u64, rec.open_size.unwrap(), "{t}");
        assert_eq!(state(dir.path()).db_blocks.len(), 3);
    }
}

/// With a local cache of what it published, the indexer builds the same repositories (the
/// createrepo_c comparison after every step, databases included) without reading the current
/// metadata files back: a publish reads `repomd.xml`, the state and the changed chunk. A
/// damaged cache entry is noticed and the store is read instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_of_published_files_saves_the_reads() {
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = MetadataCache::new(cache_dir.path(), 1 << 30).unwrap();
    let dir = run_sequence_cached(RepoConfig::default(), Some(cache.clone())).await;
    let md = repomd(dir.path());
    let metadata: u64 = ["primary", "filelists", "other"]
        .iter()
        .chain(&["primary_db", "filelists_db", "other_db"])
        .map(|t| md.record(t).unwrap().size)
        .sum();
    // Every published file and the three uncompressed databases are in the cache.
    for t in ["primary", "filelists", "other", "primary_db"] {
        assert!(
            cache_dir
                .path()
                .join(&md.record(t).unwrap().checksum)
                .is_file(),
            "{t}"
        );
    }
    for t in ["primary_db", "filelists_db", "other_db"] {
        let open = md.record(t).unwrap().open_checksum.clone().unwrap();
        assert!(
            cache_dir.path().join(format!("{open}.sqlite")).is_file(),
            "{t}"
        );
    }

    let pkgs = common::synthetic(42);
    let store = Arc::new(LocalStore::new(dir.path()).unwrap());
    let with_cache = |cache: Option<MetadataCache>| {
        Indexer::new(store.clone(), Layout::new(vec![]), RepoConfig::default()).with_options(
            IndexerOptions {
                chunk_target: 4,
                cache,
                ..IndexerOptions::default()
            },
        )
    };
    let k = copy_in(dir.path(), &pkgs[40], "r0.rpm");
    let pkg_size = std::fs::metadata(dir.path().join(&k)).unwrap().len();
    let r = with_cache(Some(cache.clone()))
        .apply("", &[Change::created(k)])
        .await
        .unwrap();
    assert_matches_createrepo_c(dir.path(), true);
    // repomd.xml, the state, one chunk and the package (streamed: no stored checksum).
    assert!(
        r.bytes_read < pkg_size + metadata / 4,
        "read {} bytes with the cache; the metadata is {metadata}",
        r.bytes_read
    );

    // Damage every cached file: the publish notices and reads the store.
    for e in std::fs::read_dir(cache_dir.path()).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            let mut b = std::fs::read(&p).unwrap();
            let at = b.len() / 2;
            b[at] ^= 0x55;
            std::fs::write(&p, b).unwrap();
        }
    }
    let k = copy_in(dir.path(), &pkgs[41], "r1.rpm");
    let r = with_cache(Some(cache.clone()))
        .apply("", &[Change::created(k)])
        .await
        .unwrap();
    assert_matches_createrepo_c(dir.path(), true);
    assert!(r.bytes_read > metadata / 2, "read {}", r.bytes_read);
    // And it is whole again for the next one.
    let md = repomd(dir.path());
    let open = md
        .record("filelists_db")
        .unwrap()
        .open_checksum
        .clone()
        .unwrap();
    assert!(cache_dir.path().join(format!("{open}.sqlite")).is_file());
}

/// dnf and zypper read metadata made of many gzip members and updated databases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnf_and_zypper_read_incremental_metadata() {
    let dir = run_sequence(true).await;
    let url = rpmbucket_tests::file_url(dir.path());
    let expected: BTreeSet<String> = rpms(dir.path())
        .iter()
        .map(|p| rpmbucket_tests::rpm_nevra(p).unwrap())
        .collect();
    assert_eq!(rpmbucket_tests::dnf_nevras(&url).unwrap(), expected);
    let some = rpms(dir.path()).remove(0);
    let name = rpmbucket_tests::rpm_qf(&some, "%{NAME}").unwrap();
    let hits = rpmbucket_tests::zypper_search(&url, &name).unwrap();
    assert!(
        hits.iter().any(|h| h.name == name),
        "zypper finds {name}: {hits:?}"
    );
}

/// A repository keeps the settings it was created with whatever the indexer publishing it is
/// configured with, until an indexer overrides them (`rpmbucket index s3://…` does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_kept_with_the_repository() {
    use rpmbucket_engine::Compression;
    let pkgs: Vec<PathBuf> = common::synthetic(6);
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<LocalStore> = Arc::new(LocalStore::new(dir.path()).unwrap());
    let zstd_nodb = RepoConfig {
        compression: Compression::Zstd,
        database: false,
        ..RepoConfig::default()
    };
    let gz_db = RepoConfig::default();
    let types = |dir: &Path| {
        repomd(dir)
            .records
            .iter()
            .map(|r| r.location_href.rsplit('-').next().unwrap().to_string())
            .collect::<BTreeSet<_>>()
    };
    for (i, p) in pkgs[..3].iter().enumerate() {
        copy_in(dir.path(), p, &format!("p{i}.rpm"));
    }
    let a = Indexer::new(store.clone(), Layout::new(vec![]), zstd_nodb.clone());
    a.reindex("").await.unwrap();
    let zstd_files: BTreeSet<String> = [
        "primary.xml.zst",
        "filelists.xml.zst",
        "other.xml.zst",
        "state.json.gz",
    ]
    .map(String::from)
    .into();
    assert_eq!(types(dir.path()), zstd_files);

    // Another indexer with other settings (say the Lambda's): the repository's win.
    let b = Indexer::new(store.clone(), Layout::new(vec![]), gz_db.clone());
    let k = copy_in(dir.path(), &pkgs[3], "p3.rpm");
    apply(&b, vec![Change::created(k)]).await;
    assert_eq!(types(dir.path()), zstd_files);
    assert_eq!(
        rpmbucket_tests::dnf_nevras(&rpmbucket_tests::file_url(dir.path()))
            .unwrap()
            .len(),
        4
    );

    // An override changes and stores them, even with no package change.
    let r = b.clone().overriding_settings().reindex("").await.unwrap();
    assert!(!r.unchanged);
    assert!(types(dir.path()).contains("primary.sqlite.bz2"));
    assert!(types(dir.path()).contains("primary.xml.gz"));
    assert_matches_createrepo_c(dir.path(), true);
    let k = copy_in(dir.path(), &pkgs[4], "p4.rpm");
    apply(&a, vec![Change::created(k)]).await;
    assert!(types(dir.path()).contains("primary.sqlite.bz2"));
    assert_matches_createrepo_c(dir.path(), true);
    let settings = state(dir.path()).settings.unwrap();
    assert_eq!(
        (settings.compression.as_str(), settings.database),
        ("gz", true)
    );
}

/// Metadata files deleted by hand (a chunk, the state, the current XML or databases, or all of
/// them): the next publish recovers from what is left and publishes what createrepo_c would;
/// with nothing left, an apply refuses and reconcile rebuilds from the packages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_metadata_is_recovered_from() {
    let pkgs: Vec<PathBuf> = common::synthetic(16);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::new(dir.path()).unwrap());
    let ix = Indexer::new(store, Layout::new(vec![]), RepoConfig::default()).with_options(
        IndexerOptions {
            chunk_target: 2,
            // Fewer than the reconcile below reads: its checkpoints must not stop the rebuild.
            reconcile_checkpoint: 2,
            ..IndexerOptions::default()
        },
    );
    for (i, p) in pkgs[..8].iter().enumerate() {
        copy_in(dir.path(), p, &format!("p{i}.rpm"));
    }
    ix.reindex("").await.unwrap();
    let remove = |href: &str| std::fs::remove_file(dir.path().join(href)).unwrap();
    let current = |t: &str| repomd(dir.path()).record(t).unwrap().location_href.clone();

    // A chunk file (the one holding p2 and p3), then a change in it.
    let st = state(dir.path());
    assert_eq!(st.chunks[1].first, "p2.rpm");
    remove(&st.chunks[1].href);
    remove("p3.rpm");
    let k = copy_in(dir.path(), &pkgs[8], "p8.rpm");
    apply(&ix, vec![Change::removed("p3.rpm"), Change::created(k)]).await;
    assert_matches_createrepo_c(dir.path(), true);
    assert!(dir.path().join(current("rpmbucket-state")).exists());

    // The state file.
    remove(&current("rpmbucket-state"));
    let k = copy_in(dir.path(), &pkgs[9], "p9.rpm");
    apply(&ix, vec![Change::created(k)]).await;
    assert_matches_createrepo_c(dir.path(), true);

    // The current XML and databases.
    remove(&current("primary"));
    remove(&current("other_db"));
    let k = copy_in(dir.path(), &pkgs[10], "p10.rpm");
    apply(&ix, vec![Change::created(k)]).await;
    assert_matches_createrepo_c(dir.path(), true);

    // Everything but repomd.xml: an apply cannot know what was published and says so; a
    // reconcile reads the packages again.
    for t in [
        "rpmbucket-state",
        "primary",
        "filelists",
        "other",
        "primary_db",
    ] {
        remove(&current(t));
    }
    let k = copy_in(dir.path(), &pkgs[11], "p11.rpm");
    let err = ix.apply("", &[Change::created(k)]).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    let r = ix.reconcile("").await.unwrap();
    assert_eq!(r.packages, 11, "{r:?}");
    assert_eq!(
        r.checkpoints, 0,
        "nothing published to start from: no checkpoints"
    );
    assert_matches_createrepo_c(dir.path(), true);
}

/// A repository createrepo_c made: its records are taken over without reading the packages
/// whose size and modification time are the recorded ones (createrepo_c `--update`'s rule),
/// and a package whose modification time changed is read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn createrepo_c_records_are_taken_over_without_reading() {
    let pkgs: Vec<PathBuf> = common::synthetic(6);
    let dir = tempfile::tempdir().unwrap();
    for (i, p) in pkgs.iter().enumerate() {
        copy_in(dir.path(), p, &format!("p{i}.rpm"));
    }
    rpmbucket_tests::createrepo_c(dir.path(), &["--database"]).unwrap();
    let store = Arc::new(LocalStore::new(dir.path()).unwrap());
    let ix = Indexer::new(store, Layout::new(vec![]), RepoConfig::default());
    let r = ix.reconcile("").await.unwrap();
    assert_eq!(
        (r.hashed_by_stream, r.added.len(), r.removed.len()),
        (0, 0, 0),
        "{r:?}"
    );
    assert_matches_createrepo_c(dir.path(), true);

    // The records now carry ETags: nothing to read or publish.
    let r = ix.reconcile("").await.unwrap();
    assert!(r.unchanged && r.hashed_by_stream == 0, "{r:?}");

    // A package rewritten in place (new modification time) is read again.
    let p = dir.path().join("p2.rpm");
    let f = std::fs::File::options().append(true).open(&p).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(f);
    let r = ix.reconcile("").await.unwrap();
    assert_eq!(r.hashed_by_stream, 1, "{r:?}");
    assert_matches_createrepo_c(dir.path(), true);
}

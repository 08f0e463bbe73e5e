//! Profiles end to end: a `modern` repository (zstd XML, no sqlite) after 20 incremental
//! publishes, its files made of one zstd frame per chunk, read by real dnf (a directory and a
//! moto bucket) and zypper (both); and a repository switched compat → modern →
//! compat with the real `rpmbucket config` that dnf installs from at every step.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use rpmbucket_engine::testkit::moto;
use rpmbucket_engine::{
    Change, Indexer, IndexerOptions, Layout, LocalStore, ObjectStore, Profile, PutOptions,
    RepoConfig,
};
use rpmbucket_repodata::repomd::Repomd;
use rpmbucket_tests::{
    dnf_install, dnf_nevras, file_url, fixture, fx, rpm_nevra, rpmbucket_bin, zypper_install,
};

/// Fixtures published one per publish (the two with a space or a `+` in the file name and the
/// source package are left out: this test is about the metadata).
const FIXTURES: [&str; 13] = [
    fx::BASIC,
    fx::CHANGELOG,
    fx::CONFLICT,
    fx::DEPS,
    fx::EPOCH,
    fx::LATIN1,
    fx::LIB_1_0,
    fx::LIB_1_2,
    fx::MANY,
    fx::META,
    fx::NAMES,
    fx::UTF8,
    fx::X86,
];

async fn repomd(store: &dyn ObjectStore, root: &str) -> Repomd {
    let (b, _) = store
        .get(&format!("{root}repodata/repomd.xml"))
        .await
        .unwrap();
    Repomd::parse(&b).unwrap()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// Number of zstd frames in `raw` (each one checked whole).
fn frames(raw: &[u8]) -> usize {
    let mut rest = raw;
    let mut n = 0;
    while !rest.is_empty() {
        let len = zstd::zstd_safe::find_frame_compressed_size(rest).expect("a zstd frame");
        rest = &rest[len..];
        n += 1;
    }
    n
}

/// 20 publishes into a `modern` repository at `root` of `store`, one package each; dnf and
/// zypper then list and install from `url`.
async fn twenty_publishes(store: Arc<dyn ObjectStore>, root: &str, url: String) {
    let ix = Indexer::new(
        store.clone(),
        Layout::new(vec![]),
        RepoConfig::default().with_profile(Profile::Modern),
    )
    .with_options(IndexerOptions {
        chunk_target: 2,
        ..IndexerOptions::default()
    });
    let gen = tempfile::tempdir().unwrap();
    let synthetic = rpmbucket_tests::gen::generate(7, gen.path(), 11, 1).unwrap();
    let files: Vec<PathBuf> = FIXTURES
        .iter()
        .map(|f| fixture(f))
        .chain(synthetic)
        .collect();
    assert_eq!(files.len(), 20);
    let mut expected = BTreeSet::new();
    let mut previous_frames = 0;
    for (i, file) in files.iter().enumerate() {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let key = format!("{root}{name}");
        store
            .put(
                &key,
                Bytes::from(std::fs::read(file).unwrap()),
                PutOptions::default(),
            )
            .await
            .unwrap();
        let r = ix.apply(root, &[Change::created(key)]).await.unwrap();
        assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        assert_eq!(r.packages, i + 1);
        expected.insert(rpm_nevra(file).unwrap());
        let md = repomd(&*store, root).await;
        assert!(md.record("primary_db").is_none(), "modern: no sqlite");
        let primary = md.record("primary").unwrap();
        assert!(primary.location_href.ends_with("-primary.xml.zst"));
        let (raw, _) = store
            .get(&format!("{root}{}", primary.location_href))
            .await
            .unwrap();
        previous_frames = frames(&raw);
    }
    // Header, about ten chunks of two, footer.
    assert!(previous_frames >= 8, "{previous_frames} frames");

    let u = url.clone();
    let listed = blocking(move || dnf_nevras(&u).unwrap()).await;
    assert_eq!(listed, expected);
    let u = url.clone();
    blocking(move || {
        let root = tempfile::tempdir().unwrap();
        dnf_install(&u, "fx-meta", root.path()).unwrap();
        assert!(root.path().join("usr/share/fx-basic/data.txt").is_file());
        let zroot = tempfile::tempdir().unwrap();
        zypper_install(&u, "fx-lib", zroot.path()).unwrap();
        let out = rpmbucket_tests::run(
            Command::new("rpm")
                .arg("--root")
                .arg(zroot.path())
                .args(["-q", "fx-lib"]),
        )
        .unwrap();
        assert!(out.starts_with("fx-lib-1.2-1"), "{out}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn modern_repository_after_twenty_publishes_in_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()).unwrap());
    let url = file_url(&dir.path().join("el9"));
    twenty_publishes(store, "el9/", url).await;
}

/// zypper opens a repository with an anonymous HEAD of repomd.xml: the bucket policy of
/// `make_public` allows it on moto too.
#[tokio::test(flavor = "multi_thread")]
async fn modern_repository_after_twenty_publishes_in_a_bucket() {
    let server = moto().await;
    let bucket = server.new_bucket().await;
    server.make_public(&bucket).await;
    let url = format!("{}el9/", server.base_url(&bucket));
    twenty_publishes(Arc::new(bucket), "el9/", url).await;
}

fn rpmbucket_config(repo: &Path, set: &[&str]) -> String {
    let out = Command::new(rpmbucket_bin())
        .arg("config")
        .arg(repo)
        .args(set)
        .env("RPMBUCKET_GRACE_SECONDS", "3600")
        .env_remove("RPMBUCKET_PROFILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rpmbucket config {set:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// An advisory for the switching test (its package need not be in the repository).
const UPDATEINFO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="security@example.org" status="final" type="security" version="1">
    <id>RPMB-2026:0009</id>
    <title>fx-lib update</title>
    <issued date="2026-01-02 00:00:00"/>
    <description>An update.</description>
    <pkglist>
      <collection short="fx">
        <name>fx</name>
        <package name="fx-lib" version="1.2" release="1" epoch="0" arch="noarch">
          <filename>fx-lib-1.2-1.noarch.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
</updates>
"#;

/// compat → modern → compat with `rpmbucket config REPO profile=…`: each switch rewrites the
/// XML and the extra metadata (`updateinfo`) in the new compression (and adds or drops the
/// databases) once; the files of the previous generation stay for the grace period; a later
/// publish by an indexer configured otherwise keeps the repository's profile; dnf installs
/// from it at every step.
#[tokio::test(flavor = "multi_thread")]
async fn switching_profiles_keeps_dnf_working() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().to_path_buf();
    let local: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(&repo).unwrap());
    // The indexer that keeps publishing (the Lambda, say): compat for new repositories.
    let ix = Indexer::new(local.clone(), Layout::new(vec![]), RepoConfig::default());
    let url = file_url(&repo);
    let add = |name: &'static str| {
        std::fs::copy(fixture(name), repo.join(name)).unwrap();
        Change::created(name)
    };
    // Extra metadata published from a source next to the packages: rewritten in the new
    // profile's compression by each switch, its content unchanged.
    std::fs::write(repo.join("updateinfo.xml"), UPDATEINFO).unwrap();
    ix.apply(
        "",
        &[
            add(fx::LIB_1_0),
            add(fx::BASIC),
            Change::created("updateinfo.xml"),
        ],
    )
    .await
    .unwrap();
    let first_updateinfo = repomd(&*local, "")
        .await
        .record("updateinfo")
        .unwrap()
        .clone();
    assert!(first_updateinfo
        .location_href
        .ends_with("updateinfo.xml.gz"));
    let check = |want: &'static str, pkg: &'static str| {
        let url = url.clone();
        async move {
            blocking(move || {
                let root = tempfile::tempdir().unwrap();
                dnf_install(&url, pkg, root.path())
                    .unwrap_or_else(|e| panic!("{want}: dnf install {pkg}: {e}"));
            })
            .await
        }
    };
    check("compat", "fx-basic").await;
    let steps = [
        ("modern", fx::LIB_1_2, "fx-lib-1.2"),
        ("compat", fx::META, "fx-meta"),
        ("modern", fx::UTF8, "fx-utf8"),
    ];
    for (profile, next, pkg) in steps {
        let before = repomd(&*local, "").await;
        let shown = rpmbucket_config(&repo, &[&format!("profile={profile}")]);
        assert!(
            shown.starts_with(&format!("profile={profile}\n")),
            "{shown}"
        );
        let md = repomd(&*local, "").await;
        let (suffix, db) = if profile == "modern" {
            (".xml.zst", false)
        } else {
            (".xml.gz", true)
        };
        for t in ["primary", "filelists", "other"] {
            let href = &md.record(t).unwrap().location_href;
            assert!(href.ends_with(suffix), "{profile}: {href}");
        }
        assert_eq!(md.record("primary_db").is_some(), db, "{profile}");
        let updateinfo = md.record("updateinfo").unwrap();
        let want = format!("updateinfo.xml{}", &suffix[4..]);
        assert!(
            updateinfo.location_href.ends_with(&want),
            "{profile}: {}",
            updateinfo.location_href
        );
        assert_eq!(
            (&updateinfo.open_checksum, updateinfo.open_size),
            (&first_updateinfo.open_checksum, first_updateinfo.open_size),
            "{profile}: the same content"
        );
        // Clients that read the previous repomd.xml still find its files.
        for r in &before.records {
            assert!(repo.join(&r.location_href).is_file(), "{}", r.location_href);
        }
        check(profile, "fx-basic").await;
        // The next package, published by the compat-configured indexer: the repository's
        // profile stays.
        ix.apply("", &[add(next)]).await.unwrap();
        let md = repomd(&*local, "").await;
        assert!(md
            .record("primary")
            .unwrap()
            .location_href
            .ends_with(suffix));
        assert_eq!(md.record("primary_db").is_some(), db, "{profile}");
        check(profile, pkg).await;
    }
}

/// Package file names with `+` and a space, in a moto bucket: dnf (librepo) requests the
/// location href as written, with a literal `+` (and the space as `%20`); S3 REST as moto
/// implements it resolves that to the key with the `+`, so both download and install.
/// AWS S3 website endpoints (and, by reports, REST paths too) decode `+` in a path as a
/// space, which moto cannot show: see README "Package file names with `+`".
#[tokio::test(flavor = "multi_thread")]
async fn plus_and_space_in_file_names_install_from_a_bucket() {
    let server = moto().await;
    let bucket = server.new_bucket().await;
    server.make_public(&bucket).await;
    let url = format!("{}el9/", server.base_url(&bucket));
    let store: Arc<dyn ObjectStore> = Arc::new(bucket);
    let ix = Indexer::new(
        store.clone(),
        Layout::new(vec![]),
        RepoConfig::default().with_profile(Profile::Modern),
    );
    let mut changes = Vec::new();
    for f in [fx::CPP, fx::SPACE] {
        let key = format!("el9/{f}");
        store
            .put(
                &key,
                Bytes::from(std::fs::read(fixture(f)).unwrap()),
                PutOptions::default(),
            )
            .await
            .unwrap();
        changes.push(Change::created(key));
    }
    let r = ix.apply("el9/", &changes).await.unwrap();
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    blocking(move || {
        for pkg in ["fx-c++", "fx-space"] {
            let root = tempfile::tempdir().unwrap();
            let out = dnf_install(&url, pkg, root.path())
                .unwrap_or_else(|e| panic!("dnf install {pkg}: {e}"));
            assert!(out.contains("Complete!"), "{out}");
            let q = rpmbucket_tests::run(
                Command::new("rpm")
                    .arg("--root")
                    .arg(root.path())
                    .args(["-q", pkg]),
            )
            .unwrap();
            assert!(q.starts_with(&format!("{pkg}-1.0-1")), "{q}");
        }
    })
    .await;
}

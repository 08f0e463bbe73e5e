//! Extra metadata as input: `updateinfo.xml`, `comps.xml` and `modules.yaml` stored next to a
//! repository's packages (a directory and a moto bucket, published by the engine as the
//! indexer does after an S3 PUT) become the repomd records modifyrepo_c writes (compared field
//! by field with the real modifyrepo_c), survive the package publishes that follow, and real
//! dnf and zypper read them: advisories, security upgrades, groups, modules, patches. A bad
//! source is rejected with its reason and the published records stay; a new upload replaces
//! them; a delete removes them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rpmbucket_engine::testkit::moto;
use rpmbucket_engine::{
    Change, Indexer, Layout, LocalStore, ObjectStore, PublishReport, PutOptions, RepoConfig,
};
use rpmbucket_repodata::repomd::{Repomd, RepomdRecord};
use rpmbucket_tests::{
    dnf_command, dnf_repoquery, file_url, fixture, fx, rpm_qf, run, zypper_add_repo, zypper_command,
};

const ADVISORY: &str = "RPMB-2026:0002";
const ROOT: &str = "el9/x86_64/";

fn updateinfo(title: &str) -> String {
    let nevra = rpm_qf(
        &fixture(fx::LIB_1_2),
        "%{NAME} %{VERSION} %{RELEASE} %{ARCH}",
    )
    .unwrap();
    let f: Vec<&str> = nevra.split_whitespace().collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="security@example.org" status="final" type="security" version="1">
    <id>{ADVISORY}</id>
    <title>{title}</title>
    <severity>Important</severity>
    <release>fx</release>
    <issued date="2026-01-02 00:00:00"/>
    <updated date="2026-01-03 00:00:00"/>
    <description>Fixes a flaw in fx-lib.</description>
    <references>
      <reference href="https://example.org/CVE-2026-0001" id="CVE-2026-0001" type="cve" title="CVE-2026-0001"/>
    </references>
    <pkglist>
      <collection short="fx">
        <name>fx</name>
        <package name="{}" version="{}" release="{}" epoch="0" arch="{}" src="fx-lib-1.2-1.src.rpm">
          <filename>{}</filename>
        </package>
      </collection>
    </pkglist>
  </update>
</updates>
"#,
        f[0],
        f[1],
        f[2],
        f[3],
        fx::LIB_1_2
    )
}

const COMPS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group>
    <id>fx-tools</id>
    <name>FX Tools</name>
    <description>The fx tools.</description>
    <default>false</default>
    <uservisible>true</uservisible>
    <packagelist>
      <packagereq type="mandatory">fx-basic</packagereq>
    </packagelist>
  </group>
</comps>
"#;

/// A module whose only artifact is `fx-utf8` (modular packages are hidden from non-modular
/// operations, so the other packages stay plain).
const MODULES: &str = r#"---
document: modulemd
version: 2
data:
  name: fxmod
  stream: "1"
  version: 20260101
  context: c0ffee42
  arch: noarch
  summary: The fx module
  description: >-
    Module of fx.
  license:
    module:
    - MIT
  profiles:
    default:
      rpms:
      - fx-utf8
  artifacts:
    rpms:
    - fx-utf8-0:1.0-1.noarch
...
"#;

async fn put(store: &dyn ObjectStore, key: &str, body: impl Into<Vec<u8>>) {
    store
        .put(key, Bytes::from(body.into()), PutOptions::default())
        .await
        .unwrap();
}

async fn repomd(store: &dyn ObjectStore) -> Repomd {
    let (b, _) = store
        .get(&format!("{ROOT}repodata/repomd.xml"))
        .await
        .unwrap();
    Repomd::parse(&b).unwrap()
}

fn by_type(md: &Repomd) -> BTreeMap<String, RepomdRecord> {
    md.records
        .iter()
        .map(|r| (r.data_type.clone(), r.clone()))
        .collect()
}

async fn apply(ix: &Indexer, changes: &[Change]) -> PublishReport {
    let changes: Vec<Change> = changes
        .iter()
        .map(|c| Change {
            key: format!("{ROOT}{}", c.key),
            ..c.clone()
        })
        .collect();
    ix.apply(ROOT, &changes).await.unwrap()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The records the real modifyrepo_c writes for the same three sources (comps as `group`
/// uncompressed plus `group_gz`, as `createrepo_c -g` does), each with the mtime of the file
/// modifyrepo_c wrote.
fn modifyrepo_records() -> BTreeMap<String, (RepomdRecord, i64)> {
    let dir = tempfile::tempdir().unwrap();
    let repodata = rpmbucket_testenv::empty_repodata(dir.path());
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(
        src.join("updateinfo.xml"),
        updateinfo("fx-lib security update"),
    )
    .unwrap();
    std::fs::write(src.join("comps.xml"), COMPS).unwrap();
    std::fs::write(src.join("modules.yaml"), MODULES).unwrap();
    for (file, args) in [
        ("updateinfo.xml", vec!["--mdtype=updateinfo"]),
        ("comps.xml", vec!["--mdtype=group", "--no-compress"]),
        ("comps.xml", vec!["--mdtype=group_gz"]),
        ("modules.yaml", vec!["--mdtype=modules"]),
    ] {
        rpmbucket_testenv::modifyrepo_c(&args, &src.join(file), &repodata);
    }
    let md = Repomd::parse(&std::fs::read(repodata.join("repomd.xml")).unwrap()).unwrap();
    by_type(&md)
        .into_iter()
        .map(|(t, r)| {
            let meta = std::fs::metadata(dir.path().join(&r.location_href)).unwrap();
            let mtime = std::os::unix::fs::MetadataExt::mtime(&meta);
            (t, (r, mtime))
        })
        .collect()
}

fn dnf(url: &str, root: &Path, args: &[&str]) -> (bool, String) {
    let out = dnf_command(url, root).args(args).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// What dnf and zypper see of the extra metadata at `url`.
fn clients_read_everything(url: &str) {
    // Advisory and its package, nothing installed.
    let out = dnf_repoquery(url, &[&format!("--advisory={ADVISORY}")]).unwrap();
    assert!(
        out.contains("fx-lib-0:1.2-1.noarch"),
        "repoquery --advisory:\n{out}"
    );

    // With fx-lib 1.0 installed, the advisory applies and --security upgrades it.
    let root = tempfile::tempdir().unwrap();
    let (ok, out) = dnf(url, root.path(), &["-y", "install", "fx-lib-1.0-1"]);
    assert!(ok, "{out}");
    let (ok, out) = dnf(url, root.path(), &["updateinfo", "list"]);
    assert!(ok, "{out}");
    assert!(
        out.contains(ADVISORY) && out.contains("fx-lib-1.2-1.noarch"),
        "updateinfo list:\n{out}"
    );
    let (_, out) = dnf(url, root.path(), &["upgrade", "--security", "--assumeno"]);
    assert!(
        out.contains("Upgrading:") && out.contains("fx-lib"),
        "upgrade --security:\n{out}"
    );

    // Groups: listed and installable.
    let (ok, out) = dnf(url, root.path(), &["group", "list", "--hidden"]);
    assert!(ok && out.contains("FX Tools"), "group list:\n{out}");
    let (ok, out) = dnf(url, root.path(), &["-y", "group", "install", "fx-tools"]);
    assert!(ok, "group install:\n{out}");
    assert!(
        root.path().join("usr/share/fx-basic/data.txt").is_file(),
        "{out}"
    );

    // Modules.
    let (ok, out) = dnf(url, root.path(), &["module", "list"]);
    assert!(ok, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("fxmod") && l.contains("The fx module")),
        "module list:\n{out}"
    );

    // zypper: the advisory is a patch.
    let zroot = tempfile::tempdir().unwrap();
    zypper_add_repo(url, zroot.path()).unwrap();
    let out = run(zypper_command(zroot.path()).arg("patches")).unwrap();
    assert!(out.contains(ADVISORY), "zypper patches:\n{out}");
}

async fn scenario(store: Arc<dyn ObjectStore>, url: String) {
    let config = RepoConfig::default().with_grace_period(Duration::ZERO);
    let ix = Indexer::new(store.clone(), Layout::new(vec![]), config);
    for f in [fx::LIB_1_0, fx::BASIC] {
        put(
            &*store,
            &format!("{ROOT}{f}"),
            std::fs::read(fixture(f)).unwrap(),
        )
        .await;
    }
    apply(
        &ix,
        &[Change::created(fx::LIB_1_0), Change::created(fx::BASIC)],
    )
    .await;

    // The three sources, published in one batch.
    put(
        &*store,
        &format!("{ROOT}updateinfo.xml"),
        updateinfo("fx-lib security update"),
    )
    .await;
    put(&*store, &format!("{ROOT}comps.xml"), COMPS).await;
    put(&*store, &format!("{ROOT}modules.yaml"), MODULES).await;
    let published_after = unix_now();
    let report = apply(
        &ix,
        &[
            Change::created("updateinfo.xml"),
            Change::created("comps.xml"),
            Change::created("modules.yaml"),
        ],
    )
    .await;
    assert_eq!(report.added.len(), 3, "{report:?}");
    assert!(report.rejected.is_empty(), "{report:?}");
    let published_before = unix_now();
    let first = by_type(&repomd(&*store).await);

    // Field by field what modifyrepo_c writes: the same file name, checksum, open-checksum,
    // size, open-size and compression (the name's suffix), gzip files included (both are C
    // zlib's gzip at level 6, mtime 0, OS 3). Only the timestamp differs: each tool's is the time
    // it wrote the file (modifyrepo_c's is the written file's mtime, checked here; ours the
    // publish's clock).
    let theirs = modifyrepo_records();
    for t in ["updateinfo", "group", "group_gz", "modules"] {
        let (a, (b, their_mtime)) = (&first[t], &theirs[t]);
        assert_eq!(b.timestamp, *their_mtime, "{t}: modifyrepo_c's timestamp");
        assert!(
            (published_after..=published_before).contains(&a.timestamp),
            "{t}: timestamp {} outside the publish ({published_after}..={published_before})",
            a.timestamp
        );
        let same_time = |r: &RepomdRecord| RepomdRecord {
            timestamp: 0,
            raw: None,
            ..r.clone()
        };
        assert_eq!(same_time(a), same_time(b), "{t}");
        assert_eq!(a.open_checksum.is_some(), a.open_size.is_some(), "{t}");
        assert!(a.file_name().starts_with(&a.checksum), "{t}");
    }

    // Package publishes after the metadata keep it.
    for f in [fx::LIB_1_2, fx::UTF8, fx::META] {
        put(
            &*store,
            &format!("{ROOT}{f}"),
            std::fs::read(fixture(f)).unwrap(),
        )
        .await;
        let r = apply(&ix, &[Change::created(f)]).await;
        assert!(!r.unchanged);
        let now = by_type(&repomd(&*store).await);
        for t in ["updateinfo", "group", "group_gz", "modules"] {
            assert_eq!(now[t], first[t], "{t} after adding {f}");
            let (body, _) = store
                .get(&format!("{ROOT}{}", now[t].location_href))
                .await
                .unwrap();
            assert_eq!(body.len() as u64, now[t].size);
        }
    }
    let u = url.clone();
    blocking(move || clients_read_everything(&u)).await;

    // A bad source is refused with its reason; the published records stay.
    put(
        &*store,
        &format!("{ROOT}updateinfo.xml"),
        updateinfo("x").replace(&format!("<id>{ADVISORY}</id>"), ""),
    )
    .await;
    let r = apply(&ix, &[Change::created("updateinfo.xml")]).await;
    assert_eq!(r.rejected.len(), 1, "{r:?}");
    assert!(
        r.rejected[0].1.contains("update #1 has no <id>"),
        "{:?}",
        r.rejected
    );
    assert_eq!(
        by_type(&repomd(&*store).await)["updateinfo"],
        first["updateinfo"]
    );
    let (rejected, _) = store
        .get(&format!("{ROOT}repodata/rpmbucket-rejected.json"))
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&rejected).contains("has no <id>"));

    // A new upload replaces it.
    put(
        &*store,
        &format!("{ROOT}updateinfo.xml"),
        updateinfo("fx-lib security update, revised"),
    )
    .await;
    let r = apply(&ix, &[Change::created("updateinfo.xml")]).await;
    assert!(r.rejected.is_empty(), "{r:?}");
    let now = by_type(&repomd(&*store).await);
    assert_ne!(now["updateinfo"].checksum, first["updateinfo"].checksum);
    let out = dnf_repoquery(&url, &[&format!("--advisory={ADVISORY}")]).unwrap();
    assert!(out.contains("fx-lib-0:1.2-1.noarch"), "{out}");

    // A delete removes the records; their files are collected (zero grace).
    store.delete(&format!("{ROOT}comps.xml")).await.unwrap();
    let r = apply(&ix, &[Change::removed("comps.xml")]).await;
    assert_eq!(r.removed, vec![format!("{ROOT}comps.xml")], "{r:?}");
    let now = by_type(&repomd(&*store).await);
    assert!(!now.contains_key("group") && !now.contains_key("group_gz"));
    assert!(now.contains_key("modules") && now.contains_key("updateinfo"));
    apply(&ix, &[Change::created(fx::META)]).await; // a later publish collects garbage
    let old = format!("{ROOT}{}", first["group_gz"].location_href);
    assert!(store.head(&old).await.is_err(), "{old} still there");

    // A reconcile of the listing agrees with what is published.
    let r = ix.reconcile(ROOT).await.unwrap();
    assert!(r.added.is_empty() && r.removed.is_empty(), "{r:?}");
    assert!(by_type(&repomd(&*store).await).contains_key("modules"));
}

#[tokio::test(flavor = "multi_thread")]
async fn extra_metadata_in_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()).unwrap());
    scenario(store, file_url(&dir.path().join(ROOT))).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn extra_metadata_in_a_bucket() {
    let server = moto().await;
    let bucket = server.new_bucket().await;
    server.make_public(&bucket).await;
    let url = format!("{}{ROOT}", server.base_url(&bucket));
    scenario(Arc::new(bucket), url).await;
}

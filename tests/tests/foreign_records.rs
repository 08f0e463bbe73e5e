//! Records in `repomd.xml` that rpmbucket did not write survive its publishes: an `updateinfo`
//! added by the real `modifyrepo_c` to a repository the engine published (in a directory and
//! in a moto bucket) is still named, byte for byte, after ten publishes with a zero grace
//! period and a reconcile; its file is still there and dnf still reads the advisory.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rpmbucket_engine::testkit::moto;
use rpmbucket_engine::{Change, Indexer, Layout, LocalStore, ObjectStore, PutOptions, RepoConfig};
use rpmbucket_tests::{dnf_repoquery, file_url, fixture, fx, rpm_qf, run};

const ADVISORY: &str = "RPMB-2026:0001";

/// An advisory naming `fx-lib-1.2-1.noarch` (what dnf needs: id, type, pkglist).
fn updateinfo_xml() -> String {
    let filename = fx::LIB_1_2;
    let nevra = rpm_qf(&fixture(filename), "%{NAME} %{VERSION} %{RELEASE} %{ARCH}").unwrap();
    let [name, version, release, arch]: [&str; 4] = nevra
        .split_whitespace()
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="security@example.org" status="final" type="security" version="1">
    <id>{ADVISORY}</id>
    <title>fx-lib security update</title>
    <severity>Important</severity>
    <issued date="2026-01-02 00:00:00"/>
    <description>Fixes a flaw.</description>
    <references/>
    <pkglist>
      <collection short="fx">
        <name>fx</name>
        <package name="{name}" version="{version}" release="{release}" epoch="0" arch="{arch}" src="{name}-{version}-{release}.src.rpm">
          <filename>{filename}</filename>
        </package>
      </collection>
    </pkglist>
  </update>
</updates>
"#
    )
}

/// `<data type="T">…</data>` of a repomd.xml, as text.
fn data_block<'a>(repomd: &'a str, data_type: &str) -> Option<&'a str> {
    let start = repomd.find(&format!("<data type=\"{data_type}\">"))?;
    let len = repomd[start..].find("</data>")? + "</data>".len();
    Some(&repomd[start..start + len])
}

fn href_of(block: &str) -> String {
    let i = block.find("href=\"").unwrap() + 6;
    let j = block[i..].find('"').unwrap();
    block[i..i + j].to_string()
}

/// Runs `modifyrepo_c` on `repodata` (a local copy of a repository's metadata).
fn modifyrepo(repodata: &Path, xml: &str) {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("updateinfo.xml");
    std::fs::write(&file, xml).unwrap();
    run(Command::new("modifyrepo_c")
        .arg("--mdtype=updateinfo")
        .arg(&file)
        .arg(repodata))
    .expect("modifyrepo_c");
}

fn indexer(store: Arc<dyn ObjectStore>) -> Indexer {
    // No grace period: anything the engine took for garbage would be deleted at once.
    let config = RepoConfig::default().with_grace_period(Duration::ZERO);
    Indexer::new(store, Layout::new(vec![]), config)
}

async fn put(store: &dyn ObjectStore, key: &str, body: Vec<u8>) {
    store
        .put(key, Bytes::from(body), PutOptions::default())
        .await
        .unwrap();
}

async fn get(store: &dyn ObjectStore, key: &str) -> Option<Vec<u8>> {
    store.get(key).await.ok().map(|(b, _)| b.to_vec())
}

/// Publishes `fx-lib` and `fx-basic`, lets `modifyrepo_c` add the advisory (on a copy of
/// repodata/ for a bucket, then uploaded as a user would), then runs ten publishes (packages
/// added and removed) and a reconcile, checking the record and its file after each.
async fn keeps_the_record(store: Arc<dyn ObjectStore>, local_dir: Option<&Path>, url: &str) {
    let ix = indexer(store.clone());
    for name in [fx::LIB_1_2, fx::BASIC] {
        put(&*store, name, std::fs::read(fixture(name)).unwrap()).await;
    }
    ix.apply(
        "",
        &[Change::created(fx::LIB_1_2), Change::created(fx::BASIC)],
    )
    .await
    .unwrap();

    // modifyrepo_c on the real repodata/ (directory) or on a downloaded copy (bucket).
    match local_dir {
        Some(dir) => modifyrepo(&dir.join("repodata"), &updateinfo_xml()),
        None => {
            let copy = tempfile::tempdir().unwrap();
            let repodata = copy.path().join("repodata");
            std::fs::create_dir(&repodata).unwrap();
            let before =
                String::from_utf8(get(&*store, "repodata/repomd.xml").await.unwrap()).unwrap();
            std::fs::write(repodata.join("repomd.xml"), &before).unwrap();
            let md = rpmbucket_repodata::repomd::Repomd::parse(before.as_bytes()).unwrap();
            for r in &md.records {
                let body = get(&*store, &r.location_href).await.unwrap();
                std::fs::write(copy.path().join(&r.location_href), body).unwrap();
            }
            modifyrepo(&repodata, &updateinfo_xml());
            let after = std::fs::read_to_string(repodata.join("repomd.xml")).unwrap();
            let href = href_of(data_block(&after, "updateinfo").unwrap());
            put(
                &*store,
                &href,
                std::fs::read(copy.path().join(&href)).unwrap(),
            )
            .await;
            put(&*store, "repodata/repomd.xml", after.into_bytes()).await;
        }
    }
    let repomd = String::from_utf8(get(&*store, "repodata/repomd.xml").await.unwrap()).unwrap();
    let block = data_block(&repomd, "updateinfo")
        .expect("modifyrepo_c added an updateinfo record")
        .to_string();
    let href = href_of(&block);
    let body = get(&*store, &href).await.expect("the updateinfo file");

    // Ten publishes: five packages added one by one, then removed one by one.
    let extra = [fx::META, fx::EPOCH, fx::CONFLICT, fx::LIB_1_0, fx::UTF8];
    let mut revisions = BTreeMap::new();
    for (i, name) in extra.iter().chain(extra.iter()).enumerate() {
        if i < extra.len() {
            put(&*store, name, std::fs::read(fixture(name)).unwrap()).await;
            ix.apply("", &[Change::created(*name)]).await.unwrap();
        } else {
            store.delete(name).await.unwrap();
            ix.apply("", &[Change::removed(*name)]).await.unwrap();
        }
        let now = String::from_utf8(get(&*store, "repodata/repomd.xml").await.unwrap()).unwrap();
        let rev = now.split("<revision>").nth(1).unwrap().split('<').next();
        revisions.insert(rev.unwrap().to_string(), i);
        assert_eq!(
            data_block(&now, "updateinfo"),
            Some(block.as_str()),
            "publish {i}:\n{now}"
        );
        assert_eq!(
            get(&*store, &href).await.as_ref(),
            Some(&body),
            "publish {i}"
        );
    }
    assert_eq!(revisions.len(), 10, "ten publishes happened");

    // Reconcile sweeps unreferenced files (zero grace): not this one.
    let report = ix.reconcile("").await.unwrap();
    assert!(
        !report.deleted_files.iter().any(|k| k.ends_with(&href)),
        "{:?}",
        report.deleted_files
    );
    let last = String::from_utf8(get(&*store, "repodata/repomd.xml").await.unwrap()).unwrap();
    assert_eq!(data_block(&last, "updateinfo"), Some(block.as_str()));
    assert_eq!(get(&*store, &href).await.as_ref(), Some(&body));

    // dnf reads the advisory and the packages it names.
    let out = dnf_repoquery(url, &[&format!("--advisory={ADVISORY}")]).unwrap();
    assert!(out.contains("fx-lib-0:1.2-1.noarch"), "dnf said:\n{out}");
    let all = dnf_repoquery(url, &["--all"]).unwrap();
    assert!(all.contains("fx-basic"), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn modifyrepo_records_survive_publishes_in_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()).unwrap());
    keeps_the_record(store, Some(dir.path()), &file_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn modifyrepo_records_survive_publishes_in_a_bucket() {
    let server = moto().await;
    let bucket = server.new_bucket().await;
    server.make_public(&bucket).await;
    let url = server.base_url(&bucket);
    keeps_the_record(Arc::new(bucket), None, &url).await;
}

/// A record replaced by hand (a new modifyrepo_c run) is what the next publish carries.
#[tokio::test(flavor = "multi_thread")]
async fn a_record_replaced_by_hand_is_the_one_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()).unwrap());
    let ix = indexer(store.clone());
    put(
        &*store,
        fx::LIB_1_2,
        std::fs::read(fixture(fx::LIB_1_2)).unwrap(),
    )
    .await;
    ix.apply("", &[Change::created(fx::LIB_1_2)]).await.unwrap();
    let repodata = dir.path().join("repodata");
    modifyrepo(&repodata, &updateinfo_xml());
    modifyrepo(
        &repodata,
        &updateinfo_xml().replace("Fixes a flaw.", "Fixes two."),
    );
    let md = std::fs::read_to_string(repodata.join("repomd.xml")).unwrap();
    let block = data_block(&md, "updateinfo").unwrap().to_string();
    put(
        &*store,
        fx::BASIC,
        std::fs::read(fixture(fx::BASIC)).unwrap(),
    )
    .await;
    ix.apply("", &[Change::created(fx::BASIC)]).await.unwrap();
    let after = std::fs::read_to_string(repodata.join("repomd.xml")).unwrap();
    assert_eq!(data_block(&after, "updateinfo"), Some(block.as_str()));
    assert_eq!(after.matches("type=\"updateinfo\"").count(), 1, "{after}");
}

/// `rpmbucket index DIR` (the createrepo_c-like path) carries the record over too.
#[test]
fn index_of_a_directory_keeps_the_record() {
    let dir = tempfile::tempdir().unwrap();
    for name in [fx::LIB_1_2, fx::BASIC] {
        std::fs::copy(fixture(name), dir.path().join(name)).unwrap();
    }
    let index = |extra: &[&str]| {
        run(Command::new(rpmbucket_tests::rpmbucket_bin())
            .arg("index")
            .args(extra)
            .arg(dir.path()))
        .expect("rpmbucket index")
    };
    index(&[]);
    let repodata = dir.path().join("repodata");
    modifyrepo(&repodata, &updateinfo_xml());
    let md = std::fs::read_to_string(repodata.join("repomd.xml")).unwrap();
    let block = data_block(&md, "updateinfo").unwrap().to_string();
    for (i, name) in [fx::META, fx::EPOCH].into_iter().enumerate() {
        std::fs::copy(fixture(name), dir.path().join(name)).unwrap();
        index(if i == 0 { &["--update"] } else { &[] });
        let now = std::fs::read_to_string(repodata.join("repomd.xml")).unwrap();
        assert_eq!(
            data_block(&now, "updateinfo"),
            Some(block.as_str()),
            "{now}"
        );
        assert!(repodata
            .join(href_of(&block).trim_start_matches("repodata/"))
            .exists());
    }
    let out = dnf_repoquery(&file_url(dir.path()), &[&format!("--advisory={ADVISORY}")]).unwrap();
    assert!(out.contains("fx-lib-0:1.2-1.noarch"), "dnf said:\n{out}");
}

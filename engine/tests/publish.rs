//! Publishing scenarios, each run against the local-directory store and against S3: a moto
//! server and LocalStack (host mode, from the test script; skipped without it outside CI) on
//! 127.0.0.1.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use rpmbucket_engine::publish::hooks::{self, FaultPoint};
use rpmbucket_engine::store::{Error as StoreError, ObjectStore, PutOptions};
use rpmbucket_engine::testkit::{S3Kind, S3Server};
use rpmbucket_engine::{Change, IndexerOptions, RepoConfig, S3Store, REJECTED_FILE};
use rpmbucket_tests::fx;

const ROOT: &str = "el9/x86_64/";

fn key(name: &str) -> String {
    format!("{ROOT}Packages/{name}")
}

fn href(name: &str) -> String {
    format!("Packages/{name}")
}

pub async fn add_remove_overwrite(store: Arc<dyn ObjectStore>) {
    let ix = indexer(store.clone(), RepoConfig::default());
    let basic = upload(&*store, &key(fx::BASIC), &fixture(fx::BASIC)).await;
    upload(&*store, &key(fx::LIB_1_0), &fixture(fx::LIB_1_0)).await;
    let report = ix
        .apply(ROOT, &created(&[key(fx::BASIC), key(fx::LIB_1_0)]))
        .await
        .unwrap();
    assert!(!report.unchanged);
    assert_eq!(report.added.len(), 2, "{report:?}");
    assert_eq!(report.hashed_by_checksum + report.hashed_by_stream, 2);
    // Two small packages: one ranged read each (or one streamed read when the store has no
    // checksum), no listing.
    assert_eq!(
        report.requests.get_range + report.requests.get_stream,
        2,
        "{report:?}"
    );
    // No repository yet: its root is listed once (a first publish takes every package there).
    assert_eq!(report.requests.list, 1);
    if store.head(&key(fx::BASIC)).await.unwrap().sha256.is_some() {
        // S3 with a stored SHA-256: pkgid without reading the body.
        assert_eq!(report.hashed_by_checksum, 2, "{report:?}");
        assert_eq!(report.requests.get_range, 2, "{report:?}");
    } else {
        assert_eq!(report.hashed_by_stream, 2, "{report:?}");
    }
    let p = published(&*store, ROOT).await;
    assert_eq!(
        p.packages.keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([href(fx::BASIC), href(fx::LIB_1_0)])
    );
    let b = &p.packages[&href(fx::BASIC)];
    assert_eq!(b.name, "fx-basic");
    assert_eq!(
        b.pkgid,
        sha256_hex(&std::fs::read(fixture(fx::BASIC)).unwrap())
    );
    assert_eq!(b.size_package as u64, basic.size);
    assert!(p.repomd.record("rpmbucket-state").is_some());
    assert!(
        p.repomd.record("primary_db").is_some(),
        "sqlite on by default"
    );
    assert_eq!(report.revision, p.repomd.revision);

    // The same batch again: nothing read, nothing written.
    let again = ix
        .apply(ROOT, &created(&[key(fx::BASIC), key(fx::LIB_1_0)]))
        .await
        .unwrap();
    assert!(again.unchanged, "{again:?}");
    assert_eq!(again.requests.put, 0);
    assert_eq!(again.requests.get_range + again.requests.get_stream, 0);
    assert_eq!(published(&*store, ROOT).await.repomd_etag, p.repomd_etag);

    // Remove one.
    store.delete(&key(fx::LIB_1_0)).await.unwrap();
    let r = ix
        .apply(ROOT, &[Change::removed(key(fx::LIB_1_0))])
        .await
        .unwrap();
    assert_eq!(r.removed, [key(fx::LIB_1_0)]);
    assert_eq!(
        hrefs(&*store, ROOT).await,
        BTreeSet::from([href(fx::BASIC)])
    );

    // Overwrite a key with another package: its entry is replaced.
    upload(&*store, &key(fx::BASIC), &fixture(fx::LIB_1_2)).await;
    let r = ix.apply(ROOT, &created(&[key(fx::BASIC)])).await.unwrap();
    assert_eq!(r.added, [key(fx::BASIC)]);
    let p = published(&*store, ROOT).await;
    assert_eq!(p.packages.len(), 1);
    let e = &p.packages[&href(fx::BASIC)];
    assert_eq!((e.name.as_str(), e.version.as_str()), ("fx-lib", "1.2"));
    assert_eq!(
        e.pkgid,
        sha256_hex(&std::fs::read(fixture(fx::LIB_1_2)).unwrap())
    );

    // `published` answers per key.
    assert_eq!(
        ix.published(ROOT, &key(fx::BASIC)).await.unwrap(),
        Some(p.repomd.revision.clone())
    );
    assert_eq!(ix.published(ROOT, &key(fx::LIB_1_0)).await.unwrap(), None);
}

pub async fn duplicate_and_out_of_order_events(store: Arc<dyn ObjectStore>) {
    let ix = indexer(store.clone(), RepoConfig::default().with_database(false));
    let k = key(fx::META);
    upload(&*store, &k, &fixture(fx::META)).await;
    // Duplicate deliveries, in one batch and across batches.
    let r = ix
        .apply(ROOT, &[Change::created(&k), Change::created(&k)])
        .await
        .unwrap();
    assert_eq!(r.added, std::slice::from_ref(&k));
    assert!(
        ix.apply(ROOT, &[Change::created(&k)])
            .await
            .unwrap()
            .unchanged
    );

    // Delete then re-upload (other content); the events arrive re-upload first, delete last.
    store.delete(&k).await.unwrap();
    upload(&*store, &k, &fixture(fx::EPOCH)).await;
    ix.apply(ROOT, &[Change::created(&k)]).await.unwrap();
    let late = ix.apply(ROOT, &[Change::removed(&k)]).await.unwrap();
    assert!(
        late.unchanged,
        "a stale delete must not remove the re-uploaded key: {late:?}"
    );
    let p = published(&*store, ROOT).await;
    assert_eq!(p.packages[&href(fx::META)].name, "fx-epoch");

    // Upload then delete; the create event arrives after the delete event.
    let k2 = key(fx::CPP);
    upload(&*store, &k2, &fixture(fx::CPP)).await;
    store.delete(&k2).await.unwrap();
    ix.apply(ROOT, &[Change::removed(&k2)]).await.unwrap();
    let r = ix.apply(ROOT, &[Change::created(&k2)]).await.unwrap();
    assert!(r.unchanged && r.added.is_empty(), "{r:?}");
    assert!(!hrefs(&*store, ROOT).await.contains(&href(fx::CPP)));
}

pub async fn bad_packages_are_rejected(store: Arc<dyn ObjectStore>) {
    let ix = indexer(store.clone(), RepoConfig::default().with_database(false));
    let good = key(fx::BASIC);
    let garbage = key("garbage-1.0-1.noarch.rpm");
    let truncated = key("truncated-1.0-1.noarch.rpm");
    upload(&*store, &good, &fixture(fx::BASIC)).await;
    store
        .put(
            &garbage,
            Bytes::from_static(b"this is not an rpm at all"),
            PutOptions::default(),
        )
        .await
        .unwrap();
    let whole = std::fs::read(fixture(fx::MANY)).unwrap();
    store
        .put(
            &truncated,
            Bytes::from(whole[..3000].to_vec()),
            PutOptions::default(),
        )
        .await
        .unwrap();
    let r = ix
        .apply(
            ROOT,
            &created(&[good.clone(), garbage.clone(), truncated.clone()]),
        )
        .await
        .unwrap();
    assert_eq!(r.added, std::slice::from_ref(&good));
    let rejected: BTreeSet<&str> = r.rejected.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        rejected,
        BTreeSet::from([garbage.as_str(), truncated.as_str()])
    );
    assert!(r.rejected.iter().all(|(_, reason)| !reason.is_empty()));
    assert_eq!(
        hrefs(&*store, ROOT).await,
        BTreeSet::from([href(fx::BASIC)])
    );

    let list = |store: Arc<dyn ObjectStore>| async move {
        let (b, _) = store
            .get(&format!("{ROOT}repodata/{REJECTED_FILE}"))
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        v["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["key"].as_str().unwrap().to_string())
            .collect::<BTreeSet<String>>()
    };
    assert_eq!(
        list(store.clone()).await,
        BTreeSet::from([garbage.clone(), truncated.clone()])
    );

    // The same bad object again is not read again.
    let again = ix
        .apply(ROOT, &created(std::slice::from_ref(&garbage)))
        .await
        .unwrap();
    assert!(again.unchanged);
    assert_eq!(again.requests.get_range + again.requests.get_stream, 0);

    // Fixed by a good upload under the same key.
    upload(&*store, &garbage, &fixture(fx::LIB_1_0)).await;
    let r = ix
        .apply(ROOT, &created(std::slice::from_ref(&garbage)))
        .await
        .unwrap();
    assert_eq!(r.added, std::slice::from_ref(&garbage));
    assert_eq!(
        list(store.clone()).await,
        BTreeSet::from([truncated.clone()])
    );
}

pub async fn crash_before_swap_then_recover(store: Arc<dyn ObjectStore>) {
    let config = RepoConfig::default().with_database(false);
    let ix = indexer(store.clone(), config.clone());
    upload(&*store, &key(fx::BASIC), &fixture(fx::BASIC)).await;
    ix.apply(ROOT, &created(&[key(fx::BASIC)])).await.unwrap();
    let before = published(&*store, ROOT).await;

    upload(&*store, &key(fx::LIB_1_0), &fixture(fx::LIB_1_0)).await;
    let crashing = ix.clone().with_fault(Some(FaultPoint::BeforeSwap));
    let err = crashing
        .apply(ROOT, &created(&[key(fx::LIB_1_0)]))
        .await
        .unwrap_err();
    assert!(hooks::is_injected(&err), "{err}");
    assert!(err.is_retryable());
    // The repository is exactly as before, and valid.
    let during = published(&*store, ROOT).await;
    assert_eq!(during.repomd_etag, before.repomd_etag);
    assert_eq!(during.packages.len(), 1);
    // Data files of the crashed run are there, unreferenced.
    let listed = store.list(&format!("{ROOT}repodata/")).await.unwrap();
    assert!(listed.len() > before.files.len() + 1, "{listed:?}");

    // The next run completes it.
    let r = ix.apply(ROOT, &created(&[key(fx::LIB_1_0)])).await.unwrap();
    assert_eq!(r.added, [key(fx::LIB_1_0)]);
    assert_eq!(
        hrefs(&*store, ROOT).await,
        BTreeSet::from([href(fx::BASIC), href(fx::LIB_1_0)])
    );
}

pub async fn concurrent_indexers(store: Arc<dyn ObjectStore>) {
    const INDEXERS: usize = 8;
    const EACH: usize = 25;
    const BATCH: usize = 5;
    // The first two swaps meet before the store, so at least one race is lost and retried.
    let audit = Auditing::racing(store.clone());
    let rpms = synthetic((INDEXERS * EACH) as u64);
    let config = RepoConfig::default()
        .with_database(false)
        .with_grace_period(Duration::from_secs(3600));
    // The repository exists (empty) before they start: a first apply to a root without
    // metadata publishes every package listed there, which would mix the batches.
    indexer(store.clone(), config.clone())
        .reindex(ROOT)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..INDEXERS {
        let ix = indexer(audit.clone(), config.clone());
        let store = store.clone();
        let mine: Vec<_> = rpms[i * EACH..(i + 1) * EACH].to_vec();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for batch in mine.chunks(BATCH) {
                let mut keys = Vec::new();
                for path in batch {
                    let k = key(path.file_name().unwrap().to_str().unwrap());
                    upload(&*store, &k, path).await;
                    keys.push(k);
                }
                let r = ix.apply(ROOT, &created(&keys)).await.unwrap();
                assert_eq!(r.added.len(), keys.len(), "{r:?}");
                conflicts += r.conflicts_retried;
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.unwrap();
    }
    let p = published(&*store, ROOT).await;
    assert_eq!(p.packages.len(), INDEXERS * EACH);
    let versions = audit.versions.lock().unwrap().clone();
    let violations = audit.violations.lock().unwrap().clone();
    assert!(violations.is_empty(), "{violations:#?}");
    assert_eq!(
        versions.len(),
        INDEXERS * EACH / BATCH,
        "one publish per batch"
    );
    // Every version ever published is still complete (grace period not over).
    for v in &versions {
        for rec in &v.records {
            let k = format!("{ROOT}{}", rec.location_href);
            assert_eq!(store.head(&k).await.unwrap().size, rec.size, "{k}");
        }
    }
    eprintln!(
        "concurrent_indexers: {} publishes, {conflicts} lost races retried",
        versions.len()
    );
    assert!(
        conflicts >= 1,
        "the first two swaps were held until both arrived, so one must have lost and retried"
    );
}

pub async fn grace_period(store: Arc<dyn ObjectStore>) {
    let long = indexer(
        store.clone(),
        RepoConfig::default()
            .with_database(false)
            .with_grace_period(Duration::from_secs(3600)),
    );
    upload(&*store, &key(fx::BASIC), &fixture(fx::BASIC)).await;
    long.apply(ROOT, &created(&[key(fx::BASIC)])).await.unwrap();
    let first = published(&*store, ROOT).await;
    upload(&*store, &key(fx::META), &fixture(fx::META)).await;
    long.apply(ROOT, &created(&[key(fx::META)])).await.unwrap();
    // Within the grace period the first generation's files stay.
    for f in &first.files {
        store.head(&format!("{ROOT}{f}")).await.unwrap();
    }
    // With a zero grace period, the next publish deletes every unreferenced generation.
    let short = indexer(
        store.clone(),
        RepoConfig::default()
            .with_database(false)
            .with_grace_period(Duration::ZERO),
    );
    upload(&*store, &key(fx::CPP), &fixture(fx::CPP)).await;
    let r = short.apply(ROOT, &created(&[key(fx::CPP)])).await.unwrap();
    assert!(!r.deleted_files.is_empty(), "{r:?}");
    let now = published(&*store, ROOT).await;
    let listed: BTreeSet<String> = store
        .list(&format!("{ROOT}repodata/"))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key[ROOT.len()..].to_string())
        .collect();
    let mut expected: BTreeSet<String> = now.files.iter().cloned().collect();
    expected.insert("repodata/repomd.xml".into());
    // The generation just replaced is garbage now (deleted on the next publish).
    let previous_only = listed.difference(&expected).count();
    assert!(previous_only <= 4, "{listed:#?}");
    for f in &first.files {
        assert!(
            !listed.contains(f) || now.files.contains(f),
            "{f} of the first generation survived"
        );
    }
}

pub async fn reindex_and_reconcile(store: Arc<dyn ObjectStore>) {
    let ix = indexer(store.clone(), RepoConfig::default().with_database(false));
    for n in [fx::BASIC, fx::LIB_1_0, fx::META] {
        upload(&*store, &key(n), &fixture(n)).await;
    }
    // Not a package of this repository, and not a package at all: ignored.
    upload(
        &*store,
        &format!("{ROOT}sub/{}", fx::CPP),
        &fixture(fx::CPP),
    )
    .await;
    store
        .put(
            &format!("{ROOT}README"),
            Bytes::from_static(b"hi"),
            PutOptions::default(),
        )
        .await
        .unwrap();
    let r = ix.reindex(ROOT).await.unwrap();
    assert_eq!(r.added.len(), 3, "{r:?}");
    assert_eq!(
        hrefs(&*store, ROOT).await,
        BTreeSet::from([href(fx::BASIC), href(fx::LIB_1_0), href(fx::META)])
    );
    // Again: records are reused, no package is read.
    let again = ix.reindex(ROOT).await.unwrap();
    assert!(again.unchanged, "{again:?}");
    assert_eq!(
        again.requests.get_range + again.requests.get_stream + again.requests.head,
        0
    );

    // Drift: a delete and an upload without notifications.
    store.delete(&key(fx::META)).await.unwrap();
    upload(&*store, &key(fx::EPOCH), &fixture(fx::EPOCH)).await;
    let r = ix.reconcile(ROOT).await.unwrap();
    assert_eq!(r.removed, [key(fx::META)]);
    assert_eq!(r.added, [key(fx::EPOCH)]);
    assert_eq!(
        hrefs(&*store, ROOT).await,
        BTreeSet::from([href(fx::BASIC), href(fx::LIB_1_0), href(fx::EPOCH)])
    );
    assert_eq!(
        ix.list_roots("").await.unwrap(),
        [ROOT.to_string(), format!("{ROOT}sub/")]
    );
}

/// Publish the fixtures and let dnf install from `url` (dnf verifies the repodata checksums and
/// the package's pkgid; the `rpmbucket-state` record must not disturb it).
pub async fn dnf_installs(store: Arc<dyn ObjectStore>, url: String) {
    let ix = indexer(store.clone(), RepoConfig::default());
    let mut keys = Vec::new();
    for path in fixtures() {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let k = key(&name);
        upload(&*store, &k, &path).await;
        keys.push(k);
    }
    let r = ix.apply(ROOT, &created(&keys)).await.unwrap();
    assert_eq!(r.added.len(), keys.len(), "{r:?}");
    let out = tokio::task::spawn_blocking(move || {
        let root = tempfile::tempdir().unwrap();
        let nevras = rpmbucket_tests::dnf_nevras(&url).unwrap();
        let out =
            rpmbucket_tests::dnf_install(&url, "fx-basic", &root.path().join("root")).unwrap();
        (nevras, out)
    })
    .await
    .unwrap();
    assert!(out.0.contains("fx-basic-0:1.0-1.noarch"), "{:?}", out.0);
    assert!(out.0.contains("fx-space-0:1.0-1.noarch"), "{:?}", out.0);
    assert!(out.1.contains("fx-basic"), "{}", out.1);
}

/// A package whose payload changed after it was built (its header's payload digest no longer
/// matches), on each read path. Streamed (the indexer verifies payloads as the upload faces do,
/// or the store has no checksum for it), every byte goes through repodata's package reader and
/// the package is rejected for its payload, as `rpmbucket index` rejects it. Read by its
/// headers alone (the uploader named the file's SHA-256), the payload is not read and the
/// package is published under that SHA-256.
pub async fn corrupt_payload_on_each_read_path(store: Arc<dyn ObjectStore>) {
    use sha2::Digest;
    let mut bytes = std::fs::read(fixture(fx::BASIC)).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 1;
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    let config = RepoConfig::default().with_database(false);
    let put = |name: &'static str| {
        let store = store.clone();
        let bytes = Bytes::from(bytes.clone());
        async move {
            store
                .put(&key(name), bytes, PutOptions::default())
                .await
                .unwrap()
        }
    };
    let payload_reason = |r: &rpmbucket_engine::PublishReport, k: &str| {
        let reason = r.rejected.iter().find(|(x, _)| x == k).map(|(_, y)| y);
        assert!(
            reason.is_some_and(|y| y.contains("payload digest mismatch")),
            "{k}: {r:?}"
        );
    };

    // Streamed because the indexer verifies every payload (even with a known SHA-256).
    let verified = key("verified.rpm");
    let meta = put("verified.rpm").await;
    let ix = indexer(store.clone(), config.clone()).with_options(IndexerOptions {
        verify_payload: true,
        ..IndexerOptions::default()
    });
    let mut change = Change::created(&verified);
    change.etag = Some(meta.etag);
    change.sha256 = Some(sha.clone());
    let r = ix.apply(ROOT, &[change]).await.unwrap();
    let reads = |r: &rpmbucket_engine::PublishReport| (r.requests.get_stream, r.requests.get_range);
    assert_eq!(reads(&r), (1, 0), "{r:?}");
    assert!(r.added.is_empty(), "{r:?}");
    payload_reason(&r, &verified);

    // Nothing names its SHA-256: streamed where the store keeps none (a directory), read by
    // its headers where it does (S3 with `x-amz-checksum-sha256`).
    let unnamed = key("unnamed.rpm");
    put("unnamed.rpm").await;
    let ix = indexer(store.clone(), config);
    let r = ix
        .apply(ROOT, &created(std::slice::from_ref(&unnamed)))
        .await
        .unwrap();
    if store.head(&unnamed).await.unwrap().sha256.is_none() {
        assert_eq!(reads(&r), (1, 0), "{r:?}");
        payload_reason(&r, &unnamed);
    } else {
        assert_eq!(reads(&r), (0, 1), "{r:?}");
        assert_eq!(r.hashed_by_checksum, 1, "{r:?}");
        assert_eq!(r.added, [unnamed], "{r:?}");
    }

    // The uploader names the SHA-256: headers only, published under that SHA-256.
    let named = key("named.rpm");
    let meta = put("named.rpm").await;
    let mut change = Change::created(&named);
    change.etag = Some(meta.etag);
    change.sha256 = Some(sha.clone());
    let r = ix.apply(ROOT, &[change]).await.unwrap();
    assert_eq!(reads(&r), (0, 1), "{r:?}");
    assert_eq!(r.hashed_by_checksum, 1, "{r:?}");
    assert_eq!(r.added, [named], "{r:?}");
    let published = published(&*store, ROOT).await;
    assert_eq!(published.packages[&href("named.rpm")].pkgid, sha);
    assert!(!published.packages.contains_key(&href("verified.rpm")));
}

/// Each scenario once per backend: `local::NAME`, `s3::NAME` (moto), `localstack::NAME`.
macro_rules! scenarios {
    ($module:ident: $make:ident) => {
        mod $module {
            scenarios!(@tests $make;
                add_remove_overwrite,
                duplicate_and_out_of_order_events,
                bad_packages_are_rejected,
                corrupt_payload_on_each_read_path,
                crash_before_swap_then_recover,
                concurrent_indexers,
                grace_period,
                reindex_and_reconcile,
            );
        }
    };
    (@tests $make:ident; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(t) = super::$make().await else {
                    return;
                };
                super::$name(t.store.clone()).await;
            }
        )*
    };
}

scenarios!(local: local_store);
scenarios!(s3: moto_store);
scenarios!(localstack: localstack_store);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_dnf_installs() {
    let dir = tempfile::tempdir().unwrap();
    let store = rpmbucket_engine::store::local::LocalStore::new(dir.path()).unwrap();
    let url = rpmbucket_tests::file_url(&dir.path().join(ROOT));
    dnf_installs(Arc::new(store), url).await;
}

async fn dnf_installs_over_http(server: &S3Server) {
    let store = server.new_bucket().await;
    server.make_public(&store).await;
    let url = format!("{}{ROOT}", server.base_url(&store));
    dnf_installs(Arc::new(store), url).await;
}

/// `sha256` of a package is taken from the store when the upload stored one — through the SDK
/// (`put`) or a presigned URL with a signed checksum (the gateway's path) — and only packages
/// uploaded without one are streamed through SHA-256. Either way the pkgid is the file's hash.
async fn stored_sha256_spares_the_stream(server: &S3Server) {
    let s3 = server.new_bucket().await;
    let store: Arc<dyn ObjectStore> = Arc::new(s3.clone());
    let file_sha = |name: &str| sha256_hex(&std::fs::read(fixture(name)).unwrap());

    upload(&*store, &key(fx::BASIC), &fixture(fx::BASIC)).await;
    let signed = s3
        .presign_put(
            &key(fx::LIB_1_0),
            Duration::from_secs(300),
            Some(&file_sha(fx::LIB_1_0)),
        )
        .await
        .unwrap();
    let (code, body) = curl_put(&fixture(fx::LIB_1_0), &signed.url, &signed.headers);
    assert_eq!(code, "200", "{body}");
    let plain = s3
        .presign_put(&key(fx::META), Duration::from_secs(300), None)
        .await
        .unwrap();
    let (code, body) = curl_put(&fixture(fx::META), &plain.url, &plain.headers);
    assert_eq!(code, "200", "{body}");
    // A body under another file's signed checksum: refused, so a stored SHA-256 is the body's
    // and may stand for the pkgid. moto stores whatever checksum the client claims (TESTBED);
    // only a server that validates can show this.
    if server.kind() == S3Kind::LocalStack {
        let lying = s3
            .presign_put(
                &key(fx::CPP),
                Duration::from_secs(300),
                Some(&file_sha(fx::LIB_1_0)),
            )
            .await
            .unwrap();
        let (code, body) = curl_put(&fixture(fx::CPP), &lying.url, &lying.headers);
        assert_eq!(code, "400", "{body}");
        assert!(body.contains("BadDigest"), "{body}");
        let head = store.head(&key(fx::CPP)).await;
        assert!(matches!(head, Err(StoreError::NotFound { .. })), "{head:?}");
    }

    // A multipart upload with SHA-256 checksums (`aws s3 cp --checksum-algorithm SHA256` of a
    // large file): the stored checksum is the hash of the parts' hashes, not the object's.
    multipart_upload(&s3, &key(fx::EPOCH), &fixture(fx::EPOCH)).await;

    // moto stores a presigned upload's checksum only when also told the algorithm
    // (`x-amz-sdk-checksum-algorithm`), which the presigned URL does not sign.
    let validates = server.kind() == S3Kind::LocalStack;
    let cases = [
        (fx::BASIC, true),
        (fx::LIB_1_0, validates),
        (fx::META, false),
        (fx::EPOCH, false),
    ];
    for (name, stored) in cases {
        let head = store.head(&key(name)).await.unwrap();
        let want = stored.then(|| file_sha(name));
        assert_eq!(head.sha256, want, "{name}");
    }

    let ix = indexer(store.clone(), RepoConfig::default().with_database(false));
    let keys: Vec<String> = cases.iter().map(|(name, _)| key(name)).collect();
    let r = ix.apply(ROOT, &created(&keys)).await.unwrap();
    assert_eq!(r.added.len(), keys.len(), "{r:?}");
    let by_checksum = cases.iter().filter(|(_, stored)| *stored).count() as u32;
    assert_eq!(
        (r.hashed_by_checksum, r.hashed_by_stream),
        (by_checksum, 4 - by_checksum),
        "{r:?}"
    );
    let p = published(&*store, ROOT).await;
    for (name, _) in cases {
        assert_eq!(p.packages[&href(name)].pkgid, file_sha(name), "{name}");
    }
}

/// Upload `path` as `key` in a one-part multipart upload with SHA-256 checksums, and check
/// that the server stored the composite checksum and a multipart ETag.
async fn multipart_upload(s3: &S3Store, key: &str, path: &std::path::Path) {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::{
        ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart,
    };
    use sha2::{Digest, Sha256};
    let (client, bucket, full_key) = (s3.client(), s3.bucket(), s3.full_key(key));
    let body = std::fs::read(path).unwrap();
    let started = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(&full_key)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .unwrap();
    let upload_id = started.upload_id().unwrap();
    let part = client
        .upload_part()
        .bucket(bucket)
        .key(&full_key)
        .upload_id(upload_id)
        .part_number(1)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let completed = CompletedPart::builder()
        .part_number(1)
        .e_tag(part.e_tag().unwrap())
        .checksum_sha256(part.checksum_sha256().unwrap())
        .build();
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(&full_key)
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().parts(completed).build())
        .send()
        .await
        .unwrap();
    let head = client
        .head_object()
        .bucket(bucket)
        .key(&full_key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    // The composite checksum of one part is the SHA-256 of the part's SHA-256. AWS and
    // LocalStack return it as `…-1` with type COMPOSITE; moto 5.2 returns it bare and untyped,
    // so only the multipart ETag (`…-1`) tells it from the object's own SHA-256.
    let composite = aws_smithy_types::base64::encode(Sha256::digest(Sha256::digest(&body)));
    let stored = head.checksum_sha256().unwrap_or_default();
    assert_eq!(stored.trim_end_matches("-1"), composite, "{head:?}");
    assert!(
        head.e_tag().unwrap_or_default().ends_with("-1\""),
        "{head:?}"
    );
}

/// `curl -T file url -H k:v…`: (HTTP status, response body).
fn curl_put(file: &std::path::Path, url: &str, headers: &[(String, String)]) -> (String, String) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-sS", "-w", "\n%{http_code}", "-T"]).arg(file);
    for (k, v) in headers {
        cmd.arg("-H").arg(format!("{k}: {v}"));
    }
    let out = cmd.arg(url).output().unwrap();
    assert!(
        out.status.success(),
        "PUT {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.to_owned(), body.to_owned())
}

/// The S3-only scenarios as `s3::NAME` (moto) and `localstack::NAME`, given the server.
macro_rules! s3_servers {
    ($($name:ident),* $(,)?) => {
        mod s3_server {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let server = rpmbucket_engine::testkit::moto().await;
                    super::$name(&server).await;
                }
            )*
        }
        mod localstack_server {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(server) = rpmbucket_engine::testkit::localstack() else {
                        return;
                    };
                    super::$name(&server).await;
                }
            )*
        }
    };
}

s3_servers!(dnf_installs_over_http, stored_sha256_spares_the_stream);

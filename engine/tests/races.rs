//! Deterministic interleavings of the publish protocol's races (issue "publish protocol under
//! adversity"), each run against the local-directory store and moto S3. Pause hooks (feature
//! `testkit`) stop a publisher at a named point while the test does the other party's work, and
//! store wrappers answer the way S3 does after an SDK retry.
//!
//! - race 1: a sweep (reconcile with no grace period) while a publisher has written its files
//!   but not swapped yet must not delete them;
//! - race 4: a retry after a lost race must HEAD the keys again (no resurrection of a key
//!   deleted meanwhile); verification rounds running out is an error, not Ok;
//! - race 5: a swap that landed but answered 412 (the SDK retried it) is a success, and a
//!   content-addressed create answered 409/412 is too.

mod common;

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use common::*;
use futures::FutureExt;
use rpmbucket_engine::publish::hooks::PausePoint;
use rpmbucket_engine::store::{
    self, ByteStream, Error as StoreError, ObjectMeta, ObjectStore, PutMode, PutOptions,
};
use rpmbucket_engine::{Change, Compression, Error, IndexerOptions, RepoConfig};
use rpmbucket_tests::fx;

const ROOT: &str = "el9/x86_64/";

fn key(name: &str) -> String {
    format!("{ROOT}Packages/{name}")
}

fn href(name: &str) -> String {
    format!("Packages/{name}")
}

/// Answers like S3 after the SDK retried a conditional PUT whose first attempt landed: the
/// write is done, the answer is a precondition failure. Applies to the next `repomd.xml`
/// swaps (`swaps`) and content-addressed creates (`creates`) it is told to.
#[derive(Debug)]
struct LandThenFail {
    inner: Arc<dyn ObjectStore>,
    swaps: AtomicU32,
    creates: AtomicU32,
    faults: AtomicU32,
}

#[async_trait]
impl ObjectStore for LandThenFail {
    async fn head(&self, key: &str) -> store::Result<ObjectMeta> {
        self.inner.head(key).await
    }
    async fn get(&self, key: &str) -> store::Result<(Bytes, ObjectMeta)> {
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> store::Result<(Bytes, ObjectMeta)> {
        self.inner.get_range(key, range).await
    }
    async fn get_stream(&self, key: &str) -> store::Result<(ByteStream, ObjectMeta)> {
        self.inner.get_stream(key).await
    }
    async fn put(&self, key: &str, body: Bytes, opts: PutOptions) -> store::Result<ObjectMeta> {
        let take = |n: &AtomicU32| {
            n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
                .is_ok()
        };
        let mode = opts.mode.clone();
        let r = self.inner.put(key, body, opts).await?;
        let swap = key.ends_with("repodata/repomd.xml") && mode != PutMode::Overwrite;
        let create = key.contains("/repodata/") && !swap && mode == PutMode::Create;
        if (swap && take(&self.swaps)) || (create && take(&self.creates)) {
            self.faults.fetch_add(1, Ordering::SeqCst);
            return Err(match mode {
                PutMode::Create if swap => StoreError::AlreadyExists { key: key.into() },
                // 409 ConditionalRequestConflict maps to Precondition, also for creates.
                _ => StoreError::Precondition { key: key.into() },
            });
        }
        Ok(r)
    }
    async fn delete(&self, key: &str) -> store::Result<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> store::Result<Vec<ObjectMeta>> {
        self.inner.list(prefix).await
    }
}

/// Race 5: the swap landed, the answer was 412. The publish is a success (not a lost race):
/// no retry, and the expired files it planned to delete are deleted.
pub async fn precondition_after_landing(store: Arc<dyn ObjectStore>) {
    let config = RepoConfig::default()
        .with_database(false)
        .with_grace_period(Duration::ZERO);
    upload(&*store, &key(fx::BASIC), &fixture(fx::BASIC)).await;
    indexer(store.clone(), config.clone())
        .apply(ROOT, &created(&[key(fx::BASIC)]))
        .await
        .unwrap();
    let first = published(&*store, ROOT).await;

    let faulty = Arc::new(LandThenFail {
        inner: store.clone(),
        swaps: AtomicU32::new(1),
        creates: AtomicU32::new(2),
        faults: AtomicU32::new(0),
    });
    upload(&*store, &key(fx::META), &fixture(fx::META)).await;
    let r = indexer(faulty.clone(), config)
        .apply(ROOT, &created(&[key(fx::META)]))
        .await
        .unwrap();
    assert_eq!(faulty.faults.load(Ordering::SeqCst), 3, "{r:?}");
    assert_eq!(
        r.conflicts_retried, 0,
        "the landed swap was taken for a lost race: {r:?}"
    );
    assert_eq!(r.added, [key(fx::META)]);
    // The first generation expired (no grace) and was deleted by this publish.
    for f in &first.files {
        let k = format!("{ROOT}{f}");
        assert!(r.deleted_files.contains(&k), "{k} not deleted: {r:?}");
        assert!(
            matches!(store.head(&k).await, Err(StoreError::NotFound { .. })),
            "{k}"
        );
    }
    let now = published(&*store, ROOT).await;
    assert_eq!(now.repomd.revision, r.revision);
    assert_eq!(
        now.packages.keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([href(fx::BASIC), href(fx::META)])
    );
}

/// Race 4: publisher A has HEADed and read its key; meanwhile the key is deleted and B
/// publishes the removal, so A's swap loses. A's retry must ask the store again: publishing
/// its earlier answer would bring the deleted package back (until verification removed it).
pub async fn retry_heads_again(store: Arc<dyn ObjectStore>) {
    let config = RepoConfig::default().with_database(false);
    let audit = Auditing::new(store.clone());
    let k = key(fx::BASIC);
    upload(&*store, &k, &fixture(fx::BASIC)).await;
    indexer(audit.clone(), config.clone())
        .apply(ROOT, &created(std::slice::from_ref(&k)))
        .await
        .unwrap();
    // Replaced: A reads the new object.
    upload(&*store, &k, &fixture(fx::LIB_1_2)).await;

    let b = indexer(audit.clone(), config.clone());
    let fired = Arc::new(AtomicBool::new(false));
    let hook = {
        let (store, k, fired) = (store.clone(), k.clone(), fired.clone());
        Arc::new(move |point: PausePoint, _root: &str| {
            let (store, b, k, fired) = (store.clone(), b.clone(), k.clone(), fired.clone());
            async move {
                if point == PausePoint::AfterLearn && !fired.swap(true, Ordering::SeqCst) {
                    store.delete(&k).await.unwrap();
                    let r = b.apply(ROOT, &[Change::removed(k.clone())]).await.unwrap();
                    assert_eq!(r.removed, [k]);
                }
            }
            .boxed()
        })
    };
    let a = indexer(audit.clone(), config).with_pause(hook);
    let before = audit.versions.lock().unwrap().len();
    let r = a
        .apply(ROOT, &created(std::slice::from_ref(&k)))
        .await
        .unwrap();
    assert!(fired.load(Ordering::SeqCst));
    assert_eq!(r.conflicts_retried, 1, "{r:?}");
    assert!(r.added.is_empty() && r.unchanged, "{r:?}");
    // Exactly one generation since: B's. A published nothing (no resurrection, no undo).
    assert_eq!(audit.versions.lock().unwrap().len(), before + 1);
    assert!(hrefs(&*store, ROOT).await.is_empty());
    let violations = audit.violations.lock().unwrap().clone();
    assert!(violations.is_empty(), "{violations:#?}");
}

/// Race 4 (second half): a key that keeps changing while its publish is verified ends in an
/// error once the verification rounds run out, not in Ok.
pub async fn unsettled_is_an_error(store: Arc<dyn ObjectStore>) {
    let config = RepoConfig::default().with_database(false);
    let k = key(fx::BASIC);
    upload(&*store, &k, &fixture(fx::BASIC)).await;
    let flips = Arc::new(AtomicU32::new(0));
    let hook = {
        let (store, k, flips) = (store.clone(), k.clone(), flips.clone());
        Arc::new(move |point: PausePoint, _root: &str| {
            let (store, k, flips) = (store.clone(), k.clone(), flips.clone());
            async move {
                if point == PausePoint::BeforeVerify {
                    let n = flips.fetch_add(1, Ordering::SeqCst);
                    let f = if n % 2 == 0 { fx::LIB_1_0 } else { fx::BASIC };
                    upload(&*store, &k, &fixture(f)).await;
                }
            }
            .boxed()
        })
    };
    let ix = indexer(store.clone(), config)
        .with_options(IndexerOptions {
            verify_rounds: 1,
            ..IndexerOptions::default()
        })
        .with_pause(hook);
    let err = ix
        .apply(ROOT, &created(std::slice::from_ref(&k)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsettled { rounds: 2, .. }), "{err}");
    assert!(err.is_retryable());
    assert_eq!(flips.load(Ordering::SeqCst), 2);
    // What is published is a valid repository holding the key.
    assert_eq!(
        hrefs(&*store, ROOT).await,
        BTreeSet::from([href(fx::BASIC)])
    );
}

/// Race 1: publisher A has written the files of a new generation and is about to swap; a
/// reconcile with no grace period sweeps `repodata/` in that moment. A's files are young, so
/// the sweep leaves them, and A's `repomd.xml` names only files that exist.
pub async fn sweep_spares_a_live_publisher(store: Arc<dyn ObjectStore>) {
    let config = RepoConfig::default()
        .with_database(false)
        .with_grace_period(Duration::ZERO);
    upload(&*store, &key(fx::BASIC), &fixture(fx::BASIC)).await;
    indexer(store.clone(), config.clone())
        .apply(ROOT, &created(&[key(fx::BASIC)]))
        .await
        .unwrap();

    let sweeper = indexer(store.clone(), config.clone());
    let swept: Arc<Mutex<Option<Vec<String>>>> = Arc::default();
    let hook = {
        let swept = swept.clone();
        Arc::new(move |point: PausePoint, _root: &str| {
            let (sweeper, swept) = (sweeper.clone(), swept.clone());
            async move {
                if point == PausePoint::BeforeSwap && swept.lock().unwrap().is_none() {
                    let r = sweeper.reconcile(ROOT).await.unwrap();
                    assert!(r.unchanged, "{r:?}");
                    *swept.lock().unwrap() = Some(r.deleted_files);
                }
            }
            .boxed()
        })
    };
    // A changes the repository's settings (the sweeper does not see a change to publish):
    // every file of its generation is new.
    let a = indexer(store.clone(), config.with_compression(Compression::Zstd))
        .overriding_settings()
        .with_pause(hook);
    let r = a.reindex(ROOT).await.unwrap();
    assert!(!r.unchanged, "{r:?}");
    assert_eq!(r.conflicts_retried, 0, "{r:?}");
    let deleted = swept.lock().unwrap().clone().expect("the sweep ran");
    assert!(
        deleted.is_empty(),
        "the sweep deleted a live publisher's files: {deleted:?}"
    );
    // Every file the new repomd.xml names exists with its checksum (`published` checks).
    let p = published(&*store, ROOT).await;
    assert!(p.files.iter().any(|f| f.ends_with(".zst")), "{:?}", p.files);
    assert_eq!(p.packages.len(), 1);
}

/// Applying a batch to a root without `repomd.xml` publishes every package of the root, not
/// only the batch.
pub async fn first_apply_lists_the_root(store: Arc<dyn ObjectStore>) {
    for n in [fx::BASIC, fx::LIB_1_0, fx::META] {
        upload(&*store, &key(n), &fixture(n)).await;
    }
    let r = indexer(store.clone(), RepoConfig::default().with_database(false))
        .apply(ROOT, &created(&[key(fx::BASIC)]))
        .await
        .unwrap();
    assert_eq!(r.packages, 3, "{r:?}");
    assert_eq!(
        hrefs(&*store, ROOT).await,
        BTreeSet::from([href(fx::BASIC), href(fx::LIB_1_0), href(fx::META)])
    );
}

macro_rules! scenarios {
    ($module:ident: $make:ident) => {
        mod $module {
            scenarios!(@tests $make;
                precondition_after_landing,
                retry_heads_again,
                unsettled_is_an_error,
                sweep_spares_a_live_publisher,
                first_apply_lists_the_root,
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

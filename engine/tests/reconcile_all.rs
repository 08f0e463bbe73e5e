//! `Indexer::reconcile_all` on moto and on a directory: the listing is read one bounded page at
//! a time (never two at once), repositories are reconciled one at a time, and a walk stopped
//! after some repositories is resumed from its cursor by the next one, which touches none of the
//! finished repositories and ends in the state a full reconcile gives.

mod common;

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use rpmbucket_engine::store::{
    self, ByteStream, ListPage, ObjectMeta, ObjectStore, PageStart, PutOptions, Result,
};
use rpmbucket_engine::{CursorPlace, IndexerOptions, ReconcileAllOptions, RepoConfig};

use common::{hrefs, published, synthetic, upload, Auditing, TestStore};

/// Forwards everything; records each listing page (its prefix and size), the largest number
/// of listings in flight at once, and every other key touched.
#[derive(Debug, Default)]
struct Pager {
    inner: Option<Arc<dyn ObjectStore>>,
    pages: Mutex<Vec<(String, usize)>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    touched: Mutex<Vec<String>>,
}

impl Pager {
    fn new(inner: Arc<dyn ObjectStore>) -> Arc<Pager> {
        Arc::new(Pager {
            inner: Some(inner),
            ..Pager::default()
        })
    }
    fn inner(&self) -> &dyn ObjectStore {
        self.inner.as_deref().unwrap()
    }
    fn touch_key(&self, key: &str) {
        self.touched.lock().unwrap().push(key.to_string());
    }
    /// Forget what was recorded.
    fn reset(&self) -> (Vec<(String, usize)>, Vec<String>) {
        (
            std::mem::take(&mut *self.pages.lock().unwrap()),
            std::mem::take(&mut *self.touched.lock().unwrap()),
        )
    }
}

#[async_trait]
impl ObjectStore for Pager {
    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        self.touch_key(key);
        self.inner().head(key).await
    }
    async fn get(&self, key: &str) -> Result<(Bytes, ObjectMeta)> {
        self.touch_key(key);
        self.inner().get(key).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<(Bytes, ObjectMeta)> {
        self.touch_key(key);
        self.inner().get_range(key, range).await
    }
    async fn get_stream(&self, key: &str) -> Result<(ByteStream, ObjectMeta)> {
        self.touch_key(key);
        self.inner().get_stream(key).await
    }
    async fn put(&self, key: &str, body: Bytes, opts: PutOptions) -> Result<ObjectMeta> {
        self.touch_key(key);
        self.inner().put(key, body, opts).await
    }
    async fn put_file(&self, key: &str, path: &Path, opts: PutOptions) -> Result<ObjectMeta> {
        self.touch_key(key);
        self.inner().put_file(key, path, opts).await
    }
    async fn put_pair(
        &self,
        first: (&str, Bytes, PutOptions),
        second: (&str, Bytes, PutOptions),
    ) -> Result<(ObjectMeta, Result<ObjectMeta>)> {
        self.touch_key(first.0);
        self.touch_key(second.0);
        self.inner().put_pair(first, second).await
    }
    async fn copy(&self, from: &str, to: &str, opts: PutOptions) -> Result<ObjectMeta> {
        self.touch_key(from);
        self.touch_key(to);
        self.inner().copy(from, to, opts).await
    }
    async fn touch(&self, key: &str) -> Result<ObjectMeta> {
        self.touch_key(key);
        self.inner().touch(key).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.touch_key(key);
        self.inner().delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        panic!("a whole-prefix listing of {prefix:?}: reconcile must page");
    }
    async fn list_page(&self, prefix: &str, start: &PageStart, max: usize) -> Result<ListPage> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let page = self.inner().list_page(prefix, start, max).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if let Ok(p) = &page {
            self.pages
                .lock()
                .unwrap()
                .push((prefix.to_string(), p.objects.len()));
        }
        page
    }
}

const ROOTS: [&str; 4] = ["el/a/", "el/b/", "el/c/", "el/d/"];
const PER_ROOT: usize = 3;
const PAGE: usize = 2;

async fn keys_after(store: &dyn ObjectStore, after: Option<&str>) -> usize {
    store
        .list("")
        .await
        .unwrap()
        .iter()
        .filter(|o| after.is_none_or(|a| o.key.as_str() > a))
        .count()
}

async fn pages_and_resume(t: TestStore) {
    let bucket = t.store.clone();
    let rpms = synthetic((ROOTS.len() * PER_ROOT) as u64);
    let mut expected = Vec::new();
    for (i, root) in ROOTS.iter().enumerate() {
        let mut names = BTreeSet::new();
        for rpm in &rpms[i * PER_ROOT..(i + 1) * PER_ROOT] {
            let name = rpm.file_name().unwrap().to_str().unwrap().to_string();
            upload(&*bucket, &format!("{root}{name}"), rpm).await;
            names.insert(name);
        }
        expected.push(names);
    }
    for other in ["docs/readme.txt", "docs/more.txt"] {
        bucket
            .put(
                other,
                Bytes::from_static(b"not a package"),
                PutOptions::default(),
            )
            .await
            .unwrap();
    }
    let pager = Pager::new(bucket.clone());
    let ix = common::indexer(pager.clone(), RepoConfig::default());
    let ix = ix.clone().with_options(IndexerOptions {
        list_page_size: PAGE,
        ..ix.options().clone()
    });
    let opts = ReconcileAllOptions {
        prefix: String::new(),
        cursor: CursorPlace::Store,
        restart: false,
    };
    let cursor = rpmbucket_engine::publish::cursor_key("");

    // A first run: finds the repositories page by page, does two of them, is stopped.
    let total_keys = keys_after(&*bucket, None).await;
    let mut walk = ix.reconcile_all(&opts).await.unwrap();
    assert_eq!(walk.resumed_after(), None);
    assert_eq!(walk.total(), ROOTS.len());
    assert_eq!(walk.listing_pages() as usize, total_keys.div_ceil(PAGE));
    for root in &ROOTS[..2] {
        let (done, result) = walk.next().await.unwrap();
        assert_eq!(done, *root);
        assert_eq!(result.unwrap().added.len(), PER_ROOT);
    }
    drop(walk); // interrupted
    let (pages, _) = pager.reset();
    assert!(pages.iter().all(|(_, n)| *n <= PAGE), "{pages:?}");
    // Each repository's own listing is paged too: more pages than one per repository.
    let of_a = pages.iter().filter(|(p, _)| p == "el/a/").count();
    assert!(of_a >= PER_ROOT.div_ceil(PAGE), "{pages:?}");
    let (body, _) = bucket.get(&cursor).await.expect("a cursor after each root");
    let recorded: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(recorded["after"], "el/b/", "{recorded}");
    assert_eq!(recorded["done"], 2, "{recorded}");

    // The next run resumes after el/b/: it lists only from there, and touches nothing of the
    // finished repositories.
    let after_keys = keys_after(&*bucket, Some("el/b/")).await;
    assert!(after_keys < keys_after(&*bucket, None).await);
    let walk = ix.reconcile_all(&opts).await.unwrap();
    assert_eq!(walk.resumed_after(), Some("el/b/"));
    assert_eq!(walk.done_before(), 2);
    assert_eq!(walk.total(), 2);
    assert_eq!(walk.listing_pages() as usize, after_keys.div_ceil(PAGE));
    let results = walk.run_to_end().await.unwrap();
    let roots: Vec<&str> = results.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(roots, ROOTS[2..]);
    for (_, r) in &results {
        assert_eq!(r.as_ref().unwrap().added.len(), PER_ROOT);
    }
    let (pages, touched) = pager.reset();
    for (prefix, _) in &pages {
        assert!(
            !prefix.starts_with("el/a/") && !prefix.starts_with("el/b/"),
            "listed a finished repository: {pages:?}"
        );
    }
    for key in &touched {
        assert!(
            !key.starts_with("el/a/") && !key.starts_with("el/b/"),
            "touched {key} of a finished repository"
        );
    }
    assert!(
        matches!(
            bucket.head(&cursor).await,
            Err(store::Error::NotFound { .. })
        ),
        "a finished walk deletes its cursor"
    );
    assert_eq!(pager.max_in_flight.load(Ordering::SeqCst), 1);

    // The state is what a full reconcile gives: every package published, and a full run
    // (no cursor now) changes nothing.
    for (root, names) in ROOTS.iter().zip(&expected) {
        assert_eq!(&hrefs(&*bucket, root).await, names, "{root}");
    }
    let full = ix.reconcile_all(&opts).await.unwrap();
    assert_eq!(full.resumed_after(), None);
    for (root, r) in full.run_to_end().await.unwrap() {
        assert!(
            r.unwrap().unchanged,
            "{root} changed in a full reconcile after the resume"
        );
    }
}

async fn restart_ignores_the_cursor(t: TestStore) {
    let bucket = t.store.clone();
    let rpms = synthetic(2);
    for (root, rpm) in ["x/a/", "x/b/"].iter().zip(&rpms) {
        let name = rpm.file_name().unwrap().to_str().unwrap();
        upload(&*bucket, &format!("{root}{name}"), rpm).await;
    }
    let ix = common::indexer(bucket.clone(), RepoConfig::default());
    let opts = ReconcileAllOptions {
        prefix: "x/".into(),
        cursor: CursorPlace::Store,
        restart: false,
    };
    let mut walk = ix.reconcile_all(&opts).await.unwrap();
    walk.next().await.unwrap().1.unwrap();
    drop(walk);
    let key = rpmbucket_engine::publish::cursor_key("x/");
    bucket.head(&key).await.expect("cursor of prefix x/");
    // Another prefix has its own (no) cursor.
    let other = ReconcileAllOptions {
        prefix: "x/b/".into(),
        ..opts.clone()
    };
    assert_eq!(
        ix.reconcile_all(&other).await.unwrap().resumed_after(),
        None
    );
    let again = ReconcileAllOptions {
        restart: true,
        ..opts
    };
    let walk = ix.reconcile_all(&again).await.unwrap();
    assert_eq!(walk.resumed_after(), None);
    assert_eq!(walk.total(), 2);
    assert!(matches!(
        bucket.head(&key).await,
        Err(store::Error::NotFound { .. })
    ));
}

/// Refuses every `repomd.xml` write after `allowed` of them (a reconcile killed there).
#[derive(Debug)]
struct Stopping {
    inner: Arc<dyn ObjectStore>,
    allowed: AtomicUsize,
}

#[async_trait]
impl ObjectStore for Stopping {
    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        self.inner.head(key).await
    }
    async fn get(&self, key: &str) -> Result<(Bytes, ObjectMeta)> {
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<(Bytes, ObjectMeta)> {
        self.inner.get_range(key, range).await
    }
    async fn get_stream(&self, key: &str) -> Result<(ByteStream, ObjectMeta)> {
        self.inner.get_stream(key).await
    }
    async fn put(&self, key: &str, body: Bytes, opts: PutOptions) -> Result<ObjectMeta> {
        if key.ends_with("repodata/repomd.xml")
            && self
                .allowed
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_err()
        {
            return Err(store::Error::Permanent {
                key: key.to_string(),
                source: "stopped by the test".into(),
            });
        }
        self.inner.put(key, body, opts).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.inner.list(prefix).await
    }
}

/// The package hrefs a `repomd.xml` version publishes (its primary read back).
async fn packages_of(
    store: &dyn ObjectStore,
    root: &str,
    repomd: &rpmbucket_repodata::repomd::Repomd,
) -> BTreeSet<String> {
    let mut files = std::collections::HashMap::new();
    for rec in &repomd.records {
        let key = format!("{root}{}", rec.location_href);
        let (data, _) = store
            .get(&key)
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        files.insert(rec.location_href.clone(), data.to_vec());
    }
    rpmbucket_repodata::read::read_published(repomd, |href| {
        Ok(Box::new(std::io::Cursor::new(files[href].clone())) as Box<dyn std::io::Read>)
    })
    .expect("a published version reads back")
    .into_iter()
    .map(|p| p.location_href)
    .collect()
}

const CHECKPOINT: usize = 50;
const UNREAD: usize = 230;

/// A reconcile with 230 packages to read and a checkpoint of 50 publishes 4 checkpoints of 50
/// packages (in key order, each a consistent generation) and then the final round; the end
/// state is a reconcile without checkpoints'. A reconcile stopped after 2 checkpoints leaves
/// 100 packages published, and the next reads only the other 130. With nothing to read, no
/// checkpoint.
#[tokio::test]
async fn checkpoints_inside_one_repository() {
    let gen_dir = tempfile::tempdir().unwrap();
    let rpms = rpmbucket_tests::gen::generate(UNREAD as u64, gen_dir.path(), 13, 2)
        .expect("generate packages");
    let root = "el/big/";
    let mut names: Vec<String> = rpms
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    names.sort();
    let rpms = &rpms;
    let fill = |t: TestStore| async move {
        for rpm in rpms {
            let name = rpm.file_name().unwrap().to_str().unwrap();
            upload(&*t.store, &format!("{root}{name}"), rpm).await;
        }
        t
    };
    let with_every = |ix: rpmbucket_engine::Indexer, n: usize| {
        let options = ix.options().clone();
        ix.with_options(IndexerOptions {
            reconcile_checkpoint: n,
            // Chunks of 16 packages: checkpoints fill and split chunks of the state.
            chunk_target: 16,
            ..options
        })
    };

    // With checkpoints of 50.
    let a = fill(common::local_store().await.unwrap()).await;
    let audit = Auditing::new(a.store.clone());
    let ix = with_every(
        common::indexer(audit.clone(), RepoConfig::default()),
        CHECKPOINT,
    );
    let report = ix.reconcile(root).await.unwrap();
    assert_eq!(report.checkpoints, 4, "{report:?}");
    assert_eq!(report.added.len(), UNREAD);
    assert_eq!(report.packages, UNREAD);
    let versions = audit.versions.lock().unwrap().clone();
    assert_eq!(versions.len(), 5, "4 checkpoints and the final publish");
    assert!(
        audit.violations.lock().unwrap().is_empty(),
        "{:?}",
        audit.violations.lock().unwrap()
    );
    for (k, version) in versions.iter().enumerate() {
        let want: BTreeSet<String> = names[..((k + 1) * CHECKPOINT).min(UNREAD)]
            .iter()
            .cloned()
            .collect();
        assert_eq!(
            packages_of(&*a.store, root, version).await,
            want,
            "version {k}: the first {} keys",
            want.len()
        );
    }

    // Without checkpoints: the same packages, the same records.
    let b = fill(common::local_store().await.unwrap()).await;
    let plain = with_every(common::indexer(b.store.clone(), RepoConfig::default()), 0);
    let report = plain.reconcile(root).await.unwrap();
    assert_eq!(report.checkpoints, 0);
    let (got, want) = (
        published(&*a.store, root).await,
        published(&*b.store, root).await,
    );
    let records = |p: &common::Published| -> Vec<rpmbucket_repodata::Package> {
        p.packages
            .values()
            .map(|p| rpmbucket_repodata::Package {
                // The objects of the two directories were written at different times.
                time_file: 0,
                ..p.clone()
            })
            .collect()
    };
    assert_eq!(got.packages.len(), UNREAD);
    assert_eq!(records(&got), records(&want));
    let chunks = ix.snapshot(root).await.unwrap().state.chunks.len();
    // (Cut as the checkpoints grew it, so not necessarily as one publish cuts it.)
    assert!(chunks > 1, "the state is cut into chunks: {chunks}");
    let types = |p: &common::Published| -> Vec<String> {
        p.repomd
            .records
            .iter()
            .map(|r| r.data_type.clone())
            .collect()
    };
    assert_eq!(types(&got), types(&want));

    // Nothing to read: no checkpoint, no publish.
    let again = ix.reconcile(root).await.unwrap();
    assert_eq!(again.checkpoints, 0, "{again:?}");
    assert!(again.unchanged, "{again:?}");
    assert_eq!(audit.versions.lock().unwrap().len(), 5);

    // Stopped after 2 checkpoints (every later swap refused): 100 packages stay published,
    // and the next reconcile reads only the rest.
    let c = fill(common::local_store().await.unwrap()).await;
    let stopping = Arc::new(Stopping {
        inner: c.store.clone(),
        allowed: AtomicUsize::new(2),
    });
    let killed = with_every(common::indexer(stopping, RepoConfig::default()), CHECKPOINT);
    killed
        .reconcile(root)
        .await
        .expect_err("the third swap is refused");
    assert_eq!(hrefs(&*c.store, root).await.len(), 2 * CHECKPOINT);
    let resumed = with_every(
        common::indexer(c.store.clone(), RepoConfig::default()),
        CHECKPOINT,
    );
    let report = resumed.reconcile(root).await.unwrap();
    assert_eq!(report.added.len(), UNREAD - 2 * CHECKPOINT, "{report:?}");
    assert_eq!(
        (report.hashed_by_checksum + report.hashed_by_stream) as usize,
        UNREAD - 2 * CHECKPOINT,
        "{report:?}"
    );
    assert_eq!(
        report.checkpoints, 2,
        "130 to read: 2 checkpoints of 50, then 30"
    );
    assert_eq!(
        hrefs(&*c.store, root).await,
        names.iter().cloned().collect()
    );
}

/// A changed package policy means every published package is checked again, which only the
/// reconcile's final round does: a checkpoint that finds the policy changed publishes nothing
/// (it would store the new policy, and the final round would then check nothing again).
#[tokio::test]
async fn no_checkpoints_when_the_package_policy_changed() {
    let gen_dir = tempfile::tempdir().unwrap();
    let rpms = rpmbucket_tests::gen::generate(120, gen_dir.path(), 19, 2).expect("generate");
    let t = common::local_store().await.unwrap();
    let root = "el/policy/";
    let put = |rpms: &[std::path::PathBuf]| {
        let rpms = rpms.to_vec();
        let store = t.store.clone();
        async move {
            for rpm in rpms {
                let name = rpm.file_name().unwrap().to_str().unwrap().to_string();
                upload(&*store, &format!("{root}{name}"), &rpm).await;
            }
        }
    };
    put(&rpms[..30]).await;
    let open = common::indexer(t.store.clone(), RepoConfig::default());
    assert_eq!(open.reconcile(root).await.unwrap().packages, 30);
    put(&rpms[30..]).await;
    // Only packages signed by a trusted key (there is none: the synthetic ones are unsigned).
    let strict = RepoConfig::default().with_package_policy(
        rpmbucket_engine::PackagePolicy::Keys,
        rpmbucket_engine::TrustedKeys::default(),
    );
    let ix = common::indexer(t.store.clone(), strict).overriding_settings();
    let ix = ix.clone().with_options(IndexerOptions {
        reconcile_checkpoint: 20,
        ..ix.options().clone()
    });
    let report = ix.reconcile(root).await.unwrap();
    assert_eq!(report.checkpoints, 0, "{report:?}");
    assert_eq!(
        report.packages, 0,
        "every package checked under the new policy"
    );
    assert_eq!(report.rejected.len(), 120);
    assert!(hrefs(&*t.store, root).await.is_empty());
}

macro_rules! on_backends {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(#[tokio::test] async fn $name() { super::$name(super::common::local_store().await.unwrap()).await; })*
        }
        mod moto {
            $(#[tokio::test] async fn $name() { super::$name(super::common::moto_store().await.unwrap()).await; })*
        }
    };
}

on_backends!(pages_and_resume, restart_ignores_the_cursor);

/// A package of a checkpoint's batch deleted after the checkpoint read it and before its swap:
/// the checkpoint is verified by one listing, so when it returns the published metadata no
/// longer lists the deleted key (a reconcile killed right after it leaves no package that 404s).
#[tokio::test]
async fn checkpoint_verified_against_a_delete_during_it() {
    use futures::FutureExt;
    use rpmbucket_engine::publish::hooks::PausePoint;
    use std::sync::atomic::AtomicBool;

    let t = common::local_store().await.unwrap();
    let root = "el/ck/";
    for (i, p) in synthetic(7).iter().enumerate() {
        upload(&*t.store, &format!("{root}p{i}.rpm"), p).await;
    }
    let deleted = format!("{root}p1.rpm");
    let fired = Arc::new(AtomicBool::new(false));
    let after_first: Arc<Mutex<Option<BTreeSet<String>>>> = Arc::default();
    let hook = {
        let (store, deleted, fired, after_first) = (
            t.store.clone(),
            deleted.clone(),
            fired.clone(),
            after_first.clone(),
        );
        Arc::new(move |point: PausePoint, root: &str| {
            let (store, deleted, fired, after_first, root) = (
                store.clone(),
                deleted.clone(),
                fired.clone(),
                after_first.clone(),
                root.to_string(),
            );
            async move {
                if point == PausePoint::BeforeSwap && !fired.swap(true, Ordering::SeqCst) {
                    // The first checkpoint read p0 and p1; p1 goes before its swap.
                    store.delete(&deleted).await.unwrap();
                }
                if point == PausePoint::AfterCheckpoint && after_first.lock().unwrap().is_none() {
                    let now = hrefs(&*store, &root).await;
                    *after_first.lock().unwrap() = Some(now);
                }
            }
            .boxed()
        })
    };
    let ix = common::indexer(t.store.clone(), RepoConfig::default());
    let options = ix.options().clone();
    let ix = ix
        .with_options(IndexerOptions {
            reconcile_checkpoint: 2,
            ..options
        })
        .with_pause(hook);
    let report = ix.reconcile(root).await.unwrap();
    assert!(fired.load(Ordering::SeqCst));
    assert!(report.checkpoints >= 1, "{report:?}");
    let after_first = after_first
        .lock()
        .unwrap()
        .clone()
        .expect("a checkpoint ran");
    assert_eq!(
        after_first,
        BTreeSet::from(["p0.rpm".to_string()]),
        "published right after the first checkpoint"
    );
    assert_eq!(report.packages, 6, "{report:?}");
    let want: BTreeSet<String> = [0, 2, 3, 4, 5, 6].map(|i| format!("p{i}.rpm")).into();
    assert_eq!(hrefs(&*t.store, root).await, want);
}

//! Torture: concurrent writers adding and removing packages in one repository through a store
//! that fails (500 before the request, 500 after a write landed, added latency), with publishes
//! abandoned at random moments (the future dropped, as a killed process leaves it). An
//! independent checker reads every `repomd.xml` as it is written and checks that each file it
//! names exists with its checksum; at the end, every acknowledged operation whose key was not
//! touched again is what the metadata says, and after one clean reconcile the metadata equals
//! the listing. Prints publishes, abandoned publishes, faults and violations (all must be 0).
//!
//! Bounded for CI (`RPMBUCKET_TORTURE_OPS` operations per writer, default 12); the in-process
//! version of the multi-process test the protocol issue asks for (real binaries, SIGKILL, an
//! HTTP fault proxy) — see the engine README.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use common::*;
use rpmbucket_engine::store::{self, ByteStream, ObjectMeta, ObjectStore, PutOptions};
use rpmbucket_engine::{Change, IndexerOptions, RepoConfig};

const ROOT: &str = "el9/x86_64/";
const WRITERS: usize = 6;

/// Fails requests at random: 500 before the request, or (writes) after it landed; adds latency.
#[derive(Debug)]
struct Faulty {
    inner: Arc<dyn ObjectStore>,
    faults: AtomicU64,
    /// Fault probability in percent.
    percent: u64,
}

impl Faulty {
    async fn before(&self, key: &str) -> store::Result<()> {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..5))).await;
        if fastrand::u64(0..100) < self.percent {
            self.faults.fetch_add(1, Ordering::Relaxed);
            return Err(store::Error::other(key, "injected 500 InternalError"));
        }
        Ok(())
    }
    fn after<T>(&self, key: &str, r: store::Result<T>) -> store::Result<T> {
        if r.is_ok() && fastrand::u64(0..100) < self.percent {
            self.faults.fetch_add(1, Ordering::Relaxed);
            return Err(store::Error::other(
                key,
                "injected 500 after the write landed",
            ));
        }
        r
    }
}

#[async_trait]
impl ObjectStore for Faulty {
    async fn head(&self, key: &str) -> store::Result<ObjectMeta> {
        self.before(key).await?;
        self.inner.head(key).await
    }
    async fn get(&self, key: &str) -> store::Result<(Bytes, ObjectMeta)> {
        self.before(key).await?;
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> store::Result<(Bytes, ObjectMeta)> {
        self.before(key).await?;
        self.inner.get_range(key, range).await
    }
    async fn get_stream(&self, key: &str) -> store::Result<(ByteStream, ObjectMeta)> {
        self.before(key).await?;
        self.inner.get_stream(key).await
    }
    async fn put(&self, key: &str, body: Bytes, opts: PutOptions) -> store::Result<ObjectMeta> {
        self.before(key).await?;
        let r = self.inner.put(key, body, opts).await;
        self.after(key, r)
    }
    async fn delete(&self, key: &str) -> store::Result<()> {
        self.before(key).await?;
        let r = self.inner.delete(key).await;
        self.after(key, r)
    }
    async fn list(&self, prefix: &str) -> store::Result<Vec<ObjectMeta>> {
        self.before(prefix).await?;
        self.inner.list(prefix).await
    }
}

/// Checks every `repomd.xml` at the moment it is written: each file it names exists with the
/// named size and checksum (reading through the honest store).
#[derive(Debug)]
struct Checker {
    inner: Arc<dyn ObjectStore>,
    publishes: AtomicU64,
    violations: Mutex<Vec<String>>,
}

#[async_trait]
impl ObjectStore for Checker {
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
        if let Some(root) = key.strip_suffix("repodata/repomd.xml") {
            let md = rpmbucket_repodata::repomd::Repomd::parse(&body).expect("repomd.xml parses");
            for rec in &md.records {
                let k = format!("{root}{}", rec.location_href);
                match self.inner.get(&k).await {
                    Ok((data, _)) if sha256_hex(&data) == rec.checksum => {}
                    Ok(_) => self
                        .violations
                        .lock()
                        .unwrap()
                        .push(format!("{k}: wrong checksum")),
                    Err(e) => self
                        .violations
                        .lock()
                        .unwrap()
                        .push(format!("{k} named by a repomd.xml being written: {e}")),
                }
            }
        }
        let r = self.inner.put(key, body, opts).await?;
        if key.ends_with("repodata/repomd.xml") {
            self.publishes.fetch_add(1, Ordering::Relaxed);
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

async fn torture(base: Arc<dyn ObjectStore>) {
    let ops: usize = std::env::var("RPMBUCKET_TORTURE_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let checker = Arc::new(Checker {
        inner: base.clone(),
        publishes: AtomicU64::new(0),
        violations: Mutex::new(Vec::new()),
    });
    let faulty = Arc::new(Faulty {
        inner: checker.clone(),
        faults: AtomicU64::new(0),
        percent: 3,
    });
    let config = RepoConfig::default().with_database(false);
    let options = IndexerOptions {
        backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(200),
        ..IndexerOptions::default()
    };
    // The repository exists before the writers start.
    indexer(checker.clone(), config.clone())
        .reindex(ROOT)
        .await
        .unwrap();
    let rpms = synthetic(4 * WRITERS as u64);
    let abandoned = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        // Each writer owns four keys: the last acknowledged operation of a key is its truth.
        let mine: Vec<_> = rpms[w * 4..(w + 1) * 4].to_vec();
        let ix = indexer(faulty.clone(), config.clone()).with_options(options.clone());
        let (base, abandoned, failed) = (base.clone(), abandoned.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            // key -> Some(true) acknowledged present, Some(false) acknowledged absent, None unknown.
            let mut truth: BTreeMap<String, Option<bool>> = BTreeMap::new();
            for _ in 0..ops {
                let path = &mine[fastrand::usize(..mine.len())];
                let k = format!(
                    "{ROOT}Packages/{}",
                    path.file_name().unwrap().to_str().unwrap()
                );
                let add = fastrand::bool();
                if add {
                    upload(&*base, &k, path).await;
                } else {
                    base.delete(&k).await.unwrap();
                }
                let change = if add {
                    Change::created(k.clone())
                } else {
                    Change::removed(k.clone())
                };
                // One publish in five is abandoned at a random moment (a killed process).
                let limit = if fastrand::u8(..5) == 0 {
                    Duration::from_millis(fastrand::u64(1..400))
                } else {
                    Duration::from_secs(300)
                };
                match tokio::time::timeout(limit, ix.apply(ROOT, &[change])).await {
                    Ok(Ok(_)) => {
                        truth.insert(k, Some(add));
                    }
                    Ok(Err(e)) => {
                        assert!(e.is_retryable(), "{e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                        truth.insert(k, None);
                    }
                    Err(_) => {
                        abandoned.fetch_add(1, Ordering::Relaxed);
                        truth.insert(k, None);
                    }
                }
            }
            truth
        }));
    }
    let mut truth = BTreeMap::new();
    for t in tasks {
        truth.extend(t.await.unwrap());
    }
    let violations_during = checker.violations.lock().unwrap().clone();

    // Acknowledged operations are what the metadata says.
    let now: BTreeSet<String> = hrefs(&*base, ROOT)
        .await
        .into_iter()
        .map(|h| format!("{ROOT}{h}"))
        .collect();
    let mut lost = Vec::new();
    for (k, t) in &truth {
        if let Some(present) = t {
            if now.contains(k) != *present {
                lost.push(format!(
                    "{k}: acknowledged {}, published {}",
                    present,
                    now.contains(k)
                ));
            }
        }
    }
    // One clean reconcile: the metadata equals the listing.
    indexer(checker.clone(), config)
        .reconcile(ROOT)
        .await
        .unwrap();
    let listed: BTreeSet<String> = base
        .list(ROOT)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .filter(|k| k.ends_with(".rpm"))
        .collect();
    let fin: BTreeSet<String> = hrefs(&*base, ROOT)
        .await
        .into_iter()
        .map(|h| format!("{ROOT}{h}"))
        .collect();
    let violations = checker.violations.lock().unwrap().clone();
    eprintln!(
        "torture: {} publishes observed, {} publishes abandoned, {} failed, {} faults injected, \
         {} violations, {} acknowledged operations lost",
        checker.publishes.load(Ordering::Relaxed),
        abandoned.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        faulty.faults.load(Ordering::Relaxed),
        violations.len(),
        lost.len()
    );
    assert!(violations_during.is_empty(), "{violations_during:#?}");
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(lost.is_empty(), "{lost:#?}");
    assert_eq!(fin, listed);
    assert!(
        faulty.faults.load(Ordering::Relaxed) > 0,
        "no fault was injected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local() {
    let t = local_store().await.unwrap();
    torture(t.store.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3() {
    let t = moto_store().await.unwrap();
    torture(t.store.clone()).await;
}

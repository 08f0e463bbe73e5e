//! Helpers shared by the publish tests: uploading packages, reading back what a repository
//! publishes (checking every file `repomd.xml` references), and a store wrapper that checks
//! every `repomd.xml` at the moment it is written.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rpmbucket_engine::store::{ByteStream, ObjectMeta, ObjectStore, PutOptions, Result};
use rpmbucket_engine::{Change, Indexer, Layout, RepoConfig};
use rpmbucket_repodata::repomd::Repomd;
use rpmbucket_repodata::Package;
use sha2::{Digest, Sha256};

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Upload a file as `key`.
pub async fn upload(store: &dyn ObjectStore, key: &str, path: &Path) -> ObjectMeta {
    let body = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    store
        .put(key, Bytes::from(body), PutOptions::default())
        .await
        .unwrap_or_else(|e| panic!("upload {key}: {e}"))
}

/// An indexer with the default layout.
pub fn indexer(store: Arc<dyn ObjectStore>, config: RepoConfig) -> Indexer {
    Indexer::new(store, Layout::new(vec![]), config)
}

/// What a repository publishes.
pub struct Published {
    pub repomd: Repomd,
    pub repomd_etag: String,
    /// By location href.
    pub packages: BTreeMap<String, Package>,
    /// Files referenced by repomd.xml.
    pub files: Vec<String>,
}

/// Read `ROOT/repodata/repomd.xml` and every file it references, checking each file's size and
/// checksum, and parse primary/filelists/other back into records.
pub async fn published(store: &dyn ObjectStore, root: &str) -> Published {
    let (bytes, meta) = store
        .get(&format!("{root}repodata/repomd.xml"))
        .await
        .expect("repomd.xml");
    let repomd = Repomd::parse(&bytes).expect("repomd.xml parses");
    let mut contents: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for rec in &repomd.records {
        let key = format!("{root}{}", rec.location_href);
        let (data, _) = store
            .get(&key)
            .await
            .unwrap_or_else(|e| panic!("{key} referenced by repomd.xml: {e}"));
        assert_eq!(data.len() as u64, rec.size, "size of {key}");
        assert_eq!(sha256_hex(&data), rec.checksum, "checksum of {key}");
        contents.insert(rec.location_href.clone(), data.to_vec());
    }
    let packages = rpmbucket_repodata::read::read_published(&repomd, |href| {
        Ok(Box::new(std::io::Cursor::new(contents[href].clone())) as Box<dyn Read>)
    })
    .expect("published XML reads back");
    Published {
        files: repomd
            .records
            .iter()
            .map(|r| r.location_href.clone())
            .collect(),
        repomd,
        repomd_etag: meta.etag,
        packages: packages
            .into_iter()
            .map(|p| (p.location_href.clone(), p))
            .collect(),
    }
}

/// The hrefs a repository publishes.
pub async fn hrefs(store: &dyn ObjectStore, root: &str) -> BTreeSet<String> {
    published(store, root).await.packages.into_keys().collect()
}

/// The fixture RPMs (built by the tests crate).
pub fn fixtures() -> Vec<PathBuf> {
    rpmbucket_tests::fixture_rpms()
}

pub fn fixture(name: &str) -> PathBuf {
    rpmbucket_tests::fixture(name)
}

/// `count` small valid synthetic RPMs, generated once per test process.
pub fn synthetic(count: u64) -> Vec<PathBuf> {
    static DIR: OnceLock<(tempfile::TempDir, Vec<PathBuf>)> = OnceLock::new();
    let (_, all) = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let paths = rpmbucket_tests::gen::generate(200, dir.path(), 7, 2).expect("generate rpms");
        (dir, paths)
    });
    assert!(count <= all.len() as u64);
    all[..count as usize].to_vec()
}

pub fn created(keys: &[String]) -> Vec<Change> {
    keys.iter().map(Change::created).collect()
}

/// A store wrapper that, whenever a `repomd.xml` is written, checks that every file it
/// references exists (with the right size) *before* letting the write through, and records
/// every version that was written successfully.
#[derive(Debug)]
pub struct Auditing {
    pub inner: Arc<dyn ObjectStore>,
    pub versions: Mutex<Vec<Repomd>>,
    pub violations: Mutex<Vec<String>>,
    /// When set, the first two `repomd.xml` writes wait for each other (see [`Auditing::racing`]).
    rendezvous: Option<Rendezvous>,
}

/// Holds the first two `repomd.xml` writes until both have arrived.
#[derive(Debug)]
struct Rendezvous {
    arrived: std::sync::atomic::AtomicUsize,
    barrier: tokio::sync::Barrier,
}

impl Auditing {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Arc<Auditing> {
        Arc::new(Auditing {
            inner,
            versions: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            rendezvous: None,
        })
    }

    /// Like [`Auditing::new`], and the first two `repomd.xml` writes wait for each other before
    /// they reach the store. No swap has happened before them, so both were planned on the same
    /// base and exactly one loses: concurrent indexers are sure to exercise the lost-race retry.
    pub fn racing(inner: Arc<dyn ObjectStore>) -> Arc<Auditing> {
        Arc::new(Auditing {
            inner,
            versions: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            rendezvous: Some(Rendezvous {
                arrived: std::sync::atomic::AtomicUsize::new(0),
                barrier: tokio::sync::Barrier::new(2),
            }),
        })
    }

    async fn meet(&self) {
        let Some(r) = &self.rendezvous else { return };
        if r.arrived.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
            let wait = tokio::time::timeout(Duration::from_secs(120), r.barrier.wait());
            if wait.await.is_err() {
                self.violations
                    .lock()
                    .unwrap()
                    .push("no second repomd.xml writer arrived within 120 s".into());
            }
        }
    }
}

#[async_trait]
impl ObjectStore for Auditing {
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
        let repomd = match key.strip_suffix("repodata/repomd.xml") {
            Some(root) => {
                let md = Repomd::parse(&body).expect("engine wrote a parsable repomd.xml");
                for rec in &md.records {
                    let k = format!("{root}{}", rec.location_href);
                    match self.inner.head(&k).await {
                        Ok(m) if m.size == rec.size => {}
                        Ok(m) => self.violations.lock().unwrap().push(format!(
                            "{k}: size {} but repomd.xml says {}",
                            m.size, rec.size
                        )),
                        Err(e) => self
                            .violations
                            .lock()
                            .unwrap()
                            .push(format!("{k} missing when repomd.xml was written: {e}")),
                    }
                }
                Some(md)
            }
            None => None,
        };
        if repomd.is_some() {
            self.meet().await;
        }
        let r = self.inner.put(key, body, opts).await?;
        if let Some(md) = repomd {
            self.versions.lock().unwrap().push(md);
        }
        Ok(r)
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.inner.list(prefix).await
    }
}

/// A store for one test, and what must live as long as it (a temporary directory).
pub struct TestStore {
    pub store: Arc<dyn ObjectStore>,
    _dir: Option<tempfile::TempDir>,
}

/// A local-directory store in a fresh temporary directory.
pub async fn local_store() -> Option<TestStore> {
    let dir = tempfile::tempdir().unwrap();
    let store = rpmbucket_engine::LocalStore::new(dir.path()).unwrap();
    Some(TestStore {
        store: Arc::new(store),
        _dir: Some(dir),
    })
}

/// A fresh bucket on moto.
pub async fn moto_store() -> Option<TestStore> {
    let server = rpmbucket_engine::testkit::moto().await;
    Some(TestStore {
        store: Arc::new(server.new_bucket().await),
        _dir: None,
    })
}

/// A fresh bucket on LocalStack; `None` (skip) when there is none outside CI.
pub async fn localstack_store() -> Option<TestStore> {
    let server = rpmbucket_engine::testkit::localstack()?;
    Some(TestStore {
        store: Arc::new(server.new_bucket().await),
        _dir: None,
    })
}

//! [`LocalStore`]: a directory as an object store, with the guarantees the engine relies on from
//! S3.
//!
//! - Key `a/b/c.rpm` is the file `ROOT/a/b/c.rpm`; hostile keys are refused
//!   ([`validate_key`]).
//! - Writes are atomic: the body goes to a temporary file in the target's directory, is
//!   `fsync`ed and renamed over the target, so readers see the old or the new object, never a
//!   mix.
//! - Preconditions (`Create`, `Update(etag)`) hold across threads and processes: the check and
//!   the rename happen under an exclusive lock on the target's directory itself (`flock` on the
//!   directory), so every store that writes a file takes the same lock, whatever root it was
//!   opened at (`serve --root /r` and `reconcile /r/el9/x86_64` both lock
//!   `/r/el9/x86_64/repodata` for its `repomd.xml`). Every mutation takes it (held only for the
//!   check and the rename, not while the body is written). The modification-time stamps below
//!   are kept under a second lock, on `ROOT/.rpmbucket-lock`, always taken after the first.
//! - ETags change on every write: under the lock each write stamps its file with a modification
//!   time strictly later than any stamp before (kept in the lock file), and the ETag is built
//!   from that time, the inode and the size. This needs a filesystem with nanosecond
//!   timestamps (ext4, xfs, btrfs, tmpfs).
//! - Names starting with [`RESERVED_PREFIX`] are the store's own and
//!   never listed.
//!
//! The root must be on a local filesystem: the lock is `flock(2)` (through `File::lock`), which
//! network filesystems may not honour across machines.
//!
//! Unlike S3, a key cannot be both an object and a "directory" (`a` and `a/b`): the second write
//! fails with [`Error::Other`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncReadExt;

use super::{
    validate_key, ByteStream, Error, ListPage, ObjectMeta, ObjectStore, PageStart, PutMode,
    PutOptions, Result, RESERVED_PREFIX,
};

const LOCK_FILE: &str = ".rpmbucket-lock";
const TMP_PREFIX: &str = ".rpmbucket-tmp-";
const STREAM_CHUNK: usize = 256 * 1024;

/// A directory as an object store. Cheap to clone; clones share nothing but the directory, so
/// several `LocalStore`s (or processes) on one root are safe.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: Arc<PathBuf>,
}

impl LocalStore {
    /// A store rooted at `root`, created if missing.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root: PathBuf = root.into();
        fs::create_dir_all(&root).map_err(|e| io_error("", &root, e))?;
        Ok(LocalStore {
            root: Arc::new(root),
        })
    }

    /// The directory the store lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of `key` (validated).
    pub fn path_of(&self, key: &str) -> Result<PathBuf> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    async fn blocking<T, F>(&self, key: &str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Path) -> Result<T> + Send + 'static,
    {
        let root = Arc::clone(&self.root);
        tokio::task::spawn_blocking(move || f(&root))
            .await
            .map_err(|e| Error::other(key, e))?
    }
}

fn io_error(key: &str, path: &Path, e: io::Error) -> Error {
    Error::other(
        key,
        io::Error::new(e.kind(), format!("{}: {e}", path.display())),
    )
}

fn not_found_or(key: &str, path: &Path, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::NotFound => Error::NotFound {
            key: key.to_owned(),
        },
        // `a/b` where `a` is a file.
        io::ErrorKind::NotADirectory => Error::NotFound {
            key: key.to_owned(),
        },
        _ => io_error(key, path, e),
    }
}

fn meta_of(key: &str, md: &fs::Metadata) -> ObjectMeta {
    ObjectMeta {
        key: key.to_owned(),
        size: md.len(),
        etag: format!(
            "\"{:x}.{:09}-{:x}-{:x}\"",
            md.mtime(),
            md.mtime_nsec(),
            md.ino(),
            md.len()
        ),
        last_modified: md.mtime(),
        sha256: None,
    }
}

/// Opens `key`'s file; the metadata comes from the open file so it matches the bytes read.
fn open(root: &Path, key: &str) -> Result<(File, ObjectMeta)> {
    let path = root.join(key);
    let file = File::open(&path).map_err(|e| not_found_or(key, &path, e))?;
    let md = file.metadata().map_err(|e| io_error(key, &path, e))?;
    if !md.is_file() {
        return Err(Error::NotFound {
            key: key.to_owned(),
        });
    }
    Ok((file, meta_of(key, &md)))
}

/// Current metadata of `key`, `None` if absent.
fn stat(root: &Path, key: &str) -> Result<Option<ObjectMeta>> {
    let path = root.join(key);
    match fs::metadata(&path) {
        Ok(md) if md.is_file() => Ok(Some(meta_of(key, &md))),
        Ok(_) => Ok(None),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(io_error(key, &path, e)),
    }
}

/// The lock of one directory: `flock` on the directory itself, the same for every store
/// whatever its root; released on drop.
struct DirLock {
    _dir: File,
}

impl DirLock {
    fn acquire(dir: &Path, key: &str) -> Result<Self> {
        let file = File::open(dir).map_err(|e| io_error(key, dir, e))?;
        file.lock().map_err(|e| io_error(key, dir, e))?;
        Ok(DirLock { _dir: file })
    }
}

/// The store-wide stamp lock; released on drop (closing the file releases the `flock`).
struct WriteLock {
    file: File,
}

impl WriteLock {
    fn acquire(root: &Path, key: &str) -> Result<Self> {
        let path = root.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_error(key, &path, e))?;
        file.lock().map_err(|e| io_error(key, &path, e))?;
        Ok(WriteLock { file })
    }

    /// A modification time later than every one handed out before on this root, persisted in
    /// the lock file (so it holds across processes), and not earlier than now.
    fn next_stamp(&mut self, key: &str, floor: Option<SystemTime>) -> Result<SystemTime> {
        let err = |e| Error::other(key, e);
        let mut buf = [0u8; 16];
        self.file.seek(SeekFrom::Start(0)).map_err(err)?;
        let n = read_full(&mut self.file, &mut buf).map_err(err)?;
        let last = if n == 16 { u128::from_le_bytes(buf) } else { 0 };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| Error::other(key, e))?;
        let now = now.as_nanos();
        let floor = floor
            .and_then(|f| f.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |f| f.as_nanos() + 1);
        let next = now.max(last + 1).max(floor);
        self.file.seek(SeekFrom::Start(0)).map_err(err)?;
        self.file.write_all(&next.to_le_bytes()).map_err(err)?;
        let secs = u64::try_from(next / 1_000_000_000).map_err(|e| Error::other(key, e))?;
        let nanos = (next % 1_000_000_000) as u32;
        Ok(UNIX_EPOCH + Duration::new(secs, nanos))
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary file next to `target`, removed on drop unless persisted.
struct TempFile {
    path: PathBuf,
    file: Option<File>,
}

impl TempFile {
    fn create(key: &str, target: &Path) -> Result<Self> {
        let dir = target.parent().expect("a key path has a parent");
        let name = format!(
            "{TMP_PREFIX}{}-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let path = dir.join(name);
        // A concurrent delete may remove the (empty) directory between our mkdir and create.
        let mut attempts = 0;
        loop {
            if !dir.is_dir() {
                create_dirs_durably(dir).map_err(|e| io_error(key, dir, e))?;
            }
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    return Ok(TempFile {
                        path,
                        file: Some(file),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempts < 10 => attempts += 1,
                Err(e) => return Err(io_error(key, &path, e)),
            }
        }
    }

    fn file(&mut self) -> &mut File {
        self.file
            .as_mut()
            .expect("temp file is open until persisted")
    }
}

/// `mkdir -p dir`, and `fsync` the parent of each directory made, so that the new entries
/// survive a crash before a publish (or a 201) relies on what is written below them.
fn create_dirs_durably(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut d = Some(dir);
    while let Some(x) = d {
        if x.is_dir() {
            break;
        }
        missing.push(x);
        d = x.parent();
    }
    fs::create_dir_all(dir)?;
    for made in missing.iter().rev() {
        if let Some(parent) = made.parent() {
            File::open(parent)?.sync_all()?;
        }
    }
    Ok(())
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A body written to a temp file next to its target and `fsync`ed, ready to be renamed.
struct Staged {
    key: String,
    target: PathBuf,
    tmp: TempFile,
}

/// Writes the body (via `fill`) to a temp file next to the target and `fsync`s it.
fn stage(root: &Path, key: &str, fill: impl FnOnce(&mut File) -> io::Result<()>) -> Result<Staged> {
    let target = root.join(key);
    let mut tmp = TempFile::create(key, &target)?;
    fill(tmp.file()).map_err(|e| io_error(key, &tmp.path, e))?;
    tmp.file()
        .sync_all()
        .map_err(|e| io_error(key, &tmp.path, e))?;
    Ok(Staged {
        key: key.to_owned(),
        target,
        tmp,
    })
}

impl Staged {
    /// Under the locks: check `mode` against the current object and stamp the temp file.
    /// Returns the new object's metadata (the file is not renamed yet).
    fn check_and_stamp(
        &mut self,
        root: &Path,
        mode: &PutMode,
        lock: &mut WriteLock,
    ) -> Result<ObjectMeta> {
        let key = self.key.as_str();
        let current = stat(root, key)?;
        match (mode, &current) {
            (PutMode::Overwrite, _) => {}
            (PutMode::Create, None) => {}
            (PutMode::Create, Some(_)) => {
                return Err(Error::AlreadyExists {
                    key: key.to_owned(),
                })
            }
            (PutMode::Update(etag), Some(cur)) if &cur.etag == etag => {}
            (PutMode::Update(_), _) => {
                return Err(Error::Precondition {
                    key: key.to_owned(),
                })
            }
        }
        if fs::symlink_metadata(&self.target).is_ok_and(|md| md.is_dir()) {
            return Err(Error::other(
                key,
                format!(
                    "{} is a directory (keys under {key}/ exist)",
                    self.target.display()
                ),
            ));
        }
        // Later than the file it replaces, even if that one was stamped through another root.
        let floor = current
            .as_ref()
            .and_then(|_| fs::metadata(&self.target).ok()?.modified().ok());
        let stamp = lock.next_stamp(key, floor)?;
        self.tmp
            .file()
            .set_modified(stamp)
            .map_err(|e| io_error(key, &self.tmp.path, e))?;
        let md = self
            .tmp
            .file()
            .metadata()
            .map_err(|e| io_error(key, &self.tmp.path, e))?;
        Ok(meta_of(key, &md))
    }

    /// Rename the temp file over the target (under the locks).
    fn rename(mut self) -> Result<()> {
        fs::rename(&self.tmp.path, &self.target)
            .map_err(|e| io_error(&self.key, &self.target, e))?;
        self.tmp.file = None;
        Ok(())
    }
}

/// `fsync` a directory (makes the renames in it durable).
fn sync_dir(key: &str, dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(key, dir, e))
}

/// Take the locks a write of `key` (at `target`) holds while it checks its mode and renames:
/// the lock of the target's directory, then the store's write lock. Returns the directory too.
fn lock_target(root: &Path, key: &str, target: &Path) -> Result<(PathBuf, DirLock, WriteLock)> {
    let dir = target.parent().expect("a key path has a parent").to_owned();
    let dir_lock = DirLock::acquire(&dir, key)?;
    let lock = WriteLock::acquire(root, key)?;
    Ok((dir, dir_lock, lock))
}

/// Writes the body (via `fill`) to a temp file, then checks `mode` and renames under the lock.
fn put_blocking(
    root: &Path,
    key: &str,
    mode: &PutMode,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<ObjectMeta> {
    let mut staged = stage(root, key, fill)?;
    let (dir, _dir_lock, mut lock) = lock_target(root, key, &staged.target)?;
    let meta = staged.check_and_stamp(root, mode, &mut lock)?;
    staged.rename()?;
    drop(lock);
    sync_dir(key, &dir)?;
    Ok(meta)
}

/// [`ObjectStore::put_pair`] for two keys of one directory: both bodies are written and
/// `fsync`ed first, then, under the locks, `first`'s mode is checked (and `second`'s) and
/// the two renames follow each other, so a reader sees both changes within microseconds.
fn put_pair_blocking(
    root: &Path,
    first: (&str, &[u8], &PutMode),
    second: (&str, &[u8], &PutMode),
) -> Result<(ObjectMeta, Result<ObjectMeta>)> {
    let mut a = stage(root, first.0, |f| f.write_all(first.1))?;
    let mut b = match stage(root, second.0, |f| f.write_all(second.1)) {
        Ok(b) => b,
        // The second body could not be written: write the first alone.
        Err(e) => {
            return put_blocking(root, first.0, first.2, |f| f.write_all(first.1))
                .map(|m| (m, Err(e)))
        }
    };
    let (dir, _dir_lock, mut lock) = lock_target(root, first.0, &a.target)?;
    let meta_a = a.check_and_stamp(root, first.2, &mut lock)?;
    let second_meta = b.check_and_stamp(root, second.2, &mut lock);
    a.rename()?;
    let second_result = second_meta.and_then(|m| b.rename().map(|()| m));
    drop(lock);
    sync_dir(first.0, &dir)?;
    Ok((meta_a, second_result))
}

/// [`ObjectStore::touch`]: under the locks, stamp the file with the next modification time.
fn touch_blocking(root: &Path, key: &str) -> Result<ObjectMeta> {
    let path = root.join(key);
    let dir = path.parent().expect("a key path has a parent");
    let _dir_lock = match DirLock::acquire(dir, key) {
        Ok(l) => l,
        Err(_) if !dir.exists() => {
            return Err(Error::NotFound {
                key: key.to_owned(),
            })
        }
        Err(e) => return Err(e),
    };
    let mut lock = WriteLock::acquire(root, key)?;
    let file = match OpenOptions::new().write(true).open(&path) {
        Ok(f) => f,
        Err(e) => return Err(not_found_or(key, &path, e)),
    };
    let md = file.metadata().map_err(|e| io_error(key, &path, e))?;
    if !md.is_file() {
        return Err(Error::NotFound {
            key: key.to_owned(),
        });
    }
    let stamp = lock.next_stamp(key, md.modified().ok())?;
    file.set_modified(stamp)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error(key, &path, e))?;
    let md = file.metadata().map_err(|e| io_error(key, &path, e))?;
    Ok(meta_of(key, &md))
}

fn delete_blocking(root: &Path, key: &str) -> Result<()> {
    let path = root.join(key);
    let dir = path.parent().expect("a key path has a parent");
    let _dir_lock = match DirLock::acquire(dir, key) {
        Ok(l) => l,
        // No directory, no file.
        Err(_) if !dir.exists() => return Ok(()),
        Err(e) => return Err(e),
    };
    let _lock = WriteLock::acquire(root, key)?;
    match fs::symlink_metadata(&path) {
        Ok(md) if md.is_dir() => return Ok(()),
        Ok(_) => fs::remove_file(&path).map_err(|e| io_error(key, &path, e))?,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(())
        }
        Err(e) => return Err(io_error(key, &path, e)),
    }
    // Remove directories left empty, as S3 has no directories.
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == root || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

/// One page of a listing: a depth-first walk that reads each directory on its way in key
/// order and stops after `max_keys` files, so it holds one page and the directories on one
/// path, not the whole tree. The token is the page's last key (the walk resumes after it).
fn list_page_blocking(
    root: &Path,
    prefix: &str,
    after: Option<&str>,
    max_keys: usize,
) -> Result<ListPage> {
    let start = match prefix.rfind('/') {
        Some(i) => &prefix[..i],
        None => "",
    };
    let mut walk = PageWalk {
        root,
        prefix,
        after,
        max_keys: max_keys.max(1),
        out: Vec::new(),
        more: false,
    };
    walk.dir(start)?;
    Ok(ListPage::up_to_last_key(walk.out, walk.more))
}

struct PageWalk<'a> {
    root: &'a Path,
    prefix: &'a str,
    after: Option<&'a str>,
    max_keys: usize,
    out: Vec<ObjectMeta>,
    /// A file past the page was seen: there is a next page.
    more: bool,
}

impl PageWalk<'_> {
    /// Walk `dir_key` in key order; `Ok(true)` when the page is full.
    fn dir(&mut self, dir_key: &str) -> Result<bool> {
        let dir = if dir_key.is_empty() {
            self.root.to_path_buf()
        } else {
            self.root.join(dir_key)
        };
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(false)
            }
            Err(e) => return Err(io_error(self.prefix, &dir, e)),
        };
        // (key as it sorts: a directory as `key/`, is a directory)
        let mut names: Vec<(String, bool)> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error(self.prefix, &dir, e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue; // not UTF-8: no key maps to it
            };
            if name.starts_with(RESERVED_PREFIX) {
                continue;
            }
            let key = if dir_key.is_empty() {
                name
            } else {
                format!("{dir_key}/{name}")
            };
            let is_dir = entry
                .file_type()
                .map_err(|e| io_error(&key, &dir, e))?
                .is_dir();
            if is_dir {
                let as_dir = format!("{key}/");
                // Only where keys with the prefix can be, and not a subtree wholly before
                // `after` (it is before when `after` is greater and not inside it).
                let in_prefix = as_dir.starts_with(self.prefix) || self.prefix.starts_with(&as_dir);
                let passed = self
                    .after
                    .is_some_and(|a| a > as_dir.as_str() && !a.starts_with(&as_dir));
                if in_prefix && !passed {
                    names.push((as_dir, true));
                }
            } else if key.starts_with(self.prefix)
                && self.after.is_none_or(|a| key.as_str() > a)
                && validate_key(&key).is_ok()
            {
                names.push((key, false));
            }
        }
        names.sort_unstable();
        for (key, is_dir) in names {
            if is_dir {
                if self.dir(key.trim_end_matches('/'))? {
                    return Ok(true);
                }
                continue;
            }
            if self.out.len() == self.max_keys {
                self.more = true;
                return Ok(true);
            }
            if let Some(meta) = stat(self.root, &key)? {
                self.out.push(meta);
            } // else deleted meanwhile, or not a regular file
        }
        Ok(false)
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        validate_key(key)?;
        let k = key.to_owned();
        self.blocking(key, move |root| Ok(open(root, &k)?.1)).await
    }

    async fn get(&self, key: &str) -> Result<(Bytes, ObjectMeta)> {
        validate_key(key)?;
        let k = key.to_owned();
        self.blocking(key, move |root| {
            let (mut file, meta) = open(root, &k)?;
            let mut buf = Vec::with_capacity(meta.size as usize);
            file.read_to_end(&mut buf)
                .map_err(|e| io_error(&k, &root.join(&k), e))?;
            Ok((Bytes::from(buf), meta))
        })
        .await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<(Bytes, ObjectMeta)> {
        validate_key(key)?;
        let k = key.to_owned();
        self.blocking(key, move |root| {
            let (mut file, meta) = open(root, &k)?;
            let start = range.start.min(meta.size);
            let end = range.end.clamp(start, meta.size);
            let mut buf = vec![0u8; (end - start) as usize];
            let path = root.join(&k);
            file.seek(SeekFrom::Start(start))
                .map_err(|e| io_error(&k, &path, e))?;
            file.read_exact(&mut buf)
                .map_err(|e| io_error(&k, &path, e))?;
            Ok((Bytes::from(buf), meta))
        })
        .await
    }

    async fn get_stream(&self, key: &str) -> Result<(ByteStream, ObjectMeta)> {
        validate_key(key)?;
        let k = key.to_owned();
        let (file, meta) = self.blocking(key, move |root| open(root, &k)).await?;
        let key = key.to_owned();
        let file = tokio::fs::File::from_std(file);
        let stream = futures::stream::try_unfold((file, key), |(mut file, key)| async move {
            let mut buf = vec![0u8; STREAM_CHUNK];
            let n = file
                .read(&mut buf)
                .await
                .map_err(|e| Error::other(&key, e))?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            Ok(Some((Bytes::from(buf), (file, key))))
        });
        Ok((Box::pin(stream), meta))
    }

    async fn put(&self, key: &str, body: Bytes, opts: PutOptions) -> Result<ObjectMeta> {
        validate_key(key)?;
        let k = key.to_owned();
        self.blocking(key, move |root| {
            put_blocking(root, &k, &opts.mode, |f| f.write_all(&body))
        })
        .await
    }

    async fn put_file(&self, key: &str, path: &Path, opts: PutOptions) -> Result<ObjectMeta> {
        validate_key(key)?;
        let k = key.to_owned();
        let src = path.to_owned();
        self.blocking(key, move |root| {
            let mut input = File::open(&src).map_err(|e| io_error(&k, &src, e))?;
            put_blocking(root, &k, &opts.mode, |f| io::copy(&mut input, f).map(drop))
        })
        .await
    }

    async fn put_pair(
        &self,
        first: (&str, Bytes, PutOptions),
        second: (&str, Bytes, PutOptions),
    ) -> Result<(ObjectMeta, Result<ObjectMeta>)> {
        validate_key(first.0)?;
        let same_dir = validate_key(second.0).is_ok()
            && Path::new(first.0).parent() == Path::new(second.0).parent();
        if !same_dir {
            let meta = self.put(first.0, first.1, first.2).await?;
            return Ok((meta, self.put(second.0, second.1, second.2).await));
        }
        let (ka, kb) = (first.0.to_owned(), second.0.to_owned());
        let (ba, bb) = (first.1, second.1);
        let (ma, mb) = (first.2.mode, second.2.mode);
        self.blocking(first.0, move |root| {
            put_pair_blocking(root, (&ka, &ba, &ma), (&kb, &bb, &mb))
        })
        .await
    }

    /// Copies inside the root through the kernel (`copy_file_range`, a reflink where the file
    /// system shares extents): the body does not pass through this process.
    async fn copy(&self, from: &str, to: &str, opts: PutOptions) -> Result<ObjectMeta> {
        validate_key(from)?;
        validate_key(to)?;
        let (f, t) = (from.to_owned(), to.to_owned());
        self.blocking(to, move |root| {
            let (mut input, _) = open(root, &f)?;
            put_blocking(root, &t, &opts.mode, |out| {
                io::copy(&mut input, out).map(drop)
            })
        })
        .await
    }

    async fn touch(&self, key: &str) -> Result<ObjectMeta> {
        validate_key(key)?;
        let k = key.to_owned();
        self.blocking(key, move |root| touch_blocking(root, &k))
            .await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        let k = key.to_owned();
        self.blocking(key, move |root| delete_blocking(root, &k))
            .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let p = prefix.to_owned();
        // The whole listing is one page without a limit.
        self.blocking(prefix, move |root| {
            Ok(list_page_blocking(root, &p, None, usize::MAX)?.objects)
        })
        .await
    }

    async fn list_page(
        &self,
        prefix: &str,
        start: &PageStart,
        max_keys: usize,
    ) -> Result<ListPage> {
        let p = prefix.to_owned();
        let after = start.after_key().map(str::to_owned);
        self.blocking(prefix, move |root| {
            list_page_blocking(root, &p, after.as_deref(), max_keys)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("root")).unwrap();
        (dir, store)
    }

    /// Write `body` at `key` (overwriting), which must succeed.
    async fn put(store: &LocalStore, key: &str, body: &'static [u8]) {
        store
            .put(key, Bytes::from_static(body), PutOptions::default())
            .await
            .unwrap();
    }

    fn create() -> PutOptions {
        PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        }
    }

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn conformance() {
        let (_dir, store) = store();
        crate::store::conformance::run_all(Arc::new(store), 1100).await;
    }

    #[tokio::test]
    async fn etag_changes_on_every_write() {
        let (_dir, store) = store();
        crate::store::conformance::etag_changes_on_every_write(&store).await;
    }

    /// `touch` makes an old file young again (by the store's stamps), keeps its body, changes
    /// its ETag, and says `NotFound` for a missing key.
    #[tokio::test]
    async fn touch_refreshes_the_modification_time() {
        let (_dir, store) = store();
        let key = "r/repodata/x.xml.gz";
        let first = store
            .put(key, Bytes::from_static(b"body"), PutOptions::default())
            .await
            .unwrap();
        let old = SystemTime::now() - Duration::from_secs(7200);
        File::options()
            .write(true)
            .open(store.path_of(key).unwrap())
            .unwrap()
            .set_modified(old)
            .unwrap();
        let aged = store.head(key).await.unwrap();
        assert!(aged.last_modified + 7000 < first.last_modified);
        let touched = store.touch(key).await.unwrap();
        assert!(touched.last_modified >= first.last_modified);
        assert_ne!(touched.etag, aged.etag);
        assert_eq!(store.head(key).await.unwrap().etag, touched.etag);
        assert_eq!(&store.get(key).await.unwrap().0[..], b"body");
        assert!(matches!(
            store.touch("r/repodata/missing").await,
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            store.touch("nowhere/at/all").await,
            Err(Error::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn hostile_keys_touch_nothing_outside_root() {
        let (dir, store) = store();
        crate::store::conformance::hostile_keys_rejected(&store).await;
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["root"]);
    }

    /// Two stores opened at nested roots (a server at the top, a reconcile of one repository)
    /// take the same lock for the same file: the lock of the file's directory. While another
    /// holder has it, a write waits.
    #[test]
    fn nested_roots_share_the_directory_lock() {
        let dir = tempfile::tempdir().unwrap();
        let top = LocalStore::new(dir.path()).unwrap();
        let repo = LocalStore::new(dir.path().join("el9/x86_64")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let v1 = rt
            .block_on(top.put(
                "el9/x86_64/repodata/repomd.xml",
                Bytes::from_static(b"1"),
                PutOptions::default(),
            ))
            .unwrap();
        // Held as `top` holds it during a conditional write.
        let held = File::open(dir.path().join("el9/x86_64/repodata")).unwrap();
        held.lock().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let update = PutOptions {
                mode: PutMode::Update(v1.etag),
                ..Default::default()
            };
            let r = rt.block_on(repo.put("repodata/repomd.xml", Bytes::from_static(b"2"), update));
            tx.send(r.map(|_| ())).unwrap();
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(500)).is_err(),
            "a store at a nested root wrote while the directory's lock was held"
        );
        drop(held);
        rx.recv_timeout(Duration::from_secs(60)).unwrap().unwrap();
    }

    #[tokio::test]
    async fn temp_and_lock_files_are_not_listed() {
        let (_dir, store) = store();
        put(&store, "a/b", b"x").await;
        fs::write(store.root().join("a/.rpmbucket-tmp-stale"), b"junk").unwrap();
        assert!(store.root().join(LOCK_FILE).exists());
        let keys: Vec<_> = store
            .list("")
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(keys, ["a/b"]);
    }

    #[tokio::test]
    async fn failed_pair_leaves_no_temp_file_and_writes_nothing() {
        let (_dir, store) = store();
        put(&store, "r/k", b"1").await;
        let err = store
            .put_pair(
                ("r/k", Bytes::from_static(b"2"), create()),
                ("r/k.asc", Bytes::from_static(b"s"), PutOptions::default()),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
        assert_eq!(names(&store.root().join("r")), ["k"]);
        assert_eq!(store.get("r/k").await.unwrap().0, "1");
    }

    #[tokio::test]
    async fn failed_precondition_leaves_no_temp_file() {
        let (_dir, store) = store();
        put(&store, "k", b"1").await;
        let err = store
            .put("k", Bytes::from_static(b"2"), create())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
        let temps: Vec<_> = names(store.root())
            .into_iter()
            .filter(|n| n.starts_with(TMP_PREFIX))
            .collect();
        assert!(temps.is_empty(), "{temps:?}");
        assert_eq!(store.get("k").await.unwrap().0, "1");
    }

    #[tokio::test]
    async fn delete_removes_empty_directories() {
        let (_dir, store) = store();
        put(&store, "a/b/c", b"x").await;
        put(&store, "a/d", b"x").await;
        store.delete("a/b/c").await.unwrap();
        assert!(!store.root().join("a/b").exists());
        assert!(store.root().join("a/d").exists());
    }

    #[tokio::test]
    async fn object_and_directory_of_one_name_conflict_cleanly() {
        let (_dir, store) = store();
        put(&store, "a/b", b"x").await;
        let err = store
            .put("a", Bytes::from_static(b"y"), PutOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Other { .. }), "{err}");
        let err = store
            .put("a/b/c", Bytes::from_static(b"y"), PutOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Other { .. }), "{err}");
        assert!(matches!(
            store.head("a/b/c").await,
            Err(Error::NotFound { .. })
        ));
        assert_eq!(store.get("a/b").await.unwrap().0, "x");
    }

    #[tokio::test]
    async fn put_file_streams_a_file() {
        let (dir, store) = store();
        let src = dir.path().join("src.bin");
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&src, &body).unwrap();
        let meta = store
            .put_file("pkgs/x.rpm", &src, PutOptions::default())
            .await
            .unwrap();
        assert_eq!(meta.size, body.len() as u64);
        assert_eq!(store.get("pkgs/x.rpm").await.unwrap().0, body);
    }
}

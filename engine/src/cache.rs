//! A local cache of the metadata files an indexer published, so that its next publish does not
//! read them back from the store.
//!
//! Why: a publish copies the unchanged members (zstd frames, bzip2 blocks) of the current
//! primary, filelists and other files and databases, and `repomd.xml` needs the SHA-256 of each
//! new file and of its content. SHA-256 cannot be resumed past a changed prefix, and the first
//! bytes of every file change on every publish (the XML's `packages="N"`, the sqlite header's
//! change counter), so every byte of the new files must pass through the hash: the current
//! files have to be at hand. Without a cache they are read from the store, which grows with the
//! repository (≈ 55 MB of gzip XML and 80 MB of bzip2 databases at 100,000 packages). A long-
//! lived indexer (`serve`, a warm Lambda, a CLI given a cache directory) keeps the files it
//! wrote and reads only `repomd.xml`, the state and the chunk that changed.
//!
//! Entries are named by content: a metadata file by its SHA-256 (the checksum `repomd.xml`
//! records, so a cached file is never stale: a publish by another indexer simply names other
//! files), an uncompressed sqlite database by the SHA-256 of its content (`open-checksum`). A
//! cached metadata file is checked against its name before use (hashing is cheap next to a
//! read from the store, and a publish must not build on a damaged file); a mismatch drops the
//! entry and the store is read instead. Files are written under a temporary name and renamed,
//! so a crash leaves no partial entry. The directory is trimmed to a byte budget, oldest first.
//!
//! The uncompressed databases are the exception to hashing before use: they are ≈ 10× their
//! bzip2 files (≈ 550 MB at 100,000 packages), and hashing them on every publish took longer
//! than everything else a warm publish does. The cache moves a database in only after the
//! publish that wrote it computed its open-checksum from those very bytes, and records next to
//! it (`NAME.sqlite.ok`, written after the move) the size, modification time and inode the file
//! had then. A database whose record still matches is used without hashing; one without a
//! record, or whose size, time or inode changed (replaced or rewritten since), is hashed as
//! the other entries are and dropped if it does not check out.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};

/// Default of [`MetadataCache::max_bytes`]: 2 GiB.
pub const CACHE_MAX_BYTES: u64 = 2 << 30;

/// Suffix of an uncompressed sqlite database in the cache.
const RAW_SUFFIX: &str = ".sqlite";
/// Suffix of the record of how a database was when the cache took it in.
const STAMP_SUFFIX: &str = ".sqlite.ok";

/// What identifies a database file as the cache moved it in: size, modification time (ns)
/// and inode.
fn stamp_of(meta: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some(format!("{} {mtime} {}\n", meta.len(), meta.ino()))
}

/// A directory of metadata files named by their SHA-256.
#[derive(Debug, Clone)]
pub struct MetadataCache {
    dir: PathBuf,
    max_bytes: u64,
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl MetadataCache {
    /// A cache in `dir` (created if missing) holding at most `max_bytes`.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> std::io::Result<MetadataCache> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(MetadataCache { dir, max_bytes })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The byte budget.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn path(&self, sha256: &str, suffix: &str) -> Option<PathBuf> {
        is_sha256(sha256).then(|| {
            self.dir
                .join(format!("{}{suffix}", sha256.to_ascii_lowercase()))
        })
    }

    /// The file whose SHA-256 is `sha256`, if cached and intact (a damaged entry is removed).
    pub fn get(&self, sha256: &str) -> Option<Bytes> {
        let path = self.path(sha256, "")?;
        let data = std::fs::read(&path).ok()?;
        if hex::encode(Sha256::digest(&data)).eq_ignore_ascii_case(sha256) {
            Some(Bytes::from(data))
        } else {
            tracing::warn!(path = %path.display(), "cached metadata file is damaged; dropped");
            let _ = std::fs::remove_file(&path);
            None
        }
    }

    /// Keep `data`, whose SHA-256 is `sha256`. Failures are logged, not returned: the cache
    /// only saves reads.
    pub fn put(&self, sha256: &str, data: &[u8]) {
        let Some(path) = self.path(sha256, "") else {
            return;
        };
        if path.is_file() {
            touch(&path);
            return;
        }
        if let Err(e) = self.write_new(&path, data) {
            tracing::warn!(path = %path.display(), error = %e, "cannot cache a metadata file");
        }
    }

    fn write_new(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        tmp.write_all(data)?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    /// A temporary directory next to the cached files (renames into the cache stay on one
    /// file system).
    pub fn work_dir(&self) -> std::io::Result<tempfile::TempDir> {
        tempfile::Builder::new()
            .prefix("work-")
            .tempdir_in(&self.dir)
    }

    /// Move the uncompressed database whose content has SHA-256 `open_sha256` and `size`
    /// bytes to `to` (it leaves the cache: it is about to be changed). Its content is hashed
    /// unless it is as the cache took it in (see the module docs). `false` if it is not cached
    /// or does not check out (then it is removed).
    pub fn take_raw(&self, open_sha256: &str, size: u64, to: &Path) -> bool {
        let (Some(path), Some(stamp_path)) = (
            self.path(open_sha256, RAW_SUFFIX),
            self.path(open_sha256, STAMP_SUFFIX),
        ) else {
            return false;
        };
        let Ok(meta) = std::fs::metadata(&path) else {
            return false;
        };
        if meta.len() != size {
            return false;
        }
        let recorded = std::fs::read_to_string(&stamp_path).ok();
        let _ = std::fs::remove_file(&stamp_path);
        let intact = recorded.is_some() && recorded == stamp_of(&meta);
        if std::fs::rename(&path, to).is_err() {
            return false;
        }
        if intact {
            return true;
        }
        match sha256_file(to) {
            Ok(sum) if sum.eq_ignore_ascii_case(open_sha256) => true,
            _ => {
                tracing::warn!(path = %path.display(), "cached database is damaged; dropped");
                let _ = std::fs::remove_file(to);
                false
            }
        }
    }

    /// Keep the uncompressed database at `from` (in [`MetadataCache::work_dir`]), whose
    /// content has SHA-256 `open_sha256` (computed by the caller from these bytes), by moving
    /// it into the cache, with the record that lets the next [`MetadataCache::take_raw`] use
    /// it without hashing it again.
    pub fn keep_raw(&self, from: &Path, open_sha256: &str) {
        let (Some(path), Some(stamp_path)) = (
            self.path(open_sha256, RAW_SUFFIX),
            self.path(open_sha256, STAMP_SUFFIX),
        ) else {
            return;
        };
        let _ = std::fs::remove_file(&stamp_path);
        if let Err(e) = std::fs::rename(from, &path) {
            tracing::warn!(path = %path.display(), error = %e, "cannot cache a database");
            return;
        }
        let stamp = std::fs::metadata(&path).ok().and_then(|m| stamp_of(&m));
        if let Some(stamp) = stamp {
            if let Err(e) = self.write_new(&stamp_path, stamp.as_bytes()) {
                tracing::warn!(path = %stamp_path.display(), error = %e, "cannot record a cached database");
            }
        }
    }

    /// Delete the oldest entries (by modification time) until the cache holds at most
    /// [`MetadataCache::max_bytes`]; `keep` (SHA-256 names, with or without the database
    /// suffix) are never deleted.
    pub fn trim(&self, keep: &[&str]) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = rd
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let stem = name
                    .strip_suffix(RAW_SUFFIX)
                    .or_else(|| name.strip_suffix(STAMP_SUFFIX))
                    .unwrap_or(&name);
                if !is_sha256(stem) || keep.iter().any(|k| k.eq_ignore_ascii_case(stem)) {
                    return None;
                }
                let m = e.metadata().ok()?;
                if !m.is_file() {
                    return None;
                }
                Some((m.modified().ok()?, m.len(), e.path()))
            })
            .collect();
        let kept: u64 = keep
            .iter()
            .flat_map(|k| [self.path(k, ""), self.path(k, RAW_SUFFIX)])
            .flatten()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        let mut total: u64 = kept + files.iter().map(|f| f.1).sum::<u64>();
        files.sort();
        for (_, len, path) in files {
            if total <= self.max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

/// Environment: the cache directory ([`MetadataCache::from_env`]).
pub const CACHE_DIR_ENV: &str = "RPMBUCKET_METADATA_CACHE";
/// Environment: the cache's byte budget in MiB (default [`CACHE_MAX_BYTES`]).
pub const CACHE_MAX_MIB_ENV: &str = "RPMBUCKET_METADATA_CACHE_MIB";

impl MetadataCache {
    /// The cache named by `RPMBUCKET_METADATA_CACHE` (a directory; unset or empty: no cache)
    /// with the budget `RPMBUCKET_METADATA_CACHE_MIB` (MiB, default 2048). A directory that
    /// cannot be created is logged and gives no cache.
    pub fn from_env() -> Option<MetadataCache> {
        let dir = std::env::var_os(CACHE_DIR_ENV).filter(|d| !d.is_empty())?;
        let max = match std::env::var(CACHE_MAX_MIB_ENV) {
            Ok(v) => match v.trim().parse::<u64>() {
                Ok(mib) => mib << 20,
                Err(_) => {
                    tracing::warn!(value = %v, "{CACHE_MAX_MIB_ENV} is not a number of MiB; using the default");
                    CACHE_MAX_BYTES
                }
            },
            Err(_) => CACHE_MAX_BYTES,
        };
        match MetadataCache::new(&dir, max) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(dir = %Path::new(&dir).display(), error = %e, "metadata cache unusable; publishing without it");
                None
            }
        }
    }
}

fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::options().append(true).open(path) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

/// Hex SHA-256 of a file's content, read in 1 MiB pieces.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    #[test]
    fn files_by_content_and_damage_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let c = MetadataCache::new(dir.path().join("c"), 1 << 20).unwrap();
        let a = b"primary".to_vec();
        assert!(c.get(&sum(&a)).is_none());
        c.put(&sum(&a), &a);
        assert_eq!(c.get(&sum(&a)).unwrap(), a);
        // Not a SHA-256: never a path outside the cache.
        c.put("../x", b"x");
        assert!(c.get("../x").is_none());
        // A damaged entry is not returned, and is gone.
        std::fs::write(c.dir().join(sum(&a)), b"primarY").unwrap();
        assert!(c.get(&sum(&a)).is_none());
        assert!(!c.dir().join(sum(&a)).exists());
    }

    #[test]
    fn raw_databases_move_in_and_out_checked() {
        let dir = tempfile::tempdir().unwrap();
        let c = MetadataCache::new(dir.path(), 1 << 20).unwrap();
        let work = c.work_dir().unwrap();
        let raw = b"SQLite format 3\0 and pages".to_vec();
        let p = work.path().join("db");
        std::fs::write(&p, &raw).unwrap();
        c.keep_raw(&p, &sum(&raw));
        assert!(!p.exists());
        // Wrong size: left alone.
        assert!(!c.take_raw(&sum(&raw), raw.len() as u64 + 1, &p));
        assert!(c.take_raw(&sum(&raw), raw.len() as u64, &p));
        assert_eq!(std::fs::read(&p).unwrap(), raw);
        // Taken: not there any more.
        assert!(!c.take_raw(&sum(&raw), raw.len() as u64, &p));
        let cached = c.dir().join(format!("{}.sqlite", sum(&raw)));
        let stamp = c.dir().join(format!("{}.sqlite.ok", sum(&raw)));
        // Damaged after the cache took it in: replaced by another file (new inode), or
        // rewritten in place (new modification time): the record no longer matches, the
        // content is hashed, refused and dropped.
        let damaged = b"SQLite format 3\0 and pageS";
        c.keep_raw(&p, &sum(&raw));
        assert!(stamp.is_file());
        let other = c.dir().join("other");
        std::fs::write(&other, damaged).unwrap();
        std::fs::rename(&other, &cached).unwrap();
        assert!(!c.take_raw(&sum(&raw), raw.len() as u64, &p));
        assert!(!p.exists() && !cached.exists() && !stamp.exists());
        std::fs::write(&p, &raw).unwrap();
        c.keep_raw(&p, &sum(&raw));
        let f = std::fs::File::options().write(true).open(&cached).unwrap();
        std::io::Write::write_all(&mut &f, damaged).unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
        assert!(!c.take_raw(&sum(&raw), raw.len() as u64, &p));
        assert!(!p.exists() && !cached.exists());
        // Without a record (kept by an older version): hashed, and used when intact.
        std::fs::write(&p, &raw).unwrap();
        c.keep_raw(&p, &sum(&raw));
        std::fs::remove_file(&stamp).unwrap();
        assert!(c.take_raw(&sum(&raw), raw.len() as u64, &p));
        assert_eq!(std::fs::read(&p).unwrap(), raw);
        // With its record, a database is taken as it is, without hashing it: a rewrite that
        // keeps size, time and inode is not seen (the documented limit of the record).
        c.keep_raw(&p, &sum(&raw));
        let before = std::fs::metadata(&cached).unwrap().modified().unwrap();
        let f = std::fs::File::options().write(true).open(&cached).unwrap();
        std::io::Write::write_all(&mut &f, damaged).unwrap();
        f.set_modified(before).unwrap();
        assert!(c.take_raw(&sum(&raw), raw.len() as u64, &p));
        assert_eq!(std::fs::read(&p).unwrap(), damaged);
        assert!(!stamp.exists());
    }

    #[test]
    fn trim_drops_the_oldest_beyond_the_budget_but_not_the_kept() {
        let dir = tempfile::tempdir().unwrap();
        let c = MetadataCache::new(dir.path(), 25).unwrap();
        let files: Vec<Vec<u8>> = (0..4).map(|i| vec![b'a' + i; 10]).collect();
        let t0 = std::time::SystemTime::now() - std::time::Duration::from_secs(100);
        for (i, f) in files.iter().enumerate() {
            c.put(&sum(f), f);
            let p = c.dir().join(sum(f));
            std::fs::File::options()
                .append(true)
                .open(&p)
                .unwrap()
                .set_modified(t0 + std::time::Duration::from_secs(i as u64))
                .unwrap();
        }
        // 40 bytes, budget 25: the oldest one that is not kept goes, then the next.
        c.trim(&[&sum(&files[0])]);
        let left: Vec<bool> = files.iter().map(|f| c.get(&sum(f)).is_some()).collect();
        assert_eq!(left, [true, false, false, true]);
    }
}

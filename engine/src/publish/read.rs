//! Reading one package: its header through ranged GETs when the store has its sha256, or the
//! whole object streamed through sha256 when it has not.

use rpmbucket_repodata::header::RpmHeaders;
use rpmbucket_repodata::parse::FileInfo;
use rpmbucket_repodata::reader::{Hashing, PackageReader};

use super::*;

impl Indexer {
    /// Read one package's header and pkgid. Returns what the key holds (it may have changed or
    /// vanished since it was seen) and the read if it is present.
    pub(super) async fn read_package(
        &self,
        run: &Run,
        href: &str,
        mut meta: ObjectMeta,
        mut headed: bool,
        hints: &HashMap<(String, String), String>,
    ) -> Result<(Seen, Option<Read>)> {
        let key = format!("{}{href}", run.root);
        if let Err(store::Error::InvalidKey { reason, .. }) = store::validate_key(&key) {
            let read = Read::Bad(format!("invalid key: {reason}"));
            tracing::warn!(key = %key, reason, "package rejected");
            return Ok((Seen::Present { meta, headed }, Some(read)));
        }
        for _ in 0..3 {
            let hint = hints.get(&(key.clone(), meta.etag.clone())).cloned();
            if self.options.verify_payload {
                // Read every byte: the payload digest is checked, no stored checksum trusted.
                let policy = run.policy.lock().expect("policy lock").clone();
                match self
                    .read_streamed(run, &key, &meta, policy.as_deref())
                    .await
                {
                    Ok(read) => {
                        if let Read::Bad(reason) = &read {
                            tracing::warn!(key = %key, reason = %reason, "package rejected");
                        }
                        return Ok((Seen::Present { meta, headed }, Some(read)));
                    }
                    Err(ReadError::Changed)
                    | Err(ReadError::Store(store::Error::NotFound { .. })) => {
                        match self.head(run, href).await? {
                            Seen::Present { meta: m, .. } => {
                                meta = m;
                                headed = true;
                                continue;
                            }
                            Seen::Absent => return Ok((Seen::Absent, None)),
                        }
                    }
                    Err(ReadError::Store(e)) => return Err(e.into()),
                }
            }
            if meta.sha256.is_none() && hint.is_none() && !headed {
                // A listing has no checksums; HEAD may have one.
                match self.head(run, href).await? {
                    Seen::Present { meta: m, .. } => {
                        meta = m;
                        headed = true;
                        continue;
                    }
                    Seen::Absent => return Ok((Seen::Absent, None)),
                }
            }
            let sha = meta.sha256.clone().or(hint);
            let policy = run.policy.lock().expect("policy lock").clone();
            let outcome = match (sha, policy) {
                // A signature policy needs the payload (its digest is what the signature binds).
                (_, Some(ring)) => self.read_streamed(run, &key, &meta, Some(&ring)).await,
                (Some(sha), None) => self.read_ranged(run, &key, &meta, sha).await,
                (None, None) => self.read_streamed(run, &key, &meta, None).await,
            };
            match outcome {
                Ok(read) => {
                    if let Read::Bad(reason) = &read {
                        tracing::warn!(key = %key, reason = %reason, "package rejected");
                    }
                    return Ok((Seen::Present { meta, headed }, Some(read)));
                }
                Err(ReadError::Changed) | Err(ReadError::Store(store::Error::NotFound { .. })) => {
                    // Overwritten or deleted since we looked: look again.
                    match self.head(run, href).await? {
                        Seen::Present { meta: m, .. } => {
                            meta = m;
                            headed = true;
                        }
                        Seen::Absent => return Ok((Seen::Absent, None)),
                    }
                }
                Err(ReadError::Store(e)) => return Err(e.into()),
            }
        }
        Err(Error::Store(store::Error::Other {
            key,
            source: "object kept changing while being read".into(),
        }))
    }

    /// The lead and headers through ranged GETs (the pkgid is the store's `sha`): repodata's
    /// [`PackageReader`] says how many bytes to fetch next.
    pub(super) async fn read_ranged(
        &self,
        run: &Run,
        key: &str,
        meta: &ObjectMeta,
        sha: String,
    ) -> Result<Read, ReadError> {
        let mut reader = PackageReader::new(Hashing::HeadersOnly);
        while let Some(want) = reader.wanted() {
            let have = reader.len();
            if have >= meta.size {
                break; // the object ends before its headers: finish() says so
            }
            let (part, m) = retry(&self.options, "get_range", || {
                run.store.get_range(key, have..have + want)
            })
            .await?;
            if m.etag != meta.etag {
                return Err(ReadError::Changed);
            }
            if part.is_empty() {
                break;
            }
            if let Err(e) = reader.push(&part) {
                return Ok(Read::Bad(e.to_string()));
            }
        }
        let read = match reader.finish() {
            Ok(read) => read,
            Err(e) => return Ok(Read::Bad(e.to_string())),
        };
        run.hashed_by_checksum.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(key, pkgid_source = "checksum", "read package header");
        Ok(self.parse(key, run, meta, sha, &read.headers))
    }

    /// The whole object through one streamed GET: repodata's [`PackageReader`] takes every
    /// byte, for the pkgid (SHA-256 of the file) and the payload-digest check `index` makes,
    /// so a corrupt payload is rejected on this path as on every other that reads it.
    pub(super) async fn read_streamed(
        &self,
        run: &Run,
        key: &str,
        meta: &ObjectMeta,
        policy: Option<&rpmbucket_repodata::trust::Keyring>,
    ) -> Result<Read, ReadError> {
        let (mut stream, m) =
            retry(&self.options, "get_stream", || run.store.get_stream(key)).await?;
        if m.etag != meta.etag {
            return Err(ReadError::Changed);
        }
        let mut reader = PackageReader::new(Hashing::WholeFile);
        while let Some(chunk) = stream.next().await {
            if let Err(e) = reader.push(&chunk?) {
                return Ok(Read::Bad(e.to_string()));
            }
        }
        if reader.len() != meta.size {
            return Err(ReadError::Changed);
        }
        let read = match reader.finish() {
            Ok(read) => read,
            Err(e) => return Ok(Read::Bad(e.to_string())),
        };
        let sha = read
            .sha256
            .expect("a whole-file read has the file's sha256");
        run.hashed_by_stream.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            key,
            pkgid_source = "stream",
            bytes = read.len,
            "hashed package by streaming it"
        );
        if let Some(ring) = policy {
            if let Err(refusal) = crate::trust::check_package(ring, &read.headers, &read.header) {
                return Ok(Read::Bad(refusal.to_string()));
            }
        }
        Ok(self.parse(key, run, meta, sha, &read.headers))
    }

    pub(super) fn parse(
        &self,
        key: &str,
        run: &Run,
        meta: &ObjectMeta,
        sha: String,
        headers: &RpmHeaders,
    ) -> Read {
        let root = run.root.as_str();
        let changelog_limit = run.changelog_limit.load(Ordering::Relaxed);
        let info = FileInfo {
            location_href: key[root.len()..].to_string(),
            location_base: String::new(),
            size: meta.size,
            mtime: meta.last_modified,
            checksum_type: "sha256".into(),
            pkgid: sha,
        };
        match backend::parse_package(headers, &info, changelog_limit) {
            Ok(p) => Read::Package(Arc::new(p)),
            Err(e) => Read::Bad(e.to_string()),
        }
    }
}

#[derive(Debug)]
pub(super) enum ReadError {
    /// The object is not the one we looked at.
    Changed,
    Store(store::Error),
}

impl From<store::Error> for ReadError {
    fn from(e: store::Error) -> ReadError {
        ReadError::Store(e)
    }
}

impl From<ReadError> for Error {
    fn from(e: ReadError) -> Error {
        match e {
            ReadError::Store(e) => Error::Store(e),
            ReadError::Changed => Error::Store(store::Error::Other {
                key: String::new(),
                source: "object changed while being read".into(),
            }),
        }
    }
}

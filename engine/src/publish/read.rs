//! Reading one package: its header through ranged GETs when the store has its sha256, or the
//! whole object streamed through sha256 when it has not.

use rpmbucket_repodata::header::{header_extent, Extent, RpmHeaders, SPECULATIVE_READ};
use rpmbucket_repodata::parse::{FileHasher, FileInfo};

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

    pub(super) async fn read_ranged(
        &self,
        run: &Run,
        key: &str,
        meta: &ObjectMeta,
        sha: String,
    ) -> Result<Read, ReadError> {
        let mut buf: Vec<u8> = Vec::new();
        let mut want = SPECULATIVE_READ;
        let end = loop {
            let have = buf.len() as u64;
            if want > have {
                if have >= meta.size {
                    return Ok(Read::Bad(format!(
                        "truncated: headers need {want} bytes, object has {}",
                        meta.size
                    )));
                }
                let (part, m) = retry(&self.options, "get_range", || {
                    run.store.get_range(key, have..want.max(have + 1))
                })
                .await?;
                if m.etag != meta.etag {
                    return Err(ReadError::Changed);
                }
                if part.is_empty() {
                    return Ok(Read::Bad("truncated: empty read".into()));
                }
                buf.extend_from_slice(&part);
            }
            match header_extent(&buf) {
                Err(e) => return Ok(Read::Bad(e.to_string())),
                Ok(Extent::NeedBytes(n)) => want = n,
                Ok(Extent::Complete(r)) if r.end <= buf.len() as u64 => break r.end,
                Ok(Extent::Complete(r)) => {
                    let end = r.end;
                    if end > meta.size {
                        return Ok(Read::Bad(format!(
                            "truncated: headers end at {end}, object has {} bytes",
                            meta.size
                        )));
                    }
                    want = end;
                }
            }
            if want <= buf.len() as u64 {
                // header_extent asked for no more than we have: malformed.
                return Ok(Read::Bad("malformed header sizes".into()));
            }
        };
        run.hashed_by_checksum.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(key, pkgid_source = "checksum", "read package header");
        Ok(self.parse(key, run, meta, sha, &buf[..end as usize]))
    }

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
        // The headers are buffered until complete; from then on repodata's FileHasher takes
        // every byte: the pkgid (SHA-256 of the file) and the payload-digest check `index`
        // makes, so a corrupt payload is rejected on every path.
        let mut buf: Vec<u8> = Vec::new();
        let mut hasher: Option<(FileHasher, u64)> = None;
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            total += chunk.len() as u64;
            if let Some((h, _)) = &mut hasher {
                h.update(&chunk);
                continue;
            }
            buf.extend_from_slice(&chunk);
            match header_extent(&buf) {
                Ok(Extent::Complete(r)) if r.end <= buf.len() as u64 => {
                    let end = r.end;
                    let headers = match RpmHeaders::parse(&buf[..end as usize]) {
                        Ok(h) => h,
                        Err(e) => return Ok(Read::Bad(e.to_string())),
                    };
                    let mut h = FileHasher::new(&headers);
                    h.update(&buf);
                    buf.truncate(end as usize);
                    hasher = Some((h, end));
                }
                Ok(_) => {}
                Err(e) => return Ok(Read::Bad(e.to_string())),
            }
        }
        if total != meta.size {
            return Err(ReadError::Changed);
        }
        let Some((hasher, end)) = hasher else {
            return Ok(Read::Bad(format!(
                "truncated: {total} bytes hold no complete header"
            )));
        };
        let sha = match hasher.finish() {
            Ok(sha) => sha,
            Err(e) => return Ok(Read::Bad(e.to_string())),
        };
        run.hashed_by_stream.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            key,
            pkgid_source = "stream",
            bytes = total,
            "hashed package by streaming it"
        );
        if let Some(ring) = policy {
            if let Err(reason) = crate::trust::check_package(ring, &buf[..end as usize]) {
                return Ok(Read::Bad(reason));
            }
        }
        Ok(self.parse(key, run, meta, sha, &buf[..end as usize]))
    }

    pub(super) fn parse(
        &self,
        key: &str,
        run: &Run,
        meta: &ObjectMeta,
        sha: String,
        header: &[u8],
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
        match backend::parse_package(header, &info, changelog_limit) {
            Ok(p) => Read::Package(Arc::new(p)),
            Err(reason) => Read::Bad(reason),
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

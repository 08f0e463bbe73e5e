//! Reading one package file, the same way on every face (`rpmbucket index`, the engine's ranged
//! and streamed reads), without doing any I/O here: a [`PackageReader`] says how many more bytes
//! of the file it needs ([`PackageReader::wanted`]), the caller fetches them however it can (a
//! local file, ranged GETs, a streamed GET) and pushes them ([`PackageReader::push`]);
//! [`PackageReader::finish`] returns the lead and headers and, when the whole file was asked
//! for ([`Hashing::WholeFile`]), its SHA-256 (the pkgid) after checking the payload digest the
//! header records.
//!
//! The first read asks for [`SPECULATIVE_READ`] bytes, enough for nearly every package; if
//! the headers are longer, exactly the rest follows ([`header_extent`]). The lead and the header
//! intros are validated as soon as they arrive, so a non-RPM or an absurd header is refused
//! before anything big is fetched.
//!
//! [`read_package`] drives a reader over any [`std::io::Read`]; the engine drives it over
//! ranged and streamed GETs.
//!
//! ```
//! use rpmbucket_repodata::reader::{Hashing, PackageReader};
//!
//! // Not a package: refused at the first bytes.
//! let mut r = PackageReader::new(Hashing::HeadersOnly);
//! assert_eq!(r.wanted(), Some(rpmbucket_repodata::header::SPECULATIVE_READ));
//! assert!(r.push(b"GIF89a, not an rpm").is_err());
//!
//! // A file that ends before its headers do.
//! let r = PackageReader::new(Hashing::WholeFile);
//! assert_eq!(r.finish().unwrap_err().to_string(), "truncated rpm: need 112 bytes, got 0");
//! ```

use std::io::{ErrorKind, Read};

use crate::header::{header_extent, Extent, RpmHeaders, SPECULATIVE_READ};
use crate::parse::FileHasher;
use crate::{Error, Result};

/// How much of a file a [`PackageReader`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hashing {
    /// The lead and headers only: the caller knows the file's SHA-256 from elsewhere (the
    /// store's checksum) and does not fetch the payload.
    HeadersOnly,
    /// The whole file: its SHA-256 is computed and the payload digest checked.
    WholeFile,
}

/// The sans-I/O reader of one package file; see the [module docs](self).
pub struct PackageReader {
    hashing: Hashing,
    /// The file's first bytes; cut to the end of the headers once they are complete.
    prefix: Vec<u8>,
    /// How long the prefix must be for the headers, as far as known so far.
    target: u64,
    /// Set once the headers are complete.
    headers: Option<RpmHeaders>,
    /// [`Hashing::WholeFile`]: every byte from the start, once the headers are known.
    hasher: Option<FileHasher>,
    /// Bytes pushed.
    len: u64,
}

impl std::fmt::Debug for PackageReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackageReader")
            .field("hashing", &self.hashing)
            .field("len", &self.len)
            .field("target", &self.target)
            .field("headers_complete", &self.headers.is_some())
            .finish()
    }
}

/// What a [`PackageReader`] read.
#[derive(Debug)]
pub struct PackageRead {
    /// The lead and both headers: the file's bytes up to the payload.
    pub header: Vec<u8>,
    /// The parsed headers.
    pub headers: RpmHeaders,
    /// Hex SHA-256 of the whole file, its payload digest checked ([`Hashing::WholeFile`]);
    /// `None` for [`Hashing::HeadersOnly`].
    pub sha256: Option<String>,
    /// Bytes pushed: the file's size with [`Hashing::WholeFile`].
    pub len: u64,
}

impl PackageReader {
    /// A reader at the start of a file.
    pub fn new(hashing: Hashing) -> PackageReader {
        PackageReader {
            hashing,
            prefix: Vec::new(),
            target: SPECULATIVE_READ,
            headers: None,
            hasher: None,
            len: 0,
        }
    }

    /// How many more bytes the headers need, to read from offset [`PackageReader::len`]:
    /// [`SPECULATIVE_READ`] at first, then exactly the rest of the headers. Fewer may be
    /// pushed (a short read); ask again. `None` once the headers are complete: with
    /// [`Hashing::WholeFile`] push the rest of the file, in pieces of any size.
    pub fn wanted(&self) -> Option<u64> {
        match self.headers {
            Some(_) => None,
            None => Some(self.target - self.len),
        }
    }

    /// Bytes pushed so far (the offset of the next read).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Nothing pushed yet?
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Push the next bytes of the file (pieces of any size, in order). Fails as soon as what
    /// arrived cannot be the start of a package: no RPM lead, a header with a bad magic or
    /// sizes over librpm's limits, headers that do not parse.
    pub fn push(&mut self, bytes: &[u8]) -> Result<()> {
        self.len += bytes.len() as u64;
        if let Some(h) = &mut self.hasher {
            h.update(bytes);
            return Ok(());
        }
        if self.headers.is_some() {
            // HeadersOnly: the rest of the file is not needed.
            return Ok(());
        }
        self.prefix.extend_from_slice(bytes);
        match header_extent(&self.prefix)? {
            Extent::NeedBytes(n) => self.target = n,
            Extent::Complete(range) => {
                let end = range.end as usize;
                let headers = RpmHeaders::parse(&self.prefix[..end])?;
                if self.hashing == Hashing::WholeFile {
                    let mut h = FileHasher::new(&headers);
                    // From byte 0, including the payload bytes that came with the headers.
                    h.update(&self.prefix);
                    self.hasher = Some(h);
                }
                self.prefix.truncate(end);
                self.prefix.shrink_to_fit();
                self.target = end as u64;
                self.headers = Some(headers);
            }
        }
        Ok(())
    }

    /// The file has ended: the headers, and with [`Hashing::WholeFile`] the file's SHA-256.
    /// Fails if the file ended before its headers ([`Error::Truncated`]) or its payload does
    /// not match the digest its header records ([`Error::PayloadDigestMismatch`]).
    pub fn finish(self) -> Result<PackageRead> {
        let Some(headers) = self.headers else {
            // What the bytes so far say is missing (the lead's and intros' sizes for a file
            // shorter than them), else the last amount asked for.
            let needed = match header_extent(&self.prefix) {
                Ok(Extent::NeedBytes(n)) => n,
                _ => self.target,
            };
            return Err(Error::Truncated {
                needed,
                got: self.len,
            });
        };
        let sha256 = self.hasher.map(FileHasher::finish).transpose()?;
        Ok(PackageRead {
            header: self.prefix,
            headers,
            sha256,
            len: self.len,
        })
    }
}

/// Read a package from `r` with a [`PackageReader`]: the headers, and with
/// [`Hashing::WholeFile`] the rest of the file too (reads of at most 256 KiB). `path` names the
/// file in an I/O error.
pub fn read_package<R: Read>(mut r: R, hashing: Hashing, path: &str) -> Result<PackageRead> {
    let mut reader = PackageReader::new(hashing);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let max = match reader.wanted() {
            Some(n) => n.min(buf.len() as u64) as usize,
            None if hashing == Hashing::WholeFile => buf.len(),
            None => break,
        };
        let n = match r.read(&mut buf[..max]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(Error::Io {
                    path: path.to_string(),
                    source,
                })
            }
        };
        reader.push(&buf[..n])?;
    }
    reader.finish()
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::header::tests::{minimal_main, package, HeaderBuilder};
    use crate::header::{sigtag, tag};

    /// A package file: headers with a SHA-256 payload digest, then the payload. `filler`
    /// bytes of description make the headers that long.
    fn file(payload: &[u8], filler: usize) -> (Vec<u8>, usize) {
        let digest = hex::encode(Sha256::digest(payload));
        let sig = HeaderBuilder::new().int32(sigtag::SIZE, &[1]);
        let main = minimal_main()
            .strings(tag::PAYLOADDIGEST, &[digest.as_bytes()])
            .int32(tag::PAYLOADDIGESTALGO, &[8])
            .i18n(tag::DESCRIPTION, &vec![b'x'; filler]);
        let mut f = package(sig, main);
        let end = f.len();
        f.extend_from_slice(payload);
        (f, end)
    }

    /// Drive a reader as a ranged reader does: exactly what it wants, while it wants.
    fn ranged(f: &[u8]) -> (Vec<u64>, Result<PackageRead>) {
        let mut r = PackageReader::new(Hashing::HeadersOnly);
        let mut asked = Vec::new();
        while let Some(n) = r.wanted() {
            asked.push(n);
            let from = r.len() as usize;
            let to = (from + n as usize).min(f.len());
            if from == to {
                break;
            }
            if let Err(e) = r.push(&f[from..to]) {
                return (asked, Err(e));
            }
        }
        (asked, r.finish())
    }

    /// Drive a reader as a stream does: pieces of `piece` bytes, all of them.
    fn streamed(f: &[u8], piece: usize) -> Result<PackageRead> {
        let mut r = PackageReader::new(Hashing::WholeFile);
        for p in f.chunks(piece) {
            r.push(p)?;
        }
        r.finish()
    }

    #[test]
    fn every_driver_reads_the_same_headers() {
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for filler in [10, 200_000] {
            let (f, end) = file(&payload, filler);
            let sha = hex::encode(Sha256::digest(&f));
            let (asked, read) = ranged(&f);
            let read = read.unwrap();
            assert_eq!(read.header, &f[..end], "filler {filler}");
            assert_eq!(read.sha256, None);
            if filler < 1000 {
                // Small headers: one speculative read.
                assert_eq!(asked, [SPECULATIVE_READ]);
            } else {
                // Large headers: the speculative read, then exactly the rest.
                assert_eq!(asked, [SPECULATIVE_READ, end as u64 - SPECULATIVE_READ]);
            }
            for piece in [1, 7, 4096, 1 << 20] {
                let s = streamed(&f, piece).unwrap();
                assert_eq!(s.header, read.header, "piece {piece}");
                assert_eq!(s.sha256.as_deref(), Some(sha.as_str()));
                assert_eq!(s.len, f.len() as u64);
            }
            let sync = read_package(&f[..], Hashing::WholeFile, "f.rpm").unwrap();
            assert_eq!(sync.header, read.header);
            assert_eq!(sync.sha256.as_deref(), Some(sha.as_str()));
            let sync = read_package(&f[..], Hashing::HeadersOnly, "f.rpm").unwrap();
            assert_eq!((sync.header, sync.sha256), (read.header, None));
        }
    }

    #[test]
    fn corrupt_payload_is_refused_when_the_payload_is_read() {
        let (mut f, end) = file(b"the payload", 10);
        let last = f.len() - 1;
        f[last] ^= 1;
        for piece in [1, 5, 1 << 20] {
            assert!(
                matches!(
                    streamed(&f, piece),
                    Err(Error::PayloadDigestMismatch { algo: "sha256", .. })
                ),
                "piece {piece}"
            );
        }
        assert!(matches!(
            read_package(&f[..], Hashing::WholeFile, "f.rpm"),
            Err(Error::PayloadDigestMismatch { .. })
        ));
        // A headers-only read does not see the payload (the store's checksum names the file).
        assert_eq!(ranged(&f).1.unwrap().header, &f[..end]);
    }

    #[test]
    fn truncated_and_foreign_files_are_refused() {
        let (f, end) = file(b"payload", 200_000);
        // Cut inside the headers: every driver says how much was needed.
        let cut = &f[..end - 10];
        let want = format!("truncated rpm: need {end} bytes, got {}", end - 10);
        assert_eq!(ranged(cut).1.unwrap_err().to_string(), want);
        assert_eq!(streamed(cut, 4096).unwrap_err().to_string(), want);
        let e = read_package(cut, Hashing::WholeFile, "f.rpm").unwrap_err();
        assert_eq!(e.to_string(), want);
        // Cut inside the lead.
        assert!(matches!(
            streamed(&f[..50], 7),
            Err(Error::Truncated {
                needed: 112,
                got: 50
            })
        ));
        // Not an rpm: refused at the first bytes, whatever follows.
        let mut r = PackageReader::new(Hashing::WholeFile);
        assert!(matches!(r.push(b"\x7fELF"), Err(Error::NotAnRpm)));
        // An I/O error names the file.
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let e = read_package(Failing, Hashing::WholeFile, "f.rpm").unwrap_err();
        assert!(
            matches!(&e, Error::Io { path, .. } if path == "f.rpm"),
            "{e}"
        );
    }
}

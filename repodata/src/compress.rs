//! Compression of metadata files with createrepo_c's parameters, counting both the compressed and
//! the open (uncompressed) size and sha256 on the way (`docs/REPODATA-SPEC.md` §9.1):
//!
//! * gzip: zlib level 6, header mtime 0, OS byte 3 (what zlib's `gzopen` writes on Unix),
//!   deflated by C zlib (flate2's `zlib` backend, see the workspace `Cargo.toml`), so the bytes
//!   equal createrepo_c's and modifyrepo_c's for the same content;
//! * xz: preset 5 with a CRC32 check;
//! * zstd: level 10 (createrepo_c ≥ 1.1);
//! * bzip2: block size 5 (`BZh5`, the sqlite databases' default in 0.17).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::metadata_error::{MetadataError, MetadataResult};

/// A compression format for a metadata file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// gzip (`.gz`), the default.
    #[default]
    Gz,
    /// Zstandard (`.zst`).
    Zstd,
    /// xz (`.xz`).
    Xz,
    /// bzip2 (`.bz2`).
    Bz2,
    /// Stored as is.
    None,
}

impl Compression {
    /// File-name suffix including the dot (`.gz`, `.zst`, `.xz`, `.bz2`), empty for `None`.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::Gz => ".gz",
            Compression::Zstd => ".zst",
            Compression::Xz => ".xz",
            Compression::Bz2 => ".bz2",
            Compression::None => "",
        }
    }

    /// The name used by `createrepo_c --compress-type` (`gz`, `zstd`, `xz`, `bz2`, `none`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gz => "gz",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Bz2 => "bz2",
            Compression::None => "none",
        }
    }

    /// Parses a `--compress-type` name (`gz`/`gzip`, `zstd`/`zst`, `xz`, `bz2`/`bzip2`, `none`).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "gz" | "gzip" => Compression::Gz,
            "zstd" | "zst" => Compression::Zstd,
            "xz" => Compression::Xz,
            "bz2" | "bzip2" => Compression::Bz2,
            "none" => Compression::None,
            _ => return None,
        })
    }

    /// Guesses the compression of a published file from its name, as yum and librepo do.
    pub fn from_file_name(name: &str) -> Self {
        if name.ends_with(".gz") {
            Compression::Gz
        } else if name.ends_with(".zst") {
            Compression::Zstd
        } else if name.ends_with(".xz") {
            Compression::Xz
        } else if name.ends_with(".bz2") {
            Compression::Bz2
        } else {
            Compression::None
        }
    }

    /// A reader that decompresses `r` (concatenated gzip members are read through).
    pub fn decoder<'a, R: Read + 'a>(self, r: R) -> io::Result<Box<dyn Read + 'a>> {
        let r = BufReader::new(r);
        Ok(match self {
            Compression::Gz => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
            Compression::Zstd => Box::new(zstd::Decoder::with_buffer(r)?),
            Compression::Xz => Box::new(xz2::bufread::XzDecoder::new_multi_decoder(r)),
            Compression::Bz2 => Box::new(bzip2::bufread::MultiBzDecoder::new(r)),
            Compression::None => Box::new(r),
        })
    }

    /// [`Compression::decoder`] for a reader that can move to another thread.
    pub fn decoder_send<'a, R: Read + Send + 'a>(
        self,
        r: R,
    ) -> io::Result<Box<dyn Read + Send + 'a>> {
        let r = BufReader::new(r);
        Ok(match self {
            Compression::Gz => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
            Compression::Zstd => Box::new(zstd::Decoder::with_buffer(r)?),
            Compression::Xz => Box::new(xz2::bufread::XzDecoder::new_multi_decoder(r)),
            Compression::Bz2 => Box::new(bzip2::bufread::MultiBzDecoder::new(r)),
            Compression::None => Box::new(r),
        })
    }
}

/// Sizes and sha256 digests of a written file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    /// Hex sha256 of the stored (compressed) bytes.
    pub checksum: String,
    /// Size of the stored bytes.
    pub size: u64,
    /// Hex sha256 of the uncompressed content.
    pub open_checksum: String,
    /// Size of the uncompressed content.
    pub open_size: u64,
}

/// A writer that hashes and counts everything passing through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

enum Encoder<W: Write> {
    Gz(flate2::write::GzEncoder<W>),
    Zstd(zstd::Encoder<'static, W>),
    Xz(xz2::write::XzEncoder<W>),
    Bz2(bzip2::write::BzEncoder<W>),
    None(W),
}

impl<W: Write> Encoder<W> {
    fn new(w: W, compression: Compression) -> io::Result<Self> {
        Ok(match compression {
            Compression::Gz => Encoder::Gz(
                flate2::GzBuilder::new()
                    .mtime(0)
                    .operating_system(3)
                    .write(w, flate2::Compression::new(6)),
            ),
            Compression::Zstd => Encoder::Zstd(zstd::Encoder::new(w, 10)?),
            Compression::Xz => {
                let stream = xz2::stream::Stream::new_easy_encoder(5, xz2::stream::Check::Crc32)
                    .map_err(io::Error::other)?;
                Encoder::Xz(xz2::write::XzEncoder::new_stream(w, stream))
            }
            Compression::Bz2 => {
                Encoder::Bz2(bzip2::write::BzEncoder::new(w, bzip2::Compression::new(5)))
            }
            Compression::None => Encoder::None(w),
        })
    }

    fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Gz(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
            Encoder::Xz(e) => e.finish(),
            Encoder::Bz2(e) => e.finish(),
            Encoder::None(w) => Ok(w),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Gz(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
            Encoder::Xz(e) => e.write(buf),
            Encoder::Bz2(e) => e.write(buf),
            Encoder::None(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Gz(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
            Encoder::Xz(e) => e.flush(),
            Encoder::Bz2(e) => e.flush(),
            Encoder::None(w) => w.flush(),
        }
    }
}

/// Compresses into any writer while counting open and compressed bytes and their sha256.
pub struct CountingEncoder<W: Write> {
    encoder: Encoder<HashingWriter<W>>,
    open_hasher: Sha256,
    open_size: u64,
}

impl<W: Write> CountingEncoder<W> {
    /// Starts a compressed stream into `w`.
    pub fn new(w: W, compression: Compression) -> io::Result<Self> {
        Ok(CountingEncoder {
            encoder: Encoder::new(HashingWriter::new(w), compression)?,
            open_hasher: Sha256::new(),
            open_size: 0,
        })
    }

    /// Ends the stream; returns the inner writer (not flushed) and the digests.
    pub fn finish(self) -> io::Result<(W, FileDigest)> {
        let hw = self.encoder.finish()?;
        let digest = FileDigest {
            checksum: hex::encode(hw.hasher.finalize()),
            size: hw.count,
            open_checksum: hex::encode(self.open_hasher.finalize()),
            open_size: self.open_size,
        };
        Ok((hw.inner, digest))
    }
}

impl<W: Write> Write for CountingEncoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.encoder.write(buf)?;
        self.open_hasher.update(&buf[..n]);
        self.open_size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.encoder.flush()
    }
}

/// A compressed file being written; [`CompressedFile::finish`] syncs nothing but flushes and
/// reports the digests.
pub struct CompressedFile {
    path: PathBuf,
    enc: CountingEncoder<BufWriter<File>>,
}

impl CompressedFile {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path, compression: Compression) -> MetadataResult<Self> {
        let file = File::create(path).map_err(|e| MetadataError::io(path, e))?;
        let enc = CountingEncoder::new(BufWriter::with_capacity(256 * 1024, file), compression)
            .map_err(|e| MetadataError::io(path, e))?;
        Ok(CompressedFile {
            path: path.to_owned(),
            enc,
        })
    }

    /// Appends bytes.
    pub fn write_all(&mut self, buf: &[u8]) -> MetadataResult<()> {
        self.enc
            .write_all(buf)
            .map_err(|e| MetadataError::io(&self.path, e))
    }

    /// Ends the compressed stream, flushes the file and returns its digests.
    pub fn finish(self) -> MetadataResult<FileDigest> {
        let path = self.path;
        let (mut w, digest) = self.enc.finish().map_err(|e| MetadataError::io(&path, e))?;
        w.flush().map_err(|e| MetadataError::io(&path, e))?;
        Ok(digest)
    }
}

/// Compresses the file `src` into `dst`, returning the digests (used for the sqlite databases).
pub fn compress_file(
    src: &Path,
    dst: &Path,
    compression: Compression,
) -> MetadataResult<FileDigest> {
    let mut input = File::open(src).map_err(|e| MetadataError::io(src, e))?;
    let mut out = CompressedFile::create(dst, compression)?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(MetadataError::io(src, e)),
        };
        out.write_all(&buf[..n])?;
    }
    out.finish()
}

/// zstd level of metadata files (createrepo_c ≥ 1.1).
const ZSTD_LEVEL: i32 = 10;

impl Compression {
    /// Can a file of this format be a concatenation of independently compressed pieces that
    /// every client reads as one stream? gzip (concatenated members, RFC 1952 §2.2) and zstd
    /// (concatenated frames, RFC 8878 §3) can: zlib, libsolv (dnf, zypper) and librepo read
    /// through them. xz cannot: the xz format allows concatenated streams, but libsolv's and
    /// librepo's readers stop after (or fail on) the first one, so xz files stay one stream. bzip2
    /// and plain files are not cut either.
    pub fn concatenates(self) -> bool {
        matches!(self, Compression::Gz | Compression::Zstd)
    }
}

/// One complete, independent compressed piece of a [`Compression::concatenates`] format
/// holding `data`: a gzip member (level 6, mtime 0, OS 3, as [`Compression::Gz`] files) or a
/// zstd frame (level 10, content size and checksum in the frame). Concatenated pieces form a valid file
/// whose content is the concatenation of theirs: the engine rebuilds `primary.xml.gz` or
/// `primary.xml.zst` from the pieces of unchanged packages and fresh pieces for the rest.
///
/// # Panics
/// For a format that does not concatenate.
pub fn member(compression: Compression, data: &[u8]) -> Vec<u8> {
    match compression {
        Compression::Gz => gzip_member(data),
        Compression::Zstd => zstd_frame(data).expect("zstd compression into memory"),
        other => panic!("{} files are not cut into members", other.name()),
    }
}

/// Decompress exactly one piece made by [`member`] that must span all of `piece` (checksums
/// and sizes checked by the decoder); trailing bytes, a second member or frame, or a format
/// that does not concatenate are an error.
pub fn unmember(compression: Compression, piece: &[u8], size_hint: usize) -> io::Result<Vec<u8>> {
    match compression {
        Compression::Gz => gunzip_member(piece, size_hint),
        Compression::Zstd => unzstd_frame(piece, size_hint),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} files are not cut into members", other.name()),
        )),
    }
}

/// One complete gzip member holding `data`, with the same parameters as [`Compression::Gz`]
/// files (level 6, mtime 0, OS 3).
pub fn gzip_member(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new().mtime(0).operating_system(3).write(
        Vec::with_capacity(data.len() / 6 + 64),
        flate2::Compression::new(6),
    );
    enc.write_all(data).expect("writing to a Vec");
    enc.finish().expect("writing to a Vec")
}

/// Decompress exactly one gzip member that must span all of `member` (CRC and length checked
/// by the decoder); trailing bytes or a second member are an error.
pub fn gunzip_member(member: &[u8], size_hint: usize) -> io::Result<Vec<u8>> {
    let mut dec = flate2::bufread::GzDecoder::new(member);
    let mut out = Vec::with_capacity(size_hint);
    dec.read_to_end(&mut out)?;
    let rest = dec.into_inner();
    if !rest.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} bytes after the gzip member", rest.len()),
        ));
    }
    Ok(out)
}

/// One zstd frame with its content size and a content checksum (so that a damaged frame is
/// noticed when it is copied, as a gzip member's CRC is).
fn zstd_frame(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut c = zstd::bulk::Compressor::new(ZSTD_LEVEL)?;
    c.set_parameter(zstd::stream::raw::CParameter::ChecksumFlag(true))?;
    c.set_parameter(zstd::stream::raw::CParameter::ContentSizeFlag(true))?;
    c.compress(data)
}

/// Decompress exactly one zstd frame spanning all of `frame`.
fn unzstd_frame(frame: &[u8], size_hint: usize) -> io::Result<Vec<u8>> {
    let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
    let len = zstd::zstd_safe::find_frame_compressed_size(frame).map_err(|code| {
        invalid(format!(
            "not a complete zstd frame: {}",
            zstd::zstd_safe::get_error_name(code)
        ))
    })?;
    if len != frame.len() {
        return Err(invalid(format!(
            "{} bytes after the zstd frame",
            frame.len() - len
        )));
    }
    // The frame says how much it holds (it was written in one call); a frame that claims more
    // than the caller expects is refused before anything is allocated for it.
    let content = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(n)) => n,
        _ => return Err(invalid("zstd frame without a content size".into())),
    };
    if content > size_hint as u64 {
        return Err(invalid(format!(
            "zstd frame holds {content} bytes, expected {size_hint}"
        )));
    }
    let mut out = Vec::with_capacity(content as usize);
    zstd::stream::copy_decode(frame, &mut out)?;
    if out.len() as u64 != content {
        return Err(invalid(format!(
            "zstd frame holds {} bytes, its header says {content}",
            out.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256_hex(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    fn roundtrip(c: Compression) -> (Vec<u8>, FileDigest) {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("<line n=\"{i}\"/>\n").into_bytes())
            .collect();
        let mut enc = CountingEncoder::new(Vec::new(), c).unwrap();
        for chunk in data.chunks(7919) {
            enc.write_all(chunk).unwrap();
        }
        let (out, d) = enc.finish().unwrap();
        assert_eq!(d.size, out.len() as u64);
        assert_eq!(d.checksum, sha256_hex(&out));
        assert_eq!(d.open_size, data.len() as u64);
        assert_eq!(d.open_checksum, sha256_hex(&data));
        let mut back = Vec::new();
        c.decoder(&out[..]).unwrap().read_to_end(&mut back).unwrap();
        assert!(back == data, "{c:?} does not round-trip");
        (out, d)
    }

    #[test]
    fn all_formats_round_trip_and_count() {
        for c in [
            Compression::Gz,
            Compression::Zstd,
            Compression::Xz,
            Compression::Bz2,
            Compression::None,
        ] {
            let (out, d) = roundtrip(c);
            if c != Compression::None {
                assert!(d.size < d.open_size / 4, "{c:?} compresses poorly");
            } else {
                assert_eq!(d.checksum, d.open_checksum);
            }
            assert!(!out.is_empty());
        }
    }

    #[test]
    fn gzip_header_matches_zlib_gzopen() {
        let (out, _) = roundtrip(Compression::Gz);
        // magic, deflate, no flags, mtime 0, xfl 0 (level 6), OS 3 (Unix)
        assert_eq!(&out[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    }

    #[test]
    fn bzip2_uses_block_size_5() {
        let (out, _) = roundtrip(Compression::Bz2);
        assert_eq!(&out[..4], b"BZh5");
    }

    #[test]
    fn xz_uses_crc32_check() {
        let (out, _) = roundtrip(Compression::Xz);
        assert_eq!(&out[..6], b"\xfd7zXZ\0");
        // stream flags: byte 0 reserved, byte 1 = check type (1 = CRC32)
        assert_eq!(out[7], 1);
    }

    #[test]
    fn zstd_magic() {
        let (out, _) = roundtrip(Compression::Zstd);
        assert_eq!(&out[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
    }

    #[test]
    fn names_and_suffixes() {
        for c in [
            Compression::Gz,
            Compression::Zstd,
            Compression::Xz,
            Compression::Bz2,
            Compression::None,
        ] {
            assert_eq!(Compression::from_name(c.name()), Some(c));
            assert_eq!(
                Compression::from_file_name(&format!("primary.xml{}", c.suffix())),
                c
            );
        }
        assert_eq!(Compression::from_name("lzma"), None);
    }

    #[test]
    fn compress_file_matches_stream() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a.sqlite");
        std::fs::write(&src, b"hello world, hello world, hello world").unwrap();
        let dst = dir.path().join("a.sqlite.bz2");
        let d = compress_file(&src, &dst, Compression::Bz2).unwrap();
        let stored = std::fs::read(&dst).unwrap();
        assert_eq!(d.size, stored.len() as u64);
        assert_eq!(d.checksum, sha256_hex(&stored));
        assert_eq!(d.open_checksum, sha256_hex(&std::fs::read(&src).unwrap()));
    }

    #[test]
    fn create_in_missing_dir_names_path() {
        let err = CompressedFile::create(Path::new("/nonexistent-dir/x.gz"), Compression::Gz)
            .err()
            .unwrap();
        assert!(err.to_string().contains("/nonexistent-dir/x.gz"), "{err}");
    }

    #[test]
    fn gzip_members_concatenate_and_are_checked() {
        let a = gzip_member(b"<a/>\n");
        let b = gzip_member(b"");
        let c = gzip_member(b"<c/>");
        let mut all = a.clone();
        all.extend_from_slice(&b);
        all.extend_from_slice(&c);
        let mut back = Vec::new();
        Compression::Gz
            .decoder(&all[..])
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, b"<a/>\n<c/>");
        assert_eq!(gunzip_member(&a, 0).unwrap(), b"<a/>\n");
        assert_eq!(gunzip_member(&b, 0).unwrap(), b"");
        // Two members, a truncated member, a flipped payload byte: all refused.
        assert!(gunzip_member(&all, 0).is_err());
        assert!(gunzip_member(&a[..a.len() - 1], 0).is_err());
        let mut bad = a.clone();
        bad[12] ^= 0x40;
        assert!(gunzip_member(&bad, 0).is_err());
    }

    #[test]
    fn zstd_frames_concatenate_and_are_checked() {
        let a = member(Compression::Zstd, b"<a/>\n");
        let b = member(Compression::Zstd, b"");
        let c = member(Compression::Zstd, &b"<c/>".repeat(1000));
        for m in [&a, &b, &c] {
            assert_eq!(&m[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd frame magic");
        }
        let mut all = a.clone();
        all.extend_from_slice(&b);
        all.extend_from_slice(&c);
        // Concatenated frames read as one stream, as clients read the file.
        let mut back = Vec::new();
        Compression::Zstd
            .decoder(&all[..])
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        let mut expected = b"<a/>\n".to_vec();
        expected.extend_from_slice(&b"<c/>".repeat(1000));
        assert_eq!(back, expected);
        assert_eq!(unmember(Compression::Zstd, &a, 5).unwrap(), b"<a/>\n");
        assert_eq!(unmember(Compression::Zstd, &b, 0).unwrap(), b"");
        assert_eq!(
            unmember(Compression::Zstd, &c, 4000).unwrap(),
            b"<c/>".repeat(1000)
        );
        // Two frames, a cut frame, trailing garbage, a flipped byte, more than expected: refused.
        assert!(unmember(Compression::Zstd, &all, 10_000).is_err());
        assert!(unmember(Compression::Zstd, &a[..a.len() - 1], 5).is_err());
        let mut trailing = a.clone();
        trailing.push(0);
        assert!(unmember(Compression::Zstd, &trailing, 5).is_err());
        assert!(unmember(Compression::Zstd, &c, 3999).is_err());
        let mut bad = c.clone();
        let at = bad.len() / 2;
        bad[at] ^= 0x40;
        assert!(unmember(Compression::Zstd, &bad, 4000).is_err());
    }

    #[test]
    fn only_gzip_and_zstd_are_cut_into_members() {
        for c in [Compression::Xz, Compression::Bz2, Compression::None] {
            assert!(!c.concatenates());
            assert!(unmember(c, b"x", 1).is_err());
        }
        assert!(Compression::Gz.concatenates() && Compression::Zstd.concatenates());
        // gzip members made through the generic entry are the gzip members.
        assert_eq!(member(Compression::Gz, b"abc"), gzip_member(b"abc"));
    }
}

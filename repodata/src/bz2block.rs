//! A bzip2 writer that cuts its input into fixed-size slices, compresses each slice as one
//! independent block of a single bzip2 stream (in parallel), and can copy the blocks of slices
//! that did not change from a previously written stream instead of compressing them again.
//!
//! Why: an incremental sqlite update changes a few 4 KiB pages of a database of many MiB. With
//! fixed slices, only the slices holding those pages need bzip2's (slow) block sort again; the
//! others are bit-copied from the file published last time.
//!
//! The output is ONE standard bzip2 stream, not a concatenation of streams: libsolv
//! (`BZ2_bzRead`) and Python 2's `bz2` stop reading after the first stream.
//!
//! # The format, as libbz2 1.0.8 writes it (`compress.c`, `BZ2_compressBlock`)
//! * stream header: `BZh` and the level digit `1`..`9` (4 bytes);
//! * each block: 48-bit magic `0x314159265359`, the 32-bit block CRC, then bit-packed data —
//!   blocks are NOT byte aligned, one starts where the previous one's last bit ends;
//! * stream trailer: 48-bit magic `0x177245385090`, the 32-bit combined CRC
//!   (`combined = combined.rotate_left(1) ^ block_crc` over the blocks), zero bits up to a byte.
//!
//! A block's data does not depend on its position in the stream, so the bits of a block taken
//! from a one-block stream (what the `bzip2` crate writes for a short input) can be put between
//! any other blocks of a stream of the same level; only the trailer's combined CRC is recomputed.
//! The output is therefore byte-identical whether a block was copied or compressed again.
//!
//! # One slice, one block: the bound
//! libbz2 first run-length encodes its input ("RLE1": a run of 4..=255 equal bytes becomes the
//! 4 bytes and a count byte) and starts a new block once that encoded block holds
//! `nblockMAX = level * 100000 - 19` bytes (`bzlib.c`: the check is made before each input byte
//! while the last run is still pending). A run of exactly 4 bytes grows to 5, so `n` input bytes
//! encode to at most `5 * (n / 4) + n % 4` bytes (1.25x); a slice is guaranteed to be one block
//! when that worst case is `<= nblockMAX`. [`max_slice_len`] is the largest such length
//! (719,985 bytes at level 9, 399,985 at level 5, 79,985 at level 1); [`compress`] refuses a
//! larger `slice_len`, and still checks every compressed slice really came out as one block
//! (the block CRC and the combined CRC must both equal the CRC of the whole slice).
//!
//! # Reusing a previous stream
//! The previous stream comes back from the bucket, so it is checked before any bit is copied:
//! same level in its header, the [`BlockRef`]'s range lies inside it, starts with the block magic
//! and the CRC the slice has (computed here from the new input), and is followed by another block
//! magic or the end-of-stream magic. Anything else and the slice is simply compressed again.
//! The block's inner bits are not decoded; a corrupted-but-well-framed block would be caught by
//! the reader's CRC check, so callers should verify the previous file's checksum (the one
//! recorded in `repomd.xml`) before handing it in.

use std::collections::HashMap;
use std::io::Write;

use sha2::{Digest, Sha256};

use crate::metadata_error::{MetadataError, MetadataResult};

const BLOCK_MAGIC: u64 = 0x3141_5926_5359;
const EOS_MAGIC: u64 = 0x1772_4538_5090;
/// `BZh` + level digit.
const HEADER_BITS: u64 = 32;
/// A block's magic and CRC: the least a block can be (its data follows).
const BLOCK_HEAD_BITS: u64 = 48 + 32;

/// Where one block of a written stream came from and where it sits.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BlockRef {
    /// Lowercase hex SHA-256 of the input slice the block holds.
    pub input_sha256: String,
    /// Length of that slice in bytes.
    pub input_len: u64,
    /// The block's CRC (bzip2's CRC-32 of the slice), as stored after the block magic.
    pub crc: u32,
    /// Offset of the block's first bit (its magic) in the stream, counted from the stream's
    /// first bit, most significant bit of each byte first.
    pub bit_offset: u64,
    /// Length of the block in bits, magic and CRC included.
    pub bit_len: u64,
}

/// A stream written by [`compress`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// The whole bzip2 stream.
    pub stream: Vec<u8>,
    /// One entry per slice, in order; keep them with the stream to reuse its blocks next time.
    pub blocks: Vec<BlockRef>,
    /// How many blocks were copied from the previous stream.
    pub reused: usize,
    /// How many slices were compressed.
    pub compressed: usize,
}

/// The largest `slice_len` that is always one block at `level` (1..=9), whatever the bytes:
/// the largest `n` with `5 * (n / 4) + min(n % 4, 3) <= level * 100000 - 19`. See the module docs.
pub fn max_slice_len(level: u32) -> usize {
    let budget = level as usize * 100_000 - 19;
    4 * (budget / 5) + (budget % 5).min(3)
}

/// Compresses `input` as one bzip2 stream of independent blocks, one per `slice_len` input bytes
/// (the last slice may be shorter), at `level` (1..=9), compressing up to `threads` slices at
/// once. With `previous = Some((old_stream, old_blocks))`, a slice whose SHA-256 and length
/// equal one of `old_blocks` has that block's bits copied from `old_stream` (after the checks
/// listed in the module docs) instead of being compressed.
///
/// The result does not depend on `threads` or on which blocks were reused. Empty input gives
/// the 14-byte empty stream `bzip2` writes.
///
/// Errors: [`MetadataError::Usage`] for a level outside 1..=9, a zero `slice_len` or one above
/// [`max_slice_len`]; [`MetadataError::Stream`] if libbz2 fails; [`MetadataError::Malformed`] if
/// a slice did not come out as exactly one block (cannot happen within the bound).
pub fn compress(
    input: &[u8],
    slice_len: usize,
    level: u32,
    threads: usize,
    previous: Option<(&[u8], &[BlockRef])>,
) -> MetadataResult<Blocked> {
    let mut w = BlockWriter::new(slice_len, level, threads, previous)?;
    w.push(input)?;
    Ok(w.finish())
}

/// [`compress`] for an input given a window at a time, so that a large input need not be in
/// memory at once: every window but the last must be a whole number of slices. The stream is
/// the one [`compress`] writes for the windows put together.
pub struct BlockWriter<'a> {
    slice_len: usize,
    level: u32,
    threads: usize,
    previous: Option<Previous<'a>>,
    out: BitWriter,
    blocks: Vec<BlockRef>,
    reused: usize,
    combined: u32,
    /// A window that ends inside a slice was pushed: it must be the last.
    ended: bool,
    /// `unchanged[i]`: slice `i` holds the bytes block `i` of the previous stream holds
    /// ([`BlockWriter::with_unchanged`]).
    unchanged: Vec<bool>,
}

impl<'a> BlockWriter<'a> {
    /// A stream of `level` (1..=9) with one block per `slice_len` input bytes, compressing up
    /// to `threads` slices at once and copying the blocks of `previous` (see [`compress`]).
    pub fn new(
        slice_len: usize,
        level: u32,
        threads: usize,
        previous: Option<(&'a [u8], &'a [BlockRef])>,
    ) -> MetadataResult<BlockWriter<'a>> {
        if !(1..=9).contains(&level) {
            return Err(MetadataError::Usage(format!(
                "bzip2 level must be 1..=9, got {level}"
            )));
        }
        if slice_len == 0 || slice_len > max_slice_len(level) {
            return Err(MetadataError::Usage(format!(
                "bzip2 slice length must be 1..={} at level {level}, got {slice_len}",
                max_slice_len(level)
            )));
        }
        let mut out = BitWriter::default();
        for byte in *b"BZh" {
            out.push(byte.into(), 8);
        }
        out.push((b'0' + level as u8).into(), 8);
        Ok(BlockWriter {
            slice_len,
            level,
            threads,
            previous: previous.and_then(|(stream, blocks)| Previous::new(stream, blocks, level)),
            out,
            blocks: Vec::new(),
            reused: 0,
            combined: 0,
            ended: false,
            unchanged: Vec::new(),
        })
    }

    /// Tell which slices are known to hold the same bytes as the previous stream's block at
    /// the same index (`unchanged[i]`; an in-place database update knows which pages it
    /// wrote): their blocks are copied without hashing the slice, after the same checks on
    /// the old stream and a check of the slice's CRC against the block's. A slice that fails
    /// them, or is not listed, is looked up by its SHA-256 as usual, so a wrong `true` costs
    /// time, not correctness (short of a CRC-32 collision).
    pub fn with_unchanged(mut self, unchanged: Vec<bool>) -> Self {
        self.unchanged = unchanged;
        self
    }

    /// The next window of input.
    pub fn push(&mut self, window: &[u8]) -> MetadataResult<()> {
        if window.is_empty() {
            return Ok(());
        }
        if self.ended {
            return Err(MetadataError::Usage(
                "only the last window may end inside a slice".into(),
            ));
        }
        self.ended = !window.len().is_multiple_of(self.slice_len);
        let base = self.blocks.len();
        let slices: Vec<(&[u8], Option<&BlockRef>)> = window
            .chunks(self.slice_len)
            .enumerate()
            .map(|(j, slice)| {
                let same = self
                    .previous
                    .as_ref()
                    .filter(|_| self.unchanged.get(base + j) == Some(&true));
                (slice, same.and_then(|p| p.blocks.get(base + j)))
            })
            .collect();
        let (level, previous) = (self.level, self.previous.as_ref());
        let pieces = crate::pool::try_map(&slices, self.threads, |&(slice, same)| {
            piece(slice, level, previous, same)
        })?;
        for p in pieces {
            let (bits, offset) = match &p.bits {
                Bits::Fresh(stream) => (stream.as_slice(), HEADER_BITS),
                Bits::Old(stream, offset) => {
                    self.reused += 1;
                    (*stream, *offset)
                }
            };
            self.blocks.push(BlockRef {
                input_sha256: p.sha256,
                input_len: p.input_len,
                crc: p.crc,
                bit_offset: self.out.bit_len(),
                bit_len: p.bit_len,
            });
            self.out.copy_bits(bits, offset, p.bit_len);
            self.combined = self.combined.rotate_left(1) ^ p.crc;
        }
        Ok(())
    }

    /// The stream and its blocks.
    pub fn finish(mut self) -> Blocked {
        self.out.push(EOS_MAGIC, 48);
        self.out.push(self.combined.into(), 32);
        Blocked {
            stream: self.out.finish(),
            compressed: self.blocks.len() - self.reused,
            blocks: self.blocks,
            reused: self.reused,
        }
    }
}

/// The bits of one block and where they come from.
enum Bits<'a> {
    /// A one-block stream just compressed; the block starts after its header.
    Fresh(Vec<u8>),
    /// The previous stream and the block's bit offset in it.
    Old(&'a [u8], u64),
}

struct Piece<'a> {
    bits: Bits<'a>,
    bit_len: u64,
    crc: u32,
    sha256: String,
    input_len: u64,
}

/// Copies the slice's block from the previous stream if it checks out (`same`: the block
/// known to hold the same bytes, else the one found by the slice's SHA-256), else compresses
/// it.
fn piece<'a>(
    slice: &[u8],
    level: u32,
    previous: Option<&Previous<'a>>,
    same: Option<&BlockRef>,
) -> MetadataResult<Piece<'a>> {
    let crc = block_crc(slice);
    let input_len = slice.len() as u64;
    if let Some((p, b)) = previous.zip(same) {
        if let Some((stream, offset, bit_len)) = p.check(b, input_len, crc) {
            return Ok(Piece {
                bits: Bits::Old(stream, offset),
                bit_len,
                crc,
                sha256: b.input_sha256.clone(),
                input_len,
            });
        }
    }
    let sha256 = hex::encode(Sha256::digest(slice));
    if let Some((stream, offset, bit_len)) = previous.and_then(|p| p.find(&sha256, input_len, crc))
    {
        return Ok(Piece {
            bits: Bits::Old(stream, offset),
            bit_len,
            crc,
            sha256,
            input_len,
        });
    }
    let stream = compress_slice(slice, level)?;
    let bit_len = single_block_len(&stream, level, crc).map_err(|reason| {
        MetadataError::malformed(
            "bzip2 block",
            format!("slice of {input_len} bytes: {reason}"),
        )
    })?;
    Ok(Piece {
        bits: Bits::Fresh(stream),
        bit_len,
        crc,
        sha256,
        input_len,
    })
}

fn compress_slice(slice: &[u8], level: u32) -> MetadataResult<Vec<u8>> {
    let out = Vec::with_capacity(slice.len() / 2 + 64);
    let mut enc = bzip2::write::BzEncoder::new(out, bzip2::Compression::new(level));
    enc.write_all(slice)?;
    Ok(enc.finish()?)
}

/// Checks that `stream` (written by libbz2 for one slice whose CRC is `crc`) is a header, ONE
/// block and the trailer, and returns the block's length in bits (it starts at bit 32).
///
/// With two or more blocks the first block's CRC covers only part of the slice and the combined
/// CRC is not the slice's CRC, so requiring both to equal `crc` detects a split.
fn single_block_len(stream: &[u8], level: u32, crc: u32) -> Result<u64, String> {
    if stream.len() < 4 || stream[..3] != *b"BZh" || stream[3] != b'0' + level as u8 {
        return Err("no BZh header of the right level".into());
    }
    if read_bits(stream, HEADER_BITS, 48) != Some(BLOCK_MAGIC)
        || read_bits(stream, HEADER_BITS + 48, 32) != Some(crc.into())
    {
        return Err("first block is not the whole slice (more than one block?)".into());
    }
    let total = stream.len() as u64 * 8;
    // The trailer is 80 bits followed by 0..=7 zero bits of padding.
    for pad in 0..8u64 {
        let Some(eos) = total.checked_sub(pad + 80) else {
            break;
        };
        if eos >= HEADER_BITS + BLOCK_HEAD_BITS
            && read_bits(stream, eos, 48) == Some(EOS_MAGIC)
            && read_bits(stream, eos + 48, 32) == Some(crc.into())
            && read_bits(stream, eos + 80, pad) == Some(0)
        {
            return Ok(eos - HEADER_BITS);
        }
    }
    Err("no end-of-stream trailer with the slice's CRC (more than one block?)".into())
}

/// The previous stream and its blocks, in order and by (sha256, length).
struct Previous<'a> {
    stream: &'a [u8],
    blocks: &'a [BlockRef],
    by_input: HashMap<(&'a str, u64), &'a BlockRef>,
}

impl<'a> Previous<'a> {
    /// `None` if the old stream is not of `level` (a block of a higher level may not fit).
    fn new(stream: &'a [u8], blocks: &'a [BlockRef], level: u32) -> Option<Self> {
        if stream.len() < 4 || stream[..3] != *b"BZh" || stream[3] != b'0' + level as u8 {
            return None;
        }
        let mut by_input = HashMap::new();
        for b in blocks {
            by_input
                .entry((b.input_sha256.as_str(), b.input_len))
                .or_insert(b);
        }
        Some(Previous {
            stream,
            blocks,
            by_input,
        })
    }

    /// The stream, bit offset and bit length of a reusable block for a slice, if its
    /// reference checks out against the old stream.
    fn find(&self, sha256: &str, len: u64, crc: u32) -> Option<(&'a [u8], u64, u64)> {
        self.check(self.by_input.get(&(sha256, len))?, len, crc)
    }

    /// The stream, bit offset and bit length of block `b` for a slice of `len` bytes whose
    /// CRC is `crc`, if `b` is for such a slice and checks out against the old stream.
    fn check(&self, b: &BlockRef, len: u64, crc: u32) -> Option<(&'a [u8], u64, u64)> {
        let end = b.bit_offset.checked_add(b.bit_len)?;
        let ok = b.crc == crc
            && b.input_len == len
            && b.bit_offset >= HEADER_BITS
            && b.bit_len > BLOCK_HEAD_BITS
            && read_bits(self.stream, b.bit_offset, 48) == Some(BLOCK_MAGIC)
            && read_bits(self.stream, b.bit_offset + 48, 32) == Some(crc.into())
            && matches!(
                read_bits(self.stream, end, 48),
                Some(BLOCK_MAGIC | EOS_MAGIC)
            );
        ok.then_some((self.stream, b.bit_offset, b.bit_len))
    }
}

/// `n` (<= 64) bits at bit `offset` of `buf`, most significant first; `None` past the end.
fn read_bits(buf: &[u8], offset: u64, n: u64) -> Option<u64> {
    let end = offset.checked_add(n)?;
    if n > 64 || end > buf.len() as u64 * 8 {
        return None;
    }
    Some((offset..end).fold(0, |acc, pos| {
        let bit = buf[(pos / 8) as usize] >> (7 - pos % 8) & 1;
        acc << 1 | u64::from(bit)
    }))
}

/// bzip2's block CRC: CRC-32 with polynomial 0x04C11DB7, not reflected, init and final xor
/// 0xFFFFFFFF (`BZ_UPDATE_CRC` in `bzlib_private.h`), over the slice's bytes before RLE1.
///
/// Computed with `crc-fast` (SIMD, many GB/s): every slice's CRC is checked against the block
/// reused for it, so a publish computes the CRC of the whole database, hundreds of MB for a
/// large repository; the byte-at-a-time table below ([`block_crc_table`]) did a few hundred
/// MB/s and stays as the reference the tests compare with.
fn block_crc(data: &[u8]) -> u32 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Bzip2, data) as u32
}

/// [`block_crc`], one byte at a time with a table (the definition, for the tests).
#[cfg(test)]
fn block_crc_table(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        std::array::from_fn(|i| {
            (0..8).fold((i as u32) << 24, |c, _| {
                if c & 0x8000_0000 != 0 {
                    c << 1 ^ 0x04C1_1DB7
                } else {
                    c << 1
                }
            })
        })
    });
    !data.iter().fold(!0u32, |c, &b| {
        c << 8 ^ table[((c >> 24) as u8 ^ b) as usize]
    })
}

/// Appends bits, most significant first.
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    /// The low `pending` bits are not yet in `out` (always fewer than 8 between calls).
    acc: u64,
    pending: u32,
}

impl BitWriter {
    fn bit_len(&self) -> u64 {
        self.out.len() as u64 * 8 + u64::from(self.pending)
    }

    /// Appends the low `n` (<= 56) bits of `value`.
    fn push(&mut self, value: u64, n: u32) {
        debug_assert!(n <= 56);
        self.acc = self.acc << n | (value & ((1u64 << n) - 1));
        self.pending += n;
        while self.pending >= 8 {
            self.pending -= 8;
            self.out.push((self.acc >> self.pending) as u8);
        }
        self.acc &= (1 << self.pending) - 1;
    }

    /// Appends `len` bits of `src` starting at bit `offset` (the range must lie inside `src`).
    ///
    /// A reused block of a large database is megabytes, rarely byte aligned on either side:
    /// the bits that complete the pending byte are pushed first, then whole output bytes are
    /// made of two neighbouring source bytes at one fixed shift.
    fn copy_bits(&mut self, src: &[u8], offset: u64, len: u64) {
        let end = offset + len;
        let mut pos = offset;
        if self.pending > 0 {
            let n = u64::from(8 - self.pending).min(len);
            let bits = read_bits(src, pos, n).expect("range inside the source");
            self.push(bits, n as u32);
            pos += n;
        }
        // Nothing is pending now (or the range is used up).
        let whole = (end - pos) / 8;
        if whole > 0 {
            let i = (pos / 8) as usize;
            let shift = (pos % 8) as u32;
            if shift == 0 {
                self.out.extend_from_slice(&src[i..i + whole as usize]);
            } else {
                let pairs = src[i..=i + whole as usize].windows(2);
                self.out
                    .extend(pairs.map(|w| w[0] << shift | w[1] >> (8 - shift)));
            }
            pos += whole * 8;
        }
        let tail = end - pos;
        let bits = read_bits(src, pos, tail).expect("range inside the source");
        self.push(bits, tail as u32);
    }

    /// Pads with zero bits to a whole byte.
    fn finish(mut self) -> Vec<u8> {
        if self.pending > 0 {
            self.push(0, 8 - self.pending);
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::process::Command;

    const SLICE: usize = 4096;

    /// Deterministic pseudo-random bytes (xorshift64*).
    fn random(len: usize, seed: u64) -> Vec<u8> {
        let mut s = seed | 1;
        (0..len)
            .map(|_| {
                s ^= s >> 12;
                s ^= s << 25;
                s ^= s >> 27;
                (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect()
    }

    fn text(len: usize) -> Vec<u8> {
        let words = [
            "package ",
            "noarch ",
            "x86_64 ",
            "/usr/bin/",
            "1.0-1 ",
            "\n",
        ];
        let r = random(len, 7);
        let mut out = Vec::with_capacity(len + 16);
        let mut i = 0;
        while out.len() < len {
            out.extend_from_slice(words[r[i % len.max(1)] as usize % words.len()].as_bytes());
            i += 1;
        }
        out.truncate(len);
        out
    }

    /// Runs of exactly 4 equal bytes: RLE1 grows them by 1.25x, the worst case.
    fn rle_worst(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i / 4 % 251) as u8).collect()
    }

    /// Decodes with the SINGLE-stream decoders: everything after the first stream is left unread,
    /// so getting the whole input back and no bytes left over proves it is one stream.
    fn decode_one_stream(stream: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        bzip2::read::BzDecoder::new(stream)
            .read_to_end(&mut out)
            .unwrap();
        let mut dec = bzip2::bufread::BzDecoder::new(stream);
        let mut again = Vec::new();
        dec.read_to_end(&mut again).unwrap();
        assert_eq!(again, out);
        assert!(dec.into_inner().is_empty(), "bytes after the first stream");
        out
    }

    /// Same stream and block list (compared without printing megabytes on failure).
    fn assert_same(a: &Blocked, b: &Blocked) {
        assert!(a.stream == b.stream, "streams differ");
        assert_eq!(a.blocks, b.blocks);
    }

    fn inputs() -> Vec<(&'static str, Vec<u8>)> {
        let sizes = [0, 1, SLICE - 1, SLICE, SLICE + 1, 5 * SLICE + 17];
        let mut all = Vec::new();
        for n in sizes {
            all.push(("random", random(n, n as u64 + 1)));
            all.push(("text", text(n)));
            all.push(("zeros", vec![0; n]));
            all.push(("rle-worst", rle_worst(n)));
        }
        all
    }

    #[test]
    fn windows_give_the_stream_of_one_input() {
        let data = text(10 * 1000 + 123);
        let whole = compress(&data, 1000, 1, 2, None).unwrap();
        let mut w = BlockWriter::new(1000, 1, 2, None).unwrap();
        for window in data.chunks(3000) {
            w.push(window).unwrap();
        }
        let windowed = w.finish();
        assert_eq!(windowed, whole);
        assert_eq!(decode_one_stream(&windowed.stream), data);
        // Reuse through windows too.
        let mut changed = data.clone();
        changed[4500] ^= 1;
        let mut w = BlockWriter::new(1000, 1, 2, Some((&whole.stream, &whole.blocks))).unwrap();
        for window in changed.chunks(2000) {
            w.push(window).unwrap();
        }
        let again = w.finish();
        assert_eq!((again.reused, again.compressed), (10, 1));
        let fresh = compress(&changed, 1000, 1, 1, None).unwrap();
        assert_eq!((again.stream, again.blocks), (fresh.stream, fresh.blocks));
        // A window that ends inside a slice must be the last.
        let mut w = BlockWriter::new(1000, 1, 1, None).unwrap();
        w.push(&data[..1500]).unwrap();
        assert!(matches!(
            w.push(&data[1500..2000]),
            Err(MetadataError::Usage(_))
        ));
    }

    #[test]
    fn round_trips_as_one_stream() {
        for (kind, input) in inputs() {
            for level in [1, 5, 9] {
                let b = compress(&input, SLICE, level, 2, None).unwrap();
                assert_eq!(
                    decode_one_stream(&b.stream),
                    input,
                    "{kind} {}",
                    input.len()
                );
                assert_eq!(b.blocks.len(), input.len().div_ceil(SLICE));
                assert_eq!((b.reused, b.compressed), (0, b.blocks.len()));
                assert_eq!(&b.stream[..4], format!("BZh{level}").as_bytes());
                // The references describe the stream: blocks back to back after the header.
                let mut at = HEADER_BITS;
                for (r, slice) in b.blocks.iter().zip(input.chunks(SLICE)) {
                    assert_eq!(r.bit_offset, at);
                    assert_eq!(read_bits(&b.stream, at, 48), Some(BLOCK_MAGIC));
                    assert_eq!(read_bits(&b.stream, at + 48, 32), Some(r.crc.into()));
                    assert_eq!(r.input_len, slice.len() as u64);
                    assert_eq!(r.input_sha256, hex::encode(Sha256::digest(slice)));
                    at += r.bit_len;
                }
                assert_eq!(read_bits(&b.stream, at, 48), Some(EOS_MAGIC));
                assert_eq!(b.stream.len() as u64, (at + 80).div_ceil(8));
            }
        }
    }

    #[test]
    fn one_slice_is_what_bzip2_writes() {
        // A single slice (and the empty input) come out exactly as libbz2 writes them alone,
        // which checks the header, trailer and padding handling bit for bit.
        for input in [Vec::new(), random(1000, 3), text(SLICE), rle_worst(SLICE)] {
            let b = compress(&input, SLICE, 9, 1, None).unwrap();
            assert_eq!(b.stream, compress_slice(&input, 9).unwrap());
        }
        assert_eq!(compress(&[], SLICE, 9, 1, None).unwrap().stream.len(), 14);
    }

    #[test]
    fn block_crc_is_bzip2s() {
        // CRC-32/BZIP2 check value, and the CRC libbz2 stores for a one-block stream.
        assert_eq!(block_crc(b"123456789"), 0xFC89_1918);
        let data = text(10_000);
        let stream = compress_slice(&data, 9).unwrap();
        assert_eq!(read_bits(&stream, 80, 32), Some(block_crc(&data).into()));
        // The SIMD CRC and the byte-at-a-time definition agree at every length around the
        // SIMD widths and on long inputs.
        assert_eq!(block_crc_table(b"123456789"), 0xFC89_1918);
        let long = [random(300_000, 11), rle_worst(5000)].concat();
        for len in (0..300).chain([4095, 4096, 4097, 131_072, 305_000]) {
            assert_eq!(
                block_crc(&long[..len]),
                block_crc_table(&long[..len]),
                "{len}"
            );
        }
    }

    #[test]
    fn copy_bits_is_the_bits_one_by_one() {
        let src = random(200, 21);
        // Every pending count (0..8) and source offset within a byte, lengths around byte
        // and word boundaries.
        for lead in 0..8u32 {
            for offset in 0..16u64 {
                for len in [0u64, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 500, 1500] {
                    let mut fast = BitWriter::default();
                    let mut slow = BitWriter::default();
                    fast.push(0b1011_0101, lead);
                    slow.push(0b1011_0101, lead);
                    fast.copy_bits(&src, offset, len);
                    for pos in offset..offset + len {
                        slow.push(read_bits(&src, pos, 1).unwrap(), 1);
                    }
                    assert_eq!(fast.bit_len(), slow.bit_len());
                    assert_eq!(fast.finish(), slow.finish(), "{lead} {offset} {len}");
                }
            }
        }
    }

    #[test]
    fn worst_case_bound_is_tight() {
        // At the bound the RLE1 worst case is still one block...
        for level in [1, 2] {
            let n = max_slice_len(level);
            let input = rle_worst(2 * n + 5);
            let b = compress(&input, n, level, 2, None).unwrap();
            assert_eq!(b.blocks.len(), 3);
            assert_eq!(decode_one_stream(&b.stream), input);
            let err = compress(&input, n + 1, level, 1, None).unwrap_err();
            assert!(matches!(err, MetadataError::Usage(_)), "{err}");
        }
        // ...and a little above it libbz2 really splits, which the one-block check catches.
        let over = rle_worst(max_slice_len(1) + 40);
        let stream = compress_slice(&over, 1).unwrap();
        let err = single_block_len(&stream, 1, block_crc(&over)).unwrap_err();
        assert!(err.contains("more than one block"), "{err}");
        assert_eq!(max_slice_len(9), 719_985);
        assert_eq!(max_slice_len(5), 399_985);
    }

    #[test]
    fn rejects_bad_arguments() {
        for (slice_len, level) in [(0, 9), (SLICE, 0), (SLICE, 10), (720_000, 9)] {
            let err = compress(b"abc", slice_len, level, 1, None).unwrap_err();
            assert!(matches!(err, MetadataError::Usage(_)), "{err}");
        }
    }

    #[test]
    fn threads_and_repeats_give_identical_bytes() {
        let input = [random(3 * SLICE, 11), text(4 * SLICE + 5)].concat();
        let one = compress(&input, SLICE, 9, 1, None).unwrap();
        let two = compress(&input, SLICE, 9, 2, None).unwrap();
        let again = compress(&input, SLICE, 9, 2, None).unwrap();
        let many = compress(&input, SLICE, 9, 64, None).unwrap();
        assert_same(&one, &two);
        assert_same(&two, &again);
        assert_same(&one, &many);
        assert_eq!(decode_one_stream(&one.stream), input);
    }

    #[test]
    fn reuses_unchanged_slices() {
        let old_input = [random(SLICE, 1), text(SLICE), random(SLICE, 2)].concat();
        let old = compress(&old_input, SLICE, 9, 2, None).unwrap();
        let mut new_input = old_input.clone();
        new_input[SLICE + 100] ^= 0x55;
        let new = compress(&new_input, SLICE, 9, 2, Some((&old.stream, &old.blocks))).unwrap();
        assert_eq!((new.reused, new.compressed), (2, 1));
        assert_eq!(decode_one_stream(&new.stream), new_input);
        // Copying blocks gives the same bytes as compressing everything again.
        assert_same(&new, &compress(&new_input, SLICE, 9, 1, None).unwrap());
        assert_eq!(new.blocks[0], old.blocks[0]);
        // The third block moved with the second block's new length; the rest is the same.
        let moved = |r: &BlockRef| BlockRef {
            bit_offset: 0,
            ..r.clone()
        };
        assert_eq!(moved(&new.blocks[2]), moved(&old.blocks[2]));
        assert_ne!(new.blocks[1].crc, old.blocks[1].crc);

        // Slices that moved (an inserted slice) are still found, by content, at new offsets.
        let moved = [text(SLICE / 2), old_input.clone()].concat();
        let shifted = [random(SLICE, 9), old_input.clone()].concat();
        let b = compress(&shifted, SLICE, 9, 2, Some((&old.stream, &old.blocks))).unwrap();
        assert_eq!((b.reused, b.compressed), (3, 1));
        assert_eq!(decode_one_stream(&b.stream), shifted);
        let b = compress(&moved, SLICE, 9, 2, Some((&old.stream, &old.blocks))).unwrap();
        assert_eq!(decode_one_stream(&b.stream), moved);

        // Same input again: everything copied.
        let b = compress(&old_input, SLICE, 9, 1, Some((&old.stream, &old.blocks))).unwrap();
        assert_eq!((b.reused, b.compressed), (3, 0));
        assert_same(&b, &old);
    }

    #[test]
    fn slices_known_unchanged_are_copied_without_hashing_and_checked() {
        let old_input = [random(SLICE, 1), text(SLICE), random(SLICE, 2), text(100)].concat();
        let old = compress(&old_input, SLICE, 9, 2, None).unwrap();
        let mut new_input = old_input.clone();
        new_input[SLICE + 100] ^= 0x55;
        new_input.extend_from_slice(&random(SLICE, 3));
        let fresh = compress(&new_input, SLICE, 9, 1, None).unwrap();
        let with = |unchanged: Vec<bool>| {
            let mut w = BlockWriter::new(SLICE, 9, 2, Some((&old.stream, &old.blocks)))
                .unwrap()
                .with_unchanged(unchanged);
            // Two windows: slice indexes run on across them.
            w.push(&new_input[..2 * SLICE]).unwrap();
            w.push(&new_input[2 * SLICE..]).unwrap();
            w.finish()
        };
        // The true mask: slices 0 and 2 by position; 1 changed; 3 grew, 4 is new.
        let b = with(vec![true, false, true, false, false]);
        assert_same(&b, &fresh);
        assert_eq!((b.reused, b.compressed), (2, 3));
        // A wrong `true` (slice 1 changed; slice 3 is longer now, slice 4 has no old block)
        // is caught by the CRC and length checks: the same bytes, slice 1 compressed again.
        let b = with(vec![true; 5]);
        assert_same(&b, &fresh);
        assert_eq!((b.reused, b.compressed), (2, 3));
        // No mask: found by SHA-256 as before.
        assert_same(&with(Vec::new()), &fresh);
    }

    #[test]
    fn bad_previous_falls_back_to_compressing() {
        let input = [random(SLICE, 1), rle_worst(SLICE), text(SLICE - 3)].concat();
        let good = compress(&input, SLICE, 9, 1, None).unwrap();

        type Mangle = fn(&mut Vec<u8>, &mut Vec<BlockRef>);
        let cases: [(&str, Mangle, usize); 10] = [
            ("offset +1", |_, r| r[1].bit_offset += 1, 2),
            ("offset past end", |_, r| r[1].bit_offset = u64::MAX - 3, 2),
            ("length -1", |_, r| r[0].bit_len -= 1, 2),
            ("length +8", |_, r| r[2].bit_len += 8, 2),
            ("huge length", |_, r| r[2].bit_len = u64::MAX, 2),
            ("wrong crc", |_, r| r[1].crc ^= 1, 2),
            (
                "crc bit flipped in stream",
                |s, r| {
                    let bit = r[2].bit_offset + 60;
                    s[(bit / 8) as usize] ^= 0x80 >> (bit % 8);
                },
                2,
            ),
            ("trailer cut", |s, _| s.truncate(s.len() - 12), 2),
            ("other level", |s, _| s[3] = b'8', 0),
            ("not bzip2", |s, _| s.clear(), 0),
        ];
        for (what, mangle, reusable) in cases {
            let (mut stream, mut refs) = (good.stream.clone(), good.blocks.clone());
            mangle(&mut stream, &mut refs);
            let b = compress(&input, SLICE, 9, 2, Some((&stream, &refs))).unwrap();
            assert_eq!(decode_one_stream(&b.stream), input, "{what}");
            assert_eq!(b.reused, reusable, "{what}");
            assert_same(&b, &good);
        }

        // References claiming another slice's content (sha256 swapped) fail the CRC check.
        let mut refs = good.blocks.clone();
        refs.swap(0, 1);
        (refs[0].input_sha256, refs[1].input_sha256) =
            (refs[1].input_sha256.clone(), refs[0].input_sha256.clone());
        let b = compress(&input, SLICE, 9, 2, Some((&good.stream, &refs))).unwrap();
        assert_eq!(b.reused, 1);
        assert_same(&b, &good);
    }

    #[test]
    fn real_decoders_read_it() {
        let input = [text(3 * SLICE), rle_worst(SLICE), random(2 * SLICE + 9, 5)].concat();
        let b = compress(&input, SLICE, 5, 2, None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocked.bz2");
        std::fs::write(&path, &b.stream).unwrap();

        match Command::new("bzip2").arg("-tq").arg(&path).status() {
            Ok(status) => {
                assert!(status.success(), "bzip2 -t failed");
                let out = Command::new("bzip2")
                    .arg("-dc")
                    .arg(&path)
                    .output()
                    .unwrap();
                assert!(out.status.success());
                assert_eq!(out.stdout, input, "bzip2 -dc");
            }
            Err(e) => println!("skipping bzip2 CLI check: {e}"),
        }

        // BZ2Decompressor reads ONE stream and reports what follows it as unused_data.
        let script = "import bz2,sys\n\
            d=bz2.BZ2Decompressor()\n\
            out=d.decompress(open(sys.argv[1],'rb').read())\n\
            assert d.eof and d.unused_data==b'', 'not exactly one stream'\n\
            sys.stdout.buffer.write(out)";
        match Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&path)
            .output()
        {
            Ok(out) => {
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert_eq!(out.stdout, input, "python bz2");
            }
            Err(e) => println!("skipping python3 bz2 check: {e}"),
        }
    }
}

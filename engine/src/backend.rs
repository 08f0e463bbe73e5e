//! The one place where the engine calls the `repodata` crate: header extents, package records,
//! rendering the metadata files, `repomd.xml`, and reading metadata written by other tools.
//! Everything here is synchronous and pure (bytes in, bytes out).

use rpmbucket_repodata::Package;

use crate::config::RepoConfig;

/// A compression format for a metadata file (same names as `repodata::compress::Compression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    #[default]
    Gz,
    Zstd,
    Xz,
    Bz2,
    /// Stored as is.
    None,
}

impl Compression {
    /// File-name suffix including the dot, empty for `None`.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::Gz => ".gz",
            Compression::Zstd => ".zst",
            Compression::Xz => ".xz",
            Compression::Bz2 => ".bz2",
            Compression::None => "",
        }
    }

    /// Parses a `--compress-type` name.
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
}

/// First read of a package: enough for the lead, signature and main header of most packages.
pub const SPECULATIVE_READ: u64 = 64 * 1024;

/// How much of the file the header needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// At least this many bytes from the start are needed to know more.
    NeedBytes(u64),
    /// The headers end at `end` (the payload offset, `rpm:header-range end`).
    Complete { end: u64 },
}

/// Where the headers end, from a prefix of the file (spec §10.1).
pub fn header_extent(prefix: &[u8]) -> Result<Extent, String> {
    const LEAD: usize = 96;
    const INTRO: usize = 16;
    let be32 = |b: &[u8], at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    if prefix.len() < LEAD + INTRO {
        return Ok(Extent::NeedBytes((LEAD + INTRO) as u64));
    }
    if prefix[..4] != [0xED, 0xAB, 0xEE, 0xDB] {
        return Err("not an RPM: bad lead magic".into());
    }
    if prefix[LEAD..LEAD + 3] != [0x8E, 0xAD, 0xE8] {
        return Err("bad signature header magic".into());
    }
    let il = be32(prefix, LEAD + 8) as u64;
    let dl = be32(prefix, LEAD + 12) as u64;
    if il > 32 * 1024 || dl > 64 << 20 {
        return Err(format!("signature header too large (il={il}, dl={dl})"));
    }
    let sig_end = (LEAD + INTRO) as u64 + 16 * il + dl;
    let h = sig_end.div_ceil(8) * 8;
    if (prefix.len() as u64) < h + INTRO as u64 {
        return Ok(Extent::NeedBytes(h + INTRO as u64));
    }
    let h_us = h as usize;
    if prefix[h_us..h_us + 3] != [0x8E, 0xAD, 0xE8] {
        return Err("bad main header magic".into());
    }
    let il2 = be32(prefix, h_us + 8) as u64;
    let dl2 = be32(prefix, h_us + 12) as u64;
    if il2 > 65_535 || dl2 > 256 << 20 {
        return Err(format!("main header too large (il={il2}, dl={dl2})"));
    }
    Ok(Extent::Complete {
        end: h + INTRO as u64 + 16 * il2 + dl2,
    })
}

/// Facts about the file a record is built from that the header does not hold.
#[derive(Debug, Clone)]
pub struct FileFacts {
    pub location_href: String,
    pub size: u64,
    pub mtime: i64,
    pub pkgid: String,
}

/// Build the record of one package from its lead + headers (`bytes[..end]`).
pub fn parse_package(
    _header: &[u8],
    _facts: &FileFacts,
    _changelog_limit: i32,
) -> Result<Package, String> {
    Err("package parsing is not available in this build".into())
}

/// One rendered metadata file.
#[derive(Debug, Clone)]
pub struct RenderedFile {
    /// repomd record type (`primary`, `primary_db`, …).
    pub data_type: String,
    /// Base name without checksum prefix, e.g. `primary.xml.gz`.
    pub name: String,
    pub bytes: Vec<u8>,
    /// Hex sha256 of `bytes`.
    pub checksum: String,
    /// Hex sha256 and size of the uncompressed content (compressed files only).
    pub open: Option<(String, u64)>,
    /// `database_version` (sqlite records only).
    pub database_version: Option<u32>,
}

/// Render primary/filelists/other (and the sqlite databases if configured) for `packages`,
/// already in createrepo_c order.
pub fn render(_packages: &[&Package], _config: &RepoConfig) -> Result<Vec<RenderedFile>, String> {
    Err("metadata writers are not available in this build".into())
}

/// A `<data>` record of `repomd.xml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub data_type: String,
    /// `repodata/NAME`, relative to the repository root.
    pub href: String,
    pub checksum: String,
    pub open_checksum: Option<String>,
    pub size: u64,
    pub open_size: Option<u64>,
    pub timestamp: i64,
    pub database_version: Option<u32>,
}

/// A parsed `repomd.xml`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Repomd {
    pub revision: String,
    pub records: Vec<Record>,
}

/// Serialise `repomd.xml` (records sorted the createrepo_c way).
pub fn write_repomd(_repomd: &Repomd) -> Vec<u8> {
    unimplemented!("repomd writer not merged yet")
}

/// Parse `repomd.xml`.
pub fn parse_repomd(_bytes: &[u8]) -> Result<Repomd, String> {
    Err("repomd parser is not available in this build".into())
}

/// Records of a repository written by another tool, from its decompressed primary, filelists
/// and other XML.
pub fn read_published(
    _primary: &[u8],
    _filelists: Option<&[u8]>,
    _other: Option<&[u8]>,
) -> Result<Vec<Package>, String> {
    Err("metadata reader is not available in this build".into())
}

/// Decompress a metadata file by its name's suffix.
pub fn decompress(name: &str, bytes: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut out = Vec::new();
    if name.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| format!("{name}: {e}"))?;
        Ok(out)
    } else if name.ends_with(".xml") {
        Ok(bytes.to_vec())
    } else {
        Err(format!("{name}: compression not supported yet"))
    }
}

/// Hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extent_of_truncated_and_bad_input() {
        assert_eq!(header_extent(&[]).unwrap(), Extent::NeedBytes(112));
        assert!(header_extent(&[0u8; 200]).is_err());
        let mut lead = vec![0u8; 112];
        lead[..4].copy_from_slice(&[0xED, 0xAB, 0xEE, 0xDB]);
        lead[96..99].copy_from_slice(&[0x8E, 0xAD, 0xE8]);
        lead[104..108].copy_from_slice(&2u32.to_be_bytes());
        lead[108..112].copy_from_slice(&5u32.to_be_bytes());
        // 112 + 32 + 5 = 149 → H = 152; need H + 16.
        assert_eq!(header_extent(&lead).unwrap(), Extent::NeedBytes(168));
        lead.resize(168, 0);
        assert!(header_extent(&lead).is_err(), "main header magic missing");
        lead[152..155].copy_from_slice(&[0x8E, 0xAD, 0xE8]);
        lead[160..164].copy_from_slice(&3u32.to_be_bytes());
        lead[164..168].copy_from_slice(&10u32.to_be_bytes());
        assert_eq!(
            header_extent(&lead).unwrap(),
            Extent::Complete { end: 168 + 48 + 10 }
        );
    }
}

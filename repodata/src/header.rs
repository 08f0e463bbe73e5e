//! Sans-IO reading of an RPM's lead, signature header and main header.
//!
//! The caller hands in bytes from the start of the file; nothing here does I/O. [`header_extent`]
//! tells how many bytes are needed (so a caller reading over HTTP fetches a speculative
//! [`SPECULATIVE_READ`] prefix and, if that is not enough, exactly the rest), and
//! [`RpmHeaders::parse`] validates and decodes both headers the way librpm 4.18 does when
//! createrepo_c 0.17.3 calls `rpmReadPackageFile` (digest and signature checks off):
//! the same structural checks (tag/data limits, region tags, alignment, offsets, known tag types),
//! the same merge of signature tags into the main header and the same retrofits for old packages.
//!
//! Every count, offset and length is checked against the data actually present before it is used;
//! no size read from the file is used for an allocation before that check.

use crate::error::{Error, Result};
use crate::tagtypes::TAG_TYPES;

/// How many bytes to fetch first when only the header is wanted. Most headers fit; packages with
/// huge file lists need a second read of exactly the missing part.
pub const SPECULATIVE_READ: u64 = 64 * 1024;

const LEAD_LEN: u64 = 96;
const INTRO_LEN: u64 = 16;
const HEADER_MAGIC: [u8; 8] = [0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];

/// librpm `hdrblobVerifyLengths` limits.
const SIG_TAGS_MAX: u32 = 32;
const SIG_DATA_MAX: u32 = 64 * 1024 * 1024;
const HDR_TAGS_MAX: u32 = 0xffff;
const HDR_DATA_MAX: u32 = 0x0fff_ffff;
/// librpm `headerMaxbytes`: no header blob may reach this size.
const HEADER_MAX_BYTES: u64 = 256 * 1024 * 1024;
const HEADER_ARRAY_MAX: u32 = 0x000f_ffff;

/// Region tags.
const HEADERIMAGE: u32 = 61;
const HEADERSIGNATURES: u32 = 62;
const HEADERIMMUTABLE: u32 = 63;
const HEADERI18NTABLE: u32 = 100;

/// Entry data types.
pub mod ty {
    /// `RPM_NULL_TYPE`: no data. Also what a tag missing from the known-type table maps to, which
    /// means its type is not checked.
    pub const NULL: u32 = 0;
    /// `RPM_CHAR_TYPE`: array of single bytes.
    pub const CHAR: u32 = 1;
    /// `RPM_INT8_TYPE`: array of unsigned 8-bit integers.
    pub const INT8: u32 = 2;
    /// `RPM_INT16_TYPE`: array of big-endian unsigned 16-bit integers.
    pub const INT16: u32 = 3;
    /// `RPM_INT32_TYPE`: array of big-endian unsigned 32-bit integers.
    pub const INT32: u32 = 4;
    /// `RPM_INT64_TYPE`: array of big-endian unsigned 64-bit integers.
    pub const INT64: u32 = 5;
    /// `RPM_STRING_TYPE`: one NUL-terminated string (count must be 1).
    pub const STRING: u32 = 6;
    /// `RPM_BIN_TYPE`: opaque bytes; the count is the length in bytes.
    pub const BIN: u32 = 7;
    /// `RPM_STRING_ARRAY_TYPE`: `count` NUL-terminated strings, one after the other.
    pub const STRING_ARRAY: u32 = 8;
    /// `RPM_I18NSTRING_TYPE`: one string per locale of the i18n table; the first is the C locale.
    pub const I18NSTRING: u32 = 9;
}

const TYPE_SIZES: [i64; 10] = [0, 1, 1, 2, 4, 8, -1, 1, -1, -1];
const TYPE_ALIGN: [u32; 10] = [1, 1, 1, 2, 4, 8, 1, 1, 1, 1];

/// Main-header tag numbers used by this crate.
pub mod tag {
    /// `RPMTAG_NAME` (string): package name.
    pub const NAME: u32 = 1000;
    /// `RPMTAG_VERSION` (string): upstream version.
    pub const VERSION: u32 = 1001;
    /// `RPMTAG_RELEASE` (string): package release.
    pub const RELEASE: u32 = 1002;
    /// `RPMTAG_EPOCH` (int32): epoch; absent means none (written as 0 in the metadata).
    pub const EPOCH: u32 = 1003;
    /// `RPMTAG_SUMMARY` (i18n string): one-line summary.
    pub const SUMMARY: u32 = 1004;
    /// `RPMTAG_DESCRIPTION` (i18n string): long description.
    pub const DESCRIPTION: u32 = 1005;
    /// `RPMTAG_BUILDTIME` (int32): build time, seconds since the Unix epoch.
    pub const BUILDTIME: u32 = 1006;
    /// `RPMTAG_BUILDHOST` (string): host the package was built on.
    pub const BUILDHOST: u32 = 1007;
    /// `RPMTAG_SIZE` (int32): installed size in bytes (sum of the file sizes).
    pub const SIZE: u32 = 1009;
    /// `RPMTAG_VENDOR` (string): vendor.
    pub const VENDOR: u32 = 1011;
    /// `RPMTAG_LICENSE` (string): license expression.
    pub const LICENSE: u32 = 1014;
    /// `RPMTAG_PACKAGER` (string): packager.
    pub const PACKAGER: u32 = 1015;
    /// `RPMTAG_GROUP` (i18n string): package group.
    pub const GROUP: u32 = 1016;
    /// `RPMTAG_URL` (string): upstream URL.
    pub const URL: u32 = 1020;
    /// `RPMTAG_ARCH` (string): architecture the package was built for.
    pub const ARCH: u32 = 1022;
    /// `RPMTAG_OLDFILENAMES` (string array): full file paths of old packages, before the
    /// dirname/basename split; the retrofit turns them into
    /// [`DIRNAMES`]/[`BASENAMES`]/[`DIRINDEXES`].
    pub const OLDFILENAMES: u32 = 1027;
    /// `RPMTAG_FILEMODES` (int16 array): `st_mode` of each file.
    pub const FILEMODES: u32 = 1030;
    /// `RPMTAG_FILEDIGESTS` (string array, formerly `FILEMD5S`): hex digest of each file, empty for
    /// non-regular files.
    pub const FILEDIGESTS: u32 = 1035;
    /// `RPMTAG_FILEFLAGS` (int32 array): `RPMFILE_*` attributes of each file (config, doc, ghost,
    /// ...).
    pub const FILEFLAGS: u32 = 1037;
    /// `RPMTAG_SOURCERPM` (string): file name of the source package; absent in source packages.
    pub const SOURCERPM: u32 = 1044;
    /// `RPMTAG_ARCHIVESIZE` (int32): uncompressed payload size in bytes (librpm moves the signature
    /// header's `PAYLOADSIZE` here).
    pub const ARCHIVESIZE: u32 = 1046;
    /// `RPMTAG_PROVIDENAME` (string array): names of the provides.
    pub const PROVIDENAME: u32 = 1047;
    /// `RPMTAG_REQUIREFLAGS` (int32 array): `RPMSENSE_*` flags of each require.
    pub const REQUIREFLAGS: u32 = 1048;
    /// `RPMTAG_REQUIRENAME` (string array): names of the requires.
    pub const REQUIRENAME: u32 = 1049;
    /// `RPMTAG_REQUIREVERSION` (string array): version (EVR) of each require, empty when
    /// unversioned.
    pub const REQUIREVERSION: u32 = 1050;
    /// `RPMTAG_CONFLICTFLAGS` (int32 array): `RPMSENSE_*` flags of each conflict.
    pub const CONFLICTFLAGS: u32 = 1053;
    /// `RPMTAG_CONFLICTNAME` (string array): names of the conflicts.
    pub const CONFLICTNAME: u32 = 1054;
    /// `RPMTAG_CONFLICTVERSION` (string array): version (EVR) of each conflict.
    pub const CONFLICTVERSION: u32 = 1055;
    /// `RPMTAG_CHANGELOGTIME` (int32 array): time of each changelog entry, seconds since the Unix
    /// epoch.
    pub const CHANGELOGTIME: u32 = 1080;
    /// `RPMTAG_CHANGELOGNAME` (string array): author line of each changelog entry.
    pub const CHANGELOGNAME: u32 = 1081;
    /// `RPMTAG_CHANGELOGTEXT` (string array): text of each changelog entry.
    pub const CHANGELOGTEXT: u32 = 1082;
    /// `RPMTAG_OBSOLETENAME` (string array): names of the obsoletes.
    pub const OBSOLETENAME: u32 = 1090;
    /// `RPMTAG_SOURCEPACKAGE` (int32): non-zero in a source package.
    pub const SOURCEPACKAGE: u32 = 1106;
    /// `RPMTAG_PROVIDEFLAGS` (int32 array): `RPMSENSE_*` flags of each provide.
    pub const PROVIDEFLAGS: u32 = 1112;
    /// `RPMTAG_PROVIDEVERSION` (string array): version (EVR) of each provide.
    pub const PROVIDEVERSION: u32 = 1113;
    /// `RPMTAG_OBSOLETEFLAGS` (int32 array): `RPMSENSE_*` flags of each obsolete.
    pub const OBSOLETEFLAGS: u32 = 1114;
    /// `RPMTAG_OBSOLETEVERSION` (string array): version (EVR) of each obsolete.
    pub const OBSOLETEVERSION: u32 = 1115;
    /// `RPMTAG_DIRINDEXES` (int32 array): for each file, its index into [`DIRNAMES`].
    pub const DIRINDEXES: u32 = 1116;
    /// `RPMTAG_BASENAMES` (string array): last path component of each file.
    pub const BASENAMES: u32 = 1117;
    /// `RPMTAG_DIRNAMES` (string array): distinct directories of the files, each ending in `/`.
    pub const DIRNAMES: u32 = 1118;
    /// `RPMTAG_OLDSUGGESTSNAME` (string array): legacy SUSE weak dependencies; the flags say
    /// whether each is a recommends (`RPMSENSE_STRONG`) or a suggests.
    pub const OLDSUGGESTSNAME: u32 = 1156;
    /// `RPMTAG_OLDSUGGESTSVERSION` (string array): version of each legacy suggests/recommends.
    pub const OLDSUGGESTSVERSION: u32 = 1157;
    /// `RPMTAG_OLDSUGGESTSFLAGS` (int32 array): flags of each legacy suggests/recommends.
    pub const OLDSUGGESTSFLAGS: u32 = 1158;
    /// `RPMTAG_OLDENHANCESNAME` (string array): legacy SUSE reverse weak dependencies; the flags
    /// say whether each is a supplements (`RPMSENSE_STRONG`) or an enhances.
    pub const OLDENHANCESNAME: u32 = 1159;
    /// `RPMTAG_OLDENHANCESVERSION` (string array): version of each legacy enhances/supplements.
    pub const OLDENHANCESVERSION: u32 = 1160;
    /// `RPMTAG_OLDENHANCESFLAGS` (int32 array): flags of each legacy enhances/supplements.
    pub const OLDENHANCESFLAGS: u32 = 1161;
    /// `RPMTAG_LONGARCHIVESIZE` (int64): uncompressed payload size in bytes for payloads of 4 GiB
    /// and more (copied from the signature header).
    pub const LONGARCHIVESIZE: u32 = 271;
    /// `RPMTAG_LONGSIZE` (int64): installed size in bytes when it does not fit [`SIZE`].
    pub const LONGSIZE: u32 = 5009;
    /// `RPMTAG_FILEDIGESTALGO` (int32): OpenPGP hash algorithm of [`FILEDIGESTS`]; absent means
    /// MD5.
    pub const FILEDIGESTALGO: u32 = 5011;
    /// `RPMTAG_RECOMMENDNAME` (string array): names of the recommends.
    pub const RECOMMENDNAME: u32 = 5046;
    /// `RPMTAG_RECOMMENDVERSION` (string array): version (EVR) of each recommends.
    pub const RECOMMENDVERSION: u32 = 5047;
    /// `RPMTAG_RECOMMENDFLAGS` (int32 array): `RPMSENSE_*` flags of each recommends.
    pub const RECOMMENDFLAGS: u32 = 5048;
    /// `RPMTAG_SUGGESTNAME` (string array): names of the suggests.
    pub const SUGGESTNAME: u32 = 5049;
    /// `RPMTAG_SUGGESTVERSION` (string array): version (EVR) of each suggests.
    pub const SUGGESTVERSION: u32 = 5050;
    /// `RPMTAG_SUGGESTFLAGS` (int32 array): `RPMSENSE_*` flags of each suggests.
    pub const SUGGESTFLAGS: u32 = 5051;
    /// `RPMTAG_SUPPLEMENTNAME` (string array): names of the supplements.
    pub const SUPPLEMENTNAME: u32 = 5052;
    /// `RPMTAG_SUPPLEMENTVERSION` (string array): version (EVR) of each supplements.
    pub const SUPPLEMENTVERSION: u32 = 5053;
    /// `RPMTAG_SUPPLEMENTFLAGS` (int32 array): `RPMSENSE_*` flags of each supplements.
    pub const SUPPLEMENTFLAGS: u32 = 5054;
    /// `RPMTAG_ENHANCENAME` (string array): names of the enhances.
    pub const ENHANCENAME: u32 = 5055;
    /// `RPMTAG_ENHANCEVERSION` (string array): version (EVR) of each enhances.
    pub const ENHANCEVERSION: u32 = 5056;
    /// `RPMTAG_ENHANCEFLAGS` (int32 array): `RPMSENSE_*` flags of each enhances.
    pub const ENHANCEFLAGS: u32 = 5057;
    /// `RPMTAG_PAYLOADDIGEST` (string array): hex digest of the compressed payload.
    pub const PAYLOADDIGEST: u32 = 5092;
    /// `RPMTAG_PAYLOADDIGESTALGO` (int32): OpenPGP hash algorithm of [`PAYLOADDIGEST`].
    pub const PAYLOADDIGESTALGO: u32 = 5093;
    /// `RPMTAG_PAYLOADSIZE` (5112) of newer rpm; defined for reference, nothing in this crate reads
    /// it.
    pub const PAYLOADSIZE: u32 = 5112;
    /// `RPMTAG_PAYLOADSIZEALT` (5113) of newer rpm; defined for reference, nothing in this crate
    /// reads it.
    pub const PAYLOADSIZEALT: u32 = 5113;
}

/// Signature-header tag numbers.
pub mod sigtag {
    /// `RPMSIGTAG_SIZE` (int32): size in bytes of the main header plus the compressed payload.
    pub const SIZE: u32 = 1000;
    /// `RPMSIGTAG_PGP` (bin): OpenPGP RSA signature over the main header and the payload.
    pub const PGP: u32 = 1002;
    /// `RPMSIGTAG_MD5` (bin, 16 bytes): MD5 of the main header and the payload.
    pub const MD5: u32 = 1004;
    /// `RPMSIGTAG_GPG` (bin): OpenPGP DSA signature over the main header and the payload.
    pub const GPG: u32 = 1005;
    /// `RPMSIGTAG_PAYLOADSIZE` (int32): uncompressed payload size in bytes; merged into the main
    /// header as [`tag::ARCHIVESIZE`](super::tag::ARCHIVESIZE).
    pub const PAYLOADSIZE: u32 = 1007;
    /// `RPMSIGTAG_SHA1` (string): hex SHA-1 of the main header.
    pub const SHA1: u32 = 269;
    /// `RPMSIGTAG_SHA256` (string): hex SHA-256 of the main header.
    pub const SHA256: u32 = 273;
    /// `RPMSIGTAG_DSA` (bin): OpenPGP DSA signature over the main header only.
    pub const DSA: u32 = 267;
    /// `RPMSIGTAG_RSA` (bin): OpenPGP signature over the main header only (RSA, or EdDSA with newer
    /// rpm).
    pub const RSA: u32 = 268;
    /// `RPMSIGTAG_LONGSIZE` (int64): 64-bit form of [`SIZE`].
    pub const LONGSIZE: u32 = 270;
    /// `RPMSIGTAG_LONGARCHIVESIZE` (int64): 64-bit form of [`PAYLOADSIZE`].
    pub const LONGARCHIVESIZE: u32 = 271;
    /// `RPMSIGTAG_FILESIGNATURES` (string array): IMA signature of each file.
    pub const FILESIGNATURES: u32 = 274;
    /// `RPMSIGTAG_FILESIGNATURELENGTH` (int32): length of each IMA file signature.
    pub const FILESIGNATURELENGTH: u32 = 275;
    /// `RPMSIGTAG_VERITYSIGNATURES` (string array): fs-verity signature of each file.
    pub const VERITYSIGNATURES: u32 = 276;
    /// `RPMSIGTAG_VERITYSIGNATUREALGO` (int32): algorithm of the fs-verity signatures.
    pub const VERITYSIGNATUREALGO: u32 = 277;
}

/// `rpm:header-range` of createrepo_c: `start` is the offset of the main header (its magic),
/// `end` the offset of the payload (one past the main header's data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRange {
    /// Byte offset of the main header's magic from the start of the file.
    pub start: u64,
    /// Byte offset of the payload: one past the main header's data.
    pub end: u64,
}

/// Answer of [`header_extent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// The prefix is too short: this many bytes from the start of the file are needed
    /// (a total length, not an increment). Call again with at least that much.
    NeedBytes(u64),
    /// The prefix holds the lead and both headers; `end` bytes are enough for
    /// [`RpmHeaders::parse`].
    Complete(HeaderRange),
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn check_lead(prefix: &[u8]) -> Result<()> {
    if prefix.len() >= 4 && prefix[..4] != LEAD_MAGIC {
        return Err(Error::NotAnRpm);
    }
    if prefix.len() >= LEAD_LEN as usize {
        // librpm 4.18 rpmLeadCheck: magic, signature type 5 (header-style), major 3 or 4.
        let major = prefix[4];
        let sig_type = u16::from_be_bytes([prefix[78], prefix[79]]);
        if sig_type != 5 {
            return Err(Error::BadLead {
                what: format!("illegal signature type {sig_type}"),
            });
        }
        if !(3..=4).contains(&major) {
            return Err(Error::BadLead {
                what: format!("unsupported rpm package version {major}"),
            });
        }
    }
    Ok(())
}

/// librpm `hdrblobVerifyLengths` plus the `headerMaxbytes` blob check.
fn check_lengths(header: &'static str, il: u32, dl: u32) -> Result<()> {
    let (il_max, dl_max) = if header == SIG {
        (SIG_TAGS_MAX, SIG_DATA_MAX)
    } else {
        (HDR_TAGS_MAX, HDR_DATA_MAX)
    };
    if il > il_max {
        return Err(Error::TooLarge {
            header,
            what: "number of tags",
            got: il.into(),
            limit: il_max.into(),
        });
    }
    if dl > dl_max {
        return Err(Error::TooLarge {
            header,
            what: "data length",
            got: dl.into(),
            limit: dl_max.into(),
        });
    }
    let pvlen = 8 + 16 * u64::from(il) + u64::from(dl);
    if pvlen >= HEADER_MAX_BYTES {
        return Err(Error::TooLarge {
            header,
            what: "header blob size",
            got: pvlen,
            limit: HEADER_MAX_BYTES - 1,
        });
    }
    Ok(())
}

fn check_intro(header: &'static str, intro: &[u8]) -> Result<(u32, u32)> {
    if intro[..8] != HEADER_MAGIC {
        return Err(Error::BadHeader {
            header,
            what: "hdr magic: BAD".into(),
        });
    }
    let il = be32(intro, 8);
    let dl = be32(intro, 12);
    check_lengths(header, il, dl)?;
    Ok((il, dl))
}

const SIG: &str = "signature";
const MAIN: &str = "main";

/// Where the main header starts and where the payload starts, given a growing prefix of the file.
///
/// Validates the lead and both header intros on the way (magic numbers and librpm's size limits),
/// so a non-RPM or an absurd header is rejected before anything big is fetched. A caller reading
/// over HTTP fetches [`SPECULATIVE_READ`] bytes first; if the answer is `NeedBytes(n)` it fetches
/// the rest up to `n` (with a signature header larger than the speculative read, a third,
/// exact, read may follow).
pub fn header_extent(prefix: &[u8]) -> Result<Extent> {
    check_lead(prefix)?;
    let sig_intro_end = LEAD_LEN + INTRO_LEN;
    if (prefix.len() as u64) < sig_intro_end {
        return Ok(Extent::NeedBytes(sig_intro_end));
    }
    let (il, dl) = check_intro(SIG, &prefix[LEAD_LEN as usize..sig_intro_end as usize])?;
    let sig_size = 16 * u64::from(il) + u64::from(dl);
    let pad = (8 - sig_size % 8) % 8;
    let start = sig_intro_end + sig_size + pad;
    if (prefix.len() as u64) < start + INTRO_LEN {
        return Ok(Extent::NeedBytes(start + INTRO_LEN));
    }
    let s = start as usize;
    let (il2, dl2) = check_intro(MAIN, &prefix[s..s + INTRO_LEN as usize])?;
    let end = start + INTRO_LEN + 16 * u64::from(il2) + u64::from(dl2);
    if (prefix.len() as u64) < end {
        return Ok(Extent::NeedBytes(end));
    }
    Ok(Extent::Complete(HeaderRange { start, end }))
}

/// Decoded data of one header entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagData {
    /// [`ty::CHAR`] entries, one byte each.
    Char(Vec<u8>),
    /// [`ty::INT8`] entries.
    Int8(Vec<u8>),
    /// [`ty::INT16`] entries, decoded from big-endian.
    Int16(Vec<u16>),
    /// [`ty::INT32`] entries, decoded from big-endian.
    Int32(Vec<u32>),
    /// [`ty::INT64`] entries, decoded from big-endian.
    Int64(Vec<u64>),
    /// A single string, raw bytes without the terminating NUL.
    String(Vec<u8>),
    /// Opaque bytes ([`ty::BIN`]), e.g. a signature or an MD5 digest.
    Bin(Vec<u8>),
    /// Strings as raw bytes without their terminating NULs (not necessarily UTF-8).
    StringArray(Vec<Vec<u8>>),
    /// Translations; the first one is the C-locale text.
    I18nString(Vec<Vec<u8>>),
}

impl TagData {
    /// librpm `rpmTagType` code of this data.
    pub fn type_code(&self) -> u32 {
        match self {
            TagData::Char(_) => ty::CHAR,
            TagData::Int8(_) => ty::INT8,
            TagData::Int16(_) => ty::INT16,
            TagData::Int32(_) => ty::INT32,
            TagData::Int64(_) => ty::INT64,
            TagData::String(_) => ty::STRING,
            TagData::Bin(_) => ty::BIN,
            TagData::StringArray(_) => ty::STRING_ARRAY,
            TagData::I18nString(_) => ty::I18NSTRING,
        }
    }

    /// Number of items (librpm `count`; bytes for binary data).
    pub fn count(&self) -> usize {
        match self {
            TagData::Char(v) | TagData::Int8(v) | TagData::Bin(v) => v.len(),
            TagData::Int16(v) => v.len(),
            TagData::Int32(v) => v.len(),
            TagData::Int64(v) => v.len(),
            TagData::String(_) => 1,
            TagData::StringArray(v) | TagData::I18nString(v) => v.len(),
        }
    }
}

/// One decoded header (signature or main).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// Stably sorted by tag (index order among duplicates), like librpm's index; includes the
    /// region entry (tag 61–63, empty data).
    entries: Vec<(u32, TagData)>,
}

impl Header {
    /// librpm `findEntry`: glibc `bsearch` over the (stably) sorted index, so with a tag
    /// present more than once the same duplicate wins as in librpm.
    fn find(&self, tag: u32) -> Option<usize> {
        let (mut l, mut u) = (0usize, self.entries.len());
        while l < u {
            let idx = (l + u) / 2;
            match tag.cmp(&self.entries[idx].0) {
                std::cmp::Ordering::Less => u = idx,
                std::cmp::Ordering::Greater => l = idx + 1,
                std::cmp::Ordering::Equal => return Some(idx),
            }
        }
        None
    }

    /// The raw data of `tag`, if present.
    pub fn entry(&self, tag: u32) -> Option<&TagData> {
        self.find(tag).map(|i| &self.entries[i].1)
    }

    /// Is `tag` present?
    pub fn contains(&self, tag: u32) -> bool {
        self.find(tag).is_some()
    }

    /// All (tag, data) pairs, sorted by tag.
    pub fn entries(&self) -> impl Iterator<Item = (u32, &TagData)> {
        self.entries.iter().map(|(t, d)| (*t, d))
    }

    /// The strings of `tag` the way librpm hands them out (`headerGet` + `rpmtdNext`):
    /// a string is a one-element list, an I18N string gives its first (C-locale) text.
    pub fn strings(&self, tag: u32) -> Option<Vec<&[u8]>> {
        match self.entry(tag)? {
            TagData::String(s) => Some(vec![s.as_slice()]),
            TagData::StringArray(v) => Some(v.iter().map(Vec::as_slice).collect()),
            TagData::I18nString(v) => v.first().map(|s| vec![s.as_slice()]),
            _ => None,
        }
    }

    /// librpm `headerGetString`: the single string of `tag` (None when absent, not a string
    /// type, or an array of more than one element).
    pub fn string(&self, tag: u32) -> Option<&[u8]> {
        match self.entry(tag)? {
            TagData::String(s) => Some(s),
            TagData::StringArray(v) if v.len() == 1 => Some(&v[0]),
            TagData::I18nString(v) => v.first().map(Vec::as_slice),
            _ => None,
        }
    }

    /// The numbers of `tag` as librpm's `rpmtdGetNumber` reads them while iterating: unsigned,
    /// widened to 64 bits; non-numeric data reads as zeros.
    pub fn numbers(&self, tag: u32) -> Option<Vec<u64>> {
        Some(match self.entry(tag)? {
            TagData::Char(v) | TagData::Int8(v) => v.iter().map(|&x| u64::from(x)).collect(),
            TagData::Int16(v) => v.iter().map(|&x| u64::from(x)).collect(),
            TagData::Int32(v) => v.iter().map(|&x| u64::from(x)).collect(),
            TagData::Int64(v) => v.clone(),
            TagData::Bin(_) => vec![0],
            other => vec![0; other.count()],
        })
    }

    /// The first number of `tag` (librpm `headerGet` + `rpmtdGetNumber`).
    pub fn first_number(&self, tag: u32) -> Option<u64> {
        self.numbers(tag).and_then(|v| v.first().copied())
    }

    /// librpm `headerGetNumber`: the number of `tag` if it has exactly one element.
    pub fn number(&self, tag: u32) -> Option<u64> {
        let v = self.numbers(tag)?;
        (v.len() == 1).then(|| v[0])
    }

    /// Add an entry (librpm `headerPut` without append).
    fn add(&mut self, tag: u32, data: TagData) {
        let i = self.entries.partition_point(|(t, _)| *t <= tag);
        self.entries.insert(i, (tag, data));
    }

    /// Append to an array entry, or add it (librpm `headerPut*` with `HEADERPUT_APPEND`).
    fn append(&mut self, tag: u32, data: TagData) {
        if let Some(i) = self.find(tag) {
            match (&mut self.entries[i].1, data) {
                (TagData::StringArray(a), TagData::StringArray(b)) => a.extend(b),
                (TagData::Int32(a), TagData::Int32(b)) => a.extend(b),
                // librpm appends only to an entry of the same type, else adds a new one.
                (_, data) => self.add(tag, data),
            }
        } else {
            self.add(tag, data);
        }
    }

    fn remove(&mut self, tag: u32) {
        self.entries.retain(|(t, _)| *t != tag);
    }
}

fn tag_type(tag: u32) -> u32 {
    TAG_TYPES
        .binary_search_by_key(&tag, |&(t, _)| t)
        .map(|i| TAG_TYPES[i].1)
        .unwrap_or(ty::NULL)
}

fn is_string_class(t: u32) -> bool {
    matches!(t, ty::STRING | ty::STRING_ARRAY | ty::I18NSTRING)
}

/// librpm `hdrchkTagType`: does a known tag carry the wrong type?
fn wrong_tag_type(tag: u32, t: u32) -> bool {
    let known = tag_type(tag);
    !(known == t || known == ty::NULL || (is_string_class(known) && is_string_class(t)))
}

#[derive(Debug, Clone, Copy)]
struct RawEntry {
    tag: u32,
    ty: u32,
    offset: i32,
    count: u32,
}

fn raw_entry(index: &[u8], i: usize) -> RawEntry {
    let b = i * 16;
    RawEntry {
        tag: be32(index, b),
        ty: be32(index, b + 4),
        offset: be32(index, b + 8) as i32,
        count: be32(index, b + 12),
    }
}

/// librpm `strtaglen`: bytes of `count` NUL-terminated strings at `data[..]`, or None.
fn strtaglen(data: &[u8], count: u32) -> Option<usize> {
    let mut pos = 0usize;
    let mut left = count;
    while left > 0 {
        let nul = data.get(pos..)?.iter().position(|&b| b == 0)?;
        pos += nul + 1;
        left -= 1;
    }
    Some(pos)
}

/// librpm `dataLength` for on-disk data starting at `off` in `data`; None = -1.
fn data_length(t: u32, data: &[u8], off: usize, count: u32) -> Option<usize> {
    let tail = data.get(off..)?;
    match t {
        ty::STRING => {
            if count != 1 {
                return None;
            }
            strtaglen(tail, 1)
        }
        ty::STRING_ARRAY | ty::I18NSTRING => strtaglen(tail, count),
        _ => {
            let size = *TYPE_SIZES.get(t as usize)?;
            let len = u64::try_from(size).ok()? * u64::from(count);
            if len > tail.len() as u64 {
                return None;
            }
            Some(len as usize)
        }
    }
}

fn align_diff(t: u32, at: u64) -> u64 {
    let size = TYPE_SIZES[t as usize];
    if size > 1 {
        let size = size as u64;
        let diff = size - (at % size);
        if diff != size {
            return diff;
        }
    }
    0
}

fn bad(header: &'static str, what: impl Into<String>) -> Error {
    Error::BadHeader {
        header,
        what: what.into(),
    }
}

/// A header blob after librpm's checks: index entries, data store, region facts.
struct Blob<'a> {
    header: &'static str,
    /// Index and data, contiguous.
    store: &'a [u8],
    index: &'a [u8],
    data: &'a [u8],
    il: u32,
    /// Region tag found (0 = none).
    region_tag: u32,
    ril: u32,
    rdl: u32,
}

impl<'a> Blob<'a> {
    /// librpm `hdrblobInit` (+ `hdrblobVerifyRegion`, `hdrblobVerifyInfo`). `blob` starts at the
    /// index-length word (after the 8-byte magic) and is exactly `8 + 16·il + dl` long.
    fn init(
        header: &'static str,
        blob: &'a [u8],
        region_tag: u32,
        exact_size: bool,
    ) -> Result<Blob<'a>> {
        let il = be32(blob, 0);
        let dl = be32(blob, 4);
        check_lengths(header, il, dl)?;
        let index_end = 8 + 16 * il as usize;
        let mut b = Blob {
            header,
            store: &blob[8..],
            index: &blob[8..index_end],
            data: &blob[index_end..index_end + dl as usize],
            il,
            region_tag: 0,
            ril: 0,
            rdl: 0,
        };
        b.verify_region(region_tag, exact_size)?;
        b.verify_info()?;
        Ok(b)
    }

    fn dl(&self) -> u32 {
        self.data.len() as u32
    }

    fn verify_region(&mut self, region_tag: u32, exact_size: bool) -> Result<()> {
        let h = self.header;
        if self.il < 1 {
            return Err(bad(h, "region: no tags"));
        }
        let first = raw_entry(self.index, 0);
        if first.tag != region_tag {
            return Ok(()); // no region: a legacy header
        }
        if !(first.ty == ty::BIN && first.count == 16) {
            return Err(bad(
                h,
                format!(
                    "region tag: BAD, tag {} type {} offset {} count {}",
                    first.tag, first.ty, first.offset, first.count
                ),
            ));
        }
        let dl = i64::from(self.dl());
        let trailer_end = i64::from(first.offset) + 16;
        if trailer_end < 0 || trailer_end > dl {
            return Err(bad(
                h,
                format!(
                    "region offset: BAD, tag {} type {} offset {} count {}",
                    first.tag, first.ty, first.offset, first.count
                ),
            ));
        }
        // librpm reads the trailer at dataStart + offset even for an offset in -16..0, i.e.
        // from the end of the index, which directly precedes the data.
        let at = (self.index.len() as i64 + i64::from(first.offset)) as usize;
        let mut trailer = raw_entry(&self.store[at..at + 16], 0);
        let rdl = trailer_end;
        let neg_offset = -i64::from(trailer.offset);
        if region_tag == HEADERSIGNATURES && trailer.tag == HEADERIMAGE {
            trailer.tag = HEADERSIGNATURES;
        }
        if !(trailer.tag == region_tag && trailer.ty == ty::BIN && trailer.count == 16) {
            return Err(bad(
                h,
                format!(
                    "region trailer: BAD, tag {} type {} offset {} count {}",
                    trailer.tag, trailer.ty, neg_offset, trailer.count
                ),
            ));
        }
        let ril = neg_offset / 16;
        if neg_offset % 16 != 0 || ril < 0 || ril > i64::from(self.il) || rdl > dl {
            return Err(bad(
                h,
                format!(
                    "region {region_tag} size: BAD, ril {ril} il {} rdl {rdl} dl {dl}",
                    self.il
                ),
            ));
        }
        if exact_size && !(i64::from(self.il) == ril && dl == rdl) {
            return Err(bad(
                h,
                format!(
                    "region {region_tag}: tag number mismatch il {} ril {ril} dl {dl} rdl {rdl}",
                    self.il
                ),
            ));
        }
        self.region_tag = region_tag;
        self.ril = ril as u32;
        self.rdl = rdl as u32;
        Ok(())
    }

    fn verify_info(&self) -> Result<()> {
        let dl = i64::from(self.dl());
        let skip = usize::from(self.region_tag != 0);
        let typechk = self.region_tag == HEADERIMMUTABLE || self.region_tag == HEADERIMAGE;
        let mut end: i64 = 0;
        for i in skip..self.il as usize {
            let e = raw_entry(self.index, i);
            let fail = |len: i64| {
                bad(
                    self.header,
                    format!(
                        "tag[{}]: BAD, tag {} type {} offset {} count {} len {len}",
                        i - skip,
                        e.tag,
                        e.ty,
                        e.offset,
                        e.count
                    ),
                )
            };
            let off = i64::from(e.offset);
            if end > off
                || (e.tag as i32) < HEADERI18NTABLE as i32
                || e.ty > ty::I18NSTRING
                || e.count < 1
                || i64::from(e.count) > dl
                || (e.offset as u32) & (TYPE_ALIGN[e.ty as usize] - 1) != 0
                || off < 0
                || off > dl
                || (e.ty != ty::BIN && e.count & !HEADER_ARRAY_MAX != 0)
                || (typechk && wrong_tag_type(e.tag, e.ty))
            {
                return Err(fail(0));
            }
            let len = data_length(e.ty, self.data, off as usize, e.count).map_or(-1, |l| l as i64);
            end = off + len;
            if end > dl || len <= 0 {
                return Err(fail(len));
            }
            if self.region_tag != 0 && end > i64::from(self.rdl) - 16 && off < i64::from(self.rdl) {
                return Err(fail(len));
            }
        }
        Ok(())
    }

    /// librpm `regionSwab` over entries `from..to`, starting the running data length at `dl`;
    /// returns the new running length.
    fn region_swab(&self, from: usize, to: usize, mut dl: u64) -> Result<u64> {
        for i in from..to {
            let e = raw_entry(self.index, i);
            let load_bad = || bad(self.header, "hdr load: BAD");
            if e.ty > ty::I18NSTRING
                || e.count & !HDR_DATA_MAX != 0
                || (e.offset as u32) & !HDR_DATA_MAX != 0
                || (e.offset as u32) & (TYPE_ALIGN[e.ty as usize] - 1) != 0
                || e.offset as u32 >= self.dl()
            {
                return Err(load_bad());
            }
            let len =
                data_length(e.ty, self.data, e.offset as usize, e.count).ok_or_else(load_bad)?;
            dl += align_diff(e.ty, dl);
            dl += len as u64;
        }
        Ok(dl)
    }

    /// librpm `hdrblobImport`: layout consistency, dribble handling, then decoded entries.
    fn import(&self) -> Result<(Header, bool)> {
        let first = raw_entry(self.index, 0);
        let mut indices: Vec<usize>;
        let has_immutable;
        if first.tag >= HEADERI18NTABLE {
            // An original v3 header without any region.
            let rdlen = self.region_swab(0, self.il as usize, 0)?;
            if rdlen != u64::from(self.dl()) {
                return Err(bad(self.header, "hdr load: BAD"));
            }
            indices = (0..self.il as usize).collect();
            has_immutable = false;
        } else {
            let ril = if first.offset != 0 { self.ril } else { self.il } as usize;
            let mut rdlen = self.region_swab(1, ril.max(1), 0)?;
            indices = (1..ril.max(1)).collect();
            if ril < self.il as usize {
                rdlen = self.region_swab(ril, self.il as usize, rdlen)?;
                // Dribble entries replace region entries with the same tag.
                for j in ril..self.il as usize {
                    let t = raw_entry(self.index, j).tag;
                    indices.retain(|&k| {
                        let kt = raw_entry(self.index, k).tag;
                        kt != t && !(t == tag::BASENAMES && kt == tag::OLDFILENAMES)
                    });
                }
                indices.extend(ril..self.il as usize);
            }
            if rdlen + 16 != u64::from(self.dl()) {
                return Err(bad(self.header, "hdr load: BAD"));
            }
            has_immutable = first.tag == HEADERIMMUTABLE;
        }
        let mut entries = Vec::with_capacity(indices.len() + 1);
        // The region entry stays in the index (librpm synthesizes HEADERIMAGE for a v3
        // header): lookups binary-search the whole index, so its size matters with duplicates.
        let region = if has_immutable || first.tag < HEADERI18NTABLE {
            first.tag
        } else {
            HEADERIMAGE
        };
        entries.push((region, TagData::Bin(Vec::new())));
        for i in indices {
            let e = raw_entry(self.index, i);
            entries.push((e.tag, self.decode(e)?));
        }
        entries.sort_by_key(|(t, _)| *t);
        Ok((Header { entries }, has_immutable))
    }

    fn decode(&self, e: RawEntry) -> Result<TagData> {
        let off = e.offset as usize;
        let len = data_length(e.ty, self.data, off, e.count)
            .ok_or_else(|| bad(self.header, "hdr load: BAD"))?;
        let raw = &self.data[off..off + len];
        let n = e.count as usize;
        Ok(match e.ty {
            ty::CHAR => TagData::Char(raw.to_vec()),
            ty::INT8 => TagData::Int8(raw.to_vec()),
            ty::INT16 => TagData::Int16(
                raw.chunks_exact(2)
                    .take(n)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect(),
            ),
            ty::INT32 => TagData::Int32(
                raw.chunks_exact(4)
                    .take(n)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            ty::INT64 => TagData::Int64(
                raw.chunks_exact(8)
                    .take(n)
                    .map(|c| u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect(),
            ),
            ty::STRING => TagData::String(raw[..len.saturating_sub(1)].to_vec()),
            ty::BIN => TagData::Bin(raw.to_vec()),
            ty::STRING_ARRAY | ty::I18NSTRING => {
                let v: Vec<Vec<u8>> = raw[..len - 1]
                    .split(|&b| b == 0)
                    .map(<[u8]>::to_vec)
                    .collect();
                if e.ty == ty::STRING_ARRAY {
                    TagData::StringArray(v)
                } else {
                    TagData::I18nString(v)
                }
            }
            _ => return Err(bad(self.header, "hdr load: BAD")),
        })
    }
}

/// The signature header and the main header of one package, decoded and validated, with the
/// signature tags librpm copies into the main header already merged and librpm's retrofits for
/// old packages applied (so [`RpmHeaders::main`] is what `rpmReadPackageFile` returns).
#[derive(Debug, Clone)]
pub struct RpmHeaders {
    signature: Header,
    main: Header,
    range: HeaderRange,
    lead_major: u8,
}

/// librpm `xlateTags`: (signature tag, main tag, required count or 0, "may be in either").
const XLATE: &[(u32, u32, usize, bool)] = &[
    (sigtag::SIZE, 257, 1, false),
    (sigtag::PGP, 259, 0, false),
    (sigtag::MD5, 261, 16, false),
    (sigtag::GPG, 262, 0, false),
    (sigtag::PAYLOADSIZE, tag::ARCHIVESIZE, 1, true),
    (sigtag::FILESIGNATURES, 5090, 0, true),
    (sigtag::FILESIGNATURELENGTH, 5091, 1, true),
    (sigtag::VERITYSIGNATURES, 276, 0, false),
    (sigtag::VERITYSIGNATUREALGO, 277, 1, false),
    (sigtag::SHA1, 269, 1, false),
    (sigtag::SHA256, 273, 1, false),
    (sigtag::DSA, 267, 0, false),
    (sigtag::RSA, 268, 0, false),
    (sigtag::LONGSIZE, 270, 1, false),
    (sigtag::LONGARCHIVESIZE, tag::LONGARCHIVESIZE, 1, false),
];

impl RpmHeaders {
    /// Parse the lead, the signature header and the main header from `bytes`, which must hold at
    /// least the first `end` bytes of the file (see [`header_extent`]); bytes past that are
    /// ignored.
    pub fn parse(bytes: &[u8]) -> Result<RpmHeaders> {
        let range = match header_extent(bytes)? {
            Extent::Complete(r) => r,
            Extent::NeedBytes(n) => {
                return Err(Error::Truncated {
                    needed: n,
                    got: bytes.len() as u64,
                })
            }
        };
        let sig_start = LEAD_LEN as usize + 8;
        let sig_il = be32(bytes, sig_start) as usize;
        let sig_dl = be32(bytes, sig_start + 4) as usize;
        let sig_blob = &bytes[sig_start..sig_start + 8 + 16 * sig_il + sig_dl];
        let main_blob = &bytes[range.start as usize + 8..range.end as usize];

        let sig = Blob::init(SIG, sig_blob, HEADERSIGNATURES, false)?;
        let main = Blob::init(MAIN, main_blob, HEADERIMMUTABLE, true)?;
        let (signature, _) = sig.import()?;
        let (mut main, has_immutable) = main.import()?;
        merge_legacy_sigs(&mut main, &signature)?;
        apply_retrofits(&mut main, has_immutable);
        Ok(RpmHeaders {
            signature,
            main,
            range,
            lead_major: bytes[4],
        })
    }

    /// The signature header as stored.
    pub fn signature(&self) -> &Header {
        &self.signature
    }

    /// The main header as librpm presents it (signature tags merged, retrofits applied).
    pub fn main(&self) -> &Header {
        &self.main
    }

    /// createrepo_c's `rpm:header-range`.
    pub fn range(&self) -> HeaderRange {
        self.range
    }

    /// Major version in the lead: 3 for v4 packages, 4 for v6 packages.
    pub fn lead_major(&self) -> u8 {
        self.lead_major
    }
}

/// librpm `headerMergeLegacySigs`.
fn merge_legacy_sigs(main: &mut Header, sig: &Header) -> Result<()> {
    for &(stag, xtag, _, quirk) in XLATE {
        if main.contains(xtag) {
            if quirk && !sig.contains(stag) {
                continue;
            }
            return Err(Error::BadSignatureTag { tag: xtag });
        }
    }
    for &(stag, xtag, count, _) in XLATE {
        let Some(data) = sig.entry(stag) else {
            continue;
        };
        let n = data.count();
        if data.type_code() != tag_type(xtag)
            || !(1..=16 * 1024 * 1024).contains(&n)
            || (count != 0 && n != count)
        {
            return Err(Error::BadSignatureTag { tag: xtag });
        }
        main.add(xtag, data.clone());
    }
    Ok(())
}

/// librpm 4.18 `applyRetrofits`.
fn apply_retrofits(h: &mut Header, has_immutable: bool) {
    if !h.contains(tag::SOURCERPM) && !h.contains(tag::SOURCEPACKAGE) {
        if h.contains(tag::OLDFILENAMES) {
            compress_filelist(h);
        }
        if is_source_heuristic(h) {
            h.add(tag::SOURCEPACKAGE, TagData::Int32(vec![1]));
        } else {
            h.add(tag::SOURCERPM, TagData::String(b"(none)".to_vec()));
        }
    }
    if !has_immutable {
        compress_filelist(h);
        if h.contains(tag::SOURCERPM) {
            provide_package_nvr(h);
        }
    } else if h.contains(tag::OLDFILENAMES) {
        compress_filelist(h);
    }
}

/// librpm `headerIsSourceHeuristic`.
fn is_source_heuristic(h: &Header) -> bool {
    matches!(h.entry(tag::DIRNAMES), Some(TagData::StringArray(v)) if v.len() == 1 && v[0].is_empty())
}

/// glibc `bsearch` over `dirs` (assumed sorted; librpm's list is not always, and the result
/// must match what librpm computes either way).
fn bsearch(dirs: &[Vec<u8>], key: &[u8]) -> Option<usize> {
    let (mut l, mut u) = (0usize, dirs.len());
    while l < u {
        let idx = (l + u) / 2;
        match key.cmp(&dirs[idx]) {
            std::cmp::Ordering::Less => u = idx,
            std::cmp::Ordering::Greater => l = idx + 1,
            std::cmp::Ordering::Equal => return Some(idx),
        }
    }
    None
}

/// librpm `compressFilelist`: OLDFILENAMES → DIRNAMES/BASENAMES/DIRINDEXES.
fn compress_filelist(h: &mut Header) {
    if h.contains(tag::DIRNAMES) {
        h.remove(tag::OLDFILENAMES);
        return;
    }
    let Some(names) = h.strings(tag::OLDFILENAMES) else {
        return;
    };
    if names.is_empty() {
        return;
    }
    let names: Vec<Vec<u8>> = names.into_iter().map(<[u8]>::to_vec).collect();
    let mut dirs: Vec<Vec<u8>> = Vec::new();
    let mut bases = Vec::with_capacity(names.len());
    let mut idx = Vec::with_capacity(names.len());
    if names[0].first() != Some(&b'/') {
        dirs.push(Vec::new());
        for n in &names {
            idx.push(0u32);
            bases.push(n.clone());
        }
    } else {
        for n in &names {
            let cut = n.iter().rposition(|&b| b == b'/').map_or(0, |p| p + 1);
            let (dir, base) = n.split_at(cut);
            // C strings: a dir part stops at an embedded NUL, which cannot occur here.
            match (!dirs.is_empty()).then(|| bsearch(&dirs, dir)).flatten() {
                Some(i) => idx.push(i as u32),
                None => {
                    dirs.push(dir.to_vec());
                    idx.push((dirs.len() - 1) as u32);
                }
            }
            bases.push(base.to_vec());
        }
    }
    h.append(tag::DIRINDEXES, TagData::Int32(idx));
    h.append(tag::BASENAMES, TagData::StringArray(bases));
    h.append(tag::DIRNAMES, TagData::StringArray(dirs));
    h.remove(tag::OLDFILENAMES);
}

/// librpm `providePackageNVR`: pre-3.0.4 packages implicitly provided name = EVR.
fn provide_package_nvr(h: &mut Header) {
    let Some(name) = h.string(tag::NAME).map(<[u8]>::to_vec) else {
        return;
    };
    let mut evr = Vec::new();
    if let Some(e) = h.number(tag::EPOCH) {
        evr.extend_from_slice(format!("{e}:").as_bytes());
    }
    if let Some(v) = h.string(tag::VERSION) {
        evr.extend_from_slice(v);
        evr.push(b'-');
    }
    if let Some(r) = h.string(tag::RELEASE) {
        evr.extend_from_slice(r);
    }
    const EQUAL: u32 = 8;
    let mut bingo = true;
    if let Some(pnames) = h.strings(tag::PROVIDENAME) {
        let pnames: Vec<Vec<u8>> = pnames.into_iter().map(<[u8]>::to_vec).collect();
        if !h.contains(tag::PROVIDEVERSION) {
            let n = pnames.len();
            h.append(
                tag::PROVIDEVERSION,
                TagData::StringArray(vec![Vec::new(); n]),
            );
            h.append(tag::PROVIDEFLAGS, TagData::Int32(vec![0; n]));
        } else {
            // rpmdsFind: a binary search over the provides as stored.
            let versions = h.strings(tag::PROVIDEVERSION).unwrap_or_default();
            let flags = h.numbers(tag::PROVIDEFLAGS).unwrap_or_default();
            let (mut l, mut u) = (0usize, pnames.len());
            while l < u {
                let i = (l + u) / 2;
                let mut c = name.as_slice().cmp(&pnames[i]);
                if c.is_eq() {
                    if let Some(v) = versions.get(i) {
                        c = evr.as_slice().cmp(v);
                    }
                }
                if c.is_eq() {
                    let f = flags.get(i).copied().unwrap_or(0) as u32;
                    c = (EQUAL as i32).wrapping_sub(f as i32).cmp(&0);
                }
                match c {
                    std::cmp::Ordering::Less => u = i,
                    std::cmp::Ordering::Greater => l = i + 1,
                    std::cmp::Ordering::Equal => {
                        bingo = false;
                        break;
                    }
                }
            }
        }
    }
    if bingo {
        h.append(tag::PROVIDENAME, TagData::StringArray(vec![name]));
        h.append(tag::PROVIDEVERSION, TagData::StringArray(vec![evr]));
        h.append(tag::PROVIDEFLAGS, TagData::Int32(vec![EQUAL]));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds header blobs for tests: entries are laid out in order with librpm's alignment.
    #[derive(Clone)]
    pub(crate) struct HeaderBuilder {
        entries: Vec<(u32, u32, u32, Vec<u8>)>,
    }

    impl HeaderBuilder {
        pub(crate) fn new() -> Self {
            HeaderBuilder {
                entries: Vec::new(),
            }
        }
        pub(crate) fn raw(mut self, tag: u32, t: u32, count: u32, data: Vec<u8>) -> Self {
            self.entries.push((tag, t, count, data));
            self
        }
        pub(crate) fn string(self, tag: u32, s: &[u8]) -> Self {
            let mut d = s.to_vec();
            d.push(0);
            self.raw(tag, ty::STRING, 1, d)
        }
        pub(crate) fn i18n(self, tag: u32, s: &[u8]) -> Self {
            let mut d = s.to_vec();
            d.push(0);
            self.raw(tag, ty::I18NSTRING, 1, d)
        }
        pub(crate) fn strings(self, tag: u32, v: &[&[u8]]) -> Self {
            let mut d = Vec::new();
            for s in v {
                d.extend_from_slice(s);
                d.push(0);
            }
            self.raw(tag, ty::STRING_ARRAY, v.len() as u32, d)
        }
        pub(crate) fn int32(self, tag: u32, v: &[u32]) -> Self {
            let d = v.iter().flat_map(|x| x.to_be_bytes()).collect();
            self.raw(tag, ty::INT32, v.len() as u32, d)
        }
        pub(crate) fn int16(self, tag: u32, v: &[u16]) -> Self {
            let d = v.iter().flat_map(|x| x.to_be_bytes()).collect();
            self.raw(tag, ty::INT16, v.len() as u32, d)
        }
        pub(crate) fn int64(self, tag: u32, v: &[u64]) -> Self {
            let d = v.iter().flat_map(|x| x.to_be_bytes()).collect();
            self.raw(tag, ty::INT64, v.len() as u32, d)
        }

        /// Header bytes (magic, il, dl, index, data) with a region tag `region` (0 = none).
        pub(crate) fn build(mut self, region: u32) -> Vec<u8> {
            self.entries.sort_by_key(|e| e.0);
            let mut data = Vec::new();
            let mut index = Vec::new();
            for (t, ty_, count, d) in &self.entries {
                let a = TYPE_ALIGN[*ty_ as usize] as usize;
                while data.len() % a != 0 {
                    data.push(0);
                }
                index.push((*t, *ty_, data.len() as u32, *count));
                data.extend_from_slice(d);
            }
            let mut il = index.len() as u32;
            if region != 0 {
                let n = il + 1;
                let off = data.len() as u32;
                data.extend_from_slice(&region.to_be_bytes());
                data.extend_from_slice(&ty::BIN.to_be_bytes());
                data.extend_from_slice(&(-(16 * n as i32)).to_be_bytes());
                data.extend_from_slice(&16u32.to_be_bytes());
                index.insert(0, (region, ty::BIN, off, 16));
                il = n;
            }
            let mut out = HEADER_MAGIC.to_vec();
            out.extend_from_slice(&il.to_be_bytes());
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            for (t, ty_, off, count) in index {
                for x in [t, ty_, off, count] {
                    out.extend_from_slice(&x.to_be_bytes());
                }
            }
            out.extend_from_slice(&data);
            out
        }
    }

    pub(crate) fn lead() -> Vec<u8> {
        let mut l = vec![0u8; 96];
        l[..4].copy_from_slice(&LEAD_MAGIC);
        l[4] = 3;
        l[78..80].copy_from_slice(&5u16.to_be_bytes());
        l
    }

    /// A whole package prefix: lead, signature (with padding), main header.
    pub(crate) fn package(sig: HeaderBuilder, main: HeaderBuilder) -> Vec<u8> {
        let mut out = lead();
        let s = sig.build(HEADERSIGNATURES);
        out.extend_from_slice(&s);
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        out.extend_from_slice(&main.build(HEADERIMMUTABLE));
        out
    }

    pub(crate) fn minimal_main() -> HeaderBuilder {
        HeaderBuilder::new()
            .string(tag::NAME, b"foo")
            .string(tag::VERSION, b"1.0")
            .string(tag::RELEASE, b"1")
            .string(tag::ARCH, b"x86_64")
            .string(tag::SOURCERPM, b"foo-1.0-1.src.rpm")
    }

    fn minimal_sig() -> HeaderBuilder {
        HeaderBuilder::new()
            .int32(sigtag::SIZE, &[1234])
            .int32(sigtag::PAYLOADSIZE, &[999])
    }

    #[test]
    fn extent_grows_in_steps() {
        let pkg = package(minimal_sig(), minimal_main());
        assert_eq!(header_extent(&pkg[..10]).unwrap(), Extent::NeedBytes(112));
        let Extent::NeedBytes(n) = header_extent(&pkg[..112]).unwrap() else {
            panic!()
        };
        let Extent::NeedBytes(e) = header_extent(&pkg[..n as usize]).unwrap() else {
            panic!()
        };
        assert_eq!(e as usize, pkg.len());
        let Extent::Complete(r) = header_extent(&pkg).unwrap() else {
            panic!()
        };
        assert_eq!(r.start, n - 16);
        assert_eq!(r.end as usize, pkg.len());
        assert_eq!(r.start % 8, 0);
    }

    #[test]
    fn parses_and_merges_archive_size() {
        let pkg = package(minimal_sig(), minimal_main());
        let h = RpmHeaders::parse(&pkg).unwrap();
        assert_eq!(h.main().string(tag::NAME), Some(&b"foo"[..]));
        assert_eq!(h.main().number(tag::ARCHIVESIZE), Some(999));
        assert_eq!(h.main().number(257), Some(1234));
        assert_eq!(h.signature().number(sigtag::SIZE), Some(1234));
    }

    #[test]
    fn rejects_non_rpm_and_bad_lead() {
        assert!(matches!(
            header_extent(b"hello world"),
            Err(Error::NotAnRpm)
        ));
        let mut l = lead();
        l[4] = 9;
        assert!(matches!(header_extent(&l), Err(Error::BadLead { .. })));
        let mut l = lead();
        l[79] = 1;
        assert!(matches!(header_extent(&l), Err(Error::BadLead { .. })));
    }

    #[test]
    fn rejects_huge_counts_before_reading() {
        let mut pkg = package(minimal_sig(), minimal_main());
        pkg[104..108].copy_from_slice(&33u32.to_be_bytes());
        assert!(matches!(
            header_extent(&pkg),
            Err(Error::TooLarge {
                what: "number of tags",
                ..
            })
        ));
        let mut pkg = package(minimal_sig(), minimal_main());
        pkg[108..112].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            header_extent(&pkg),
            Err(Error::TooLarge {
                what: "data length",
                ..
            })
        ));
        let mut pkg = package(minimal_sig(), minimal_main());
        let Extent::Complete(r) = header_extent(&pkg).unwrap() else {
            panic!()
        };
        let s = r.start as usize;
        pkg[s + 8..s + 12].copy_from_slice(&70000u32.to_be_bytes());
        assert!(matches!(
            header_extent(&pkg),
            Err(Error::TooLarge { header: "main", .. })
        ));
        pkg[s + 8..s + 12].copy_from_slice(&65535u32.to_be_bytes());
        pkg[s + 12..s + 16].copy_from_slice(&0x0fff_ffffu32.to_be_bytes());
        // Within librpm's per-field limits but the whole blob reaches 256 MiB.
        assert!(matches!(
            header_extent(&pkg),
            Err(Error::TooLarge {
                what: "header blob size",
                ..
            })
        ));
    }

    #[test]
    fn truncated_prefix_is_an_error_from_parse() {
        let pkg = package(minimal_sig(), minimal_main());
        for cut in [0, 50, 111, 120, pkg.len() - 1] {
            let e = RpmHeaders::parse(&pkg[..cut]).unwrap_err();
            assert!(
                matches!(e, Error::Truncated { .. } | Error::NotAnRpm),
                "{cut}: {e}"
            );
        }
    }

    fn main_with(entries: impl FnOnce(HeaderBuilder) -> HeaderBuilder) -> Result<RpmHeaders> {
        RpmHeaders::parse(&package(minimal_sig(), entries(minimal_main())))
    }

    #[test]
    fn rejects_wrong_type_for_known_tag() {
        // FILEDEVICES (1095) is INT32 in librpm; an INT64 entry makes the header bad.
        let e = main_with(|b| b.int64(1095, &[1])).unwrap_err();
        assert!(e.to_string().contains("tag 1095 type 5"), "{e}");
        // String-class tags may disagree harmlessly.
        let h = main_with(|b| b.i18n(tag::LICENSE, b"MIT")).unwrap();
        assert_eq!(h.main().string(tag::LICENSE), Some(&b"MIT"[..]));
        // Unknown tags pass.
        assert!(main_with(|b| b.int64(999_999, &[1])).is_ok());
    }

    #[test]
    fn rejects_zero_count_and_offsets_past_end() {
        let e = main_with(|b| b.raw(1028, ty::INT32, 0, vec![])).unwrap_err();
        assert!(e.to_string().contains("count 0"), "{e}");

        let mut pkg = package(minimal_sig(), minimal_main());
        let Extent::Complete(r) = header_extent(&pkg).unwrap() else {
            panic!()
        };
        // Second index entry (NAME): point its offset far past the data.
        let at = r.start as usize + 16 + 16 + 8;
        pkg[at..at + 4].copy_from_slice(&0x7fff_0000u32.to_be_bytes());
        assert!(matches!(
            RpmHeaders::parse(&pkg),
            Err(Error::BadHeader { .. })
        ));
        // Negative offset.
        pkg[at..at + 4].copy_from_slice(&(-8i32).to_be_bytes());
        assert!(matches!(
            RpmHeaders::parse(&pkg),
            Err(Error::BadHeader { .. })
        ));
    }

    #[test]
    fn rejects_huge_array_counts() {
        let e =
            main_with(|b| b.raw(tag::FILEFLAGS, ty::INT32, 0x0010_0000, vec![0; 16])).unwrap_err();
        assert!(matches!(e, Error::BadHeader { .. }), "{e}");
        let e = main_with(|b| b.raw(tag::BASENAMES, ty::STRING_ARRAY, 5, b"a\0b\0".to_vec()))
            .unwrap_err();
        assert!(matches!(e, Error::BadHeader { .. }), "{e}");
    }

    #[test]
    fn rejects_signature_tag_clash() {
        // ARCHIVESIZE in both headers: librpm refuses the package.
        let e = main_with(|b| b.int32(tag::ARCHIVESIZE, &[1])).unwrap_err();
        assert!(matches!(e, Error::BadSignatureTag { tag: 1046 }), "{e}");
        // Only in the main header (old packages): fine.
        let pkg = package(
            HeaderBuilder::new().int32(sigtag::SIZE, &[1]),
            minimal_main().int32(tag::ARCHIVESIZE, &[7]),
        );
        assert_eq!(
            RpmHeaders::parse(&pkg)
                .unwrap()
                .main()
                .number(tag::ARCHIVESIZE),
            Some(7)
        );
        // Wrong type in the signature.
        let pkg = package(
            HeaderBuilder::new().int64(sigtag::PAYLOADSIZE, &[1]),
            minimal_main(),
        );
        assert!(matches!(
            RpmHeaders::parse(&pkg),
            Err(Error::BadSignatureTag { tag: 1046 })
        ));
    }

    #[test]
    fn retrofits_source_and_binary() {
        let src = HeaderBuilder::new()
            .string(tag::NAME, b"s")
            .strings(tag::DIRNAMES, &[b""]);
        let h = RpmHeaders::parse(&package(minimal_sig(), src)).unwrap();
        assert_eq!(h.main().number(tag::SOURCEPACKAGE), Some(1));
        let bin = HeaderBuilder::new()
            .string(tag::NAME, b"b")
            .strings(tag::DIRNAMES, &[b"/usr/"]);
        let h = RpmHeaders::parse(&package(minimal_sig(), bin)).unwrap();
        assert_eq!(h.main().string(tag::SOURCERPM), Some(&b"(none)"[..]));
    }

    #[test]
    fn legacy_header_gets_compressed_filelist_and_self_provide() {
        let main = HeaderBuilder::new()
            .string(tag::NAME, b"old")
            .string(tag::VERSION, b"1")
            .string(tag::RELEASE, b"2")
            .string(tag::SOURCERPM, b"old-1-2.src.rpm")
            .strings(
                tag::OLDFILENAMES,
                &[b"/usr/bin/a", b"/usr/bin/b", b"/etc/c"],
            );
        let mut pkg = lead();
        pkg.extend_from_slice(&minimal_sig().build(HEADERSIGNATURES));
        while !pkg.len().is_multiple_of(8) {
            pkg.push(0);
        }
        pkg.extend_from_slice(&main.build(0));
        let h = RpmHeaders::parse(&pkg).unwrap();
        let m = h.main();
        assert_eq!(
            m.strings(tag::DIRNAMES).unwrap(),
            vec![&b"/usr/bin/"[..], b"/etc/"]
        );
        assert_eq!(
            m.strings(tag::BASENAMES).unwrap(),
            vec![&b"a"[..], b"b", b"c"]
        );
        assert_eq!(m.numbers(tag::DIRINDEXES).unwrap(), vec![0, 0, 1]);
        assert!(!m.contains(tag::OLDFILENAMES));
        assert_eq!(m.strings(tag::PROVIDENAME).unwrap(), vec![&b"old"[..]]);
        assert_eq!(m.strings(tag::PROVIDEVERSION).unwrap(), vec![&b"1-2"[..]]);
        assert_eq!(m.numbers(tag::PROVIDEFLAGS).unwrap(), vec![8]);
    }

    #[test]
    fn region_trailer_must_match() {
        let mut pkg = package(minimal_sig(), minimal_main());
        let Extent::Complete(r) = header_extent(&pkg).unwrap() else {
            panic!()
        };
        // The trailer is the last 16 bytes of the main data; break its tag.
        let t = r.end as usize - 16;
        pkg[t..t + 4].copy_from_slice(&99u32.to_be_bytes());
        let e = RpmHeaders::parse(&pkg).unwrap_err();
        assert!(e.to_string().contains("region trailer"), "{e}");
    }

    #[test]
    fn region_offset_just_before_data_does_not_panic() {
        for off in [-16i32, -15, -1] {
            let mut pkg = package(minimal_sig(), minimal_main());
            let Extent::Complete(r) = header_extent(&pkg).unwrap() else {
                panic!()
            };
            // The region entry's offset (first index entry of the main header).
            let at = r.start as usize + 16 + 8;
            pkg[at..at + 4].copy_from_slice(&off.to_be_bytes());
            assert!(RpmHeaders::parse(&pkg).is_err(), "offset {off}");
        }
    }

    #[test]
    fn data_with_gaps_fails_layout_check() {
        let mut pkg = package(minimal_sig(), minimal_main());
        let Extent::Complete(r) = header_extent(&pkg).unwrap() else {
            panic!()
        };
        // Grow dl by 8 bytes without using them: librpm's "hdr load: BAD".
        let s = r.start as usize;
        let dl = be32(&pkg, s + 12) + 8;
        pkg[s + 12..s + 16].copy_from_slice(&dl.to_be_bytes());
        pkg.extend_from_slice(&[0; 8]);
        let e = RpmHeaders::parse(&pkg).unwrap_err();
        assert!(matches!(e, Error::BadHeader { .. }), "{e}");
    }
}

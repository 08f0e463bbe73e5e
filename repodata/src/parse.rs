//! Decoded headers → [`Package`], following createrepo_c 0.17.3 `cr_package_from_header`
//! (`docs/REPODATA-SPEC.md` §2, §3, §7.1, §7.3).
//!
//! All rules work on the raw header bytes; strings become UTF-8 only at the end, with
//! createrepo_c's latin-1 fallback, after the forbidden-control-character check.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::header::{tag, Header, RpmHeaders};
use crate::package::{
    is_primary_file, Changelog, DepFlag, Dependency, FileKind, Package, PackageFile,
};
use crate::reader::{read_package, Hashing};

/// What createrepo_c learns about the file itself (not from the header).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileInfo {
    /// Path relative to the repository root.
    pub location_href: String,
    /// `xml:base`; empty for none. A value starting with `/` gets `file://` in the XML.
    pub location_base: String,
    /// Size of the whole .rpm file.
    pub size: u64,
    /// Modification time of the file, seconds since the epoch.
    pub mtime: i64,
    /// Name of the checksum algorithm of `pkgid`, e.g. `sha256`.
    pub checksum_type: String,
    /// Hex digest of the whole file.
    pub pkgid: String,
}

/// Knobs of the record building.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// How many changelog entries to keep (newest first): -1 = all, 0 = none; values below -1
    /// mean the default, 10 (createrepo_c `--changelog-limit`).
    pub changelog_limit: i32,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            changelog_limit: 10,
        }
    }
}

impl ParseOptions {
    /// Set the changelog limit.
    pub fn with_changelog_limit(mut self, limit: i32) -> Self {
        self.changelog_limit = limit;
        self
    }
}

// Dependency flag bits (rpm `rpmsenseFlags`).
const SENSE_POSTTRANS: u64 = 1 << 5;
const SENSE_PREREQ: u64 = 1 << 6;
const SENSE_PRETRANS: u64 = 1 << 7;
const SENSE_SCRIPT_PRE: u64 = 1 << 9;
const SENSE_SCRIPT_POST: u64 = 1 << 10;
const SENSE_MISSINGOK: u64 = 1 << 19;
const SENSE_STRONG: u64 = 1 << 27;
const FILE_GHOST: u64 = 1 << 6;

// createrepo_c 0.17.3 sets pre only for these; 1.1.1+ adds PRETRANS and POSTTRANS.
const PRE_BITS: u64 = SENSE_PREREQ | SENSE_SCRIPT_PRE | SENSE_SCRIPT_POST;
const _: u64 = SENSE_PRETRANS | SENSE_POSTTRANS;

/// createrepo_c `cr_flag_to_str`: only the low four bits count.
pub fn flag_from_bits(flags: u64) -> Option<DepFlag> {
    match flags & 0xf {
        2 => Some(DepFlag::Lt),
        4 => Some(DepFlag::Gt),
        8 => Some(DepFlag::Eq),
        10 => Some(DepFlag::Le),
        12 => Some(DepFlag::Ge),
        _ => None,
    }
}

/// Result of createrepo_c `cr_str_to_evr` on raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawEvr {
    /// Text before the first `:` (`"0"` when there is none or it is empty); `None` for an
    /// empty or absent string.
    pub epoch: Option<Vec<u8>>,
    /// Text after the epoch up to the first `-` (may be empty, as in `5:`); `None` for an
    /// empty string.
    pub version: Option<Vec<u8>>,
    /// Text after the first `-`; `None` when empty or there is no `-`.
    pub release: Option<Vec<u8>>,
}

/// C `strtol(s, &end, 10)`: the index where parsing stopped (0 when no digits were found).
fn strtol_end(s: &[u8]) -> usize {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        i += 1;
    }
    let digits = s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        0
    } else {
        i + digits
    }
}

/// createrepo_c `cr_str_to_evr`. `None` means a bad (non-numeric) epoch: the dependency is
/// skipped. An empty input gives all-`None` fields.
pub fn split_evr(s: &[u8]) -> Option<RawEvr> {
    let mut evr = RawEvr::default();
    if s.is_empty() {
        return Some(evr);
    }
    let rest = match s.iter().position(|&b| b == b':') {
        Some(colon) => {
            if strtol_end(s) != colon {
                return None;
            }
            evr.epoch = Some(if colon == 0 {
                b"0".to_vec()
            } else {
                s[..colon].to_vec()
            });
            &s[colon + 1..]
        }
        None => {
            evr.epoch = Some(b"0".to_vec());
            s
        }
    };
    match rest.iter().position(|&b| b == b'-') {
        Some(dash) => {
            evr.version = Some(rest[..dash].to_vec());
            let rel = &rest[dash + 1..];
            evr.release = (!rel.is_empty()).then(|| rel.to_vec());
        }
        None => evr.version = Some(rest.to_vec()),
    }
    Some(evr)
}

/// libxml2 `xmlCheckUTF8`: only the lead/continuation bit patterns are checked.
fn xml_check_utf8(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let n = if c & 0x80 == 0 {
            1
        } else if c & 0xe0 == 0xc0 {
            2
        } else if c & 0xf0 == 0xe0 {
            3
        } else if c & 0xf8 == 0xf0 {
            4
        } else {
            return false;
        };
        for k in 1..n {
            match s.get(i + k) {
                Some(b) if b & 0xc0 == 0x80 => {}
                _ => return false,
            }
        }
        i += n;
    }
    true
}

/// createrepo_c's text conversion (`cr_xmlNewTextChild`/`cr_xmlNewProp`, §7.1): bytes that
/// pass libxml2's UTF-8 check are kept, anything else is read as ISO-8859-1 with C0 controls
/// (but TAB, LF, CR) and 0x80–0xBF dropped.
pub fn to_utf8(s: &[u8]) -> String {
    if xml_check_utf8(s) {
        // libxml2 also accepts overlong forms, surrogates and code points above U+10FFFF and
        // passes them through; a Rust string cannot hold them, so they become U+FFFD.
        return String::from_utf8_lossy(s).into_owned();
    }
    let mut out = String::with_capacity(s.len() * 2);
    for &b in s {
        match b {
            0x09 | 0x0a | 0x0d => out.push(b as char),
            0x00..=0x1f | 0x80..=0xbf => {}
            _ => out.push(b as char), // 0x20..=0x7f and 0xc0..=0xff map to U+0000..U+00FF
        }
    }
    out
}

/// createrepo_c `cr_hascontrollchars`.
fn has_control_chars(s: &[u8]) -> bool {
    s.iter()
        .any(|&b| b < 0x20 && !matches!(b, 0x09 | 0x0a | 0x0d))
}

/// A dependency entry still in raw bytes.
#[derive(Debug, Clone)]
struct RawDep {
    name: Vec<u8>,
    flags: Option<DepFlag>,
    evr: RawEvr,
    pre: bool,
}

#[derive(Default)]
struct RawDeps {
    provides: Vec<RawDep>,
    conflicts: Vec<RawDep>,
    obsoletes: Vec<RawDep>,
    requires: Vec<RawDep>,
    suggests: Vec<RawDep>,
    enhances: Vec<RawDep>,
    recommends: Vec<RawDep>,
    supplements: Vec<RawDep>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DepKind {
    Provides,
    Conflicts,
    Obsoletes,
    Requires,
    Suggests,
    Enhances,
    Recommends,
    Supplements,
    OldSuggests,
    OldEnhances,
}

/// createrepo_c `dep_items` (with ENABLE_LEGACY_WEAKDEPS): kind, name, flags, version tags.
const DEP_ITEMS: &[(DepKind, u32, u32, u32)] = &[
    (
        DepKind::Provides,
        tag::PROVIDENAME,
        tag::PROVIDEFLAGS,
        tag::PROVIDEVERSION,
    ),
    (
        DepKind::Conflicts,
        tag::CONFLICTNAME,
        tag::CONFLICTFLAGS,
        tag::CONFLICTVERSION,
    ),
    (
        DepKind::Obsoletes,
        tag::OBSOLETENAME,
        tag::OBSOLETEFLAGS,
        tag::OBSOLETEVERSION,
    ),
    (
        DepKind::Requires,
        tag::REQUIRENAME,
        tag::REQUIREFLAGS,
        tag::REQUIREVERSION,
    ),
    (
        DepKind::Suggests,
        tag::SUGGESTNAME,
        tag::SUGGESTFLAGS,
        tag::SUGGESTVERSION,
    ),
    (
        DepKind::Enhances,
        tag::ENHANCENAME,
        tag::ENHANCEFLAGS,
        tag::ENHANCEVERSION,
    ),
    (
        DepKind::Recommends,
        tag::RECOMMENDNAME,
        tag::RECOMMENDFLAGS,
        tag::RECOMMENDVERSION,
    ),
    (
        DepKind::Supplements,
        tag::SUPPLEMENTNAME,
        tag::SUPPLEMENTFLAGS,
        tag::SUPPLEMENTVERSION,
    ),
    (
        DepKind::OldSuggests,
        tag::OLDSUGGESTSNAME,
        tag::OLDSUGGESTSFLAGS,
        tag::OLDSUGGESTSVERSION,
    ),
    (
        DepKind::OldEnhances,
        tag::OLDENHANCESNAME,
        tag::OLDENHANCESFLAGS,
        tag::OLDENHANCESVERSION,
    ),
];

/// librpm's `rpmvercmp` over bytes: -1, 0 or 1. The comparison itself is
/// [`crate::version::vercmp`], the one implementation the workspace uses; bytes that are not
/// UTF-8 become U+FFFD, a separator to both (rpm treats every non-ASCII byte as one).
pub fn rpmvercmp(a: &[u8], b: &[u8]) -> i32 {
    match crate::version::vercmp(&String::from_utf8_lossy(a), &String::from_utf8_lossy(b)) {
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    }
}

/// createrepo_c `cr_compare_dependency` for two `libc.so.6…` names:
/// 0 same, 1 first bigger, 2 second bigger, -1 error.
fn compare_libc(d1: &[u8], d2: &[u8]) -> i32 {
    if d1 == d2 {
        return 0;
    }
    let find =
        |s: &[u8], c: u8, from: usize| s[from..].iter().position(|&b| b == c).map(|p| p + from);
    let (v1, v2) = (find(d1, b'(', 0), find(d2, b'(', 0));
    let (v1, v2) = match (v1, v2) {
        (None, None) => return 0,
        (None, _) => return 2,
        (_, None) => return 1,
        (Some(a), Some(b)) => (a, b),
    };
    let (e1, e2) = (find(d1, b')', v1), find(d2, b')', v2));
    let (e1, e2) = match (e1, e2) {
        (None, None) => return -1,
        (None, _) => return 2,
        (_, None) => return 1,
        (Some(a), Some(b)) => (a, b),
    };
    let (mut v1, mut v2) = (v1 + 1, v2 + 1);
    if v1 == e1 && v2 == e2 {
        return 0;
    }
    if v1 == e1 {
        return 2;
    }
    if v2 == e2 {
        return 1;
    }
    while v1 < d1.len() && !d1[v1].is_ascii_digit() {
        v1 += 1;
    }
    while v2 < d2.len() && !d2[v2].is_ascii_digit() {
        v2 += 1;
    }
    if v1 > e1 && v2 > e2 {
        return 0;
    }
    if v1 > e1 {
        return 2;
    }
    if v2 > e2 {
        return 1;
    }
    match rpmvercmp(&d1[v1..e1], &d2[v2..e2]) {
        -1 => 2,
        r => r,
    }
}

fn concat3(a: &[u8], b: &[u8], c: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(a.len() + b.len() + c.len());
    v.extend_from_slice(a);
    v.extend_from_slice(b);
    v.extend_from_slice(c);
    v
}

/// Build the dependency lists (§3.1–§3.4). `own_files` are the package's full file paths.
fn dependencies(h: &Header, own_files: &HashSet<Vec<u8>>) -> RawDeps {
    let mut out = RawDeps::default();
    let mut provided: HashSet<Vec<u8>> = HashSet::new();
    // requires name → (flags, version, pre) of the last kept requires with that name.
    let mut seen: HashMap<Vec<u8>, (Option<DepFlag>, Vec<u8>, bool)> = HashMap::new();

    for &(kind, ntag, ftag, vtag) in DEP_ITEMS {
        let (Some(names), Some(flags), Some(versions)) =
            (h.strings(ntag), h.numbers(ftag), h.strings(vtag))
        else {
            continue;
        };
        let mut libc_highest: Option<RawDep> = None;
        for ((name, num_flags), version) in names.into_iter().zip(flags).zip(versions) {
            let flag = flag_from_bits(num_flags);
            let flag_str = flag.map_or("", DepFlag::as_str).as_bytes();
            let nfv = concat3(name, flag_str, version);
            let mut pre = false;
            if kind == DepKind::Requires {
                if name.starts_with(b"rpmlib(") {
                    continue;
                }
                if name.first() == Some(&b'/') && own_files.contains(name) && is_primary_bytes(name)
                {
                    continue;
                }
                if provided.contains(&nfv) {
                    continue;
                }
                pre = num_flags & PRE_BITS != 0;
                if let Some((f, v, p)) = seen.get(name) {
                    if *f == flag && v.as_slice() == version && *p == pre {
                        continue;
                    }
                }
            }
            let Some(evr) = split_evr(version) else {
                // Bad epoch: createrepo_c warns and skips the dependency.
                continue;
            };
            let dep = RawDep {
                name: name.to_vec(),
                flags: flag,
                evr,
                pre: false,
            };
            match kind {
                DepKind::Provides => {
                    provided.insert(nfv);
                    out.provides.push(dep);
                }
                DepKind::Conflicts => out.conflicts.push(dep),
                DepKind::Obsoletes => out.obsoletes.push(dep),
                DepKind::Requires => {
                    if num_flags & SENSE_MISSINGOK != 0 {
                        out.recommends.push(dep);
                        continue;
                    }
                    let dep = RawDep { pre, ..dep };
                    if dep.name.starts_with(b"libc.so.6") {
                        match &libc_highest {
                            Some(cur) if compare_libc(&cur.name, &dep.name) != 2 => {}
                            _ => libc_highest = Some(dep),
                        }
                        continue;
                    }
                    seen.insert(dep.name.clone(), (flag, version.to_vec(), pre));
                    out.requires.push(dep);
                }
                DepKind::Suggests => out.suggests.push(dep),
                DepKind::Enhances => out.enhances.push(dep),
                DepKind::Recommends => out.recommends.push(dep),
                DepKind::Supplements => out.supplements.push(dep),
                DepKind::OldSuggests => {
                    if num_flags & SENSE_STRONG != 0 {
                        out.recommends.push(dep)
                    } else {
                        out.suggests.push(dep)
                    }
                }
                DepKind::OldEnhances => {
                    if num_flags & SENSE_STRONG != 0 {
                        out.supplements.push(dep)
                    } else {
                        out.enhances.push(dep)
                    }
                }
            }
        }
        if let Some(libc) = libc_highest {
            out.requires.push(libc);
        }
    }
    out
}

fn is_primary_bytes(path: &[u8]) -> bool {
    path.starts_with(b"/etc/")
        || path == b"/usr/lib/sendmail"
        || path.windows(4).any(|w| w == b"bin/")
}

/// A file still in raw bytes.
struct RawFile {
    dirname: Vec<u8>,
    basename: Vec<u8>,
    kind: FileKind,
}

/// The file list (§2.2) as createrepo_c 0.17.3 builds it: only when librpm's FILENAMES
/// extension succeeds (consistent BASENAMES/DIRNAMES/DIRINDEXES) and FILEFLAGS and FILEMODES
/// exist; as many entries as the shortest of those arrays.
fn files(h: &Header) -> (Vec<RawFile>, HashSet<Vec<u8>>) {
    let mut out = Vec::new();
    let mut full = HashSet::new();
    let (Some(bases), Some(dirs), Some(idx), Some(flags), Some(modes)) = (
        h.strings(tag::BASENAMES),
        h.strings(tag::DIRNAMES),
        h.numbers(tag::DIRINDEXES),
        h.numbers(tag::FILEFLAGS),
        h.numbers(tag::FILEMODES),
    ) else {
        return (out, full);
    };
    // librpm fnTag sanity checks.
    if idx.len() != bases.len() || dirs.is_empty() || dirs.len() > bases.len() {
        return (out, full);
    }
    if idx.iter().any(|&i| i >= dirs.len() as u64) {
        return (out, full);
    }
    for (((base, &di), fl), mode) in bases.iter().zip(&idx).zip(flags).zip(modes) {
        let dir = dirs[di as usize];
        let kind = if mode & 0o170000 == 0o040000 {
            FileKind::Dir
        } else if fl & FILE_GHOST != 0 {
            FileKind::Ghost
        } else {
            FileKind::File
        };
        full.insert(concat3(dir, base, b""));
        out.push(RawFile {
            dirname: dir.to_vec(),
            basename: base.to_vec(),
            kind,
        });
    }
    (out, full)
}

/// A changelog entry still in raw bytes.
struct RawChangelog {
    author: Vec<u8>,
    date: i64,
    text: Vec<u8>,
}

/// §2.4: first `limit` entries, trailing-space trim of the author, duplicate-date bump,
/// returned oldest first.
fn changelogs(h: &Header, limit: i32) -> Vec<RawChangelog> {
    let mut limit = if limit < -1 { 10 } else { limit };
    let (Some(times), Some(names), Some(texts)) = (
        h.numbers(tag::CHANGELOGTIME),
        h.strings(tag::CHANGELOGNAME),
        h.strings(tag::CHANGELOGTEXT),
    ) else {
        return Vec::new();
    };
    // Collected newest first, like createrepo_c's prepend-built list read from its head.
    let mut kept: Vec<RawChangelog> = Vec::new();
    let mut last_time: i64 = 0;
    for ((time, name), text) in times.into_iter().zip(names).zip(texts) {
        if !(limit > 0 || limit == -1) {
            break;
        }
        let time = time as i64;
        let mut end = name.len();
        while end > 1 && name[end - 1] == b' ' {
            end -= 1;
        }
        kept.push(RawChangelog {
            author: name[..end].to_vec(),
            date: time,
            text: text.to_vec(),
        });
        if limit != -1 {
            limit -= 1;
        }
        if last_time == time {
            // createrepo_c keeps the running time in a C int.
            let mut tmp = time as i32;
            for prev in kept.iter_mut().rev().skip(1) {
                if prev.date != i64::from(tmp) {
                    break;
                }
                prev.date += 1;
                tmp = tmp.wrapping_add(1);
            }
        } else {
            last_time = time;
        }
    }
    kept.reverse();
    kept
}

fn check(field: &str, s: &[u8]) -> Result<()> {
    if has_control_chars(s) {
        return Err(Error::ForbiddenControlChars {
            field: field.to_string(),
        });
    }
    Ok(())
}

fn convert_deps(list: &str, deps: Vec<RawDep>) -> Result<Vec<Dependency>> {
    let mut out = Vec::with_capacity(deps.len());
    for d in deps {
        check(&format!("{list} name"), &d.name)?;
        for (what, v) in [
            ("epoch", &d.evr.epoch),
            ("version", &d.evr.version),
            ("release", &d.evr.release),
        ] {
            if let Some(v) = v {
                check(&format!("{list} {what}"), v)?;
            }
        }
        let conv = |v: Option<Vec<u8>>| v.map(|v| to_utf8(&v));
        out.push(Dependency {
            name: to_utf8(&d.name),
            flags: d.flags,
            epoch: conv(d.evr.epoch),
            version: conv(d.evr.version),
            release: conv(d.evr.release),
            pre: d.pre,
        });
    }
    Ok(out)
}

impl Package {
    /// Build the package record from decoded headers and facts about the file, exactly as
    /// createrepo_c 0.17.3 would. Fails with [`Error::ForbiddenControlChars`] when createrepo_c
    /// would drop the package.
    pub fn from_headers(h: &RpmHeaders, file: &FileInfo, opts: &ParseOptions) -> Result<Package> {
        let m = h.main();
        let text = |t: u32| m.string(t).unwrap_or_default();

        let name = text(tag::NAME);
        let arch = if m.number(tag::SOURCEPACKAGE).unwrap_or(0) != 0 {
            &b"src"[..]
        } else {
            text(tag::ARCH)
        };
        let epoch = m.number(tag::EPOCH).unwrap_or(0).to_string();
        let size_installed = m
            .first_number(tag::LONGSIZE)
            .or_else(|| int32_first(m, tag::SIZE))
            .unwrap_or(0);
        let size_archive = m
            .first_number(tag::LONGARCHIVESIZE)
            .or_else(|| int32_first(m, tag::ARCHIVESIZE))
            .unwrap_or(0);

        let scalars: [(&str, &[u8]); 13] = [
            ("name", name),
            ("arch", arch),
            ("version", text(tag::VERSION)),
            ("release", text(tag::RELEASE)),
            ("summary", text(tag::SUMMARY)),
            ("description", text(tag::DESCRIPTION)),
            ("url", text(tag::URL)),
            ("license", text(tag::LICENSE)),
            ("vendor", text(tag::VENDOR)),
            ("group", text(tag::GROUP)),
            ("buildhost", text(tag::BUILDHOST)),
            ("sourcerpm", text(tag::SOURCERPM)),
            ("packager", text(tag::PACKAGER)),
        ];
        for (field, v) in scalars {
            check(field, v)?;
        }
        check("location href", file.location_href.as_bytes())?;
        check("location base", file.location_base.as_bytes())?;

        let (raw_files, full_paths) = files(m);
        let deps = dependencies(m, &full_paths);
        let mut files = Vec::with_capacity(raw_files.len());
        for f in raw_files {
            check("file basename", &f.basename)?;
            check("file dirname", &f.dirname)?;
            files.push(PackageFile {
                dirname: to_utf8(&f.dirname),
                basename: to_utf8(&f.basename),
                kind: f.kind,
            });
        }
        let mut logs = Vec::new();
        for c in changelogs(m, opts.changelog_limit) {
            check("changelog author", &c.author)?;
            check("changelog text", &c.text)?;
            logs.push(Changelog {
                author: to_utf8(&c.author),
                date: c.date,
                text: to_utf8(&c.text),
            });
        }

        let range = h.range();
        let s = |b: &[u8]| to_utf8(b);
        Ok(Package {
            name: s(name),
            arch: s(arch),
            epoch,
            version: s(text(tag::VERSION)),
            release: s(text(tag::RELEASE)),
            checksum_type: file.checksum_type.clone(),
            pkgid: file.pkgid.clone(),
            summary: s(text(tag::SUMMARY)),
            description: s(text(tag::DESCRIPTION)),
            packager: s(text(tag::PACKAGER)),
            url: s(text(tag::URL)),
            time_file: file.mtime,
            time_build: m.first_number(tag::BUILDTIME).unwrap_or(0) as i64,
            size_package: file.size as i64,
            size_installed: size_installed as i64,
            size_archive: size_archive as i64,
            location_href: file.location_href.clone(),
            location_base: file.location_base.clone(),
            license: s(text(tag::LICENSE)),
            vendor: s(text(tag::VENDOR)),
            group: s(text(tag::GROUP)),
            buildhost: s(text(tag::BUILDHOST)),
            sourcerpm: s(text(tag::SOURCERPM)),
            header_start: range.start as i64,
            header_end: range.end as i64,
            provides: convert_deps("provides", deps.provides)?,
            requires: convert_deps("requires", deps.requires)?,
            conflicts: convert_deps("conflicts", deps.conflicts)?,
            obsoletes: convert_deps("obsoletes", deps.obsoletes)?,
            suggests: convert_deps("suggests", deps.suggests)?,
            enhances: convert_deps("enhances", deps.enhances)?,
            recommends: convert_deps("recommends", deps.recommends)?,
            supplements: convert_deps("supplements", deps.supplements)?,
            files,
            changelogs: logs,
        })
    }
}

/// librpm `get64` fallback: the 32-bit tag counts only if it really is INT32.
fn int32_first(h: &Header, t: u32) -> Option<u64> {
    match h.entry(t)? {
        crate::header::TagData::Int32(v) => v.first().map(|&x| u64::from(x)),
        _ => None,
    }
}

/// Hashes a whole package file as it streams by: SHA-256 of every byte (createrepo_c's pkgid
/// with the default checksum) and, when the main header records one (rpm ≥ 4.14), the payload
/// digest rpm verifies on install — so a corrupt or truncated upload is caught here instead of
/// by every client later.
pub struct FileHasher {
    whole: Sha256,
    payload: Option<(PayloadHasher, String)>,
    payload_start: u64,
    pos: u64,
}

enum PayloadHasher {
    Sha224(sha2::Sha224),
    Sha256(Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl PayloadHasher {
    /// From rpm's `pgpHashAlgo` number; None for algorithms we do not check.
    fn new(algo: u64) -> Option<PayloadHasher> {
        Some(match algo {
            8 => PayloadHasher::Sha256(Sha256::new()),
            9 => PayloadHasher::Sha384(sha2::Sha384::new()),
            10 => PayloadHasher::Sha512(sha2::Sha512::new()),
            11 => PayloadHasher::Sha224(sha2::Sha224::new()),
            _ => return None,
        })
    }

    fn update(&mut self, b: &[u8]) {
        match self {
            PayloadHasher::Sha224(h) => h.update(b),
            PayloadHasher::Sha256(h) => h.update(b),
            PayloadHasher::Sha384(h) => h.update(b),
            PayloadHasher::Sha512(h) => h.update(b),
        }
    }

    fn finish(self) -> (&'static str, String) {
        match self {
            PayloadHasher::Sha224(h) => ("sha224", hex::encode(h.finalize())),
            PayloadHasher::Sha256(h) => ("sha256", hex::encode(h.finalize())),
            PayloadHasher::Sha384(h) => ("sha384", hex::encode(h.finalize())),
            PayloadHasher::Sha512(h) => ("sha512", hex::encode(h.finalize())),
        }
    }
}

impl FileHasher {
    /// A hasher for the file whose headers are `headers`; feed it the file from byte 0.
    pub fn new(headers: &RpmHeaders) -> FileHasher {
        let m = headers.main();
        let payload = m
            .strings(tag::PAYLOADDIGEST)
            .and_then(|v| {
                v.first()
                    .map(|d| String::from_utf8_lossy(d).to_ascii_lowercase())
            })
            .zip(
                m.first_number(tag::PAYLOADDIGESTALGO)
                    .and_then(PayloadHasher::new),
            )
            .map(|(expected, hasher)| (hasher, expected));
        FileHasher {
            whole: Sha256::new(),
            payload,
            payload_start: headers.range().end,
            pos: 0,
        }
    }

    /// Feed the next bytes of the file.
    pub fn update(&mut self, bytes: &[u8]) {
        self.whole.update(bytes);
        if let Some((h, _)) = &mut self.payload {
            let end = self.pos + bytes.len() as u64;
            if end > self.payload_start {
                let skip = self.payload_start.saturating_sub(self.pos) as usize;
                h.update(&bytes[skip..]);
            }
        }
        self.pos += bytes.len() as u64;
    }

    /// Number of bytes fed so far.
    pub fn len(&self) -> u64 {
        self.pos
    }

    /// Has nothing been fed yet?
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Check the payload digest (if recorded) and return the hex SHA-256 of the whole file.
    pub fn finish(self) -> Result<String> {
        if let Some((h, expected)) = self.payload {
            let (algo, actual) = h.finish();
            if actual != expected {
                return Err(Error::PayloadDigestMismatch {
                    algo,
                    expected,
                    actual,
                });
            }
        }
        Ok(hex::encode(self.whole.finalize()))
    }
}

/// Read an .rpm file with the [`PackageReader`](crate::reader::PackageReader) every face uses:
/// its header prefix, then the whole file through [`FileHasher`] (pkgid and payload-digest
/// check), and its size and mtime; then build the record. `location_href` is the path relative
/// to the repository root.
pub fn read_package_file(path: &Path, location_href: &str, opts: &ParseOptions) -> Result<Package> {
    let io = |source: std::io::Error| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let f = File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    let mtime = mtime_secs(&meta);
    let read = read_package(f, Hashing::WholeFile, &path.display().to_string())?;
    let info = FileInfo {
        location_href: location_href.to_string(),
        location_base: String::new(),
        size: meta.len(),
        mtime,
        checksum_type: "sha256".to_string(),
        pkgid: read
            .sha256
            .expect("a whole-file read has the file's sha256"),
    };
    Package::from_headers(&read.headers, &info, opts)
}

/// Modification time of a file in whole seconds, as createrepo_c records it (`st_mtime`).
#[cfg(unix)]
pub fn mtime_secs(meta: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    meta.mtime()
}

/// Modification time of a file in whole seconds, as createrepo_c records it (`st_mtime`).
#[cfg(not(unix))]
pub fn mtime_secs(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// Is `path` listed in primary.xml? Re-exported here for callers that only import `parse`.
pub fn is_primary(path: &str) -> bool {
    is_primary_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::tests::{minimal_main, package, HeaderBuilder};
    use crate::header::{sigtag, RpmHeaders};

    fn parse_with(main: HeaderBuilder, opts: &ParseOptions) -> Result<Package> {
        let sig = HeaderBuilder::new()
            .int32(sigtag::SIZE, &[1])
            .int32(sigtag::PAYLOADSIZE, &[4096]);
        let h = RpmHeaders::parse(&package(sig, main)).unwrap();
        let info = FileInfo {
            location_href: "foo.rpm".into(),
            checksum_type: "sha256".into(),
            ..Default::default()
        };
        Package::from_headers(&h, &info, opts)
    }

    fn parse(main: HeaderBuilder) -> Package {
        parse_with(main, &ParseOptions::default()).unwrap()
    }

    macro_rules! evr_cases {
        ($($input:expr => $expect:expr),* $(,)?) => {{
            $(
                let got = split_evr($input).map(|e| {
                    let s = |v: Option<Vec<u8>>| v.map(|v| String::from_utf8(v).unwrap());
                    (s(e.epoch), s(e.version), s(e.release))
                });
                let want: Option<(Option<&str>, Option<&str>, Option<&str>)> = $expect;
                let want = want.map(|(e, v, r)| (e.map(String::from), v.map(String::from), r.map(String::from)));
                assert_eq!(got, want, "input {:?}", String::from_utf8_lossy($input));
            )*
        }};
    }

    #[test]
    fn evr_split_table() {
        evr_cases! {
            b"" => Some((None, None, None)),
            b"1.0.0-1" => Some((Some("0"), Some("1.0.0"), Some("1"))),
            b"1:2.0-3" => Some((Some("1"), Some("2.0"), Some("3"))),
            b"1.0-" => Some((Some("0"), Some("1.0"), None)),
            b"5:" => Some((Some("5"), Some(""), None)),
            b"2.0-1.fc40" => Some((Some("0"), Some("2.0"), Some("1.fc40"))),
            b":1.0" => Some((Some("0"), Some("1.0"), None)),
            b"1.0" => Some((Some("0"), Some("1.0"), None)),
            b"a:1.0" => None,
            b"1a:1.0" => None,
            b"-:1" => None,
            b" 5:1" => Some((Some(" 5"), Some("1"), None)),
            b"+5:1" => Some((Some("+5"), Some("1"), None)),
            b"1-2-3" => Some((Some("0"), Some("1"), Some("2-3"))),
            b"1:2:3-4" => Some((Some("1"), Some("2:3"), Some("4"))),
        }
    }

    #[test]
    fn flag_table() {
        let cases = [
            (0u64, None),
            (2, Some(DepFlag::Lt)),
            (4, Some(DepFlag::Gt)),
            (8, Some(DepFlag::Eq)),
            (10, Some(DepFlag::Le)),
            (12, Some(DepFlag::Ge)),
            (1, None),
            (6, None),
            (14, None),
            (8 | (1 << 9), Some(DepFlag::Eq)),
            (0x10 | 12, Some(DepFlag::Ge)),
        ];
        for (bits, want) in cases {
            assert_eq!(flag_from_bits(bits), want, "bits {bits:#x}");
        }
    }

    #[test]
    fn latin1_table() {
        let cases: [(&[u8], &str); 6] = [
            (b"plain", "plain"),
            ("Tomáš".as_bytes(), "Tomáš"),
            (b"Tom\xe1\xb9 Ml\xe8och", "Tomá Mlèoch"),
            (b"a\x01b\tc\xe9", "ab\tc\u{e9}"),
            (b"\xc0\xff\x80\xbf", "\u{c0}\u{ff}"),
            (b"caf\xe9\r\n", "caf\u{e9}\r\n"),
        ];
        for (input, want) in cases {
            assert_eq!(to_utf8(input), want, "input {input:?}");
        }
        // Valid UTF-8 with a control char is passed through (the package is dropped earlier).
        assert_eq!(to_utf8(b"a\x01b"), "a\u{1}b");
    }

    #[test]
    fn primary_file_rule() {
        for (p, want) in [
            ("/etc/foo", true),
            ("/etc", false),
            ("/etc/foo.d", true),
            ("/usr/bin", false),
            ("/usr/bin/x", true),
            ("/opt/foo/sbin/x", true),
            ("/usr/share/robin/x", true),
            ("/usr/lib/sendmail", true),
            ("/usr/lib/sendmail2", false),
            ("/usr/share/doc/x", false),
        ] {
            assert_eq!(is_primary_bytes(p.as_bytes()), want, "{p}");
            assert_eq!(is_primary(p), want, "{p}");
        }
    }

    #[test]
    fn rpmvercmp_table() {
        let cases: [(&str, &str, i32); 16] = [
            ("1.0", "1.0", 0),
            ("1.0", "2.0", -1),
            ("2.0.1", "2.0", 1),
            ("2.14", "2.3", 1),
            ("2.2.5", "2.14", -1),
            ("1.0a", "1.0", 1),
            ("a", "1", -1),
            ("010", "10", 0),
            ("1.0~rc1", "1.0", -1),
            ("1.0^git1", "1.0", 1),
            ("1.0^git1", "1.0.1", -1),
            ("1.0~rc1", "1.0~rc2", -1),
            ("1_0", "1.0", 0),
            ("xyz", "xyz10", -1),
            ("", "1", -1),
            ("5.5p1", "5.5p10", -1),
        ];
        for (a, b, want) in cases {
            assert_eq!(rpmvercmp(a.as_bytes(), b.as_bytes()), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b.as_bytes(), a.as_bytes()), -want, "{b} vs {a}");
        }
    }

    #[test]
    fn libc_compare_table() {
        let cases: [(&str, &str, i32); 8] = [
            ("libc.so.6", "libc.so.6", 0),
            ("libc.so.6", "libc.so.6()(64bit)", 2),
            ("libc.so.6()(64bit)", "libc.so.6(GLIBC_2.2.5)(64bit)", 2),
            (
                "libc.so.6(GLIBC_2.14)(64bit)",
                "libc.so.6(GLIBC_2.3)(64bit)",
                1,
            ),
            (
                "libc.so.6(GLIBC_2.3)(64bit)",
                "libc.so.6(GLIBC_2.14)(64bit)",
                2,
            ),
            (
                "libc.so.6(GLIBC_PRIVATE)(64bit)",
                "libc.so.6(GLIBC_2.3)(64bit)",
                2,
            ),
            (
                "libc.so.6(GLIBC_PRIVATE)",
                "libc.so.6(GLIBC_PRIVATE)(64bit)",
                0,
            ),
            ("libc.so.6(", "libc.so.6(x", -1),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_libc(a.as_bytes(), b.as_bytes()), want, "{a} vs {b}");
        }
    }

    fn names(deps: &[Dependency]) -> Vec<String> {
        deps.iter()
            .map(|d| {
                let mut s = d.name.clone();
                if let Some(f) = d.flags {
                    s.push_str(&format!(
                        " {} {:?}:{:?}-{:?}",
                        f.as_str(),
                        d.epoch,
                        d.version,
                        d.release
                    ));
                }
                if d.pre {
                    s.push_str(" pre");
                }
                s
            })
            .collect()
    }

    #[test]
    fn requires_filtering() {
        let reqs: &[(&[u8], u32, &[u8])] = &[
            (b"rpmlib(PayloadIsXz)", 16777226, b"5.2-1"),
            (b"/usr/bin/own", 0, b""),
            (b"/usr/share/own", 0, b""),
            (b"foo", 8, b"1:2.0-3"),
            (b"foo", 12, b"1.0"),
            (b"bar", 0, b""),
            (b"bar", 0x200, b""),
            (b"bar", 0, b""),
            (b"bar", 0, b""),
            (b"post", 0x400, b""),
            (b"preun", 0x800, b""),
            (b"pretrans", 0x80, b""),
            (b"weak", 1 << 19, b""),
            (b"libc.so.6()(64bit)", 0, b""),
            (b"libc.so.6(GLIBC_2.14)(64bit)", 0, b""),
            (b"libc.so.6(GLIBC_2.3)(64bit)", 0, b""),
            (b"bad", 8, b"x:1"),
            (b"baz", 0x10 | 8, b"1"),
            (b"baz", 8, b"1"),
        ];
        let main = minimal_main()
            .strings(
                tag::REQUIRENAME,
                &reqs.iter().map(|r| r.0).collect::<Vec<_>>(),
            )
            .int32(
                tag::REQUIREFLAGS,
                &reqs.iter().map(|r| r.1).collect::<Vec<_>>(),
            )
            .strings(
                tag::REQUIREVERSION,
                &reqs.iter().map(|r| r.2).collect::<Vec<_>>(),
            )
            .strings(tag::PROVIDENAME, &[b"foo", b"p"])
            .int32(tag::PROVIDEFLAGS, &[8, 8])
            .strings(tag::PROVIDEVERSION, &[b"1:2.0-3", b"bad:1"])
            .strings(tag::BASENAMES, &[b"own", b"own"])
            .strings(tag::DIRNAMES, &[b"/usr/bin/", b"/usr/share/"])
            .int32(tag::DIRINDEXES, &[0, 1])
            .int32(tag::FILEFLAGS, &[0, 0])
            .int16(tag::FILEMODES, &[0o100644, 0o100644])
            .strings(tag::FILEDIGESTS, &[b"", b""]);
        let p = parse(main);
        assert_eq!(
            names(&p.provides),
            vec!["foo EQ Some(\"1\"):Some(\"2.0\")-Some(\"3\")"]
        );
        assert_eq!(
            names(&p.requires),
            vec![
                "/usr/share/own",
                "foo GE Some(\"0\"):Some(\"1.0\")-None",
                "bar",
                "bar pre",
                "bar",
                "post pre",
                "preun",
                "pretrans",
                "baz EQ Some(\"0\"):Some(\"1\")-None",
                "libc.so.6(GLIBC_2.14)(64bit)",
            ]
        );
        assert_eq!(names(&p.recommends), vec!["weak"]);
    }

    #[test]
    fn legacy_weak_deps_and_order() {
        let main = minimal_main()
            .strings(tag::RECOMMENDNAME, &[b"r1"])
            .int32(tag::RECOMMENDFLAGS, &[0])
            .strings(tag::RECOMMENDVERSION, &[b""])
            .strings(tag::OLDSUGGESTSNAME, &[b"os-strong", b"os-weak"])
            .int32(tag::OLDSUGGESTSFLAGS, &[1 << 27, 0])
            .strings(tag::OLDSUGGESTSVERSION, &[b"", b""])
            .strings(tag::OLDENHANCESNAME, &[b"oe-strong", b"oe-weak"])
            .int32(tag::OLDENHANCESFLAGS, &[1 << 27, 0])
            .strings(tag::OLDENHANCESVERSION, &[b"", b""])
            .strings(tag::REQUIRENAME, &[b"mok"])
            .int32(tag::REQUIREFLAGS, &[1 << 19])
            .strings(tag::REQUIREVERSION, &[b""]);
        let p = parse(main);
        assert_eq!(names(&p.recommends), vec!["mok", "r1", "os-strong"]);
        assert_eq!(names(&p.suggests), vec!["os-weak"]);
        assert_eq!(names(&p.supplements), vec!["oe-strong"]);
        assert_eq!(names(&p.enhances), vec!["oe-weak"]);
        // A list with one of its three tags missing is ignored.
        let p = parse(
            minimal_main()
                .strings(tag::CONFLICTNAME, &[b"c"])
                .int32(tag::CONFLICTFLAGS, &[0]),
        );
        assert!(p.conflicts.is_empty());
    }

    #[test]
    fn changelog_bump_limit_and_trim() {
        let times = [
            1704888000u32,
            1704888000,
            1704888000,
            1600000000,
            1500000000,
        ];
        let main = minimal_main()
            .int32(tag::CHANGELOGTIME, &times)
            .strings(
                tag::CHANGELOGNAME,
                &[
                    b"Twelve   ",
                    b"Eleven",
                    b"Ten",
                    b"A <a@b.c>   - 1.0-12  ",
                    b"Old",
                ],
            )
            .strings(tag::CHANGELOGTEXT, &[b"t12", b"t11", b"t10", b"t9", b"t8"]);
        let p = parse_with(
            main.clone(),
            &ParseOptions::default().with_changelog_limit(4),
        )
        .unwrap();
        let got: Vec<(String, i64)> = p
            .changelogs
            .iter()
            .map(|c| (c.author.clone(), c.date))
            .collect();
        assert_eq!(
            got,
            vec![
                ("A <a@b.c>   - 1.0-12".to_string(), 1600000000),
                ("Ten".to_string(), 1704888000),
                ("Eleven".to_string(), 1704888001),
                ("Twelve".to_string(), 1704888002),
            ]
        );
        assert_eq!(
            parse_with(main.clone(), &ParseOptions::default())
                .unwrap()
                .changelogs
                .len(),
            5
        );
        assert_eq!(
            parse_with(
                main.clone(),
                &ParseOptions::default().with_changelog_limit(-1)
            )
            .unwrap()
            .changelogs
            .len(),
            5
        );
        assert!(parse_with(
            main.clone(),
            &ParseOptions::default().with_changelog_limit(0)
        )
        .unwrap()
        .changelogs
        .is_empty());
        assert_eq!(
            parse_with(main, &ParseOptions::default().with_changelog_limit(-5))
                .unwrap()
                .changelogs
                .len(),
            5
        );
        // A one-character or all-space author keeps its first character.
        let main = minimal_main()
            .int32(tag::CHANGELOGTIME, &[1, 2])
            .strings(tag::CHANGELOGNAME, &[b"   ", b""])
            .strings(tag::CHANGELOGTEXT, &[b"", b""]);
        let p = parse(main);
        assert_eq!(p.changelogs[1].author, " ");
        assert_eq!(p.changelogs[0].author, "");
    }

    #[test]
    fn files_types_and_consistency() {
        let main = minimal_main()
            .strings(tag::BASENAMES, &[b"etc", b"a.conf", b"gh", b"ghostdir"])
            .strings(tag::DIRNAMES, &[b"/", b"/etc/"])
            .int32(tag::DIRINDEXES, &[0, 1, 1, 1])
            .int32(tag::FILEFLAGS, &[0, 0, 0x40, 0x40])
            .int16(tag::FILEMODES, &[0o40755, 0o100644, 0o100644, 0o40755]);
        let p = parse(main.clone());
        let got: Vec<(String, FileKind)> = p.files.iter().map(|f| (f.path(), f.kind)).collect();
        assert_eq!(
            got,
            vec![
                ("/etc".into(), FileKind::Dir),
                ("/etc/a.conf".into(), FileKind::File),
                ("/etc/gh".into(), FileKind::Ghost),
                ("/etc/ghostdir".into(), FileKind::Dir),
            ]
        );
        // A directory index out of range: librpm's FILENAMES fails, no files at all.
        let bad = minimal_main()
            .strings(tag::BASENAMES, &[b"a"])
            .strings(tag::DIRNAMES, &[b"/"])
            .int32(tag::DIRINDEXES, &[3])
            .int32(tag::FILEFLAGS, &[0])
            .int16(tag::FILEMODES, &[0o100644]);
        assert!(parse(bad).files.is_empty());
        // Missing FILEMODES: no files.
        let nomodes = minimal_main()
            .strings(tag::BASENAMES, &[b"a"])
            .strings(tag::DIRNAMES, &[b"/"])
            .int32(tag::DIRINDEXES, &[0])
            .int32(tag::FILEFLAGS, &[0]);
        assert!(parse(nomodes).files.is_empty());
    }

    #[test]
    fn scalars_sizes_and_source() {
        let p = parse(
            minimal_main()
                .int32(tag::EPOCH, &[3])
                .int32(tag::SIZE, &[77])
                .int32(tag::BUILDTIME, &[123]),
        );
        assert_eq!(
            (
                p.epoch.as_str(),
                p.size_installed,
                p.size_archive,
                p.time_build
            ),
            ("3", 77, 4096, 123)
        );
        assert_eq!(p.arch, "x86_64");
        let p = parse(
            minimal_main()
                .int64(tag::LONGSIZE, &[1 << 33])
                .int32(tag::SIZE, &[77])
                .int32(tag::SOURCEPACKAGE, &[1]),
        );
        assert_eq!(
            (p.size_installed, p.arch.as_str(), p.epoch.as_str()),
            (1 << 33, "src", "0")
        );
        // SOURCEPACKAGE = 0 is not a source package.
        assert_eq!(
            parse(minimal_main().int32(tag::SOURCEPACKAGE, &[0])).arch,
            "x86_64"
        );
    }

    #[test]
    fn forbidden_control_chars_drop_package() {
        let e = parse_with(
            minimal_main().i18n(tag::SUMMARY, b"bad\x07bell"),
            &ParseOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(e, Error::ForbiddenControlChars { ref field } if field == "summary"),
            "{e}"
        );
        // In a dependency that is kept…
        let main = minimal_main()
            .strings(tag::PROVIDENAME, &[b"p\x01"])
            .int32(tag::PROVIDEFLAGS, &[0])
            .strings(tag::PROVIDEVERSION, &[b""]);
        assert!(parse_with(main, &ParseOptions::default()).is_err());
        // …but not in one createrepo_c filters out first.
        let main = minimal_main()
            .strings(tag::REQUIRENAME, &[b"rpmlib(\x01)"])
            .int32(tag::REQUIREFLAGS, &[0])
            .strings(tag::REQUIREVERSION, &[b""]);
        assert!(parse_with(main, &ParseOptions::default()).is_ok());
        // TAB/LF/CR are fine.
        assert!(parse_with(
            minimal_main().i18n(tag::DESCRIPTION, b"a\tb\r\nc"),
            &ParseOptions::default()
        )
        .is_ok());
    }

    #[test]
    fn file_hasher_checks_payload_digest() {
        let payload = b"compressed payload bytes";
        let digest = hex::encode(Sha256::digest(payload));
        let sig = HeaderBuilder::new().int32(sigtag::SIZE, &[1]);
        let main = minimal_main()
            .strings(tag::PAYLOADDIGEST, &[digest.as_bytes()])
            .int32(tag::PAYLOADDIGESTALGO, &[8]);
        let mut file = package(sig, main);
        let h = RpmHeaders::parse(&file).unwrap();
        file.extend_from_slice(payload);
        // Fed in odd pieces, straddling the header/payload boundary.
        let mut hasher = FileHasher::new(&h);
        for piece in file.chunks(7) {
            hasher.update(piece);
        }
        assert_eq!(hasher.len(), file.len() as u64);
        assert_eq!(hasher.finish().unwrap(), hex::encode(Sha256::digest(&file)));
        // One flipped payload byte.
        let last = file.len() - 1;
        file[last] ^= 1;
        let mut hasher = FileHasher::new(&h);
        hasher.update(&file);
        assert!(matches!(
            hasher.finish(),
            Err(Error::PayloadDigestMismatch { algo: "sha256", .. })
        ));
        // Unknown algorithm (MD5 = 1): not checked.
        let sig = HeaderBuilder::new().int32(sigtag::SIZE, &[1]);
        let main = minimal_main()
            .strings(tag::PAYLOADDIGEST, &[b"00"])
            .int32(tag::PAYLOADDIGESTALGO, &[1]);
        let h = RpmHeaders::parse(&package(sig, main)).unwrap();
        let mut hasher = FileHasher::new(&h);
        hasher.update(b"anything");
        assert!(hasher.finish().is_ok());
    }

    #[test]
    fn non_utf8_description_is_latin1() {
        let p = parse(minimal_main().i18n(
            tag::DESCRIPTION,
            b"Balicek s \"\xe0\xe1\xe2\xe3\xe4\xe5\xe7\"",
        ));
        assert_eq!(p.description, "Balicek s \"àáâãäåç\"");
    }
}

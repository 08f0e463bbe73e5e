//! The package record: everything primary.xml, filelists.xml and other.xml (and the sqlite
//! databases) say about one RPM, already normalised the way createrepo_c 0.17.3 does it
//! (`docs/REPODATA-SPEC.md` §2–§3, §7). Writers only format these values.

use serde::{Deserialize, Serialize};

/// One package as it appears in the repository metadata.
///
/// All strings are valid UTF-8: header strings that are not are converted with createrepo_c's
/// latin-1 rule when the record is built. Optional text fields are empty strings when absent;
/// the writers know which of them become NULL in sqlite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Package {
    pub name: String,
    pub arch: String,
    /// Always set; "0" when the header has no epoch.
    pub epoch: String,
    pub version: String,
    pub release: String,
    /// Checksum algorithm name of `pkgid`, e.g. `sha256`.
    pub checksum_type: String,
    /// Hex digest of the whole .rpm file.
    pub pkgid: String,
    pub summary: String,
    pub description: String,
    pub packager: String,
    pub url: String,
    /// Modification time of the file (seconds since the epoch).
    pub time_file: i64,
    pub time_build: i64,
    /// Size of the .rpm file in bytes.
    pub size_package: i64,
    pub size_installed: i64,
    pub size_archive: i64,
    /// Path relative to the repository root, e.g. `Packages/foo-1.0-1.noarch.rpm`.
    pub location_href: String,
    /// `xml:base` of the location; empty when none.
    pub location_base: String,
    pub license: String,
    pub vendor: String,
    pub group: String,
    pub buildhost: String,
    pub sourcerpm: String,
    /// `rpm:header-range start`: offset of the main header.
    pub header_start: i64,
    /// `rpm:header-range end`: offset of the payload.
    pub header_end: i64,
    pub provides: Vec<Dependency>,
    pub requires: Vec<Dependency>,
    pub conflicts: Vec<Dependency>,
    pub obsoletes: Vec<Dependency>,
    pub suggests: Vec<Dependency>,
    pub enhances: Vec<Dependency>,
    pub recommends: Vec<Dependency>,
    pub supplements: Vec<Dependency>,
    /// All files, header order.
    pub files: Vec<PackageFile>,
    /// Kept changelog entries, oldest first (the order of other.xml).
    pub changelogs: Vec<Changelog>,
}

/// A dependency entry after createrepo_c's filtering and EVR splitting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Dependency {
    pub name: String,
    /// `EQ`, `LT`, `LE`, `GT`, `GE`, or `None` when the low flag bits say nothing.
    pub flags: Option<DepFlag>,
    pub epoch: Option<String>,
    pub version: Option<String>,
    pub release: Option<String>,
    /// `pre="1"` (requires only).
    pub pre: bool,
}

/// Comparison operator of a versioned dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DepFlag {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl DepFlag {
    /// The string used in XML and sqlite.
    pub fn as_str(self) -> &'static str {
        match self {
            DepFlag::Lt => "LT",
            DepFlag::Le => "LE",
            DepFlag::Eq => "EQ",
            DepFlag::Ge => "GE",
            DepFlag::Gt => "GT",
        }
    }
}

/// One file of the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PackageFile {
    /// Directory name as stored in the header, with its trailing `/` (empty for source RPMs).
    pub dirname: String,
    pub basename: String,
    pub kind: FileKind,
}

impl PackageFile {
    /// Full path: dirname + basename.
    pub fn path(&self) -> String {
        let mut p = String::with_capacity(self.dirname.len() + self.basename.len());
        p.push_str(&self.dirname);
        p.push_str(&self.basename);
        p
    }
}

/// File type as createrepo_c classifies it (§2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum FileKind {
    #[default]
    File,
    Dir,
    Ghost,
}

/// One changelog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Changelog {
    pub author: String,
    /// Seconds since the epoch, after createrepo_c's duplicate-timestamp bump.
    pub date: i64,
    pub text: String,
}

/// Is `path` one of the files listed in primary.xml (createrepo_c `cr_is_primary`, §2.3)?
pub fn is_primary_file(path: &str) -> bool {
    path.starts_with("/etc/") || path == "/usr/lib/sendmail" || path.contains("bin/")
}

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
    /// Package name (`RPMTAG_NAME`).
    pub name: String,
    /// Architecture; `src` for source packages.
    pub arch: String,
    /// Always set; "0" when the header has no epoch.
    pub epoch: String,
    /// Version (`RPMTAG_VERSION`).
    pub version: String,
    /// Release (`RPMTAG_RELEASE`).
    pub release: String,
    /// Checksum algorithm name of `pkgid`, e.g. `sha256`.
    pub checksum_type: String,
    /// Hex digest of the whole .rpm file.
    pub pkgid: String,
    /// One-line summary (C-locale text).
    pub summary: String,
    /// Long description (C-locale text).
    pub description: String,
    /// Packager (`RPMTAG_PACKAGER`).
    pub packager: String,
    /// Upstream URL (`RPMTAG_URL`).
    pub url: String,
    /// Modification time of the file (seconds since the epoch).
    pub time_file: i64,
    /// Build time from the header (seconds since the epoch).
    pub time_build: i64,
    /// Size of the .rpm file in bytes.
    pub size_package: i64,
    /// Installed size in bytes (`LONGSIZE`, else `SIZE`; 0 when neither).
    pub size_installed: i64,
    /// Uncompressed payload size in bytes (`LONGARCHIVESIZE`, else `ARCHIVESIZE`; 0 when
    /// neither).
    pub size_archive: i64,
    /// Path relative to the repository root, e.g. `Packages/foo-1.0-1.noarch.rpm`.
    pub location_href: String,
    /// `xml:base` of the location; empty when none.
    pub location_base: String,
    /// License (`RPMTAG_LICENSE`).
    pub license: String,
    /// Vendor (`RPMTAG_VENDOR`).
    pub vendor: String,
    /// Group (`RPMTAG_GROUP`, C-locale text).
    pub group: String,
    /// Host the package was built on.
    pub buildhost: String,
    /// File name of the source package; empty for a source package.
    pub sourcerpm: String,
    /// `rpm:header-range start`: offset of the main header.
    pub header_start: i64,
    /// `rpm:header-range end`: offset of the payload.
    pub header_end: i64,
    /// `rpm:provides` entries, in the order written.
    pub provides: Vec<Dependency>,
    /// `rpm:requires` entries (filtered as createrepo_c does), in the order written.
    pub requires: Vec<Dependency>,
    /// `rpm:conflicts` entries.
    pub conflicts: Vec<Dependency>,
    /// `rpm:obsoletes` entries.
    pub obsoletes: Vec<Dependency>,
    /// `rpm:suggests` entries (including legacy weak ones).
    pub suggests: Vec<Dependency>,
    /// `rpm:enhances` entries (including legacy weak ones).
    pub enhances: Vec<Dependency>,
    /// `rpm:recommends` entries (including legacy strong ones).
    pub recommends: Vec<Dependency>,
    /// `rpm:supplements` entries (including legacy strong ones).
    pub supplements: Vec<Dependency>,
    /// All files, header order.
    pub files: Vec<PackageFile>,
    /// Kept changelog entries, oldest first (the order of other.xml).
    pub changelogs: Vec<Changelog>,
}

/// A dependency entry after createrepo_c's filtering and EVR splitting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Dependency {
    /// The capability name (a package name, a file path, `foo(bar)`, ...).
    pub name: String,
    /// `EQ`, `LT`, `LE`, `GT`, `GE`, or `None` when the low flag bits say nothing.
    pub flags: Option<DepFlag>,
    /// Epoch from the version string (`"0"` when it names none); `None` when the version
    /// string is empty or absent (§3.3).
    pub epoch: Option<String>,
    /// Version: the text after the epoch up to the first `-` (may be empty, as in `5:`); `None`
    /// when the version string is empty or absent.
    pub version: Option<String>,
    /// Release: the text after the first `-`; `None` when that is empty or there is no `-`.
    pub release: Option<String>,
    /// `pre="1"` (requires only).
    pub pre: bool,
}

/// Comparison operator of a versioned dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DepFlag {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `=`
    Eq,
    /// `>=`
    Ge,
    /// `>`
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
    /// Last path component.
    pub basename: String,
    /// Directory, ghost or anything else.
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
    /// Anything that is neither a directory nor a ghost (regular file, symlink, device, ...);
    /// no `type` attribute in filelists.xml.
    #[default]
    File,
    /// A directory (`S_IFDIR` mode), even when it is also a ghost.
    Dir,
    /// A `%ghost` file (`RPMFILE_GHOST`) that is not a directory.
    Ghost,
}

/// One changelog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Changelog {
    /// Author line, e.g. `Jane Doe <jane@example.org> - 1.0-1`.
    pub author: String,
    /// Seconds since the epoch, after createrepo_c's duplicate-timestamp bump.
    pub date: i64,
    /// Entry text.
    pub text: String,
}

/// Is `path` one of the files listed in primary.xml (createrepo_c `cr_is_primary`, §2.3)?
pub fn is_primary_file(path: &str) -> bool {
    path.starts_with("/etc/") || path == "/usr/lib/sendmail" || path.contains("bin/")
}

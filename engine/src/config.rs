//! Per-repository settings of the metadata the engine publishes.

use std::time::Duration;

use crate::trust::{PackagePolicy, Signer, TrustedKeys};
pub use rpmbucket_repodata::compress::Compression;

/// What a repository's metadata looks like. Defaults are createrepo_c 0.17.3's (gzip XML,
/// sqlite databases, 10 changelog entries), which every client from EL7 yum on reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoConfig {
    /// Compression of primary/filelists/other XML.
    pub compression: Compression,
    /// Also publish the sqlite databases (`primary_db`, …; bz2-compressed like createrepo_c).
    pub database: bool,
    /// How long the files of a replaced generation stay in the bucket (clients that read the
    /// previous `repomd.xml` are still downloading them).
    pub grace_period: Duration,
    /// Newest changelog entries kept per package (createrepo_c `--changelog-limit`); negative
    /// keeps all.
    pub changelog_limit: i32,
    /// Sign `repomd.xml` with this key (`repomd.xml.asc`) and publish its public keys
    /// (`repomd.xml.key`). The key is the indexer's, never stored.
    pub signer: Option<Signer>,
    /// Which packages are accepted (stored with the repository).
    pub package_policy: PackagePolicy,
    /// The keys trusted to sign packages (stored with the repository).
    pub trusted_keys: TrustedKeys,
    /// Retention: which versions of each name and arch stay in the metadata.
    pub retention: Retention,
    /// Write the browsable `index.html` after each publish.
    pub page: bool,
    /// Repositories with more packages get a page without the list (not stored; the
    /// indexer's own limit, `RPMBUCKET_PAGE_LIMIT`).
    pub page_limit: usize,
    /// Largest package the upload faces accept into this repository, in bytes (stored;
    /// `rpmbucket config REPO max-upload-size=BYTES`); `None`: only the server's own limit.
    /// The smaller of the two applies.
    pub max_upload_size: Option<u64>,
}

/// A named set of metadata settings: what createrepo_c writes by default in a given era.
/// Stored as the settings it stands for (compression, sqlite), so an explicit override after
/// a profile (`profile=modern sqlite=on`) is kept, and [`Profile::of`] names the settings
/// again when they match one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// createrepo_c 0.x and `createrepo_c --compatibility` (≥ 1.0.4): gzip XML and the bzip2
    /// sqlite databases. Every client from EL7's yum on reads it. The default.
    Compat,
    /// createrepo_c 1.x defaults: zstd XML (`primary.xml.zst`, …), no sqlite databases. dnf
    /// on Fedora ≥ 30 / EL ≥ 8.4 and zypper read it; EL7's yum cannot.
    Modern,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 2] = [Profile::Compat, Profile::Modern];

    /// `compat` or `modern`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Compat => "compat",
            Profile::Modern => "modern",
        }
    }

    /// Parses [`Profile::name`].
    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name.trim()))
    }

    /// XML compression of the profile.
    pub fn compression(self) -> Compression {
        match self {
            Profile::Compat => Compression::Gz,
            Profile::Modern => Compression::Zstd,
        }
    }

    /// Does the profile publish the sqlite databases?
    pub fn database(self) -> bool {
        self == Profile::Compat
    }

    /// Set `config`'s compression and databases to the profile's.
    pub fn apply(self, config: &mut RepoConfig) {
        config.compression = self.compression();
        config.database = self.database();
    }

    /// The profile whose settings `config` has, `None` when they were overridden
    /// (`profile=modern sqlite=on`, `compression=xz`).
    pub fn of(config: &RepoConfig) -> Option<Profile> {
        Profile::ALL
            .into_iter()
            .find(|p| p.compression() == config.compression && p.database() == config.database)
    }
}

/// Retention rules (stored per repository; `rpmbucket config REPO keep-versions=N`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Retention {
    /// Keep the N newest EVRs per name and arch (rpm's ordering); `None` keeps all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_versions: Option<u32>,
    /// Never drop a package uploaded less than this many days ago.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_days: Option<u32>,
}

impl Retention {
    /// Does it drop anything at all?
    pub fn is_active(&self) -> bool {
        self.keep_versions.is_some()
    }
}

/// Default of [`RepoConfig::page_limit`].
pub const PAGE_LIMIT: usize = 10_000;

impl Default for RepoConfig {
    fn default() -> RepoConfig {
        RepoConfig {
            compression: Compression::Gz,
            database: true,
            grace_period: Duration::from_secs(3600),
            changelog_limit: 10,
            signer: None,
            package_policy: PackagePolicy::Off,
            trusted_keys: TrustedKeys::default(),
            retention: Retention::default(),
            page: true,
            page_limit: PAGE_LIMIT,
            max_upload_size: None,
        }
    }
}

impl RepoConfig {
    /// Read `RPMBUCKET_PROFILE` (`compat`, `modern`), then `RPMBUCKET_COMPRESSION` (`gz`,
    /// `zstd`, `xz`, `bz2`, `none`) and `RPMBUCKET_DATABASE` (`1`/`0`, `true`/`false`,
    /// `yes`/`no`) which override the profile's, `RPMBUCKET_GRACE_SECONDS` and
    /// `RPMBUCKET_CHANGELOG_LIMIT`; unset or unparsable values keep the default (with a warning).
    /// These are the settings of repositories this indexer creates; an existing repository
    /// keeps the ones stored with it.
    pub fn from_env() -> RepoConfig {
        let mut c = RepoConfig::default();
        if let Some(v) = env("RPMBUCKET_PROFILE") {
            match Profile::from_name(&v) {
                Some(p) => p.apply(&mut c),
                None => {
                    tracing::warn!(value = %v, "unknown RPMBUCKET_PROFILE (compat, modern), keeping compat")
                }
            }
        }
        if let Some(v) = env("RPMBUCKET_COMPRESSION") {
            match Compression::from_name(&v) {
                Some(x) => c.compression = x,
                None => tracing::warn!(value = %v, "unknown RPMBUCKET_COMPRESSION, keeping gz"),
            }
        }
        if let Some(v) = env("RPMBUCKET_DATABASE") {
            match parse_bool(&v) {
                Some(x) => c.database = x,
                None => tracing::warn!(value = %v, "RPMBUCKET_DATABASE is not a boolean"),
            }
        }
        if let Some(v) = env("RPMBUCKET_GRACE_SECONDS") {
            match v.parse::<u64>() {
                Ok(x) => c.grace_period = Duration::from_secs(x),
                Err(_) => tracing::warn!(value = %v, "RPMBUCKET_GRACE_SECONDS is not a number"),
            }
        }
        if let Some(v) = env("RPMBUCKET_CHANGELOG_LIMIT") {
            match v.parse::<i32>() {
                Ok(x) => c.changelog_limit = x,
                Err(_) => tracing::warn!(value = %v, "RPMBUCKET_CHANGELOG_LIMIT is not a number"),
            }
        }
        if let Some(v) = env("RPMBUCKET_PAGE_LIMIT") {
            match v.parse::<usize>() {
                Ok(x) => c.page_limit = x,
                Err(_) => tracing::warn!(value = %v, "RPMBUCKET_PAGE_LIMIT is not a number"),
            }
        }
        c
    }

    /// Builder-style setter.
    pub fn with_compression(mut self, compression: Compression) -> RepoConfig {
        self.compression = compression;
        self
    }

    /// Builder-style setter: the profile's compression and databases.
    pub fn with_profile(mut self, profile: Profile) -> RepoConfig {
        profile.apply(&mut self);
        self
    }

    /// Builder-style setter.
    pub fn with_database(mut self, database: bool) -> RepoConfig {
        self.database = database;
        self
    }

    /// Builder-style setter.
    pub fn with_signer(mut self, signer: Option<Signer>) -> RepoConfig {
        self.signer = signer;
        self
    }

    /// Builder-style setter.
    pub fn with_package_policy(
        mut self,
        policy: PackagePolicy,
        trusted: TrustedKeys,
    ) -> RepoConfig {
        self.package_policy = policy;
        self.trusted_keys = trusted;
        self
    }

    /// Builder-style setter.
    pub fn with_grace_period(mut self, grace_period: Duration) -> RepoConfig {
        self.grace_period = grace_period;
        self
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_name_their_settings() {
        assert_eq!(Profile::of(&RepoConfig::default()), Some(Profile::Compat));
        let modern = RepoConfig::default().with_profile(Profile::Modern);
        assert_eq!(
            (modern.compression, modern.database),
            (Compression::Zstd, false)
        );
        assert_eq!(Profile::of(&modern), Some(Profile::Modern));
        // An override after the profile: no profile any more.
        assert_eq!(Profile::of(&modern.clone().with_database(true)), None);
        assert_eq!(
            Profile::of(&RepoConfig::default().with_compression(Compression::Xz)),
            None
        );
        for p in Profile::ALL {
            assert_eq!(Profile::from_name(p.name()), Some(p));
            assert_eq!(Profile::of(&RepoConfig::default().with_profile(p)), Some(p));
        }
        assert_eq!(Profile::from_name(" Modern "), Some(Profile::Modern));
        assert_eq!(Profile::from_name("fast"), None);
    }

    #[test]
    fn bools() {
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}

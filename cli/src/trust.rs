//! `--signing-key`, `--package-policy` and `--trusted-keys`: signed metadata and the
//! package-signature policy (see the README, "Signed metadata and package policy").

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rpmbucket_engine::{PackagePolicy, RepoConfig, Signer, TrustedKeys};

/// Signing of `repomd.xml`.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Signing")]
pub struct SigningArgs {
    /// Sign repodata/repomd.xml (repomd.xml.asc) with this OpenPGP key file, as written by
    /// `gpg --export-secret-keys --armor` (no passphrase; RSA or Ed25519), and publish its
    /// public keys as repodata/repomd.xml.key. The newest secret key of the file signs;
    /// public keys appended to the file are published too (key rotation).
    #[arg(long, value_name = "FILE", env = "RPMBUCKET_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,
}

impl SigningArgs {
    /// The loaded key, if one is configured.
    pub fn signer(&self) -> anyhow::Result<Option<Signer>> {
        self.signing_key
            .as_deref()
            .map(|p| Signer::from_file(p).map_err(anyhow::Error::from))
            .transpose()
    }
}

/// The package-signature policy stored with each repository.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Package signatures")]
pub struct PolicyArgs {
    /// Which packages are published: `off` (all), `signed` (a valid header signature by a
    /// trusted key or the repository's signing key), `keys` (a valid header signature by a
    /// key of --trusted-keys). Others are rejected with their reason and kept in the store.
    #[arg(long, value_name = "POLICY", value_parser = parse_policy)]
    pub package_policy: Option<PackagePolicy>,

    /// Armored public keys trusted to sign packages (`gpg --export --armor`).
    #[arg(long, value_name = "FILE")]
    pub trusted_keys: Option<PathBuf>,
}

fn parse_policy(s: &str) -> Result<PackagePolicy, String> {
    PackagePolicy::from_name(s).ok_or_else(|| format!("unknown policy {s:?} (off, signed, keys)"))
}

impl PolicyArgs {
    /// Is any option given?
    pub fn is_set(&self) -> bool {
        self.package_policy.is_some() || self.trusted_keys.is_some()
    }

    /// `config` with this policy.
    pub fn apply(&self, config: RepoConfig) -> anyhow::Result<RepoConfig> {
        let trusted = match &self.trusted_keys {
            Some(p) => read_keys(p)?,
            None => TrustedKeys::default(),
        };
        let policy = self.package_policy.unwrap_or(PackagePolicy::Off);
        if policy == PackagePolicy::Keys && trusted.is_empty() {
            anyhow::bail!("--package-policy keys needs --trusted-keys FILE with at least one key");
        }
        Ok(config.with_package_policy(policy, trusted))
    }
}

fn read_keys(path: &Path) -> anyhow::Result<TrustedKeys> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading trusted keys {}", path.display()))?;
    TrustedKeys::from_armored(&text).with_context(|| format!("trusted keys {}", path.display()))
}

/// Sign a directory repository written by `rpmbucket index DIR`: `repomd.xml.key` first,
/// then `repomd.xml.asc` of the `repomd.xml` just published (each replaced by a rename).
pub fn sign_directory(dir: &Path, signer: &Signer) -> anyhow::Result<()> {
    let repodata = dir.join("repodata");
    let repomd = std::fs::read(repodata.join("repomd.xml"))
        .with_context(|| format!("reading {}", repodata.join("repomd.xml").display()))?;
    let write = |name: &str, body: &[u8]| -> anyhow::Result<()> {
        let tmp = repodata.join(format!(".{name}.tmp"));
        let dst = repodata.join(name);
        std::fs::write(&tmp, body).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &dst).with_context(|| format!("writing {}", dst.display()))?;
        Ok(())
    };
    write("repomd.xml.key", signer.public_armored().as_bytes())?;
    write("repomd.xml.asc", signer.sign(&repomd)?.as_bytes())?;
    Ok(())
}

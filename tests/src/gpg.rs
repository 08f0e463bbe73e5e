//! Throw-away OpenPGP keys made by the real `gpg`, and packages signed by the real `rpmsign`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};

use crate::run;

/// A private `GNUPGHOME` in a temporary directory (removed on drop).
#[derive(Debug)]
pub struct Gpg {
    home: tempfile::TempDir,
}

/// Key algorithms of [`Gpg::generate`] (`gpg --quick-gen-key` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algo {
    /// RSA, 2048 bits (`rsa2048`).
    Rsa,
    /// Ed25519 (`ed25519`).
    Ed25519,
}

impl Gpg {
    /// An empty keyring.
    pub fn new() -> Result<Gpg> {
        let home = tempfile::Builder::new().prefix("gpg-").tempdir()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(home.path(), fs::Permissions::from_mode(0o700))?;
        }
        Ok(Gpg { home })
    }

    /// The `GNUPGHOME` directory.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `gpg` with this home, batch mode, no passphrase.
    pub fn command(&self) -> Command {
        let mut c = Command::new("gpg");
        c.env("GNUPGHOME", self.home.path()).args([
            "--batch",
            "--no-tty",
            "--passphrase",
            "",
            "--pinentry-mode",
            "loopback",
        ]);
        c
    }

    /// `gpg --quick-gen-key NAME ALGO sign never`: a signing key without passphrase. Returns
    /// its fingerprint.
    pub fn generate(&self, name: &str, algo: Algo) -> Result<String> {
        let a = match algo {
            Algo::Rsa => "rsa2048",
            Algo::Ed25519 => "ed25519",
        };
        let uid = format!(
            "{name} <{}@example.org>",
            name.to_lowercase().replace(' ', "-")
        );
        run(self
            .command()
            .args(["--quick-gen-key", &uid, a, "sign", "never"]))?;
        let out = run(self
            .command()
            .args(["--with-colons", "--list-secret-keys", &uid]))?;
        out.lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_string())
            })
            .context("no fingerprint in gpg --list-secret-keys")
    }

    /// `gpg --export-secret-keys --armor FPR...`.
    pub fn export_secret(&self, fprs: &[&str]) -> Result<String> {
        run(self
            .command()
            .args(["--armor", "--export-secret-keys"])
            .args(fprs))
    }

    /// `gpg --export --armor FPR...`.
    pub fn export_public(&self, fprs: &[&str]) -> Result<String> {
        run(self.command().args(["--armor", "--export"]).args(fprs))
    }

    /// Write `text` to a file in the home directory and return its path.
    pub fn write(&self, name: &str, text: &str) -> Result<PathBuf> {
        let p = self.home.path().join(name);
        fs::write(&p, text)?;
        Ok(p)
    }

    /// `gpg --verify SIG DATA` in a fresh keyring holding only `public_keys`; Ok when good.
    pub fn verify_with(public_keys: &str, sig: &Path, data: &Path) -> Result<String> {
        let g = Gpg::new()?;
        let keys = g.write("keys.asc", public_keys)?;
        run(g.command().arg("--import").arg(&keys))?;
        let out = g.command().arg("--verify").arg(sig).arg(data).output()?;
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        if !out.status.success() {
            bail!("gpg --verify failed: {err}");
        }
        Ok(err)
    }

    /// Sign `rpm` in place with `rpmsign --addsign` and the key `fpr` of this keyring.
    pub fn rpmsign(&self, rpm: &Path, fpr: &str) -> Result<()> {
        run(Command::new("rpmsign")
            .arg("--addsign")
            .args(["--define", "__gpg /usr/bin/gpg"])
            .args(["--define", &format!("_gpg_name {fpr}")])
            .arg("--define")
            .arg(format!("_gpg_path {}", self.home.path().display()))
            .arg(rpm))?;
        Ok(())
    }
}

/// Flip the last byte of a package's header signature packet (inside its signature MPI).
pub fn corrupt_signature(rpm: &Path) -> Result<()> {
    use rpmbucket_repodata::header::{sigtag, RpmHeaders, TagData};
    let mut bytes = fs::read(rpm)?;
    let headers = RpmHeaders::parse(&bytes)?;
    let sig = [sigtag::RSA, sigtag::DSA]
        .iter()
        .find_map(|t| match headers.signature().entry(*t) {
            Some(TagData::Bin(b)) => Some(b.clone()),
            _ => None,
        })
        .context("package has no header signature")?;
    let at = bytes
        .windows(sig.len())
        .position(|w| w == sig.as_slice())
        .context("signature bytes not found in the file")?
        + sig.len()
        - 1;
    bytes[at] ^= 0x55;
    fs::write(rpm, bytes)?;
    Ok(())
}

/// Copies of fixture packages signed for policy tests, in `dir`: `good-rsa.rpm` and
/// `good-ed.rpm` (by the trusted RSA and Ed25519 keys), `unsigned.rpm`, `other.rpm` (another
/// key) and `corrupt.rpm` (trusted RSA key, signature damaged). Returns the armored public keys
/// of the trusted keys and the key id of the other key.
pub fn policy_packages(gpg: &Gpg, dir: &Path) -> Result<PolicyPackages> {
    use crate::{fixture, fx};
    let rsa = gpg.generate("Release RSA", Algo::Rsa)?;
    let ed = gpg.generate("Release Ed", Algo::Ed25519)?;
    let other = gpg.generate("Someone Else", Algo::Rsa)?;
    let copy = |name: &str, from: &str| -> Result<PathBuf> {
        let p = dir.join(name);
        fs::copy(fixture(from), &p)?;
        Ok(p)
    };
    let good_rsa = copy("good-rsa.rpm", fx::LIB_1_0)?;
    gpg.rpmsign(&good_rsa, &rsa)?;
    let good_ed = copy("good-ed.rpm", fx::BASIC)?;
    gpg.rpmsign(&good_ed, &ed)?;
    let unsigned = copy("unsigned.rpm", fx::META)?;
    let by_other = copy("other.rpm", fx::UTF8)?;
    gpg.rpmsign(&by_other, &other)?;
    let corrupt = copy("corrupt.rpm", fx::EPOCH)?;
    gpg.rpmsign(&corrupt, &rsa)?;
    corrupt_signature(&corrupt)?;
    Ok(PolicyPackages {
        trusted: gpg.export_public(&[&rsa, &ed])?,
        other_key_id: other[other.len() - 16..].to_string(),
        good: vec![good_rsa, good_ed],
        unsigned,
        by_other,
        corrupt,
    })
}

/// What [`policy_packages`] made.
#[derive(Debug)]
pub struct PolicyPackages {
    /// Armored public keys of the trusted RSA and Ed25519 keys.
    pub trusted: String,
    /// Upper-case key id of the untrusted key.
    pub other_key_id: String,
    /// Signed by a trusted key (RSA, Ed25519).
    pub good: Vec<PathBuf>,
    /// `unsigned.rpm`: no signature.
    pub unsigned: PathBuf,
    /// `other.rpm`: signed by the untrusted key.
    pub by_other: PathBuf,
    /// `corrupt.rpm`: signed by the trusted RSA key, signature damaged.
    pub corrupt: PathBuf,
}

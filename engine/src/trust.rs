//! Signed metadata and the package-signature policy of a repository.
//!
//! With a signing key, each publish writes `repodata/repomd.xml.key` (the key file's public
//! keys) before the `repomd.xml` swap and `repodata/repomd.xml.asc` (a detached signature of
//! exactly the `repomd.xml` bytes) together with it. The two objects cannot change in one
//! step: readers (dnf/librepo, zypper) fetch `repomd.xml` and then `repomd.xml.asc`, and a
//! reader sees a mismatched pair exactly when one of the two writes falls between its two
//! GETs, whatever their order. So the gap between the two writes is made as short as the
//! store allows: the signature is made before the swap and both are written with
//! [`ObjectStore::put_pair`](crate::store::ObjectStore::put_pair) (the local store renames the two prepared files one after the
//! other, microseconds apart; on S3 the `.asc` PUT follows the swap's). (A `.asc` holding two
//! signatures, of the old and the new `repomd.xml`, does not help: librepo judges only the
//! first signature of the file, and `gpg --verify` fails on any bad one.) The `.asc` write is
//! followed by a HEAD of `repomd.xml`: if another publisher swapped in between, its bytes are
//! read back and signed again, so the last `.asc` written always matches the last `repomd.xml`
//! (see the README, "Signed metadata"). Both carry the short Cache-Control of `repomd.xml`,
//! so a cache can hold a mismatched pair for at most that long.
//!
//! The writes themselves (key file, signature, its removal) are the publish module's
//! (`publish::sign`); this module holds the keys, the policy and the checks.
//!
//! The package policy ([`PackagePolicy`]) is checked on every package read: the whole object
//! is streamed, the header signature verified against the keyring over the main header bytes
//! and the payload checked against the signed payload digest. A refused package is rejected
//! (not published, listed with its reason, its object kept).

use std::fmt;
use std::sync::Arc;

use rpmbucket_repodata::header::RpmHeaders;
use rpmbucket_repodata::trust::{Keyring, Refusal, SigningKey, TrustError};

use crate::error::Result;

/// Name of the detached signature of `repomd.xml`.
pub const SIGNATURE_FILE: &str = "repomd.xml.asc";
/// Name of the published public keys.
pub const KEY_FILE: &str = "repomd.xml.key";

/// Which packages a repository accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PackagePolicy {
    /// No signature check (the default).
    #[default]
    Off,
    /// A valid header signature by any key the repository knows: its trusted keys or the keys
    /// it publishes for its metadata.
    Signed,
    /// A valid header signature by one of the repository's trusted keys.
    Keys,
}

impl PackagePolicy {
    /// `off`, `signed`, `keys`.
    pub fn name(self) -> &'static str {
        match self {
            PackagePolicy::Off => "off",
            PackagePolicy::Signed => "signed",
            PackagePolicy::Keys => "keys",
        }
    }

    /// Parse a name of [`PackagePolicy::name`].
    pub fn from_name(s: &str) -> Option<PackagePolicy> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" | "" => Some(PackagePolicy::Off),
            "signed" => Some(PackagePolicy::Signed),
            "keys" => Some(PackagePolicy::Keys),
            _ => None,
        }
    }
}

impl fmt::Display for PackagePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A loaded signing key and the armored public keys it publishes.
#[derive(Clone)]
pub struct Signer {
    key: Arc<SigningKey>,
    public: Arc<str>,
    published: Vec<String>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("fingerprint", &self.key.fingerprint())
            .field("published", &self.published)
            .finish()
    }
}

impl PartialEq for Signer {
    fn eq(&self, other: &Signer) -> bool {
        self.key.fingerprint() == other.key.fingerprint() && self.public == other.public
    }
}
impl Eq for Signer {}

impl Signer {
    /// From the text of a key file (`gpg --export-secret-keys --armor`, optionally followed
    /// by public keys to publish too).
    pub fn from_armored(text: &str) -> Result<Signer, TrustError> {
        let key = SigningKey::from_armored(text)?;
        let public: Arc<str> = key.public_keys_armored()?.into();
        let published = key.keyring().fingerprints();
        Ok(Signer {
            key: Arc::new(key),
            public,
            published,
        })
    }

    /// Read a key file.
    pub fn from_file(path: &std::path::Path) -> Result<Signer, SignerFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| SignerFileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Signer::from_armored(&text).map_err(|source| SignerFileError::Key {
            path: path.display().to_string(),
            source: Box::new(source),
        })
    }

    /// Fingerprint of the signing key.
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint()
    }

    /// Fingerprints of the published keys.
    pub fn published(&self) -> &[String] {
        &self.published
    }

    /// The published keys as a keyring.
    pub fn keyring(&self) -> Keyring {
        self.key.keyring()
    }

    /// Armored public keys (`repomd.xml.key`).
    pub fn public_armored(&self) -> &str {
        &self.public
    }

    /// Armored detached signature of `data`.
    pub fn sign(&self, data: &[u8]) -> Result<String, TrustError> {
        self.key.sign_detached(data)
    }
}

/// Error of [`Signer::from_file`].
#[derive(Debug, thiserror::Error)]
pub enum SignerFileError {
    /// The key file could not be read.
    #[error("reading signing key {path}: {source}")]
    Read {
        /// The key file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but holds no usable signing key.
    #[error("signing key {path}: {source}")]
    Key {
        /// The key file.
        path: String,
        /// What is wrong with the key.
        #[source]
        source: Box<TrustError>,
    },
}

/// The trusted package keys of a repository (armored text, kept in its stored settings).
#[derive(Clone, Default)]
pub struct TrustedKeys {
    armored: Arc<str>,
    ring: Arc<Keyring>,
}

impl fmt::Debug for TrustedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.ring.fingerprints()).finish()
    }
}

impl PartialEq for TrustedKeys {
    fn eq(&self, other: &TrustedKeys) -> bool {
        self.armored == other.armored
    }
}
impl Eq for TrustedKeys {}

impl TrustedKeys {
    /// Parse armored public keys (several blocks may follow each other).
    pub fn from_armored(text: &str) -> Result<TrustedKeys, TrustError> {
        let ring = Keyring::from_armored(text)?;
        Ok(TrustedKeys {
            armored: text.trim().into(),
            ring: Arc::new(ring),
        })
    }

    /// The armored text.
    pub fn armored(&self) -> &str {
        &self.armored
    }

    /// The keys.
    pub fn keyring(&self) -> &Keyring {
        &self.ring
    }

    /// No keys?
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }
}

/// The keyring a package must be signed by under `policy`; `None` for [`PackagePolicy::Off`].
pub fn policy_keyring(
    policy: PackagePolicy,
    trusted: &TrustedKeys,
    signer: Option<&Signer>,
) -> Option<Arc<Keyring>> {
    match policy {
        PackagePolicy::Off => None,
        PackagePolicy::Keys => Some(trusted.ring.clone()),
        PackagePolicy::Signed => Some(Arc::new(match signer {
            Some(s) => trusted.ring.union(&s.keyring()),
            None => (*trusted.ring).clone(),
        })),
    }
}

/// Check a package read in full: `headers` parsed from `header`, its lead and headers (at
/// least). The payload digest must have been checked by the caller. Returns why the package
/// is refused.
pub fn check_package(
    ring: &Keyring,
    headers: &RpmHeaders,
    header: &[u8],
) -> std::result::Result<(), Refusal> {
    ring.verify_package(headers, header).map(|_| ())
}

//! OpenPGP for repositories: the detached signature of `repomd.xml` (`repomd.xml.asc`), the
//! published public keys (`repomd.xml.key`) and the check of a package's header signature.
//!
//! Keys are read as `gpg --export-secret-keys --armor` and `gpg --export --armor` write them
//! (RSA, Ed25519 and the other algorithms of the `pgp` crate); several armored blocks may be
//! concatenated in one file. Pure: bytes in, bytes out.
//!
//! **Rotation.** A key file may hold several keys. The newest secret key that can sign (by
//! creation time) signs; every key of the file, secret or public, is published. So a rotation
//! is: add the new key's *public* part to the file (clients that refresh the published keys
//! learn it while the old key still signs), then add the new *secret* key (it signs from then
//! on), and later drop the old key.
//!
//! **Packages.** [`Keyring::verify_package`] checks the header-only signatures rpm writes
//! (`RSAHEADER` 268 for RSA, `DSAHEADER` 267 for DSA/ECDSA/EdDSA, `OPENPGP` 278 of rpm 6)
//! against the keyring over the exact bytes of the main header. The main header records the
//! payload's digest (`PAYLOADDIGEST`), so a valid header signature binds the payload once the
//! caller has checked that digest ([`crate::parse::FileHasher`] does); a package without a
//! payload digest is refused, as its signature would not cover the payload.

use std::fmt;

use pgp::composed::{ArmorOptions, Deserializable, DetachedSignature, SignedPublicKey};
use pgp::composed::{SignedPublicSubKey, SignedSecretKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{
    Packet, PacketParser, SecretKey, SecretSubkey, Signature, SignatureConfig, SignatureType,
    Subpacket, SubpacketData,
};
use pgp::types::{KeyDetails, KeyVersion, Password, Timestamp};

use crate::header::{sigtag, tag, RpmHeaders};

/// The signature-header tag of rpm 6's OpenPGP signatures (one or more v4/v6 packets).
const SIGTAG_OPENPGP: u32 = 278;

/// What can go wrong with a key file or a signature.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// No `-----BEGIN PGP ... KEY BLOCK-----` in the text.
    #[error("no armored OpenPGP key block found")]
    NoKeyBlock,
    /// An armored block could not be read.
    #[error("reading the {what} key block: {source}")]
    Parse {
        /// `"secret"` or `"public"`.
        what: &'static str,
        /// The OpenPGP library's error.
        #[source]
        source: pgp::errors::Error,
    },
    /// A key's self-signatures do not verify.
    #[error("key {fingerprint}: invalid self-signature: {source}")]
    Binding {
        /// Upper-case hex fingerprint of the primary key.
        fingerprint: String,
        /// The OpenPGP library's error.
        #[source]
        source: pgp::errors::Error,
    },
    /// The file has no secret key that may sign.
    #[error("no secret key that can sign in the key file (export it with gpg --export-secret-keys --armor)")]
    NoSigningKey,
    /// Signing failed (for example a passphrase-protected key).
    #[error("signing with key {fingerprint} failed (keys must be exported without a passphrase): {source}")]
    Sign {
        /// Upper-case hex fingerprint of the signing key.
        fingerprint: String,
        /// The OpenPGP library's error.
        #[source]
        source: pgp::errors::Error,
    },
    /// Armoring or serialising failed.
    #[error("writing OpenPGP data: {0}")]
    Write(#[source] pgp::errors::Error),
    /// A detached signature that does not verify.
    #[error("bad signature: {0}")]
    BadSignature(String),
}

type Result<T, E = TrustError> = std::result::Result<T, E>;

/// A secret key (primary or subkey) able to sign.
#[derive(Clone)]
enum Secret {
    Primary(SecretKey),
    Sub(SecretSubkey),
}

impl Secret {
    fn created(&self) -> u32 {
        match self {
            Secret::Primary(k) => k.created_at().as_secs(),
            Secret::Sub(k) => k.created_at().as_secs(),
        }
    }

    fn fingerprint(&self) -> String {
        match self {
            Secret::Primary(k) => format!("{:X}", k.fingerprint()),
            Secret::Sub(k) => format!("{:X}", k.fingerprint()),
        }
    }

    fn sign(&self, data: &[u8], now: u32) -> pgp::errors::Result<Signature> {
        match self {
            Secret::Primary(k) => sign_with(k, data, now),
            Secret::Sub(k) => sign_with(k, data, now),
        }
    }
}

fn sign_with<K: pgp::types::SigningKey + KeyDetails>(
    key: &K,
    data: &[u8],
    now: u32,
) -> pgp::errors::Result<Signature> {
    let hash = HashAlgorithm::Sha256;
    let mut cfg = match key.version() {
        KeyVersion::V6 => {
            // v6 signatures carry a salt; the repository signing path uses v4 keys (what gpg
            // 2.2 makes), so a fixed-length salt from the data digest is not needed: refuse.
            return Err(pgp::errors::Error::Unsupported {
                message: "v6 keys are not supported for signing".into(),
                backtrace: None,
            });
        }
        _ => SignatureConfig::v4(SignatureType::Binary, key.algorithm(), hash),
    };
    cfg.hashed_subpackets = vec![
        Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::from_secs(
            now,
        )))?,
        Subpacket::regular(SubpacketData::IssuerFingerprint(key.fingerprint()))?,
    ];
    cfg.unhashed_subpackets = vec![Subpacket::regular(SubpacketData::IssuerKeyId(
        key.legacy_key_id(),
    ))?];
    cfg.sign(key, &Password::empty(), data)
}

/// A repository signing key: the newest secret key of a key file that can sign, and the
/// public keys to publish.
#[derive(Clone)]
pub struct SigningKey {
    secret: Secret,
    /// Every key of the file (public parts), in file order.
    public: Vec<SignedPublicKey>,
}

impl fmt::Debug for SigningKey {
    /// Never prints secret material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("fingerprint", &self.fingerprint())
            .field("published_keys", &self.public.len())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Read a key file: armored secret keys (and optionally public keys to publish alongside).
    /// Checks that the chosen key signs without a passphrase.
    pub fn from_armored(text: &str) -> Result<SigningKey> {
        let blocks = parse_blocks(text)?;
        let mut best: Option<Secret> = None;
        for key in &blocks.secret {
            for cand in signing_candidates(key) {
                if best.as_ref().is_none_or(|b| cand.created() >= b.created()) {
                    best = Some(cand);
                }
            }
        }
        let secret = best.ok_or(TrustError::NoSigningKey)?;
        let mut public: Vec<SignedPublicKey> = Vec::new();
        for k in blocks
            .secret
            .iter()
            .map(SignedSecretKey::to_public_key)
            .chain(blocks.public)
        {
            if !public.iter().any(|p| p.fingerprint() == k.fingerprint()) {
                public.push(k);
            }
        }
        let key = SigningKey { secret, public };
        // Fail now, not at the first publish, on a key that cannot sign.
        key.sign_detached(b"rpmbucket key check")?;
        Ok(key)
    }

    /// Fingerprint (upper-case hex) of the key that signs.
    pub fn fingerprint(&self) -> String {
        self.secret.fingerprint()
    }

    /// An ASCII-armored detached signature of `data` (what `gpg --armor --detach-sign`
    /// writes), made now.
    pub fn sign_detached(&self, data: &[u8]) -> Result<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs().min(u64::from(u32::MAX)) as u32);
        let sig = self
            .secret
            .sign(data, now)
            .map_err(|source| TrustError::Sign {
                fingerprint: self.fingerprint(),
                source,
            })?;
        DetachedSignature::new(sig)
            .to_armored_string(ArmorOptions::default())
            .map_err(TrustError::Write)
    }

    /// The public keys of the key file, as one armored block (`repomd.xml.key`).
    pub fn public_keys_armored(&self) -> Result<String> {
        armor_public(&self.public)
    }

    /// The public keys as a keyring (to verify what this key signed).
    pub fn keyring(&self) -> Keyring {
        Keyring {
            keys: self.public.clone(),
        }
    }
}

/// Public keys trusted to sign (packages, or `repomd.xml` in tests).
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
}

/// Why a package is refused by a signature policy. `Display` is the reason published in the
/// rejected list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No header signature at all.
    Unsigned,
    /// Signed by a key not in the keyring (upper-case hex key id).
    UnknownKey(String),
    /// A signature by a known key that does not verify, or that cannot be read.
    BadSignature(String),
    /// No payload digest in the header: a header signature would not cover the payload.
    NoPayloadDigest,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Unsigned => write!(f, "unsigned"),
            Refusal::UnknownKey(id) => write!(f, "unknown key 0x{id}"),
            Refusal::BadSignature(why) => write!(f, "bad signature ({why})"),
            Refusal::NoPayloadDigest => write!(
                f,
                "no payload digest (a header signature would not cover the payload)"
            ),
        }
    }
}

impl Keyring {
    /// Read armored public (or secret: their public parts are taken) keys; blocks may be
    /// concatenated. An empty text gives an empty keyring.
    pub fn from_armored(text: &str) -> Result<Keyring> {
        if text.trim().is_empty() {
            return Ok(Keyring::default());
        }
        let blocks = parse_blocks(text)?;
        let keys = blocks
            .secret
            .iter()
            .map(SignedSecretKey::to_public_key)
            .chain(blocks.public)
            .collect();
        Ok(Keyring { keys })
    }

    /// Number of (primary) keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// No keys?
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Both keyrings' keys (duplicates dropped).
    pub fn union(&self, other: &Keyring) -> Keyring {
        let mut keys = self.keys.clone();
        for k in &other.keys {
            if !keys.iter().any(|p| p.fingerprint() == k.fingerprint()) {
                keys.push(k.clone());
            }
        }
        Keyring { keys }
    }

    /// Upper-case hex fingerprints of the primary keys.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| format!("{:X}", k.fingerprint()))
            .collect()
    }

    /// The keys as one armored block.
    pub fn to_armored(&self) -> Result<String> {
        armor_public(&self.keys)
    }

    /// Verify an armored detached signature of `data`; returns the signer's fingerprint.
    pub fn verify_detached(&self, data: &[u8], armored: &str) -> Result<String> {
        let (sig, _) = DetachedSignature::from_string(armored)
            .map_err(|e| TrustError::BadSignature(e.to_string()))?;
        match self.check(&sig.signature, data) {
            Check::Good(fpr) => Ok(fpr),
            Check::Unknown(id) => Err(TrustError::BadSignature(format!("unknown key 0x{id}"))),
            Check::Bad(why) => Err(TrustError::BadSignature(why)),
        }
    }

    /// Check the header signature of a package against this keyring. `file` holds at least
    /// the lead and both headers (`..headers.range().end`). Returns the fingerprint of the
    /// key whose signature verified. The caller must still check the payload against the
    /// (signed) payload digest.
    pub fn verify_package(
        &self,
        headers: &RpmHeaders,
        file: &[u8],
    ) -> std::result::Result<String, Refusal> {
        let range = headers.range();
        let header = usize::try_from(range.start)
            .ok()
            .zip(usize::try_from(range.end).ok())
            .and_then(|(s, e)| file.get(s..e))
            .ok_or_else(|| Refusal::BadSignature("header bytes missing".into()))?;
        let sig = headers.signature();
        let mut packets: Vec<&[u8]> = Vec::new();
        for t in [sigtag::RSA, sigtag::DSA, SIGTAG_OPENPGP] {
            match sig.entry(t) {
                Some(crate::header::TagData::Bin(b)) => packets.push(b),
                Some(crate::header::TagData::StringArray(v)) => {
                    packets.extend(v.iter().map(Vec::as_slice))
                }
                Some(crate::header::TagData::String(s)) => packets.push(s),
                _ => {}
            }
        }
        if packets.is_empty() {
            return Err(Refusal::Unsigned);
        }
        if headers.main().strings(tag::PAYLOADDIGEST).is_none() {
            return Err(Refusal::NoPayloadDigest);
        }
        let mut first_unknown = None;
        let mut bad = None;
        for p in packets {
            // rpm 6 stores OpenPGP signatures base64-encoded in tag 278.
            let sig = match parse_signature_packet(p) {
                Ok(s) => s,
                Err(e) => {
                    bad.get_or_insert(e);
                    continue;
                }
            };
            match self.check(&sig, header) {
                Check::Good(fpr) => return Ok(fpr),
                Check::Unknown(id) => {
                    first_unknown.get_or_insert(id);
                }
                Check::Bad(why) => {
                    bad.get_or_insert(why);
                }
            }
        }
        match (bad, first_unknown) {
            (Some(why), _) => Err(Refusal::BadSignature(why)),
            (None, Some(id)) => Err(Refusal::UnknownKey(id)),
            (None, None) => Err(Refusal::Unsigned),
        }
    }

    fn check(&self, sig: &Signature, data: &[u8]) -> Check {
        let fprs = sig.issuer_fingerprint();
        let ids = sig.issuer_key_id();
        let issuer = ids
            .first()
            .map(|id| hex::encode_upper(id.as_ref()))
            .or_else(|| fprs.first().map(|f| last_16(&format!("{f:X}"))))
            .unwrap_or_else(|| "0000000000000000".into());
        let matches = |fpr: &pgp::types::Fingerprint, id: pgp::types::KeyId| {
            fprs.iter().any(|f| **f == *fpr) || ids.iter().any(|i| **i == id)
        };
        let mut tried = false;
        for key in &self.keys {
            if matches(&key.fingerprint(), key.legacy_key_id()) {
                tried = true;
                if sig.verify(key, data).is_ok() {
                    return Check::Good(format!("{:X}", key.fingerprint()));
                }
            }
            for sub in &key.public_subkeys {
                if matches(&sub.fingerprint(), sub.legacy_key_id()) && subkey_can_sign(sub) {
                    tried = true;
                    if sig.verify(sub, data).is_ok() {
                        return Check::Good(format!("{:X}", key.fingerprint()));
                    }
                }
            }
        }
        if tried {
            Check::Bad(format!("key 0x{issuer}"))
        } else {
            Check::Unknown(issuer)
        }
    }
}

enum Check {
    Good(String),
    Unknown(String),
    Bad(String),
}

fn last_16(fpr: &str) -> String {
    fpr[fpr.len().saturating_sub(16)..].to_string()
}

fn parse_signature_packet(bytes: &[u8]) -> std::result::Result<Signature, String> {
    let decoded;
    let bytes = if bytes.first().is_some_and(|b| b & 0x80 == 0) {
        // Not a packet tag: base64 text (rpm 6's OPENPGP tag).
        use std::io::Read as _;
        let text: Vec<u8> = bytes
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let mut out = Vec::new();
        pgp::base64::Base64Reader::new(&text[..])
            .read_to_end(&mut out)
            .map_err(|e| format!("signature is neither a packet nor base64: {e}"))?;
        decoded = out;
        &decoded[..]
    } else {
        bytes
    };
    PacketParser::new(bytes)
        .find_map(|p| match p {
            Ok(Packet::Signature(s)) => Some(s),
            _ => None,
        })
        .ok_or_else(|| "no OpenPGP signature packet".to_string())
}

/// Does one of the binding signatures of `sub` allow signing?
fn subkey_can_sign(sub: &SignedPublicSubKey) -> bool {
    sub.signatures.iter().any(|s| s.key_flags().sign())
}

/// The keys of `key` allowed to sign: subkeys flagged for signing, and the primary key when a
/// self-signature allows it (or none carries key flags).
fn signing_candidates(key: &SignedSecretKey) -> Vec<Secret> {
    let mut out = Vec::new();
    let self_sigs: Vec<&Signature> = key
        .details
        .direct_signatures
        .iter()
        .chain(key.details.users.iter().flat_map(|u| u.signatures.iter()))
        .collect();
    let flagged: Vec<&&Signature> = self_sigs
        .iter()
        .filter(|s| {
            s.config().is_some_and(|c| {
                c.hashed_subpackets()
                    .any(|p| matches!(p.data, SubpacketData::KeyFlags(_)))
            })
        })
        .collect();
    if flagged.is_empty() || flagged.iter().any(|s| s.key_flags().sign()) {
        out.push(Secret::Primary(key.primary_key.clone()));
    }
    for sub in &key.secret_subkeys {
        if sub.signatures.iter().any(|s| s.key_flags().sign()) {
            out.push(Secret::Sub(sub.key.clone()));
        }
    }
    out
}

struct Blocks {
    secret: Vec<SignedSecretKey>,
    public: Vec<SignedPublicKey>,
}

/// Every armored key block of `text`, self-signatures verified.
fn parse_blocks(text: &str) -> Result<Blocks> {
    let mut out = Blocks {
        secret: Vec::new(),
        public: Vec::new(),
    };
    let mut found = false;
    for block in split_armor(text) {
        found = true;
        if block.contains("PRIVATE KEY BLOCK") {
            let (keys, _) =
                SignedSecretKey::from_string_many(block).map_err(|source| TrustError::Parse {
                    what: "secret",
                    source,
                })?;
            for k in keys {
                let k = k.map_err(|source| TrustError::Parse {
                    what: "secret",
                    source,
                })?;
                k.verify_bindings().map_err(|source| TrustError::Binding {
                    fingerprint: format!("{:X}", k.primary_key.fingerprint()),
                    source,
                })?;
                out.secret.push(k);
            }
        } else {
            let (keys, _) =
                SignedPublicKey::from_string_many(block).map_err(|source| TrustError::Parse {
                    what: "public",
                    source,
                })?;
            for k in keys {
                let k = k.map_err(|source| TrustError::Parse {
                    what: "public",
                    source,
                })?;
                k.verify_bindings().map_err(|source| TrustError::Binding {
                    fingerprint: format!("{:X}", k.fingerprint()),
                    source,
                })?;
                out.public.push(k);
            }
        }
    }
    if !found {
        return Err(TrustError::NoKeyBlock);
    }
    Ok(out)
}

/// The `-----BEGIN PGP ... KEY BLOCK-----` … `-----END …-----` blocks of `text`.
fn split_armor(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN PGP ") {
        let from = &rest[start..];
        let Some(end_tag) = from.find("-----END PGP ") else {
            out.push(from);
            break;
        };
        let after = &from[end_tag..];
        // The END line ends at its closing dashes.
        let line_end = after[5..].find("-----").map_or(after.len(), |i| 5 + i + 5);
        let block = &from[..end_tag + line_end];
        if block.contains("KEY BLOCK-----") {
            out.push(block);
        }
        rest = &from[end_tag + line_end..];
    }
    out
}

fn armor_public(keys: &[SignedPublicKey]) -> Result<String> {
    let mut out = Vec::new();
    pgp::armor::write(
        &keys,
        pgp::armor::BlockType::PublicKey,
        &mut out,
        None,
        true,
    )
    .map_err(TrustError::Write)?;
    String::from_utf8(out).map_err(|e| TrustError::Write(pgp::errors::Error::from(e.utf8_error())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_finds_each_block() {
        let text = "junk\n-----BEGIN PGP PUBLIC KEY BLOCK-----\nA\n-----END PGP PUBLIC KEY BLOCK-----\n\
                    -----BEGIN PGP SIGNATURE-----\nS\n-----END PGP SIGNATURE-----\n\
                    -----BEGIN PGP PRIVATE KEY BLOCK-----\nB\n-----END PGP PRIVATE KEY BLOCK-----\ntail";
        let blocks = split_armor(text);
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0].ends_with("-----END PGP PUBLIC KEY BLOCK-----"));
        assert!(blocks[1].starts_with("-----BEGIN PGP PRIVATE KEY BLOCK-----"));
    }

    #[test]
    fn no_key_block_is_an_error() {
        assert!(matches!(
            SigningKey::from_armored("not a key"),
            Err(TrustError::NoKeyBlock)
        ));
        assert!(Keyring::from_armored("").unwrap().is_empty());
    }

    #[test]
    fn refusal_reasons_are_distinct() {
        let r = [
            Refusal::Unsigned.to_string(),
            Refusal::UnknownKey("0123456789ABCDEF".into()).to_string(),
            Refusal::BadSignature("key 0x01".into()).to_string(),
        ];
        assert_eq!(r[0], "unsigned");
        assert_eq!(r[1], "unknown key 0x0123456789ABCDEF");
        assert!(r[2].starts_with("bad signature"));
    }
}

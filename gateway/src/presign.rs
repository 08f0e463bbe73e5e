//! Presigned S3 PUT URLs: the gateway's [`Bucket`] over the engine's
//! [`S3Store::presign_put_sized`]. Every URL binds the declared size (`content-length` is a
//! signed header), so the gateway's upload limit holds for the redirected upload too.
//!
//! A presigned URL with a bound checksum carries `x-amz-checksum-sha256` as a *signed header*:
//! the uploader must send that header with exactly the signed value, and S3 then refuses a body
//! whose SHA-256 differs (400 BadDigest). Without the header S3 refuses the request (403).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use rpmbucket_engine::{ObjectStore, S3Store};

/// Environment variable: presigned URL lifetime in seconds.
pub const PRESIGN_SECONDS_ENV: &str = "RPMBUCKET_PRESIGN_SECONDS";
/// Default lifetime of a presigned URL.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(300);

/// A presigned upload: the URL and the headers the uploader must send with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPut {
    /// The presigned `PUT` URL.
    pub url: String,
    /// Headers (name, value) the upload must carry exactly, as they are part of the signature.
    pub headers: Vec<(String, String)>,
    /// How long the URL stays valid from when it was made.
    pub expires_in: Duration,
}

/// Why presigning or deleting failed.
#[derive(Debug, thiserror::Error)]
#[error("{op} {key}: {source}")]
pub struct BucketError {
    op: &'static str,
    key: String,
    #[source]
    source: rpmbucket_engine::store::Error,
}

/// The bucket side of the gateway: presigned uploads and deletes, over the engine's S3 store
/// (the one presigner: [`S3Store::presign_put_sized`]).
#[derive(Debug, Clone)]
pub struct Bucket {
    store: Arc<S3Store>,
}

impl Bucket {
    /// The bucket behind `store`.
    pub fn new(store: S3Store) -> Bucket {
        Bucket {
            store: Arc::new(store),
        }
    }

    /// Presign a PUT of `key` valid for `expires`; `sha256` (hex) binds the body's checksum,
    /// `length` (when known) its size.
    pub async fn presign_put(
        &self,
        key: &str,
        expires: Duration,
        sha256: Option<&str>,
        length: Option<u64>,
    ) -> Result<PresignedPut, BucketError> {
        let signed = self
            .store
            .presign_put_sized(key, expires, sha256, length)
            .await
            .map_err(|source| BucketError {
                op: "presigning",
                key: key.to_string(),
                source,
            })?;
        Ok(PresignedPut {
            url: signed.url,
            headers: signed.headers,
            expires_in: expires,
        })
    }

    /// Delete `key` (a missing key is not an error).
    pub async fn delete(&self, key: &str) -> Result<(), BucketError> {
        ObjectStore::delete(&*self.store, key)
            .await
            .map_err(|source| BucketError {
                op: "deleting",
                key: key.to_string(),
                source,
            })
    }
}

/// Presign lifetime from `RPMBUCKET_PRESIGN_SECONDS` (1..=604800), default 5 minutes.
pub fn expiry_from_env() -> Result<Duration, String> {
    match std::env::var(PRESIGN_SECONDS_ENV) {
        Ok(s) => match s.trim().parse::<u64>() {
            Ok(n) if (1..=604_800).contains(&n) => Ok(Duration::from_secs(n)),
            _ => Err(format!(
                "{PRESIGN_SECONDS_ENV} must be seconds between 1 and 604800, got {s:?}"
            )),
        },
        Err(_) => Ok(DEFAULT_EXPIRY),
    }
}

/// Hex SHA-256 (64 digits, any case) → base64 as S3 wants it in `x-amz-checksum-sha256`.
pub fn hex_to_base64(hex: &str) -> Option<String> {
    let bytes = hex::decode(hex).ok()?;
    (bytes.len() == 32).then(|| base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Base64 `x-amz-checksum-sha256` value → lowercase hex.
pub fn base64_to_hex(b64: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    (bytes.len() == 32).then(|| hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_encodings() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let b64 = hex_to_base64(hex).unwrap();
        assert_eq!(b64, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        assert_eq!(base64_to_hex(&b64).unwrap(), hex);
        assert_eq!(hex_to_base64(&hex.to_uppercase()).unwrap(), b64);
        assert!(hex_to_base64("abcd").is_none());
        assert!(hex_to_base64(&"zz".repeat(32)).is_none());
        assert!(base64_to_hex("AAAA").is_none());
    }
}

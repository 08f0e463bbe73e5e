//! The store side of signed metadata (the protocol is described in [`crate::trust`]): the
//! public key file written before the swap, the detached `repomd.xml.asc` written with it and
//! made again while other publishers keep swapping, and its removal when signing is turned off.

use bytes::Bytes;

use super::retry::retry;
use super::CACHE_SHORT;
use crate::error::{Error, Result, Unwritable};
use crate::layout::REPODATA_DIR;
use crate::store::{self, ObjectStore, PutMode, PutOptions};
use crate::trust::{Signer, KEY_FILE, SIGNATURE_FILE};

/// How often the `.asc` is rewritten when other publishers keep swapping `repomd.xml`.
const SIGN_ROUNDS: usize = 8;

fn key_of(root: &str, name: &str) -> String {
    format!("{root}{REPODATA_DIR}/{name}")
}

fn short_opts(mode: PutMode, content_type: &str) -> PutOptions {
    PutOptions {
        mode,
        content_type: Some(content_type.into()),
        cache_control: Some(CACHE_SHORT.into()),
    }
}

/// Write `repomd.xml.key` (before the swap that may need it).
pub(crate) async fn put_public_keys(
    store: &dyn ObjectStore,
    options: &super::IndexerOptions,
    root: &str,
    signer: &Signer,
) -> Result<()> {
    let key = key_of(root, KEY_FILE);
    let body = Bytes::from(signer.public_armored().to_owned());
    let opts = short_opts(PutMode::Overwrite, "application/pgp-keys");
    retry(options, "put", || {
        store.put(&key, body.clone(), opts.clone())
    })
    .await?;
    Ok(())
}

/// The key of a repository's `repomd.xml.asc`.
pub(crate) fn signature_key(root: &str) -> String {
    key_of(root, SIGNATURE_FILE)
}

/// How `repomd.xml.asc` is written: overwritten, with the short cache lifetime of
/// `repomd.xml`.
pub(crate) fn signature_put_options() -> PutOptions {
    short_opts(PutMode::Overwrite, "application/pgp-signature")
}

/// The signature [`sign_published`] starts from.
pub(crate) enum FirstSignature {
    /// Already written (with the swap).
    Written,
    /// Made, still to write.
    Made(Bytes),
    /// To make from the body.
    ToMake,
}

/// After the swap: make sure the `.asc` matches `repomd.xml` (the bytes this publisher wrote,
/// with their ETag): write the signature unless it is already written, then check that
/// `repomd.xml` is still this publisher's; sign what is there now if another publisher
/// swapped meanwhile.
pub(crate) async fn sign_published(
    store: &dyn ObjectStore,
    options: &super::IndexerOptions,
    root: &str,
    signer: &Signer,
    mut body: Bytes,
    mut etag: String,
    mut first: FirstSignature,
) -> Result<()> {
    let repomd = key_of(root, "repomd.xml");
    let asc = signature_key(root);
    for _ in 0..SIGN_ROUNDS {
        let sig = match std::mem::replace(&mut first, FirstSignature::ToMake) {
            FirstSignature::Written => None,
            FirstSignature::Made(sig) => Some(sig),
            FirstSignature::ToMake => Some(Bytes::from(sign_repomd(signer, root, &body)?)),
        };
        if let Some(sig) = sig {
            let opts = signature_put_options();
            retry(options, "put", || {
                store.put(&asc, sig.clone(), opts.clone())
            })
            .await?;
        }
        let now = match retry(options, "head", || store.head(&repomd)).await {
            Ok(m) => m,
            Err(store::Error::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if now.etag == etag {
            return Ok(());
        }
        tracing::debug!(
            root,
            "repomd.xml swapped by another publisher; signing it again"
        );
        let (b, m) = retry(options, "get", || store.get(&repomd)).await?;
        body = b;
        etag = m.etag;
    }
    tracing::warn!(
        root,
        "repomd.xml kept changing while signing; the last publisher signs it"
    );
    Ok(())
}

/// The armored signature of `body` (a `repomd.xml`).
pub(crate) fn sign_repomd(signer: &Signer, root: &str, body: &[u8]) -> Result<String> {
    signer.sign(body).map_err(|e| Error::Render {
        root: root.to_string(),
        source: Box::new(Unwritable::Signing(e)),
    })
}

/// Remove the signature and keys of a repository that is no longer signed.
pub(crate) async fn remove_signature(
    store: &dyn ObjectStore,
    options: &super::IndexerOptions,
    root: &str,
) -> Result<()> {
    for name in [SIGNATURE_FILE, KEY_FILE] {
        let k = key_of(root, name);
        match retry(options, "delete", || store.delete(&k)).await {
            Ok(()) | Err(store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

//! The one place this crate touches the engine's repository API (`Indexer`, `Layout`,
//! `Change`, `PublishReport`). Everything else goes through these functions.

use std::sync::Arc;

use rpmbucket_engine::store::s3::{self, S3Options};
use rpmbucket_engine::{Change, Layout, RepoConfig, S3Store};

use crate::event::{ChangeKind, ObjectChange};

pub use rpmbucket_engine::{Error as EngineError, Indexer, PublishReport};

/// The indexer the binary runs: S3 store on `bucket` (client built once from `sdk`; path-style
/// addressing when `AWS_S3_FORCE_PATH_STYLE` says so), layout and repository settings from the
/// environment (`RPMBUCKET_PREFIXES`, `RPMBUCKET_LAYOUT`, `RPMBUCKET_GRACE_SECONDS`,
/// `RPMBUCKET_COMPRESSION`, `RPMBUCKET_DATABASE`).
pub fn indexer_from_env(
    sdk: &aws_config::SdkConfig,
    bucket: Option<&str>,
) -> Result<Indexer, Box<dyn std::error::Error + Send + Sync>> {
    let bucket = bucket.ok_or("no bucket configured")?;
    let client = s3::client(sdk, &S3Options::default());
    let store = S3Store::new(client, bucket, "");
    Ok(lambda_indexer(
        store,
        Layout::from_env(),
        RepoConfig::from_env(),
    ))
}

/// The indexer of the Lambda over `store`: every new package is read whole and its payload
/// digest checked, as `rpmbucket index` does (a stored checksum says the bytes arrived as
/// sent, not that the package is whole).
pub fn lambda_indexer(store: S3Store, layout: Layout, config: RepoConfig) -> Indexer {
    Indexer::new(Arc::new(store), layout, config).with_options(rpmbucket_engine::IndexerOptions {
        verify_payload: true,
        cache: rpmbucket_engine::MetadataCache::from_env(),
        reconcile_checkpoint: rpmbucket_engine::reconcile_checkpoint_from_env(),
        ..Default::default()
    })
}

/// Environment: ARN (or name) of the Secrets Manager secret whose string value is the
/// signing key file (`gpg --export-secret-keys --armor`).
pub const SIGNING_KEY_SECRET_ENV: &str = "RPMBUCKET_SIGNING_KEY_SECRET_ARN";

/// Error of [`signer_from_env`]. Never contains key material.
#[derive(Debug, thiserror::Error)]
#[error("signing key: {0}")]
pub struct SignerError(String);

/// The repository signing key: from the file named by `RPMBUCKET_SIGNING_KEY`, or from the
/// Secrets Manager secret named by [`SIGNING_KEY_SECRET_ENV`] (read once per cold start: the
/// binary builds its indexer once, so the key is cached across invocations). `None` when
/// neither is set. The key is never logged.
pub async fn signer_from_env(
    sdk: &aws_config::SdkConfig,
) -> Result<Option<rpmbucket_engine::Signer>, SignerError> {
    let env = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    let (file, secret) = (env("RPMBUCKET_SIGNING_KEY"), env(SIGNING_KEY_SECRET_ENV));
    match (file, secret) {
        (Some(_), Some(_)) => Err(SignerError(format!(
            "set only one of RPMBUCKET_SIGNING_KEY and {SIGNING_KEY_SECRET_ENV}"
        ))),
        (Some(path), None) => rpmbucket_engine::Signer::from_file(std::path::Path::new(&path))
            .map(Some)
            .map_err(|e| SignerError(e.to_string())),
        (None, Some(arn)) => {
            let client = aws_sdk_secretsmanager::Client::new(sdk);
            let out = client
                .get_secret_value()
                .secret_id(&arn)
                .send()
                .await
                .map_err(|e| {
                    SignerError(format!(
                        "reading secret {arn}: {}",
                        aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                    ))
                })?;
            let text = out
                .secret_string()
                .ok_or_else(|| SignerError(format!("secret {arn} has no string value")))?;
            let signer = rpmbucket_engine::Signer::from_armored(text)
                .map_err(|e| SignerError(format!("secret {arn}: {e}")))?;
            tracing::info!(secret = %arn, fingerprint = %signer.fingerprint(), "signing key loaded");
            Ok(Some(signer))
        }
        (None, None) => Ok(None),
    }
}

/// Repository root of a package or extra-metadata key under the indexer's layout; `None` when
/// the key is neither in a configured repository.
pub(crate) fn repo_root(indexer: &Indexer, key: &str) -> Option<String> {
    indexer.layout().root_of(key)
}

/// Apply the changes of one repository and publish.
pub(crate) async fn apply(
    indexer: &Indexer,
    root: &str,
    changes: &[ObjectChange],
) -> Result<PublishReport, EngineError> {
    let changes: Vec<Change> = changes
        .iter()
        .map(|c| {
            let mut change = match c.kind {
                ChangeKind::Created => Change::created(c.key.clone()),
                ChangeKind::Removed => Change::removed(c.key.clone()),
            };
            change.etag = c.etag.clone();
            change
        })
        .collect();
    indexer.apply(root, &changes).await
}

/// Repair drift between the bucket and the published metadata of one repository.
pub(crate) async fn reconcile(indexer: &Indexer, root: &str) -> Result<PublishReport, EngineError> {
    indexer.reconcile(root).await
}

/// Reconcile every repository under the configured prefixes: the engine's
/// [`Indexer::reconcile_all`] with its cursor in the bucket, so an invocation that runs out of
/// time is continued by the next one. One result per repository.
pub(crate) async fn reconcile_all(
    indexer: &Indexer,
) -> Result<Vec<(String, Result<PublishReport, EngineError>)>, EngineError> {
    let opts = rpmbucket_engine::ReconcileAllOptions::default();
    indexer.reconcile_all(&opts).await?.run_to_end().await
}

/// Would trying again later help?
pub(crate) fn is_retryable(e: &EngineError) -> bool {
    e.is_retryable()
}

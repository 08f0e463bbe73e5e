//! The repository the gateway serves: one concrete type over the engine's [`Indexer`] and its
//! store, so the HTTP layer needs no engine types (the values it uses are in [`crate::repo`]).

use std::path::Path;
use std::sync::Arc;

use rpmbucket_engine::{
    Change as EngineChange, ChangeKind, Indexer, Layout, LocalStore, ObjectStore, RepoConfig,
    S3Store,
};

use crate::repo::{
    Change, PromoteError, PromotedPackage, Promotion, Published, RepoError, RepoTrust,
};

/// The repository over a local directory (every directory holding packages is a repository;
/// metadata settings from `RPMBUCKET_*` like the other commands).
pub fn local_repository(root: &Path, config: RepoConfig) -> anyhow::Result<Arc<Repository>> {
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(root)?);
    Ok(engine_repository(store, Layout::new(Vec::new()), config))
}

/// The repository over an S3 bucket (layout and metadata settings from the environment).
pub fn s3_repository(client: aws_sdk_s3::Client, bucket: String) -> Arc<Repository> {
    let store: Arc<dyn ObjectStore> = Arc::new(S3Store::new(client, bucket, ""));
    engine_repository(store, Layout::from_env(), RepoConfig::from_env())
}

/// The repository over any store.
pub fn engine_repository(
    store: Arc<dyn ObjectStore>,
    layout: Layout,
    config: RepoConfig,
) -> Arc<Repository> {
    // The upload faces check every new package's payload digest, as `rpmbucket index` does.
    Arc::new(Repository {
        indexer: Indexer::new(Arc::clone(&store), layout, config).with_options(
            rpmbucket_engine::IndexerOptions {
                verify_payload: true,
                cache: rpmbucket_engine::MetadataCache::from_env(),
                reconcile_checkpoint: rpmbucket_engine::reconcile_checkpoint_from_env(),
                ..Default::default()
            },
        ),
        store,
    })
}

/// What the gateway needs from the engine: where a key belongs, whether it is published,
/// applying changes, promotions and the per-repository settings the HTTP layer states.
pub struct Repository {
    indexer: Indexer,
    store: Arc<dyn ObjectStore>,
}

impl Repository {
    /// The repository root (ends with `/`, or empty) of a package key; `None` when the key is
    /// not a package of a configured repository.
    pub fn root_of(&self, key: &str) -> Option<String> {
        self.indexer.layout().root_of(key)
    }

    /// The current version token (ETag) of `key`, if the store has one.
    pub async fn etag(&self, key: &str) -> Option<String> {
        self.store.head(key).await.ok().map(|m| m.etag)
    }

    /// The version token (ETag) of `root`'s published `repomd.xml` (`None`: not published
    /// yet), read conditionally against `known` (the token seen last) so that an unchanged
    /// repository costs one request and no body: watching it notices publishes made by other
    /// processes.
    pub async fn metadata_version(
        &self,
        root: &str,
        known: Option<&str>,
    ) -> Result<Option<String>, RepoError> {
        Ok(self.indexer.metadata_version(root, known).await?)
    }

    /// The published revision if `key` is in `root`'s metadata.
    pub async fn published(&self, root: &str, key: &str) -> Result<Option<String>, RepoError> {
        Ok(self.indexer.published(root, key).await?)
    }

    /// Why the current object of `key` was not published (the reason the repository gave),
    /// if it was rejected.
    pub async fn rejected(&self, root: &str, key: &str) -> Option<String> {
        let (etag, reason) = self.indexer.rejected(root, key).await.ok()??;
        // Only about the object that is there now.
        (self.etag(key).await.as_deref() == Some(etag.as_str())).then_some(reason)
    }

    /// How a repository is signed, for its `.repo` file.
    pub async fn trust(&self, root: &str) -> RepoTrust {
        let settings = self.indexer.settings(root).await.ok().flatten();
        RepoTrust {
            signed_metadata: settings.as_ref().is_some_and(|s| s.signing_key.is_some()),
            signed_packages: settings.is_some_and(|s| s.package_policy != "off"),
        }
    }

    /// The repository's own upload limit in bytes (its stored `max-upload-size` setting), if
    /// it has one.
    pub async fn upload_limit(&self, root: &str) -> Result<Option<u64>, RepoError> {
        let settings = self.indexer.settings(root).await?;
        Ok(settings.and_then(|s| s.max_upload_size))
    }

    /// Bring every repository in the store up to date with its packages (used when the local
    /// server starts: uploads stored before a crash, or files copied in by hand). One result
    /// per repository root.
    pub async fn reconcile_all(&self) -> Vec<(String, Result<Published, RepoError>)> {
        // The engine's walk: the listing by pages, one repository at a time, resumed from the
        // store's cursor when a previous start was interrupted.
        let opts = rpmbucket_engine::ReconcileAllOptions::default();
        let walk = match self.indexer.reconcile_all(&opts).await {
            Ok(w) => w,
            Err(e) => return vec![(String::new(), Err(e.into()))],
        };
        match walk.run_to_end().await {
            Ok(results) => results
                .into_iter()
                .map(|(root, r)| (root, r.map(published).map_err(RepoError::from)))
                .collect(),
            Err(e) => vec![(String::new(), Err(e.into()))],
        }
    }

    /// Copy the packages `wanted` names (NAME: its newest version per arch; NEVRA; key) from
    /// repository `from` to repository `to` with a server-side copy, then publish `to`.
    pub async fn promote(
        &self,
        from: &str,
        to: &str,
        wanted: &[String],
    ) -> Result<Promotion, PromoteError> {
        // The packages were checked when they entered `from`; the copy is server-side, so the
        // target's publish reads only their headers (no payload re-verification, which would
        // download every copy).
        let indexer = self
            .indexer
            .clone()
            .with_options(rpmbucket_engine::IndexerOptions {
                verify_payload: false,
                ..self.indexer.options().clone()
            });
        match indexer.promote(from, to, wanted).await {
            Ok((promoted, report)) => Ok(Promotion {
                promoted: promoted
                    .into_iter()
                    .map(|p| PromotedPackage {
                        nevra: p.nevra,
                        from: p.from,
                        to: p.to,
                    })
                    .collect(),
                packages: report.packages,
                published: published(report),
            }),
            Err(e @ rpmbucket_engine::Error::NotInRepository { .. }) => {
                Err(PromoteError::Unknown(e))
            }
            Err(e) => Err(PromoteError::Repo(e.into())),
        }
    }

    /// Apply a batch of changes to one root and publish.
    pub async fn apply(&self, root: &str, changes: &[Change]) -> Result<Published, RepoError> {
        let mut batch = Vec::with_capacity(changes.len());
        for c in changes {
            let mut e = if c.removed {
                EngineChange::removed(&c.key)
            } else {
                EngineChange::created(&c.key)
            };
            if e.kind == ChangeKind::Created {
                e.etag.clone_from(&c.etag);
                e.sha256.clone_from(&c.sha256);
            }
            batch.push(e);
        }
        Ok(published(self.indexer.apply(root, &batch).await?))
    }
}

fn published(r: rpmbucket_engine::PublishReport) -> Published {
    Published {
        root: r.root,
        revision: r.revision,
        added: r.added,
        removed: r.removed,
        rejected: r.rejected,
        duration: r.duration,
    }
}

//! Wiring of the [`Repository`] seam to the engine's [`Indexer`].

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use rpmbucket_engine::{
    Change as EngineChange, ChangeKind, Indexer, Layout, LocalStore, ObjectStore, RepoConfig,
    S3Store,
};

use crate::repo::{
    Change, PromoteError, PromotedPackage, Promotion, Published, RepoError, Repository,
};

/// The repository over a local directory (every directory holding packages is a repository;
/// metadata settings from `RPMBUCKET_*` like the other commands).
pub fn local_repository(root: &Path, config: RepoConfig) -> anyhow::Result<Arc<dyn Repository>> {
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(root)?);
    Ok(engine_repository(store, Layout::new(Vec::new()), config))
}

/// The repository over an S3 bucket (layout and metadata settings from the environment).
pub fn s3_repository(client: aws_sdk_s3::Client, bucket: String) -> Arc<dyn Repository> {
    let store: Arc<dyn ObjectStore> = Arc::new(S3Store::new(client, bucket, ""));
    engine_repository(store, Layout::from_env(), RepoConfig::from_env())
}

/// The repository over any store.
pub fn engine_repository(
    store: Arc<dyn ObjectStore>,
    layout: Layout,
    config: RepoConfig,
) -> Arc<dyn Repository> {
    // The upload faces check every new package's payload digest, as `rpmbucket index` does.
    Arc::new(EngineRepo {
        indexer: Indexer::new(Arc::clone(&store), layout, config).with_options(
            rpmbucket_engine::IndexerOptions {
                verify_payload: true,
                cache: rpmbucket_engine::MetadataCache::from_env(),
                ..Default::default()
            },
        ),
        store,
    })
}

struct EngineRepo {
    indexer: Indexer,
    store: Arc<dyn ObjectStore>,
}

fn repo_err(e: rpmbucket_engine::Error) -> RepoError {
    RepoError {
        retryable: e.is_retryable(),
        message: e.to_string(),
    }
}

#[async_trait]
impl Repository for EngineRepo {
    fn root_of(&self, key: &str) -> Option<String> {
        self.indexer.layout().root_of(key)
    }

    async fn etag(&self, key: &str) -> Option<String> {
        self.store.head(key).await.ok().map(|m| m.etag)
    }

    async fn metadata_version(
        &self,
        root: &str,
        known: Option<&str>,
    ) -> Result<Option<String>, RepoError> {
        self.indexer
            .metadata_version(root, known)
            .await
            .map_err(repo_err)
    }

    async fn published(&self, root: &str, key: &str) -> Result<Option<String>, RepoError> {
        self.indexer.published(root, key).await.map_err(repo_err)
    }

    async fn rejected(&self, root: &str, key: &str) -> Option<String> {
        let (etag, reason) = self.indexer.rejected(root, key).await.ok()??;
        // Only about the object that is there now.
        (self.etag(key).await.as_deref() == Some(etag.as_str())).then_some(reason)
    }

    async fn trust(&self, root: &str) -> crate::repo::RepoTrust {
        let settings = self.indexer.settings(root).await.ok().flatten();
        crate::repo::RepoTrust {
            signed_metadata: settings.as_ref().is_some_and(|s| s.signing_key.is_some()),
            signed_packages: settings.is_some_and(|s| s.package_policy != "off"),
        }
    }

    async fn upload_limit(&self, root: &str) -> Result<Option<u64>, RepoError> {
        let settings = self.indexer.settings(root).await.map_err(repo_err)?;
        Ok(settings.and_then(|s| s.max_upload_size))
    }

    async fn reconcile_all(&self) -> Vec<(String, Result<Published, RepoError>)> {
        // The engine's walk: the listing by pages, one repository at a time, resumed from the
        // store's cursor when a previous start was interrupted.
        let opts = rpmbucket_engine::ReconcileAllOptions::default();
        let walk = match self.indexer.reconcile_all(&opts).await {
            Ok(w) => w,
            Err(e) => return vec![(String::new(), Err(repo_err(e)))],
        };
        match walk.run_to_end().await {
            Ok(results) => results
                .into_iter()
                .map(|(root, r)| (root, r.map(published).map_err(repo_err)))
                .collect(),
            Err(e) => vec![(String::new(), Err(repo_err(e)))],
        }
    }

    async fn promote(
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
                Err(PromoteError::Unknown(e.to_string()))
            }
            Err(e) => Err(PromoteError::Repo(repo_err(e))),
        }
    }

    async fn apply(&self, root: &str, changes: &[Change]) -> Result<Published, RepoError> {
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
        self.indexer
            .apply(root, &batch)
            .await
            .map(published)
            .map_err(repo_err)
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

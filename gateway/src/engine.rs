//! Wiring of the [`Repository`] seam to the engine.
//!
//! TEMPORARY: until the engine's `Indexer` lands, the local repository is indexed with
//! `createrepo_c --update` and `published` reads the primary metadata directly. Only this file
//! changes when the switch happens.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use crate::repo::{Change, Published, RepoError, Repository};

/// The repository over a local directory.
pub fn local_repository(root: &Path) -> anyhow::Result<Arc<dyn Repository>> {
    Ok(Arc::new(CreaterepoStandIn {
        root: root.to_path_buf(),
    }))
}

#[derive(Debug)]
struct CreaterepoStandIn {
    root: PathBuf,
}

fn err(message: impl Into<String>) -> RepoError {
    RepoError {
        message: message.into(),
        retryable: false,
    }
}

#[async_trait]
impl Repository for CreaterepoStandIn {
    fn root_of(&self, key: &str) -> Option<String> {
        dir_root(key)
    }

    async fn published(&self, root: &str, key: &str) -> Result<Option<String>, RepoError> {
        let dir = self.root.join(root);
        let name = key[root.len()..].to_string();
        tokio::task::spawn_blocking(move || {
            let repomd = match std::fs::read_to_string(dir.join("repodata/repomd.xml")) {
                Ok(s) => s,
                Err(_) => return Ok(None),
            };
            let revision = between(&repomd, "<revision>", "</revision>")
                .unwrap_or("")
                .to_string();
            let at = repomd
                .find("<data type=\"primary\">")
                .ok_or_else(|| err("no primary"))?;
            let href =
                between(&repomd[at..], "<location href=\"", "\"").ok_or_else(|| err("no href"))?;
            let gz = std::fs::read(dir.join(href)).map_err(|e| err(e.to_string()))?;
            let mut xml = String::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_string(&mut xml)
                .map_err(|e| err(e.to_string()))?;
            let escaped = name
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('"', "&quot;");
            Ok(xml
                .contains(&format!("<location href=\"{escaped}\""))
                .then_some(revision))
        })
        .await
        .map_err(|e| err(e.to_string()))?
    }

    async fn apply(&self, root: &str, changes: &[Change]) -> Result<Published, RepoError> {
        let started = Instant::now();
        let dir = self.root.join(root);
        let out = tokio::process::Command::new("createrepo_c")
            .args(["--update", "--quiet", "--excludes", ".rpmbucket-*"])
            .arg(&dir)
            .output()
            .await
            .map_err(|e| err(format!("createrepo_c: {e}")))?;
        if !out.status.success() {
            return Err(err(String::from_utf8_lossy(&out.stderr).into_owned()));
        }
        let repomd = std::fs::read_to_string(dir.join("repodata/repomd.xml")).unwrap_or_default();
        Ok(Published {
            root: root.to_string(),
            revision: between(&repomd, "<revision>", "</revision>")
                .unwrap_or("")
                .to_string(),
            added: changes
                .iter()
                .filter(|c| !c.removed)
                .map(|c| c.key.clone())
                .collect(),
            removed: changes
                .iter()
                .filter(|c| c.removed)
                .map(|c| c.key.clone())
                .collect(),
            rejected: Vec::new(),
            duration: started.elapsed(),
        })
    }
}

fn primary_href(repomd: &[u8]) -> Option<String> {
    let repomd = std::str::from_utf8(repomd).ok()?;
    let at = repomd.find("<data type=\"primary\">")?;
    between(&repomd[at..], "<location href=\"", "\"").map(str::to_string)
}

/// The repomd revision if `name` (relative to the root) is listed in the gzip primary.
fn in_primary(repomd: &[u8], primary_gz: &[u8], name: &str) -> Result<Option<String>, RepoError> {
    let repomd = String::from_utf8_lossy(repomd);
    let revision = between(&repomd, "<revision>", "</revision>")
        .unwrap_or("")
        .to_string();
    let mut xml = String::new();
    flate2::read::GzDecoder::new(primary_gz)
        .read_to_string(&mut xml)
        .map_err(|e| err(e.to_string()))?;
    let escaped = name
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;");
    Ok(xml
        .contains(&format!("<location href=\"{escaped}\""))
        .then_some(revision))
}

/// The repository over an S3 bucket (read side only: the indexer Lambda publishes).
pub fn s3_repository(client: aws_sdk_s3::Client, bucket: String) -> Arc<dyn Repository> {
    Arc::new(S3StandIn { client, bucket })
}

#[derive(Debug)]
struct S3StandIn {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3StandIn {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RepoError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => Ok(Some(
                o.body
                    .collect()
                    .await
                    .map_err(|e| err(e.to_string()))?
                    .to_vec(),
            )),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(RepoError {
                message: aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
                retryable: true,
            }),
        }
    }
}

#[async_trait]
impl Repository for S3StandIn {
    fn root_of(&self, key: &str) -> Option<String> {
        dir_root(key)
    }

    async fn published(&self, root: &str, key: &str) -> Result<Option<String>, RepoError> {
        let Some(repomd) = self.get(&format!("{root}repodata/repomd.xml")).await? else {
            return Ok(None);
        };
        let Some(href) = primary_href(&repomd) else {
            return Ok(None);
        };
        let Some(gz) = self.get(&format!("{root}{href}")).await? else {
            return Ok(None);
        };
        in_primary(&repomd, &gz, &key[root.len()..])
    }

    async fn apply(&self, _root: &str, _changes: &[Change]) -> Result<Published, RepoError> {
        Err(err("publishing from the gateway is not wired yet"))
    }
}

fn dir_root(key: &str) -> Option<String> {
    if !key.ends_with(".rpm") || key.split('/').any(|s| s == "repodata") {
        return None;
    }
    Some(match key.rfind('/') {
        Some(i) => key[..=i].to_string(),
        None => String::new(),
    })
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> Option<&'a str> {
    let i = s.find(a)? + a.len();
    let j = s[i..].find(b)? + i;
    Some(&s[i..j])
}

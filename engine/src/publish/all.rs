//! Reconcile every repository under a prefix: one repository at a time, the listing walked
//! page by page, and a resume cursor so that a run stopped halfway (a Lambda's time limit, a
//! killed process) is continued by the next run instead of started over.
//!
//! Memory: finding the repositories holds one page of the listing and the set of repository
//! roots; each repository is then reconciled on its own (its listing page by page, its state).
//! Nothing holds the whole bucket's listing.
//!
//! The cursor names the last repository finished (roots are done in key order). It lives in
//! the store at [`cursor_key`]`(prefix)` (`rpmbucket-state/reconcile/PREFIXcursor.json`) or in
//! a local file ([`CursorPlace`]). A run that finishes every repository deletes it; a run
//! that finds one resumes after the root it names (listing from there with S3's
//! `StartAfter`) and reports the repositories that failed before the interruption at the
//! end. [`ReconcileAllOptions::restart`] ignores and deletes it.

use std::path::PathBuf;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Indexer, PublishReport};
use crate::error::{Error, Result};
use crate::layout::normalise_root;
use crate::store::{self, PageStart, PutOptions};

/// Directory of rpmbucket's own state objects in a store.
pub const STATE_DIR: &str = "rpmbucket-state/";

/// The store key of the reconcile cursor of `prefix` (normalised: `""` or ending in `/`).
pub fn cursor_key(prefix: &str) -> String {
    format!("{STATE_DIR}reconcile/{}cursor.json", normalise_root(prefix))
}

/// Where [`Indexer::reconcile_all`] records its progress.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CursorPlace {
    /// In the store, at [`cursor_key`] (every face that reconciles the same prefix of the
    /// same bucket sees the same cursor).
    #[default]
    Store,
    /// In a local file.
    File(PathBuf),
    /// Nowhere: every run starts at the first repository.
    Off,
}

/// What [`Indexer::reconcile_all`] walks and where it keeps its cursor.
#[derive(Debug, Clone, Default)]
pub struct ReconcileAllOptions {
    /// Repositories under this prefix (`""`: every repository the layout covers; with layout
    /// prefixes, only those prefixes are listed).
    pub prefix: String,
    /// Where the resume cursor lives.
    pub cursor: CursorPlace,
    /// Ignore (and delete) a cursor left by an interrupted run: start at the first repository.
    pub restart: bool,
}

/// The cursor as stored (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    /// Format version (1).
    version: u32,
    /// The prefix of the run that wrote it.
    prefix: String,
    /// The last repository root finished (roots are done in key order).
    after: String,
    /// Repositories finished by the runs so far.
    done: u64,
    /// Repositories that failed in those runs (reported again at the end).
    failed: Vec<String>,
}

/// A reconcile of every repository in progress ([`Indexer::reconcile_all`]): call
/// [`next`](Self::next) until it returns `None`, then [`finish`](Self::finish).
#[derive(Debug)]
pub struct ReconcileAll<'a> {
    indexer: &'a Indexer,
    prefix: String,
    place: CursorPlace,
    roots: std::vec::IntoIter<String>,
    total: usize,
    resumed: Option<Cursor>,
    done: u64,
    failed: Vec<String>,
    pages: u64,
}

impl Indexer {
    /// Start reconciling every repository under `opts.prefix`: read the cursor, then walk the
    /// listing page by page to find the repository roots after it. The roots are then
    /// reconciled one at a time by [`ReconcileAll::next`]. Every face (the CLI's `reconcile`,
    /// the Lambda's scheduled reconcile, the local server's start) goes through here.
    pub async fn reconcile_all(&self, opts: &ReconcileAllOptions) -> Result<ReconcileAll<'_>> {
        let prefix = normalise_root(&opts.prefix);
        let place = opts.cursor.clone();
        let resumed = if opts.restart {
            clear(self, &place, &prefix).await?;
            None
        } else {
            read(self, &place, &prefix).await
        };
        let start = match &resumed {
            Some(c) => PageStart::After(c.after.clone()),
            None => PageStart::First,
        };
        let mut roots = std::collections::BTreeSet::new();
        let mut pages = 0;
        for listed in self.listing_prefixes(&prefix) {
            pages += self
                .walk_listing(&*self.store, &listed, start.clone(), |o| {
                    if let Some(root) = self.root_of_listed(&o.key) {
                        roots.insert(root);
                    }
                })
                .await?;
        }
        if let Some(c) = &resumed {
            // Keys after the cursor can still name it (a root is a prefix of its keys).
            roots.retain(|r| r.as_str() > c.after.as_str());
        }
        let roots: Vec<String> = roots.into_iter().collect();
        Ok(ReconcileAll {
            indexer: self,
            total: roots.len(),
            roots: roots.into_iter(),
            done: resumed.as_ref().map_or(0, |c| c.done),
            failed: resumed
                .as_ref()
                .map(|c| c.failed.clone())
                .unwrap_or_default(),
            resumed,
            prefix,
            place,
            pages,
        })
    }

    /// The prefixes to list for `prefix`: itself, or when it is empty and the layout names
    /// prefixes, those (without the ones inside another), in key order.
    fn listing_prefixes(&self, prefix: &str) -> Vec<String> {
        let layout = self.layout.prefixes();
        if !prefix.is_empty() || layout.is_empty() {
            return vec![prefix.to_string()];
        }
        let mut out: Vec<String> = Vec::new();
        for p in layout {
            if !out.iter().any(|q| p.starts_with(q.as_str())) {
                out.push(p.clone());
            }
        }
        out.sort();
        out
    }
}

impl ReconcileAll<'_> {
    /// The root the run resumed after (a cursor of an interrupted run was found).
    pub fn resumed_after(&self) -> Option<&str> {
        self.resumed.as_ref().map(|c| c.after.as_str())
    }

    /// Repositories finished by the interrupted runs this one continues.
    pub fn done_before(&self) -> u64 {
        self.resumed.as_ref().map_or(0, |c| c.done)
    }

    /// Repositories this run reconciles (those after the cursor).
    pub fn total(&self) -> usize {
        self.total
    }

    /// Repositories left to reconcile.
    pub fn remaining(&self) -> usize {
        self.roots.len()
    }

    /// Listing pages read to find the repositories.
    pub fn listing_pages(&self) -> u64 {
        self.pages
    }

    /// Repositories that failed, in this run and in the interrupted runs it continues.
    pub fn failed(&self) -> &[String] {
        &self.failed
    }

    /// Reconcile the next repository and record it in the cursor (failed or not: a failure
    /// is reported, and kept in the cursor for the end of the walk). `None` when every
    /// repository is done.
    pub async fn next(&mut self) -> Option<(String, Result<PublishReport>)> {
        let root = self.roots.next()?;
        let result = self.indexer.reconcile(&root).await;
        self.done += 1;
        if result.is_err() {
            self.failed.push(root.clone());
        }
        if self.place != CursorPlace::Off {
            let cursor = Cursor {
                version: 1,
                prefix: self.prefix.clone(),
                after: root.clone(),
                done: self.done,
                failed: self.failed.clone(),
            };
            if let Err(e) = write(self.indexer, &self.place, &cursor).await {
                // The repository is reconciled; a run resuming from an older cursor only
                // does it again.
                tracing::warn!(root = %root, error = %e, "could not record the reconcile cursor");
            }
        }
        Some((root, result))
    }

    /// Every repository is done: delete the cursor, so the next run starts at the first
    /// repository again.
    pub async fn finish(self) -> Result<()> {
        clear(self.indexer, &self.place, &self.prefix).await
    }

    /// Run [`next`](Self::next) to the end, then [`finish`](Self::finish). One result per
    /// repository, in root order.
    pub async fn run_to_end(mut self) -> Result<Vec<(String, Result<PublishReport>)>> {
        let mut out = Vec::with_capacity(self.remaining());
        while let Some(done) = self.next().await {
            out.push(done);
        }
        self.finish().await?;
        Ok(out)
    }
}

/// The cursor of `prefix`, if there is a readable one. A cursor that cannot be read or
/// parsed, or that belongs to another prefix, is ignored with a warning: the run starts over,
/// which is always correct.
async fn read(indexer: &Indexer, place: &CursorPlace, prefix: &str) -> Option<Cursor> {
    let bytes = match place {
        CursorPlace::Off => return None,
        CursorPlace::Store => {
            let key = cursor_key(prefix);
            match super::retry(&indexer.options, "get", || indexer.store.get(&key)).await {
                Ok((body, _)) => body,
                Err(store::Error::NotFound { .. }) => return None,
                Err(e) => {
                    tracing::warn!(key, error = %e, "cannot read the reconcile cursor; starting at the first repository");
                    return None;
                }
            }
        }
        CursorPlace::File(path) => match tokio::fs::read(path).await {
            Ok(body) => Bytes::from(body),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the reconcile cursor; starting at the first repository");
                return None;
            }
        },
    };
    match serde_json::from_slice::<Cursor>(&bytes) {
        Ok(c) if c.version == 1 && c.prefix == prefix => Some(c),
        Ok(c) => {
            tracing::warn!(version = c.version, prefix = %c.prefix, "reconcile cursor of another prefix or version ignored");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "unreadable reconcile cursor ignored");
            None
        }
    }
}

async fn write(indexer: &Indexer, place: &CursorPlace, cursor: &Cursor) -> Result<()> {
    let body = serde_json::to_vec(cursor).map_err(|e| Error::Io(std::io::Error::other(e)))?;
    match place {
        CursorPlace::Off => Ok(()),
        CursorPlace::Store => {
            let key = cursor_key(&cursor.prefix);
            let opts = PutOptions {
                content_type: Some("application/json".into()),
                ..PutOptions::default()
            };
            super::retry(&indexer.options, "put", || {
                indexer
                    .store
                    .put(&key, Bytes::from(body.clone()), opts.clone())
            })
            .await?;
            Ok(())
        }
        CursorPlace::File(path) => {
            // Replace atomically: a kill mid-write leaves the old cursor, not half a file.
            let tmp = path.with_extension("tmp");
            tokio::fs::write(&tmp, &body).await?;
            tokio::fs::rename(&tmp, path).await?;
            Ok(())
        }
    }
}

async fn clear(indexer: &Indexer, place: &CursorPlace, prefix: &str) -> Result<()> {
    match place {
        CursorPlace::Off => Ok(()),
        CursorPlace::Store => {
            let key = cursor_key(prefix);
            super::retry(&indexer.options, "delete", || indexer.store.delete(&key)).await?;
            Ok(())
        }
        CursorPlace::File(path) => match tokio::fs::remove_file(path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::local::LocalStore;
    use crate::{Layout, ObjectStore, RepoConfig};

    #[test]
    fn cursor_keys_are_per_prefix() {
        assert_eq!(cursor_key(""), "rpmbucket-state/reconcile/cursor.json");
        assert_eq!(
            cursor_key("/el9//x86_64"),
            "rpmbucket-state/reconcile/el9/x86_64/cursor.json"
        );
        store::validate_key(&cursor_key("el9/")).unwrap();
    }

    #[tokio::test]
    async fn a_cursor_of_another_prefix_or_unreadable_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(LocalStore::new(dir.path()).unwrap());
        let ix = Indexer::new(store.clone(), Layout::default(), RepoConfig::default());
        let place = CursorPlace::Store;
        let c = Cursor {
            version: 1,
            prefix: "a/".into(),
            after: "a/x/".into(),
            done: 3,
            failed: vec![],
        };
        write(&ix, &place, &c).await.unwrap();
        assert_eq!(read(&ix, &place, "a/").await, Some(c.clone()));
        assert_eq!(read(&ix, &place, "b/").await, None);
        store
            .put(
                &cursor_key("a/"),
                Bytes::from_static(b"{not json"),
                PutOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(read(&ix, &place, "a/").await, None);
        clear(&ix, &place, "a/").await.unwrap();
        clear(&ix, &place, "a/").await.unwrap();

        let file = CursorPlace::File(dir.path().join("cursor.json"));
        assert_eq!(read(&ix, &file, "a/").await, None);
        write(&ix, &file, &c).await.unwrap();
        assert_eq!(read(&ix, &file, "a/").await, Some(c));
        clear(&ix, &file, "a/").await.unwrap();
        assert!(!dir.path().join("cursor.json").exists());
    }
}

//! Engine: the object-store seam (S3 and local directory) and incremental, atomic publishing of
//! repository metadata. Knows nothing of Lambda or HTTP.
//!
//! The entry point is [`Indexer`]: given changed keys, it brings one repository's published
//! metadata up to date ([`Indexer::apply`]), or rebuilds it from a listing
//! ([`Indexer::reindex`], [`Indexer::reconcile`]). [`Layout`] maps keys to repositories. How the
//! state is kept and how the `repomd.xml` swap works is described in the crate's README.
//!
//! # Stores
//!
//! [`ObjectStore`] is the seam; [`LocalStore`] (a directory) and [`S3Store`] (a bucket through
//! `aws-sdk-s3`) implement it with the same guarantees: atomic replace, conditional writes
//! ([`PutMode::Create`], [`PutMode::Update`]) that hold under concurrency, ranged reads, listing
//! in key order. [`store::open`] picks one from `s3://bucket/prefix` or a path.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use bytes::Bytes;
//! use rpmbucket_engine::store::Error;
//! use rpmbucket_engine::{LocalStore, ObjectStore, PutMode, PutOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let store = LocalStore::new(dir.path())?;
//! let v1 = store.put("repodata/repomd.xml", Bytes::from("<v1/>"), PutOptions::default()).await?;
//!
//! // Replace only if nobody else did since we read v1.
//! let update = PutOptions { mode: PutMode::Update(v1.etag.clone()), ..Default::default() };
//! store.put("repodata/repomd.xml", Bytes::from("<v2/>"), update.clone()).await?;
//! let stale = store.put("repodata/repomd.xml", Bytes::from("<v3/>"), update).await;
//! assert!(matches!(stale, Err(Error::Precondition { .. })));
//!
//! let (head, meta) = store.get_range("repodata/repomd.xml", 0..3).await?;
//! assert_eq!((&head[..], meta.size), (&b"<v2"[..], 5));
//! # Ok(())
//! # }
//! ```
//!
//! # Why not the `object_store` crate?
//!
//! Its trait and error design are the model here, but its local backend does not enforce
//! `PutMode::Update`, and through `aws-sdk-s3` we get S3's stored SHA-256 checksums and
//! presigned uploads that bind a checksum, which the publishing path and the upload gateway use.

#![warn(missing_docs)]

pub mod backend;
pub mod cache;
pub mod config;
pub mod counting;
pub mod doctor;
pub mod error;
pub mod layout;
pub mod naming;
pub mod page;
pub mod progress;
pub mod promote;
pub mod publish;
pub mod rejected;
pub mod render;
pub mod retention;
pub mod state;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod trust;

pub use cache::MetadataCache;
pub use config::{Compression, Profile, RepoConfig, Retention};
pub use counting::{CountingStore, RequestCounts};
pub use error::{Error, Result, Unreadable, Unwritable};
pub use layout::{Layout, LayoutRule};
pub use progress::{Progress, ProgressFn};
pub use publish::{
    reconcile_checkpoint_from_env, Change, ChangeKind, CursorPlace, ExternalGeneration,
    ExternalReport, Indexer, IndexerOptions, PublishReport, ReconcileAll, ReconcileAllOptions,
    Snapshot, CACHE_IMMUTABLE, CACHE_SHORT, MAX_PUBLISH_WINDOW, MIN_SWEEP_AGE,
    RECONCILE_CHECKPOINT, RECONCILE_CHECKPOINT_ENV, REJECTED_FILE,
};
pub use rejected::{RejectedKey, RejectedList};
pub use store::{local::LocalStore, s3::S3Store};
pub use store::{ObjectMeta, ObjectStore, PutMode, PutOptions};
pub use trust::{PackagePolicy, Signer, TrustedKeys};

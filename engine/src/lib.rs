//! Engine: the object-store seam (S3 and local directory) and incremental, atomic publishing of
//! repository metadata. Knows nothing of Lambda or HTTP.
//!
//! The entry point is [`Indexer`]: given changed keys, it brings one repository's published
//! metadata up to date ([`Indexer::apply`]), or rebuilds it from a listing
//! ([`Indexer::reindex`], [`Indexer::reconcile`]). [`Layout`] maps keys to repositories. How the
//! state is kept and how the `repomd.xml` swap works is described in the crate's README.

pub mod backend;
pub mod config;
pub mod counting;
pub mod error;
pub mod layout;
pub mod publish;
pub mod state;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use config::{Compression, RepoConfig};
pub use counting::{CountingStore, RequestCounts};
pub use error::{Error, Result};
pub use layout::{Layout, LayoutRule};
pub use publish::{
    Change, ChangeKind, FaultPoint, Indexer, IndexerOptions, PublishReport, CACHE_IMMUTABLE,
    CACHE_SHORT, REJECTED_FILE,
};
pub use store::{local::LocalStore, s3::S3Store};
pub use store::{ObjectMeta, ObjectStore, PutMode, PutOptions};

//! Engine: the object-store seam (S3 and local directory) and incremental, atomic publishing of
//! repository metadata. Knows nothing of Lambda or HTTP.

pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use store::{local::LocalStore, s3::S3Store};
pub use store::{ObjectMeta, ObjectStore, PutMode, PutOptions};

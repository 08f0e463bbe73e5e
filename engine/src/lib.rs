//! Engine: the object-store seam (S3 and local directory) and incremental, atomic publishing of
//! repository metadata. Knows nothing of Lambda or HTTP.

pub mod store;

pub use store::{ObjectMeta, ObjectStore, PutMode, PutOptions};

//! Upload gateway and local repository server.
//!
//! - [`app::app`] is the axum router shared by the Lambda binary (`rpmbucket-gateway`, behind a
//!   function URL), a standalone server and tests: authenticated `PUT`s answered with a `307`
//!   to a presigned S3 URL, presigned URLs on request, deletes, publication status and
//!   ready-made `.repo` files.
//! - [`local::serve_local`] is `rpmbucket serve`: the same routes writing straight into a
//!   directory, indexed in-process, and the directory served to dnf.
//! - [`auth`] holds the token scheme, [`path`] the request-path rules, [`waiters`] the
//!   `/status?wait=` waiters and how they learn of publishes.

#![warn(missing_docs)]

pub mod app;
pub mod auth;
mod engine;
pub mod local;
pub mod path;
pub mod presign;
mod refusal;
pub mod repo;
mod sink;
pub mod waiters;

#[cfg(feature = "lambda")]
pub mod lambda;

pub use app::{app, Access, AppState, Writes};
pub use engine::{local_repository, s3_repository, Repository};
pub use local::{serve_local, LocalOptions, LocalServer};

//! Indexer Lambda: bucket notifications (direct, SQS, SNS, EventBridge) in, repodata out.
//!
//! [`event`] turns a payload into validated changes, [`handler`] publishes each repository
//! once per batch and reports failures so nothing is lost; the `rpmbucket-indexer` binary wires
//! them to the Lambda runtime, an SQS poller or stdin.

#![warn(missing_docs)]

pub mod event;
pub mod handler;
mod repo;

pub use handler::{handle, handle_opts, Error, Failure, Metrics, Options};
pub use repo::{
    indexer_from_env, lambda_indexer, signer_from_env, Indexer, SignerError, SIGNING_KEY_SECRET_ENV,
};

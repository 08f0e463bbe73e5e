//! Indexer Lambda: bucket notifications (direct, SQS, SNS, EventBridge) in, repodata out.

pub mod event;

//! Indexer Lambda.

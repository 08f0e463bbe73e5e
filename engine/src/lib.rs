//! Engine: object stores and repodata publishing.

//! Upload gateway.

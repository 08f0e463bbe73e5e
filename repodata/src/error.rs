//! The one error type of this crate.

/// Everything that can go wrong while reading an RPM header or building a package record.
///
/// Every variant names what was wrong with the input; none of them is retryable (the same
/// bytes fail the same way), except [`Error::Io`] from the file convenience functions.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes do not start with the RPM lead magic `ED AB EE DB`.
    #[error("not an rpm package (no lead magic)")]
    NotAnRpm,

    /// The lead is present but describes a package librpm refuses to read.
    #[error("unsupported rpm lead: {what}")]
    BadLead {
        /// What librpm objects to (signature type or major version).
        what: String,
    },

    /// Fewer bytes than the structure needs.
    #[error("truncated rpm: need {needed} bytes, got {got}")]
    Truncated {
        /// Bytes from the start of the file the headers need.
        needed: u64,
        /// Bytes that were handed in.
        got: u64,
    },

    /// A header (signature or main) is structurally invalid. `what` says where and why,
    /// in the words librpm would use.
    #[error("bad {header} header: {what}")]
    BadHeader {
        /// `"signature"` or `"main"`.
        header: &'static str,
        /// The check that failed.
        what: String,
    },

    /// A header declares more index entries or data bytes than librpm accepts.
    #[error("{header} header too large: {what} is {got}, limit {limit}")]
    TooLarge {
        /// `"signature"` or `"main"`.
        header: &'static str,
        /// Which length: number of tags, data length or header blob size.
        what: &'static str,
        /// The value the header declares.
        got: u64,
        /// The largest value librpm accepts.
        limit: u64,
    },

    /// A signature tag that librpm copies into the main header is malformed or clashes with
    /// a main-header tag (librpm: "invalid signature tag").
    #[error("invalid signature tag {tag}")]
    BadSignatureTag {
        /// The signature-header tag number.
        tag: u32,
    },

    /// A value that ends up in the metadata contains an ASCII control character other than
    /// TAB, LF and CR; createrepo_c drops such packages.
    #[error("forbidden control character in {field}")]
    ForbiddenControlChars {
        /// Which value, in words (`"summary"`, `"file basename"`, ...).
        field: String,
    },

    /// The payload does not hash to the digest recorded in the header: the file is corrupt or
    /// truncated and rpm would refuse to install it. (createrepo_c does not check this.)
    #[error(
        "payload digest mismatch ({algo}): header says {expected}, payload hashes to {actual}"
    )]
    PayloadDigestMismatch {
        /// Hash algorithm named by the header (`"sha256"`, ...).
        algo: &'static str,
        /// Lowercase hex digest recorded in the header.
        expected: String,
        /// Lowercase hex digest of the payload as read.
        actual: String,
    },

    /// Reading the package file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file being read.
        path: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`] as default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
    }

    #[test]
    fn messages_are_lowercase_and_structured() {
        let e = Error::Truncated {
            needed: 112,
            got: 10,
        };
        assert_eq!(e.to_string(), "truncated rpm: need 112 bytes, got 10");
        let e = Error::ForbiddenControlChars {
            field: "summary".into(),
        };
        assert_eq!(e.to_string(), "forbidden control character in summary");
    }
}

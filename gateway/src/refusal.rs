//! Refusals: a status and a one-line reason, the only shape in which the gateway says no
//! (shared by the router and the local server's write side).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::AuthError;

/// A refusal: status plus one-line reason.
pub(crate) fn refuse(status: StatusCode, reason: impl std::fmt::Display) -> Response {
    let mut r = (status, format!("{reason}\n")).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"rpmbucket\""),
        );
    }
    r
}

/// A refusal before any work is done (kept small; turned into a response by the caller).
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    reason: String,
    retry_after: Option<u64>,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, reason: impl std::fmt::Display) -> Refusal {
        Refusal {
            status,
            reason: reason.to_string(),
            retry_after: None,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut r = refuse(self.status, self.reason);
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

impl From<AuthError> for Refusal {
    fn from(e: AuthError) -> Refusal {
        let status = match e {
            AuthError::Missing | AuthError::Invalid => StatusCode::UNAUTHORIZED,
            AuthError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AuthError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            AuthError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        };
        let retry_after = e.retry_after();
        Refusal {
            retry_after,
            ..Refusal::new(status, e)
        }
    }
}

/// The upload limit that applies to one repository: the server's (`Limits::max_upload`), or
/// the repository's own `max-upload-size` setting when that is smaller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UploadLimit {
    /// Largest upload accepted, in bytes.
    pub(crate) bytes: u64,
    /// Which limit it is, for refusals.
    pub(crate) what: String,
}

impl UploadLimit {
    /// The server's own limit (`Limits::max_upload`).
    pub(crate) fn server(max_upload: u64) -> UploadLimit {
        UploadLimit {
            bytes: max_upload,
            what: format!("the upload limit of {max_upload} bytes"),
        }
    }

    /// 413: `subject` (what was too large) and the limit it crossed.
    pub(crate) fn refuse(&self, subject: impl std::fmt::Display) -> Response {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{subject} is larger than {}", self.what),
        )
    }
}

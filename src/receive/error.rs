//! A refusal of the receiver, with the status to answer.

use crate::event::ParseError;
use crate::verify::VerifyError;

/// Why a request was rejected; [`status`](ReceiveError::status) is the HTTP
/// status to answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// Not authentic: answer 401.
    #[error("webhook not authentic: {0}")]
    Verify(#[from] VerifyError),
    /// Authentic, but not an event this crate can hand over: answer 400.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

impl ReceiveError {
    /// The HTTP status to answer: 401 or 400.
    pub fn status(&self) -> u16 {
        match self {
            ReceiveError::Verify(err) => err.status(),
            ReceiveError::Parse(err) => err.status(),
        }
    }

    /// The HTTP status to answer, as an [`http::StatusCode`].
    #[cfg(feature = "http")]
    pub fn status_code(&self) -> http::StatusCode {
        match self {
            ReceiveError::Verify(_) => http::StatusCode::UNAUTHORIZED,
            ReceiveError::Parse(_) => http::StatusCode::BAD_REQUEST,
        }
    }
}

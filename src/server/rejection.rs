//! Why a request was refused without running the handler, with its cause.

use super::answer::Answer;
use crate::dedup::StoreError;
use crate::event::ParseError;
use crate::receive::ReceiveError;
use crate::verify::VerifyError;

/// The error type of reading a request body, whatever the server.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request refused before the handler ran, keeping why: which check
/// failed. It reaches you as [`Answered::Refused`](crate::Answered::Refused)
/// (an event that is not yours, or a delivery queued, is not a refusal):
/// log it from an error hook or a handler taking
/// `Result<YocoWebhook, Answered>`; answer with [`status`](Self::status) and
/// [`body_text`](Self::body_text), which the server integrations do for you.
///
/// The body text names the step that refused (`webhook not authentic`,
/// `not a Yoco event`, ...), never the check's details: those stay in your
/// logs. [`Display`](std::fmt::Display) gives the details, and never a
/// secret, a signature or the body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum YocoRejection {
    /// The request was not a POST: 405, with `Allow: POST`.
    #[error("method not allowed: Yoco POSTs its webhooks")]
    MethodNotAllowed,
    /// The body is over the limit (ours or the server's own): 413.
    #[error("body over the limit")]
    BodyTooLarge,
    /// The body could not be read to its end (the client went away, or sent
    /// a broken chunk): 400.
    #[error("body could not be read")]
    BodyUnreadable(#[source] BoxError),
    /// The request is not authentic, and which check failed: 401.
    #[error("webhook not authentic: {0}")]
    NotAuthentic(VerifyError),
    /// The request is authentic but its body is not a Yoco event: 400.
    #[error("{0}")]
    NotAnEvent(ParseError),
    /// The queue could not record the delivery: 503, so that Yoco retries.
    #[error("the delivery could not be queued: {0}")]
    QueueUnavailable(#[source] StoreError),
    /// The server was given no [`YocoWebhookConfig`](crate::YocoWebhookConfig)
    /// for this route (on Rocket: none in managed state): 500, the
    /// merchant's mistake, not the sender's.
    #[error("no YocoWebhookConfig for this route")]
    NotConfigured,
}

impl YocoRejection {
    /// The HTTP status to answer: 405, 413, 400, 401, 500 without a
    /// configuration, or 503 for a queue that could not record the
    /// delivery. Never 2xx.
    pub fn status(&self) -> u16 {
        self.answer().status().as_u16()
    }

    /// [`status`](Self::status) as an [`http::StatusCode`].
    pub fn status_code(&self) -> http::StatusCode {
        self.answer().status()
    }

    /// The short text to answer with: the step that refused, nothing more.
    pub fn body_text(&self) -> &'static str {
        self.answer().text()
    }

    /// Why, as a short stable label for logs and metrics: the check that
    /// failed (`signature_mismatch`, `stale_timestamp`, ...).
    pub fn reason(&self) -> &'static str {
        match self {
            YocoRejection::MethodNotAllowed => "method_not_allowed",
            YocoRejection::BodyTooLarge => "body_too_large",
            YocoRejection::BodyUnreadable(_) => "body_unreadable",
            YocoRejection::NotAuthentic(cause) => match cause {
                VerifyError::MissingHeader { .. } => "missing_header",
                VerifyError::RepeatedHeader { .. } => "repeated_header",
                VerifyError::ConflictingHeaders { .. } => "conflicting_headers",
                VerifyError::InvalidHeader { .. } => "invalid_header",
                VerifyError::StaleTimestamp => "stale_timestamp",
                VerifyError::FutureTimestamp => "future_timestamp",
                VerifyError::NoSignature => "no_signature",
                VerifyError::MalformedSignature => "malformed_signature",
                VerifyError::SignatureMismatch => "signature_mismatch",
                VerifyError::ModeMismatch { .. } => "mode_mismatch",
                VerifyError::ReceiptMismatch => "receipt_mismatch",
            },
            YocoRejection::NotAnEvent(_) => "not_an_event",
            YocoRejection::QueueUnavailable(_) => "queue_unavailable",
            YocoRejection::NotConfigured => "not_configured",
        }
    }

    pub(crate) fn answer(&self) -> Answer {
        match self {
            YocoRejection::MethodNotAllowed => Answer::MethodNotAllowed,
            YocoRejection::BodyTooLarge => Answer::BodyTooLarge,
            YocoRejection::BodyUnreadable(_) => Answer::BodyUnreadable,
            YocoRejection::NotAuthentic(_) => Answer::NotAuthentic,
            YocoRejection::NotAnEvent(_) => Answer::NotAnEvent,
            YocoRejection::QueueUnavailable(_) => Answer::QueueUnavailable,
            YocoRejection::NotConfigured => Answer::NotConfigured,
        }
    }
}

impl From<ReceiveError> for YocoRejection {
    fn from(err: ReceiveError) -> Self {
        match err {
            ReceiveError::Verify(err) => YocoRejection::NotAuthentic(err),
            ReceiveError::Parse(err) => YocoRejection::NotAnEvent(err),
        }
    }
}

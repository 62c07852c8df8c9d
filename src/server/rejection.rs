//! Why a request was answered without running the handler, with its cause.

use http::StatusCode;

use super::answer::Answer;
use crate::dedup::StoreError;
use crate::event::ParseError;
use crate::filter::IgnoreReason;
use crate::ids::WebhookId;
use crate::receive::{Ignored, ReceiveError};
use crate::verify::VerifyError;

/// The error type of reading a request body, whatever the server.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request answered before the handler ran, keeping why: which check
/// failed, which event was ignored. Log it from an error hook or a handler
/// taking `Result<YocoWebhook, YocoRejection>`; answer with
/// [`status`](Self::status) and [`body_text`](Self::body_text), which the
/// server integrations do for you.
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
    /// An authentic event that is not yours (another checkout, no checkout
    /// id, another mode): 200, so that Yoco does not retry it.
    #[error("ignored: {}", .0.reason)]
    Ignored(Ignored),
    /// The delivery was queued for your workers
    /// ([`YocoWebhookConfig::with_queue`](crate::YocoWebhookConfig::with_queue)):
    /// 200, so that Yoco does not retry it. Not a failure: the answer of a
    /// route that processes later.
    #[error("queued: {0}")]
    Queued(WebhookId),
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
    /// configuration, 503 for a queue that could not record the delivery,
    /// or 200 for an ignored or queued event.
    pub fn status(&self) -> StatusCode {
        self.answer().status()
    }

    /// The short text to answer with: the step that refused, nothing more.
    pub fn body_text(&self) -> &'static str {
        self.answer().text()
    }

    /// Why, as a short stable label for logs and metrics: the check that
    /// failed (`signature_mismatch`, `stale_timestamp`, ...), or why an
    /// event was ignored (`foreign_checkout`, ...).
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
            YocoRejection::Ignored(ignored) => match ignored.reason {
                IgnoreReason::NoCheckoutId => "no_checkout_id",
                IgnoreReason::ForeignCheckout => "foreign_checkout",
                IgnoreReason::UnwantedMode => "unwanted_mode",
            },
            YocoRejection::Queued(_) => "queued",
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
            YocoRejection::Ignored(ignored) => Answer::Ignored(ignored.reason),
            YocoRejection::Queued(_) => Answer::Queued,
            YocoRejection::QueueUnavailable(_) => Answer::StoreUnavailable,
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

//! The one entry point: verify, parse and filter, and say what to answer.

use time::OffsetDateTime;

use std::borrow::Cow;
use std::sync::Arc;

use crate::event::{Event, Mode, ParseError, checkout_hint, event_type_name, glance, parse_checked};
use crate::filter::{CheckoutFilter, IgnoreReason};
use crate::headers::Headers;
use crate::ids::{CheckoutId, EventId, WebhookId};
use crate::stored::Raw;
use crate::verify::{SecretName, Verified, Verifier, VerifyError};

/// Receives Yoco webhooks: verifies each request, parses the event and
/// decides whether it is the merchant's to process.
///
/// Build it once at start-up and share it (it is `Clone`, `Send` and `Sync`).
///
/// ```
/// use yoco_webhooks::{CheckoutFilter, Outcome, Receiver, Verifier, WebhookSecret};
///
/// let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let receiver = Receiver::new(Verifier::new(secret), CheckoutFilter::any());
///
/// let headers = [("webhook-id", "msg_1")]; // an unsigned request
/// let answer = match receiver.receive(&headers, b"{}") {
///     Ok(Outcome::Process(delivery)) => 200, // process delivery.event, then answer 2xx
///     Ok(Outcome::Ignore(_)) => 200,         // not ours: acknowledge, or Yoco retries for a day
///     Err(err) => err.status(),              // 401 or 400
/// };
/// assert_eq!(answer, 401);
/// # Ok::<(), yoco_webhooks::SecretError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Receiver {
    verifier: Verifier,
    filter: CheckoutFilter,
}

impl Receiver {
    /// A receiver that verifies with `verifier` and processes what `filter` lets through.
    pub fn new(verifier: Verifier, filter: CheckoutFilter) -> Self {
        Self { verifier, filter }
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The filter.
    pub fn filter(&self) -> &CheckoutFilter {
        &self.filter
    }

    /// Verifies, parses and filters one request, at the time `now`.
    ///
    /// `body` must be the raw request body, byte for byte; keep it if you
    /// want to store or forward the event as sent.
    ///
    /// A secret bound to a mode (see
    /// [`VerifierBuilder::for_mode`](crate::VerifierBuilder::for_mode))
    /// vouches only for events of that mode: an event it verified whose
    /// `payload.mode` is another, or absent, is not authentic
    /// ([`VerifyError::ModeMismatch`], 401), whatever its type, and even if
    /// its payload is malformed, before the filter looks at it. (A body that
    /// is not an event at all, with no mode to compare, stays a 400.)
    ///
    /// # Errors
    /// [`ReceiveError`], whose [`status`](ReceiveError::status) is the answer
    /// to give: 401 if the request is not authentic, 400 if it is authentic
    /// but not a Yoco event. A foreign or unwanted event is not an error but
    /// [`Outcome::Ignore`].
    pub fn receive_at<H: Headers + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Outcome, ReceiveError> {
        self.receive_at_unix(headers, body, now.unix_timestamp(), true)
    }

    /// [`Receiver::receive_at`] with `now` in Unix seconds; `fast` takes
    /// the fast path for events that are not ours when it is certain (off
    /// only to test it against the full parse).
    pub(crate) fn receive_at_unix<H: Headers + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
        now: i64,
        fast: bool,
    ) -> Result<Outcome, ReceiveError> {
        let verified = self.verifier.verify_at_unix(headers, body, now)?;
        let webhook_id = WebhookId::new(verified.webhook_id());
        // JSON is UTF-8: checked once, for the fast path, the parse and the
        // raw copy alike.
        let text = std::str::from_utf8(body).ok();
        // The fast path: when the body certainly names its owner and mode,
        // decide from them without building the event; a foreign event is
        // answered here. The filter is asked once per event, here or below.
        let mut verdict = None;
        let may_refuse = fast && (self.filter.may_ignore() || verified.secret_mode().is_some());
        // An event that names one of the filter's checkouts is likely ours:
        // the full parse, which it needs anyway, decides.
        let likely_ours = checkout_hint(body).is_some_and(|hint| self.filter.lists(hint));
        if may_refuse
            && !likely_ours
            && let Some(glance) = text.and_then(glance)
        {
            let mode = glance.mode.map(Mode::from_text);
            check_mode(&verified, mode.as_ref())?;
            let checkout_id = glance.checkout_id.map(CheckoutId::new);
            match self.filter.check(checkout_id.as_ref(), mode.as_ref()) {
                Some(reason) => {
                    return Ok(Outcome::Ignore(Ignored {
                        webhook_id,
                        event_id: EventId::new(glance.event_id),
                        event_type: event_type_name(glance.event_type),
                        checkout_id,
                        mode,
                        secret: verified.secret().clone(),
                        reason,
                    }));
                }
                None => verdict = Some(None),
            }
        }
        let event = match parse_checked(body, text) {
            Ok(event) => event,
            Err(malformed) => {
                // Someone else's event is acknowledged even if its payload is
                // odd: a 400 would make Yoco retry it for a day.
                if let Some(summary) = malformed.summary {
                    check_mode(&verified, summary.mode.as_ref())?;
                    let reason = verdict
                        .unwrap_or_else(|| self.filter.check(summary.checkout_id.as_ref(), summary.mode.as_ref()));
                    if let Some(reason) = reason {
                        return Ok(Outcome::Ignore(Ignored {
                            webhook_id,
                            event_id: summary.event_id,
                            event_type: summary.event_type,
                            checkout_id: summary.checkout_id,
                            mode: summary.mode,
                            secret: verified.secret().clone(),
                            reason,
                        }));
                    }
                }
                return Err(malformed.error.into());
            }
        };
        check_mode(&verified, event.mode())?;
        match verdict.unwrap_or_else(|| self.filter.check(event.checkout_id(), event.mode())) {
            None => Ok(Outcome::Process(Delivery {
                webhook_id,
                timestamp: verified.timestamp(),
                secret: verified.secret().clone(),
                event,
                raw: Raw::new(
                    body,
                    text,
                    verified.timestamp_header(),
                    verified.signature_header(),
                    now,
                    Arc::clone(verified.receipt_key()),
                ),
            })),
            Some(reason) => Ok(Outcome::Ignore(Ignored {
                webhook_id,
                event_type: event_type_name(event.event_type()),
                checkout_id: event.checkout_id().cloned(),
                mode: event.mode().cloned(),
                secret: verified.secret().clone(),
                event_id: event.id,
                reason,
            })),
        }
    }

    /// [`Receiver::receive_at`] with the system clock.
    ///
    /// Not available on `wasm32-unknown-unknown`, which has no clock.
    ///
    /// # Errors
    /// As [`Receiver::receive_at`].
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn receive<H: Headers + ?Sized>(&self, headers: &H, body: &[u8]) -> Result<Outcome, ReceiveError> {
        self.receive_at_unix(headers, body, crate::verify::unix_now(), true)
    }
}

/// Refuses an event whose mode is not the one the verifying secret is
/// bound to (an absent mode included: a bound secret cannot vouch for an
/// event that claims none).
fn check_mode(verified: &Verified<'_>, event: Option<&Mode>) -> Result<(), VerifyError> {
    match verified.secret_mode() {
        Some(bound) if event != Some(bound) => Err(VerifyError::ModeMismatch {
            secret: verified.secret().clone(),
            bound: bound.clone(),
            event: event.cloned(),
        }),
        _ => Ok(()),
    }
}

/// What to do with an authentic request.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
// A `Delivery` holds its ids inline (no allocation each); boxing it to even
// out the variants would cost the allocation that saves.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// The event is the merchant's: process it, then answer 2xx. If
    /// processing fails, answer non-2xx so that Yoco retries.
    Process(Delivery),
    /// The event is not the merchant's: answer 2xx without processing it.
    Ignore(Ignored),
}

impl Outcome {
    /// The `webhook-id` of the delivery.
    pub fn webhook_id(&self) -> &WebhookId {
        match self {
            Outcome::Process(delivery) => &delivery.webhook_id,
            Outcome::Ignore(ignored) => &ignored.webhook_id,
        }
    }
}

/// An authentic event to process.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Delivery {
    /// The `webhook-id`: the same for every retry, the key to process each
    /// delivery once.
    pub webhook_id: WebhookId,
    /// When this attempt was signed.
    pub timestamp: OffsetDateTime,
    /// The name of the accepted secret that verified it (see
    /// [`VerifierBuilder::named`](crate::VerifierBuilder::named)): log it,
    /// or count by it, to see when a secret being rotated out stops being
    /// used.
    pub secret: SecretName,
    /// The event.
    pub event: Event,
    /// What it was received as, and when.
    pub(crate) raw: Raw,
}

impl Delivery {
    /// The raw body, byte for byte as signed (UTF-8: it parsed as JSON).
    pub fn body(&self) -> &[u8] {
        self.raw.body().as_bytes()
    }

    /// The `webhook-timestamp` header, as sent.
    pub fn webhook_timestamp(&self) -> &str {
        self.raw.timestamp()
    }

    /// The `webhook-signature` header, as sent.
    pub fn webhook_signature(&self) -> &str {
        self.raw.signature()
    }

    /// When it was received: the `now` its timestamp was checked against
    /// (whole seconds).
    pub fn received_at(&self) -> OffsetDateTime {
        self.raw.received_at()
    }
}

/// An authentic event that is not the merchant's, with what is known of it
/// (for logs).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ignored {
    /// The `webhook-id`.
    pub webhook_id: WebhookId,
    /// The event's id.
    pub event_id: EventId,
    /// The event type as sent (borrowed for the types this crate knows).
    pub event_type: Cow<'static, str>,
    /// `payload.metadata.checkoutId`, if any.
    pub checkout_id: Option<CheckoutId>,
    /// `payload.mode`, if any.
    pub mode: Option<Mode>,
    /// The name of the accepted secret that verified it.
    pub secret: SecretName,
    /// Why it is not processed.
    pub reason: IgnoreReason,
}

/// Why a request was rejected; [`status`](ReceiveError::status) is the HTTP
/// status to answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// Not authentic: answer 401.
    #[error("webhook not authentic: {0}")]
    Verify(#[from] VerifyError),
    /// Authentic, but not a Yoco event: answer 400.
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

//! The one entry point: verify, parse and filter, and say what to answer.
//!
//! - this file: [`Receiver`], the steps in order;
//! - `delivery`: what it answers, [`Outcome`]: a [`Delivery`] to process
//!   (with what it was received as) or an [`Ignored`] event;
//! - `error`: [`ReceiveError`], a refusal with its status.

mod delivery;
mod error;

pub(crate) use delivery::Raw;
pub use delivery::{Delivery, Ignored, Outcome};
pub use error::ReceiveError;

use time::OffsetDateTime;

use std::sync::Arc;

use crate::event::{ParseError, build, event_type_name, read};
use crate::filter::CheckoutFilter;
use crate::headers::Headers;
use crate::ids::{CheckoutId, EventId, WebhookId};
use crate::mode::Mode;
use crate::verify::{Diagnosis, Verifier, VerifyError};

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
    /// # Whose event it is: one reader decides
    ///
    /// One pass over the body reads its `id`, `type`, `createdDate`,
    /// `payload.mode` and `payload.metadata.checkoutId` as
    /// `serde_json::Value` reads them (a repeated key counts with its last
    /// value; escapes are decoded; a value that is not a string means none).
    /// The mode check, the filter and the typed event all take them from
    /// there, so no two steps can disagree on whose event it is:
    ///
    /// - **Refused, 401**: not authentic; or verified only by secrets bound
    ///   to another mode than the event's ([`VerifyError::ModeMismatch`](crate::VerifyError::ModeMismatch)).
    ///   Among several secrets that match (a sender signing with a live and
    ///   a test secret), the one bound to the event's mode vouches for it.
    /// - **Refused, 400** ([`ParseError::NotAnEvent`]): not UTF-8, not
    ///   JSON, or not an object with a string `id` and `type`, an RFC 3339
    ///   `createdDate` and a `payload`.
    /// - **Ignored** ([`Outcome::Ignore`], answer 2xx): the filter does not
    ///   want its checkout id or mode, read as above. A known type's payload
    ///   that is malformed does not matter then: someone else's event is
    ///   acknowledged.
    /// - **Processed** ([`Outcome::Process`]): the filter wants it and its
    ///   payload has the documented shape (an object; unknown types are
    ///   kept whole as [`EventData::Other`](crate::EventData::Other)).
    /// - **Refused, 400** ([`ParseError::InvalidPayload`]): the filter wants
    ///   it but a known type's payload is not of the documented shape (an
    ///   array, say, or an amount that is not an integer). Yoco retries it
    ///   and an operator sees it; it is never acknowledged as not ours.
    /// - **A body no ordinary JSON reader accepts** (JSON, but with a lone
    ///   surrogate escape, a number beyond `f64` or nesting deeper than 127,
    ///   which `serde_json::Value` refuses) is never ignored: processed when
    ///   the filter wants it and its typed payload reads (the raw body is
    ///   always there), otherwise refused with 400
    ///   ([`ParseError::Unreadable`] or [`ParseError::InvalidPayload`]).
    ///
    /// # Errors
    /// [`ReceiveError`], whose [`status`](ReceiveError::status) is the answer
    /// to give: 401 if the request is not authentic, 400 if it is authentic
    /// but not an event this crate can hand over. A foreign or unwanted
    /// event is not an error but [`Outcome::Ignore`].
    pub fn receive_at<H: Headers + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Outcome, ReceiveError> {
        self.receive_at_unix(headers, body, now.unix_timestamp())
    }

    /// [`Receiver::receive_at`] with `now` in Unix seconds.
    pub(crate) fn receive_at_unix<H: Headers + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
        now: i64,
    ) -> Result<Outcome, ReceiveError> {
        let mut verified = self.verifier.verify_at_unix(headers, body, now)?;
        let owner = read(body).map_err(ParseError::NotAnEvent)?;
        let mode = owner.mode.as_deref().map(Mode::from_text);
        verified.vouch_for(mode.as_ref())?;
        let checkout_id = owner.checkout_id.as_deref().map(CheckoutId::from);
        if let Some(reason) = self.filter.check(checkout_id.as_ref(), mode.as_ref()) {
            if let Some(problem) = owner.unreadable {
                // Another reader may see another owner in it: not ignored.
                return Err(ParseError::Unreadable(problem).into());
            }
            return Ok(Outcome::Ignore(Ignored {
                webhook_id: WebhookId::new(verified.webhook_id()),
                event_id: EventId::from(owner.event_id.as_ref()),
                event_type: event_type_name(&owner.event_type),
                checkout_id,
                mode,
                secret: verified.secret().clone(),
                reason,
            }));
        }
        let event = build(&owner, body)?;
        Ok(Outcome::Process(Delivery {
            webhook_id: WebhookId::new(verified.webhook_id()),
            timestamp: verified.timestamp(),
            secret: verified.secret().clone(),
            event,
            raw: Raw::new(
                body,
                Some(owner.text),
                verified.timestamp_header(),
                verified.signature_header(),
                now,
                Arc::clone(verified.receipt_key()),
            ),
        }))
    }

    /// Says why a request is (or is not) authentic at the time `now`, as
    /// a cause to act on: [`Verifier::diagnose_at`], and, for a request
    /// that a secret bound to a mode signs, whether the event is of that
    /// mode ([`Diagnosis::OtherModeSecret`]).
    ///
    /// Call it only for a request [`Receiver::receive_at`] refused with
    /// 401, to log the cause at debug level: it is not for the hot path
    /// (a bounded number of HMACs per secret, see [`Diagnosis`]). It says
    /// nothing of the event beyond its mode: [`Diagnosis::Verifies`] for an
    /// authentic request whose body is not an event (400).
    ///
    /// ```
    /// use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};
    /// use yoco_webhooks::{CheckoutFilter, Diagnosis, Receiver, Verifier, WebhookSecret};
    /// use time::macros::datetime;
    ///
    /// let secret = WebhookSecret::parse(TEST_SECRET)?;
    /// let receiver = Receiver::new(Verifier::new(secret.clone()), CheckoutFilter::any());
    /// let body = SampleEvent::payment_succeeded().to_json();
    /// let signed_at = datetime!(2024-06-15 15:51:55 UTC);
    /// let headers = Signer::new(secret).sign("msg_1", signed_at, &body);
    /// // An hour later: a replay, or a clock that is off.
    /// let now = signed_at + time::Duration::hours(1);
    /// if let Err(refused) = receiver.receive_at(&headers, &body, now) {
    ///     let diagnosis = receiver.diagnose_at(&headers, &body, now);
    ///     assert!(matches!(diagnosis, Diagnosis::OutsideTolerance { age_secs: 3600, .. }));
    ///     eprintln!("refused ({refused}): {diagnosis}"); // or tracing::debug!
    /// }
    /// # Ok::<(), yoco_webhooks::SecretError>(())
    /// ```
    pub fn diagnose_at<H: Headers + ?Sized>(&self, headers: &H, body: &[u8], now: OffsetDateTime) -> Diagnosis {
        let diagnosis = self.verifier.diagnose_at(headers, body, now);
        if !diagnosis.verifies() {
            return diagnosis;
        }
        // Authentic: the mode check is the receiver's, as in `receive_at`.
        let (Ok(mut verified), Ok(owner)) = (self.verifier.verify_at(headers, body, now), read(body)) else {
            return diagnosis;
        };
        let mode = owner.mode.as_deref().map(Mode::from_text);
        match verified.vouch_for(mode.as_ref()) {
            Err(VerifyError::ModeMismatch { secret, bound, event }) => {
                Diagnosis::OtherModeSecret { secret, bound, event }
            }
            _ => Diagnosis::Verifies {
                secret: verified.secret().clone(),
            },
        }
    }

    /// [`Receiver::diagnose_at`] with the system clock.
    ///
    /// Not available on `wasm32-unknown-unknown`, which has no clock.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn diagnose<H: Headers + ?Sized>(&self, headers: &H, body: &[u8]) -> Diagnosis {
        self.diagnose_at(headers, body, OffsetDateTime::now_utc())
    }

    /// [`Receiver::receive_at`] with the system clock.
    ///
    /// Not available on `wasm32-unknown-unknown`, which has no clock.
    ///
    /// # Errors
    /// As [`Receiver::receive_at`].
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn receive<H: Headers + ?Sized>(&self, headers: &H, body: &[u8]) -> Result<Outcome, ReceiveError> {
        self.receive_at_unix(headers, body, crate::verify::unix_now())
    }
}

//! What the receiver answers for an authentic request: a [`Delivery`] to
//! process, with what it was received as ([`Raw`]), or an [`Ignored`] event.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::event::Event;
use crate::filter::IgnoreReason;
use crate::ids::{CheckoutId, EventId, WebhookId};
use crate::mode::Mode;
use crate::verify::SecretName;
use crate::verify::receipt::ReceiptKey;

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

/// What a delivery was received as: the body and the timestamp and
/// signature headers, in one allocation (the delivery's only one besides
/// its event's masked card number), and when, with the key to vouch for
/// when (its receipt is made only if it is stored).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Raw {
    /// The body, then the timestamp header, then the signature header.
    text: String,
    body_end: usize,
    timestamp_end: usize,
    /// Unix seconds: the `now` the delivery was verified against.
    received_at: i64,
    /// The receipt key of the secret that verified it: shared, so keeping
    /// it costs the hot path a reference count, not a MAC.
    receipt_key: Arc<ReceiptKey>,
}

impl Raw {
    /// The parts as received. The body of a delivery parsed as JSON, so it
    /// is UTF-8 (`text` is the body as the receiver checked it; checked
    /// here when `None`); the timestamp header passed verification, so it
    /// is ASCII digits; a signature header that is not UTF-8 (no signature
    /// contains such bytes, so it verified on an ASCII entry) keeps its
    /// entries with the other bytes replaced, which verifies the same.
    pub(crate) fn new(
        body: &[u8],
        text: Option<&str>,
        timestamp: &[u8],
        signature: &[u8],
        received_at: i64,
        receipt_key: Arc<ReceiptKey>,
    ) -> Self {
        let mut raw = String::with_capacity(
            body.len()
                .saturating_add(timestamp.len())
                .saturating_add(signature.len()),
        );
        match text {
            Some(body) => raw.push_str(body),
            None => push_text(&mut raw, body),
        }
        let body_end = raw.len();
        push_text(&mut raw, timestamp);
        let timestamp_end = raw.len();
        push_text(&mut raw, signature);
        Self {
            text: raw,
            body_end,
            timestamp_end,
            received_at,
            receipt_key,
        }
    }

    pub(crate) fn body(&self) -> &str {
        self.text.get(..self.body_end).unwrap_or_default()
    }

    pub(crate) fn timestamp(&self) -> &str {
        self.text.get(self.body_end..self.timestamp_end).unwrap_or_default()
    }

    pub(crate) fn signature(&self) -> &str {
        self.text.get(self.timestamp_end..).unwrap_or_default()
    }

    pub(crate) fn received_at(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.received_at).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The receipt of the delivery `webhook_id` received as this: the MAC
    /// that binds its time of receipt to it (see
    /// [`StoredDelivery`](crate::StoredDelivery)).
    pub(crate) fn receipt(&self, webhook_id: &WebhookId) -> String {
        self.receipt_key.receipt(
            webhook_id.as_str(),
            self.timestamp(),
            self.received_at().unix_timestamp(),
        )
    }
}

/// Appends `bytes` as text: as they are when UTF-8 (always, but for a
/// signature header's odd bytes), checked at the speed of `from_utf8`,
/// not the several times slower lossy conversion.
fn push_text(text: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(valid) => text.push_str(valid),
        Err(_) => text.push_str(&String::from_utf8_lossy(bytes)),
    }
}

impl fmt::Debug for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Raw")
            .field("body_len", &self.body_end)
            .field("webhook_timestamp", &self.timestamp())
            .field("received_at", &self.received_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::WebhookSecret;
    use crate::testing::TEST_SECRET;

    fn receipt_key() -> Arc<ReceiptKey> {
        Arc::new(ReceiptKey::derive(&WebhookSecret::parse(TEST_SECRET).unwrap()))
    }

    #[test]
    fn raw_parts_keep_text_as_is_and_replace_only_odd_bytes() {
        let raw = Raw::new(
            "{\"a\":\"é\"}".as_bytes(),
            None,
            b"1718466716",
            b"v1,abc= v1,\xff\xfe",
            7,
            receipt_key(),
        );
        assert_eq!(raw.body(), "{\"a\":\"é\"}");
        assert_eq!(raw.timestamp(), "1718466716");
        assert_eq!(raw.signature(), "v1,abc= v1,\u{fffd}\u{fffd}");
        let raw = Raw::new(b"{}", Some("{}"), b"1", b"v1,", 7, receipt_key());
        assert_eq!((raw.body(), raw.timestamp(), raw.signature()), ("{}", "1", "v1,"));
        let mut text = String::new();
        push_text(&mut text, b"ok");
        push_text(&mut text, b"\xc3");
        assert_eq!(text, "ok\u{fffd}");
    }
}

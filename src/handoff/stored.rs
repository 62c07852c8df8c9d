//! Deliveries kept for later: the [`StoredDelivery`] that holds a
//! delivery's raw parts with the time of receipt, and the receiver's check
//! of a stored delivery before a worker acts on it.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::headers::{WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
use crate::ids::WebhookId;
use crate::receive::{Delivery, Outcome, ReceiveError, Receiver};
use crate::verify::VerifyError;

/// A verified delivery as received, to keep in a queue, a table or a file
/// and check again before acting on it ([`Receiver::receive_stored`]): the
/// three webhook headers and the raw body, byte for byte, and the time it
/// was received.
///
/// Make one with [`Delivery::to_stored`], or with [`StoredDelivery::new`]
/// from what your own storage kept.
///
/// # The format
///
/// With serde (JSON here; any format works), a stored delivery is one
/// object of six fields, all required:
///
/// | field | JSON type | value |
/// |---|---|---|
/// | `webhook_id` | string | the `webhook-id` header |
/// | `webhook_timestamp` | string | the `webhook-timestamp` header, as sent (Unix seconds) |
/// | `webhook_signature` | string | the `webhook-signature` header, as sent |
/// | `received_at` | string | when it was received, RFC 3339 (`2024-06-15T15:51:56Z`) |
/// | `body` | string | the raw body, as sent |
/// | `receipt` | string | the receiver's MAC binding `received_at` to the delivery, standard base64 |
///
/// ```json
/// {"webhook_id":"msg_1","webhook_timestamp":"1718466716","webhook_signature":"v1,K5o...=","received_at":"2024-06-15T15:51:56Z","body":"{\"id\":\"evt_1\",...}","receipt":"Qx0...="}
/// ```
///
/// The format is stable: fields may be added in later versions, but only
/// optional ones, and unknown fields are ignored when read, so deliveries
/// stored by one version are read by the next and the one before.
///
/// The body is the signed content: changing one byte of it, or of any
/// header, makes [`Receiver::receive_stored`] refuse the delivery. It holds
/// what the customer paid with as Yoco describes it (a masked card number);
/// keep stored deliveries where you keep orders.
///
/// # The receipt, and what a queue writer can do
///
/// The signature vouches for the headers and the body, but not for
/// `received_at`, which the timestamp is checked against. So the receiver
/// vouches for it: `receipt` is HMAC-SHA256 over the `webhook-id`, the
/// `webhook-timestamp` header and `received_at` (in Unix seconds), under a
/// key derived from the secret that verified the delivery (HMAC of
/// `yoco-webhooks receipt v1` under that secret), and
/// [`Receiver::receive_stored`] refuses a delivery whose receipt differs
/// ([`VerifyError::ReceiptMismatch`], 401), comparing in constant time.
///
/// Whoever can write the queue, but does not hold the webhook's secret,
/// **can** replay a stored delivery as it is (as often as they like: keep
/// deduplicating by `webhook-id` in the worker), drop it, delay it and
/// reorder it. They **cannot** move its time of receipt (even by a second,
/// even within the tolerance of its signed timestamp), nor change one byte
/// of its body or headers, nor make a delivery of their own. Whoever holds
/// the secret can do everything, as they can sign events.
///
/// So `received_at` can be trusted: a delivery received longer ago than
/// the worker remembers `webhook-id`s (a purged inbox row, an expired
/// deduplication entry) may be a replay of one already processed; refuse
/// such old deliveries, or remember ids as long as deliveries may wait.
///
/// A delivery is checked with the secret that verifies its signature: check
/// it with a receiver that still holds the secret it was received with (a
/// delivery stored, then checked by a receiver with another secret that
/// also verifies its signature, is refused).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDelivery {
    webhook_id: WebhookId,
    webhook_timestamp: String,
    webhook_signature: String,
    #[serde(with = "time::serde::rfc3339")]
    received_at: OffsetDateTime,
    body: String,
    receipt: String,
}

impl StoredDelivery {
    /// A stored delivery from its parts, as your storage kept them (the
    /// `receipt` as [`receipt`](Self::receipt) gave it).
    pub fn new(
        webhook_id: WebhookId,
        webhook_timestamp: impl Into<String>,
        webhook_signature: impl Into<String>,
        body: impl Into<String>,
        received_at: OffsetDateTime,
        receipt: impl Into<String>,
    ) -> Self {
        Self {
            webhook_id,
            webhook_timestamp: webhook_timestamp.into(),
            webhook_signature: webhook_signature.into(),
            received_at,
            body: body.into(),
            receipt: receipt.into(),
        }
    }

    /// The `webhook-id` header.
    pub fn webhook_id(&self) -> &WebhookId {
        &self.webhook_id
    }

    /// The `webhook-timestamp` header, as sent.
    pub fn webhook_timestamp(&self) -> &str {
        &self.webhook_timestamp
    }

    /// The `webhook-signature` header, as sent.
    pub fn webhook_signature(&self) -> &str {
        &self.webhook_signature
    }

    /// The raw body, as sent.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// When it was received: the time its timestamp is checked against.
    pub fn received_at(&self) -> OffsetDateTime {
        self.received_at
    }

    /// The receiver's MAC binding [`received_at`](Self::received_at) to
    /// the delivery (see [the receipt](Self#the-receipt-and-what-a-queue-writer-can-do)).
    pub fn receipt(&self) -> &str {
        &self.receipt
    }

    /// The three webhook headers, as `(name, value)` pairs (a [`Headers`](crate::headers::Headers)).
    pub fn headers(&self) -> [(&'static str, &str); 3] {
        [
            (WEBHOOK_ID, self.webhook_id.as_str()),
            (WEBHOOK_TIMESTAMP, &self.webhook_timestamp),
            (WEBHOOK_SIGNATURE, &self.webhook_signature),
        ]
    }
}

/// The ids and the time; the signature, the body and the receipt are left
/// out of logs.
impl fmt::Debug for StoredDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredDelivery")
            .field("webhook_id", &self.webhook_id)
            .field("webhook_timestamp", &self.webhook_timestamp)
            .field("received_at", &self.received_at)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// The delivery as received, to store and check again later
    /// ([`Receiver::receive_stored`]).
    ///
    /// Its receipt is made here, not when the delivery was received:
    /// deliveries that are never stored cost no MAC.
    pub fn to_stored(&self) -> StoredDelivery {
        let received_at = self.raw.received_at();
        StoredDelivery {
            webhook_id: self.webhook_id.clone(),
            webhook_timestamp: self.raw.timestamp().to_owned(),
            webhook_signature: self.raw.signature().to_owned(),
            received_at,
            body: self.raw.body().to_owned(),
            receipt: self.raw.receipt(&self.webhook_id),
        }
    }
}

impl From<&Delivery> for StoredDelivery {
    fn from(delivery: &Delivery) -> Self {
        delivery.to_stored()
    }
}

impl Receiver {
    /// Checks a stored delivery again, as this receiver checked it when it
    /// arrived: the signature with this receiver's secrets, the timestamp
    /// against the time it was received (not now: a delivery kept for a
    /// day is still on time), the receipt that vouches for that time, then
    /// the event and the filter. A worker calls this before acting on a
    /// delivery taken from a queue: one changed byte anywhere, or a
    /// receipt time moved at all, and it is refused (see [what a queue
    /// writer can do](StoredDelivery#the-receipt-and-what-a-queue-writer-can-do)).
    ///
    /// The [`Delivery`] it gives is the one the request gave (its
    /// [`received_at`](Delivery::received_at) the stored one).
    ///
    /// ```
    /// use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};
    /// use yoco_webhooks::{CheckoutFilter, Outcome, Receiver, StoredDelivery, Verifier, WebhookSecret};
    ///
    /// let secret = WebhookSecret::parse(TEST_SECRET)?;
    /// let receiver = Receiver::new(Verifier::new(secret.clone()), CheckoutFilter::any());
    /// let body = SampleEvent::payment_succeeded().to_json();
    /// let headers = Signer::new(secret).sign_now("msg_1", &body);
    /// let Ok(Outcome::Process(delivery)) = receiver.receive(&headers, &body) else { panic!() };
    ///
    /// // Kept as JSON (in a queue, a table, a file), read back later.
    /// let json = serde_json::to_string(&delivery.to_stored())?;
    /// let stored: StoredDelivery = serde_json::from_str(&json)?;
    /// let Ok(Outcome::Process(again)) = receiver.receive_stored(&stored) else { panic!() };
    /// assert_eq!(again, delivery);
    ///
    /// let tampered = json.replacen("900", "100", 1);
    /// let stored: StoredDelivery = serde_json::from_str(&tampered)?;
    /// assert_eq!(receiver.receive_stored(&stored).unwrap_err().status(), 401);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Receiver::receive_at`]: 401 if it is not authentic (tampered,
    /// or signed by none of this receiver's secrets), 400 if it is not an
    /// event; 401 [`VerifyError::ReceiptMismatch`] if its receipt is not
    /// the one made for it under the secret that verified it here.
    pub fn receive_stored(&self, stored: &StoredDelivery) -> Result<Outcome, ReceiveError> {
        let headers = stored.headers();
        let received_at = stored.received_at.unix_timestamp();
        // The signature first (a changed byte is a mismatch of it), then
        // the receipt under the key of the secret that verified it; the
        // signature is checked again below, off the hot path.
        let verified = self
            .verifier()
            .verify_at_unix(&headers, stored.body.as_bytes(), received_at)?;
        if !verified.receipt_key().verifies(
            &stored.receipt,
            stored.webhook_id.as_str(),
            &stored.webhook_timestamp,
            received_at,
        ) {
            return Err(VerifyError::ReceiptMismatch.into());
        }
        self.receive_at(&headers, stored.body.as_bytes(), stored.received_at)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::filter::CheckoutFilter;
    use crate::secret::WebhookSecret;
    use crate::testing::{SampleEvent, Signer, TEST_SECRET};
    use crate::verify::{Verifier, VerifyError};

    const SIGNED_AT: OffsetDateTime = datetime!(2024-06-15 15:51:56 UTC);

    fn receiver() -> Receiver {
        Receiver::new(
            Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
            CheckoutFilter::checkout("ch_mine"),
        )
    }

    fn received() -> Delivery {
        received_as("msg_1")
    }

    /// Delivery `webhook_id`, signed at [`SIGNED_AT`], received 2 s later.
    fn received_as(webhook_id: &str) -> Delivery {
        let body = SampleEvent::payment_succeeded().checkout_id("ch_mine").to_json();
        let headers = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_at_unix(
            webhook_id,
            SIGNED_AT.unix_timestamp(),
            &body,
        );
        let now = datetime!(2024-06-15 15:51:58 UTC);
        match receiver().receive_at(&headers, &body, now).unwrap() {
            Outcome::Process(delivery) => delivery,
            Outcome::Ignore(ignored) => panic!("{ignored:?}"),
        }
    }

    fn recheck(stored: &StoredDelivery) -> Result<Outcome, ReceiveError> {
        receiver().receive_stored(stored)
    }

    #[test]
    fn a_delivery_keeps_what_it_was_received_as() {
        let delivery = received();
        assert_eq!(delivery.webhook_timestamp(), SIGNED_AT.unix_timestamp().to_string());
        assert!(delivery.webhook_signature().starts_with("v1,"));
        assert_eq!(
            delivery.body(),
            SampleEvent::payment_succeeded().checkout_id("ch_mine").to_json()
        );
        assert_eq!(delivery.received_at(), datetime!(2024-06-15 15:51:58 UTC));
        let stored = delivery.to_stored();
        assert_eq!(stored.headers().first(), Some(&("webhook-id", "msg_1")));
        assert_eq!(stored.body().as_bytes(), delivery.body());
    }

    #[test]
    fn a_delivery_received_under_svix_names_is_stored_and_checks_out_again() {
        let body = SampleEvent::payment_succeeded().checkout_id("ch_mine").to_json();
        let signed = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_at_unix(
            "msg_svix",
            SIGNED_AT.unix_timestamp(),
            &body,
        );
        let svix = [
            ("svix-id", signed.webhook_id.as_str()),
            ("svix-timestamp", &signed.webhook_timestamp),
            ("svix-signature", &signed.webhook_signature),
        ];
        let now = datetime!(2024-06-15 15:51:58 UTC);
        let Ok(Outcome::Process(delivery)) = receiver().receive_at(&svix, &body, now) else {
            panic!("not received under Svix's names")
        };
        let stored = delivery.to_stored();
        // Kept under the standard names, with the values as sent.
        assert_eq!(
            stored.headers(),
            [
                ("webhook-id", "msg_svix"),
                ("webhook-timestamp", signed.webhook_timestamp.as_str()),
                ("webhook-signature", signed.webhook_signature.as_str()),
            ]
        );
        match recheck(&stored).unwrap() {
            Outcome::Process(again) => assert_eq!(again.webhook_id.as_str(), "msg_svix"),
            Outcome::Ignore(ignored) => panic!("{ignored:?}"),
        }
    }

    #[test]
    fn a_stored_delivery_checks_out_again_as_the_same_delivery_long_after() {
        let delivery = received();
        let json = serde_json::to_string(&delivery.to_stored()).unwrap();
        assert!(
            json.starts_with(r#"{"webhook_id":"msg_1","webhook_timestamp":"1718466716","webhook_signature":"v1,"#),
            "{json}"
        );
        assert!(
            json.contains(r#""received_at":"2024-06-15T15:51:58Z","body":"{\"id\":"#),
            "{json}"
        );
        assert!(json.contains(r#"}}","receipt":""#), "{json}");
        let stored: StoredDelivery = serde_json::from_str(&json).unwrap();
        assert_eq!(stored, delivery.to_stored());
        assert_eq!(recheck(&stored).unwrap(), Outcome::Process(delivery));
    }

    #[test]
    fn unknown_fields_are_ignored_and_every_known_one_is_required() {
        let json = serde_json::to_value(received().to_stored()).unwrap();
        let mut more = json.clone();
        more["added_later"] = serde_json::json!(1);
        assert!(serde_json::from_value::<StoredDelivery>(more).is_ok());
        for field in [
            "webhook_id",
            "webhook_timestamp",
            "webhook_signature",
            "received_at",
            "body",
            "receipt",
        ] {
            let mut less = json.clone();
            less.as_object_mut().unwrap().remove(field);
            assert!(serde_json::from_value::<StoredDelivery>(less).is_err(), "{field}");
        }
    }

    #[test]
    fn one_changed_byte_anywhere_is_refused() {
        let stored = received().to_stored();
        let body = stored.body().as_bytes();
        for index in 0..body.len() {
            let mut changed = body.to_vec();
            if let Some(byte) = changed.get_mut(index) {
                *byte = if *byte == b'7' { b'8' } else { b'7' };
            }
            let Ok(changed) = String::from_utf8(changed) else {
                continue;
            };
            let tampered = StoredDelivery {
                body: changed,
                ..stored.clone()
            };
            assert!(
                matches!(
                    recheck(&tampered),
                    Err(ReceiveError::Verify(VerifyError::SignatureMismatch))
                ),
                "byte {index}"
            );
        }
        let tampered = StoredDelivery {
            webhook_id: WebhookId::new("msg_2"),
            ..stored.clone()
        };
        assert!(matches!(
            recheck(&tampered),
            Err(ReceiveError::Verify(VerifyError::SignatureMismatch))
        ));
        let tampered = StoredDelivery {
            webhook_timestamp: "1718466717".into(),
            ..stored.clone()
        };
        assert!(matches!(
            recheck(&tampered),
            Err(ReceiveError::Verify(VerifyError::SignatureMismatch))
        ));
    }

    #[test]
    fn the_timestamp_is_checked_against_the_receipt_time() {
        let stored = received().to_stored();
        let late = StoredDelivery {
            received_at: datetime!(2024-06-15 15:55:57 UTC),
            ..stored.clone()
        };
        assert!(matches!(
            recheck(&late),
            Err(ReceiveError::Verify(VerifyError::StaleTimestamp))
        ));
        let early = StoredDelivery {
            received_at: datetime!(2024-06-15 15:48:55 UTC),
            ..stored
        };
        assert!(matches!(
            recheck(&early),
            Err(ReceiveError::Verify(VerifyError::FutureTimestamp))
        ));
    }

    #[test]
    fn a_receipt_time_moved_even_within_the_tolerance_is_refused() {
        let stored = received().to_stored();
        assert!(matches!(recheck(&stored), Ok(Outcome::Process(_))));
        // The signed timestamp is 15:51:56, received 15:51:58: every one
        // of these is within the tolerance of the signed timestamp.
        for moved in [
            datetime!(2024-06-15 15:51:57 UTC),
            datetime!(2024-06-15 15:51:59 UTC),
            datetime!(2024-06-15 15:51:56 UTC),
            datetime!(2024-06-15 15:54:56 UTC),
            datetime!(2024-06-15 15:48:56 UTC),
        ] {
            let moved = StoredDelivery {
                received_at: moved,
                ..stored.clone()
            };
            assert!(
                matches!(recheck(&moved), Err(ReceiveError::Verify(VerifyError::ReceiptMismatch))),
                "{moved:?}"
            );
        }
        // A sub-second change is no move: times are checked in whole seconds.
        let same_second = StoredDelivery {
            received_at: stored.received_at + time::Duration::milliseconds(500),
            ..stored.clone()
        };
        assert!(matches!(recheck(&same_second), Ok(Outcome::Process(_))));
        // Nor can a receipt be left out, or borrowed from another delivery.
        for receipt in [String::new(), "A".repeat(44), received_as("msg_2").to_stored().receipt] {
            let forged = StoredDelivery {
                receipt,
                ..stored.clone()
            };
            let err = recheck(&forged).unwrap_err();
            assert!(
                matches!(err, ReceiveError::Verify(VerifyError::ReceiptMismatch)),
                "{err:?}"
            );
            assert_eq!(err.status(), 401);
        }
    }

    #[test]
    fn a_receipt_made_under_another_secret_is_refused() {
        // Signed under two secrets at once: each receiver verifies it, with
        // its own secret, and makes its receipt with that secret's key.
        let mine = WebhookSecret::parse(TEST_SECRET).unwrap();
        let theirs = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = SampleEvent::payment_succeeded().checkout_id("ch_mine").to_json();
        let at = SIGNED_AT.unix_timestamp();
        let mut headers = Signer::new(mine).sign_at_unix("msg_1", at, &body);
        let their_headers = Signer::new(theirs.clone()).sign_at_unix("msg_1", at, &body);
        headers.webhook_signature = format!("{} {}", headers.webhook_signature, their_headers.webhook_signature);
        let now = datetime!(2024-06-15 15:51:58 UTC);
        let their_receiver = Receiver::new(Verifier::new(theirs), CheckoutFilter::any());
        let Ok(Outcome::Process(theirs)) = their_receiver.receive_at(&headers, &body, now) else {
            panic!("their receiver verifies it");
        };
        let stored_by_them = theirs.to_stored();
        assert!(matches!(
            their_receiver.receive_stored(&stored_by_them),
            Ok(Outcome::Process(_))
        ));
        assert!(matches!(
            recheck(&stored_by_them),
            Err(ReceiveError::Verify(VerifyError::ReceiptMismatch))
        ));
        // Stored by this receiver, it checks out here.
        let Ok(Outcome::Process(mine)) = receiver().receive_at(&headers, &body, now) else {
            panic!("this receiver verifies it");
        };
        assert_ne!(mine, theirs, "deliveries that would store different receipts differ");
        assert!(matches!(recheck(&mine.to_stored()), Ok(Outcome::Process(_))));
    }

    #[test]
    fn another_receivers_secrets_or_filter_decide_as_they_would_have() {
        let stored = received().to_stored();
        let other_secret = Receiver::new(
            Verifier::new(WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()),
            CheckoutFilter::any(),
        );
        assert_eq!(other_secret.receive_stored(&stored).unwrap_err().status(), 401);
        let other_filter = Receiver::new(
            Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
            CheckoutFilter::checkout("ch_theirs"),
        );
        assert!(matches!(other_filter.receive_stored(&stored), Ok(Outcome::Ignore(_))));
    }

    #[test]
    fn debug_shows_neither_signature_nor_body() {
        let stored = received().to_stored();
        let shown = format!("{stored:?}");
        assert!(!shown.contains(stored.webhook_signature()), "{shown}");
        assert!(!shown.contains(stored.receipt()), "{shown}");
        let delivery = format!("{:?}", received());
        assert!(!delivery.contains("receipt"), "{delivery}");
        assert!(!shown.contains("p_"), "{shown}");
    }
}

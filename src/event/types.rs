//! The event and its payloads, as a handler reads them.

use std::borrow::Cow;

use std::fmt;

use serde::Deserialize;
use serde::de;
use serde_json::Value;
use time::OffsetDateTime;

use super::values::{CardScheme, Currency, Metadata, PaymentMethod, Status};
use crate::ids::{CheckoutId, EventId, PaymentId, RefundId};
use crate::mode::Mode;

/// The `type` of a successful payment event.
pub const PAYMENT_SUCCEEDED: &str = "payment.succeeded";
/// The `type` of a successful refund event.
pub const REFUND_SUCCEEDED: &str = "refund.succeeded";
/// The `type` of a failed refund event.
pub const REFUND_FAILED: &str = "refund.failed";

/// The event type as sent, without an allocation for a type this crate knows.
pub(crate) fn event_type_name(text: &str) -> Cow<'static, str> {
    match text {
        PAYMENT_SUCCEEDED => Cow::Borrowed(PAYMENT_SUCCEEDED),
        REFUND_SUCCEEDED => Cow::Borrowed(REFUND_SUCCEEDED),
        REFUND_FAILED => Cow::Borrowed(REFUND_FAILED),
        other => Cow::Owned(other.to_owned()),
    }
}

/// Known event types as themselves, any other as `other`: a bounded label
/// for metrics.
#[cfg(any(
    feature = "http",
    all(feature = "postgres", feature = "metrics"),
    all(feature = "sqs", feature = "metrics")
))]
pub(crate) fn event_type_label(event_type: &str) -> &'static str {
    match event_type {
        PAYMENT_SUCCEEDED => PAYMENT_SUCCEEDED,
        REFUND_SUCCEEDED => REFUND_SUCCEEDED,
        REFUND_FAILED => REFUND_FAILED,
        _ => "other",
    }
}

/// A Yoco webhook event, such as the sample in Yoco's documentation:
///
/// ```json
#[doc = include_str!("documented_sample.json")]
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// The event's id (`evt_...`).
    pub id: EventId,
    /// When Yoco created the event.
    pub created_date: OffsetDateTime,
    /// What happened, with its payload.
    pub data: EventData,
}

impl Event {
    /// The event type as sent, such as `payment.succeeded`.
    pub fn event_type(&self) -> &str {
        match &self.data {
            EventData::PaymentSucceeded(_) => PAYMENT_SUCCEEDED,
            EventData::RefundSucceeded(_) => REFUND_SUCCEEDED,
            EventData::RefundFailed(_) => REFUND_FAILED,
            EventData::Other(other) => &other.event_type,
        }
    }

    /// `payload.metadata.checkoutId`, whatever the event type: `None` when
    /// absent or not a string. Like every repeated key, a repeated
    /// `checkoutId` counts with its last value, as `serde_json` reads it.
    pub fn checkout_id(&self) -> Option<&CheckoutId> {
        match &self.data {
            EventData::PaymentSucceeded(payment) => payment.metadata.checkout_id.as_ref(),
            EventData::RefundSucceeded(refund) | EventData::RefundFailed(refund) => {
                refund.metadata.checkout_id.as_ref()
            }
            EventData::Other(other) => other.checkout_id.as_ref(),
        }
    }

    /// `payload.mode`: live or test (absent only in an unknown event type
    /// that does not carry it).
    pub fn mode(&self) -> Option<&Mode> {
        match &self.data {
            EventData::PaymentSucceeded(payment) => Some(&payment.mode),
            EventData::RefundSucceeded(refund) | EventData::RefundFailed(refund) => Some(&refund.mode),
            EventData::Other(other) => other.mode.as_ref(),
        }
    }

    /// The amount in minor units (cents) and its currency, of a payment or
    /// a refund; `None` for another event type, whose payload is not read.
    pub fn amount(&self) -> Option<(i64, &Currency)> {
        match &self.data {
            EventData::PaymentSucceeded(payment) => Some((payment.amount, &payment.currency)),
            EventData::RefundSucceeded(refund) | EventData::RefundFailed(refund) => {
                Some((refund.amount, &refund.currency))
            }
            EventData::Other(_) => None,
        }
    }
}

/// What an event reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventData {
    /// `payment.succeeded`: a payment went through.
    PaymentSucceeded(Payment),
    /// `refund.succeeded`: a refund (full or partial) went through.
    RefundSucceeded(Refund),
    /// `refund.failed`: a refund did not go through.
    RefundFailed(Refund),
    /// Any other event type, kept with its raw payload. Yoco may add types at
    /// any time; they must not break an endpoint.
    Other(OtherEvent),
}

/// The payload of a payment event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[non_exhaustive]
pub struct Payment {
    /// The payment's id (`p_...`).
    pub id: PaymentId,
    /// When the payment was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_date: OffsetDateTime,
    /// The amount in minor units of `currency` (900 is R9.00).
    pub amount: i64,
    /// The currency, such as `ZAR`.
    pub currency: Currency,
    /// The payment's status, such as `succeeded`.
    pub status: Status,
    /// Live or test.
    pub mode: Mode,
    /// How the customer paid, when Yoco says.
    #[serde(default)]
    pub payment_method_details: Option<PaymentMethodDetails>,
    /// The checkout id and the merchant's own metadata.
    #[serde(default)]
    pub metadata: Metadata,
}

/// The payload of a refund event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[non_exhaustive]
pub struct Refund {
    /// The refund's id (`rfd_...`).
    pub id: RefundId,
    /// When the refund was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_date: OffsetDateTime,
    /// The refunded amount in minor units; below the payment's for a partial refund.
    pub amount: i64,
    /// The currency, such as `ZAR`.
    pub currency: Currency,
    /// The refunded payment.
    pub payment_id: PaymentId,
    /// The refund's status: `succeeded` or `failed`.
    pub status: Status,
    /// Live or test.
    pub mode: Mode,
    /// The checkout id and the merchant's own metadata.
    #[serde(default)]
    pub metadata: Metadata,
}

/// How a payment was made.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[non_exhaustive]
pub struct PaymentMethodDetails {
    /// The method, such as `card`.
    #[serde(rename = "type")]
    pub method: PaymentMethod,
    /// Card details, for card payments.
    #[serde(default)]
    pub card: Option<Card>,
}

/// The card of a card payment, as far as Yoco discloses it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[non_exhaustive]
pub struct Card {
    /// Expiry month, 1 to 12.
    #[serde(default)]
    pub expiry_month: Option<u8>,
    /// Expiry year, two digits as Yoco sends it.
    #[serde(default)]
    pub expiry_year: Option<u16>,
    /// The masked card number, such as `************1111`.
    #[serde(default)]
    pub masked_card: Option<String>,
    /// The card scheme, such as `visa`.
    #[serde(default)]
    pub scheme: Option<CardScheme>,
}

/// serde's derived `Deserialize` also reads a struct from an array of its
/// fields in order, which no other JSON reader sees as those fields: the
/// payloads are read from objects only (the derive, `remote = "Self"`,
/// gives the inherent `deserialize` this calls on the object).
macro_rules! from_object_only {
    ($($name:ident: $expecting:literal),* $(,)?) => {$(
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct ObjectVisitor;
                impl<'de> de::Visitor<'de> for ObjectVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<$name, A::Error> {
                        $name::deserialize(de::value::MapAccessDeserializer::new(map))
                    }
                }
                deserializer.deserialize_map(ObjectVisitor)
            }
        }
    )*};
}

from_object_only!(
    Payment: "a payment object",
    Refund: "a refund object",
    PaymentMethodDetails: "a payment method object",
    Card: "a card object",
);

/// An event of a type this crate does not model.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OtherEvent {
    /// The `type` as sent.
    pub event_type: String,
    /// `payload.metadata.checkoutId`, if present and (its last value) a string.
    pub checkout_id: Option<CheckoutId>,
    /// `payload.mode`, if present and (its last value) a string.
    pub mode: Option<Mode>,
    /// The whole payload.
    pub payload: Value,
}

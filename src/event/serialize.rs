//! The event back as Yoco's JSON: the documented fields, in the order Yoco
//! sends them, so that a parsed event can be kept (in a queue, a log, a
//! table) and read again as an equal event.

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::types::{Card, Event, EventData, OtherEvent, Payment, PaymentMethodDetails, Refund};
use super::values::Metadata;

/// A time as Yoco writes it (RFC 3339, `2024-06-15T15:51:55.260284Z`).
struct Rfc3339Time<'a>(&'a OffsetDateTime);

impl Serialize for Rfc3339Time<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.0.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
    }
}

/// The event as Yoco sends it: `id`, `type`, `createdDate`, `payload`.
/// Parsing the JSON again gives an equal [`Event`]; for the documented
/// sample, the JSON is the sample itself, byte for byte.
impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut event = serializer.serialize_struct("Event", 4)?;
        event.serialize_field("id", &self.id)?;
        event.serialize_field("type", self.event_type())?;
        event.serialize_field("createdDate", &Rfc3339Time(&self.created_date))?;
        match &self.data {
            EventData::PaymentSucceeded(payment) => event.serialize_field("payload", payment)?,
            EventData::RefundSucceeded(refund) | EventData::RefundFailed(refund) => {
                event.serialize_field("payload", refund)?;
            }
            EventData::Other(other) => event.serialize_field("payload", other)?,
        }
        event.end()
    }
}

/// `payload` of a payment event, with its `"type": "payment"`.
impl Serialize for Payment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut payment = serializer.serialize_struct("Payment", 9)?;
        payment.serialize_field("id", &self.id)?;
        payment.serialize_field("type", "payment")?;
        payment.serialize_field("createdDate", &Rfc3339Time(&self.created_date))?;
        payment.serialize_field("amount", &self.amount)?;
        payment.serialize_field("currency", self.currency.as_str())?;
        if let Some(details) = &self.payment_method_details {
            payment.serialize_field("paymentMethodDetails", details)?;
        }
        payment.serialize_field("status", self.status.as_str())?;
        payment.serialize_field("mode", self.mode.as_str())?;
        payment.serialize_field("metadata", &self.metadata)?;
        payment.end()
    }
}

/// `payload` of a refund event, with its `"type": "refund"`.
impl Serialize for Refund {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut refund = serializer.serialize_struct("Refund", 9)?;
        refund.serialize_field("id", &self.id)?;
        refund.serialize_field("type", "refund")?;
        refund.serialize_field("createdDate", &Rfc3339Time(&self.created_date))?;
        refund.serialize_field("amount", &self.amount)?;
        refund.serialize_field("currency", self.currency.as_str())?;
        refund.serialize_field("paymentId", &self.payment_id)?;
        refund.serialize_field("status", self.status.as_str())?;
        refund.serialize_field("mode", self.mode.as_str())?;
        refund.serialize_field("metadata", &self.metadata)?;
        refund.end()
    }
}

impl Serialize for PaymentMethodDetails {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut details = serializer.serialize_struct("PaymentMethodDetails", 2)?;
        details.serialize_field("type", self.method.as_str())?;
        if let Some(card) = &self.card {
            details.serialize_field("card", card)?;
        }
        details.end()
    }
}

/// Only the fields Yoco sent: an absent one stays absent.
impl Serialize for Card {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut card = serializer.serialize_struct("Card", 4)?;
        if let Some(month) = self.expiry_month {
            card.serialize_field("expiryMonth", &month)?;
        }
        if let Some(year) = self.expiry_year {
            card.serialize_field("expiryYear", &year)?;
        }
        if let Some(masked) = &self.masked_card {
            card.serialize_field("maskedCard", masked)?;
        }
        if let Some(scheme) = &self.scheme {
            card.serialize_field("scheme", scheme.as_str())?;
        }
        card.end()
    }
}

/// `checkoutId` first, then the merchant's keys. A non-string `checkoutId`
/// (kept in [`Metadata::other`]) is written as it came, unless a string
/// checkout id replaced it.
impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(checkout_id) = &self.checkout_id {
            map.serialize_entry("checkoutId", checkout_id)?;
        }
        for (key, value) in &self.other {
            if self.checkout_id.is_none() || key != "checkoutId" {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// The payload as it came (the checkout id and mode are read from it).
impl Serialize for OtherEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.payload.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse;
    use crate::testing::{DOCUMENTED_SAMPLE, SampleEvent};

    fn round_trip(body: &[u8]) -> (Event, Vec<u8>) {
        let event = parse(body).unwrap();
        let json = serde_json::to_vec(&event).unwrap();
        assert_eq!(parse(&json).unwrap(), event, "{}", String::from_utf8_lossy(&json));
        (event, json)
    }

    #[test]
    fn the_documented_sample_serialises_to_itself() {
        let (_, json) = round_trip(DOCUMENTED_SAMPLE.as_bytes());
        assert_eq!(String::from_utf8(json).unwrap(), DOCUMENTED_SAMPLE.trim_end());
    }

    #[test]
    fn every_sample_kind_round_trips() {
        for sample in [
            SampleEvent::payment_succeeded()
                .checkout_id("ch_1")
                .metadata("order", 17),
            SampleEvent::refund_succeeded().checkout_id("ch_2"),
            SampleEvent::refund_failed().without_checkout_id().metadata("note", "x"),
            SampleEvent::other("payment.failed").checkout_id("ch_3"),
            SampleEvent::payment_succeeded().metadata("checkoutId", 5),
        ] {
            round_trip(&sample.to_json());
        }
    }

    #[test]
    fn absent_optional_fields_stay_absent() {
        let body = br#"{"id":"evt_1","type":"payment.succeeded","createdDate":"2024-06-15T15:51:55Z","payload":{"id":"p_1","createdDate":"2024-06-15T15:51:55.5+02:00","amount":1,"currency":"USD","status":"pending","mode":"test","paymentMethodDetails":{"type":"eft","card":{"scheme":"diners"}}}}"#;
        let (_, json) = round_trip(body);
        let json = String::from_utf8(json).unwrap();
        assert!(
            json.contains(r#""paymentMethodDetails":{"type":"eft","card":{"scheme":"diners"}}"#),
            "{json}"
        );
        assert!(json.contains(r#""metadata":{}"#), "{json}");
    }
}

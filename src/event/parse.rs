//! The parser: one pass when `type` precedes `payload` (as Yoco sends it),
//! two passes otherwise, and what can still be read of a malformed body.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::types::{
    Event, EventData, OtherEvent, PAYMENT_SUCCEEDED, Payment, REFUND_FAILED, REFUND_SUCCEEDED, Refund, event_type_name,
};
use super::values::Mode;
use crate::ids::{CheckoutId, EventId};

/// The top level of an event, read in the two-pass parse. The payload is kept
/// raw until the type is known.
struct Envelope<'a> {
    id: EventId,
    event_type: String,
    created_date: OffsetDateTime,
    payload: &'a RawValue,
}

impl<'de> Deserialize<'de> for Envelope<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EnvelopeVisitor)
    }
}

/// Keeps each field raw until the whole object is read: a repeated key takes
/// its last value, as `serde_json::Value` reads it, whatever the earlier ones
/// were.
struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Yoco event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope<'de>, A::Error> {
        let (mut id, mut event_type, mut created_date, mut payload) = (None, None, None, None);
        while let Some(key) = map.next_key::<EnvelopeKey>()? {
            let field = match key {
                EnvelopeKey::Id => &mut id,
                EnvelopeKey::Type => &mut event_type,
                EnvelopeKey::CreatedDate => &mut created_date,
                EnvelopeKey::Payload => &mut payload,
                EnvelopeKey::Other => {
                    map.next_value::<de::IgnoredAny>()?;
                    continue;
                }
            };
            *field = Some(map.next_value::<&'de RawValue>()?);
        }
        Ok(Envelope {
            id: from_raw(id, "id")?,
            event_type: from_raw(event_type, "type")?,
            created_date: from_raw::<Rfc3339, _>(created_date, "createdDate")?.0,
            payload: payload.ok_or_else(|| de::Error::missing_field("payload"))?,
        })
    }
}

/// The field `name`, read from its raw (last) value.
fn from_raw<'de, T: Deserialize<'de>, E: de::Error>(raw: Option<&'de RawValue>, name: &'static str) -> Result<T, E> {
    let raw = raw.ok_or_else(|| E::missing_field(name))?;
    serde_json::from_str(raw.get()).map_err(|error| E::custom(format_args!("`{name}`: {error}")))
}

/// What could be read of an authentic body that did not parse as a whole: the
/// filter may still recognise it as someone else's event.
#[derive(Debug)]
pub(crate) struct Malformed {
    /// The envelope's summary, when the envelope itself parsed.
    pub(crate) summary: Option<Box<Summary>>,
    pub(crate) error: ParseError,
}

/// Who an event belongs to, read leniently from any payload.
#[derive(Debug)]
pub(crate) struct Summary {
    pub(crate) event_id: EventId,
    pub(crate) event_type: Cow<'static, str>,
    pub(crate) checkout_id: Option<CheckoutId>,
    pub(crate) mode: Option<Mode>,
}

/// Parses a body in one pass when `type` comes before `payload` (as Yoco
/// sends it), and falls back to [`parse_in_two_passes`] otherwise, or when
/// the one pass fails (a repeated key, say), which also says whose event a
/// malformed body is.
pub(crate) fn parse(body: &[u8]) -> Result<Event, Malformed> {
    parse_checked(body, std::str::from_utf8(body).ok())
}

/// [`parse`], given the body's `text` when it is UTF-8 (the receiver
/// checks that once for every step).
pub(crate) fn parse_checked(body: &[u8], text: Option<&str>) -> Result<Event, Malformed> {
    // JSON is UTF-8. Checking the whole body at once and parsing from `str`
    // is much cheaper than `from_slice` checking each string on its own.
    let Some(text) = text else {
        return parse_in_two_passes(body);
    };
    match serde_json::from_str::<OnePass>(text) {
        Ok(OnePass(Some(event))) => Ok(event),
        Ok(OnePass(None)) | Err(_) => parse_in_two_passes(body),
    }
}

/// An event parsed in one pass, or `None` when the payload came before the
/// type and must be parsed again once the type is known.
struct OnePass(Option<Event>);

impl<'de> Deserialize<'de> for OnePass {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(OnePassVisitor)
    }
}

struct OnePassVisitor;

impl<'de> Visitor<'de> for OnePassVisitor {
    type Value = OnePass;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Yoco event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OnePass, A::Error> {
        let mut id: Option<EventId> = None;
        let mut event_type: Option<Cow<'de, str>> = None;
        let mut created_date: Option<OffsetDateTime> = None;
        let mut data: Option<EventData> = None;
        while let Some(key) = map.next_key::<EnvelopeKey>()? {
            match key {
                EnvelopeKey::Id if id.is_none() => id = Some(map.next_value()?),
                EnvelopeKey::Type if event_type.is_none() => event_type = Some(map.next_value::<Text<'de>>()?.0),
                EnvelopeKey::CreatedDate if created_date.is_none() => {
                    created_date = Some(map.next_value::<Rfc3339>()?.0);
                }
                EnvelopeKey::Payload if data.is_none() => match &event_type {
                    Some(event_type) => data = Some(map.next_value_seed(PayloadSeed(event_type))?),
                    None => return Ok(OnePass(None)),
                },
                EnvelopeKey::Other => {
                    map.next_value::<de::IgnoredAny>()?;
                }
                // A repeated key: the two-pass parse takes its last value.
                _ => return Err(de::Error::custom("repeated key")),
            }
        }
        Ok(OnePass(Some(Event {
            id: id.ok_or_else(|| de::Error::missing_field("id"))?,
            created_date: created_date.ok_or_else(|| de::Error::missing_field("createdDate"))?,
            data: data.ok_or_else(|| de::Error::missing_field("payload"))?,
        })))
    }
}

/// The top-level keys of an event, recognised without allocating.
enum EnvelopeKey {
    Id,
    Type,
    CreatedDate,
    Payload,
    Other,
}

impl<'de> Deserialize<'de> for EnvelopeKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = EnvelopeKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<EnvelopeKey, E> {
                Ok(match key {
                    "id" => EnvelopeKey::Id,
                    "type" => EnvelopeKey::Type,
                    "createdDate" => EnvelopeKey::CreatedDate,
                    "payload" => EnvelopeKey::Payload,
                    _ => EnvelopeKey::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// A string, borrowed from the body unless it has escapes: the event type,
/// read without an allocation.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// An RFC 3339 date, as Yoco writes them.
struct Rfc3339(OffsetDateTime);

impl<'de> Deserialize<'de> for Rfc3339 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        time::serde::rfc3339::deserialize(deserializer).map(Rfc3339)
    }
}

/// Deserializes a payload as the type already read says.
struct PayloadSeed<'a>(&'a str);

impl<'de> de::DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = EventData;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<EventData, D::Error> {
        Ok(match self.0 {
            PAYMENT_SUCCEEDED => EventData::PaymentSucceeded(Payment::deserialize(deserializer)?),
            REFUND_SUCCEEDED => EventData::RefundSucceeded(Refund::deserialize(deserializer)?),
            REFUND_FAILED => EventData::RefundFailed(Refund::deserialize(deserializer)?),
            other => other_event(other.to_owned(), Value::deserialize(deserializer)?),
        })
    }
}

fn other_event(event_type: String, payload: Value) -> EventData {
    let (checkout_id, mode) = owner_of(&payload);
    EventData::Other(OtherEvent {
        event_type,
        checkout_id,
        mode,
        payload,
    })
}

/// Parses a body: the envelope, then the payload by type. Slower than
/// [`parse`]'s one pass, but independent of key order, and on failure it
/// still reads whose event it was.
fn parse_in_two_passes(body: &[u8]) -> Result<Event, Malformed> {
    let envelope: Envelope<'_> = serde_json::from_slice(body).map_err(|error| Malformed {
        summary: None,
        error: ParseError::NotAnEvent(error),
    })?;
    match read_payload(&envelope.event_type, envelope.payload.get()) {
        Ok(data) => Ok(Event {
            id: envelope.id,
            created_date: envelope.created_date,
            data,
        }),
        Err((source, payload)) => {
            let (checkout_id, mode) = payload.as_ref().map_or((None, None), owner_of);
            Err(Malformed {
                summary: Some(Box::new(Summary {
                    event_id: envelope.id,
                    event_type: event_type_name(&envelope.event_type),
                    checkout_id,
                    mode,
                })),
                error: ParseError::InvalidPayload {
                    event_type: envelope.event_type,
                    source,
                },
            })
        }
    }
}

/// Reads a payload as `event_type` says.
///
/// A repeated key takes its last value, as `serde_json::Value` reads it.
/// serde's derived structs refuse a repeated field, and fail on an earlier
/// value of the wrong type even when the last one fits, so a payload they
/// refuse is read again from a `Value`, which has kept the last value of each
/// key. On failure the error comes with that `Value`, for the summary.
fn read_payload(event_type: &str, payload: &str) -> Result<EventData, (serde_json::Error, Option<Value>)> {
    let mut direct = serde_json::Deserializer::from_str(payload);
    if let Ok(data) = de::DeserializeSeed::deserialize(PayloadSeed(event_type), &mut direct) {
        return Ok(data);
    }
    let value: Value = serde_json::from_str(payload).map_err(|error| (error, None))?;
    de::DeserializeSeed::deserialize(PayloadSeed(event_type), &value).map_err(|error| (error, Some(value)))
}

/// `metadata.checkoutId` and `mode` of a payload of any shape.
fn owner_of(payload: &Value) -> (Option<CheckoutId>, Option<Mode>) {
    let checkout_id = payload
        .get("metadata")
        .and_then(|metadata| metadata.get("checkoutId"))
        .and_then(Value::as_str)
        .map(CheckoutId::from);
    let mode = payload.get("mode").and_then(Value::as_str).map(Mode::from_text);
    (checkout_id, mode)
}

/// Why an authentic body is not a Yoco event (HTTP 400).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is not JSON with `id`, `type`, `createdDate` and an object `payload`.
    #[error("body is not a Yoco event: {0}")]
    NotAnEvent(#[source] serde_json::Error),
    /// The type is known but its payload does not have the documented shape.
    #[error("`{event_type}` event has an unexpected payload: {source}")]
    InvalidPayload {
        /// The event type as sent.
        event_type: String,
        /// What did not fit.
        #[source]
        source: serde_json::Error,
    },
}

impl ParseError {
    /// The HTTP status to answer: always 400 Bad Request.
    pub fn status(&self) -> u16 {
        400
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::CardScheme;
    use time::macros::datetime;

    /// The sample event from Yoco's documentation.
    const SAMPLE: &str = include_str!("documented_sample.json");

    #[test]
    fn parses_the_documented_sample() {
        assert_eq!(SAMPLE.len(), 464);
        let event = Event::from_slice(SAMPLE.as_bytes()).unwrap();
        assert_eq!(event.id, "evt_1EAwK8Mjy2DT38WIWntiZWxm");
        assert_eq!(event.event_type(), PAYMENT_SUCCEEDED);
        assert_eq!(event.created_date, datetime!(2024-06-15 15:51:55.260284 UTC));
        assert_eq!(event.checkout_id().unwrap(), "ch_9LVKD8GnAj7f39DFbn4F16bE");
        assert_eq!(event.mode(), Some(&Mode::Live));
        let EventData::PaymentSucceeded(payment) = event.data else {
            panic!("not a payment")
        };
        assert_eq!(payment.id, "p_bx4bY9JA6r4UwAKFyAjHY2bE");
        assert_eq!(payment.amount, 900);
        assert_eq!(payment.currency, "ZAR");
        assert_eq!(payment.status, "succeeded");
        assert_eq!(payment.created_date, datetime!(2024-06-15 17:51:54.405141 UTC));
        let details = payment.payment_method_details.unwrap();
        assert_eq!(details.method, "card");
        let card = details.card.unwrap();
        assert_eq!((card.expiry_month, card.expiry_year), (Some(2), Some(30)));
        assert_eq!(card.masked_card.as_deref(), Some("************1111"));
        assert_eq!(card.scheme, Some(CardScheme::Visa));
        assert!(payment.metadata.other.is_empty());
    }

    #[test]
    fn parses_refunds_and_keeps_merchant_metadata() {
        let body = r#"{"id":"evt_2","type":"refund.failed","createdDate":"2024-06-16T10:00:00Z","payload":{"id":"rfd_1","type":"refund","createdDate":"2024-06-16T10:00:00.5Z","amount":400,"currency":"ZAR","paymentId":"p_1","status":"failed","mode":"test","metadata":{"checkoutId":"ch_1","orderRef":"A-17","extra":{"n":1}},"newField":true}}"#;
        let event = Event::from_slice(body.as_bytes()).unwrap();
        assert_eq!(event.event_type(), REFUND_FAILED);
        assert_eq!(event.mode(), Some(&Mode::Test));
        let EventData::RefundFailed(refund) = event.data else {
            panic!("not a failed refund")
        };
        assert_eq!((refund.amount, refund.payment_id.as_str()), (400, "p_1"));
        assert_eq!(refund.metadata.checkout_id.as_ref().unwrap(), "ch_1");
        assert_eq!(refund.metadata.get("orderRef"), Some(&Value::from("A-17")));
        assert_eq!(refund.metadata.other.len(), 2);
    }

    #[test]
    fn an_unknown_type_is_kept_with_its_owner() {
        let body = r#"{"id":"evt_3","type":"payment.failed","createdDate":"2024-06-16T10:00:00Z","payload":{"mode":"live","amount":"weird","metadata":{"checkoutId":"ch_7"}}}"#;
        let event = Event::from_slice(body.as_bytes()).unwrap();
        assert_eq!(event.event_type(), "payment.failed");
        assert_eq!(event.checkout_id().unwrap(), "ch_7");
        assert_eq!(event.mode(), Some(&Mode::Live));
        let EventData::Other(other) = event.data else {
            panic!("not other")
        };
        assert_eq!(other.payload["amount"], "weird");
    }

    #[test]
    fn odd_metadata_and_modes_are_tolerated() {
        let body = r#"{"id":"evt_4","type":"payment.succeeded","createdDate":"2024-06-16T10:00:00Z","payload":{"id":"p_1","createdDate":"2024-06-16T10:00:00Z","amount":1,"currency":"ZAR","status":"succeeded","mode":"sandbox","metadata":{"checkoutId":42}}}"#;
        let event = Event::from_slice(body.as_bytes()).unwrap();
        assert_eq!(event.checkout_id(), None);
        assert_eq!(event.mode(), Some(&Mode::Other("sandbox".into())));
        let body = body.replace(r#"{"checkoutId":42}"#, "null");
        assert!(Event::from_slice(body.as_bytes()).is_ok());
    }

    #[test]
    fn a_known_type_with_a_broken_payload_keeps_its_owner_for_the_filter() {
        let body = r#"{"id":"evt_5","type":"refund.succeeded","createdDate":"2024-06-16T10:00:00Z","payload":{"mode":"live","metadata":{"checkoutId":"ch_9"}}}"#;
        let malformed = parse(body.as_bytes()).unwrap_err();
        let summary = malformed.summary.unwrap();
        assert_eq!(summary.checkout_id.unwrap(), "ch_9");
        assert_eq!(summary.mode, Some(Mode::Live));
        assert!(matches!(malformed.error, ParseError::InvalidPayload { .. }));
        assert_eq!(malformed.error.status(), 400);
    }

    #[test]
    fn key_order_does_not_matter() {
        let reordered = r#"{"payload":{"metadata":{"orderRef":7,"checkoutId":"ch_1"},"mode":"test","status":"succeeded","currency":"ZAR","amount":5,"createdDate":"2024-06-16T10:00:00Z","id":"p_1"},"createdDate":"2024-06-16T10:00:00Z","type":"payment.succeeded","id":"evt_6","extra":[1,{"a":null}]}"#;
        let event = Event::from_slice(reordered.as_bytes()).unwrap();
        assert_eq!(event.event_type(), PAYMENT_SUCCEEDED);
        assert_eq!(event.checkout_id().unwrap(), "ch_1");
        let EventData::PaymentSucceeded(payment) = &event.data else {
            panic!("not a payment")
        };
        assert_eq!(payment.metadata.get("orderRef"), Some(&Value::from(7)));
        let in_order = r#"{"id":"evt_6","type":"payment.succeeded","createdDate":"2024-06-16T10:00:00Z","payload":{"id":"p_1","createdDate":"2024-06-16T10:00:00Z","amount":5,"currency":"ZAR","status":"succeeded","mode":"test","metadata":{"checkoutId":"ch_1","orderRef":7}}}"#;
        assert_eq!(Event::from_slice(in_order.as_bytes()).unwrap(), event);
    }

    /// What `serde_json::Value` reads from `body`: the event type,
    /// `payload.metadata.checkoutId` and `payload.mode`, each `None` unless a
    /// string. The rule every path of the parser follows for repeated keys.
    fn as_value_reads(body: &str) -> (Option<String>, Option<String>, Option<String>) {
        let value: Value = serde_json::from_str(body).unwrap();
        let text = |v: &Value| v.as_str().map(str::to_owned);
        (
            text(&value["type"]),
            text(&value["payload"]["metadata"]["checkoutId"]),
            text(&value["payload"]["mode"]),
        )
    }

    /// What our parser reads from `body`: from the event, or from the summary
    /// the filter uses when the payload is malformed.
    fn as_we_read(body: &str) -> (Option<String>, Option<String>, Option<String>) {
        match parse(body.as_bytes()) {
            Ok(event) => (
                Some(event.event_type().to_owned()),
                event.checkout_id().map(|id| id.as_str().to_owned()),
                event.mode().map(|mode| mode.as_str().to_owned()),
            ),
            Err(malformed) => {
                let summary = malformed
                    .summary
                    .unwrap_or_else(|| panic!("no summary: {}", malformed.error));
                (
                    Some(summary.event_type.into_owned()),
                    summary.checkout_id.map(|id| id.as_str().to_owned()),
                    summary.mode.map(|mode| mode.as_str().to_owned()),
                )
            }
        }
    }

    /// A body of type `event_type` whose payload is `payload`, with `type`
    /// before `payload` (one pass) or after it (two passes).
    fn body(event_type: &str, payload: &str, type_first: bool) -> String {
        let (id, date) = (r#""id":"evt_d""#, r#""createdDate":"2024-06-16T10:00:00Z""#);
        let (event_type, payload) = (format!(r#""type":"{event_type}""#), format!(r#""payload":{payload}"#));
        if type_first {
            format!("{{{id},{event_type},{date},{payload}}}")
        } else {
            format!("{{{id},{payload},{date},{event_type}}}")
        }
    }

    const PAYMENT_FIELDS: &str = r#""id":"p_1","createdDate":"2024-06-16T10:00:00Z","amount":5,"currency":"ZAR","status":"succeeded","paymentId":"p_0""#;

    #[test]
    fn a_repeated_checkout_id_takes_its_last_value_for_every_type_and_path() {
        for metadata in [
            r#"{"checkoutId":"ch_1","checkoutId":42}"#,
            r#"{"checkoutId":"ch_1","checkoutId":null}"#,
            r#"{"checkoutId":"ch_1","checkoutId":{"id":"ch_3"}}"#,
            r#"{"checkoutId":42,"checkoutId":"ch_1"}"#,
            r#"{"checkoutId":"ch_1","orderRef":"A","checkoutId":"ch_2"}"#,
        ] {
            for (event_type, fields) in [
                (PAYMENT_SUCCEEDED, PAYMENT_FIELDS),
                (REFUND_FAILED, PAYMENT_FIELDS),
                ("payment.failed", PAYMENT_FIELDS),
                // A known type with a broken payload: the filter's summary.
                (PAYMENT_SUCCEEDED, r#""amount":"n/a""#),
            ] {
                for type_first in [true, false] {
                    let payload = format!(r#"{{{fields},"mode":"live","metadata":{metadata}}}"#);
                    let body = body(event_type, &payload, type_first);
                    assert_eq!(as_we_read(&body), as_value_reads(&body), "{body}");
                }
            }
        }
    }

    #[test]
    fn a_non_string_last_checkout_id_means_none_and_stays_in_the_metadata() {
        let payload =
            format!(r#"{{{PAYMENT_FIELDS},"mode":"live","metadata":{{"checkoutId":"ch_1","checkoutId":42}}}}"#);
        let event = parse(body(PAYMENT_SUCCEEDED, &payload, true).as_bytes()).unwrap();
        let EventData::PaymentSucceeded(payment) = event.data else {
            panic!("not a payment")
        };
        assert_eq!(payment.metadata.checkout_id, None);
        assert_eq!(payment.metadata.get("checkoutId"), Some(&Value::from(42)));

        let payload =
            format!(r#"{{{PAYMENT_FIELDS},"mode":"live","metadata":{{"checkoutId":42,"checkoutId":"ch_1"}}}}"#);
        let event = parse(body(PAYMENT_SUCCEEDED, &payload, true).as_bytes()).unwrap();
        let EventData::PaymentSucceeded(payment) = event.data else {
            panic!("not a payment")
        };
        assert_eq!(payment.metadata.checkout_id.as_ref().unwrap(), "ch_1");
        assert_eq!(
            payment.metadata.get("checkoutId"),
            None,
            "the earlier value is gone, as in a Value"
        );
    }

    #[test]
    fn a_repeated_payload_field_takes_its_last_value() {
        for (event_type, payload) in [
            (
                PAYMENT_SUCCEEDED,
                r#""mode":"live","mode":"test","metadata":{"checkoutId":"ch_1"}"#,
            ),
            (
                PAYMENT_SUCCEEDED,
                r#""mode":7,"mode":"test","metadata":{"checkoutId":"ch_1"}"#,
            ),
            (
                REFUND_SUCCEEDED,
                r#""mode":"test","metadata":{"checkoutId":"ch_1"},"metadata":{"checkoutId":"ch_2"}"#,
            ),
            (
                REFUND_SUCCEEDED,
                r#""mode":"test","metadata":{"checkoutId":"ch_1"},"metadata":null"#,
            ),
            (
                "payment.failed",
                r#""mode":"live","mode":"test","metadata":{"checkoutId":"ch_1"},"metadata":{}"#,
            ),
        ] {
            for type_first in [true, false] {
                let body = body(event_type, &format!("{{{PAYMENT_FIELDS},{payload}}}"), type_first);
                let event = parse(body.as_bytes()).unwrap_or_else(|m| panic!("{body}: {}", m.error));
                assert_eq!(as_we_read(&body), as_value_reads(&body), "{body}");
                assert_eq!(event.event_type(), event_type);
            }
        }
        // An earlier value of the wrong type does not matter either.
        let payload = format!(r#"{{{PAYMENT_FIELDS},"mode":"live","amount":"n/a","amount":7}}"#);
        let event = parse(body(PAYMENT_SUCCEEDED, &payload, true).as_bytes()).unwrap();
        let EventData::PaymentSucceeded(payment) = event.data else {
            panic!("not a payment")
        };
        assert_eq!(payment.amount, 7);
    }

    #[test]
    fn a_repeated_top_level_field_takes_its_last_value() {
        let payload = format!(r#"{{{PAYMENT_FIELDS},"mode":"live","metadata":{{"checkoutId":"ch_1"}}}}"#);
        let other = r#"{"mode":"test","metadata":{"checkoutId":"ch_2"}}"#;
        let date = r#""createdDate":"2024-06-16T10:00:00Z""#;
        for (body, id, event_type) in [
            (
                format!(
                    r#"{{"id":"evt_1","type":"payment.failed","type":"payment.succeeded",{date},"payload":{payload}}}"#
                ),
                "evt_1",
                PAYMENT_SUCCEEDED,
            ),
            (
                format!(
                    r#"{{"id":"evt_1","type":"payment.succeeded",{date},"payload":{payload},"type":"payment.failed"}}"#
                ),
                "evt_1",
                "payment.failed",
            ),
            (
                format!(r#"{{"id":"evt_1","type":"payment.succeeded",{date},"id":"evt_2","payload":{payload}}}"#),
                "evt_2",
                PAYMENT_SUCCEEDED,
            ),
            (
                format!(r#"{{"id":"evt_1","type":"payment.failed",{date},"payload":{payload},"payload":{other}}}"#),
                "evt_1",
                "payment.failed",
            ),
            (
                format!(
                    r#"{{"id":"evt_1","type":"x",{date},"createdDate":"yesterday","createdDate":"2024-06-16T10:00:00Z","payload":{{}}}}"#
                ),
                "evt_1",
                "x",
            ),
            (
                format!(r#"{{"id":7,"id":"evt_1","type":"x",{date},"payload":{{}}}}"#),
                "evt_1",
                "x",
            ),
        ] {
            let event = parse(body.as_bytes()).unwrap_or_else(|m| panic!("{body}: {}", m.error));
            assert_eq!((event.id.as_str(), event.event_type()), (id, event_type), "{body}");
            assert_eq!(as_we_read(&body), as_value_reads(&body), "{body}");
        }
        // The last `createdDate` must still be a date.
        let body = format!(r#"{{"id":"e","type":"x",{date},"createdDate":"yesterday","payload":{{}}}}"#);
        assert!(matches!(
            parse(body.as_bytes()).unwrap_err().error,
            ParseError::NotAnEvent(_)
        ));
    }

    #[test]
    fn junk_is_a_parse_error() {
        for body in [
            &b""[..],
            b"null",
            b"[]",
            b"{}",
            b"\xff\xfe",
            br#"{"id":"e","type":"x","createdDate":"yesterday","payload":{}}"#,
            br#"{"id":"e","type":"x","createdDate":"2024-06-16T10:00:00Z","payload":"#,
        ] {
            let err = Event::from_slice(body).unwrap_err();
            assert!(matches!(err, ParseError::NotAnEvent(_)), "{err}");
        }
    }
}

//! The typed event: built from what the one reader ([`read`](super::read))
//! decided, its payload read as its type says; and [`ParseError`].

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::problem::ParseProblem;
use super::read::{Owner, read};
use super::types::{Event, EventData, OtherEvent, PAYMENT_SUCCEEDED, Payment, REFUND_FAILED, REFUND_SUCCEEDED, Refund};
use crate::ids::{CheckoutId, EventId};
use crate::mode::Mode;

impl Event {
    /// Parses a webhook body. Unknown fields are ignored and unknown event
    /// types become [`EventData::Other`].
    ///
    /// This does not verify anything: call it on a body that passed
    /// [`Verifier`](crate::Verifier), or use [`Receiver`](crate::Receiver),
    /// which does both.
    ///
    /// # Errors
    /// [`ParseError`] if the body is not JSON of the shape of a Yoco event.
    pub fn from_slice(body: &[u8]) -> Result<Self, ParseError> {
        parse(body)
    }
}

/// Parses a body: the one reader, then the payload by type.
pub(crate) fn parse(body: &[u8]) -> Result<Event, ParseError> {
    let owner = read(body).map_err(ParseError::NotAnEvent)?;
    build(&owner, body)
}

/// The event `owner` read from `body`: its id, type, date and owner as the
/// reader read them, its payload as its type says.
///
/// # Errors
/// [`ParseError::InvalidPayload`] when a known type's payload is not an
/// object of the documented shape; [`ParseError::Unreadable`] when another
/// type's payload holds what `serde_json::Value` cannot.
pub(crate) fn build(owner: &Owner<'_>, body: &[u8]) -> Result<Event, ParseError> {
    let mut data = match owner.event_type.as_ref() {
        PAYMENT_SUCCEEDED => EventData::PaymentSucceeded(typed(owner, body, PAYMENT_SUCCEEDED)?),
        REFUND_SUCCEEDED => EventData::RefundSucceeded(typed(owner, body, REFUND_SUCCEEDED)?),
        REFUND_FAILED => EventData::RefundFailed(typed(owner, body, REFUND_FAILED)?),
        other => EventData::Other(OtherEvent {
            event_type: other.to_owned(),
            checkout_id: None,
            mode: None,
            payload: read_repaired(owner, |payload| serde_json::from_str(payload))
                .map_err(|error| ParseError::Unreadable(ParseProblem::from_serde(&error, body, owner.payload_at)))?,
        }),
    };
    // The reader decided the owner; the payload's own reading of the same
    // keys (which agrees) is replaced by it, so that nothing can differ.
    let checkout_id = owner.checkout_id.as_deref().map(CheckoutId::from);
    let mode = owner.mode.as_deref().map(Mode::from_text);
    match &mut data {
        EventData::PaymentSucceeded(Payment {
            metadata, mode: typed, ..
        })
        | EventData::RefundSucceeded(Refund {
            metadata, mode: typed, ..
        })
        | EventData::RefundFailed(Refund {
            metadata, mode: typed, ..
        }) => {
            metadata.checkout_id = checkout_id;
            if let Some(mode) = mode {
                *typed = mode;
            }
        }
        EventData::Other(other) => (other.checkout_id, other.mode) = (checkout_id, mode),
    }
    Ok(Event {
        id: EventId::from(owner.event_id.as_ref()),
        created_date: owner.created_date,
        data,
    })
}

/// A known type's payload, which must be an object.
///
/// A repeated key takes its last value, as `serde_json::Value` reads it.
/// serde's derived structs refuse a repeated field, and fail on an earlier
/// value of the wrong type even when the last one fits, so a payload they
/// refuse is read again from a `Value`, which has kept the last value of
/// each key.
fn typed<T: DeserializeOwned>(owner: &Owner<'_>, body: &[u8], event_type: &'static str) -> Result<T, ParseError> {
    let invalid = |problem| ParseError::InvalidPayload { event_type, problem };
    if !owner.payload_is_object {
        return Err(invalid(ParseProblem::new("`payload` is not an object")));
    }
    let direct = match read_repaired(owner, |payload| serde_json::from_str::<T>(payload)) {
        Ok(payload) => return Ok(payload),
        Err(error) => error,
    };
    match read_repaired(owner, |payload| serde_json::from_str::<Value>(payload)) {
        Ok(value) => T::deserialize(&value).map_err(|error| invalid(ParseProblem::from_serde(&error, body, 0))),
        Err(_) => Err(invalid(ParseProblem::from_serde(&direct, body, owner.payload_at))),
    }
}

/// `read` applied to the payload; when that fails and the payload holds
/// lone surrogate escapes (JavaScript writes one for a string cut in the
/// middle of an emoji; `serde_json` refuses them), applied again to a copy
/// with each read as U+FFFD, as most JSON readers read it. The raw body is
/// untouched.
fn read_repaired<T>(
    owner: &Owner<'_>,
    read: impl Fn(&str) -> Result<T, serde_json::Error>,
) -> Result<T, serde_json::Error> {
    let error = match read(owner.payload) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    let end = owner.payload_at.saturating_add(owner.payload.len());
    let mut repaired = None::<String>;
    for &at in owner
        .lone_surrogates
        .iter()
        .filter(|&&at| at >= owner.payload_at && at < end)
    {
        let copy = repaired.get_or_insert_with(|| owner.payload.to_owned());
        let start = at.saturating_sub(owner.payload_at);
        // `\uXXXX`, as the reader checked, and `\uFFFD` are six ASCII
        // bytes each: the range is on character boundaries.
        copy.replace_range(start..start.saturating_add(6).min(copy.len()), "\\uFFFD");
    }
    match repaired {
        Some(copy) => read(&copy),
        None => Err(error),
    }
}

/// Why an authentic body is not an event this crate can hand over (HTTP
/// 400). Its messages name the field and the kind of problem, and where,
/// never a value from the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is not a Yoco event: not UTF-8 JSON, or not an object with
    /// a string `id` and `type`, an RFC 3339 `createdDate` and a `payload`.
    #[error("body is not a Yoco event: {0}")]
    NotAnEvent(ParseProblem),
    /// The type is known but its payload does not have the documented shape.
    #[error("`{event_type}` event has an unexpected payload: {problem}")]
    InvalidPayload {
        /// The event type: one this crate knows.
        event_type: &'static str,
        /// What did not fit, and where.
        problem: ParseProblem,
    },
    /// The body is JSON, but holds a value `serde_json::Value` (and most
    /// JSON readers) refuse: a lone surrogate escape, a number beyond
    /// `f64`, nesting deeper than 127. It is refused rather than
    /// acknowledged as another's, so that Yoco retries it and an operator
    /// sees it.
    #[error("body holds a value ordinary JSON readers refuse: {0}")]
    Unreadable(ParseProblem),
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
    use crate::event::read;
    use crate::event::{CardScheme, Currency};
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
        assert_eq!(event.amount(), Some((400, &Currency::Zar)));
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
        assert_eq!(event.amount(), None, "an unknown type's payload is not read");
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
        let owner = read(body.as_bytes()).unwrap();
        assert_eq!(owner.checkout_id.as_deref(), Some("ch_9"));
        assert_eq!(owner.mode.as_deref(), Some("live"));
        let error = parse(body.as_bytes()).unwrap_err();
        assert!(matches!(error, ParseError::InvalidPayload { .. }), "{error}");
        assert_eq!(error.status(), 400);
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

    /// What the one reader reads from `body`, and the typed event when
    /// it builds: the two must agree.
    fn as_we_read(body: &str) -> (Option<String>, Option<String>, Option<String>) {
        let owner = read(body.as_bytes()).unwrap_or_else(|problem| panic!("{body}: {problem}"));
        let read = (
            Some(owner.event_type.to_string()),
            owner.checkout_id.as_deref().map(str::to_owned),
            owner.mode.as_deref().map(str::to_owned),
        );
        if let Ok(event) = parse(body.as_bytes()) {
            let typed = (
                Some(event.event_type().to_owned()),
                event.checkout_id().map(|id| id.as_str().to_owned()),
                event.mode().map(|mode| mode.as_str().to_owned()),
            );
            assert_eq!(typed, read, "{body}");
        }
        read
    }

    /// A body of type `event_type` whose payload is `payload`, with `type`
    /// before `payload` (as Yoco sends it) or after it.
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
                let event = parse(body.as_bytes()).unwrap_or_else(|error| panic!("{body}: {error}"));
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
            let event = parse(body.as_bytes()).unwrap_or_else(|error| panic!("{body}: {error}"));
            assert_eq!((event.id.as_str(), event.event_type()), (id, event_type), "{body}");
            assert_eq!(as_we_read(&body), as_value_reads(&body), "{body}");
        }
        // The last `createdDate` must still be a date.
        let body = format!(r#"{{"id":"e","type":"x",{date},"createdDate":"yesterday","payload":{{}}}}"#);
        assert!(matches!(parse(body.as_bytes()).unwrap_err(), ParseError::NotAnEvent(_)));
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

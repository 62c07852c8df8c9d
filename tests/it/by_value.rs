//! The reference the receiver is held to: what `serde_json::Value` reads of
//! an authentic body, and so what any ordinary JSON reader in a merchant's
//! handler would conclude. Written without the crate's reader or its typed
//! event. The fuzz target `one_reader` includes this file too.
//!
//! [`check`] holds one receiver's answer to it:
//! - a body `Value` cannot read is never ignored;
//! - a body that is not an object with a string `id` and `type`, an RFC
//!   3339 `createdDate` and a `payload` is refused with 400;
//! - otherwise the filter decides on `payload.metadata.checkoutId` and
//!   `payload.mode` as `Value` reads them: ignored with that reason, owner
//!   and mode; or processed with the event `Value` reads (ids, type, owner,
//!   mode, and for the known types every typed field), or refused with 400
//!   exactly when `Value` shows the known type's payload is not of the
//!   documented shape.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use yoco_webhooks::{
    CheckoutFilter, CheckoutId, EventData, Mode, Outcome, ReceiveError,
    event::{Payment, Refund},
};

/// What `Value` reads of a body.
#[derive(Debug)]
pub(crate) enum ByValue {
    /// `Value` refuses it (not JSON, or JSON it cannot hold).
    Unreadable,
    /// JSON, but not an event's envelope.
    NotAnEvent,
    /// An event's envelope.
    Event(Envelope),
}

/// An event's envelope, as `Value` reads it.
#[derive(Debug)]
pub(crate) struct Envelope {
    pub(crate) id: String,
    pub(crate) event_type: String,
    pub(crate) checkout_id: Option<String>,
    pub(crate) mode: Option<String>,
    pub(crate) payload: Value,
}

pub(crate) fn read(body: &[u8]) -> ByValue {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return ByValue::Unreadable;
    };
    let text = |value: &Value| value.as_str().map(str::to_owned);
    let (Some(id), Some(event_type), Some(date), Some(payload)) = (
        value.get("id").and_then(Value::as_str),
        value.get("type").and_then(Value::as_str),
        value.get("createdDate").and_then(Value::as_str),
        value.get("payload"),
    ) else {
        return ByValue::NotAnEvent;
    };
    if OffsetDateTime::parse(date, &Rfc3339).is_err() || !value.is_object() {
        return ByValue::NotAnEvent;
    }
    ByValue::Event(Envelope {
        id: id.to_owned(),
        event_type: event_type.to_owned(),
        // `Value`'s indexing gives `Null` through anything not an object.
        checkout_id: text(&payload["metadata"]["checkoutId"]),
        mode: text(&payload["mode"]),
        payload: payload.clone(),
    })
}

/// Whether a known type's payload has the documented shape, by `Value`:
/// what the typed event must hold (`None` for an unknown type).
fn fits(event_type: &str, payload: &Value) -> Option<bool> {
    let refund = match event_type {
        "payment.succeeded" => false,
        "refund.succeeded" | "refund.failed" => true,
        _ => return None,
    };
    let Some(object) = payload.as_object() else {
        return Some(false);
    };
    let string = |key: &str| object.get(key).is_some_and(Value::is_string);
    let date = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .is_some_and(|date| OffsetDateTime::parse(date, &Rfc3339).is_ok())
    };
    let optional_object = |value: Option<&Value>| value.is_none_or(|value| value.is_null() || value.is_object());
    let mut fits = string("id")
        && date(object.get("createdDate"))
        && object.get("amount").is_some_and(|amount| amount.as_i64().is_some())
        && string("currency")
        && string("status")
        && string("mode")
        && optional_object(object.get("metadata"));
    if refund {
        fits &= string("paymentId");
    } else if let Some(details) = object.get("paymentMethodDetails").filter(|details| !details.is_null()) {
        let card_fits = |card: &Value| {
            let Some(card) = card.as_object() else {
                return card.is_null();
            };
            let number = |key: &str, max: u64| {
                card.get(key)
                    .is_none_or(|value| value.is_null() || value.as_u64().is_some_and(|n| n <= max))
            };
            let text = |key: &str| card.get(key).is_none_or(|value| value.is_null() || value.is_string());
            number("expiryMonth", u64::from(u8::MAX))
                && number("expiryYear", u64::from(u16::MAX))
                && text("maskedCard")
                && text("scheme")
        };
        fits &= details.as_object().is_some_and(|details| {
            details.get("type").is_some_and(Value::is_string) && details.get("card").is_none_or(card_fits)
        });
    }
    Some(fits)
}

/// Holds `answer`, a receiver's answer to the authentic `body` under
/// `filter` (its secret bound to `bound`, if any), to what `Value` reads.
/// `Err` says how they disagree.
pub(crate) fn check(
    body: &[u8],
    filter: &CheckoutFilter,
    bound: Option<&Mode>,
    answer: &Result<Outcome, ReceiveError>,
) -> Result<(), String> {
    let envelope = match read(body) {
        ByValue::Unreadable => {
            return match answer {
                Ok(Outcome::Ignore(ignored)) => Err(format!("ignored a body Value cannot read: {ignored:?}")),
                _ => Ok(()),
            };
        }
        ByValue::NotAnEvent => {
            return match answer {
                Err(ReceiveError::Parse(_)) => Ok(()),
                other => Err(format!("not an event by Value, answered {other:?}")),
            };
        }
        ByValue::Event(envelope) => envelope,
    };
    let mode = envelope.mode.as_deref().map(mode_of);
    if let Some(bound) = bound
        && mode.as_ref() != Some(bound)
    {
        return match answer {
            Err(ReceiveError::Verify(_)) => Ok(()),
            other => Err(format!(
                "mode {mode:?} under a secret bound to {bound}, answered {other:?}"
            )),
        };
    }
    let checkout_id = envelope.checkout_id.as_deref().map(CheckoutId::from);
    match (filter.check(checkout_id.as_ref(), mode.as_ref()), answer) {
        (Some(reason), Ok(Outcome::Ignore(ignored))) => {
            let read = (&ignored.reason, ignored.event_id.as_str(), &*ignored.event_type);
            let read_owner = (ignored.checkout_id.as_ref(), ignored.mode.as_ref());
            if read == (&reason, envelope.id.as_str(), envelope.event_type.as_str())
                && read_owner == (checkout_id.as_ref(), mode.as_ref())
            {
                Ok(())
            } else {
                Err(format!("ignored as {ignored:?}, Value reads {envelope:?} ({reason})"))
            }
        }
        (Some(reason), other) => Err(format!("Value's owner is ignored ({reason}), answered {other:?}")),
        (None, Ok(Outcome::Process(delivery))) => {
            let event = &delivery.event;
            let read = (
                event.id.as_str(),
                event.event_type(),
                event.checkout_id().map(CheckoutId::as_str),
                event.mode().map(Mode::as_str),
            );
            let expected = (
                envelope.id.as_str(),
                envelope.event_type.as_str(),
                envelope.checkout_id.as_deref(),
                envelope.mode.as_deref(),
            );
            if read != expected {
                return Err(format!("processed as {read:?}, Value reads {expected:?}"));
            }
            if fits(&envelope.event_type, &envelope.payload) == Some(false) {
                return Err(format!("processed a payload Value shows malformed: {envelope:?}"));
            }
            typed_fields_agree(&event.data, &envelope.payload)
        }
        (None, Err(ReceiveError::Parse(_))) if fits(&envelope.event_type, &envelope.payload) == Some(false) => Ok(()),
        (None, other) => Err(format!("Value reads a wanted event {envelope:?}, answered {other:?}")),
    }
}

/// The mode a string names, as the crate's `Mode` reads it.
pub(crate) fn mode_of(text: &str) -> Mode {
    serde_json::from_value(Value::from(text)).expect("a mode reads from any string")
}

/// The typed payload's fields hold what `Value` reads.
fn typed_fields_agree(data: &EventData, payload: &Value) -> Result<(), String> {
    let (id, amount, currency, status) = match data {
        EventData::PaymentSucceeded(Payment {
            id,
            amount,
            currency,
            status,
            ..
        }) => (id.as_str(), *amount, currency.as_str(), status.as_str()),
        EventData::RefundSucceeded(Refund {
            id,
            amount,
            currency,
            status,
            payment_id,
            ..
        })
        | EventData::RefundFailed(Refund {
            id,
            amount,
            currency,
            status,
            payment_id,
            ..
        }) => {
            if Some(payment_id.as_str()) != payload["paymentId"].as_str() {
                return Err(format!("payment id {payment_id} differs from Value's"));
            }
            (id.as_str(), *amount, currency.as_str(), status.as_str())
        }
        EventData::Other(other) => {
            return if &other.payload == payload {
                Ok(())
            } else {
                Err("another type's payload differs from Value's".to_owned())
            };
        }
        _ => return Ok(()),
    };
    let typed = (Some(id), Some(amount), Some(currency), Some(status));
    let by_value = (
        payload["id"].as_str(),
        payload["amount"].as_i64(),
        payload["currency"].as_str(),
        payload["status"].as_str(),
    );
    if typed == by_value {
        Ok(())
    } else {
        Err(format!("typed {typed:?}, Value reads {by_value:?}"))
    }
}

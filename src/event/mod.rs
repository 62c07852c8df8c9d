//! Yoco's events, parsed into types. An event type this crate does not know
//! is kept as [`EventData::Other`], never an error.
//!
//! A key sent more than once, at any level, takes its last value, as
//! `serde_json::Value` reads it: the typed event, the filter (even for a
//! payload that does not parse) and a handler that reads the raw body again
//! with `serde_json` see the same type, checkout id and mode.
//!
//! - `types`: [`Event`], [`EventData`] and the payloads ([`Payment`],
//!   [`Refund`], ...).
//! - `values`: the string values as enums ([`Mode`], [`Status`],
//!   [`Currency`], [`PaymentMethod`], [`CardScheme`]) and [`Metadata`].
//! - `glance`: the fast path, whose event a body is without parsing it
//!   into an event, when that is certain.
//! - `parse`: the parser (one pass, or two when `payload` precedes `type`),
//!   [`ParseError`], and what the filter can still read of a malformed body.
//! - `serialize`: the event back as Yoco's JSON (`serde::Serialize`), which
//!   parses again as an equal event.

mod glance;
mod parse;
mod serialize;
mod types;
mod values;

pub(crate) use glance::{checkout_hint, glance};
pub use parse::ParseError;
#[cfg(test)]
pub(crate) use parse::parse;
pub(crate) use parse::parse_checked;
pub(crate) use types::event_type_name;
pub use types::{
    Card, Event, EventData, OtherEvent, PAYMENT_SUCCEEDED, Payment, PaymentMethodDetails, REFUND_FAILED,
    REFUND_SUCCEEDED, Refund,
};
pub use values::{CardScheme, Currency, Metadata, Mode, PaymentMethod, Status};

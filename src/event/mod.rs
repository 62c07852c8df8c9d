//! Yoco's events, parsed into types: the payloads ([`Payment`], [`Refund`],
//! ...), the event type names, and why a body is not an event
//! ([`ParseError`]). The event itself, [`Event`] and
//! [`EventData`](crate::EventData), is at the crate's root. An event type
//! this crate does not know is kept as
//! [`EventData::Other`](crate::EventData::Other), never an error.
//!
//! A key sent more than once, at any level, takes its last value, as
//! `serde_json::Value` reads it: the typed event, the filter (even for a
//! payload that does not parse) and a handler that reads the raw body again
//! with `serde_json` see the same type, checkout id and mode.
//!
//! - `types`: [`Event`], [`EventData`](crate::EventData) and the payloads ([`Payment`],
//!   [`Refund`], ...).
//! - `values`: the string values as enums ([`Status`],
//!   [`Currency`], [`PaymentMethod`], [`CardScheme`]) and [`Metadata`].
//! - `read`: the one reader, which decides whose event a body is (its
//!   id, type, mode and checkout id) for every later step, in one pass;
//!   `read/json` the JSON syntax it checks below the objects it looks into.
//! - `parse`: the typed event built on what the reader read, and
//!   [`ParseError`].
//! - `problem`: [`ParseProblem`], what is wrong with a body without quoting
//!   it.
//! - `serialize`: the event back as Yoco's JSON (`serde::Serialize`), which
//!   parses again as an equal event.

mod parse;
mod problem;
mod read;
mod serialize;
pub(crate) mod types;
mod values;

pub use parse::ParseError;
pub(crate) use parse::build;
#[cfg(test)]
pub(crate) use parse::parse;
pub use problem::ParseProblem;
pub(crate) use read::read;
#[cfg(any(
    feature = "http",
    all(feature = "postgres", feature = "metrics"),
    all(feature = "sqs", feature = "metrics")
))]
pub(crate) use types::event_type_label;
pub(crate) use types::event_type_name;
// `Event` and `EventData` are at the crate's root, where handlers import them.
pub(crate) use types::Event;
pub use types::{
    Card, OtherEvent, PAYMENT_SUCCEEDED, Payment, PaymentMethodDetails, REFUND_FAILED, REFUND_SUCCEEDED, Refund,
};
pub use values::{CardScheme, Currency, Metadata, PaymentMethod, Status};

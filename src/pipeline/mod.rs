//! The one pipeline every server integration runs: the method, the body
//! limit, the receiver's verdict, the answer for a request that is not to
//! be processed, deduplication around the handler, and the answer for Yoco.
//!
//! An integration only implements its framework's traits over it: it reads
//! the body its own way (at most the limit it is given), calls
//! [`YocoWebhookConfig::extract`], and turns a [`YocoRejection`] or a
//! [`Processed`](crate::dedup::Processed) into its response through
//! [`Answer`], the one table of statuses and texts.
//!
//! - `answer`: every status, text and header the crate answers with.
//! - `config`: [`YocoWebhookConfig`] and the steps before the handler.
//! - `rejection`: [`YocoRejection`], which keeps the cause.
//! - `webhook`: [`YocoWebhook`], the delivery handed to the handler, and
//!   the deduplication around it.
//! - `store`: any store behind one type.
//! - `queue`: any delivery queue behind one type (answer now, process later).
//! - `observe`: the span and the metrics of each delivery (features
//!   `tracing`, `metrics`).
//! - `body`: the limited read of an `http-body` body (feature `http-body`,
//!   which the integrations on `http-body` servers turn on).

pub(crate) mod answer;
#[cfg(feature = "http-body")]
pub(crate) mod body;
mod config;
mod observe;
mod queue;
mod rejection;
mod store;
mod webhook;

pub use config::{DEFAULT_BODY_LIMIT, YocoWebhookConfig};
pub use observe::{
    BODY_TOO_LARGE_TOTAL, DELIVERIES_TOTAL, DELIVERY_SPAN, HANDLER_SECONDS, STORE_SECONDS, VERIFIED_TOTAL,
};
pub use rejection::YocoRejection;
pub use webhook::YocoWebhook;

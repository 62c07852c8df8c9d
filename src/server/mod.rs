//! The servers: the one pipeline every server integration runs, and the
//! integrations over it.
//!
//! The pipeline: the method, the body limit, the receiver's verdict, the
//! answer for a request that is not to be processed, deduplication around
//! the handler, and the answer for Yoco.
//!
//! An integration only implements its framework's traits over it: it reads
//! the body its own way (at most the limit it is given), calls
//! [`YocoWebhookConfig::extract`], and turns an [`Answered`] or a
//! [`Processed`](crate::Processed) into its response through
//! [`Answer`], the one table of statuses and texts.
//!
//! - `answer`: every status, text and header the crate answers with.
//! - `config`: [`YocoWebhookConfig`] and the steps before the handler.
//! - `answered`: [`Answered`], what the pipeline answered without the
//!   handler: ignored, queued, or refused.
//! - `rejection`: [`YocoRejection`], a refusal, which keeps the cause.
//! - `webhook`: [`YocoWebhook`], the delivery handed to the handler, and
//!   the deduplication around it.
//! - `erased`: any store and any delivery queue behind one type each.
//! - `observe`: the span and the metrics of each delivery (features
//!   `tracing`, `metrics`).
//! - `body`: the limited read of an `http-body` body (feature `http-body`,
//!   which the integrations on `http-body` servers turn on).
//!
//! The integrations, each only its framework's traits over the pipeline
//! (public at the crate's root: `yoco_webhooks::axum`, ...):
//! `http_request` (any server on the `http` types), `axum`, `actix_web`,
//! `poem`, `rocket`, `tower/`, `lambda`, `worker/`.

pub(crate) mod answer;
mod answered;
#[cfg(feature = "http-body")]
pub(crate) mod body;
mod config;
mod erased;
pub mod observe;
mod rejection;
mod webhook;

pub use answered::Answered;
pub use config::{DEFAULT_BODY_LIMIT, YocoWebhookConfig};
pub use rejection::YocoRejection;
pub use webhook::YocoWebhook;

#[cfg(feature = "actix-web")]
pub mod actix_web;
#[cfg(feature = "axum")]
pub mod axum;
// Reads the system clock, which `wasm32-unknown-unknown` does not have.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub mod http_request;
#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "poem")]
pub mod poem;
#[cfg(feature = "rocket")]
pub mod rocket;
#[cfg(feature = "tower")]
pub mod tower;
#[cfg(feature = "worker")]
pub mod worker;

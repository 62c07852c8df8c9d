//! Receive [Yoco](https://www.yoco.com) payment webhooks safely.
//!
//! Yoco POSTs a signed JSON event to your endpoint for every payment and
//! refund on your account, live and test alike, and retries for about a day
//! until it sees a 2xx. This crate verifies each request (the Standard
//! Webhooks scheme: HMAC-SHA256, constant-time comparison, a timestamp
//! tolerance both ways), parses the event into types, and tells you whether
//! it belongs to your checkouts, all without I/O, so it fits any server.
//! Optional adapters (axum, actix-web, Poem, Rocket, tower, AWS Lambda,
//! Cloudflare Workers) do the whole exchange for you and process each
//! delivery once, with a store in memory or shared through Redis,
//! PostgreSQL or a Durable Object; or they record each delivery in a
//! PostgreSQL inbox, answer at once, and your workers process it later.
//!
//! # Quick start
//!
//! ```
//! use yoco_webhooks::{CheckoutFilter, EventData, Outcome, Receiver, Verifier, WebhookSecret};
//!
//! /// Call from your route handler with the request's headers and raw body;
//! /// answer with the status it returns.
//! fn handle(receiver: &Receiver, headers: &http::HeaderMap, body: &[u8]) -> u16 {
//!     match receiver.receive(headers, body) {
//!         Ok(Outcome::Process(delivery)) => {
//!             if let EventData::PaymentSucceeded(payment) = &delivery.event.data {
//!                 println!("{} paid {} {}", payment.metadata.checkout_id.as_ref().map_or("?", |c| c.as_str()), payment.amount, payment.currency);
//!             }
//!             200 // answer non-2xx instead if processing failed, so that Yoco retries
//!         }
//!         Ok(Outcome::Ignore(_)) => 200, // another checkout's event: acknowledge it
//!         Err(rejection) => rejection.status(), // 401 not authentic, 400 not an event
//!     }
//! }
//!
//! let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?; // from your config
//! let receiver = Receiver::new(Verifier::new(secret), CheckoutFilter::any());
//! assert_eq!(handle(&receiver, &http::HeaderMap::new(), b"{}"), 401);
//! # Ok::<(), yoco_webhooks::SecretError>(())
//! ```
//!
//! # Contents
//!
//! - [`WebhookSecret`]: the `whsec_...` secret, parsed once, never printed.
//! - [`Verifier`]: Standard Webhooks verification, usable on its own for any
//!   sender; [`Headers`] reads headers from your server's types.
//! - [`Event`]: typed events ([`EventData::PaymentSucceeded`],
//!   [`EventData::RefundSucceeded`], [`EventData::RefundFailed`], and
//!   [`EventData::Other`] for types Yoco adds later).
//! - [`CheckoutFilter`]: which checkouts (and which mode) are yours.
//! - [`Receiver`]: all three in one call, answering [`Outcome::Process`],
//!   [`Outcome::Ignore`] or a [`ReceiveError`] with its HTTP status.
//! - [`dedup`]: processing each delivery once despite Yoco's retries: the
//!   [`dedup::IdempotencyStore`] contract, an in-memory store and the
//!   claim/complete/release protocol.
//! - One pipeline for every server (feature `http`): a
//!   [`YocoWebhookConfig`] (receiver, body limit, any store) gives the
//!   handler a [`YocoWebhook`] to process once, or answers a
//!   [`YocoRejection`] that keeps its cause; every integration answers with
//!   the same statuses and texts. [`handle_request`] runs it on any server
//!   built on the `http` types, and each server module below is only its
//!   framework's traits over it:
//!   - `axum` (feature `axum`): the extractor for axum 0.8.
//!   - `actix_web` (feature `actix-web`): the extractor for actix-web 4.
//!   - `poem` (feature `poem`): the extractor for Poem 3, configured
//!     through `Data`.
//!   - `rocket` (feature `rocket`): the data guard for Rocket 0.5,
//!     configured through managed state.
//!   - `tower` (feature `tower`): a `Layer` for any tower-based server
//!     (hyper, axum, ...), passing the verified delivery to the inner
//!     service.
//!   - `lambda` (feature `lambda`): a handler for AWS Lambda functions
//!     behind API Gateway (REST and HTTP APIs) or a function URL.
//!   - `worker` (feature `worker`): a Cloudflare Worker's request
//!     (workers-rs) at the runtime's clock, and deduplication on a Durable
//!     Object.
//! - `postgres` (feature `postgres`): `PostgresStore`, an idempotency store
//!   on PostgreSQL shared by every instance, which can also mark a delivery
//!   done inside the merchant's own transaction; and `Inbox`, a delivery
//!   queue in a table: answer Yoco at once, process later in workers, with
//!   retries, backoff and dead deliveries.
//! - Answer now, process later: [`StoredDelivery`], a verified delivery as
//!   received (serde, a stable format), [`Receiver::receive_stored`], its
//!   check before a worker acts on it, and [`DeliveryQueue`], the queue
//!   [`YocoWebhookConfig::with_queue`] records deliveries in.
//! - `redis` (feature `redis`): `RedisStore`, an idempotency store on Redis or Valkey
//!   for several server instances.
//! - [`registration`]: Yoco's webhook-registration API, as request builders
//!   and answer readers for any HTTP client (errors: `registration::Error`),
//!   and a ready `Client` (feature `client`, errors: `ClientError`).
//! - [`testing`]: a signer and sample events for your own tests, and
//!   [`testing::check_store`], the store contract's suite, for your own store.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `http` | yes | [`Headers`] for `http::HeaderMap`, [`ReceiveError::status_code`], the pipeline ([`YocoWebhookConfig`], [`handle_request`]), the sans-IO [`registration`] API |
//! | `http-body` | no | nothing public: the body reading that `axum`, `tower` and `poem` share, for integrations on `http-body` servers |
//! | `testing` | no | the [`testing`] module: [`testing::Signer`], [`testing::SampleEvent`], [`testing::check_store`] (futures-util, futures-timer) |
//! | `client` | no | `registration::Client`, an async client for the registration API (reqwest, rustls) |
//! | `cli` | no | the `yoco-webhooks` command line (clap): `cargo install yoco-webhooks --features cli` |
//! | `axum` | no | [`axum::YocoWebhook`](crate::axum), an extractor for axum 0.8 with body limit and deduplication |
//! | `actix-web` | no | [`actix_web::YocoWebhook`](crate::actix_web), an extractor for actix-web 4 configured through `app_data` |
//! | `poem` | no | [`poem::YocoWebhook`](crate::poem), an extractor for Poem 3 configured through `Data` |
//! | `rocket` | no | [`rocket::YocoWebhook`](crate::rocket), a data guard for Rocket 0.5 configured through managed state, under Rocket's own `yoco-webhook` limit too |
//! | `lambda` | no | [`lambda::handle`](crate::lambda) and `lambda::run`, a handler for AWS Lambda (`lambda_http` 1.x): API Gateway REST and HTTP APIs and function URLs, base64 bodies, deduplication |
//! | `tower` | no | [`tower::YocoWebhookLayer`](crate::tower), a tower `Layer` for hyper, axum and other tower stacks, with body limit and deduplication |
//! | `worker` | no | [`worker::handle`](crate::worker), [`worker::extract`](crate::worker) for a Cloudflare Worker (workers-rs 0.8, Rust 1.91) at the runtime's clock; `worker::DurableObjectStore`, deduplication on a Durable Object |
//! | `tracing` | no | one `tracing` span per delivery from the pipeline ([`DELIVERY_SPAN`]): ids, outcome, reason, status, store and handler time; never a secret or the body |
//! | `metrics` | no | `metrics` counters and histograms: [`DELIVERIES_TOTAL`], [`VERIFIED_TOTAL`], [`BODY_TOO_LARGE_TOTAL`], [`HANDLER_SECONDS`], [`STORE_SECONDS`] |
//! | `postgres` | no | `postgres::PostgresStore`, an [`IdempotencyStore`](dedup::IdempotencyStore) on PostgreSQL (sqlx 0.8, tokio); `postgres::Inbox`, a [`DeliveryQueue`] with workers, retries and dead deliveries |
//! | `redis` | no | [`redis::RedisStore`](crate::redis), deduplication shared by several instances on Redis or Valkey (redis 1.x, tokio) |
//!
//! Without default features the crate needs no I/O, no clock (pass `now` to
//! [`Verifier::verify_at`] / [`Receiver::receive_at`]) and builds for
//! `wasm32-unknown-unknown`; so do `http` (without `handle_request`, which
//! reads the system clock) and `worker`.
//!
//! # Security
//!
//! - Signatures are compared in constant time over all 32 bytes; a prefix,
//!   an empty `v1,` or a truncated signature never matches.
//! - The timestamp must be ASCII digits and within the tolerance (default 3
//!   minutes) of `now` in both directions; all arithmetic is checked.
//! - The signed content is the headers' bytes as received and the raw body,
//!   UTF-8 or not.
//! - Empty and undecodable secrets are refused when parsed. Secrets print as
//!   `[redacted]`, and no error message carries a secret or an expected
//!   signature.
//! - A secret bound to a mode ([`VerifierBuilder::for_mode`]) vouches only
//!   for events of that mode: a test registration's secret cannot make a
//!   live event processed. Each delivery names the secret that verified it.
//! - A stored delivery's time of receipt is bound to it by a receipt (a
//!   MAC under a key derived from the secret that verified it), so whoever
//!   can write a queue, but lacks the secret, cannot make an old delivery
//!   look fresh ([`StoredDelivery`]).
//! - No input panics: every malformed header or body is a typed error. The
//!   crate has no `unsafe` code.
//! - Whose event a body is (its `id`, `type`, `payload.mode` and
//!   `payload.metadata.checkoutId`) is decided once, by one reader that
//!   reads them as `serde_json::Value` does, for every later step; a body
//!   that ordinary JSON readers refuse is never acknowledged as another's
//!   (see [`Receiver::receive_at`] for what is processed, ignored or
//!   refused). No error quotes a value from the body ([`ParseProblem`]).
//! - The adapters read at most the body limit (1 MiB by default) and
//!   refuse more with 413, before or while reading; a deduplication store
//!   that cannot answer means 503, never 2xx; store errors never show a
//!   connection URL or its password.
//! - The registration API sends the secret API key only to `https://` (plain
//!   `http://` only to a loopback address) without a user name or password
//!   in the URL; its errors never quote a registration's answer (it holds
//!   the new webhook secret) nor any `whsec_`/`sk_` token.
#![forbid(unsafe_code)]
// The library handles hostile input: no unchecked arithmetic, no indexing that
// can panic. (Set here rather than in Cargo.toml so that examples and benches
// may be plain.)
#![warn(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The core: no I/O, no async, no clock of its own.
mod event;
mod filter;
mod headers;
mod ids;
mod mode;
mod secret;
mod signature;
mod verify;
// The receiver over the core: verify, read, filter; the delivery it answers.
mod receive;
// Processing each delivery once.
pub mod dedup;
// Answer now, process later: deliveries kept as received, and the queue.
mod handoff;
// The pipeline every server runs, and one module per server integration.
#[cfg(feature = "http")]
#[cfg_attr(
    all(target_arch = "wasm32", target_os = "unknown", not(feature = "worker")),
    allow(
        dead_code,
        reason = "on wasm32-unknown-unknown only the `worker` integration runs the pipeline"
    )
)]
mod server;
// Shared stores for the deduplication and the queue.
mod stores;
// Registering the endpoint with Yoco, and helpers for the merchant's tests.
#[cfg(feature = "http")]
pub mod registration;
#[cfg(feature = "testing")]
pub mod testing;

// The server integrations, one module each (feature named after the server).
#[cfg(feature = "actix-web")]
pub use server::actix_web;
#[cfg(feature = "axum")]
pub use server::axum;
#[cfg(feature = "lambda")]
pub use server::lambda;
#[cfg(feature = "poem")]
pub use server::poem;
#[cfg(feature = "rocket")]
pub use server::rocket;
#[cfg(feature = "tower")]
pub use server::tower;
#[cfg(feature = "worker")]
pub use server::worker;
// The shared stores.
#[cfg(feature = "postgres")]
pub use stores::postgres;
#[cfg(feature = "redis")]
pub use stores::redis;

// The secret and the Standard Webhooks verifier.
pub use secret::{SecretError, WebhookSecret};
pub use verify::{DEFAULT_TOLERANCE, SecretName, Verified, Verifier, VerifierBuilder, VerifyError};
// Reading headers from any server's types.
pub use headers::{
    Headers, Lookup, SVIX_ID, SVIX_SIGNATURE, SVIX_TIMESTAMP, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
};
// Yoco's events.
pub use event::{
    Card, CardScheme, Currency, Event, EventData, Metadata, OtherEvent, PAYMENT_SUCCEEDED, ParseError, ParseProblem,
    Payment, PaymentMethod, PaymentMethodDetails, REFUND_FAILED, REFUND_SUCCEEDED, Refund, Status,
};
pub use ids::{CheckoutId, EventId, PaymentId, RefundId, WebhookId};
pub use mode::Mode;
// Which events are the merchant's.
pub use filter::{CheckoutFilter, IgnoreReason};
// Verify, parse and filter in one call.
pub use receive::{Delivery, Ignored, Outcome, ReceiveError, Receiver};
// A verified delivery kept for later, and checked again before acting on it.
pub use handoff::{DeliveryQueue, StoredDelivery};
// The one pipeline every server integration runs: its configuration, the
// delivery it hands the handler, and what it refuses.
#[cfg(feature = "http")]
pub use server::{DEFAULT_BODY_LIMIT, YocoRejection, YocoWebhook, YocoWebhookConfig};
// What the pipeline reports (features `tracing` and `metrics`): the span's
// and the metrics' names.
#[cfg(feature = "http")]
pub use server::{
    BODY_TOO_LARGE_TOTAL, DELIVERIES_TOTAL, DELIVERY_SPAN, HANDLER_SECONDS, STORE_SECONDS, VERIFIED_TOTAL,
};
// Any server built on the `http` types: the whole protocol for one request.
/// The `http` crate (1.x), whose types [`Headers`] and [`handle_request`]
/// take: use it from here to need no dependency of your own.
#[cfg(feature = "http")]
pub use http;
#[cfg(all(feature = "http", not(all(target_arch = "wasm32", target_os = "unknown"))))]
pub use server::http_request::handle_request;

/// The README's examples, compiled and run as doc tests (with the `client`,
/// `redis` and `postgres` features, which some of them use:
/// `cargo test --all-features`).
#[cfg(all(doctest, feature = "client", feature = "redis", feature = "postgres"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

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
//! // Yoco sends every payment and refund on the account: process your checkouts' events only.
//! let filter = CheckoutFilter::checkouts(["ch_9LVKD8GnAj7f39DFbn4F16bE"]);
//! let receiver = Receiver::new(Verifier::new(secret), filter);
//! assert_eq!(handle(&receiver, &http::HeaderMap::new(), b"{}"), 401);
//! # Ok::<(), yoco_webhooks::SecretError>(())
//! ```
//!
//! # Where a delivery goes, and where the code is
//!
//! The tree says the layers; each folder's `mod.rs` is its map.
//!
//! - **The core** (no I/O, no async, no clock of its own): [`WebhookSecret`]
//!   (`secret.rs`), the Standard Webhooks [`Verifier`] (`verify/`, with
//!   `signature.rs`; [`Diagnosis`] names why a request does not verify), reading headers from any server ([`headers`]), ids and
//!   [`Mode`] (`ids.rs`, `mode.rs`), typed events ([`Event`], [`EventData`],
//!   payloads in [`event`]), and [`CheckoutFilter`] (`filter.rs`).
//! - **The receiver** (`receive/`): [`Receiver`] verifies, reads and
//!   filters one request, and answers [`Outcome::Process`] with a
//!   [`Delivery`], [`Outcome::Ignore`] with an [`Ignored`] event, or a
//!   [`ReceiveError`] with its status.
//! - **Processing once** ([`dedup`]): the [`dedup::IdempotencyStore`]
//!   contract, an in-memory store, and the claim/complete/release protocol
//!   around a handler, which answers [`Processed`].
//! - **Answer now, process later** (`handoff/`): [`StoredDelivery`], a
//!   verified delivery kept as received and checked again before a worker
//!   acts on it, and the [`DeliveryQueue`] contract.
//! - **The servers** (`server/`, feature `http`): one pipeline
//!   ([`YocoWebhookConfig`] in, a [`YocoWebhook`] for the handler or what
//!   it [`Answered`] itself out, every status and text in one table, the
//!   span and metrics of [`observe`]), and one module per server, each only
//!   its framework's traits over the pipeline: [`http_request`] (any server
//!   on the `http` types), `axum`, `actix_web`, `poem`, `rocket`, `tower`,
//!   `lambda`, `worker`.
//! - **The shared stores** (`stores/`): `redis` (deduplication on Redis or
//!   Valkey), `postgres` (deduplication, and the `Inbox` queue with its
//!   workers) and `dynamodb` (deduplication on a DynamoDB table).
//! - **Around it**: [`registration`] (Yoco's webhook-registration API, as
//!   request builders and answer readers, and a ready client), [`testing`]
//!   (a signer, sample events, the store contract's suite), and the
//!   `yoco-webhooks` command line (`src/bin/`: registration, `trigger`,
//!   `doctor`, the inbox).
//! - **The guide** ([`guide`]): how to put the parts together in
//!   production: stores, the inbox, observability, registration, testing,
//!   secrets, troubleshooting a 401.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `http` | yes | [`headers::Headers`] for `http::HeaderMap`, [`ReceiveError::status_code`], the pipeline ([`YocoWebhookConfig`], [`http_request`]), the sans-IO [`registration`] API |
//! | `http-body` | no | nothing public: the body reading that `axum`, `tower` and `poem` share, for integrations on `http-body` servers |
//! | `testing` | no | the [`testing`] module: [`testing::Signer`], [`testing::SampleEvent`], [`testing::check_store`] (futures-util, futures-timer) |
//! | `client` | no | `registration::Client`, an async client for the registration API (reqwest, rustls) |
//! | `cli` | no | the `yoco-webhooks` command line (clap, httparse): `cargo install yoco-webhooks --features cli` (add `postgres` for its `inbox` commands) |
//! | `axum` | no | `axum`: the extractor for axum 0.8, with body limit and deduplication |
//! | `actix-web` | no | `actix_web`: the extractor for actix-web 4, configured through `app_data` |
//! | `poem` | no | `poem`: the extractor for Poem 3, configured through `Data` |
//! | `rocket` | no | `rocket`: the data guard for Rocket 0.5, configured through managed state, under Rocket's own `yoco-webhook` limit too |
//! | `lambda` | no | `lambda::{handle, extract, run}` for AWS Lambda (`lambda_http` 1.x): API Gateway REST and HTTP APIs and function URLs, base64 bodies, deduplication |
//! | `tower` | no | `tower::YocoWebhookLayer`, a tower `Layer` for hyper, axum and other tower stacks, with body limit and deduplication |
//! | `worker` | no | `worker::{handle, extract}` for a Cloudflare Worker (workers-rs 0.8) at the runtime's clock; `worker::DurableObjectStore`, deduplication on a Durable Object |
//! | `tracing` | no | one `tracing` span per delivery from the pipeline ([`observe::DELIVERY_SPAN`]): ids, outcome, reason, status, store and handler time; never a secret or the body |
//! | `metrics` | no | `metrics` counters and histograms, named in [`observe`] |
//! | `postgres` | no | `postgres::PostgresStore`, an [`IdempotencyStore`](dedup::IdempotencyStore) on PostgreSQL (sqlx 0.8, tokio); `postgres::Inbox`, a [`DeliveryQueue`] with workers, retries and dead deliveries |
//! | `redis` | no | `redis::RedisStore`, deduplication shared by several instances on Redis or Valkey (redis 1.x, tokio) |
//! | `dynamodb` | no | `dynamodb::DynamoDbStore`, deduplication on a DynamoDB table for Lambda and other AWS services (the AWS SDK for Rust, given your `aws_sdk_dynamodb::Client`) |
//! | `sqs` | no | `sqs::SqsQueue`, a [`DeliveryQueue`] on Amazon SQS (aws-sdk-sqs 1.x, your `aws_config`), and `sqs::SqsWorker`: processing once through any store, long-polling or in an SQS-triggered Lambda function (partial batch answers); with `cli`, `yoco-webhooks sqs dead` and `sqs redrive` |
//!
//! Without default features the crate needs no I/O, no clock (pass `now` to
//! [`Verifier::verify_at`] / [`Receiver::receive_at`]) and builds for
//! `wasm32-unknown-unknown`; so do `http` (without [`http_request`], which
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
//!   refused). No error quotes a value from the body
//!   ([`ParseProblem`](event::ParseProblem)).
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
pub mod event;
mod filter;
pub mod headers;
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
// The guide: how to put the parts together in production (doc only).
pub mod guide;
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
#[cfg(feature = "dynamodb")]
pub use stores::dynamodb;
#[cfg(feature = "postgres")]
pub use stores::postgres;
#[cfg(feature = "redis")]
pub use stores::redis;
#[cfg(feature = "sqs")]
pub use stores::sqs;

// The public API. The root holds what a quick start and a handler use; the
// rest is under the module that owns it: `event` (payloads, type names,
// parse errors), `headers` (reading headers from any server, their names),
// `dedup` (stores and the once-only protocol), `observe` (the span's and
// the metrics' names), and one module per server integration and store.

// The secret and the Standard Webhooks verifier.
pub use secret::{SecretError, WebhookSecret};
pub use verify::{DEFAULT_TOLERANCE, SecretName, Verified, Verifier, VerifierBuilder, VerifyError};
// Why a refused request does not verify, named as a cause to act on.
pub use verify::{BodyChange, Diagnosis, SignatureSpelling, TextKey};
// Yoco's events, and the ids and mode that say whose they are.
pub use event::types::{Event, EventData};
pub use ids::{CheckoutId, EventId, PaymentId, RefundId, WebhookId};
pub use mode::Mode;
// Which events are the merchant's.
pub use filter::{CheckoutFilter, IgnoreReason};
// Verify, parse and filter in one call.
pub use receive::{Delivery, Ignored, Outcome, ReceiveError, Receiver};
// What became of a delivery handed to a handler (`dedup`, `YocoWebhook`).
pub use dedup::process::Processed;
// Answer now, process later: a verified delivery kept for later, checked
// again before acting on it, and where verified deliveries wait.
pub use handoff::{DeliveryQueue, Enqueued, StoredDelivery};
// The one pipeline every server integration runs: its configuration, the
// delivery it hands the handler, what it answers itself, and why it refuses.
#[cfg(feature = "http")]
pub use server::{Answered, DEFAULT_BODY_LIMIT, YocoRejection, YocoWebhook, YocoWebhookConfig};
// What the pipeline reports (features `tracing` and `metrics`).
#[cfg(feature = "http")]
pub use server::observe;
// Any server built on the `http` types: `handle` and `extract`.
/// The `http` crate (1.x), whose types [`headers::Headers`] and
/// [`http_request`] take: use it from here to need no dependency of your own.
#[cfg(feature = "http")]
pub use http;
#[cfg(all(feature = "http", not(all(target_arch = "wasm32", target_os = "unknown"))))]
pub use server::http_request;

/// The README's examples, compiled and run as doc tests (with the `axum`
/// and `postgres` features, which they use: `cargo test --all-features`).
#[cfg(all(doctest, feature = "axum", feature = "postgres"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

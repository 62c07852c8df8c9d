//! The Cloudflare Workers integration (workers-rs 0.8; 0.8.6 builds on the
//! crate's Rust 1.88, 0.8.7 asks for 1.91): a `worker::Request` verified, parsed and filtered by the same
//! pipeline as every other server, with the same body limit and the same
//! answers, and deduplication on a Durable Object. Build with
//! `default-features = false, features = ["worker"]` for
//! `wasm32-unknown-unknown`.
//!
//! ```no_run
//! use worker::{DurableObject, Env, Request, Response, State, durable_object, event};
//! use yoco_webhooks::worker::{DedupObject, DurableObjectStore};
//! use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret, YocoWebhookConfig};
//!
//! #[event(fetch)]
//! async fn fetch(request: Request, env: Env, _ctx: worker::Context) -> worker::Result<Response> {
//!     if request.path() != "/webhooks/yoco" {
//!         return Response::error("not found", 404);
//!     }
//!     // `wrangler secret put YOCO_WEBHOOK_SECRET`
//!     let secret = WebhookSecret::parse(&env.secret("YOCO_WEBHOOK_SECRET")?.to_string())
//!         .map_err(|err| worker::Error::RustError(err.to_string()))?;
//!     let receiver = Receiver::new(Verifier::new(secret), CheckoutFilter::any());
//!     let config = YocoWebhookConfig::new_without_dedup(receiver)
//!         .with_store(DurableObjectStore::from_env(&env, "YOCO_DEDUP")?);
//!     // 405 to all but POST, 401, 400, 413, ...: answered before the handler.
//!     Ok(yoco_webhooks::worker::handle(&config, request, |delivery| async move {
//!         worker::console_log!("{} for {:?}", delivery.event.event_type(), delivery.event.checkout_id());
//!         Ok::<(), worker::Error>(()) // an Err answers 500, and Yoco retries
//!     })
//!     .await)
//! }
//!
//! /// The Durable Object class bound as `YOCO_DEDUP` in wrangler.toml.
//! #[durable_object]
//! pub struct YocoDedup(DedupObject);
//!
//! impl DurableObject for YocoDedup {
//!     fn new(state: State, _env: Env) -> Self {
//!         Self(DedupObject::new(&state))
//!     }
//!
//!     async fn fetch(&self, request: Request) -> worker::Result<Response> {
//!         self.0.fetch(request).await
//!     }
//!
//!     async fn alarm(&self) -> worker::Result<Response> {
//!         self.0.alarm().await
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! `examples/worker/` in the repository is this Worker in full, with its
//! `wrangler.toml`, the Durable Object and the axum receiver's contract (one
//! JSON line per processed event in the log). The crate's tests build it
//! with `worker-build`, serve it in `workerd`, the Workers runtime, and hold
//! it to the same answers as every other server; `scripts/build-worker`
//! builds it with only the package registries (wasm-bindgen-cli and
//! worker-build from crates.io, esbuild and workerd from npm).
//!
//! [`extract`] gives the handler a [`YocoWebhook`](crate::YocoWebhook) to
//! [`process`](crate::YocoWebhook::process) (or
//! [`process_claimed`](crate::YocoWebhook::process_claimed)), or the
//! [`Answered`](crate::Answered) that answers the request without it;
//! [`handle`] is the whole exchange. Answers convert into a
//! `worker::Response` (`From`): 200 processed, ignored (not your checkout or
//! mode) or duplicate; 401 not authentic; 400 not a Yoco event or an
//! unreadable body; 405 not a POST; 413 body over the limit; 409 in
//! progress elsewhere; 500 your handler failed; 503 the deduplication store
//! could not answer.
//!
//! # The clock and the body
//!
//! A Worker is `wasm32-unknown-unknown`, which has no system clock: the
//! timestamp is checked against the runtime's (`Date.now()`), where a
//! verifier that reads the system clock panics. The body is
//! read as a stream and refused with 413 as soon as it passes
//! [`YocoWebhookConfig::body_limit`] (1 MiB by default), or before when
//! `content-length` says so.
//!
//! The runtime joins a repeated header's values with `, ` (the Fetch
//! standard's `Headers`); none of `webhook-id`, `webhook-timestamp` and
//! `webhook-signature` holds `, ` (signatures are separated by spaces), so
//! a value with one counts as repeated and is refused with 401, as on every
//! other server.
//!
//! # Deduplication
//!
//! Nothing in memory is shared between a Worker's instances, nor kept
//! between requests for sure: there is no in-memory store here
//! ([`YocoWebhookConfig::new`] does not exist on `wasm32-unknown-unknown`).
//! Start from [`YocoWebhookConfig::new_without_dedup`] and either
//!
//! - give it a [`DurableObjectStore`]: each delivery's claim lives in the
//!   Durable Object named by its `webhook-id`, a [`DedupObject`] in a class
//!   of your Worker. One object has one instance in the world, and reads
//!   and writes its storage one request at a time, so a delivery is
//!   processed once however many instances of the Worker receive it (Yoco's
//!   retries, or two at once: the second is answered 409 and retried); or
//! - leave deduplication off: every authentic delivery runs the handler,
//!   Yoco's retries included, so the handler must be idempotent itself (an
//!   upsert keyed by the event id, for instance).
//!
//! The store's answers carry no secret; a Durable Object that cannot answer
//! is a 503, never a 2xx, so Yoco retries.
//!
//! [`YocoWebhookConfig::body_limit`]: crate::YocoWebhookConfig::body_limit
//! [`YocoWebhookConfig::new`]: crate::YocoWebhookConfig::new
//! [`YocoWebhookConfig::new_without_dedup`]: crate::YocoWebhookConfig::new_without_dedup

mod object;
mod store;

use bytes::Bytes;
use futures_util::StreamExt as _;
use worker::{Request, Response};

use crate::dedup::process::Processed;
use crate::headers::{SVIX_ID, SVIX_SIGNATURE, SVIX_TIMESTAMP, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
use crate::receive::Delivery;
use crate::server::answer::{Answer, TEXT_PLAIN};

pub use object::DedupObject;
pub use store::DurableObjectStore;

use crate::server::{Answered, YocoRejection, YocoWebhook, YocoWebhookConfig};

/// Takes the delivery from `request` with `config`: the method, the body
/// limit, verification at the runtime's time and the filter.
///
/// # Errors
/// What the pipeline answered itself ([`Answered`], a response through
/// `worker::Response::from`) when the handler is not to run: an event that
/// is not yours or a delivery queued (200), or a refusal: not a POST, too
/// large, unreadable, not authentic, not a Yoco event.
pub async fn extract(config: &YocoWebhookConfig, request: Request) -> Result<YocoWebhook, Answered> {
    let headers = webhook_headers(request.headers());
    let method = request.method();
    let read = move |limit| read_limited(request, limit);
    config
        .extract_at(usize::MAX, runtime_now, method.as_ref(), &headers, read)
        .await
}

/// Handles one webhook request with `config`: [`extract`], then `handler`
/// for a delivery to process, at most once per `webhook-id` unless
/// deduplication is off. The response to send, with a short text body: the
/// same statuses and texts as every other integration.
pub async fn handle<F, Fut, T, E>(config: &YocoWebhookConfig, request: Request, handler: F) -> Response
where
    F: FnOnce(Delivery) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    match extract(config, request).await {
        Ok(webhook) => webhook.process(handler).await.into(),
        Err(rejection) => rejection.into(),
    }
}

/// The runtime's time in Unix seconds: `Date.now()`.
fn runtime_now() -> i64 {
    i64::try_from(worker::Date::now().as_millis() / 1000).unwrap_or(i64::MAX)
}

/// The headers the pipeline reads, as name and value pairs: the three
/// webhook headers under their Standard Webhooks and their Svix names. The
/// runtime gives a repeated header as one value joined with `, `; for the
/// webhook headers, which never hold `, `, the parts come back as repeated
/// entries, so that the pipeline refuses them as on every other server.
fn webhook_headers(headers: &worker::Headers) -> Vec<(&'static str, String)> {
    const READ: [&str; 7] = [
        "content-length",
        WEBHOOK_ID,
        WEBHOOK_TIMESTAMP,
        WEBHOOK_SIGNATURE,
        SVIX_ID,
        SVIX_TIMESTAMP,
        SVIX_SIGNATURE,
    ];
    let mut pairs = Vec::with_capacity(4);
    for name in READ {
        // `get` fails only on a name that is not a header name: these are.
        let Ok(Some(value)) = headers.get(name) else {
            continue;
        };
        if name == "content-length" {
            pairs.push((name, value));
        } else {
            pairs.extend(value.split(", ").map(|part| (name, part.to_owned())));
        }
    }
    pairs
}

/// Reads the body as it streams in, refusing it as soon as it passes `limit`.
async fn read_limited(mut request: Request, limit: usize) -> Result<Bytes, YocoRejection> {
    let unreadable = |err: worker::Error| YocoRejection::BodyUnreadable(err.to_string().into());
    if request.inner().body().is_none() {
        return Ok(Bytes::new());
    }
    let mut stream = request.stream().map_err(unreadable)?;
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(unreadable)?;
        if chunk.len() > limit.saturating_sub(body.len()) {
            return Err(YocoRejection::BodyTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// The answer as a Worker's response: the one conversion.
fn respond(answer: Answer) -> Response {
    let headers = worker::Headers::new();
    // `set` fails only on an invalid name or value, or on immutable
    // headers: these are static and valid, on headers of our own.
    let _ = headers.set("content-type", TEXT_PLAIN);
    for (name, value) in answer.headers() {
        let _ = headers.set(name, value);
    }
    Response::builder()
        .with_status(answer.status().as_u16())
        .with_headers(headers)
        .fixed(answer.text().as_bytes().to_vec())
}

/// The response for what the pipeline answered itself (see [`extract`]); the
/// same as `Response::from(answered)`.
pub fn answer(answered: &Answered) -> Response {
    respond(answered.answer())
}

impl From<Answered> for Response {
    fn from(answered: Answered) -> Self {
        respond(answered.answer())
    }
}

impl<T, E> From<Processed<T, E>> for Response {
    fn from(processed: Processed<T, E>) -> Self {
        respond(processed.answer())
    }
}

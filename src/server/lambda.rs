//! The AWS Lambda integration (`lambda_http` 1.x): one function over the
//! pipeline, for a function behind API Gateway (REST APIs, the v1 event;
//! HTTP APIs, the v2 event) or a function URL (the v2 event).
//!
//! `lambda_http` turns each event into an `http::Request` whose body it has
//! already decoded from base64 when the event says `isBase64Encoded` (API
//! Gateway and function URLs encode any body that is not text); [`handle`]
//! verifies the signature over those decoded bytes, exactly as Yoco sent
//! them, and answers with the same statuses and texts as every other
//! integration.
//!
//! ```
//! use yoco_webhooks::lambda::lambda_http::{Body, Request};
//! use yoco_webhooks::lambda::handle;
//! use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret, YocoWebhookConfig};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let config = YocoWebhookConfig::new(Receiver::new(Verifier::new(secret), CheckoutFilter::any()));
//!
//! // What `lambda_http` hands the function for a POST (here unsigned).
//! let request: Request = http::Request::post("/webhooks/yoco").body(Body::from("{}"))?;
//! let response = handle(&config, request, |delivery| async move {
//!     println!("{} for {:?}", delivery.event.event_type(), delivery.event.checkout_id());
//!     Ok::<(), std::io::Error>(()) // an Err answers 500, and Yoco retries
//! })
//! .await;
//! assert_eq!(response.status(), 401);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! A function that only receives webhooks hands the whole loop to [`run`]
//! (one with routes of its own calls [`handle`] for the webhook's route in
//! its own service, and runs it with [`run_service`]):
//!
//! ```no_run
//! use yoco_webhooks::lambda::run;
//! use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret, YocoWebhookConfig};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!     let secret = WebhookSecret::parse(&std::env::var("YOCO_WEBHOOK_SECRET")?)?;
//!     let config = YocoWebhookConfig::new(Receiver::new(Verifier::new(secret), CheckoutFilter::any()));
//!     run(config, |delivery| async move {
//!         println!("{}", delivery.event.event_type());
//!         Ok::<(), std::io::Error>(())
//!     })
//!     .await
//! }
//! ```
//!
//! [`extract`] is the step before the handler alone: it gives a
//! [`YocoWebhook`](crate::YocoWebhook) to process, or the
//! [`Answered`](crate::Answered) the pipeline gave without your handler.
//! Call [`YocoWebhook::process_claimed`](crate::YocoWebhook::process_claimed)
//! on it to mark the delivery done inside your own database transaction
//! (see the [stores guide](crate::guide::stores)).
//!
//! The answers: 200 processed, ignored (not your checkout or mode) or
//! duplicate; 401 not authentic; 400 not a Yoco event; 405 not a POST; 413
//! body over the limit; 409 in progress elsewhere; 500 your handler failed;
//! 503 the deduplication store could not answer. An `Err` from your handler
//! answers 500; with the `tracing` feature the crate logs it (its
//! `Display`, field `error`, at ERROR) as `handler failed: answered 500,
//! Yoco retries`.
//!
//! # Trying it locally
//!
//! `examples/lambda_receiver.rs` in the repository is a complete function
//! with the axum receiver's contract (`YOCO_WEBHOOK_SECRET`,
//! `YOCO_CHECKOUT_IDS`, `YOCO_REDIS_URL` / `YOCO_REDIS_CLUSTER` /
//! `YOCO_DATABASE_URL`; `POST
//! /webhooks/yoco`, 405 for other methods; a JSON line per processed event).
//! Run it under cargo-lambda's Lambda emulator (`pip install cargo-lambda`),
//! which serves function URLs on port 9000:
//!
//! ```sh
//! cargo lambda watch --example lambda_receiver --features lambda --env-var YOCO_WEBHOOK_SECRET=whsec_...
//! ```
//!
//! The crate's tests run the shared adapter suite through that emulator, and
//! send it REST API, HTTP API and function-URL events, base64-encoded and
//! not, each answered as axum answers the same request.
//!
//! # Repeated headers
//!
//! A webhook header sent twice is ambiguous, and refused with 401 as on
//! every server. HTTP APIs and function URLs join the values with commas,
//! which verification refuses. A REST API lists them in the event's
//! `multiValueHeaders`, but `lambda_http` lets its single-valued `headers`
//! (the last value) replace them; [`run`] and [`run_service`] keep them, a
//! service run by `lambda_http::run` itself does not.
//!
//! # Deduplication across instances
//!
//! Lambda runs as many instances of a function as there are concurrent
//! requests, each with its own memory, and freezes or drops them at will.
//! The default [`MemoryStore`](crate::dedup::MemoryStore) deduplicates only
//! within one warm instance: Yoco's retry, or a duplicate sent while the
//! first is still being processed, may reach another instance (or a fresh
//! one after a cold start) and be processed again. To process each delivery
//! once, give the configuration a store every instance shares:
//! `RedisStore` (feature `redis`; ElastiCache or any Redis 7 the function's
//! VPC reaches) or `PostgresStore` (feature `postgres`; RDS, ideally behind
//! RDS Proxy, since each instance holds its own connections), built once
//! outside the handler so that warm invocations reuse the connection.
//!
//! # Body limit
//!
//! Lambda delivers the whole body in the event (at most 6 MB), so the body
//! is already in memory when the function runs;
//! [`YocoWebhookConfig::body_limit`] (1 MiB by default) still refuses a
//! larger one with 413 before it is verified or parsed.
//!
//! # Panics
//!
//! None from this crate. `lambda_http` itself panics on an event that says
//! `isBase64Encoded` with a body that is not base64; only Lambda writes
//! that encoding (a sender cannot), and the runtime catches the panic and
//! reports the invocation as failed.
//!
//! [`YocoWebhookConfig::body_limit`]: crate::YocoWebhookConfig::body_limit

use std::task::{Context, Poll};

use bytes::Bytes;
pub use lambda_http;
use lambda_http::lambda_runtime::LambdaInvocation;
use lambda_http::tower::{Layer, Service};
use lambda_http::{Body, Request, Response};

use crate::receive::Delivery;
use crate::server::http_request;
use crate::server::{Answered, YocoWebhook, YocoWebhookConfig};

/// Takes the delivery from `request` as `lambda_http` delivers it (the body
/// decoded from base64 already): the method, the configured body limit,
/// verification over the body's raw bytes and the filter. Then
/// [`YocoWebhook::process`], or [`YocoWebhook::process_claimed`] to mark
/// the delivery done inside your own database transaction; [`handle`] does
/// it all.
///
/// # Errors
/// What the pipeline answered itself when the handler is not to run
/// ([`Answered`]): an event that is not yours or a delivery queued (200),
/// or a refusal. [`answer`] turns it into the response.
pub async fn extract(config: &YocoWebhookConfig, request: Request) -> Result<YocoWebhook, Answered> {
    http_request::extract(config, request.map(raw_bytes)).await
}

/// The response for what the pipeline answered itself (see [`extract`]).
pub fn answer(answered: &Answered) -> Response<Body> {
    answered.answer().to_response::<&'static str>().map(Body::from)
}

/// Handles one webhook request as `lambda_http` delivers it (the body
/// decoded from base64 already): the method, the configured body limit,
/// verification over the body's raw bytes and the filter; then `handler` for
/// a delivery to process, at most once per `webhook-id` unless
/// deduplication is off. Returns the response, with a short text body.
pub async fn handle<F, Fut, T, E>(config: &YocoWebhookConfig, request: Request, handler: F) -> Response<Body>
where
    F: FnOnce(Delivery) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    http_request::handle(config, request.map(raw_bytes), handler)
        .await
        .map(Body::from)
}

/// Runs the function: every invocation is handled by [`handle`] with
/// `config`, calling `handler` for each delivery to process, until the
/// Lambda runtime stops it. [`run_service`] for a function that routes
/// requests itself.
///
/// # Errors
///
/// The runtime's: the Runtime API could not be reached.
///
/// # Panics
///
/// `lambda_http` panics when the Lambda environment variables are missing.
pub async fn run<F, Fut, T, E>(config: YocoWebhookConfig, handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Delivery) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    run_service(lambda_http::service_fn(move |request: Request| {
        let (config, handler) = (config.clone(), handler.clone());
        async move { Ok::<_, std::convert::Infallible>(handle(&config, request, handler).await) }
    }))
    .await
}

/// Runs `service` (yours, calling [`handle`] for the webhook route) as
/// `lambda_http::run` does, and keeps a REST API event's repeated headers
/// repeated: `lambda_http` lets the event's single-valued `headers` (the
/// last value) replace its `multiValueHeaders`, so a webhook header sent
/// twice would reach [`handle`] once; kept, it is refused as ambiguous, as
/// on every other server. (HTTP APIs and function URLs join repeated
/// headers with commas, which verification refuses.)
///
/// Reads the runtime's environment (`AWS_LAMBDA_RUNTIME_API`, ...), so it
/// runs only under Lambda or an emulator such as `cargo lambda watch`.
///
/// # Errors
///
/// The runtime's: the Runtime API could not be reached.
///
/// # Panics
///
/// `lambda_http` panics when the Lambda environment variables are missing.
pub async fn run_service<S, R, E>(service: S) -> Result<(), lambda_http::Error>
where
    S: Service<Request, Response = R, Error = E> + Send + 'static,
    S::Future: Send + 'static,
    R: lambda_http::IntoResponse + Send + Sync + 'static,
    E: std::fmt::Debug + Into<lambda_http::lambda_runtime::Diagnostic> + Send + 'static,
{
    lambda_http::runtime(service)
        .layer(KeepRepeatedHeaders)
        .layer(lambda_http::lambda_runtime::layers::TracingLayer::new())
        .run()
        .await
}

/// The layer under the runtime that keeps a REST API event's repeated
/// headers repeated (see [`run_service`]).
#[derive(Clone, Copy)]
struct KeepRepeatedHeaders;

impl<S> Layer<S> for KeepRepeatedHeaders {
    type Service = KeepingRepeatedHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        KeepingRepeatedHeaders(inner)
    }
}

struct KeepingRepeatedHeaders<S>(S);

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for KeepingRepeatedHeaders<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> S::Future {
        invocation.body = keep_repeated_headers(invocation.body);
        self.0.call(invocation)
    }
}

/// The event, with each header that its `multiValueHeaders` lists more than
/// once removed from its single-valued `headers`, so that `lambda_http`
/// keeps every value. Any other event (or one that is not JSON, which
/// `lambda_http` then reports) is returned as it is.
fn keep_repeated_headers(event: Bytes) -> Bytes {
    type Object = serde_json::Map<String, serde_json::Value>;
    // Only a REST API's (or an ALB's) event has the key: leave the others
    // unparsed.
    const KEY: &[u8] = b"\"multiValueHeaders\"";
    if !event.windows(KEY.len()).any(|window| window == KEY) {
        return event;
    }
    let Ok(mut parsed) = serde_json::from_slice::<Object>(&event) else {
        return event;
    };
    let repeated: Vec<String> = match parsed.get("multiValueHeaders").and_then(|v| v.as_object()) {
        Some(multi) => multi
            .iter()
            .filter(|(_, values)| values.as_array().is_some_and(|values| values.len() > 1))
            .map(|(name, _)| name.to_ascii_lowercase())
            .collect(),
        None => return event,
    };
    let Some(headers) = parsed.get_mut("headers").and_then(|v| v.as_object_mut()) else {
        return event;
    };
    let before = headers.len();
    headers.retain(|name, _| !repeated.contains(&name.to_ascii_lowercase()));
    if headers.len() == before {
        return event;
    }
    serde_json::to_vec(&parsed).map_or(event, Bytes::from)
}

/// The body's bytes, as the sender sent them: `lambda_http` has decoded
/// base64 already, and keeps text as text.
fn raw_bytes(body: Body) -> Bytes {
    match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        // A kind `lambda_http` may add later: its bytes, copied.
        other => Bytes::copy_from_slice(&other),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn raw_bytes_keeps_every_kind_of_body() {
        assert_eq!(raw_bytes(Body::Empty), Bytes::new());
        assert_eq!(raw_bytes(Body::from("é")), Bytes::from("é"));
        assert_eq!(raw_bytes(Body::from(vec![0xff_u8, 0])), Bytes::from(vec![0xff_u8, 0]));
    }

    fn headers_after(event: &serde_json::Value) -> http::HeaderMap {
        let kept = keep_repeated_headers(Bytes::from(event.to_string()));
        lambda_http::request::from_str(std::str::from_utf8(&kept).unwrap())
            .unwrap()
            .headers()
            .clone()
    }

    #[test]
    fn a_rest_apis_repeated_header_stays_repeated() {
        let event = json!({
            "resource": "/", "path": "/", "httpMethod": "POST", "body": null, "isBase64Encoded": false,
            "headers": {"Webhook-Id": "b", "x-once": "1"},
            "multiValueHeaders": {"Webhook-Id": ["a", "b"], "x-once": ["1"]},
            "requestContext": {"stage": "prod", "httpMethod": "POST", "identity": {}},
        });
        let headers = headers_after(&event);
        let ids: Vec<_> = headers.get_all("webhook-id").iter().collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(headers["x-once"], "1");
        // What `lambda_http` does without it: the last value only.
        let unkept = lambda_http::request::from_str(&event.to_string()).unwrap();
        assert_eq!(unkept.headers().get_all("webhook-id").iter().count(), 1);
    }

    #[test]
    fn other_events_pass_as_they_are() {
        for event in [
            Bytes::from_static(b"not json"),
            Bytes::from_static(br#"{"version":"2.0","headers":{"a":"1,1"}}"#),
            Bytes::from_static(br#"{"headers":{"a":"1"},"multiValueHeaders":{"a":["1"]}}"#),
        ] {
            assert_eq!(keep_repeated_headers(event.clone()), event);
        }
    }
}

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
//! use yoco_webhooks::lambda::{YocoWebhookConfig, handle};
//! use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret};
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
//! A function that only receives webhooks hands the whole loop to [`run`]:
//!
//! ```no_run
//! use yoco_webhooks::lambda::{YocoWebhookConfig, run};
//! use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret};
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
//! The answers: 200 processed, ignored (not your checkout or mode) or
//! duplicate; 401 not authentic; 400 not a Yoco event; 405 not a POST; 413
//! body over the limit; 409 in progress elsewhere; 500 your handler failed;
//! 503 the deduplication store could not answer.
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
//! [`YocoWebhookConfig::body_limit`] (256 KiB by default) still refuses a
//! larger one with 413 before it is verified or parsed.
//!
//! # Panics
//!
//! None from this crate. `lambda_http` itself panics on an event that says
//! `isBase64Encoded` with a body that is not base64; only Lambda writes
//! that encoding (a sender cannot), and the runtime catches the panic and
//! reports the invocation as failed.

use bytes::Bytes;
pub use lambda_http;
use lambda_http::{Body, Request, Response};

use crate::handle::handle_request;
pub use crate::pipeline::{DEFAULT_BODY_LIMIT, YocoRejection, YocoWebhook, YocoWebhookConfig};
use crate::receive::Delivery;

/// Handles one webhook request as `lambda_http` delivers it (the body
/// decoded from base64 already): the method, the configured body limit,
/// verification over the body's raw bytes and the filter; then `handler` for
/// a delivery to process, at most once per `webhook-id` unless
/// deduplication is off. Returns the response, with a short text body.
pub async fn handle<F, Fut, T, E>(config: &YocoWebhookConfig, request: Request, handler: F) -> Response<Body>
where
    F: FnOnce(Delivery) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    handle_request(config, request.map(raw_bytes), handler)
        .await
        .map(Body::from)
}

/// Runs the function: every invocation is handled by [`handle`] with
/// `config`, calling `handler` for each delivery to process, until the
/// Lambda runtime stops it. Reads the runtime's environment
/// (`AWS_LAMBDA_RUNTIME_API`, ...), so it runs only under Lambda or an
/// emulator such as `cargo lambda watch`.
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
    E: Send + 'static,
{
    lambda_http::run(lambda_http::service_fn(move |request: Request| {
        let (config, handler) = (config.clone(), handler.clone());
        async move { Ok::<_, std::convert::Infallible>(handle(&config, request, handler).await) }
    }))
    .await
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
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::{Value, json};

    use super::*;
    use crate::filter::CheckoutFilter;
    use crate::receive::Receiver;
    use crate::secret::WebhookSecret;
    use crate::testing::{SampleEvent, SignedHeaders, Signer, TEST_SECRET};
    use crate::verify::Verifier;

    fn signed(id: &str, body: &[u8]) -> SignedHeaders {
        Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_now(id, body)
    }

    /// The headers as an event's JSON object.
    fn header_object(headers: &SignedHeaders) -> Value {
        headers
            .pairs()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), Value::from(value)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// A REST API's (v1) event for a POST of `body`, base64-encoded or not.
    fn rest_event(headers: &SignedHeaders, body: &[u8], base64: bool) -> Value {
        let multi: serde_json::Map<_, _> = headers
            .pairs()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), json!([value])))
            .collect();
        json!({
            "resource": "/webhooks/yoco", "path": "/webhooks/yoco", "httpMethod": "POST",
            "headers": header_object(headers), "multiValueHeaders": multi,
            "queryStringParameters": null, "multiValueQueryStringParameters": null,
            "pathParameters": null, "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012", "resourceId": "abc123", "stage": "prod",
                "requestId": "c6af9ac6", "identity": {"sourceIp": "192.0.2.1"},
                "resourcePath": "/webhooks/yoco", "httpMethod": "POST", "apiId": "1234567890",
                "path": "/prod/webhooks/yoco"
            },
            "body": encode(body, base64), "isBase64Encoded": base64,
        })
    }

    /// An HTTP API's (v2) or a function URL's event (`$default` route).
    fn v2_event(route: &str, method: &str, headers: &SignedHeaders, body: &[u8], base64: bool) -> Value {
        json!({
            "version": "2.0", "routeKey": route, "rawPath": "/webhooks/yoco", "rawQueryString": "",
            "headers": header_object(headers),
            "requestContext": {
                "accountId": "123456789012", "apiId": "abcdefgh", "domainName": "abcdefgh.lambda-url.af-south-1.on.aws",
                "domainPrefix": "abcdefgh", "requestId": "id", "routeKey": route, "stage": "$default",
                "time": "01/Dec/2026:12:00:00 +0000", "timeEpoch": 1_796_126_400_000_u64,
                "http": {"method": method, "path": "/webhooks/yoco", "protocol": "HTTP/1.1",
                         "sourceIp": "192.0.2.1", "userAgent": "Yoco"}
            },
            "body": encode(body, base64), "isBase64Encoded": base64,
        })
    }

    fn encode(body: &[u8], base64: bool) -> String {
        if base64 {
            STANDARD.encode(body)
        } else {
            String::from_utf8(body.to_vec()).unwrap()
        }
    }

    /// The answer to `event`, parsed as `lambda_http` parses it.
    fn answer(config: &YocoWebhookConfig, event: &Value) -> (u16, String) {
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let response = runtime.block_on(handle(config, request, |_| async { Ok::<(), ()>(()) }));
        let text = String::from_utf8(response.body().to_vec()).unwrap();
        (response.status().as_u16(), text)
    }

    fn config() -> YocoWebhookConfig {
        let receiver = Receiver::new(
            Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
            CheckoutFilter::checkout("ch_mine"),
        );
        YocoWebhookConfig::new(receiver).body_limit(4096)
    }

    #[test]
    fn every_event_shape_is_verified_over_the_decoded_body() {
        let config = config();
        let ours = SampleEvent::payment_succeeded().checkout_id("ch_mine").to_json();
        for base64 in [false, true] {
            let id = format!("rest_{base64}");
            assert_eq!(
                answer(&config, &rest_event(&signed(&id, &ours), &ours, base64)),
                (200, "processed".into())
            );
            let id = format!("http_{base64}");
            let event = v2_event("POST /webhooks/yoco", "POST", &signed(&id, &ours), &ours, base64);
            assert_eq!(answer(&config, &event), (200, "processed".into()));
            let id = format!("url_{base64}");
            let event = v2_event("$default", "POST", &signed(&id, &ours), &ours, base64);
            assert_eq!(answer(&config, &event), (200, "processed".into()));
            assert_eq!(answer(&config, &event), (200, "duplicate".into()));
        }
    }

    #[test]
    fn a_signature_over_the_base64_text_is_not_authentic() {
        let ours = SampleEvent::payment_succeeded().checkout_id("ch_mine").to_json();
        let encoded = STANDARD.encode(&ours);
        let event = v2_event("$default", "POST", &signed("m1", encoded.as_bytes()), &ours, true);
        assert_eq!(answer(&config(), &event), (401, "webhook not authentic".into()));
    }

    #[test]
    fn binary_bodies_are_verified_byte_for_byte() {
        // Not UTF-8: Lambda can only deliver it base64-encoded. Authentic,
        // so the answer is the parser's, not the verifier's.
        let body = b"{\"id\":\"\xff\xfe\"}".to_vec();
        let event = v2_event("$default", "POST", &signed("m1", &body), &body, true);
        assert_eq!(answer(&config(), &event), (400, "not a Yoco event".into()));
    }

    #[test]
    fn the_method_and_the_body_limit_are_the_pipelines() {
        let ours = SampleEvent::payment_succeeded().checkout_id("ch_mine").to_json();
        let event = v2_event("$default", "GET", &signed("m1", &ours), &ours, false);
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let response = runtime.block_on(handle(&config(), request, |_| async { Ok::<(), ()>(()) }));
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()[http::header::ALLOW], "POST");

        let big = SampleEvent::payment_succeeded()
            .checkout_id("ch_mine")
            .metadata("notes", "x".repeat(4096))
            .to_json();
        let event = v2_event("$default", "POST", &signed("m2", &big), &big, true);
        assert_eq!(answer(&config(), &event), (413, "body too large".into()));
    }

    #[test]
    fn raw_bytes_keeps_every_kind_of_body() {
        assert_eq!(raw_bytes(Body::Empty), Bytes::new());
        assert_eq!(raw_bytes(Body::from("é")), Bytes::from("é"));
        assert_eq!(raw_bytes(Body::from(vec![0xff_u8, 0])), Bytes::from(vec![0xff_u8, 0]));
    }
}

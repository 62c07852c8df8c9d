//! Any server built on the `http` types that has no module of its own:
//! [`handle`] runs the whole pipeline on a request whose body the server has
//! read, and returns the response to send.
//!
//! ```
//! use yoco_webhooks::http::{Request, Response};
//! use yoco_webhooks::{Delivery, YocoWebhookConfig, http_request};
//!
//! async fn on_webhook(config: &YocoWebhookConfig, request: Request<Vec<u8>>) -> Response<&'static str> {
//!     http_request::handle(config, request, |delivery: Delivery| async move {
//!         println!("{} for {:?}", delivery.event.event_type(), delivery.event.checkout_id());
//!         Ok::<(), std::io::Error>(()) // an Err answers 500 and Yoco retries
//!     })
//!     .await
//! }
//! ```
//!
//! Read the body with a size limit of your own (Yoco's events are a few
//! kilobytes); the configuration's
//! [`body_limit`](crate::YocoWebhookConfig::body_limit) still refuses a
//! larger one with 413. The answers are those of every integration, with
//! the same short texts: 200 processed, ignored or duplicate; 401 not
//! authentic; 400 not a Yoco event; 405 not a POST (with `Allow: POST`);
//! 413 body over the limit; 409 in progress elsewhere; 500 your handler
//! failed; 503 the deduplication store could not answer. An `Err` from your
//! handler answers 500; with the `tracing` feature the crate logs it (its
//! `Display`, field `error`, at ERROR) as `handler failed: answered 500,
//! Yoco retries`.
//!
//! [`extract`] is the step before the handler alone: it gives a
//! [`YocoWebhook`](crate::YocoWebhook) to
//! [`process`](crate::YocoWebhook::process), or to
//! [`process_claimed`](crate::YocoWebhook::process_claimed) when your
//! writes and the record of the delivery must commit together (see the
//! [stores guide](crate::guide::stores)), or the
//! [`Answered`](crate::Answered) the pipeline gave without your handler.
//!
//! Both read the system clock, so neither is on `wasm32-unknown-unknown`;
//! a Cloudflare Worker has the `worker` module.

use bytes::Bytes;

use crate::dedup::process::Processed;
use crate::receive::Delivery;
use crate::server::{Answered, YocoWebhook, YocoWebhookConfig};

/// Takes the delivery from `request`, whose body the server has read (with
/// a size limit of its own: Yoco's events are a few kilobytes): the method,
/// the configured body limit, verification at the system clock's time and
/// the filter.
///
/// ```
/// use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret, YocoWebhookConfig, http_request};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let config = YocoWebhookConfig::new(Receiver::new(Verifier::new(secret), CheckoutFilter::any()));
/// let request = yoco_webhooks::http::Request::post("/webhooks/yoco").body(b"{}".to_vec())?;
/// let answered = http_request::extract(&config, request).await.unwrap_err();
/// assert_eq!(answered.status(), 401); // unsigned
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// # Errors
/// What the pipeline answered itself when the handler is not to run
/// ([`Answered`]: answer with its [`status`](Answered::status) and
/// [`body_text`](Answered::body_text)): an event that is not yours or a
/// delivery queued (200), or a refusal.
pub async fn extract<B>(config: &YocoWebhookConfig, request: http::Request<B>) -> Result<YocoWebhook, Answered>
where
    B: Into<Bytes>,
{
    let (parts, body) = request.into_parts();
    let read = |_limit| async { Ok(body.into()) };
    config.extract(parts.method.as_str(), &parts.headers, read).await
}

/// The response for what the pipeline answered itself (see [`extract`]):
/// its status, its short text, and `Allow: POST` for a 405.
pub fn answer(answered: &Answered) -> http::Response<&'static str> {
    answered.answer().to_response()
}

/// Handles one webhook request whose body the server has read (with a size
/// limit of its own: Yoco's events are a few kilobytes): the method, the
/// configured body limit, verification and the filter; then `handler` for a
/// delivery to process, at most once per `webhook-id` unless deduplication
/// is off. Returns the response to send, with a short text body: the same
/// statuses and texts as every other integration.
///
/// ```
/// use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret, YocoWebhookConfig, http_request};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let config = YocoWebhookConfig::new(Receiver::new(Verifier::new(secret), CheckoutFilter::any()));
/// let request = yoco_webhooks::http::Request::post("/webhooks/yoco").body(b"{}".to_vec())?;
/// let response = http_request::handle(&config, request, |_delivery| async { Ok::<(), std::io::Error>(()) }).await;
/// assert_eq!(response.status(), 401); // unsigned
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub async fn handle<B, F, Fut, T, E>(
    config: &YocoWebhookConfig,
    request: http::Request<B>,
    handler: F,
) -> http::Response<&'static str>
where
    B: Into<Bytes>,
    F: FnOnce(Delivery) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    match extract(config, request).await {
        Ok(webhook) => {
            let processed: Processed<T, E> = webhook.process(handler).await;
            processed.answer().to_response()
        }
        Err(answered) => answer(&answered),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::CheckoutFilter;
    use crate::receive::Receiver;
    use crate::secret::WebhookSecret;
    use crate::testing::{SampleEvent, Signer, TEST_SECRET};
    use crate::verify::Verifier;

    fn request(method: http::Method, id: &str, body: &[u8]) -> http::Request<Vec<u8>> {
        let headers = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_now(id, body);
        let mut request = http::Request::new(body.to_vec());
        *request.method_mut() = method;
        *request.headers_mut() = headers.to_header_map().unwrap();
        request
    }

    #[test]
    fn answers_every_case_like_the_other_integrations() {
        let receiver = Receiver::new(
            Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
            CheckoutFilter::checkout("ch_mine"),
        );
        let config = YocoWebhookConfig::new(receiver).body_limit(4096);
        let ours = SampleEvent::payment_succeeded().checkout_id("ch_mine").to_json();
        let theirs = SampleEvent::payment_succeeded().checkout_id("ch_theirs").to_json();
        let too_large = SampleEvent::payment_succeeded()
            .checkout_id("ch_mine")
            .metadata("notes", "x".repeat(4096))
            .to_json();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let answer = |request: http::Request<Vec<u8>>, fail: bool| {
            let response = runtime.block_on(handle(&config, request, |_| async move {
                if fail { Err("down") } else { Ok(()) }
            }));
            (response.status().as_u16(), *response.body())
        };
        let post = http::Method::POST;
        assert_eq!(
            answer(request(post.clone(), "m1", &ours), true),
            (500, "handler failed")
        );
        assert_eq!(answer(request(post.clone(), "m1", &ours), false), (200, "processed"));
        assert_eq!(answer(request(post.clone(), "m1", &ours), false), (200, "duplicate"));
        assert_eq!(
            answer(request(post.clone(), "m2", &theirs), false),
            (200, "ignored: foreign checkout")
        );
        assert_eq!(
            answer(request(post.clone(), "m3", b"[]"), false),
            (400, "not a Yoco event")
        );
        assert_eq!(
            answer(request(post.clone(), "m4", &too_large), false),
            (413, "body too large")
        );
        let mut forged = request(post, "m5", &ours);
        forged
            .headers_mut()
            .insert("webhook-signature", http::HeaderValue::from_static("v1,AAAA"));
        assert_eq!(answer(forged, false), (401, "webhook not authentic"));

        let refused = runtime.block_on(handle(&config, request(http::Method::GET, "m6", &ours), |_| async {
            Ok::<(), std::convert::Infallible>(())
        }));
        assert_eq!(refused.status(), 405);
        assert_eq!(refused.headers()[http::header::ALLOW], "POST");
    }
}

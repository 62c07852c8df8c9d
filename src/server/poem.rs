//! The Poem 3 integration: [`YocoWebhook`] is an extractor that verifies,
//! parses and filters the delivery, and processes it at most once. It is
//! configured through Poem's `Data`: add the [`YocoWebhookConfig`] to the
//! endpoint with `.data(config)`.
//!
//! ```
//! use poem::{EndpointExt, Route, handler};
//! use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret};
//! use yoco_webhooks::{Processed, YocoWebhook, YocoWebhookConfig};
//!
//! #[handler]
//! async fn yoco(webhook: YocoWebhook) -> Processed<(), std::io::Error> {
//!     webhook
//!         .process(|delivery| async move {
//!             println!("{} for {:?}", delivery.event.event_type(), delivery.event.checkout_id());
//!             Ok(()) // an Err answers 500, and Yoco retries
//!         })
//!         .await
//! }
//!
//! let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let config = YocoWebhookConfig::new(Receiver::new(Verifier::new(secret), CheckoutFilter::any()));
//! // Every method reaches the extractor, which answers 405 with `Allow: POST`
//! // to all but POST (Poem's `post(yoco)` would answer its own 405).
//! let app = Route::new().at("/webhooks/yoco", yoco.data(config));
//! # Ok::<(), yoco_webhooks::SecretError>(())
//! ```
//!
//! The handler names no store: [`YocoWebhookConfig::with_store`] picks it
//! (memory by default, Redis or PostgreSQL for several instances; see the
//! [stores guide](crate::guide::stores), which also shows
//! [`YocoWebhook::process_claimed`] completing the delivery inside your
//! own database transaction). `examples/poem_receiver.rs` in the repository
//! is a complete receiver to copy, with the same contract as the axum one.
//!
//! The answers: 200 processed, ignored (not your checkout or mode) or
//! duplicate; 401 not authentic; 400 not a Yoco event or an unreadable body;
//! 405 not a POST; 413 body over the limit (refused while reading, with or
//! without `content-length`); 409 in progress elsewhere; 500 your handler
//! failed; 503 the deduplication store could not answer. Without a
//! [`YocoWebhookConfig`] in the endpoint's data the extractor answers 500: a
//! configuration mistake, not the sender's. An `Err` from your handler
//! answers 500; with the `tracing` feature the crate logs it (its
//! `Display`, field `error`, at ERROR) as `handler failed: answered 500,
//! Yoco retries`.
//!
//! A request the handler does not see is answered by a `poem::Error` made
//! from the [`Answered`] (an ignored event's too, with status 200). To log
//! it, take `poem::Result<YocoWebhook>` in the handler: the error keeps the
//! answer, and a refusal its cause (`err.downcast_ref::<Answered>()`).
//!
//! # Body limit
//!
//! [`YocoWebhookConfig::body_limit`] (1 MiB by default) bounds what is
//! read: the body is read as sent and refused with 413 as soon as it passes
//! the limit.
//!
//! [`Answered`]: crate::Answered
//! [`YocoWebhook`]: crate::YocoWebhook
//! [`YocoWebhook::process_claimed`]: crate::YocoWebhook::process_claimed
//! [`YocoWebhookConfig`]: crate::YocoWebhookConfig
//! [`YocoWebhookConfig::with_store`]: crate::YocoWebhookConfig::with_store
//! [`YocoWebhookConfig::body_limit`]: crate::YocoWebhookConfig::body_limit

use ::poem::error::ResponseError;
use ::poem::http::StatusCode;
use ::poem::{FromRequest, IntoResponse, Request, RequestBody, Response};

use crate::dedup::process::Processed;
use crate::server::answer::Answer;
use crate::server::body::read_limited;
use crate::server::{Answered, YocoRejection, YocoWebhook, YocoWebhookConfig};

impl<'a> FromRequest<'a> for YocoWebhook {
    async fn from_request(request: &'a Request, body: &mut RequestBody) -> ::poem::Result<Self> {
        // What `Data<&YocoWebhookConfig>` extracts, with our answer when missing.
        let Some(config) = request.data::<YocoWebhookConfig>() else {
            return Err(Answered::from(YocoRejection::NotConfigured).into());
        };
        // Taken by another extractor before this one: Poem's 500.
        let body = http_body_util::combinators::BoxBody::from(body.take()?);
        let read = |limit| read_limited(body, limit);
        Ok(config
            .extract(request.method().as_str(), request.headers(), read)
            .await?)
    }
}

impl ResponseError for Answered {
    fn status(&self) -> StatusCode {
        self.answer().status()
    }

    fn as_response(&self) -> Response {
        respond(self.answer())
    }
}

impl<T: Send, E: Send> IntoResponse for Processed<T, E> {
    fn into_response(self) -> Response {
        respond(self.answer())
    }
}

/// The answer as Poem's response: the one conversion.
fn respond(answer: Answer) -> Response {
    let (parts, body) = answer.to_response::<::poem::Body>().into_parts();
    let mut response = Response::from(body);
    response.set_status(parts.status);
    *response.headers_mut() = parts.headers;
    response
}

//! The actix-web 4 integration: [`YocoWebhook`] is an extractor that
//! verifies, parses and filters the delivery, and processes it at most once.
//! It is configured through `app_data`, with a body limit and an error hook,
//! as `web::JsonConfig` is.
//!
//! ```
//! use actix_web::{App, web};
//! use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret};
//! use yoco_webhooks::{Processed, YocoWebhook, YocoWebhookConfig};
//!
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
//! // In `HttpServer::new(move || ...)`: each worker's App gets a clone; the store is shared.
//! let app = App::new()
//!     .app_data(config.clone())
//!     .service(web::resource("/webhooks/yoco").route(web::post().to(yoco))); // 405 for other methods
//! # Ok::<(), yoco_webhooks::SecretError>(())
//! ```
//!
//! The handler names no store: [`YocoWebhookConfig::with_store`] picks it
//! (memory by default, Redis or PostgreSQL for several instances; see the
//! [stores guide](crate::guide::stores)). To mark a delivery done inside
//! your own database transaction, call [`YocoWebhook::process_claimed`],
//! which hands your handler the claim's token, and register a clone of the
//! `PostgresStore` in `app_data` as well (`web::Data`) to call its
//! `complete_in`: the stores guide shows the handler.
//! `examples/actix_receiver.rs` in the repository is a complete receiver to
//! copy, with the same contract as the axum one.
//!
//! The answers: 200 processed, ignored (not your checkout or mode) or
//! duplicate; 401 not authentic; 400 not a Yoco event or an unreadable body;
//! 405 not a POST; 413 body over the limit (refused while reading, with or
//! without `content-length`); 409 in progress elsewhere; 500 your handler
//! failed; 503 the deduplication store could not answer. Without a
//! [`YocoWebhookConfig`] in `app_data` the extractor answers 500: a
//! configuration mistake, not the sender's. An `Err` from your handler
//! answers 500; with the `tracing` feature the crate logs it (its
//! `Display`, field `error`, at ERROR) as `handler failed: answered 500,
//! Yoco retries`.
//!
//! To log rejections or shape their responses, register a
//! [`YocoErrorHandler`] with `app_data` too (as `web::JsonConfig`'s error
//! handler), or take `Result<YocoWebhook, actix_web::Error>` in the
//! handler: without a hook the error is the [`Answered`], which keeps a
//! refusal's cause (`error.as_error::<Answered>()`).
//!
//! # Body limit
//!
//! [`YocoWebhookConfig::body_limit`] (1 MiB by default) bounds what is
//! read: the body is read raw, as sent (never decompressed), and refused
//! with 413 as soon as it passes the limit. actix-web's `web::PayloadConfig`
//! limits its own `Bytes` and `String` extractors, not this one.
//!
//! [`Answered`]: crate::Answered
//! [`YocoWebhook`]: crate::YocoWebhook
//! [`YocoWebhook::process_claimed`]: crate::YocoWebhook::process_claimed
//! [`YocoWebhookConfig`]: crate::YocoWebhookConfig
//! [`YocoWebhookConfig::with_store`]: crate::YocoWebhookConfig::with_store
//! [`YocoWebhookConfig::body_limit`]: crate::YocoWebhookConfig::body_limit

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ::actix_web::body::{BodyLimitExceeded, BodyStream, to_bytes_limited};
use ::actix_web::dev::Payload;
use ::actix_web::http::StatusCode;
use ::actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ::actix_web::web::Data;
use ::actix_web::{FromRequest, HttpRequest, HttpResponse, Responder, ResponseError};

use crate::dedup::process::Processed;
use crate::headers::{
    Headers, Lookup, SVIX_ID, SVIX_SIGNATURE, SVIX_TIMESTAMP, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
};
use crate::server::answer::{Answer, TEXT_PLAIN};
use crate::server::{Answered, YocoRejection, YocoWebhook, YocoWebhookConfig};

/// A hook that turns each request the pipeline answered itself (an
/// [`Answered`]: ignored, queued or refused) into the error actix-web
/// answers with,
/// to log it or to shape the response; register it with `App::app_data`
/// (plain or in `web::Data`) beside the [`YocoWebhookConfig`]. Without one
/// the rejection answers its own status and short text. Keep the status:
/// Yoco acts on it.
///
/// ```
/// use actix_web::{App, HttpResponse, error::InternalError};
/// use yoco_webhooks::actix_web::YocoErrorHandler;
///
/// let hook = YocoErrorHandler::new(|answered, _request| {
///     if answered.is_refusal() {
///         eprintln!("webhook refused: {answered}"); // which check failed, never a secret
///     }
///     let response = HttpResponse::build(answered.status().try_into().unwrap()).body(answered.body_text());
///     InternalError::from_response(answered, response).into()
/// });
/// let app = App::new().app_data(hook);
/// ```
#[derive(Clone)]
pub struct YocoErrorHandler(Arc<Hook>);

type Hook = dyn Fn(Answered, &HttpRequest) -> ::actix_web::Error + Send + Sync;

impl YocoErrorHandler {
    /// A hook calling `handler` with each request answered without the handler.
    pub fn new<F>(handler: F) -> Self
    where
        F: Fn(Answered, &HttpRequest) -> ::actix_web::Error + Send + Sync + 'static,
    {
        Self(Arc::new(handler))
    }
}

impl std::fmt::Debug for YocoErrorHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YocoErrorHandler").finish_non_exhaustive()
    }
}

/// `T` registered with `app_data`, as it is or in `web::Data`.
fn app_data<T: Clone + 'static>(request: &HttpRequest) -> Option<T> {
    request
        .app_data::<T>()
        .or_else(|| request.app_data::<Data<T>>().map(|data| data.get_ref()))
        .cloned()
}

impl FromRequest for YocoWebhook {
    type Error = ::actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        let payload = payload.take();
        Box::pin(async move {
            let Some(config) = app_data::<YocoWebhookConfig>(&request) else {
                // The merchant's mistake, not the sender's: no error hook.
                return Err(Answered::from(YocoRejection::NotConfigured).into());
            };
            let read = |limit| read_body(payload, limit);
            match config.extract(request.method().as_str(), request.headers(), read).await {
                Ok(webhook) => Ok(webhook),
                Err(answered) => Err(match app_data::<YocoErrorHandler>(&request) {
                    Some(YocoErrorHandler(handler)) => handler(answered, &request),
                    None => answered.into(),
                }),
            }
        })
    }
}

/// Reads the whole body as sent (never decompressed), refusing it as soon
/// as it passes `limit`.
async fn read_body(payload: Payload, limit: usize) -> Result<::actix_web::web::Bytes, YocoRejection> {
    match to_bytes_limited(BodyStream::new(payload), limit).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(err)) => Err(YocoRejection::BodyUnreadable(Box::new(err))),
        Err(BodyLimitExceeded { .. }) => Err(YocoRejection::BodyTooLarge),
    }
}

impl Headers for HeaderMap {
    fn lookup(&self, name: &str) -> Lookup<'_> {
        // actix-web's header types are those of `http` 0.2; pre-built names
        // skip parsing (and allocating) `name` on every request.
        const ID: HeaderName = HeaderName::from_static(WEBHOOK_ID);
        const TIMESTAMP: HeaderName = HeaderName::from_static(WEBHOOK_TIMESTAMP);
        const SIGNATURE: HeaderName = HeaderName::from_static(WEBHOOK_SIGNATURE);
        const SVIX_ID_NAME: HeaderName = HeaderName::from_static(SVIX_ID);
        const SVIX_TIMESTAMP_NAME: HeaderName = HeaderName::from_static(SVIX_TIMESTAMP);
        const SVIX_SIGNATURE_NAME: HeaderName = HeaderName::from_static(SVIX_SIGNATURE);
        let mut values = match name {
            WEBHOOK_ID => self.get_all(ID),
            WEBHOOK_TIMESTAMP => self.get_all(TIMESTAMP),
            WEBHOOK_SIGNATURE => self.get_all(SIGNATURE),
            SVIX_ID => self.get_all(SVIX_ID_NAME),
            SVIX_TIMESTAMP => self.get_all(SVIX_TIMESTAMP_NAME),
            SVIX_SIGNATURE => self.get_all(SVIX_SIGNATURE_NAME),
            other => self.get_all(other),
        };
        match (values.next(), values.next()) {
            (None, _) => Lookup::Missing,
            (Some(value), None) => Lookup::One(value.as_bytes()),
            (Some(_), Some(_)) => Lookup::Repeated,
        }
    }
}

impl ResponseError for Answered {
    fn status_code(&self) -> StatusCode {
        status(self.answer())
    }

    fn error_response(&self) -> HttpResponse {
        respond(self.answer())
    }
}

impl<T, E> Responder for Processed<T, E> {
    type Body = ::actix_web::body::BoxBody;

    fn respond_to(self, _request: &HttpRequest) -> HttpResponse {
        respond(self.answer())
    }
}

/// The answer's status as actix-web's (`http` 0.2) type: the one conversion.
fn status(answer: Answer) -> StatusCode {
    StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn respond(answer: Answer) -> HttpResponse {
    let mut response = HttpResponse::build(status(answer));
    response.insert_header((header::CONTENT_TYPE, TEXT_PLAIN));
    for (name, value) in answer.headers() {
        response.insert_header((*name, HeaderValue::from_static(value)));
    }
    response.body(answer.text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_map_reports_one_missing_and_repeated() {
        let mut map = HeaderMap::new();
        map.insert(HeaderName::from_static("webhook-id"), HeaderValue::from_static("msg_1"));
        map.append(
            HeaderName::from_static("webhook-signature"),
            HeaderValue::from_static("v1,a"),
        );
        map.append(
            HeaderName::from_static("webhook-signature"),
            HeaderValue::from_static("v1,b"),
        );
        map.insert(HeaderName::from_static("x-other"), HeaderValue::from_static("o"));
        assert_eq!(map.lookup(WEBHOOK_ID), Lookup::One(b"msg_1"));
        assert_eq!(map.lookup(WEBHOOK_TIMESTAMP), Lookup::Missing);
        assert_eq!(map.lookup(WEBHOOK_SIGNATURE), Lookup::Repeated);
        assert_eq!(map.lookup("x-other"), Lookup::One(b"o"));
    }

    #[test]
    fn rejections_answer_their_status_text_and_headers() {
        let rejection = Answered::from(YocoRejection::BodyTooLarge);
        assert_eq!(ResponseError::status_code(&rejection), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(rejection.to_string(), "body over the limit");
        let refused = Answered::from(YocoRejection::MethodNotAllowed).error_response();
        assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(refused.headers().get(header::ALLOW).unwrap(), "POST");
        assert_eq!(refused.headers().get(header::CONTENT_TYPE).unwrap(), TEXT_PLAIN);
    }
}

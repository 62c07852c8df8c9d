//! The actix-web 4 adapter: an extractor that verifies, parses and filters
//! the delivery, and processes it at most once. It is configured through
//! `app_data`, with a body limit and an error hook, as `web::JsonConfig` is.
//!
//! ```
//! use actix_web::{App, web};
//! use yoco_webhooks::actix_web::{YocoWebhook, YocoWebhookConfig};
//! use yoco_webhooks::dedup::Processed;
//! use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret};
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
//! // Clone the config into each worker's App: the store is shared.
//! let app = App::new()
//!     .app_data(config.clone())
//!     .service(web::resource("/webhooks/yoco").route(web::post().to(yoco))); // 405 for other methods
//! # Ok::<(), yoco_webhooks::SecretError>(())
//! ```
//!
//! The answers: 200 processed, ignored (not your checkout or mode) or
//! duplicate; 401 not authentic; 400 not a Yoco event or an unreadable body;
//! 413 body over the limit (refused while reading, with or without
//! `content-length`); 409 in progress elsewhere; 500 your handler failed;
//! 503 the deduplication store could not answer. Without a
//! [`YocoWebhookConfig`] in `app_data` the extractor answers 500: a
//! configuration mistake, not the sender's.

use std::future::Future;
use std::pin::Pin;

use ::actix_web::body::{BodyLimitExceeded, BodyStream, to_bytes_limited};
use ::actix_web::dev::Payload;
use ::actix_web::http::StatusCode;
use ::actix_web::http::header::{self, HeaderMap, HeaderName};
use ::actix_web::web::{Bytes, Data};
use ::actix_web::{FromRequest, HttpRequest, HttpResponse, Responder, ResponseError};

use crate::body_limit;
use crate::dedup::{IdempotencyStore, Processed};
pub use crate::extract::{DEFAULT_BODY_LIMIT, YocoRejection, YocoWebhook, YocoWebhookConfig};
use crate::headers::{Headers, Lookup, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};

/// The error hook's type: see [`YocoWebhookConfig::error_handler`].
pub(crate) type ErrorHandler = dyn Fn(YocoRejection, &HttpRequest) -> ::actix_web::Error + Send + Sync;

impl<S> YocoWebhookConfig<S> {
    /// Turns each rejection into the error actix-web answers with, to log
    /// it or to shape the response (actix-web only). Without a hook the
    /// rejection answers its own status and short text. Keep the status:
    /// Yoco acts on it.
    #[must_use]
    pub fn error_handler<F>(mut self, handler: F) -> Self
    where
        F: Fn(YocoRejection, &HttpRequest) -> ::actix_web::Error + Send + Sync + 'static,
    {
        self.error_handler = Some(std::sync::Arc::new(handler));
        self
    }

    /// The configuration registered with `app_data`, directly or in `Data`.
    fn of(request: &HttpRequest) -> Option<&Self>
    where
        S: 'static,
    {
        request
            .app_data::<Self>()
            .or_else(|| request.app_data::<Data<Self>>().map(|data| data.get_ref()))
    }
}

impl<S: IdempotencyStore + 'static> FromRequest for YocoWebhook<S> {
    type Error = ::actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        let payload = payload.take();
        Box::pin(async move {
            let Some(config) = YocoWebhookConfig::<S>::of(&request).cloned() else {
                return Err(::actix_web::error::ErrorInternalServerError(
                    "yoco-webhooks: no YocoWebhookConfig in app_data for this store type",
                ));
            };
            match extract(&request, payload, &config).await {
                Ok(webhook) => Ok(webhook),
                Err(rejection) => Err(match &config.error_handler {
                    Some(handler) => handler(rejection, &request),
                    None => rejection.into(),
                }),
            }
        })
    }
}

async fn extract<S>(
    request: &HttpRequest,
    payload: Payload,
    config: &YocoWebhookConfig<S>,
) -> Result<YocoWebhook<S>, YocoRejection> {
    let headers = request.headers();
    let content_length = headers.get(header::CONTENT_LENGTH).map(|value| value.as_bytes());
    body_limit::check_declared_length(content_length, config.body_limit).map_err(YocoRejection)?;
    let body = read_body(payload, config.body_limit).await?;
    config.extract(headers, body)
}

/// Reads the whole body as sent (never decompressed), refusing it with 413
/// as soon as it passes `limit`.
async fn read_body(payload: Payload, limit: usize) -> Result<Bytes, YocoRejection> {
    match to_bytes_limited(BodyStream::new(payload), limit).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(_)) => Err(YocoRejection(body_limit::UNREADABLE)),
        Err(BodyLimitExceeded { .. }) => Err(YocoRejection(body_limit::TOO_LARGE)),
    }
}

impl Headers for HeaderMap {
    fn lookup(&self, name: &str) -> Lookup<'_> {
        // actix-web's header types are those of `http` 0.2; pre-built names
        // skip parsing (and allocating) `name` on every request.
        const ID: HeaderName = HeaderName::from_static(WEBHOOK_ID);
        const TIMESTAMP: HeaderName = HeaderName::from_static(WEBHOOK_TIMESTAMP);
        const SIGNATURE: HeaderName = HeaderName::from_static(WEBHOOK_SIGNATURE);
        let mut values = match name {
            WEBHOOK_ID => self.get_all(ID),
            WEBHOOK_TIMESTAMP => self.get_all(TIMESTAMP),
            WEBHOOK_SIGNATURE => self.get_all(SIGNATURE),
            other => self.get_all(other),
        };
        match (values.next(), values.next()) {
            (None, _) => Lookup::Missing,
            (Some(value), None) => Lookup::One(value.as_bytes()),
            (Some(_), Some(_)) => Lookup::Repeated,
        }
    }
}

impl ResponseError for YocoRejection {
    fn status_code(&self) -> StatusCode {
        status(self.0.status())
    }

    fn error_response(&self) -> HttpResponse {
        respond(self.0.status(), self.0.text())
    }
}

impl<T, E> Responder for Processed<T, E> {
    type Body = ::actix_web::body::BoxBody;

    fn respond_to(self, _request: &HttpRequest) -> HttpResponse {
        respond(self.status(), self.text())
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn respond(code: u16, text: &'static str) -> HttpResponse {
    HttpResponse::build(status(code))
        .content_type("text/plain; charset=utf-8")
        .body(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receive::Answer;
    use ::actix_web::http::header::HeaderValue;

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
    fn rejections_answer_their_status_and_text() {
        let rejection = YocoRejection(Answer::new(413, "body too large"));
        assert_eq!(rejection.status_code(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(rejection.to_string(), "body too large");
        let ignored = YocoRejection(Answer::new(200, "ignored: foreign checkout"));
        assert_eq!(ignored.error_response().status(), StatusCode::OK);
    }
}

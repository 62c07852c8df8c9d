//! The axum 0.8 adapter: an extractor that verifies, parses and filters the
//! delivery, and processes it at most once.
//!
//! ```
//! use axum::{Router, routing::post};
//! use yoco_webhooks::axum::{YocoWebhook, YocoWebhookConfig};
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
//! let app: Router = Router::new().route("/webhooks/yoco", post(yoco)).with_state(config);
//! # Ok::<(), yoco_webhooks::SecretError>(())
//! ```
//!
//! The answers: 200 processed, ignored (not your checkout or mode) or
//! duplicate; 401 not authentic; 400 not a Yoco event or an unreadable body;
//! 413 body over the limit (refused while reading, with or without
//! `content-length`); 409 in progress elsewhere; 500 your handler failed;
//! 503 the deduplication store could not answer.

use ::axum::extract::{FromRef, FromRequest, Request};
use ::axum::http::StatusCode;
use ::axum::response::{IntoResponse, Response};

use crate::body_limit::read_limited;
use crate::dedup::{IdempotencyStore, Processed};
pub use crate::extract::{DEFAULT_BODY_LIMIT, YocoRejection, YocoWebhook, YocoWebhookConfig};

impl<St, S> FromRequest<St> for YocoWebhook<S>
where
    YocoWebhookConfig<S>: FromRef<St>,
    St: Send + Sync,
    S: IdempotencyStore + 'static,
{
    type Rejection = YocoRejection;

    async fn from_request(request: Request, state: &St) -> Result<Self, Self::Rejection> {
        let config = YocoWebhookConfig::<S>::from_ref(state);
        let (parts, body) = request.into_parts();
        let body = read_limited(&parts.headers, body, config.body_limit)
            .await
            .map_err(YocoRejection)?;
        config.extract(&parts.headers, body)
    }
}

impl IntoResponse for YocoRejection {
    fn into_response(self) -> Response {
        respond(self.0.status(), self.0.text())
    }
}

impl<T, E> IntoResponse for Processed<T, E> {
    fn into_response(self) -> Response {
        respond(self.status(), self.text())
    }
}

fn respond(status: u16, text: &'static str) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        text,
    )
        .into_response()
}

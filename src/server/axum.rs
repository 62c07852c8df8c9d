//! The axum 0.8 adapter: an extractor that verifies, parses and filters the
//! delivery, and processes it at most once.
//!
//! ```
//! use axum::{Router, routing::post};
//! use yoco_webhooks::{YocoWebhook, YocoWebhookConfig};
//! use yoco_webhooks::Processed;
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
//! The handler names no store: [`YocoWebhookConfig::with_store`] picks it
//! (memory by default, Redis or PostgreSQL for several instances).
//!
//! The extractor consumes the request body, so it goes last among the
//! handler's arguments (after `State`, `HeaderMap`, ...), as axum requires
//! of every body extractor. Take `Result<YocoWebhook, Answered>` to
//! log why a request was refused before answering with the rejection.
//!
//! The answers: 200 processed, ignored (not your checkout or mode) or
//! duplicate; 401 not authentic; 400 not a Yoco event or an unreadable body;
//! 405 not a POST; 413 body over the limit (refused while reading, with or
//! without `content-length`); 409 in progress elsewhere; 500 your handler
//! failed; 503 the deduplication store could not answer.
//!
//! # Body limit
//!
//! The smaller of [`YocoWebhookConfig::body_limit`] (1 MiB by default) and
//! the route's own `DefaultBodyLimit` (axum's 2 MB when none is set; not
//! applied after `DefaultBodyLimit::disable()`) bounds what is read.

use ::axum::RequestExt as _;
use ::axum::extract::{FromRef, FromRequest, Request};
use ::axum::response::{IntoResponse, Response};

use crate::dedup::Processed;
use crate::server::body::read_limited;
use crate::server::{Answered, YocoWebhook, YocoWebhookConfig};

impl<St> FromRequest<St> for YocoWebhook
where
    YocoWebhookConfig: FromRef<St>,
    St: Send + Sync,
{
    type Rejection = Answered;

    async fn from_request(request: Request, state: &St) -> Result<Self, Self::Rejection> {
        let config = YocoWebhookConfig::from_ref(state);
        // The route's `DefaultBodyLimit`, if any, applies to the body too.
        let (parts, body) = request.with_limited_body().into_parts();
        let read = |limit| read_limited(body, limit);
        config.extract(parts.method.as_str(), &parts.headers, read).await
    }
}

impl IntoResponse for Answered {
    fn into_response(self) -> Response {
        self.answer().to_response()
    }
}

impl<T, E> IntoResponse for Processed<T, E> {
    fn into_response(self) -> Response {
        self.answer().to_response()
    }
}

//! The axum 0.8 integration: [`YocoWebhook`] is an extractor that
//! verifies, parses and filters the delivery, and processes it at most once.
//!
//! ```
//! use axum::{Router, routing::post};
//! use yoco_webhooks::{CheckoutFilter, EventData, Receiver, Verifier, WebhookSecret};
//! use yoco_webhooks::{Processed, YocoWebhook, YocoWebhookConfig};
//!
//! async fn yoco(webhook: YocoWebhook) -> Processed<(), std::io::Error> {
//!     webhook
//!         .process(|delivery| async move {
//!             if let EventData::PaymentSucceeded(payment) = &delivery.event.data {
//!                 println!("paid {} {} for {:?}", payment.amount, payment.currency, delivery.event.checkout_id());
//!             }
//!             Ok(()) // an Err answers 500 and Yoco retries; a retry of a processed delivery answers 200
//!         })
//!         .await
//! }
//!
//! let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let config = YocoWebhookConfig::new(Receiver::new(Verifier::new(secret), CheckoutFilter::any()));
//! // The configuration as the router's state, or taken from your own state through `FromRef`.
//! let app: Router = Router::new().route("/webhooks/yoco", post(yoco)).with_state(config);
//! # Ok::<(), yoco_webhooks::SecretError>(())
//! ```
//!
//! The handler names no store: [`YocoWebhookConfig::with_store`] picks it
//! (memory by default, Redis or PostgreSQL for several instances; see the
//! [stores guide](crate::guide::stores), which also shows
//! [`YocoWebhook::process_claimed`] completing the delivery inside your
//! own database transaction). `examples/axum_receiver.rs` in the
//! repository is a complete receiver to copy: the secret and the checkouts
//! from the environment, a store chosen by `YOCO_REDIS_URL`,
//! `YOCO_REDIS_CLUSTER` or `YOCO_DATABASE_URL`, `GET /metrics`, and a JSON line per processed
//! event.
//!
//! The answers: 200 processed, ignored (not your checkout or mode) or
//! duplicate; 401 not authentic; 400 not a Yoco event or an unreadable body;
//! 405 not a POST; 413 body over the limit (refused while reading, with or
//! without `content-length`); 409 in progress elsewhere; 500 your handler
//! failed; 503 the deduplication store could not answer. An `Err` from your
//! handler answers 500; with the `tracing` feature the crate logs it (its
//! `Display`, field `error`, at ERROR) as `handler failed: answered 500,
//! Yoco retries`.
//!
//! # Why a request was refused
//!
//! The extractor consumes the request body, so it goes last among the
//! handler's arguments (after `State`, `HeaderMap`, ...), as axum requires
//! of every body extractor. Its rejection is an [`Answered`]: what the
//! pipeline answered without your handler (an ignored event, a queued
//! delivery, or a refusal that keeps its cause). Take
//! `Result<YocoWebhook, Answered>` to log which check failed, while Yoco
//! gets only the status and a short text:
//!
//! ```
//! use axum::response::{IntoResponse, Response};
//! use yoco_webhooks::{Answered, YocoWebhook};
//!
//! async fn yoco(webhook: Result<YocoWebhook, Answered>) -> Response {
//!     match webhook {
//!         Ok(webhook) => webhook
//!             .process(|_delivery| async { Ok::<(), std::io::Error>(()) })
//!             .await
//!             .into_response(),
//!         Err(answered) => {
//!             if let Answered::Refused(why) = &answered {
//!                 eprintln!("refused: {why}"); // e.g. "webhook not authentic: ..."
//!             }
//!             answered.into_response() // ignored or queued: 200; refused: its status
//!         }
//!     }
//! }
//! ```
//!
//! # Body limit
//!
//! The smaller of [`YocoWebhookConfig::body_limit`] (1 MiB by default) and
//! the route's own `DefaultBodyLimit` (axum's 2 MB when none is set; not
//! applied after `DefaultBodyLimit::disable()`) bounds what is read.
//!
//! [`Answered`]: crate::Answered
//! [`YocoWebhook`]: crate::YocoWebhook
//! [`YocoWebhook::process_claimed`]: crate::YocoWebhook::process_claimed
//! [`YocoWebhookConfig::with_store`]: crate::YocoWebhookConfig::with_store
//! [`YocoWebhookConfig::body_limit`]: crate::YocoWebhookConfig::body_limit

use ::axum::RequestExt as _;
use ::axum::extract::{FromRef, FromRequest, Request};
use ::axum::response::{IntoResponse, Response};

use crate::dedup::process::Processed;
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

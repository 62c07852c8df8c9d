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

use std::future::Future;
use std::sync::Arc;

use ::axum::body::{Body, Bytes};
use ::axum::extract::{FromRef, FromRequest, Request};
use ::axum::http::{StatusCode, header};
use ::axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};

use crate::dedup::{
    ClaimToken, Deduplicator, IdempotencyStore, MemoryStore, Processed, process_delivery, process_delivery_claimed,
};
use crate::receive::{Answer, Delivery, Receiver};

/// The largest body read by default: Yoco's events are a few kilobytes.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// How [`YocoWebhook`] receives: the receiver, the body limit and the
/// deduplication store. Put it in your state (or make it `FromRef` of your
/// state).
#[derive(Debug)]
pub struct YocoWebhookConfig<S = MemoryStore> {
    receiver: Arc<Receiver>,
    dedup: Option<Arc<Deduplicator<S>>>,
    body_limit: usize,
}

impl<S> Clone for YocoWebhookConfig<S> {
    fn clone(&self) -> Self {
        Self {
            receiver: Arc::clone(&self.receiver),
            dedup: self.dedup.clone(),
            body_limit: self.body_limit,
        }
    }
}

impl YocoWebhookConfig<MemoryStore> {
    /// Receives with `receiver`, deduplicating in this process's memory,
    /// with a body limit of [`DEFAULT_BODY_LIMIT`].
    pub fn new(receiver: Receiver) -> Self {
        Self {
            receiver: Arc::new(receiver),
            dedup: Some(Arc::new(Deduplicator::new(MemoryStore::default()))),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

impl<S> YocoWebhookConfig<S> {
    /// Deduplicates with another store (a shared one, for several instances).
    pub fn with_dedup<T>(self, dedup: Deduplicator<T>) -> YocoWebhookConfig<T> {
        YocoWebhookConfig {
            receiver: self.receiver,
            dedup: Some(Arc::new(dedup)),
            body_limit: self.body_limit,
        }
    }

    /// Turns deduplication off: every authentic delivery runs the handler,
    /// retries included.
    #[must_use]
    pub fn without_dedup(mut self) -> Self {
        self.dedup = None;
        self
    }

    /// The largest body accepted; a larger one is refused with 413 while
    /// it is read.
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
}

/// An authentic delivery for one of your checkouts, extracted from the
/// request. Anything else was answered before your handler ran.
#[derive(Debug)]
pub struct YocoWebhook<S = MemoryStore> {
    delivery: Delivery,
    body: Bytes,
    dedup: Option<Arc<Deduplicator<S>>>,
}

impl<S: IdempotencyStore> YocoWebhook<S> {
    /// The delivery: its `webhook-id`, timestamp and typed event.
    pub fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    /// The raw body, as signed, to store or forward.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Runs `handler` unless this delivery was processed already or is being
    /// processed elsewhere, and gives the answer for Yoco.
    pub async fn process<F, Fut, T, E>(self, handler: F) -> Processed<T, E>
    where
        F: FnOnce(Delivery) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        process_delivery(self.dedup.as_deref(), self.delivery, handler).await
    }

    /// [`process`](Self::process), handing `handler` the claim's token too,
    /// so that it can mark the delivery done inside its own database
    /// transaction (see [`Deduplicator::process_claimed`]). The token is
    /// `None` when deduplication is off
    /// ([`YocoWebhookConfig::without_dedup`]): there is no claim then, and
    /// every delivery, retries included, runs the handler.
    pub async fn process_claimed<F, Fut, T, E>(self, handler: F) -> Processed<T, E>
    where
        F: FnOnce(Delivery, Option<ClaimToken>) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        process_delivery_claimed(self.dedup.as_deref(), self.delivery, handler).await
    }
}

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
        let body = read_body(&parts.headers, body, config.body_limit).await?;
        let delivery =
            Answer::unless_processing(config.receiver.receive(&parts.headers, &body)).map_err(YocoRejection)?;
        Ok(Self {
            delivery,
            body,
            dedup: config.dedup,
        })
    }
}

/// Reads the whole body, refusing it with 413 as soon as it passes `limit`:
/// from `content-length` before reading, or while reading a body without one.
async fn read_body(headers: &::axum::http::HeaderMap, body: Body, limit: usize) -> Result<Bytes, YocoRejection> {
    let too_large = YocoRejection(Answer::new(413, "body too large"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large);
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(too_large),
        Err(_) => Err(YocoRejection(Answer::new(400, "body could not be read"))),
    }
}

/// The answer given instead of running the handler: a status and a short
/// text that reveals nothing about secrets or signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YocoRejection(pub Answer);

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

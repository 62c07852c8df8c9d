//! What the framework adapters share: their configuration, the extracted
//! delivery, the rejection, and the body limit. The `axum`, `actix_web` and
//! `tower` modules re-export these types and implement their framework's
//! traits.

use std::sync::Arc;

use crate::dedup::{Deduplicator, MemoryStore};
use crate::receive::Receiver;
#[cfg(any(feature = "axum", feature = "actix-web"))]
use {
    crate::dedup::{ClaimToken, IdempotencyStore, Processed, process_delivery, process_delivery_claimed},
    crate::headers::Headers,
    crate::receive::{Answer, Delivery},
    bytes::Bytes,
    std::future::Future,
};

pub use crate::body_limit::DEFAULT_BODY_LIMIT;

/// How [`YocoWebhook`] receives: the receiver, the body limit and the
/// deduplication store. On axum put it in your state (or make it `FromRef`
/// of your state); on actix-web register it with `App::app_data`; on a
/// tower stack give it to `YocoWebhookLayer::new`. Clones share the
/// receiver and the store.
pub struct YocoWebhookConfig<S = MemoryStore> {
    pub(crate) receiver: Arc<Receiver>,
    pub(crate) dedup: Option<Arc<Deduplicator<S>>>,
    pub(crate) body_limit: usize,
    #[cfg(feature = "actix-web")]
    pub(crate) error_handler: Option<Arc<crate::actix_web::ErrorHandler>>,
}

impl<S> Clone for YocoWebhookConfig<S> {
    fn clone(&self) -> Self {
        Self {
            receiver: Arc::clone(&self.receiver),
            dedup: self.dedup.clone(),
            body_limit: self.body_limit,
            #[cfg(feature = "actix-web")]
            error_handler: self.error_handler.clone(),
        }
    }
}

impl<S> std::fmt::Debug for YocoWebhookConfig<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YocoWebhookConfig")
            .field("receiver", &self.receiver)
            .field("dedup", &self.dedup.is_some())
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
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
            #[cfg(feature = "actix-web")]
            error_handler: None,
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
            #[cfg(feature = "actix-web")]
            error_handler: self.error_handler,
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

    #[cfg(any(feature = "axum", feature = "actix-web"))]
    /// Receives the request read in full: the delivery to hand to the
    /// handler, or the answer to give instead.
    pub(crate) fn extract<H: Headers + ?Sized>(
        &self,
        headers: &H,
        body: Bytes,
    ) -> Result<YocoWebhook<S>, YocoRejection> {
        let delivery = Answer::unless_processing(self.receiver.receive(headers, &body)).map_err(YocoRejection)?;
        Ok(YocoWebhook {
            delivery,
            body,
            dedup: self.dedup.clone(),
        })
    }
}

#[cfg(any(feature = "axum", feature = "actix-web"))]
/// An authentic delivery for one of your checkouts, extracted from the
/// request. Anything else was answered before your handler ran.
#[derive(Debug)]
pub struct YocoWebhook<S = MemoryStore> {
    delivery: Delivery,
    body: Bytes,
    dedup: Option<Arc<Deduplicator<S>>>,
}

#[cfg(any(feature = "axum", feature = "actix-web"))]
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

#[cfg(any(feature = "axum", feature = "actix-web"))]
/// The answer given instead of running the handler: a status and a short
/// text that reveals nothing about secrets or signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YocoRejection(pub Answer);

#[cfg(any(feature = "axum", feature = "actix-web"))]
impl std::fmt::Display for YocoRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.text())
    }
}

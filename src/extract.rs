//! What the framework extractors share: their configuration, the extracted
//! delivery, the rejection, and the body limit. The `axum` and `actix_web`
//! modules re-export these types and implement their framework's traits.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

use crate::dedup::{Deduplicator, IdempotencyStore, MemoryStore, Processed, process_delivery};
use crate::headers::Headers;
use crate::receive::{Answer, Delivery, Receiver};

/// The largest body read by default: Yoco's events are a few kilobytes.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// How [`YocoWebhook`] receives: the receiver, the body limit and the
/// deduplication store. On axum put it in your state (or make it `FromRef`
/// of your state); on actix-web register it with `App::app_data`. Clones
/// share the receiver and the store.
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

    /// Refuses a body whose declared `content-length` is over the limit,
    /// before reading any of it.
    pub(crate) fn check_declared_length(&self, content_length: Option<&[u8]>) -> Result<(), YocoRejection> {
        let declared = content_length
            .and_then(|value| std::str::from_utf8(value).ok())
            .and_then(|value| value.parse::<u64>().ok());
        match declared {
            Some(length) if length > self.body_limit as u64 => Err(YocoRejection::TOO_LARGE),
            _ => Ok(()),
        }
    }

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
}

/// The answer given instead of running the handler: a status and a short
/// text that reveals nothing about secrets or signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YocoRejection(pub Answer);

impl YocoRejection {
    /// The body is over the limit.
    pub(crate) const TOO_LARGE: Self = Self(Answer::new(413, "body too large"));
    /// The body could not be read to its end.
    pub(crate) const UNREADABLE: Self = Self(Answer::new(400, "body could not be read"));
}

impl std::fmt::Display for YocoRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::CheckoutFilter;
    use crate::secret::WebhookSecret;
    use crate::testing::TEST_SECRET;
    use crate::verify::Verifier;

    #[test]
    fn a_declared_length_over_the_limit_is_refused_before_reading() {
        let receiver = Receiver::new(
            Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
            CheckoutFilter::any(),
        );
        let config = YocoWebhookConfig::new(receiver).body_limit(10);
        assert_eq!(config.check_declared_length(Some(b"10")), Ok(()));
        assert_eq!(config.check_declared_length(Some(b"11")), Err(YocoRejection::TOO_LARGE));
        assert_eq!(
            config.check_declared_length(Some(b"99999999999999999999999")),
            Ok(()),
            "unparseable: left to the streaming limit"
        );
        assert_eq!(config.check_declared_length(None), Ok(()));
    }
}

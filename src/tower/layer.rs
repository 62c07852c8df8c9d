//! The layer: how requests are received, given once and shared by every
//! service it wraps.

use std::sync::Arc;

use tower_layer::Layer;

use super::service::YocoWebhookService;
use crate::body_limit::DEFAULT_BODY_LIMIT;
use crate::dedup::{Deduplicator, MemoryStore};
use crate::receive::Receiver;

/// Wraps a service so that it only sees authentic deliveries for the
/// merchant, each at most once, with the [`Delivery`](crate::Delivery) in
/// the request extensions. See [the module docs](super).
#[derive(Debug)]
pub struct YocoWebhookLayer<S = MemoryStore> {
    pub(super) receiver: Arc<Receiver>,
    pub(super) dedup: Option<Arc<Deduplicator<S>>>,
    pub(super) body_limit: usize,
}

impl<S> Clone for YocoWebhookLayer<S> {
    fn clone(&self) -> Self {
        Self {
            receiver: Arc::clone(&self.receiver),
            dedup: self.dedup.clone(),
            body_limit: self.body_limit,
        }
    }
}

impl YocoWebhookLayer<MemoryStore> {
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

impl<S> YocoWebhookLayer<S> {
    /// Deduplicates with another store (a shared one, for several instances).
    pub fn with_dedup<T>(self, dedup: Deduplicator<T>) -> YocoWebhookLayer<T> {
        YocoWebhookLayer {
            receiver: self.receiver,
            dedup: Some(Arc::new(dedup)),
            body_limit: self.body_limit,
        }
    }

    /// Turns deduplication off: every authentic delivery reaches the inner
    /// service, retries included.
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

impl<Inner, S> Layer<Inner> for YocoWebhookLayer<S> {
    type Service = YocoWebhookService<Inner, S>;

    fn layer(&self, inner: Inner) -> Self::Service {
        YocoWebhookService::new(inner, self.clone())
    }
}

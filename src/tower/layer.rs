//! The layer: how requests are received, given once and shared by every
//! service it wraps.

use tower_layer::Layer;

use super::service::YocoWebhookService;
use crate::dedup::MemoryStore;
use crate::extract::YocoWebhookConfig;

/// Wraps a service so that it only sees authentic deliveries for the
/// merchant, each at most once, with the [`Delivery`](crate::Delivery) in
/// the request extensions. See [the module docs](super).
#[derive(Debug)]
pub struct YocoWebhookLayer<S = MemoryStore> {
    pub(super) config: YocoWebhookConfig<S>,
}

impl<S> Clone for YocoWebhookLayer<S> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
        }
    }
}

impl<S> YocoWebhookLayer<S> {
    /// Receives as `config` says: the receiver, the body limit and the
    /// deduplication store, configured as for the extractors.
    pub fn new(config: YocoWebhookConfig<S>) -> Self {
        Self { config }
    }
}

impl<S> From<YocoWebhookConfig<S>> for YocoWebhookLayer<S> {
    fn from(config: YocoWebhookConfig<S>) -> Self {
        Self::new(config)
    }
}

impl<Inner, S> Layer<Inner> for YocoWebhookLayer<S> {
    type Service = YocoWebhookService<Inner, S>;

    fn layer(&self, inner: Inner) -> Self::Service {
        YocoWebhookService::new(inner, self.clone())
    }
}

//! The layer: how requests are received, given once and shared by every
//! service it wraps.

use tower_layer::Layer;

use super::service::YocoWebhookService;
use crate::server::YocoWebhookConfig;

/// Wraps a service so that it only sees authentic deliveries for the
/// merchant, each at most once, with the [`Delivery`](crate::Delivery) in
/// the request extensions. See [the module docs](super).
#[derive(Debug, Clone)]
pub struct YocoWebhookLayer {
    config: YocoWebhookConfig,
}

impl YocoWebhookLayer {
    /// Receives as `config` says: the receiver, the body limit and the
    /// deduplication store, configured as for the extractors.
    pub fn new(config: YocoWebhookConfig) -> Self {
        Self { config }
    }
}

impl From<YocoWebhookConfig> for YocoWebhookLayer {
    fn from(config: YocoWebhookConfig) -> Self {
        Self::new(config)
    }
}

impl<Inner> Layer<Inner> for YocoWebhookLayer {
    type Service = YocoWebhookService<Inner>;

    fn layer(&self, inner: Inner) -> Self::Service {
        YocoWebhookService::new(inner, self.config.clone())
    }
}

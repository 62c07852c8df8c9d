//! Any delivery queue behind one type, as `store` holds any store.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::store::type_name;
use crate::dedup::StoreError;
use crate::queue::DeliveryQueue;
use crate::stored::StoredDelivery;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`DeliveryQueue`] with a boxed future, so that it can be a trait object.
trait DynQueue: Send + Sync {
    fn enqueue<'a>(&'a self, delivery: &'a StoredDelivery) -> BoxFuture<'a, Result<(), StoreError>>;
}

impl<Q: DeliveryQueue> DynQueue for Q {
    fn enqueue<'a>(&'a self, delivery: &'a StoredDelivery) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(DeliveryQueue::enqueue(self, delivery))
    }
}

/// Any queue, shared, with the name of its type for metrics.
#[derive(Clone)]
pub(crate) struct AnyQueue {
    queue: Arc<dyn DynQueue>,
    kind: &'static str,
}

impl AnyQueue {
    pub(crate) fn new<Q: DeliveryQueue + 'static>(queue: Q) -> Self {
        Self {
            queue: Arc::new(queue),
            kind: type_name::<Q>(),
        }
    }

    /// The queue's type (`Inbox`, ...): a bounded label.
    pub(crate) fn kind(&self) -> &'static str {
        self.kind
    }

    pub(crate) async fn enqueue(&self, delivery: &StoredDelivery) -> Result<(), StoreError> {
        self.queue.enqueue(delivery).await
    }
}

//! Any store and any delivery queue behind one type each, so that the
//! configuration, the extracted webhook and the tower layer never name them
//! (as rustls' server configuration holds its session store): the trait as
//! an object with boxed futures, shared, with its type's name for metrics.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::dedup::{Claim, ClaimToken, Deduplicator, IdempotencyStore, StoreError};
use crate::handoff::{DeliveryQueue, Enqueued, StoredDelivery};
use crate::ids::WebhookId;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`IdempotencyStore`] with boxed futures, so that it can be a trait
/// object; every store is one.
trait DynStore: Send + Sync {
    fn claim<'a>(&'a self, webhook_id: &'a WebhookId, lease: Duration) -> BoxFuture<'a, Result<Claim, StoreError>>;
    fn complete<'a>(&'a self, token: &'a ClaimToken, retention: Duration) -> BoxFuture<'a, Result<(), StoreError>>;
    fn release<'a>(&'a self, token: &'a ClaimToken) -> BoxFuture<'a, Result<(), StoreError>>;
}

impl<S: IdempotencyStore> DynStore for S {
    fn claim<'a>(&'a self, webhook_id: &'a WebhookId, lease: Duration) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(IdempotencyStore::claim(self, webhook_id, lease))
    }

    fn complete<'a>(&'a self, token: &'a ClaimToken, retention: Duration) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(IdempotencyStore::complete(self, token, retention))
    }

    fn release<'a>(&'a self, token: &'a ClaimToken) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(IdempotencyStore::release(self, token))
    }
}

/// Any store, shared, with the name of its type for metrics.
#[derive(Clone)]
pub(crate) struct AnyStore {
    store: Arc<dyn DynStore>,
    kind: &'static str,
}

impl AnyStore {
    /// The store's type (`MemoryStore`, `RedisStore`, ...): a bounded label.
    pub(crate) fn kind(&self) -> &'static str {
        self.kind
    }
}

impl IdempotencyStore for AnyStore {
    async fn claim(&self, webhook_id: &WebhookId, lease: Duration) -> Result<Claim, StoreError> {
        self.store.claim(webhook_id, lease).await
    }

    async fn complete(&self, token: &ClaimToken, retention: Duration) -> Result<(), StoreError> {
        self.store.complete(token, retention).await
    }

    async fn release(&self, token: &ClaimToken) -> Result<(), StoreError> {
        self.store.release(token).await
    }
}

/// A deduplicator over any store.
pub(crate) type AnyDeduplicator = Deduplicator<AnyStore>;

/// `dedup` over its store, whatever it is.
pub(crate) fn erase<S: IdempotencyStore + 'static>(dedup: Deduplicator<S>) -> AnyDeduplicator {
    dedup.map_store(|store| AnyStore {
        store: Arc::new(store),
        kind: type_name::<S>(),
    })
}

/// [`DeliveryQueue`] with a boxed future, so that it can be a trait object.
trait DynQueue: Send + Sync {
    fn enqueue<'a>(&'a self, delivery: &'a StoredDelivery) -> BoxFuture<'a, Result<Enqueued, StoreError>>;
}

impl<Q: DeliveryQueue> DynQueue for Q {
    fn enqueue<'a>(&'a self, delivery: &'a StoredDelivery) -> BoxFuture<'a, Result<Enqueued, StoreError>> {
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

    pub(crate) async fn enqueue(&self, delivery: &StoredDelivery) -> Result<Enqueued, StoreError> {
        self.queue.enqueue(delivery).await
    }
}

/// The last segment of a type's path, without generic parameters, and
/// through an `Arc` or a `Box`: `yoco_webhooks::redis::RedisStore` and
/// `Arc<RedisStore>` are `RedisStore`.
fn type_name<T: ?Sized>() -> &'static str {
    let mut name = std::any::type_name::<T>();
    for pointer in ["alloc::sync::Arc<", "alloc::boxed::Box<"] {
        if let Some(inner) = name.strip_prefix(pointer).and_then(|inner| inner.strip_suffix('>')) {
            name = inner;
        }
    }
    let path = name.split('<').next().unwrap_or(name);
    path.rsplit("::").next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::MemoryStore;

    #[test]
    fn a_store_is_named_by_its_type() {
        assert_eq!(type_name::<MemoryStore>(), "MemoryStore");
        assert_eq!(type_name::<Arc<MemoryStore>>(), "MemoryStore");
        assert_eq!(type_name::<Vec<MemoryStore>>(), "Vec");
        assert_eq!(
            erase(Deduplicator::new(MemoryStore::default())).store().kind(),
            "MemoryStore"
        );
    }
}

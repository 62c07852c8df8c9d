//! Any store behind one type, so that the configuration, the extracted
//! webhook and the tower layer never name the store (as rustls' server
//! configuration holds its session store).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::dedup::{Claim, ClaimToken, Deduplicator, IdempotencyStore, StoreError};
use crate::ids::WebhookId;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`IdempotencyStore`] with boxed futures, so that it can be a trait
/// object; every store is one.
pub(crate) trait DynStore: Send + Sync {
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

/// Any store, shared.
#[derive(Clone)]
pub(crate) struct AnyStore(Arc<dyn DynStore>);

impl IdempotencyStore for AnyStore {
    async fn claim(&self, webhook_id: &WebhookId, lease: Duration) -> Result<Claim, StoreError> {
        self.0.claim(webhook_id, lease).await
    }

    async fn complete(&self, token: &ClaimToken, retention: Duration) -> Result<(), StoreError> {
        self.0.complete(token, retention).await
    }

    async fn release(&self, token: &ClaimToken) -> Result<(), StoreError> {
        self.0.release(token).await
    }
}

/// A deduplicator over any store.
pub(crate) type AnyDeduplicator = Deduplicator<AnyStore>;

/// `dedup` over its store, whatever it is.
pub(crate) fn erase<S: IdempotencyStore + 'static>(dedup: Deduplicator<S>) -> AnyDeduplicator {
    dedup.map_store(|store| AnyStore(Arc::new(store)))
}

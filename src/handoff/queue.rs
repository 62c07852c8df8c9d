//! [`DeliveryQueue`]: somewhere a verified delivery is recorded durably, so
//! that the endpoint can answer Yoco at once and a worker can process it
//! later.

use std::future::Future;
use std::sync::Arc;

use super::stored::StoredDelivery;
use crate::dedup::StoreError;

/// A durable queue of verified deliveries: an inbox table
/// (`postgres::Inbox`, feature `postgres`), or your own (a message broker,
/// a cloud queue). Give it to
/// [`YocoWebhookConfig::with_queue`](crate::YocoWebhookConfig::with_queue)
/// and every server integration answers Yoco as soon as the delivery is
/// queued, without running the route's handler.
///
/// # Contract
///
/// - [`enqueue`](Self::enqueue) answers `Ok` only once the delivery is
///   durable (committed, acknowledged by the broker): the endpoint answers
///   200 on it, and Yoco never sends the delivery again.
/// - Enqueuing a `webhook-id` that is queued already (Yoco's retry of a
///   delivery whose answer was lost, or two copies arriving together)
///   changes nothing, so that no worker sees a delivery twice, and answers
///   [`Enqueued::AlreadyQueued`]: the endpoint answers 200 `duplicate` and
///   counts a duplicate, not a new delivery. A queue that cannot tell (most
///   brokers) may accept the copy and answer [`Enqueued::New`]; its workers
///   then deduplicate by `webhook-id`.
/// - Any failure is a [`StoreError`]: the endpoint answers 503 and Yoco
///   retries. Never `Ok` for a delivery that may not have been recorded.
///
/// Workers take deliveries off the queue, check each again with
/// [`Receiver::receive_stored`](crate::Receiver::receive_stored) (the
/// queue is outside the signature's protection), and process them.
pub trait DeliveryQueue: Send + Sync {
    /// Records `delivery` durably, unless its `webhook-id` is queued
    /// already, and says which.
    ///
    /// # Errors
    /// [`StoreError`] if the queue could not record it, or cannot say
    /// whether it did.
    fn enqueue(&self, delivery: &StoredDelivery) -> impl Future<Output = Result<Enqueued, StoreError>> + Send;
}

/// What [`DeliveryQueue::enqueue`] did with a delivery it holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Recorded now: the endpoint answers 200 `queued`.
    New,
    /// Its `webhook-id` was queued already, and nothing changed: a retry
    /// or a copy, answered 200 `duplicate` and counted as a duplicate.
    AlreadyQueued,
}

impl<Q: DeliveryQueue + ?Sized> DeliveryQueue for Arc<Q> {
    fn enqueue(&self, delivery: &StoredDelivery) -> impl Future<Output = Result<Enqueued, StoreError>> + Send {
        (**self).enqueue(delivery)
    }
}

//! Processing each delivery once. Yoco retries a delivery, with the same
//! `webhook-id`, until it sees a 2xx: after a timeout, a lost answer or a
//! crash. An [`IdempotencyStore`] remembers which deliveries are being
//! processed and which are done; a [`Deduplicator`] runs the protocol around
//! the merchant's handler and says what became of the delivery.
//!
//! ```
//! use yoco_webhooks::WebhookId;
//! use yoco_webhooks::{Processed, dedup::{Deduplicator, MemoryStore}};
//!
//! # tokio_test_block_on(async {
//! let once = Deduplicator::new(MemoryStore::default());
//! let id = WebhookId::new("msg_1");
//! let first: Processed<(), std::io::Error> = once.process(&id, || async { Ok(()) }).await;
//! assert!(matches!(first, Processed::Done { .. }));
//! let retry: Processed<(), std::io::Error> = once.process(&id, || async { unreachable!() }).await;
//! assert!(matches!(retry, Processed::Duplicate));
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```
//!
//! - [`IdempotencyStore`]: the contract every store keeps (atomic claims
//!   with a lease, completion and release by the claim's owner), with
//!   [`Claim`], [`ClaimToken`] and [`StoreError`] (with its
//!   [`StoreErrorKind`]). `testing::check_store`
//!   (feature `testing`) checks a store against it.
//! - [`MemoryStore`]: a bounded store in this process's memory.
//! - [`Deduplicator`]: the protocol around a handler, and [`Processed`](crate::Processed),
//!   what became of the delivery.

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod memory;
pub(crate) mod process;
mod store;

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use memory::MemoryStore;
pub use process::{DEFAULT_LEASE, DEFAULT_RETENTION, Deduplicator};
pub use store::{Claim, ClaimToken, IdempotencyStore, StoreError, StoreErrorKind};

/// What the store and protocol tests share.
#[cfg(test)]
mod test_support {
    use crate::ids::WebhookId;

    pub(super) fn id(text: &str) -> WebhookId {
        WebhookId::new(text)
    }

    pub(super) fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(future)
    }
}

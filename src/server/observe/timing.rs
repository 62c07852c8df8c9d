//! The time a delivery spends: a stopwatch where the clock can be read, and
//! the delivery's store with every call timed (the span's `store_ms`, the
//! [`STORE_SECONDS`] histogram).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[cfg(feature = "metrics")]
use super::STORE_SECONDS;
use crate::dedup::{Claim, ClaimToken, IdempotencyStore, StoreError};
use crate::ids::WebhookId;
use crate::server::erased::AnyStore;

/// Time spent, where the clock can be read (not on `wasm32-unknown-unknown`,
/// which has none, and not without a feature that reports it).
#[derive(Clone, Copy)]
pub(crate) struct Stopwatch {
    #[cfg(all(
        any(feature = "tracing", feature = "metrics"),
        not(all(target_arch = "wasm32", target_os = "unknown"))
    ))]
    started: std::time::Instant,
}

impl Stopwatch {
    pub(crate) fn start() -> Self {
        Self {
            #[cfg(all(
                any(feature = "tracing", feature = "metrics"),
                not(all(target_arch = "wasm32", target_os = "unknown"))
            ))]
            started: std::time::Instant::now(),
        }
    }

    pub(crate) fn elapsed(self) -> Option<Duration> {
        #[cfg(all(
            any(feature = "tracing", feature = "metrics"),
            not(all(target_arch = "wasm32", target_os = "unknown"))
        ))]
        return Some(self.started.elapsed());
        #[cfg(not(all(
            any(feature = "tracing", feature = "metrics"),
            not(all(target_arch = "wasm32", target_os = "unknown"))
        )))]
        None
    }
}

/// Records a store call's time (feature `metrics`).
pub(crate) fn store_call(store: &'static str, operation: &'static str, took: Option<Duration>) {
    #[cfg(feature = "metrics")]
    if let Some(took) = took {
        metrics::histogram!(STORE_SECONDS, "store" => store, "operation" => operation).record(took.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (store, operation, took);
}

/// The delivery's store: every call timed, for the metrics and the span's
/// `store_ms`.
pub(crate) struct TimedStore {
    store: AnyStore,
    /// Nanoseconds spent in the store so far.
    spent: AtomicU64,
}

impl TimedStore {
    pub(crate) fn new(store: AnyStore) -> Self {
        Self {
            store,
            spent: AtomicU64::new(0),
        }
    }

    /// The time spent in the store, where the clock can be read.
    pub(crate) fn spent(&self) -> Option<Duration> {
        Stopwatch::start()
            .elapsed()
            .map(|_| Duration::from_nanos(self.spent.load(Ordering::Relaxed)))
    }

    /// Counts the time since `watch` started as spent on `operation`. Each
    /// call awaits the store in its own body: an `async` helper taking the
    /// store's future would keep that future twice in its own.
    fn record(&self, operation: &'static str, watch: Stopwatch) {
        let took = watch.elapsed();
        if let Some(took) = took {
            let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
            self.spent.fetch_add(nanos, Ordering::Relaxed);
        }
        store_call(self.store.kind(), operation, took);
    }
}

impl IdempotencyStore for TimedStore {
    async fn claim(&self, webhook_id: &WebhookId, lease: Duration) -> Result<Claim, StoreError> {
        let watch = Stopwatch::start();
        let answer = self.store.claim(webhook_id, lease).await;
        self.record("claim", watch);
        answer
    }

    async fn complete(&self, token: &ClaimToken, retention: Duration) -> Result<(), StoreError> {
        let watch = Stopwatch::start();
        let answer = self.store.complete(token, retention).await;
        self.record("complete", watch);
        answer
    }

    async fn release(&self, token: &ClaimToken) -> Result<(), StoreError> {
        let watch = Stopwatch::start();
        let answer = self.store.release(token).await;
        self.record("release", watch);
        answer
    }
}

//! Processing each delivery once. Yoco retries a delivery, with the same
//! `webhook-id`, until it sees a 2xx: after a timeout, a lost answer or a
//! crash. An [`IdempotencyStore`] remembers which deliveries are being
//! processed and which are done; a [`Deduplicator`] runs the protocol around
//! the merchant's handler and says what to answer.
//!
//! ```
//! use yoco_webhooks::WebhookId;
//! use yoco_webhooks::dedup::{Deduplicator, MemoryStore, Processed};
//!
//! # tokio_test_block_on(async {
//! let once = Deduplicator::new(MemoryStore::default());
//! let id = WebhookId::new("msg_1");
//! let first: Processed<(), std::io::Error> = once.process(&id, || async { Ok(()) }).await;
//! assert_eq!(first.status(), 200);
//! let retry: Processed<(), std::io::Error> = once.process(&id, || async { unreachable!() }).await;
//! assert!(matches!(retry, Processed::Duplicate));
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::ids::WebhookId;
#[cfg(feature = "http")]
use crate::receive::Delivery;

/// How long a claim holds by default before another attempt may take over:
/// longer than Yoco waits for an answer (15 s), short enough that a retry
/// after a crash is not refused for long.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// How long a completed delivery is remembered by default: 28 hours, beyond
/// Yoco's whole retry schedule (about 27.6 hours).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(28 * 60 * 60);

/// Proof of a claim: which delivery, and which claimant (an owner token the
/// store chose), so that only the claimant can complete or release it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimToken {
    webhook_id: WebhookId,
    owner: String,
}

impl ClaimToken {
    /// A token for `webhook_id` held by `owner`; for store implementations.
    pub fn new(webhook_id: WebhookId, owner: impl Into<String>) -> Self {
        Self {
            webhook_id,
            owner: owner.into(),
        }
    }

    /// The claimed delivery.
    pub fn webhook_id(&self) -> &WebhookId {
        &self.webhook_id
    }

    /// The claimant, unique per claim.
    pub fn owner(&self) -> &str {
        &self.owner
    }
}

/// The answer to [`IdempotencyStore::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller now holds the delivery and must complete or release it.
    Acquired(ClaimToken),
    /// The delivery was processed already.
    Done,
    /// Another attempt holds a live claim on it.
    InProgress,
}

/// A store that could not answer. The adapter answers 503 so that Yoco
/// retries; never 2xx, which would lose the event.
#[derive(Debug, thiserror::Error)]
#[error("idempotency store unavailable: {message}")]
pub struct StoreError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    /// An error with a message (which must not contain credentials).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// An error caused by another, such as the store client's.
    pub fn with_source(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// Remembers deliveries across attempts (and, for a shared store, across
/// server instances).
///
/// # Contract
///
/// Implementations must keep these promises, for every `webhook-id`:
///
/// - [`claim`](Self::claim) is atomic: while a claim is live (its lease has
///   not run out) or the delivery is done, no other call gets
///   [`Claim::Acquired`]. Concurrent calls, from any number of tasks or
///   processes, see at most one `Acquired`.
/// - A claim whose lease ran out (its process died) is as if it never was:
///   the next `claim` acquires it, with a new owner.
/// - [`complete`](Self::complete) records the delivery as done for at least
///   `retention`, but only for the token's owner: if the claim is held by
///   another owner it returns an error and changes nothing. Completing a
///   delivery that is done already (a second call, or another attempt
///   finished it) is `Ok`.
/// - [`release`](Self::release) drops the claim if the token's owner holds
///   it, so that the next attempt can process; otherwise it does nothing.
/// - Every failure to answer is a [`StoreError`], never a guess: a store
///   that cannot tell must not say `Acquired`, `Done` or `InProgress`.
pub trait IdempotencyStore: Send + Sync {
    /// Claims `webhook_id` for `lease`, or says why not.
    fn claim(&self, webhook_id: &WebhookId, lease: Duration) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Marks the claimed delivery done, to be remembered for `retention`.
    fn complete(&self, token: &ClaimToken, retention: Duration) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Gives the claim up, after the handler failed.
    fn release(&self, token: &ClaimToken) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl<S: IdempotencyStore + ?Sized> IdempotencyStore for std::sync::Arc<S> {
    fn claim(&self, webhook_id: &WebhookId, lease: Duration) -> impl Future<Output = Result<Claim, StoreError>> + Send {
        (**self).claim(webhook_id, lease)
    }

    fn complete(&self, token: &ClaimToken, retention: Duration) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).complete(token, retention)
    }

    fn release(&self, token: &ClaimToken) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).release(token)
    }
}

/// What became of a delivery, and the status to answer Yoco.
#[derive(Debug)]
#[must_use]
pub enum Processed<T, E> {
    /// The handler ran and succeeded: answer 200. `recorded` says whether
    /// the store recorded it; if not, a later retry could run it again.
    Done {
        /// The handler's result.
        value: T,
        /// Whether marking the delivery done succeeded.
        recorded: Result<(), StoreError>,
    },
    /// Processed before: answer 200 without running the handler.
    Duplicate,
    /// Another attempt is processing it now: answer 409, Yoco retries later.
    InProgress,
    /// The handler failed and the claim was given up: answer 500, so that
    /// Yoco retries.
    Failed(E),
    /// The store could not answer: answer 503, so that Yoco retries.
    StoreUnavailable(StoreError),
}

impl<T, E> Processed<T, E> {
    /// A short answer text for Yoco, revealing nothing of the handler's error.
    pub fn text(&self) -> &'static str {
        match self {
            Processed::Done { .. } => "processed",
            Processed::Duplicate => "duplicate",
            Processed::InProgress => "in progress",
            Processed::Failed(_) => "handler failed",
            Processed::StoreUnavailable(_) => "store unavailable",
        }
    }

    /// The HTTP status to answer: 200, 409, 500 or 503.
    pub fn status(&self) -> u16 {
        match self {
            Processed::Done { .. } | Processed::Duplicate => 200,
            Processed::InProgress => 409,
            Processed::Failed(_) => 500,
            Processed::StoreUnavailable(_) => 503,
        }
    }
}

/// Runs a handler at most once per delivery, with a store.
#[derive(Debug, Clone)]
pub struct Deduplicator<S> {
    store: S,
    lease: Duration,
    retention: Duration,
}

impl<S: IdempotencyStore> Deduplicator<S> {
    /// Uses `store` with [`DEFAULT_LEASE`] and [`DEFAULT_RETENTION`].
    pub fn new(store: S) -> Self {
        Self {
            store,
            lease: DEFAULT_LEASE,
            retention: DEFAULT_RETENTION,
        }
    }

    /// How long a claim holds. Keep it longer than your handler ever runs:
    /// past it, a retry may run the handler a second time.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a processed delivery is remembered.
    #[must_use]
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Claims the delivery, runs `handler` if the claim is ours, and marks the
    /// delivery done if it succeeded or gives the claim up if it failed.
    pub async fn process<F, Fut, T, E>(&self, webhook_id: &WebhookId, handler: F) -> Processed<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.process_claimed(webhook_id, |_| handler()).await
    }

    /// [`process`](Self::process), handing the handler its [`ClaimToken`],
    /// so that it can mark the delivery done itself, inside its own database
    /// transaction (as `PostgresStore::complete_in` does, feature
    /// `postgres`): the merchant's changes and "processed" then commit
    /// together or not at all. Afterwards this method's own completion finds
    /// the delivery done and is a no-op; if the handler's transaction rolled
    /// back, the claim is still held and a failing handler releases it.
    pub async fn process_claimed<F, Fut, T, E>(&self, webhook_id: &WebhookId, handler: F) -> Processed<T, E>
    where
        F: FnOnce(ClaimToken) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let token = match self.store.claim(webhook_id, self.lease).await {
            Ok(Claim::Acquired(token)) => token,
            Ok(Claim::Done) => return Processed::Duplicate,
            Ok(Claim::InProgress) => return Processed::InProgress,
            Err(err) => return Processed::StoreUnavailable(err),
        };
        match handler(token.clone()).await {
            Ok(value) => Processed::Done {
                value,
                recorded: self.store.complete(&token, self.retention).await,
            },
            Err(err) => {
                // If the release fails too, the lease runs out and a later
                // retry processes the delivery.
                let _ = self.store.release(&token).await;
                Processed::Failed(err)
            }
        }
    }
}

/// Runs `handler` on a delivery through `dedup` when there is one, else
/// directly (deduplication turned off): what every adapter does.
#[cfg(feature = "http")]
pub(crate) async fn process_delivery<S, F, Fut, T, E>(
    dedup: Option<&Deduplicator<S>>,
    delivery: Delivery,
    handler: F,
) -> Processed<T, E>
where
    S: IdempotencyStore,
    F: FnOnce(Delivery) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    process_delivery_claimed(dedup, delivery, |delivery, _| handler(delivery)).await
}

/// [`process_delivery`], handing the handler the claim's token; `None` when
/// deduplication is off, as there is no claim then.
#[cfg(feature = "http")]
pub(crate) async fn process_delivery_claimed<S, F, Fut, T, E>(
    dedup: Option<&Deduplicator<S>>,
    delivery: Delivery,
    handler: F,
) -> Processed<T, E>
where
    S: IdempotencyStore,
    F: FnOnce(Delivery, Option<ClaimToken>) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    match dedup {
        Some(dedup) => {
            let webhook_id = delivery.webhook_id.clone();
            dedup
                .process_claimed(&webhook_id, |token| handler(delivery, Some(token)))
                .await
        }
        None => match handler(delivery, None).await {
            Ok(value) => Processed::Done {
                value,
                recorded: Ok(()),
            },
            Err(err) => Processed::Failed(err),
        },
    }
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use memory::MemoryStore;

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod memory {
    use std::collections::hash_map::RandomState;
    use std::collections::{HashMap, VecDeque};
    use std::future::{Future, ready};
    use std::hash::BuildHasher as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Mutex, MutexGuard};
    use std::time::{Duration, Instant};

    use super::{Claim, ClaimToken, IdempotencyStore, StoreError};
    use crate::ids::WebhookId;

    /// How many deliveries a [`MemoryStore`] remembers by default.
    const DEFAULT_CAPACITY: usize = 100_000;
    /// Locks a large store is split into, so that server threads seldom
    /// wait for each other (or for one that was preempted holding a lock),
    /// and a table growing stalls only its own part.
    const SHARDS: usize = 16;
    /// Below this capacity one lock serves, and eviction is exactly oldest
    /// first across the store.
    const SHARDED_FROM: usize = 1024;

    /// An [`IdempotencyStore`] in this process's memory: for a single server
    /// instance. Several instances need a shared store.
    ///
    /// Bounded: when `capacity` deliveries are remembered, expired entries go
    /// first, then the oldest completed ones, even before their retention
    /// ends. Size it for a day of deliveries (the default is 100 000). A
    /// store of 1024 or more is split into 16 parts by `webhook-id`, each
    /// with its own lock and a 16th of the capacity; eviction is then
    /// oldest first within a part.
    pub struct MemoryStore {
        shards: Box<[Mutex<State>]>,
        /// The capacity of each shard.
        shard_capacity: usize,
        capacity: usize,
        hasher: RandomState,
        next_owner: AtomicU64,
    }

    #[derive(Default)]
    struct State {
        entries: HashMap<WebhookId, Entry>,
        /// Completed deliveries, oldest first, for eviction. An id whose
        /// entry changed since is skipped when it reaches the front.
        completed: VecDeque<(WebhookId, Instant)>,
    }

    #[derive(Clone, Copy)]
    enum Entry {
        Claimed { owner: u64, until: Instant },
        Done { since: Instant, until: Instant },
    }

    impl Entry {
        fn is_live(&self, now: Instant) -> bool {
            match self {
                Entry::Claimed { until, .. } | Entry::Done { until, .. } => *until > now,
            }
        }
    }

    impl MemoryStore {
        /// A store remembering at most `capacity` deliveries.
        pub fn with_capacity(capacity: usize) -> Self {
            let capacity = capacity.max(1);
            let shards = if capacity >= SHARDED_FROM { SHARDS } else { 1 };
            Self {
                shards: (0..shards).map(|_| Mutex::new(State::default())).collect(),
                shard_capacity: capacity.div_ceil(shards),
                capacity,
                hasher: RandomState::new(),
                next_owner: AtomicU64::new(1),
            }
        }

        /// How many deliveries are remembered now (claimed or done).
        pub fn len(&self) -> usize {
            self.shards
                .iter()
                .map(|shard| shard.lock().map_or(0, |state| state.entries.len()))
                .sum()
        }

        /// The locked shard that holds `webhook_id`.
        fn shard(&self, webhook_id: &WebhookId) -> Result<MutexGuard<'_, State>, StoreError> {
            let index = self
                .hasher
                .hash_one(webhook_id)
                .checked_rem(self.shards.len() as u64)
                .and_then(|index| usize::try_from(index).ok())
                .unwrap_or(0);
            self.shards
                .get(index)
                .ok_or_else(|| StoreError::new("memory store shard out of range"))?
                .lock()
                .map_err(|_| StoreError::new("memory store lock poisoned"))
        }

        /// Whether nothing is remembered.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        fn claim_now(&self, webhook_id: &WebhookId, lease: Duration) -> Result<Claim, StoreError> {
            let now = Instant::now();
            let mut state = self.shard(webhook_id)?;
            match state.entries.get(webhook_id) {
                Some(entry @ Entry::Done { .. }) if entry.is_live(now) => return Ok(Claim::Done),
                Some(entry @ Entry::Claimed { .. }) if entry.is_live(now) => return Ok(Claim::InProgress),
                Some(_) => {}
                None => state.make_room(self.shard_capacity, now)?,
            }
            let owner = self.next_owner.fetch_add(1, Ordering::Relaxed);
            let until = now
                .checked_add(lease)
                .ok_or_else(|| StoreError::new("lease too long"))?;
            state
                .entries
                .insert(webhook_id.clone(), Entry::Claimed { owner, until });
            Ok(Claim::Acquired(ClaimToken::new(webhook_id.clone(), owner.to_string())))
        }

        fn complete_now(&self, token: &ClaimToken, retention: Duration) -> Result<(), StoreError> {
            let now = Instant::now();
            let mut state = self.shard(token.webhook_id())?;
            match state.entries.get(token.webhook_id()) {
                Some(Entry::Claimed { owner, .. }) if holds(*owner, token) => {}
                // Our lease ran out and nobody else claimed: still ours to record.
                Some(entry @ Entry::Claimed { .. }) if !entry.is_live(now) => {}
                // Another attempt took over after our lease and finished: done either way.
                Some(entry @ Entry::Done { .. }) if entry.is_live(now) => return Ok(()),
                None | Some(Entry::Done { .. }) => {}
                Some(_) => return Err(StoreError::new("the claim is held by another attempt")),
            }
            let until = now
                .checked_add(retention)
                .ok_or_else(|| StoreError::new("retention too long"))?;
            state
                .entries
                .insert(token.webhook_id().clone(), Entry::Done { since: now, until });
            state.record_completion(token.webhook_id().clone(), now, self.shard_capacity);
            Ok(())
        }

        fn release_now(&self, token: &ClaimToken) -> Result<(), StoreError> {
            let mut state = self.shard(token.webhook_id())?;
            if let Some(Entry::Claimed { owner, .. }) = state.entries.get(token.webhook_id())
                && holds(*owner, token)
            {
                state.entries.remove(token.webhook_id());
            }
            Ok(())
        }
    }

    /// Whether `token` is the claim of `owner` (compared without allocating).
    fn holds(owner: u64, token: &ClaimToken) -> bool {
        token.owner().parse::<u64>() == Ok(owner)
    }

    impl State {
        /// Frees a slot for a new entry if the store is full: the oldest
        /// completed delivery goes first (with one retention for all, also the
        /// first to expire); claims whose lease ran out go when only claims
        /// are left.
        fn make_room(&mut self, capacity: usize, now: Instant) -> Result<(), StoreError> {
            while self.entries.len() >= capacity {
                match self.completed.pop_front() {
                    // Skip records of ids whose entry changed since.
                    Some((id, since)) => {
                        if matches!(self.entries.get(&id), Some(Entry::Done { since: s, .. }) if *s == since) {
                            self.entries.remove(&id);
                        }
                    }
                    None => {
                        self.entries.retain(|_, entry| entry.is_live(now));
                        if self.entries.len() >= capacity {
                            return Err(StoreError::new("memory store full of claims in progress"));
                        }
                    }
                }
            }
            Ok(())
        }

        /// Records a completion for eviction, keeping the record queue bounded.
        fn record_completion(&mut self, webhook_id: WebhookId, since: Instant, capacity: usize) {
            self.completed.push_back((webhook_id, since));
            if self.completed.len() > capacity.saturating_mul(2) {
                let entries = &self.entries;
                self.completed
                    .retain(|(id, since)| matches!(entries.get(id), Some(Entry::Done { since: s, .. }) if s == since));
            }
        }
    }

    impl Default for MemoryStore {
        /// [`MemoryStore::with_capacity`] of 100 000 deliveries.
        fn default() -> Self {
            Self::with_capacity(DEFAULT_CAPACITY)
        }
    }

    impl std::fmt::Debug for MemoryStore {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("MemoryStore")
                .field("len", &self.len())
                .field("capacity", &self.capacity)
                .finish()
        }
    }

    impl IdempotencyStore for MemoryStore {
        fn claim(
            &self,
            webhook_id: &WebhookId,
            lease: Duration,
        ) -> impl Future<Output = Result<Claim, StoreError>> + Send {
            ready(self.claim_now(webhook_id, lease))
        }

        fn complete(
            &self,
            token: &ClaimToken,
            retention: Duration,
        ) -> impl Future<Output = Result<(), StoreError>> + Send {
            ready(self.complete_now(token, retention))
        }

        fn release(&self, token: &ClaimToken) -> impl Future<Output = Result<(), StoreError>> + Send {
            ready(self.release_now(token))
        }
    }
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Claim::Acquired(_) => "acquired",
            Claim::Done => "done",
            Claim::InProgress => "in progress",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn id(text: &str) -> WebhookId {
        WebhookId::new(text)
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn a_delivery_is_claimed_once_then_done() {
        let store = MemoryStore::default();
        block_on(async {
            let Claim::Acquired(token) = store.claim(&id("a"), DEFAULT_LEASE).await.unwrap() else {
                panic!()
            };
            assert_eq!(store.claim(&id("a"), DEFAULT_LEASE).await.unwrap(), Claim::InProgress);
            store.complete(&token, DEFAULT_RETENTION).await.unwrap();
            assert_eq!(store.claim(&id("a"), DEFAULT_LEASE).await.unwrap(), Claim::Done);
            assert!(matches!(
                store.claim(&id("b"), DEFAULT_LEASE).await.unwrap(),
                Claim::Acquired(_)
            ));
        });
    }

    #[test]
    fn only_the_claimant_completes_or_releases() {
        let store = MemoryStore::default();
        block_on(async {
            let Claim::Acquired(token) = store.claim(&id("a"), DEFAULT_LEASE).await.unwrap() else {
                panic!()
            };
            let impostor = ClaimToken::new(id("a"), "someone else");
            assert!(store.complete(&impostor, DEFAULT_RETENTION).await.is_err());
            store.release(&impostor).await.unwrap();
            assert_eq!(store.claim(&id("a"), DEFAULT_LEASE).await.unwrap(), Claim::InProgress);
            store.release(&token).await.unwrap();
            assert!(matches!(
                store.claim(&id("a"), DEFAULT_LEASE).await.unwrap(),
                Claim::Acquired(_)
            ));
        });
    }

    #[test]
    fn an_expired_lease_lets_a_retry_process() {
        let store = MemoryStore::default();
        block_on(async {
            let Claim::Acquired(dead) = store.claim(&id("a"), Duration::from_millis(20)).await.unwrap() else {
                panic!()
            };
            tokio::time::sleep(Duration::from_millis(60)).await;
            let Claim::Acquired(retry) = store.claim(&id("a"), DEFAULT_LEASE).await.unwrap() else {
                panic!()
            };
            assert_ne!(retry.owner(), dead.owner());
            // The dead claimant cannot complete over the live retry.
            assert!(store.complete(&dead, DEFAULT_RETENTION).await.is_err());
            store.complete(&retry, DEFAULT_RETENTION).await.unwrap();
            assert_eq!(store.claim(&id("a"), DEFAULT_LEASE).await.unwrap(), Claim::Done);
            // Once the retry finished, the late claimant's completion is moot, not an error.
            store.complete(&dead, DEFAULT_RETENTION).await.unwrap();
            assert_eq!(store.claim(&id("a"), DEFAULT_LEASE).await.unwrap(), Claim::Done);
        });
    }

    #[test]
    fn a_full_store_forgets_the_oldest_completed_first() {
        let store = MemoryStore::with_capacity(3);
        block_on(async {
            for name in ["a", "b"] {
                let Claim::Acquired(token) = store.claim(&id(name), DEFAULT_LEASE).await.unwrap() else {
                    panic!()
                };
                store.complete(&token, DEFAULT_RETENTION).await.unwrap();
            }
            let Claim::Acquired(_held) = store.claim(&id("c"), DEFAULT_LEASE).await.unwrap() else {
                panic!()
            };
            assert!(matches!(
                store.claim(&id("d"), DEFAULT_LEASE).await.unwrap(),
                Claim::Acquired(_)
            ));
            assert_eq!(store.len(), 3);
            assert!(
                matches!(store.claim(&id("a"), DEFAULT_LEASE).await.unwrap(), Claim::Acquired(_)),
                "a was evicted"
            );
            assert_eq!(
                store.claim(&id("c"), DEFAULT_LEASE).await.unwrap(),
                Claim::InProgress,
                "claims are kept"
            );
            // Full of claims in progress: refuse rather than guess.
            assert!(store.claim(&id("e"), DEFAULT_LEASE).await.is_err());
        });
    }

    #[test]
    fn a_large_store_is_split_yet_bounded_and_keeps_the_newest() {
        let store = MemoryStore::with_capacity(2048);
        block_on(async {
            for n in 0..5000 {
                let Claim::Acquired(token) = store.claim(&id(&format!("m{n}")), DEFAULT_LEASE).await.unwrap() else {
                    panic!()
                };
                store.complete(&token, DEFAULT_RETENTION).await.unwrap();
            }
            assert!(store.len() <= 2048, "{}", store.len());
            assert!(store.len() > 2048 - 16 * 4, "every part fills: {}", store.len());
            // The newest deliveries are remembered in every part.
            for n in 4900..5000 {
                assert_eq!(
                    store.claim(&id(&format!("m{n}")), DEFAULT_LEASE).await.unwrap(),
                    Claim::Done
                );
            }
        });
    }

    #[test]
    fn the_protocol_answers_each_case() {
        let once = Deduplicator::new(MemoryStore::default());
        let runs = AtomicUsize::new(0);
        block_on(async {
            let handler = || async {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok::<_, &str>("stored")
            };
            let first = once.process(&id("a"), handler).await;
            assert!(matches!(
                &first,
                Processed::Done {
                    value: "stored",
                    recorded: Ok(())
                }
            ));
            assert_eq!(once.process(&id("a"), handler).await.status(), 200);
            assert_eq!(runs.load(Ordering::SeqCst), 1, "a duplicate must not run the handler");

            let failed = once.process(&id("b"), || async { Err::<(), _>("database down") }).await;
            assert!(matches!(failed, Processed::Failed("database down")));
            assert_eq!(failed.status(), 500);
            assert_eq!(
                once.process(&id("b"), handler).await.status(),
                200,
                "released, so the retry processes"
            );
            assert_eq!(runs.load(Ordering::SeqCst), 2);

            let Claim::Acquired(_held) = once.store().claim(&id("c"), DEFAULT_LEASE).await.unwrap() else {
                panic!()
            };
            let busy = once.process(&id("c"), handler).await;
            assert_eq!(busy.status(), 409);
        });
    }

    #[test]
    fn the_handler_gets_its_claim_and_may_complete_it_itself() {
        let once = &Deduplicator::new(MemoryStore::default());
        block_on(async {
            let done = once
                .process_claimed(&id("a"), |token| async move {
                    assert_eq!(token.webhook_id(), &id("a"));
                    // As a store completing inside the handler's transaction would.
                    once.store()
                        .complete(&token, DEFAULT_RETENTION)
                        .await
                        .map_err(|_| "store")
                })
                .await;
            assert!(matches!(done, Processed::Done { recorded: Ok(()), .. }), "{done:?}");
            assert!(matches!(
                once.process(&id("a"), || async { Err::<(), _>("ran") }).await,
                Processed::Duplicate
            ));

            let failed = once
                .process_claimed(&id("b"), |_token| async { Err::<(), _>("rolled back") })
                .await;
            assert!(matches!(failed, Processed::Failed("rolled back")));
            assert!(
                matches!(
                    once.store().claim(&id("b"), DEFAULT_LEASE).await.unwrap(),
                    Claim::Acquired(_)
                ),
                "released"
            );
        });
    }

    #[cfg(feature = "http")]
    #[test]
    fn without_dedup_the_handler_gets_no_token() {
        let delivery = Delivery {
            webhook_id: id("a"),
            timestamp: time::OffsetDateTime::UNIX_EPOCH,
            event: crate::event::parse(crate::testing::DOCUMENTED_SAMPLE.as_bytes()).unwrap(),
        };
        let answer: Processed<bool, ()> = block_on(process_delivery_claimed(
            None::<&Deduplicator<MemoryStore>>,
            delivery,
            |_, token| async move { Ok(token.is_none()) },
        ));
        assert!(matches!(answer, Processed::Done { value: true, .. }));
    }

    /// A store that cannot answer.
    struct Down;

    impl IdempotencyStore for Down {
        fn claim(&self, _: &WebhookId, _: Duration) -> impl Future<Output = Result<Claim, StoreError>> + Send {
            std::future::ready(Err(StoreError::new("connection refused")))
        }
        fn complete(&self, _: &ClaimToken, _: Duration) -> impl Future<Output = Result<(), StoreError>> + Send {
            std::future::ready(Err(StoreError::new("connection refused")))
        }
        fn release(&self, _: &ClaimToken) -> impl Future<Output = Result<(), StoreError>> + Send {
            std::future::ready(Err(StoreError::new("connection refused")))
        }
    }

    #[test]
    fn a_store_that_cannot_answer_means_503_and_no_processing() {
        let once = Deduplicator::new(Arc::new(Down));
        let ran = AtomicUsize::new(0);
        let outcome = block_on(once.process(&id("a"), || async {
            ran.fetch_add(1, Ordering::SeqCst);
            Ok::<(), ()>(())
        }));
        assert_eq!(outcome.status(), 503);
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        let Processed::StoreUnavailable(err) = outcome else {
            panic!("not a store error")
        };
        assert_eq!(err.to_string(), "idempotency store unavailable: connection refused");
    }

    #[test]
    fn concurrent_claims_acquire_once() {
        let store = Arc::new(MemoryStore::default());
        let acquired: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let store = Arc::clone(&store);
                    scope.spawn(move || {
                        matches!(
                            block_on(store.claim(&id("same"), DEFAULT_LEASE)),
                            Ok(Claim::Acquired(_))
                        )
                    })
                })
                .collect();
            handles.into_iter().map(|h| usize::from(h.join().unwrap())).sum()
        });
        assert_eq!(acquired, 1);
    }
}

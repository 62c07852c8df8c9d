//! The in-memory store, for a single server instance.

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
/// with its own lock and a 16th of the capacity (the parts' shares add up
/// to `capacity` exactly); eviction is then
/// oldest first within a part.
pub struct MemoryStore {
    shards: Box<[Mutex<State>]>,
    capacity: usize,
    hasher: RandomState,
    next_owner: AtomicU64,
}

struct State {
    /// This part's share of the store's capacity: the shares add up to
    /// exactly the capacity.
    capacity: usize,
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
    /// A store remembering at most `capacity` deliveries (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let shards = if capacity >= SHARDED_FROM { SHARDS } else { 1 };
        // Each part gets the quotient, and the first `remainder` one more,
        // so that the parts never hold more than `capacity` together.
        let share = capacity.checked_div(shards).unwrap_or(capacity);
        let remainder = capacity.checked_rem(shards).unwrap_or(0);
        Self {
            shards: (0..shards)
                .map(|index| Mutex::new(State::new(share.saturating_add(usize::from(index < remainder)))))
                .collect(),
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
            None => state.make_room(now)?,
        }
        let owner = self.next_owner.fetch_add(1, Ordering::Relaxed);
        let until = now
            .checked_add(lease)
            .ok_or_else(|| StoreError::configuration("lease too long"))?;
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
            .ok_or_else(|| StoreError::configuration("retention too long"))?;
        state
            .entries
            .insert(token.webhook_id().clone(), Entry::Done { since: now, until });
        state.record_completion(token.webhook_id().clone(), now);
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
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::new(),
            completed: VecDeque::new(),
        }
    }

    /// Frees a slot for a new entry if the store is full: the oldest
    /// completed delivery goes first (with one retention for all, also the
    /// first to expire); claims whose lease ran out go when only claims
    /// are left.
    fn make_room(&mut self, now: Instant) -> Result<(), StoreError> {
        while self.entries.len() >= self.capacity {
            match self.completed.pop_front() {
                // Skip records of ids whose entry changed since.
                Some((id, since)) => {
                    if matches!(self.entries.get(&id), Some(Entry::Done { since: s, .. }) if *s == since) {
                        self.entries.remove(&id);
                    }
                }
                None => {
                    self.entries.retain(|_, entry| entry.is_live(now));
                    if self.entries.len() >= self.capacity {
                        return Err(StoreError::new("memory store full of claims in progress"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Records a completion for eviction, keeping the record queue bounded.
    fn record_completion(&mut self, webhook_id: WebhookId, since: Instant) {
        self.completed.push_back((webhook_id, since));
        if self.completed.len() > self.capacity.saturating_mul(2) {
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
    fn claim(&self, webhook_id: &WebhookId, lease: Duration) -> impl Future<Output = Result<Claim, StoreError>> + Send {
        ready(self.claim_now(webhook_id, lease))
    }

    fn complete(&self, token: &ClaimToken, retention: Duration) -> impl Future<Output = Result<(), StoreError>> + Send {
        ready(self.complete_now(token, retention))
    }

    fn release(&self, token: &ClaimToken) -> impl Future<Output = Result<(), StoreError>> + Send {
        ready(self.release_now(token))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::dedup::test_support::{block_on, id};
    use crate::dedup::{DEFAULT_LEASE, DEFAULT_RETENTION};

    #[test]
    fn a_lease_or_retention_too_long_is_a_configuration_mistake() {
        let store = MemoryStore::default();
        block_on(async {
            let err = store.claim(&id("a"), Duration::MAX).await.unwrap_err();
            assert!(err.is_configuration(), "{err}");
            assert!(err.to_string().contains("misconfigured: lease too long"), "{err}");
            let Claim::Acquired(token) = store.claim(&id("a"), DEFAULT_LEASE).await.unwrap() else {
                panic!()
            };
            let err = store.complete(&token, Duration::MAX).await.unwrap_err();
            assert!(err.is_configuration(), "{err}");
        });
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
    fn a_split_store_never_holds_more_than_its_capacity() {
        // 1025 does not divide into 16 parts: rounding each part's share up
        // would let the store hold 1040.
        for capacity in [1024, 1025, 1039, 1041, 2047] {
            let store = MemoryStore::with_capacity(capacity);
            block_on(async {
                for n in 0..capacity * 3 {
                    let Claim::Acquired(token) = store.claim(&id(&format!("m{n}")), DEFAULT_LEASE).await.unwrap()
                    else {
                        panic!()
                    };
                    store.complete(&token, DEFAULT_RETENTION).await.unwrap();
                    assert!(store.len() <= capacity, "{} > {capacity}", store.len());
                }
            });
            assert!(store.len() > capacity - 16 * 4, "every part fills: {}", store.len());
        }
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

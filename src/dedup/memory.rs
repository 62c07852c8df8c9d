//! The in-memory store, for a single server instance.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::future::{Future, ready};
use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
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
/// ends. A store of 1024 or more is split into 16 parts by `webhook-id`,
/// each with its own lock and a 16th of the capacity (the parts' shares
/// add up to `capacity` exactly); eviction is then oldest first within a
/// part.
///
/// # Sizing
///
/// To remember every delivery for as long as Yoco retries it (about 28
/// hours, 100 800 s, the default retention), the capacity must be
/// deliveries per second × 100 800 at your busiest sustained rate: the
/// default of 100 000 covers about one delivery a second. A store that is
/// too small forgets the oldest completed deliveries first, so a late
/// retry of one of them is processed again.
///
/// A full store takes 110 to 135 bytes per delivery plus the
/// `webhook-id` itself (some 31 bytes for Yoco's ids), depending on how
/// the capacity falls against the hash tables' power-of-two sizes
/// (`tests/it/memory_size.rs` measures it): at most about 17 MB at the
/// default capacity. 10 deliveries a second for 28 hours (a capacity of
/// 1 008 000) take about 170 MB, 100 a second about 1.7 GB; beyond that,
/// prefer a shared store.
pub struct MemoryStore {
    shards: Box<[Mutex<State>]>,
    capacity: usize,
    hasher: RandomState,
    next_owner: AtomicU64,
    /// The store's clock starts here: times are nanoseconds since.
    start: Instant,
}

/// One part of the store. Each id is kept once, shared between the table
/// and the eviction queue.
struct State {
    /// This part's share of the store's capacity: the shares add up to
    /// exactly the capacity.
    capacity: usize,
    /// In a `Cell`, so that completion updates an entry in the same lookup
    /// that lends its id to the queue.
    entries: HashMap<Arc<str>, Cell<Entry>>,
    /// Completed deliveries, oldest first, with their completion number,
    /// for eviction. An id whose entry changed since is skipped when it
    /// reaches the front.
    completed: VecDeque<(Arc<str>, u64)>,
    /// The number of this part's next completion.
    completions: u64,
}

/// What the store knows of a delivery, in 16 bytes: until when it holds
/// (nanoseconds on the store's clock), and the claim's owner or, with
/// [`DONE`] set, the completion's number.
#[derive(Clone, Copy)]
struct Entry {
    until: u64,
    held: u64,
}

/// The bit of [`Entry::held`] that marks a completed delivery. Owners and
/// completion numbers use the 63 bits below it.
const DONE: u64 = 1 << 63;

/// An [`Entry`]'s state, unpacked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Held {
    Claimed { owner: u64 },
    Done { completion: u64 },
}

impl Entry {
    fn claimed(owner: u64, until: u64) -> Self {
        Self {
            until,
            held: owner & !DONE,
        }
    }

    fn done(completion: u64, until: u64) -> Self {
        Self {
            until,
            held: completion | DONE,
        }
    }

    fn held(self) -> Held {
        if self.held & DONE == 0 {
            Held::Claimed { owner: self.held }
        } else {
            Held::Done {
                completion: self.held & !DONE,
            }
        }
    }

    fn is_live(self, now: u64) -> bool {
        self.until > now
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
            // Owners count from 1 within 63 bits (see `Entry`).
            next_owner: AtomicU64::new(1),
            start: Instant::now(),
        }
    }

    /// How many deliveries are remembered now (claimed or done).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().map_or(0, |state| state.entries.len()))
            .sum()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The locked shard that holds `webhook_id`.
    fn shard(&self, webhook_id: &str) -> Result<MutexGuard<'_, State>, StoreError> {
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

    /// Now on the store's clock: nanoseconds since it was made (enough
    /// for 584 years).
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn claim_now(&self, webhook_id: &WebhookId, lease: Duration) -> Result<Claim, StoreError> {
        let now = self.now();
        let id = webhook_id.as_str();
        let mut guard = self.shard(id)?;
        let state = &mut *guard;
        // One lookup of the id: a new claim takes the expired entry's slot,
        // or is inserted without looking again.
        let found = state.entries.get(id);
        if let Some(entry) = found.map(Cell::get)
            && entry.is_live(now)
        {
            return Ok(match entry.held() {
                Held::Done { .. } => Claim::Done,
                Held::Claimed { .. } => Claim::InProgress,
            });
        }
        let until = later(now, lease).ok_or_else(|| StoreError::configuration("lease too long"))?;
        let owner = self.next_owner.fetch_add(1, Ordering::Relaxed) & !DONE;
        let entry = Entry::claimed(owner, until);
        match found {
            Some(slot) => slot.set(entry),
            None => {
                state.make_room(now)?;
                state.entries.insert(Arc::from(id), Cell::new(entry));
            }
        }
        Ok(Claim::Acquired(ClaimToken::new(webhook_id.clone(), owner.to_string())))
    }

    fn complete_now(&self, token: &ClaimToken, retention: Duration) -> Result<(), StoreError> {
        let now = self.now();
        let id = token.webhook_id().as_str();
        let mut guard = self.shard(id)?;
        let state = &mut *guard;
        // One lookup of the id, whose key the eviction queue then shares.
        let found = state.entries.get_key_value(id);
        match found.map(|(_, slot)| (slot.get().held(), slot.get().is_live(now))) {
            Some((Held::Claimed { owner }, _)) if holds(owner, token) => {}
            // Our lease ran out and nobody else claimed: still ours to record.
            Some((Held::Claimed { .. }, false)) => {}
            // Another attempt took over after our lease and finished: done either way.
            Some((Held::Done { .. }, true)) => return Ok(()),
            Some((Held::Done { .. }, false)) | None => {}
            Some((Held::Claimed { .. }, true)) => {
                return Err(StoreError::new("the claim is held by another attempt"));
            }
        }
        let until = later(now, retention).ok_or_else(|| StoreError::configuration("retention too long"))?;
        let completion = state.completions & !DONE;
        let entry = Entry::done(completion, until);
        let key = match found {
            Some((key, slot)) => {
                slot.set(entry);
                Arc::clone(key)
            }
            None => {
                // Forgotten while our lease had run out: it takes a place again.
                state.make_room(now)?;
                let key = Arc::<str>::from(id);
                state.entries.insert(Arc::clone(&key), Cell::new(entry));
                key
            }
        };
        state.completions = state.completions.wrapping_add(1);
        state.queue(key, completion);
        Ok(())
    }

    fn release_now(&self, token: &ClaimToken) -> Result<(), StoreError> {
        let id = token.webhook_id().as_str();
        let mut state = self.shard(id)?;
        if let Some(Held::Claimed { owner }) = state.entries.get(id).map(|entry| entry.get().held())
            && holds(owner, token)
        {
            state.entries.remove(id);
        }
        Ok(())
    }
}

/// `duration` after `now` on the store's clock, if it stays within it.
fn later(now: u64, duration: Duration) -> Option<u64> {
    now.checked_add(u64::try_from(duration.as_nanos()).ok()?)
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
            completions: 0,
        }
    }

    /// Queues `key`, done by `completion`, for eviction: the queue shares
    /// the table's copy of the id.
    fn queue(&mut self, key: Arc<str>, completion: u64) {
        self.completed.push_back((key, completion));
        // Keep the queue bounded by dropping the records of ids whose
        // entry changed since.
        if self.completed.len() > self.capacity.saturating_mul(2) {
            let entries = &self.entries;
            self.completed
                .retain(|(id, completion)| is_completion(entries, id, *completion));
        }
    }

    /// Frees a slot for a new entry if the store is full: the oldest
    /// completed delivery goes first (with one retention for all, also the
    /// first to expire); claims whose lease ran out go when only claims
    /// are left.
    fn make_room(&mut self, now: u64) -> Result<(), StoreError> {
        while self.entries.len() >= self.capacity {
            match self.completed.pop_front() {
                // Skip records of ids whose entry changed since.
                Some((id, completion)) => {
                    if is_completion(&self.entries, &id, completion) {
                        self.entries.remove(&id);
                    }
                }
                None => {
                    self.entries.retain(|_, entry| entry.get().is_live(now));
                    if self.entries.len() >= self.capacity {
                        return Err(StoreError::new("memory store full of claims in progress"));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether `id` is still done by its `completion`.
fn is_completion(entries: &HashMap<Arc<str>, Cell<Entry>>, id: &str, completion: u64) -> bool {
    entries.get(id).map(|entry| entry.get().held()) == Some(Held::Done { completion })
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
    fn a_late_completion_of_a_forgotten_claim_still_keeps_the_bound() {
        let store = MemoryStore::with_capacity(1);
        block_on(async {
            let Claim::Acquired(late) = store.claim(&id("a"), Duration::from_millis(20)).await.unwrap() else {
                panic!()
            };
            tokio::time::sleep(Duration::from_millis(60)).await;
            // The expired claim makes room for a new one.
            let Claim::Acquired(_held) = store.claim(&id("b"), DEFAULT_LEASE).await.unwrap() else {
                panic!()
            };
            // No room for the late completion beside a live claim: refused, not squeezed in.
            assert!(store.complete(&late, DEFAULT_RETENTION).await.is_err());
            assert_eq!(store.len(), 1);
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

//! The in-memory store, for a single server instance.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::future::{Future, ready};
use std::hash::{BuildHasher, Hash, Hasher};
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
/// Bounded: it never remembers more than `capacity` deliveries. When
/// full, it forgets the oldest eighth of them at once (by when they were
/// first remembered; their claims still in progress are kept), so a full
/// store always remembers at least the newest 7/8 of its capacity. A store
/// of 1024 or more is split into 16 parts by `webhook-id`, each with its
/// own lock and a 16th of the capacity (the parts' shares add up to
/// `capacity` exactly); forgetting is then by part. A store full of claims
/// in progress refuses new ones with a [`StoreError`] rather than guess.
///
/// It keeps a 128-bit fingerprint of each `webhook-id`, not the id: two
/// keyed SipHash-1-3 hashes under keys drawn at random when the store is
/// made, so no sender can aim two ids at one fingerprint. Two different
/// ids would be taken for one delivery with a chance of about one in
/// 10^32 per delivery against a million remembered ones.
///
/// # Sizing
///
/// To remember every delivery for as long as Yoco retries it (about 28
/// hours, 100 800 s, the default retention), the capacity must be 8/7 ×
/// deliveries per second × 100 800 at your busiest sustained rate (8/7
/// since a full store forgets an eighth at once): the default of 100 000
/// covers 0.87 deliveries a second. A store that is too small forgets the
/// oldest deliveries first, so a late retry of one of them is processed
/// again.
///
/// A store of 1000 or more takes 40 to 80 bytes per delivery it can
/// remember, whatever the ids' length, depending on how the capacity falls
/// against the hash tables' power-of-two sizes (`tests/it/memory_size.rs`
/// measures it): 4.3 MB at the default capacity, reserved when the store
/// is made and touched as deliveries come. 10 deliveries a second for 28
/// hours (a capacity of 1 152 000) take 45 to 90 MB, 100 a second ten
/// times that; beyond that, prefer a shared store.
pub struct MemoryStore {
    shards: Box<[Mutex<State>]>,
    capacity: usize,
    fingerprints: Fingerprints,
    next_owner: AtomicU64,
    /// The store's clock starts here: times are nanoseconds since.
    start: Instant,
}

/// A delivery's key: two independent keyed hashes of its `webhook-id`.
/// `table` places it in its part's table, `check` picks the part and
/// tells apart ids whose `table` hashes meet.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    table: u64,
    check: u64,
}

/// A fingerprint is already a keyed hash: the table uses it as it is.
impl Hash for Fingerprint {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.table);
    }
}

/// The two hash keys of a store.
struct Fingerprints {
    table: RandomState,
    check: RandomState,
}

impl Fingerprints {
    fn new() -> Self {
        // Each `RandomState` draws its own keys.
        Self {
            table: RandomState::new(),
            check: RandomState::new(),
        }
    }

    fn of(&self, webhook_id: &WebhookId) -> Fingerprint {
        let id = webhook_id.as_bytes();
        Fingerprint {
            table: self.table.hash_one(id),
            check: self.check.hash_one(id),
        }
    }
}

/// The hasher of the tables, which are keyed by [`Fingerprint`]s: the
/// fingerprint's `table` hash as it is.
#[derive(Clone, Copy, Default)]
struct FingerprintHasher(u64);

impl Hasher for FingerprintHasher {
    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }

    /// Unused: fingerprints hash through `write_u64`. Mixes anything else
    /// in, so that the hasher is still a hasher.
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl BuildHasher for FingerprintHasher {
    type Hasher = Self;

    fn build_hasher(&self) -> Self {
        Self(0)
    }
}

/// A table of remembered deliveries, keyed by fingerprint.
type Table = HashMap<Fingerprint, Entry, FingerprintHasher>;

/// One part of the store: its deliveries in [`GENERATIONS`] tables by
/// the time they were first remembered, the newest taking new ones. When
/// it is full, the oldest table is emptied at once (its live claims kept)
/// and takes the new ones in turn: entries are never removed one by one,
/// so a table never fills with the tombstones that make a hash table
/// under steady churn double its size.
struct State {
    /// This part's share of the store's capacity: the shares add up to
    /// exactly the capacity.
    capacity: usize,
    /// The most deliveries one table takes before the next is used.
    per_table: usize,
    tables: Box<[Table]>,
    /// The index of the table that takes new deliveries; the one after it
    /// (wrapping) is the oldest.
    newest: usize,
}

/// What the store knows of a delivery, in 16 bytes: until when it holds
/// (nanoseconds on the store's clock), and the claim's owner, or [`DONE`].
#[derive(Clone, Copy)]
struct Entry {
    until: u64,
    held: u64,
}

/// [`Entry::held`] of a completed delivery. Owners use the 63 bits below
/// it.
const DONE: u64 = 1 << 63;

/// An [`Entry`]'s state, unpacked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Held {
    Claimed { owner: u64 },
    Done,
}

impl Entry {
    fn claimed(owner: u64, until: u64) -> Self {
        Self {
            until,
            held: owner & !DONE,
        }
    }

    fn done(until: u64) -> Self {
        Self { until, held: DONE }
    }

    fn held(self) -> Held {
        if self.held & DONE == 0 {
            Held::Claimed { owner: self.held }
        } else {
            Held::Done
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
            fingerprints: Fingerprints::new(),
            // Owners count from 1 within 63 bits (see `Entry`).
            next_owner: AtomicU64::new(1),
            start: Instant::now(),
        }
    }

    /// How many deliveries are remembered now (claimed or done).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().map_or(0, |state| state.len()))
            .sum()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The locked part that holds `key`.
    fn shard(&self, key: Fingerprint) -> Result<MutexGuard<'_, State>, StoreError> {
        let index = key
            .check
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
        let key = self.fingerprints.of(webhook_id);
        let until = later(now, lease).ok_or_else(|| StoreError::configuration("lease too long"))?;
        let mut state = self.shard(key)?;
        if let Some((table, entry)) = state.find(key) {
            if entry.is_live(now) {
                return Ok(match entry.held() {
                    Held::Done => Claim::Done,
                    Held::Claimed { .. } => Claim::InProgress,
                });
            }
            // Expired: the new claim is remembered as new.
            state.remove(table, key);
        }
        let owner = self.next_owner.fetch_add(1, Ordering::Relaxed) & !DONE;
        state.insert(key, Entry::claimed(owner, until), now)?;
        Ok(Claim::Acquired(ClaimToken::numbered(webhook_id.clone(), owner)))
    }

    fn complete_now(&self, token: &ClaimToken, retention: Duration) -> Result<(), StoreError> {
        let now = self.now();
        let key = self.fingerprints.of(token.webhook_id());
        let until = later(now, retention).ok_or_else(|| StoreError::configuration("retention too long"))?;
        let mut state = self.shard(key)?;
        let done = Entry::done(until);
        let Some((table, entry)) = state.find(key) else {
            // Forgotten while our lease had run out: it takes a place again.
            return state.insert(key, done, now);
        };
        match (entry.held(), entry.is_live(now)) {
            (Held::Claimed { owner }, _) if holds(owner, token) => {}
            // Our lease ran out and nobody else claimed: still ours to record.
            (Held::Claimed { .. }, false) => {}
            // Another attempt took over after our lease and finished: done either way.
            (Held::Done, true) => return Ok(()),
            (Held::Done, false) => {}
            (Held::Claimed { .. }, true) => {
                return Err(StoreError::new("the claim is held by another attempt"));
            }
        }
        state.set(table, key, done);
        Ok(())
    }

    fn release_now(&self, token: &ClaimToken) -> Result<(), StoreError> {
        let key = self.fingerprints.of(token.webhook_id());
        let mut state = self.shard(key)?;
        if let Some((table, entry)) = state.find(key)
            && let Held::Claimed { owner } = entry.held()
            && holds(owner, token)
        {
            state.remove(table, key);
        }
        Ok(())
    }
}

/// `duration` after `now` on the store's clock, if it stays within it.
fn later(now: u64, duration: Duration) -> Option<u64> {
    now.checked_add(u64::try_from(duration.as_nanos()).ok()?)
}

/// Whether `token` is the claim of `owner`.
fn holds(owner: u64, token: &ClaimToken) -> bool {
    token.owner().parse::<u64>() == Ok(owner)
}

/// Tables per part: when full, a part forgets its oldest eighth at once,
/// so it always remembers at least 7/8 of its share.
const GENERATIONS: usize = 8;

impl State {
    fn new(capacity: usize) -> Self {
        let tables = GENERATIONS.min(capacity).max(1);
        let per_table = capacity.div_ceil(tables).max(1);
        Self {
            capacity,
            per_table,
            // Each table at its full size from the start, so that none
            // grows (and rehashes) under a request: the memory is reserved
            // now and used as deliveries come.
            tables: (0..tables)
                .map(|_| HashMap::with_capacity_and_hasher(per_table, FingerprintHasher::default()))
                .collect(),
            newest: 0,
        }
    }

    fn len(&self) -> usize {
        self.tables.iter().map(HashMap::len).sum()
    }

    /// The table holding `key` and its entry, newest first.
    fn find(&self, key: Fingerprint) -> Option<(usize, Entry)> {
        let count = self.tables.len();
        (0..count).find_map(|back| {
            // `back` < `count`: from the newest table backwards, wrapping.
            let index = self.newest.wrapping_add(count).wrapping_sub(back).checked_rem(count)?;
            self.tables.get(index)?.get(&key).map(|entry| (index, *entry))
        })
    }

    fn set(&mut self, table: usize, key: Fingerprint, entry: Entry) {
        if let Some(slot) = self.tables.get_mut(table).and_then(|table| table.get_mut(&key)) {
            *slot = entry;
        }
    }

    fn remove(&mut self, table: usize, key: Fingerprint) {
        if let Some(table) = self.tables.get_mut(table) {
            table.remove(&key);
        }
    }

    /// Remembers a delivery that is in no table, making room if the part
    /// is full: the oldest table is emptied of all but live claims, and
    /// takes new deliveries from then on. Refuses when every table is
    /// full of live claims.
    fn insert(&mut self, key: Fingerprint, entry: Entry, now: u64) -> Result<(), StoreError> {
        let count = self.tables.len();
        let mut emptied = 0;
        while self.len() >= self.capacity
            || self
                .tables
                .get(self.newest)
                .is_none_or(|table| table.len() >= self.per_table)
        {
            if emptied == count {
                return Err(StoreError::new("memory store full of claims in progress"));
            }
            self.newest = self.newest.wrapping_add(1).checked_rem(count).unwrap_or(0);
            if let Some(oldest) = self.tables.get_mut(self.newest) {
                empty_but_live_claims(oldest, now);
            }
            emptied = emptied.saturating_add(1);
        }
        if let Some(table) = self.tables.get_mut(self.newest) {
            table.insert(key, entry);
        }
        Ok(())
    }
}

/// Empties `table` but for its live claims, which a store never forgets:
/// cleared whole, then the claims (usually none) put back, so that no
/// tombstones are left behind.
fn empty_but_live_claims(table: &mut Table, now: u64) {
    let claims: Vec<(Fingerprint, Entry)> = table
        .iter()
        .filter(|(_, entry)| matches!(entry.held(), Held::Claimed { .. }) && entry.is_live(now))
        .map(|(key, entry)| (*key, *entry))
        .collect();
    table.clear();
    table.extend(claims);
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
            assert!(store.len() * 8 >= capacity * 7, "every part fills: {}", store.len());
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
            assert!(store.len() * 8 >= 2048 * 7, "every part fills: {}", store.len());
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

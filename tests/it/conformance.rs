//! The [`IdempotencyStore`] contract, checked by the public
//! `testing::check_store`: the in-memory store here, Redis and PostgreSQL
//! in their own modules. And the check itself checked: a store with one
//! flaw per promise of the contract, each caught as the matching
//! [`ContractViolation`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use yoco_webhooks::WebhookId;
use yoco_webhooks::dedup::{Claim, ClaimToken, IdempotencyStore, MemoryStore, StoreError};
use yoco_webhooks::testing::{ContractViolation, StoreCheck, check_store};

/// Fails the test with the violation's message, which names the broken
/// promise and the store's answer.
pub(crate) fn passed(check: Result<(), ContractViolation>) {
    if let Err(violation) = check {
        panic!("{violation}");
    }
}

#[tokio::test]
async fn the_memory_store_keeps_the_contract() {
    let store = MemoryStore::default();
    passed(check_store(&store).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_memory_store_keeps_the_contract() {
    // Small enough that the check's own deliveries make it evict.
    let store = MemoryStore::with_capacity(12);
    passed(check_store(&store).await);
    // Full, less the part it forgot at once (8 tables of 2 for 12: one table).
    assert!((10..=12).contains(&store.len()), "{}", store.len());
}

#[tokio::test]
async fn the_check_waits_with_the_callers_timer_under_the_callers_prefix() {
    let store = MemoryStore::default();
    let waits = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&waits);
    let check = StoreCheck::with_sleep(move |duration| {
        recorded.lock().unwrap().push(duration);
        tokio::time::sleep(duration)
    })
    .prefix("given")
    .expiring_lease(Duration::from_millis(50), Duration::from_millis(150));
    passed(check.run(&store).await);
    assert_eq!(
        *waits.lock().unwrap(),
        [Duration::from_millis(150)],
        "one wait, on our timer"
    );
    assert_eq!(
        store
            .claim(&WebhookId::new("given-once"), Duration::from_secs(1))
            .await
            .unwrap(),
        Claim::Done,
        "the deliveries are named under the prefix"
    );
}

/// One way to break the contract: each is a store that keeps every other
/// promise, so that the check must name this one.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Flaw {
    /// Every call fails.
    Unavailable,
    /// A claim of a fresh delivery says it is in progress.
    NeverAcquires,
    /// The token names another delivery.
    TokenForAnotherDelivery,
    /// A claim always acquires, even over a live one.
    AlwaysAcquires,
    /// Completing says Ok but records nothing.
    ForgetsCompletion,
    /// A second completion is an error.
    CompletesOnce,
    /// Releasing does nothing.
    IgnoresRelease,
    /// Every claim gets the same owner token.
    OneOwnerForAll,
    /// Anyone's token completes a live claim.
    AnyoneCompletes,
    /// Another owner's completion is an error, but completes anyway.
    ImpostorErrsButCompletes,
    /// Anyone's token releases a live claim.
    AnyoneReleases,
    /// Claims never run out.
    LeasesNeverRunOut,
    /// A claim's past owners complete it.
    PastOwnersComplete,
    /// A claim's past owners release it.
    PastOwnersRelease,
    /// Completing a delivery another owner completed is an error.
    LateCompletionFails,
    /// A claim checks, waits, then takes: concurrent claims all win.
    CheckThenAct,
    /// Ids that differ only in case share an entry.
    FoldsCase,
    /// Ids are cut to 255 bytes.
    CutsLongIds,
}

/// A store keeping the contract, but for its `flaw`.
#[derive(Default)]
struct Flawed {
    flaw: Option<Flaw>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    next_owner: u64,
}

struct Entry {
    /// The current owner, or who completed it.
    owner: u64,
    until: Instant,
    done: bool,
    past_owners: Vec<u64>,
}

impl Flawed {
    fn with(flaw: Flaw) -> Self {
        Self {
            flaw: Some(flaw),
            ..Self::default()
        }
    }

    fn has(&self, flaw: Flaw) -> bool {
        self.flaw == Some(flaw)
    }

    fn key(&self, id: &WebhookId) -> String {
        match self.flaw {
            Some(Flaw::FoldsCase) => id.as_str().to_lowercase(),
            Some(Flaw::CutsLongIds) => id.as_str().chars().take(255).collect(),
            _ => id.as_str().to_owned(),
        }
    }

    fn unavailable(&self) -> Result<(), StoreError> {
        if self.has(Flaw::Unavailable) {
            return Err(StoreError::new("down"));
        }
        Ok(())
    }

    /// What a claim of `key` answers now, if not `Acquired`.
    fn answer(&self, key: &str) -> Option<Claim> {
        let state = self.state.lock().unwrap();
        let entry = state.entries.get(key)?;
        let live = entry.until > Instant::now() || (!entry.done && self.has(Flaw::LeasesNeverRunOut));
        match (live, entry.done) {
            (true, true) => Some(Claim::Done),
            (true, false) if !self.has(Flaw::AlwaysAcquires) => Some(Claim::InProgress),
            _ => None,
        }
    }

    fn acquire(&self, id: &WebhookId, key: String, lease: Duration) -> Claim {
        let mut state = self.state.lock().unwrap();
        state.next_owner += 1;
        let owner = if self.has(Flaw::OneOwnerForAll) {
            1
        } else {
            state.next_owner
        };
        let mut past_owners = state
            .entries
            .remove(&key)
            .map(|entry| entry.past_owners)
            .unwrap_or_default();
        past_owners.push(owner);
        state.entries.insert(
            key,
            Entry {
                owner,
                until: Instant::now() + lease,
                done: false,
                past_owners,
            },
        );
        let named = if self.has(Flaw::TokenForAnotherDelivery) {
            WebhookId::new("another")
        } else {
            id.clone()
        };
        Claim::Acquired(ClaimToken::new(named, owner.to_string()))
    }
}

impl IdempotencyStore for Flawed {
    async fn claim(&self, webhook_id: &WebhookId, lease: Duration) -> Result<Claim, StoreError> {
        self.unavailable()?;
        if self.has(Flaw::NeverAcquires) {
            return Ok(Claim::InProgress);
        }
        let key = self.key(webhook_id);
        if let Some(answer) = self.answer(&key) {
            return Ok(answer);
        }
        if self.has(Flaw::CheckThenAct) {
            tokio::task::yield_now().await;
        }
        Ok(self.acquire(webhook_id, key, lease))
    }

    async fn complete(&self, token: &ClaimToken, retention: Duration) -> Result<(), StoreError> {
        self.unavailable()?;
        let owner: u64 = token.owner().parse().unwrap_or(0);
        let now = Instant::now();
        let mut state = self.state.lock().unwrap();
        let entry = state.entries.get_mut(&self.key(token.webhook_id()));
        let mut answer = Ok(());
        match entry {
            Some(entry) if entry.done && entry.until > now => {
                let moot = entry.owner == owner && !self.has(Flaw::CompletesOnce);
                let late = entry.owner != owner && !self.has(Flaw::LateCompletionFails);
                return if moot || late {
                    Ok(())
                } else {
                    Err(StoreError::new("done"))
                };
            }
            Some(entry) if !entry.done && entry.until > now && entry.owner != owner => {
                let past = self.has(Flaw::PastOwnersComplete) && entry.past_owners.contains(&owner);
                if !(self.has(Flaw::AnyoneCompletes) || self.has(Flaw::ImpostorErrsButCompletes) || past) {
                    return Err(StoreError::new("held by another owner"));
                }
                if self.has(Flaw::ImpostorErrsButCompletes) {
                    answer = Err(StoreError::new("held by another owner"));
                }
            }
            _ => {}
        }
        if self.has(Flaw::ForgetsCompletion) {
            return Ok(());
        }
        let key = self.key(token.webhook_id());
        let entry = state.entries.entry(key).or_insert(Entry {
            owner,
            until: now,
            done: false,
            past_owners: vec![owner],
        });
        (entry.owner, entry.until, entry.done) = (owner, now + retention, true);
        answer
    }

    async fn release(&self, token: &ClaimToken) -> Result<(), StoreError> {
        self.unavailable()?;
        if self.has(Flaw::IgnoresRelease) {
            return Ok(());
        }
        let owner: u64 = token.owner().parse().unwrap_or(0);
        let key = self.key(token.webhook_id());
        let mut state = self.state.lock().unwrap();
        if let Some(entry) = state.entries.get(&key)
            && !entry.done
            && (entry.owner == owner
                || self.has(Flaw::AnyoneReleases)
                || (self.has(Flaw::PastOwnersRelease) && entry.past_owners.contains(&owner)))
        {
            state.entries.remove(&key);
        }
        Ok(())
    }
}

type Caught = fn(&ContractViolation) -> bool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_catches_every_broken_promise() {
    use ContractViolation as V;
    let table: [(Flaw, Caught); 18] = [
        (Flaw::Unavailable, |v| matches!(v, V::Failed { step: "a claim", .. })),
        (Flaw::NeverAcquires, |v| {
            matches!(
                v,
                V::FreshClaimRefused {
                    answer: Claim::InProgress,
                    ..
                }
            )
        }),
        (
            Flaw::TokenForAnotherDelivery,
            |v| matches!(v, V::TokenForAnotherDelivery { token_webhook_id, .. } if token_webhook_id == "another"),
        ),
        (Flaw::AlwaysAcquires, |v| {
            matches!(
                v,
                V::LiveClaimNotHeld {
                    answer: Claim::Acquired(_),
                    ..
                }
            )
        }),
        (Flaw::ForgetsCompletion, |v| {
            matches!(
                v,
                V::CompletedNotDone {
                    answer: Claim::InProgress,
                    ..
                }
            )
        }),
        (Flaw::CompletesOnce, |v| matches!(v, V::SecondCompletionRefused { .. })),
        (Flaw::IgnoresRelease, |v| {
            matches!(
                v,
                V::ReleasedNotFree {
                    answer: Claim::InProgress,
                    ..
                }
            )
        }),
        (
            Flaw::OneOwnerForAll,
            |v| matches!(v, V::OwnerReused { owner, .. } if owner == "1"),
        ),
        (Flaw::AnyoneCompletes, |v| matches!(v, V::ImpostorCompleted { .. })),
        (Flaw::ImpostorErrsButCompletes, |v| {
            matches!(
                v,
                V::ImpostorChangedClaim {
                    call: "complete",
                    answer: Claim::Done,
                    ..
                }
            )
        }),
        (Flaw::AnyoneReleases, |v| {
            matches!(
                v,
                V::ImpostorChangedClaim {
                    call: "release",
                    answer: Claim::Acquired(_),
                    ..
                }
            )
        }),
        (Flaw::LeasesNeverRunOut, |v| {
            matches!(
                v,
                V::ExpiredLeaseHeld {
                    answer: Claim::InProgress,
                    ..
                }
            )
        }),
        (Flaw::PastOwnersComplete, |v| matches!(v, V::LateOwnerCompleted { .. })),
        (Flaw::PastOwnersRelease, |v| {
            matches!(
                v,
                V::LateOwnerChangedClaim {
                    call: "release",
                    answer: Claim::Acquired(_),
                    ..
                }
            )
        }),
        (Flaw::LateCompletionFails, |v| {
            matches!(v, V::LateCompletionRefused { .. })
        }),
        (Flaw::CheckThenAct, |v| {
            matches!(
                v,
                V::ConcurrentClaims {
                    attempts: 32,
                    acquired: 32,
                    done: 0,
                    ..
                }
            )
        }),
        (Flaw::FoldsCase, |v| {
            matches!(v, V::IdsNotIndependent { webhook_id, expected: "acquired", answer: Claim::InProgress }
                if webhook_id.as_str().ends_with("-Opaque"))
        }),
        (Flaw::CutsLongIds, |v| {
            matches!(v, V::IdsNotIndependent { webhook_id, expected: "acquired", answer: Claim::InProgress }
                if webhook_id.as_str().ends_with("xy"))
        }),
    ];
    // Without a flaw the store passes: what the check finds below is the flaw.
    check_store(&Flawed::default())
        .await
        .unwrap_or_else(|violation| panic!("the reference store: {violation}"));
    // All at once: many of them wait for a lease to run out.
    let mut checks = tokio::task::JoinSet::new();
    for (flaw, caught) in table {
        checks.spawn(async move { (flaw, caught, check_store(&Flawed::with(flaw)).await) });
    }
    while let Some(checked) = checks.join_next().await {
        match checked.unwrap() {
            (flaw, caught, Err(violation)) => assert!(caught(&violation), "{flaw:?} gave: {violation:?}"),
            (flaw, _, Ok(())) => panic!("{flaw:?} passed the check"),
        }
    }
}

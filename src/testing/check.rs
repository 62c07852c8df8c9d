//! The store contract as one suite: [`check_store`], and [`StoreCheck`] to
//! choose its ids, its lease and how it waits.

use std::collections::HashSet;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::BuildHasher as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::join_all;

use super::ContractViolation;
use crate::dedup::{Claim, ClaimToken, IdempotencyStore};
use crate::ids::WebhookId;

/// The lease of the claims that must hold throughout a check.
const LEASE: Duration = Duration::from_secs(60);
/// How long completed deliveries are remembered.
const RETENTION: Duration = Duration::from_secs(60 * 60);
/// The default lease that runs out within the check.
const SHORT_LEASE: Duration = Duration::from_millis(200);
/// How long the check waits for [`SHORT_LEASE`] to run out by default: long
/// enough past it for any store's clock.
const PAST_SHORT_LEASE: Duration = Duration::from_millis(700);
/// Claims of one delivery in flight at once.
const ATTEMPTS: usize = 32;

/// Checks `store` against every promise of the
/// [`IdempotencyStore`] contract (listed in the [module docs](super)), with
/// ids of its own that no earlier run used, and a real wait of 0.7 s for a
/// 0.2 s lease to run out.
///
/// Runs on the caller's task, whatever the runtime; a helper thread ends
/// the wait. [`StoreCheck`] sets the ids' prefix, the lease and the wait.
///
/// # Errors
/// The first [`ContractViolation`] found: the promise broken, the delivery
/// and what the store answered. A store that cannot answer at all (down,
/// misconfigured) fails with [`ContractViolation::Failed`].
///
/// ```
/// use yoco_webhooks::dedup::MemoryStore;
/// use yoco_webhooks::testing::check_store;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let store = MemoryStore::default(); // in your test: your store, on a test database
/// if let Err(violation) = check_store(&store).await {
///     panic!("{violation}");
/// }
/// # });
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub async fn check_store<S: IdempotencyStore + ?Sized>(store: &S) -> Result<(), ContractViolation> {
    StoreCheck::new().run(store).await
}

/// The store check with its settings: the ids' prefix, the lease that runs
/// out and how long to wait for it, and how to wait. [`check_store`] is
/// `StoreCheck::new().run(store)`.
///
/// ```
/// use std::time::Duration;
/// use yoco_webhooks::dedup::MemoryStore;
/// use yoco_webhooks::testing::StoreCheck;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// // A store whose clock counts whole seconds, waiting on the runtime's
/// // timer, under a prefix of the CI job's.
/// let check = StoreCheck::with_sleep(tokio::time::sleep)
///     .prefix("ci-job-4242")
///     .expiring_lease(Duration::from_secs(1), Duration::from_millis(2500));
/// check.run(&MemoryStore::default()).await?;
/// # Ok::<(), yoco_webhooks::testing::ContractViolation>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct StoreCheck {
    prefix: String,
    short_lease: Duration,
    wait: Duration,
    sleep: Sleep,
}

/// How the check waits for a lease to run out.
enum Sleep {
    /// On a helper thread.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    Thread,
    /// With the caller's timer.
    Caller(Box<dyn Fn(Duration) -> SleepFuture + Send + Sync>),
}

/// One wait of the caller's timer.
type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

impl StoreCheck {
    /// The check with a fresh prefix, a 0.2 s lease to run out, 0.7 s to
    /// wait for it, waiting on a helper thread.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn new() -> Self {
        Self::waiting_with(Sleep::Thread)
    }

    /// The check waiting with `sleep`, the runtime's timer (such as
    /// `tokio::time::sleep` or `async_std::task::sleep`): for targets
    /// without threads (`wasm32-unknown-unknown`), or to use no helper
    /// thread.
    pub fn with_sleep<F, Fut>(sleep: F) -> Self
    where
        F: Fn(Duration) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self::waiting_with(Sleep::Caller(Box::new(move |duration| Box::pin(sleep(duration)))))
    }

    fn waiting_with(sleep: Sleep) -> Self {
        Self {
            prefix: fresh_prefix(),
            short_lease: SHORT_LEASE,
            wait: PAST_SHORT_LEASE,
            sleep,
        }
    }

    /// Names the check's deliveries `{prefix}-once`, `{prefix}-race`, and
    /// so on, instead of a fresh prefix: give each run its own, or a store
    /// that persists will find the last run's deliveries.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Claims with `lease` the delivery whose lease must run out, and waits
    /// `wait` before claiming it again (default: 0.2 s and 0.7 s). `wait`
    /// must cover the lease and the store's clock: its resolution, and the
    /// skew between the store's servers.
    #[must_use]
    pub fn expiring_lease(mut self, lease: Duration, wait: Duration) -> Self {
        self.short_lease = lease;
        self.wait = wait;
        self
    }

    /// Runs every check against `store`, on the caller's task.
    ///
    /// # Errors
    /// The first [`ContractViolation`] found, as for [`check_store`].
    pub async fn run<S: IdempotencyStore + ?Sized>(&self, store: &S) -> Result<(), ContractViolation> {
        let id = |name: &str| WebhookId::new(format!("{}-{name}", self.prefix));
        claimed_once_then_done(store, &id("once")).await?;
        completing_twice_is_ok(store, &id("twice")).await?;
        release_lets_the_next_attempt_in(store, &id("release")).await?;
        only_the_owner_completes_or_releases(store, &id("owner")).await?;
        self.an_expired_lease_is_taken_over(store, &id("lease")).await?;
        concurrent_claims_have_one_winner(store, &id("race")).await?;
        ids_are_opaque_and_independent(store, &self.prefix).await
    }

    async fn sleep(&self, duration: Duration) {
        match &self.sleep {
            #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
            Sleep::Thread => super::wait::ThreadSleep::new(duration).await,
            Sleep::Caller(sleep) => sleep(duration).await,
        }
    }

    /// A claim whose process died runs out, and its late owner can no
    /// longer complete or release what the next owner holds; once the next
    /// owner completed, the late completion is moot, not an error.
    async fn an_expired_lease_is_taken_over<S: IdempotencyStore + ?Sized>(
        &self,
        store: &S,
        id: &WebhookId,
    ) -> Result<(), ContractViolation> {
        let dead = acquire(store, id, self.short_lease, fresh).await?;
        self.sleep(self.wait).await;
        let next = acquire(store, id, LEASE, |webhook_id, answer| {
            ContractViolation::ExpiredLeaseHeld { webhook_id, answer }
        })
        .await?;
        distinct_owners(&dead, &next)?;
        a_stranger_changes_nothing(
            store,
            &dead,
            ContractViolation::LateOwnerCompleted { webhook_id: id.clone() },
            |call, webhook_id, answer| ContractViolation::LateOwnerChangedClaim {
                call,
                webhook_id,
                answer,
            },
        )
        .await?;
        complete(store, &next).await?;
        expect(store, id, Claim::Done, completed_not_done).await?;
        store
            .complete(&dead, RETENTION)
            .await
            .map_err(|source| ContractViolation::LateCompletionRefused {
                webhook_id: id.clone(),
                source,
            })?;
        expect(store, id, Claim::Done, completed_not_done).await
    }
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
impl Default for StoreCheck {
    /// [`StoreCheck::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for StoreCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreCheck")
            .field("prefix", &self.prefix)
            .field("short_lease", &self.short_lease)
            .field("wait", &self.wait)
            .field(
                "sleep",
                &match self.sleep {
                    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
                    Sleep::Thread => "helper thread",
                    Sleep::Caller(_) => "caller's",
                },
            )
            .finish()
    }
}

/// A prefix no other run uses: a counter for the runs in this process, and
/// for other processes, std's per-process random hash keys (seeded by the
/// operating system; fixed on `wasm32-unknown-unknown`, where a store that
/// persists needs [`StoreCheck::prefix`]).
fn fresh_prefix() -> String {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    format!("check-{:016x}-{run}", RandomState::new().hash_one(run))
}

/// Claims `id`, which must be acquired with a token naming it; `refused`
/// says which promise another answer breaks.
async fn acquire<S: IdempotencyStore + ?Sized>(
    store: &S,
    id: &WebhookId,
    lease: Duration,
    refused: impl FnOnce(WebhookId, Claim) -> ContractViolation,
) -> Result<ClaimToken, ContractViolation> {
    match claim(store, id, lease).await? {
        Claim::Acquired(token) if token.webhook_id() == id => Ok(token),
        Claim::Acquired(token) => Err(ContractViolation::TokenForAnotherDelivery {
            webhook_id: id.clone(),
            token_webhook_id: token.webhook_id().clone(),
        }),
        answer => Err(refused(id.clone(), answer)),
    }
}

/// Claims `id`, which must answer `expected` (done or in progress);
/// `otherwise` says which promise another answer breaks.
async fn expect<S: IdempotencyStore + ?Sized>(
    store: &S,
    id: &WebhookId,
    expected: Claim,
    otherwise: impl FnOnce(WebhookId, Claim) -> ContractViolation,
) -> Result<(), ContractViolation> {
    let answer = claim(store, id, LEASE).await?;
    if std::mem::discriminant(&answer) == std::mem::discriminant(&expected) {
        Ok(())
    } else {
        Err(otherwise(id.clone(), answer))
    }
}

async fn claim<S: IdempotencyStore + ?Sized>(
    store: &S,
    id: &WebhookId,
    lease: Duration,
) -> Result<Claim, ContractViolation> {
    store
        .claim(id, lease)
        .await
        .map_err(|source| ContractViolation::Failed {
            step: "a claim",
            webhook_id: id.clone(),
            source,
        })
}

async fn complete<S: IdempotencyStore + ?Sized>(store: &S, token: &ClaimToken) -> Result<(), ContractViolation> {
    store
        .complete(token, RETENTION)
        .await
        .map_err(|source| ContractViolation::Failed {
            step: "the owner's completion",
            webhook_id: token.webhook_id().clone(),
            source,
        })
}

fn fresh(webhook_id: WebhookId, answer: Claim) -> ContractViolation {
    ContractViolation::FreshClaimRefused { webhook_id, answer }
}

fn completed_not_done(webhook_id: WebhookId, answer: Claim) -> ContractViolation {
    ContractViolation::CompletedNotDone { webhook_id, answer }
}

fn distinct_owners(first: &ClaimToken, second: &ClaimToken) -> Result<(), ContractViolation> {
    if first.owner() == second.owner() {
        return Err(ContractViolation::OwnerReused {
            webhook_id: second.webhook_id().clone(),
            owner: second.owner().to_owned(),
        });
    }
    Ok(())
}

/// Claim, refuse a second claim while live, complete, then say done.
async fn claimed_once_then_done<S: IdempotencyStore + ?Sized>(
    store: &S,
    id: &WebhookId,
) -> Result<(), ContractViolation> {
    let token = acquire(store, id, LEASE, fresh).await?;
    expect(store, id, Claim::InProgress, |webhook_id, answer| {
        ContractViolation::LiveClaimNotHeld { webhook_id, answer }
    })
    .await?;
    complete(store, &token).await?;
    expect(store, id, Claim::Done, completed_not_done).await?;
    expect(store, id, Claim::Done, completed_not_done).await
}

/// Completing is idempotent: a second completion (a retried call whose
/// answer was lost) is Ok and the delivery stays done.
async fn completing_twice_is_ok<S: IdempotencyStore + ?Sized>(
    store: &S,
    id: &WebhookId,
) -> Result<(), ContractViolation> {
    let token = acquire(store, id, LEASE, fresh).await?;
    complete(store, &token).await?;
    store
        .complete(&token, RETENTION)
        .await
        .map_err(|source| ContractViolation::SecondCompletionRefused {
            webhook_id: id.clone(),
            source,
        })?;
    expect(store, id, Claim::Done, completed_not_done).await
}

/// A released claim is acquired again, by a new owner.
async fn release_lets_the_next_attempt_in<S: IdempotencyStore + ?Sized>(
    store: &S,
    id: &WebhookId,
) -> Result<(), ContractViolation> {
    let first = acquire(store, id, LEASE, fresh).await?;
    store
        .release(&first)
        .await
        .map_err(|source| ContractViolation::Failed {
            step: "the owner's release",
            webhook_id: id.clone(),
            source,
        })?;
    let second = acquire(store, id, LEASE, |webhook_id, answer| {
        ContractViolation::ReleasedNotFree { webhook_id, answer }
    })
    .await?;
    distinct_owners(&first, &second)?;
    complete(store, &second).await?;
    expect(store, id, Claim::Done, completed_not_done).await
}

/// A token with another owner changes nothing.
async fn only_the_owner_completes_or_releases<S: IdempotencyStore + ?Sized>(
    store: &S,
    id: &WebhookId,
) -> Result<(), ContractViolation> {
    let token = acquire(store, id, LEASE, fresh).await?;
    let impostor = ClaimToken::new(id.clone(), format!("not-{}", token.owner()));
    a_stranger_changes_nothing(
        store,
        &impostor,
        ContractViolation::ImpostorCompleted { webhook_id: id.clone() },
        |call, webhook_id, answer| ContractViolation::ImpostorChangedClaim {
            call,
            webhook_id,
            answer,
        },
    )
    .await?;
    complete(store, &token).await?;
    expect(store, id, Claim::Done, completed_not_done).await
}

/// While another owner holds the claim, `stranger` cannot complete it
/// (`completed` if it can), and neither its completion nor its release
/// changes the claim (`changed` if they do).
async fn a_stranger_changes_nothing<S: IdempotencyStore + ?Sized>(
    store: &S,
    stranger: &ClaimToken,
    completed: ContractViolation,
    changed: impl Fn(&'static str, WebhookId, Claim) -> ContractViolation,
) -> Result<(), ContractViolation> {
    let id = stranger.webhook_id();
    if store.complete(stranger, RETENTION).await.is_ok() {
        return Err(completed);
    }
    expect(store, id, Claim::InProgress, |webhook_id, answer| {
        changed("complete", webhook_id, answer)
    })
    .await?;
    // Whether the store says it did nothing is its choice.
    let _ = store.release(stranger).await;
    expect(store, id, Claim::InProgress, |webhook_id, answer| {
        changed("release", webhook_id, answer)
    })
    .await
}

/// Many claims in flight at once, on the caller's task: exactly one
/// acquires. (The store's calls interleave where they wait, on the network
/// or a lock; a store whose calls never wait is exercised one call after
/// another, and its atomicity across threads needs a test of its own.)
async fn concurrent_claims_have_one_winner<S: IdempotencyStore + ?Sized>(
    store: &S,
    id: &WebhookId,
) -> Result<(), ContractViolation> {
    let answers = join_all((0..ATTEMPTS).map(|_| claim(store, id, LEASE))).await;
    let mut winners = Vec::new();
    let mut done: usize = 0;
    for answer in answers {
        match answer? {
            Claim::Acquired(token) => winners.push(token),
            Claim::Done => done = done.saturating_add(1),
            Claim::InProgress => {}
        }
    }
    match winners.as_slice() {
        [winner] if done == 0 => complete(store, winner).await,
        _ => Err(ContractViolation::ConcurrentClaims {
            webhook_id: id.clone(),
            attempts: ATTEMPTS,
            acquired: winners.len(),
            done,
        }),
    }
}

/// Ids are opaque text: look-alikes, separators, quotes, long and non-ASCII
/// ids never share an entry, and what is done to one is not done to another.
async fn ids_are_opaque_and_independent<S: IdempotencyStore + ?Sized>(
    store: &S,
    prefix: &str,
) -> Result<(), ContractViolation> {
    let long = "x".repeat(1024);
    let ids = [
        "opaque".to_owned(),
        "opaque:done".to_owned(),
        "opaque:owner".to_owned(),
        "Opaque".to_owned(),
        "opaque ".to_owned(),
        "opaque*".to_owned(),
        "opaque'; drop table x; --".to_owned(),
        "opaque\"\\%_".to_owned(),
        "zoë-☕".to_owned(),
        long.clone(),
        // Differs from the other only in its last byte, past any short cut.
        format!("{long}y"),
    ]
    .map(|name| WebhookId::new(format!("{prefix}-{name}")));
    let not_independent = |expected| {
        move |webhook_id, answer| ContractViolation::IdsNotIndependent {
            webhook_id,
            expected,
            answer,
        }
    };
    let mut owners = HashSet::new();
    let mut tokens = Vec::new();
    for id in &ids {
        let token = acquire(store, id, LEASE, not_independent("acquired")).await?;
        if !owners.insert(token.owner().to_owned()) {
            return Err(ContractViolation::OwnerReused {
                webhook_id: id.clone(),
                owner: token.owner().to_owned(),
            });
        }
        tokens.push(token);
    }
    let [done, released, held @ ..] = &ids;
    if let [done_token, released_token, ..] = tokens.as_slice() {
        complete(store, done_token).await?;
        store
            .release(released_token)
            .await
            .map_err(|source| ContractViolation::Failed {
                step: "the owner's release",
                webhook_id: released.clone(),
                source,
            })?;
    }
    expect(store, done, Claim::Done, not_independent("done")).await?;
    acquire(store, released, LEASE, not_independent("acquired")).await?;
    for id in held {
        expect(store, id, Claim::InProgress, not_independent("in progress")).await?;
    }
    Ok(())
}

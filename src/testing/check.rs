//! The store contract as one suite: [`check_store`], and [`StoreCheck`] to
//! choose its ids, its lease and how it waits.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::BuildHasher as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::ContractViolation;
use super::promises::{
    an_expired_lease_is_taken_over, claimed_once_then_done, completing_twice_is_ok, concurrent_claims_have_one_winner,
    ids_are_opaque_and_independent, only_the_owner_completes_or_releases, release_lets_the_next_attempt_in,
};
use crate::dedup::IdempotencyStore;
use crate::ids::WebhookId;

/// The default lease that runs out within the check.
const SHORT_LEASE: Duration = Duration::from_millis(200);
/// How long the check waits for [`SHORT_LEASE`] to run out by default: long
/// enough past it for any store's clock.
const PAST_SHORT_LEASE: Duration = Duration::from_millis(700);

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
        an_expired_lease_is_taken_over(store, &id("lease"), self.short_lease, self.sleep(self.wait)).await?;
        concurrent_claims_have_one_winner(store, &id("race")).await?;
        ids_are_opaque_and_independent(store, &self.prefix).await
    }

    async fn sleep(&self, duration: Duration) {
        match &self.sleep {
            // A timer thread wakes the task: no runtime needed, and the
            // executor (with the store's own connection tasks) keeps running.
            #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
            Sleep::Thread => futures_timer::Delay::new(duration).await,
            Sleep::Caller(sleep) => sleep(duration).await,
        }
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

//! The [`IdempotencyStore`] contract as one suite, run against every store:
//! the in-memory one here, the shared ones in their own modules. A store
//! passes when [`check_store`] returns.
//!
//! Every check uses ids under a fresh `run` prefix, so that one store (a
//! Redis or PostgreSQL server that outlives the test) can run the suite
//! again without seeing the last run's deliveries.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use yoco_webhooks::WebhookId;
use yoco_webhooks::dedup::{Claim, ClaimToken, IdempotencyStore, MemoryStore};

const LEASE: Duration = Duration::from_secs(60);
const RETENTION: Duration = Duration::from_secs(60 * 60);
/// A lease short enough to run out within a test.
const SHORT_LEASE: Duration = Duration::from_millis(200);
/// Long enough past [`SHORT_LEASE`] for any store's clock.
const PAST_SHORT_LEASE: Duration = Duration::from_millis(700);

/// Runs every check of the contract against `store`, with ids prefixed by
/// `run` (make it unique per run for a store that persists).
pub(crate) async fn check_store<S: IdempotencyStore + 'static>(store: Arc<S>, run: &str) {
    let id = |name: &str| WebhookId::new(format!("{run}-{name}"));
    claimed_once_then_done(&*store, id("once")).await;
    completing_twice_is_ok(&*store, id("twice")).await;
    release_lets_the_next_attempt_in(&*store, id("release")).await;
    only_the_owner_completes_or_releases(&*store, id("owner")).await;
    an_expired_lease_is_taken_over(&*store, id("lease")).await;
    concurrent_claims_have_one_winner(Arc::clone(&store), id("race")).await;
    ids_are_opaque_and_independent(&*store, run).await;
}

async fn acquire<S: IdempotencyStore>(store: &S, id: &WebhookId, lease: Duration) -> ClaimToken {
    match store.claim(id, lease).await {
        Ok(Claim::Acquired(token)) => {
            assert_eq!(token.webhook_id(), id, "the token names the claimed delivery");
            token
        }
        other => panic!("claim of a fresh {id:?} gave {other:?}, expected Acquired"),
    }
}

async fn claim<S: IdempotencyStore>(store: &S, id: &WebhookId) -> Claim {
    store.claim(id, LEASE).await.expect("the store answers")
}

/// Claim, refuse a second claim while live, complete, then say done.
async fn claimed_once_then_done<S: IdempotencyStore>(store: &S, id: WebhookId) {
    let token = acquire(store, &id, LEASE).await;
    assert_eq!(claim(store, &id).await, Claim::InProgress, "a live claim holds");
    store.complete(&token, RETENTION).await.expect("the owner completes");
    assert_eq!(claim(store, &id).await, Claim::Done, "a completed delivery is done");
    assert_eq!(claim(store, &id).await, Claim::Done, "and stays done");
}

/// Completing is idempotent: a second completion (a retried call whose
/// answer was lost) is Ok and the delivery stays done.
async fn completing_twice_is_ok<S: IdempotencyStore>(store: &S, id: WebhookId) {
    let token = acquire(store, &id, LEASE).await;
    store.complete(&token, RETENTION).await.expect("the owner completes");
    store.complete(&token, RETENTION).await.expect("and completes again");
    assert_eq!(claim(store, &id).await, Claim::Done);
}

/// A released claim is acquired again, by a new owner.
async fn release_lets_the_next_attempt_in<S: IdempotencyStore>(store: &S, id: WebhookId) {
    let first = acquire(store, &id, LEASE).await;
    store.release(&first).await.expect("the owner releases");
    let second = acquire(store, &id, LEASE).await;
    assert_ne!(first.owner(), second.owner(), "each claim has its own owner token");
    store
        .complete(&second, RETENTION)
        .await
        .expect("the new owner completes");
    assert_eq!(claim(store, &id).await, Claim::Done);
}

/// A token with another owner changes nothing.
async fn only_the_owner_completes_or_releases<S: IdempotencyStore>(store: &S, id: WebhookId) {
    let token = acquire(store, &id, LEASE).await;
    let impostor = ClaimToken::new(id.clone(), format!("not-{}", token.owner()));
    assert!(
        store.complete(&impostor, RETENTION).await.is_err(),
        "completing another's claim is an error"
    );
    assert_eq!(claim(store, &id).await, Claim::InProgress, "and did not complete it");
    // Releasing another's claim does nothing; whether it says so is the store's choice.
    let _ = store.release(&impostor).await;
    assert_eq!(claim(store, &id).await, Claim::InProgress, "nor release it");
    store
        .complete(&token, RETENTION)
        .await
        .expect("the owner still completes");
    assert_eq!(claim(store, &id).await, Claim::Done);
}

/// A claim whose process died runs out, and its late owner can no longer
/// complete or release what the next owner holds.
async fn an_expired_lease_is_taken_over<S: IdempotencyStore>(store: &S, id: WebhookId) {
    let dead = acquire(store, &id, SHORT_LEASE).await;
    tokio::time::sleep(PAST_SHORT_LEASE).await;
    let next = acquire(store, &id, LEASE).await;
    assert_ne!(dead.owner(), next.owner());
    assert!(
        store.complete(&dead, RETENTION).await.is_err(),
        "the late owner cannot complete a claim now held by another"
    );
    let _ = store.release(&dead).await;
    assert_eq!(claim(store, &id).await, Claim::InProgress, "the new claim holds");
    store.complete(&next, RETENTION).await.expect("the new owner completes");
    assert_eq!(claim(store, &id).await, Claim::Done);
    store
        .complete(&dead, RETENTION)
        .await
        .expect("once the delivery is done, the late owner's completion is moot, not an error");
    assert_eq!(claim(store, &id).await, Claim::Done);
}

/// Many attempts at once, on the runtime's threads: exactly one acquires.
async fn concurrent_claims_have_one_winner<S: IdempotencyStore + 'static>(store: Arc<S>, id: WebhookId) {
    const ATTEMPTS: usize = 32;
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..ATTEMPTS {
        let (store, id) = (Arc::clone(&store), id.clone());
        attempts.spawn(async move { store.claim(&id, LEASE).await });
    }
    let mut acquired = Vec::new();
    while let Some(answer) = attempts.join_next().await {
        match answer.unwrap().expect("the store answers") {
            Claim::Acquired(token) => acquired.push(token),
            Claim::InProgress => {}
            Claim::Done => panic!("nothing completed {id:?} yet"),
        }
    }
    assert_eq!(acquired.len(), 1, "{ATTEMPTS} concurrent claims of one delivery");
    store
        .complete(&acquired[0], RETENTION)
        .await
        .expect("the winner completes");
}

/// Ids are opaque text: look-alikes, separators, long and non-ASCII ids
/// never share an entry.
async fn ids_are_opaque_and_independent<S: IdempotencyStore>(store: &S, run: &str) {
    let names = [
        format!("{run}-opaque"),
        format!("{run}-opaque:done"),
        format!("{run}-opaque:owner"),
        format!("{run}-Opaque"),
        format!("{run}-opaque "),
        format!("{run}-opaque*"),
        format!("{run}-opaque'; drop table x; --"),
        format!("{run}-zoë-☕"),
        format!("{run}-{}", "x".repeat(1024)),
    ];
    let mut owners = HashSet::new();
    let mut tokens = Vec::new();
    for name in &names {
        let token = acquire(store, &WebhookId::new(name.as_str()), LEASE).await;
        assert!(owners.insert(token.owner().to_owned()), "owner tokens are unique");
        tokens.push(token);
    }
    store.complete(&tokens[0], RETENTION).await.expect("completes");
    store.release(&tokens[1]).await.expect("releases");
    assert_eq!(claim(store, &WebhookId::new(names[0].as_str())).await, Claim::Done);
    assert!(matches!(
        claim(store, &WebhookId::new(names[1].as_str())).await,
        Claim::Acquired(_)
    ));
    for name in &names[2..] {
        assert_eq!(
            claim(store, &WebhookId::new(name.as_str())).await,
            Claim::InProgress,
            "{name:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_memory_store_keeps_the_contract() {
    check_store(Arc::new(MemoryStore::default()), "memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_memory_store_keeps_the_contract() {
    // Small enough that the suite's own deliveries make it evict.
    check_store(Arc::new(MemoryStore::with_capacity(12)), "memory-small").await;
}

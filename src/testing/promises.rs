//! The promises of the store contract, one check each: each claims,
//! completes and releases deliveries under the ids it is given, and returns
//! the first promise broken.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use futures_util::future::join_all;

use super::ContractViolation;
use crate::dedup::{Claim, ClaimToken, IdempotencyStore};
use crate::ids::WebhookId;

/// The lease of the claims that must hold throughout a check.
const LEASE: Duration = Duration::from_secs(60);
/// How long completed deliveries are remembered.
const RETENTION: Duration = Duration::from_secs(60 * 60);
/// Claims of one delivery in flight at once.
const ATTEMPTS: usize = 32;

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

/// The violation when two claims share an owner.
fn reused_owner(first: &ClaimToken, second: &ClaimToken) -> Option<ContractViolation> {
    (first.owner() == second.owner()).then(|| ContractViolation::OwnerReused {
        webhook_id: second.webhook_id().clone(),
        owner: second.owner().to_owned(),
    })
}

/// Claim, refuse a second claim while live, complete, then say done.
pub(super) async fn claimed_once_then_done<S: IdempotencyStore + ?Sized>(
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
pub(super) async fn completing_twice_is_ok<S: IdempotencyStore + ?Sized>(
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
pub(super) async fn release_lets_the_next_attempt_in<S: IdempotencyStore + ?Sized>(
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
    if let Some(violation) = reused_owner(&first, &second) {
        return Err(violation);
    }
    complete(store, &second).await?;
    expect(store, id, Claim::Done, completed_not_done).await
}

/// A token with another owner changes nothing.
pub(super) async fn only_the_owner_completes_or_releases<S: IdempotencyStore + ?Sized>(
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

/// A claim whose process died runs out, and its late owner can no
/// longer complete or release what the next owner holds; once the next
/// owner completed, the late completion is moot, not an error. `past_it`
/// waits until `short_lease` ran out.
pub(super) async fn an_expired_lease_is_taken_over<S: IdempotencyStore + ?Sized>(
    store: &S,
    id: &WebhookId,
    short_lease: Duration,
    past_it: impl Future<Output = ()>,
) -> Result<(), ContractViolation> {
    let dead = acquire(store, id, short_lease, fresh).await?;
    past_it.await;
    let next = acquire(store, id, LEASE, |webhook_id, answer| {
        ContractViolation::ExpiredLeaseHeld { webhook_id, answer }
    })
    .await?;
    if let Some(violation) = reused_owner(&dead, &next) {
        return Err(violation);
    }
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
pub(super) async fn concurrent_claims_have_one_winner<S: IdempotencyStore + ?Sized>(
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
pub(super) async fn ids_are_opaque_and_independent<S: IdempotencyStore + ?Sized>(
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

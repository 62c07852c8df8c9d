//! What the store check reports: which promise of the store contract a
//! store broke, and what it answered.

use std::fmt;

use crate::dedup::{Claim, StoreError};
use crate::ids::WebhookId;

/// A promise of the [`IdempotencyStore`](crate::dedup::IdempotencyStore)
/// contract that a store broke, found by
/// [`check_store`](super::check_store): each variant names the promise, and
/// holds the delivery and what the store answered.
///
/// Its `Display` is the message to fail a test with:
///
/// ```text
/// store contract broken: a claim of `check-…-once` while another claim on it
/// is live must answer in progress, but the store answered acquired
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContractViolation {
    /// A call the contract expects to succeed failed (a claim, or the
    /// owner's completion or release): the store erred, or refused the
    /// owner.
    #[error(
        "store contract broken: {step} of `{}` must succeed, but the store failed: {source}",
        Short(webhook_id)
    )]
    Failed {
        /// The call, such as "the owner's completion".
        step: &'static str,
        /// The delivery.
        webhook_id: WebhookId,
        /// What the store answered.
        #[source]
        source: StoreError,
    },

    /// The first claim of a delivery did not acquire it.
    #[error(
        "store contract broken: the first claim of `{}` must acquire it, but the store answered {answer}",
        Short(webhook_id)
    )]
    FreshClaimRefused {
        /// The delivery, never claimed before.
        webhook_id: WebhookId,
        /// What the store answered.
        answer: Claim,
    },

    /// An acquired claim's token names another delivery.
    #[error(
        "store contract broken: the token of a claim of `{}` must name it, but it names `{}`",
        Short(webhook_id),
        Short(token_webhook_id)
    )]
    TokenForAnotherDelivery {
        /// The claimed delivery.
        webhook_id: WebhookId,
        /// The delivery the token names.
        token_webhook_id: WebhookId,
    },

    /// A claim got through (or heard "done") while another claim was live.
    #[error(
        "store contract broken: a claim of `{}` while another claim on it is live must answer in progress, but the store answered {answer}",
        Short(webhook_id)
    )]
    LiveClaimNotHeld {
        /// The delivery.
        webhook_id: WebhookId,
        /// What the store answered.
        answer: Claim,
    },

    /// A completed delivery was not done for the next claim.
    #[error(
        "store contract broken: a claim of `{}` after its owner completed it must answer done, but the store answered {answer}",
        Short(webhook_id)
    )]
    CompletedNotDone {
        /// The delivery.
        webhook_id: WebhookId,
        /// What the store answered.
        answer: Claim,
    },

    /// Completing a delivery a second time was an error.
    #[error(
        "store contract broken: completing `{}` a second time must be Ok, but the store failed: {source}",
        Short(webhook_id)
    )]
    SecondCompletionRefused {
        /// The delivery.
        webhook_id: WebhookId,
        /// What the store answered.
        #[source]
        source: StoreError,
    },

    /// A released claim did not let the next attempt acquire the delivery.
    #[error(
        "store contract broken: a claim of `{}` after its owner released it must acquire it, but the store answered {answer}",
        Short(webhook_id)
    )]
    ReleasedNotFree {
        /// The delivery.
        webhook_id: WebhookId,
        /// What the store answered.
        answer: Claim,
    },

    /// Two claims got the same owner token.
    #[error(
        "store contract broken: each claim must have its own owner token, but the store gave `{owner}` to two claims (the second of `{}`)",
        Short(webhook_id)
    )]
    OwnerReused {
        /// The delivery of the second claim.
        webhook_id: WebhookId,
        /// The owner token given twice.
        owner: String,
    },

    /// Completing a live claim with a token of another owner was `Ok`.
    #[error(
        "store contract broken: completing `{}` with another owner's token must be an error while the owner holds it, but the store answered Ok",
        Short(webhook_id)
    )]
    ImpostorCompleted {
        /// The delivery.
        webhook_id: WebhookId,
    },

    /// A call with a token of another owner changed a live claim.
    #[error(
        "store contract broken: calling {call} for `{}` with another owner's token must leave the owner's claim in progress, but a claim then answered {answer}",
        Short(webhook_id)
    )]
    ImpostorChangedClaim {
        /// `"complete"` or `"release"`.
        call: &'static str,
        /// The delivery.
        webhook_id: WebhookId,
        /// What the next claim answered.
        answer: Claim,
    },

    /// A claim whose lease ran out still held the delivery.
    #[error(
        "store contract broken: a claim of `{}` after the last claim's lease ran out must acquire it, but the store answered {answer}",
        Short(webhook_id)
    )]
    ExpiredLeaseHeld {
        /// The delivery.
        webhook_id: WebhookId,
        /// What the store answered.
        answer: Claim,
    },

    /// The owner of a claim whose lease ran out completed the delivery
    /// while the next owner held it.
    #[error(
        "store contract broken: completing `{}` with the token of a claim whose lease ran out must be an error while the next owner holds it, but the store answered Ok",
        Short(webhook_id)
    )]
    LateOwnerCompleted {
        /// The delivery.
        webhook_id: WebhookId,
    },

    /// A call by the owner of a claim whose lease ran out changed the next
    /// owner's claim.
    #[error(
        "store contract broken: calling {call} for `{}` with the token of a claim whose lease ran out must leave the next owner's claim in progress, but a claim then answered {answer}",
        Short(webhook_id)
    )]
    LateOwnerChangedClaim {
        /// `"complete"` or `"release"`.
        call: &'static str,
        /// The delivery.
        webhook_id: WebhookId,
        /// What the next claim answered.
        answer: Claim,
    },

    /// The late owner's completion, after the next owner completed the
    /// delivery, was an error.
    #[error(
        "store contract broken: completing `{}` with the token of a claim whose lease ran out, after the next owner completed it, must be Ok, but the store failed: {source}",
        Short(webhook_id)
    )]
    LateCompletionRefused {
        /// The delivery.
        webhook_id: WebhookId,
        /// What the store answered.
        #[source]
        source: StoreError,
    },

    /// Concurrent claims of one delivery did not have exactly one winner.
    #[error(
        "store contract broken: of {attempts} concurrent claims of `{}` exactly one must acquire it and none hear done, but {acquired} acquired it and {done} heard done",
        Short(webhook_id)
    )]
    ConcurrentClaims {
        /// The delivery.
        webhook_id: WebhookId,
        /// How many claims were in flight at once.
        attempts: usize,
        /// How many acquired the delivery.
        acquired: usize,
        /// How many answered done, though nothing completed it.
        done: usize,
    },

    /// Two different ids shared an entry: an id was split, truncated,
    /// case-folded or escaped badly.
    #[error(
        "store contract broken: ids are opaque and independent, so a claim of `{}` must answer {expected}, but the store answered {answer}",
        Short(webhook_id)
    )]
    IdsNotIndependent {
        /// The delivery.
        webhook_id: WebhookId,
        /// What the claim should have answered: `"acquired"`, `"done"` or
        /// `"in progress"`.
        expected: &'static str,
        /// What the store answered.
        answer: Claim,
    },
}

/// An id in a message: the check's ids run up to 1 KiB, so long ones are
/// cut, with their length.
struct Short<'a>(&'a WebhookId);

impl fmt::Display for Short<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 60;
        let id = self.0.as_str();
        match id.char_indices().nth(SHOWN) {
            Some((cut, _)) => write!(f, "{}… ({} bytes)", id.get(..cut).unwrap_or(id), id.len()),
            None => f.write_str(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_promise_and_the_answer_and_cut_long_ids() {
        let held = ContractViolation::LiveClaimNotHeld {
            webhook_id: WebhookId::new("run-once"),
            answer: Claim::Done,
        };
        assert_eq!(
            held.to_string(),
            "store contract broken: a claim of `run-once` while another claim on it is live must answer in progress, \
             but the store answered done"
        );
        let long = ContractViolation::IdsNotIndependent {
            webhook_id: WebhookId::new(format!("run-{}", "☕".repeat(1000))),
            expected: "acquired",
            answer: Claim::InProgress,
        };
        let message = long.to_string();
        assert!(
            message.contains(&format!("`run-{}… (3004 bytes)`", "☕".repeat(56))),
            "{message}"
        );
        assert!(message.ends_with("must answer acquired, but the store answered in progress"));
    }
}

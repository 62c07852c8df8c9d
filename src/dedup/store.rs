//! The store contract: claims with a lease and an owner, completion and
//! release by the owner, and failures that are never guesses.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::ids::{IdText, WebhookId};

/// Proof of a claim: which delivery, and which claimant (an owner token the
/// store chose), so that only the claimant can complete or release it; and,
/// once a [`Deduplicator`](super::Deduplicator) hands it to a handler, how
/// long to remember the delivery done ([`retention`](Self::retention)).
#[derive(Debug, Clone)]
pub struct ClaimToken {
    webhook_id: WebhookId,
    /// Inline up to 38 bytes, as ids are: a claim costs no allocation.
    owner: IdText,
    /// The claiming deduplicator's retention: not part of the claim's
    /// identity (equality and hashing ignore it).
    retention: Option<Duration>,
}

impl PartialEq for ClaimToken {
    fn eq(&self, other: &Self) -> bool {
        (&self.webhook_id, &self.owner) == (&other.webhook_id, &other.owner)
    }
}

impl Eq for ClaimToken {}

impl std::hash::Hash for ClaimToken {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.webhook_id.hash(state);
        self.owner.hash(state);
    }
}

impl ClaimToken {
    /// A token for `webhook_id` held by `owner`; for store implementations.
    pub fn new(webhook_id: WebhookId, owner: impl AsRef<str>) -> Self {
        Self {
            webhook_id,
            owner: IdText::new(owner.as_ref()),
            retention: None,
        }
    }

    /// How long the delivery is to be remembered once done: the retention
    /// of the [`Deduplicator`](super::Deduplicator) (or the pipeline's,
    /// [`YocoWebhookConfig::with_dedup`](crate::YocoWebhookConfig::with_dedup))
    /// that claimed it, so that a handler completing the delivery itself
    /// (`PostgresStore::complete_in`) keeps it as long as the configuration
    /// says. `None` for a token a store made that no deduplicator handed on.
    pub fn retention(&self) -> Option<Duration> {
        self.retention
    }

    /// The token, carrying the claiming deduplicator's `retention`.
    pub(crate) fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// A token whose owner is a number, written in decimal without
    /// allocating (for [`MemoryStore`](super::MemoryStore), which wasm32
    /// has not).
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub(crate) fn numbered(webhook_id: WebhookId, owner: u64) -> Self {
        use std::io::Write as _;
        // `u64::MAX` has 20 digits.
        let mut digits = [0u8; 20];
        let mut rest = &mut digits[..];
        let written = match write!(rest, "{owner}") {
            Ok(()) => 20usize.saturating_sub(rest.len()),
            Err(_) => 0,
        };
        let text = digits
            .get(..written)
            .and_then(|text| std::str::from_utf8(text).ok())
            .unwrap_or_default();
        Self::new(webhook_id, text)
    }

    /// The claimed delivery.
    pub fn webhook_id(&self) -> &WebhookId {
        &self.webhook_id
    }

    /// The claimant, unique per claim.
    pub fn owner(&self) -> &str {
        self.owner.as_str()
    }

    /// The owner's bytes, unchecked: for writing it out.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn owner_bytes(&self) -> &[u8] {
        self.owner.as_bytes()
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

/// A store that could not answer. The adapters answer 503 for every kind,
/// so that Yoco retries; never 2xx, which would lose the event.
///
/// Its `Display` says what went wrong, cause included ("misconfigured:
/// Redis refused the credentials: authentication failed"), in words that
/// fit a store and a queue alike,
/// and never shows a URL or a password. [`kind`](Self::kind) tells a
/// mistake in the configuration, which retrying will not fix, from an
/// outage, which it may.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Why a [`StoreError`] happened: what to tell the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store could not answer now: connection refused or lost, a
    /// timeout, a server busy or restarting. It may answer later, without a
    /// change of configuration. Shown as "unavailable".
    Unavailable,
    /// The store is set up wrong, and will not answer until that is fixed:
    /// a URL that does not parse, credentials refused, an unknown database,
    /// a missing table, a TLS scheme this build does not support, a lease
    /// too long to store. Shown as "misconfigured".
    Configuration,
}

impl StoreError {
    /// An [`Unavailable`](StoreErrorKind::Unavailable) error with a message
    /// (which must not contain credentials).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            kind: StoreErrorKind::Unavailable,
            message: message.into(),
            source: None,
        }
    }

    /// An [`Unavailable`](StoreErrorKind::Unavailable) error caused by
    /// another, such as the store client's. The message is the `Display`;
    /// the cause is [`source`](std::error::Error::source), for callers that
    /// walk the chain.
    pub fn with_source(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            source: Some(Box::new(source)),
            ..Self::new(message)
        }
    }

    /// A [`Configuration`](StoreErrorKind::Configuration) error with a
    /// message (which must not contain credentials).
    pub fn configuration(message: impl Into<String>) -> Self {
        Self {
            kind: StoreErrorKind::Configuration,
            ..Self::new(message)
        }
    }

    /// The same error, of `kind`: for a cause kept with
    /// [`with_source`](Self::with_source) that is a mistake in the
    /// configuration.
    #[cfg_attr(not(feature = "dynamodb"), allow(dead_code))]
    pub(crate) fn of_kind(mut self, kind: StoreErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// Whether the configuration is wrong or the store is unavailable.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// Whether the store is set up wrong (see [`StoreErrorKind::Configuration`]).
    pub fn is_configuration(&self) -> bool {
        self.kind == StoreErrorKind::Configuration
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

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Claim::Acquired(_) => "acquired",
            Claim::Done => "done",
            Claim::InProgress => "in progress",
        })
    }
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreErrorKind::Unavailable => "unavailable",
            StoreErrorKind::Configuration => "misconfigured",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_shows_in_the_message() {
        let outage = StoreError::new("cannot connect to Redis: connection refused");
        assert_eq!(outage.kind(), StoreErrorKind::Unavailable);
        assert!(!outage.is_configuration());
        assert_eq!(
            outage.to_string(),
            "unavailable: cannot connect to Redis: connection refused"
        );
        let mistake = StoreError::configuration("invalid Redis URL: it did not parse");
        assert_eq!(mistake.kind(), StoreErrorKind::Configuration);
        assert!(mistake.is_configuration());
        assert_eq!(
            mistake.to_string(),
            "misconfigured: invalid Redis URL: it did not parse"
        );
    }

    #[test]
    fn with_source_is_an_outage_that_keeps_its_cause() {
        let err = StoreError::with_source("the database failed", std::io::Error::other("reset"));
        assert_eq!(err.kind(), StoreErrorKind::Unavailable);
        assert_eq!(err.to_string(), "unavailable: the database failed");
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("reset"));
    }
}

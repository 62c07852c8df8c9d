//! [`RedisStore`]: the [`IdempotencyStore`] calls, each held to the
//! timeout, sending the [scripts' commands](super::scripts) and reading
//! their answers; a server that refuses a `SET` switches the store to the
//! script for good. Made by [`RedisStoreBuilder`](super::RedisStoreBuilder).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ::redis::{Cmd, ErrorKind, RedisError, ServerErrorKind, Value};

use super::connection::Connection;
use super::error::{foreign_value, held_by_another, is_syntax_error, store_error};
use super::scripts::{
    Completion, LuaScript, SCRIPTS, claim_answer, claim_script_answer, complete_script_answer, completion_answer,
    key_and_value, set_ifeq_get, set_nx_get,
};
use crate::dedup::{Claim, ClaimToken, IdempotencyStore, StoreError};
use crate::ids::WebhookId;
use crate::stores::owners::Owners;

/// An [`IdempotencyStore`] on Redis (one server or a Redis Cluster), shared
/// by every instance that uses the same Redis and key prefix. Cheap to
/// clone: clones share one connection.
///
/// Built with [`RedisStore::connect`], [`RedisStore::connect_cluster`] or
/// [`RedisStore::builder`]; see the
/// [module docs](super) for its guarantees and keys.
#[derive(Clone)]
pub struct RedisStore {
    connection: Connection,
    key_prefix: String,
    timeout: Duration,
    /// Shared by clones: one refusal of a command switches them all to the
    /// script, and they never hand out the same owner token.
    shared: Arc<Shared>,
}

/// What the clones of one store share.
struct Shared {
    /// Whether claims are `SET NX GET` rather than the script.
    claim_by_set: AtomicBool,
    /// Whether completions are `SET IFEQ GET` rather than the script.
    complete_by_set: AtomicBool,
    /// Where the owner tokens of this store's claims come from.
    owners: Owners,
}

impl RedisStore {
    /// A store on `connection`, claiming and completing by `SET` or by the
    /// scripts as the builder found the server takes.
    pub(super) fn connected(
        connection: Connection,
        key_prefix: String,
        timeout: Duration,
        claim_by_set: bool,
        complete_by_set: bool,
        owners: Owners,
    ) -> Self {
        Self {
            connection,
            key_prefix,
            timeout,
            shared: Arc::new(Shared {
                claim_by_set: AtomicBool::new(claim_by_set),
                complete_by_set: AtomicBool::new(complete_by_set),
                owners,
            }),
        }
    }

    /// The prefix of this store's keys.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// `script` on the delivery's key with our claim value and a number of
    /// milliseconds, by its SHA-1; sent whole if Redis does not know it.
    async fn run(&self, script: &LuaScript, token: &ClaimToken, millis: u64) -> Result<i64, StoreError> {
        let (key, value) = key_and_value(&self.key_prefix, token);
        let answer = match self.send(&script.by_sha1(key, value, millis)).await {
            // Redis restarted or failed over and forgot the script, or (on
            // a cluster) the key's node never ran it: `EVAL`, sent to the
            // same node, runs it and loads it there for the next calls.
            Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.send(&script.whole(key, value, millis)).await
            }
            answer => answer,
        };
        match answer.map_err(|err| store_error("Redis failed", &err, None))? {
            Value::Int(answer) => Ok(answer),
            _ => Err(foreign_value()),
        }
    }

    /// A claim in one `SET key value NX GET PX lease`: the value it found.
    async fn claim_by_set(&self, token: ClaimToken, lease: u64) -> Result<Claim, StoreError> {
        let (key, value) = key_and_value(&self.key_prefix, &token);
        let answer = self.send(&set_nx_get(key, value, lease)).await.map_err(|err| {
            if is_syntax_error(&err) {
                // A server older than it said, or one we failed over to.
                self.shared.claim_by_set.store(false, Ordering::Relaxed);
            }
            store_error("Redis failed", &err, None)
        })?;
        claim_answer(&answer, token)
    }

    /// A completion: one `SET key done IFEQ claim:<owner> GET PX retention`
    /// where the server takes it, the script where it does not, or when the
    /// `SET` found the key gone or done already, which the script handles.
    async fn complete_in_turn(&self, token: &ClaimToken, retention: u64) -> Result<(), StoreError> {
        if self.shared.complete_by_set.load(Ordering::Relaxed) {
            match self.complete_by_set(token, retention).await? {
                Completion::Recorded => return Ok(()),
                Completion::HeldByAnother => return Err(held_by_another()),
                Completion::ForTheScript => {}
            }
        }
        complete_script_answer(self.run(&SCRIPTS.complete, token, retention).await?)
    }

    /// `SET key done IFEQ claim:<owner> GET PX retention`: records the
    /// delivery only if our claim still holds the key.
    async fn complete_by_set(&self, token: &ClaimToken, retention: u64) -> Result<Completion, StoreError> {
        let (key, value) = key_and_value(&self.key_prefix, token);
        match self.send(&set_ifeq_get(key, value, retention)).await {
            Ok(answer) => completion_answer(&answer, token),
            // A server older than it said, or one we failed over to: the
            // refused command changed nothing, so the script completes.
            Err(err) if is_syntax_error(&err) => {
                self.shared.complete_by_set.store(false, Ordering::Relaxed);
                Ok(Completion::ForTheScript)
            }
            Err(err) => Err(store_error("Redis failed", &err, None)),
        }
    }

    /// One command, one round trip (to its key's node, on a cluster):
    /// Redis' answer, its error reply as an error.
    async fn send(&self, command: &Cmd) -> Result<Value, RedisError> {
        self.connection.send(command).await
    }

    /// `call` held to the timeout: one timer per store call, however many
    /// round trips it takes. A plain function, not an `async` one, so that
    /// the call's future is not kept twice in the caller's.
    fn timed<F: Future>(&self, call: F) -> tokio::time::Timeout<F> {
        tokio::time::timeout(self.timeout, call)
    }

    /// The answer of a [`timed`](Self::timed) call, or an error saying it
    /// took too long.
    fn in_time<T>(&self, answer: Result<Result<T, StoreError>, tokio::time::error::Elapsed>) -> Result<T, StoreError> {
        answer.map_err(|_| StoreError::new(format!("Redis did not answer within {:?}", self.timeout)))?
    }

    /// Whether claims are `SET NX GET` (Redis 7 or later) rather than the
    /// Lua script, for tests: the store chooses at connect, and switches to
    /// the script for good should the server refuse the command.
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn claims_with_set(&self) -> bool {
        self.shared.claim_by_set.load(Ordering::Relaxed)
    }

    /// Whether completions are `SET IFEQ GET` (Valkey 8.1, Redis 8.4 or
    /// later) rather than the Lua script, for tests: the store chooses at
    /// connect, and switches to the script for good should the server
    /// refuse the command.
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn completes_with_set(&self) -> bool {
        self.shared.complete_by_set.load(Ordering::Relaxed)
    }
}

/// Redis expiries are whole milliseconds, at least one.
fn millis(duration: Duration, what: &str) -> Result<u64, StoreError> {
    u64::try_from(duration.as_millis())
        .map(|millis| millis.max(1))
        .map_err(|_| StoreError::configuration(format!("{what} too long")))
}

impl IdempotencyStore for RedisStore {
    async fn claim(&self, webhook_id: &WebhookId, lease: Duration) -> Result<Claim, StoreError> {
        let lease = millis(lease, "lease")?;
        let token = ClaimToken::new(webhook_id.clone(), self.shared.owners.next());
        if self.shared.claim_by_set.load(Ordering::Relaxed) {
            return self.in_time(self.timed(self.claim_by_set(token, lease)).await);
        }
        let answer = self.in_time(self.timed(self.run(&SCRIPTS.claim, &token, lease)).await)?;
        claim_script_answer(answer, token)
    }

    async fn complete(&self, token: &ClaimToken, retention: Duration) -> Result<(), StoreError> {
        let retention = millis(retention, "retention")?;
        self.in_time(self.timed(self.complete_in_turn(token, retention)).await)
    }

    async fn release(&self, token: &ClaimToken) -> Result<(), StoreError> {
        // The number is unused by the script.
        self.in_time(self.timed(self.run(&SCRIPTS.release, token, 0)).await)
            .map(|_| ())
    }
}

// By hand: the client's connection details (with any password) stay out.
impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_are_whole_positive_milliseconds() {
        assert_eq!(millis(Duration::from_micros(10), "lease").unwrap(), 1);
        assert_eq!(millis(Duration::from_millis(1500), "lease").unwrap(), 1500);
        assert!(millis(Duration::MAX, "lease").unwrap_err().is_configuration());
    }
}

//! One attempt at a delivery: [`Inbox::next`] takes the oldest due one
//! (counting the attempt) as an [`InboxDelivery`], locked inside its
//! transaction until it is done, failed, refused or released
//! (`work.rs` and `runner.rs` do all that around a handler).

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use sqlx::{PgConnection, Postgres, Transaction};
use time::OffsetDateTime;

use super::row::{stored_from, time_at};
use super::{IDLE_MARGIN, Inbox};
use crate::dedup::StoreError;
use crate::handoff::StoredDelivery;
use crate::ids::WebhookId;
use crate::receive::{Outcome, ReceiveError, Receiver};
use crate::stores::postgres::error::{column, store_error};

/// The savepoint the handler's changes are made under: a failed attempt
/// rolls them back to it, then records the failure in the same
/// transaction, so the row is never unlocked in between.
const HANDLER_SAVEPOINT: &str = "SAVEPOINT yoco_webhooks_handler";
const ROLLBACK_HANDLER: &str = "ROLLBACK TO SAVEPOINT yoco_webhooks_handler";

/// How many times a worker tries to lock the delivery it took while the
/// lease is still its own, and the pause between tries: another worker's
/// statement holds it for a millisecond or two.
const HOLD_TRIES: u32 = 100;
const HOLD_PAUSE: std::time::Duration = std::time::Duration::from_millis(1);

/// The `last_error` of a delivery taken again while its last attempt's
/// lease was still set: that attempt never answered.
const ABANDONED: &str =
    "abandoned: the attempt never answered (its worker stopped, its handler panicked, or it was dropped)";

/// A boxed `Send` future. Each database step is boxed in a function of its
/// own, where the compiler proves it `Send`: inside a caller's generic
/// future (`Inbox::work` in a spawned task), sqlx's executor over a
/// reborrowed transaction is "not general enough" for rustc to prove it.
type Step<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A delivery taken from the [`Inbox`] by [`Inbox::next`], locked for this
/// worker inside a transaction until [`done`](Self::done),
/// [`failed`](Self::failed) or [`refused`](Self::refused).
///
/// Write your changes through [`connection`](Self::connection): they commit
/// together with "done", or roll back with a failure. The attempt was
/// counted when the delivery was taken, so dropped without an answer (the
/// handler panicked, or the worker died) it still counts: the transaction
/// rolls back, the delivery is due again after the inbox's backoff for this
/// attempt, and the next worker to take it records it abandoned (its
/// `last_error`), or dead if this was its last attempt.
///
/// ```no_run
/// use yoco_webhooks::postgres::Inbox;
/// use yoco_webhooks::postgres::sqlx;
/// use yoco_webhooks::{Outcome, Receiver};
///
/// async fn work(inbox: &Inbox, receiver: &Receiver) -> Result<(), Box<dyn std::error::Error>> {
///     while let Some(mut taken) = inbox.next().await? {
///         let delivery = match taken.check(receiver) {
///             Ok(Outcome::Process(delivery)) => delivery,
///             Ok(Outcome::Ignore(_)) => { taken.done().await?; continue }
///             Err(tampered) => { taken.refused(&tampered.to_string()).await?; continue }
///         };
///         let paid = sqlx::query("UPDATE orders SET paid = true WHERE checkout_id = $1")
///             .bind(delivery.event.checkout_id().map(|id| id.as_str()))
///             .execute(taken.connection())
///             .await;
///         match paid {
///             Ok(_) => taken.done().await?, // "order paid" and "delivery done" commit together
///             Err(err) => { taken.failed(&err.to_string()).await?; } // rolled back; retried later
///         }
///     }
///     Ok(())
/// }
/// ```
pub struct InboxDelivery {
    transaction: Transaction<'static, Postgres>,
    stored: StoredDelivery,
    attempt: u32,
    inbox: Inbox,
}

/// When a failed delivery runs again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NextAttempt {
    /// It is pending again, due at this time.
    At(OffsetDateTime),
    /// It failed its last attempt: dead, kept for a person to look at.
    Dead,
}

impl Inbox {
    /// Takes the oldest due delivery that no other worker holds, inside a
    /// transaction: `None` if there is none now. Process it (check it
    /// first with [`InboxDelivery::check`]), then call
    /// [`done`](InboxDelivery::done) or [`failed`](InboxDelivery::failed).
    /// Until then the row is locked: other workers skip it.
    ///
    /// Taking it counts the attempt, committed at once, and puts the
    /// delivery off by the backoff for that attempt. If the worker dies,
    /// the handler panics or the delivery is dropped unanswered, the
    /// transaction rolls back, but the count stays: the delivery is due
    /// again after that backoff, its `last_error` then says the attempt was
    /// abandoned, and a delivery taken with all its attempts used is
    /// recorded dead instead of run again (and the next one is taken).
    ///
    /// # Errors
    /// [`StoreError`] if the database could not answer.
    pub async fn next(&self) -> Result<Option<InboxDelivery>, StoreError> {
        InboxDelivery::take(self).await
    }
}

impl InboxDelivery {
    /// Takes the oldest due delivery nobody holds, counting the attempt,
    /// and locks it in a new transaction.
    fn take(inbox: &Inbox) -> Step<'_, Option<Self>> {
        Box::pin(Self::take_now(inbox))
    }

    async fn take_now(inbox: &Inbox) -> Result<Option<Self>, StoreError> {
        let schedule = inbox.backoff_schedule();
        loop {
            // Committed before the handler runs, so a crash, a panic or a
            // drop cannot take the count back.
            let row = sqlx::query(&inbox.sql.take)
                .bind(i64::from(inbox.max_attempts))
                .bind(&schedule)
                .bind(ABANDONED)
                .fetch_optional(&inbox.pool)
                .await
                .map_err(|err| store_error("PostgreSQL could not take a delivery", &err))?;
            let Some(row) = row else {
                return Ok(None);
            };
            let Some(lease) = column::<Option<String>>(&row, 6)? else {
                // Every attempt used: dead now, never run again. The next.
                continue;
            };
            let stored = stored_from(&row)?;
            let attempt: i32 = column(&row, 5)?;
            let mut transaction = inbox
                .pool
                .begin()
                .await
                .map_err(|err| store_error("PostgreSQL could not begin a transaction", &err))?;
            if !Self::hold(inbox, &mut transaction, stored.webhook_id(), &lease).await? {
                // Another worker took it over before the lock (its wait
                // after this attempt had passed already): the next.
                continue;
            }
            sqlx::query(HANDLER_SAVEPOINT)
                .execute(&mut *transaction)
                .await
                .map_err(|err| store_error("PostgreSQL could not set a savepoint", &err))?;
            return Ok(Some(Self {
                transaction,
                stored,
                attempt: u32::try_from(attempt).unwrap_or(0),
                inbox: inbox.clone(),
            }));
        }
    }

    /// Locks the delivery taken with `lease` in `transaction`, and sets the
    /// server's own limit on the transaction sitting idle: `false` if
    /// another worker took it over meanwhile.
    ///
    /// Another worker's take can hold the row for an instant: scanning the
    /// due rows, it locks this one's new version before it finds it is no
    /// longer due, and keeps that lock until its statement ends. Skipped
    /// then, the delivery would wait out its backoff, its attempt counted,
    /// never run: so while the lease is still ours, try again.
    async fn hold(
        inbox: &Inbox,
        transaction: &mut PgConnection,
        webhook_id: &WebhookId,
        lease: &str,
    ) -> Result<bool, StoreError> {
        let idle_limit = inbox
            .attempt_timeout
            .saturating_add(IDLE_MARGIN)
            .as_millis()
            .min(i32::MAX as u128)
            .to_string();
        for _ in 0..HOLD_TRIES {
            let held = sqlx::query(&inbox.sql.hold)
                .bind(webhook_id.as_str())
                .bind(lease)
                .bind(&idle_limit)
                .fetch_optional(&mut *transaction)
                .await
                .map_err(|err| store_error("PostgreSQL could not lock the delivery", &err))?;
            if held.is_some() {
                return Ok(true);
            }
            let ours: Option<bool> = sqlx::query_scalar(&inbox.sql.leased)
                .bind(webhook_id.as_str())
                .bind(lease)
                .fetch_optional(&mut *transaction)
                .await
                .map_err(|err| store_error("PostgreSQL could not read the delivery's lease", &err))?;
            if ours != Some(true) {
                return Ok(false);
            }
            tokio::time::sleep(HOLD_PAUSE).await;
        }
        Ok(false)
    }

    /// The delivery as it was stored. Check it with
    /// [`check`](Self::check) before acting on it.
    pub fn stored(&self) -> &StoredDelivery {
        &self.stored
    }

    /// This attempt's number, from 1 (counted when it was taken).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Checks the stored delivery again with `receiver`
    /// ([`Receiver::receive_stored`]): the signature, the timestamp against
    /// the time of receipt, the event and the filter.
    ///
    /// # Errors
    /// [`ReceiveError`] if it is not authentic or not an event: call
    /// [`refused`](Self::refused).
    pub fn check(&self, receiver: &Receiver) -> Result<Outcome, ReceiveError> {
        receiver.receive_stored(&self.stored)
    }

    /// The transaction's connection: write your changes through it (pass
    /// it to sqlx as an executor) so that they commit with
    /// [`done`](Self::done).
    ///
    /// In this transaction PostgreSQL's `now()` is the time the delivery
    /// was taken, however long your handler runs; write
    /// `clock_timestamp()` for the time of the write itself.
    pub fn connection(&mut self) -> &mut PgConnection {
        &mut self.transaction
    }

    /// Records the delivery done and commits, your changes with it.
    ///
    /// # Errors
    /// [`StoreError`] if the database could not answer: nothing committed,
    /// and the delivery is due again after the inbox's backoff for this
    /// attempt (which counts), as if it was dropped.
    pub async fn done(self) -> Result<(), StoreError> {
        let step: Step<'static, ()> = Box::pin(self.done_now());
        step.await
    }

    async fn done_now(mut self) -> Result<(), StoreError> {
        sqlx::query(&self.inbox.sql.done)
            .bind(self.stored.webhook_id().as_str())
            .execute(&mut *self.transaction)
            .await
            .map_err(|err| store_error("PostgreSQL could not record the delivery done", &err))?;
        commit(self.transaction).await
    }

    /// Rolls your changes back, records `error` (for a person to read: no
    /// secrets) on the attempt, and commits: the delivery runs again after
    /// the inbox's backoff, counted from now, or is dead if that was its
    /// last attempt.
    ///
    /// # Errors
    /// [`StoreError`] if the database could not answer: the attempt still
    /// counts (it did when it was taken), and the delivery is due again
    /// after the backoff counted from then, as if it was dropped.
    pub async fn failed(self, error: &str) -> Result<NextAttempt, StoreError> {
        let step: Step<'static, NextAttempt> = Box::pin(self.failed_now(error.to_owned()));
        step.await
    }

    async fn failed_now(mut self, error: String) -> Result<NextAttempt, StoreError> {
        sqlx::query(ROLLBACK_HANDLER)
            .execute(&mut *self.transaction)
            .await
            .map_err(|err| store_error("PostgreSQL could not roll the handler's changes back", &err))?;
        let wait = self.inbox.backoff_after(self.attempt());
        let row = sqlx::query(&self.inbox.sql.failed)
            .bind(self.stored.webhook_id().as_str())
            .bind(&error)
            .bind(i64::from(self.inbox.max_attempts))
            .bind(wait.as_secs_f64())
            .fetch_one(&mut *self.transaction)
            .await
            .map_err(|err| store_error("PostgreSQL could not record the failed attempt", &err))?;
        let dead: bool = column(&row, 0)?;
        let due: f64 = column(&row, 1)?;
        commit(self.transaction).await?;
        Ok(if dead {
            NextAttempt::Dead
        } else {
            NextAttempt::At(time_at(due)?)
        })
    }

    /// Rolls your changes back and gives the attempt back: not counted, the
    /// delivery due again now, for another worker (or this one after a
    /// restart). For a worker that stops before the handler finished.
    ///
    /// # Errors
    /// [`StoreError`] if the database could not answer: the attempt then
    /// counts, and the delivery is due after its backoff, as if dropped.
    pub async fn release(self) -> Result<(), StoreError> {
        let step: Step<'static, ()> = Box::pin(self.release_now());
        step.await
    }

    async fn release_now(mut self) -> Result<(), StoreError> {
        sqlx::query(ROLLBACK_HANDLER)
            .execute(&mut *self.transaction)
            .await
            .map_err(|err| store_error("PostgreSQL could not roll the handler's changes back", &err))?;
        sqlx::query(&self.inbox.sql.release)
            .bind(self.stored.webhook_id().as_str())
            .execute(&mut *self.transaction)
            .await
            .map_err(|err| store_error("PostgreSQL could not give the attempt back", &err))?;
        commit(self.transaction).await
    }

    /// Rolls your changes back and records the delivery dead at once, with
    /// `reason`: for a stored delivery that did not [`check`](Self::check)
    /// out, which no attempt will ever process.
    ///
    /// # Errors
    /// [`StoreError`] if the database could not answer.
    pub async fn refused(self, reason: &str) -> Result<(), StoreError> {
        let step: Step<'static, ()> = Box::pin(self.refused_now(reason.to_owned()));
        step.await
    }

    async fn refused_now(mut self, reason: String) -> Result<(), StoreError> {
        sqlx::query(ROLLBACK_HANDLER)
            .execute(&mut *self.transaction)
            .await
            .map_err(|err| store_error("PostgreSQL could not roll the handler's changes back", &err))?;
        sqlx::query(&self.inbox.sql.refused)
            .bind(self.stored.webhook_id().as_str())
            .bind(&reason)
            .execute(&mut *self.transaction)
            .await
            .map_err(|err| store_error("PostgreSQL could not record the delivery dead", &err))?;
        commit(self.transaction).await
    }
}

/// The `last_error` of an attempt stopped at its timeout.
pub(super) fn timed_out(timeout: std::time::Duration) -> String {
    format!("timed out: the handler ran past the attempt timeout ({timeout:?})")
}

async fn commit(transaction: Transaction<'static, Postgres>) -> Result<(), StoreError> {
    transaction
        .commit()
        .await
        .map_err(|err| store_error("PostgreSQL could not commit", &err))
}

impl fmt::Debug for InboxDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboxDelivery")
            .field("stored", &self.stored)
            .field("attempt", &self.attempt())
            .finish_non_exhaustive()
    }
}

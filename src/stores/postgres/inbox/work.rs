//! [`Inbox::work`]: one attempt around a closure, and what it did
//! ([`Worked`]), for workers the [`InboxRunner`](super::InboxRunner) does
//! not fit.

use std::fmt;
use std::future::Future;

use super::Inbox;
use super::attempt::{NextAttempt, timed_out};
use crate::dedup::StoreError;
use crate::ids::WebhookId;
use crate::receive::{Delivery, Ignored, Outcome, ReceiveError, Receiver};

/// What [`Inbox::work`] did.
#[derive(Debug)]
#[non_exhaustive]
pub enum Worked<T, E> {
    /// No delivery was due.
    Idle,
    /// The handler succeeded, and the delivery is done.
    Done {
        /// The delivery.
        webhook_id: WebhookId,
        /// The handler's result.
        value: T,
    },
    /// The handler ran past the inbox's
    /// [`attempt_timeout`](Inbox::attempt_timeout) and was stopped: a failed
    /// attempt, run again after the backoff, or dead.
    TimedOut {
        /// The delivery.
        webhook_id: WebhookId,
        /// When it runs again.
        next: NextAttempt,
    },
    /// The handler failed; the delivery runs again, or is dead.
    Failed {
        /// The delivery.
        webhook_id: WebhookId,
        /// The handler's error (its `Display` is kept as `last_error`).
        error: E,
        /// When it runs again.
        next: NextAttempt,
    },
    /// The stored delivery did not check out (changed in the table, signed
    /// by a secret the receiver does not accept, or not an event): dead
    /// at once, never handed to the handler.
    Refused {
        /// The delivery.
        webhook_id: WebhookId,
        /// Why.
        error: ReceiveError,
    },
    /// The receiver ignores the event (not for its checkouts): done
    /// without the handler.
    Ignored(Ignored),
}

impl Inbox {
    /// Processes the next due delivery with `handler`, if there is one: takes
    /// it ([`next`](Self::next)), checks it again with `receiver`, runs
    /// `handler`, and records what became of it. A delivery that is not
    /// authentic any more (changed in the table, or another receiver's) is
    /// dead at once and never reaches `handler`; one the receiver ignores
    /// is done.
    ///
    /// The handler runs within the inbox's
    /// [`attempt_timeout`](Self::attempt_timeout) ([`Worked::TimedOut`]
    /// past it). Most workers want the [`runner`](Self::runner) instead:
    /// its handler writes through the delivery's transaction, so your
    /// changes and "done" commit together, and it polls, backs off and
    /// shuts down for you.
    ///
    /// A `handler` that panics is not caught: the panic unwinds out of
    /// `work` (out of your worker task). The attempt counts all the same
    /// (it was counted when taken, see [`next`](Self::next)), so a
    /// delivery that always panics is dead after
    /// [`max_attempts`](Self::max_attempts), backed off in between, and
    /// never retried at full speed.
    ///
    /// # Errors
    /// [`StoreError`] if the database could not answer. If that happened
    /// after `handler` succeeded, the delivery is still pending and runs
    /// again (at least once: make `handler` idempotent, or use `next`).
    pub async fn work<F, Fut, T, E>(&self, receiver: &Receiver, handler: F) -> Result<Worked<T, E>, StoreError>
    where
        F: FnOnce(Delivery) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: fmt::Display,
    {
        let Some(taken) = self.next().await? else {
            return Ok(Worked::Idle);
        };
        let webhook_id = taken.stored().webhook_id().clone();
        match taken.check(receiver) {
            Err(error) => {
                taken.refused(&error.to_string()).await?;
                Ok(Worked::Refused { webhook_id, error })
            }
            Ok(Outcome::Ignore(ignored)) => {
                taken.done().await?;
                Ok(Worked::Ignored(ignored))
            }
            Ok(Outcome::Process(delivery)) => match tokio::time::timeout(self.attempt_timeout, handler(delivery)).await
            {
                Ok(Ok(value)) => {
                    taken.done().await?;
                    Ok(Worked::Done { webhook_id, value })
                }
                Ok(Err(error)) => {
                    let next = taken.failed(&error.to_string()).await?;
                    Ok(Worked::Failed {
                        webhook_id,
                        error,
                        next,
                    })
                }
                Err(_) => {
                    let next = taken.failed(&timed_out(self.attempt_timeout)).await?;
                    Ok(Worked::TimedOut { webhook_id, next })
                }
            },
        }
    }
}

//! [`SqsWorker`]: the worker side of an [`SqsQueue`], as a long-polling
//! process ([`run_until`](SqsWorker::run_until)) or an SQS-triggered
//! Lambda function (`handle_batch`, in `lambda.rs`).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::{Message as SqsMessage, MessageSystemAttributeName};
use tokio::sync::watch;

use super::SqsQueue;
use super::attempt::{Attempts, Message, SqsHandler};
use super::error::sqs_error;
use super::observe::AttemptResult;
use crate::dedup::{DEFAULT_RETENTION, Deduplicator, IdempotencyStore};
use crate::receive::Receiver;

/// How long a handler may run by default ([`SqsWorker::attempt_timeout`]):
/// below SQS's default visibility timeout of 30 seconds.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a worker's claim holds by default ([`SqsWorker::lease`]): SQS's
/// default visibility timeout.
pub const DEFAULT_SQS_LEASE: Duration = Duration::from_secs(30);
/// How long an empty `ReceiveMessage` waits for a message (SQS's longest).
const LONG_POLL_SECONDS: i32 = 20;
/// SQS's most messages per `ReceiveMessage`.
const MAX_BATCH: i32 = 10;
/// How long a worker waits after SQS could not answer.
const ERROR_WAIT: Duration = Duration::from_secs(1);
/// How long the attempts in hand may run on after a shutdown, by default.
const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// The workers of an [`SqsQueue`], from [`SqsQueue::worker`]: each message
/// is read as a [`StoredDelivery`](crate::StoredDelivery), checked again
/// with the receiver ([`Receiver::receive_stored`]), and processed once
/// through the store by the [`SqsHandler`]. Run them as a process with
/// [`run_until`](Self::run_until), or in a Lambda function the queue
/// triggers with [`handle_batch`](Self::handle_batch).
///
/// What becomes of a message:
///
/// | the attempt | the message |
/// |---|---|
/// | the handler succeeded; processed before; not for this receiver | deleted |
/// | the handler failed, panicked or ran past the attempt timeout (the claim given up) | left: it reappears after the visibility timeout |
/// | another worker holds the claim (a copy, or a worker that died) | left: it reappears, and is then a duplicate or processed |
/// | the store could not answer | left: it reappears |
/// | not a stored delivery, or one that does not check out (changed, or another secret's) | left, never processed: after the queue's `maxReceiveCount` it is in the dead-letter queue (never deleted unseen) |
/// | the worker stopped before the handler finished (past the grace) | given back: visible again at once |
///
/// # Timeouts: the visibility timeout, the lease and the attempt
///
/// Set the **lease** ([`lease`](Self::lease), the store's claim) to the
/// queue's **visibility timeout**, and the **attempt timeout** below both
/// (defaults: 30 s, 30 s and 20 s). While a handler runs, its claim keeps
/// every other worker out, even if the message reappears (a handler that
/// outlives the visibility timeout: the other worker sees the claim and
/// leaves the message). A worker that dies mid-delivery leaves its claim
/// and its message: both run out together, and the next receive processes
/// it. A lease much longer than the visibility timeout spends receives
/// (each counts towards `maxReceiveCount`) on a claim still held; keep
/// `maxReceiveCount` at 5 or more.
///
/// Keep the store's [`retention`](Self::retention) (28 hours by default)
/// longer than a message may wait in the queue and its dead-letter queue
/// (their `MessageRetentionPeriod`, 4 days by default), or refuse old
/// deliveries in the handler: a copy older than the retention would be
/// processed again.
pub struct SqsWorker<S, H> {
    queue: SqsQueue,
    attempts: Attempts<S, H>,
    workers: usize,
    grace: Duration,
    wait: i32,
}

impl SqsQueue {
    /// The workers of this queue: `handler` processes once, through
    /// `store`, each delivery that `receiver` checks again (the same
    /// secrets and filter as the endpoint's). One worker receiving up to
    /// 10 messages at a time with 20-second long polls, the default lease,
    /// retention and attempt timeout, and 10 s of grace at shutdown.
    pub fn worker<S, H>(&self, receiver: Receiver, store: S, handler: H) -> SqsWorker<S, H>
    where
        S: IdempotencyStore + 'static,
        H: SqsHandler,
    {
        SqsWorker {
            queue: self.clone(),
            attempts: Attempts {
                receiver,
                dedup: Deduplicator::new(store)
                    .lease(DEFAULT_SQS_LEASE)
                    .retention(DEFAULT_RETENTION),
                handler,
                timeout: DEFAULT_ATTEMPT_TIMEOUT,
            },
            workers: 1,
            grace: DEFAULT_GRACE,
            wait: LONG_POLL_SECONDS,
        }
    }
}

impl<S: IdempotencyStore + 'static, H: SqsHandler> SqsWorker<S, H> {
    /// How many `ReceiveMessage` loops run at once (at least one); each
    /// processes its batch of up to 10 messages at once.
    #[must_use]
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// How long the store's claim holds: set it to the queue's visibility
    /// timeout (see [the timeouts](Self#timeouts-the-visibility-timeout-the-lease-and-the-attempt)).
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.attempts.dedup = self.attempts.dedup.lease(lease);
        self
    }

    /// How long a processed delivery is remembered by the store.
    #[must_use]
    pub fn retention(mut self, retention: Duration) -> Self {
        self.attempts.dedup = self.attempts.dedup.retention(retention);
        self
    }

    /// How long a handler may run before the attempt counts as failed (at
    /// least 1 ms); keep it below the lease and the visibility timeout.
    #[must_use]
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempts.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long the attempts in hand may run on after a shutdown before
    /// they are stopped and their messages given back.
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How long an empty `ReceiveMessage` waits for a message, 0 to 20
    /// seconds (default 20: long polling, the fewest requests).
    #[must_use]
    pub fn long_poll(mut self, wait: Duration) -> Self {
        self.wait = i32::try_from(wait.as_secs().min(20)).unwrap_or(LONG_POLL_SECONDS);
        self
    }

    /// The queue.
    pub fn queue(&self) -> &SqsQueue {
        &self.queue
    }

    /// The attempts, shared with Lambda's batch handler.
    pub(super) fn attempts(&self) -> &Attempts<S, H> {
        &self.attempts
    }

    /// Runs the workers until `shutdown` completes (a signal, a channel),
    /// then until the attempts in hand finished or were given back (made
    /// visible again at once). SQS or a store that cannot answer is logged
    /// and waited out, never the end of the workers. A long poll under way
    /// at shutdown is dropped: a message SQS gave out to it just then
    /// reappears after its visibility timeout.
    pub async fn run_until<F: Future<Output = ()> + Send>(self, shutdown: F) {
        let shared = Arc::new(self);
        let (stop, stopping) = watch::channel(false);
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..shared.workers {
            let (worker, stopping) = (Arc::clone(&shared), stopping.clone());
            workers.spawn(async move { worker.receive_loop(stopping).await });
        }
        shutdown.await;
        // Receivers outlive this send: every worker holds one.
        let _ = stop.send(true);
        while workers.join_next().await.is_some() {}
    }

    async fn receive_loop(&self, mut stopping: watch::Receiver<bool>) {
        while !*stopping.borrow() {
            let received = tokio::select! {
                received = self.receive() => received,
                _ = stopping.wait_for(|stop| *stop) => return,
            };
            match received {
                Ok(messages) => {
                    let attempts = messages.iter().map(|message| self.settle(message, stopping.clone()));
                    futures_util::future::join_all(attempts).await;
                }
                Err(err) => {
                    #[cfg(feature = "tracing")]
                    tracing::error!(target: "yoco_webhooks::sqs", "SQS could not answer: {err}");
                    #[cfg(not(feature = "tracing"))]
                    let _ = err;
                    let _ = tokio::time::timeout(ERROR_WAIT, stopping.wait_for(|stop| *stop)).await;
                }
            }
        }
    }

    /// One `ReceiveMessage`: up to 10 messages, long-polled.
    async fn receive(&self) -> Result<Vec<SqsMessage>, crate::dedup::StoreError> {
        let received = self
            .queue
            .client()
            .receive_message()
            .queue_url(self.queue.url())
            .max_number_of_messages(MAX_BATCH)
            .wait_time_seconds(self.wait)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|err| sqs_error("SQS could not give messages", err))?;
        Ok(received.messages.unwrap_or_default())
    }

    /// One message: its attempt, then deleted, left or given back.
    async fn settle(&self, message: &SqsMessage, mut stopping: watch::Receiver<bool>) {
        let receive_count = message
            .attributes()
            .and_then(|attributes| attributes.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|count| count.parse().ok());
        let attempt = Message {
            message_id: message.message_id().unwrap_or_default(),
            body: message.body(),
            receive_count,
        };
        let grace = self.grace;
        let stop = async move {
            let _ = stopping.wait_for(|stop| *stop).await;
            tokio::time::sleep(grace).await;
        };
        let result = self.attempts.attempt(&attempt, stop).await;
        let Some(handle) = message.receipt_handle() else {
            return;
        };
        let client = self.queue.client();
        let url = self.queue.url();
        let answered = if result.settled() {
            client
                .delete_message()
                .queue_url(url)
                .receipt_handle(handle)
                .send()
                .await
                .map(drop)
                .map_err(|err| sqs_error("SQS did not delete the message", err))
        } else if result == AttemptResult::Released {
            client
                .change_message_visibility()
                .queue_url(url)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await
                .map(drop)
                .map_err(|err| sqs_error("SQS did not give the message back", err))
        } else {
            Ok(())
        };
        // The message reappears: a deleted one is then a duplicate, a
        // released one waits out its visibility timeout.
        if let Err(err) = answered {
            #[cfg(feature = "tracing")]
            tracing::warn!(target: "yoco_webhooks::sqs", message_id = attempt.message_id, "{err}; it reappears after its visibility timeout");
            #[cfg(not(feature = "tracing"))]
            let _ = err;
        }
    }
}

impl<S, H> fmt::Debug for SqsWorker<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqsWorker")
            .field("queue", &self.queue)
            .field("workers", &self.workers)
            .field("attempt_timeout", &self.attempts.timeout)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

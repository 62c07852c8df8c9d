//! [`InboxRunner`]: the workers of an inbox, ready to run. Each takes the
//! oldest due delivery, checks it again, hands it to the
//! [`InboxHandler`] with the delivery's transaction, and records what
//! became of it; idle workers poll, a database that cannot answer is
//! waited out, a handler past its time is stopped, and a shutdown lets the
//! attempts in hand finish (or gives them back).

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use super::attempt::timed_out;
#[cfg(feature = "metrics")]
use super::observe::counted;
use super::observe::{self, AttemptResult};
use super::{Inbox, InboxDelivery, NextAttempt};
use crate::dedup::StoreError;
use crate::dedup::process::panicked;
use crate::receive::{Delivery, Outcome, Receiver};
use crate::stores::attempt_report::AttemptReport;

/// What the runner's workers do with each delivery: your processing.
///
/// Write through `connection`, the delivery's transaction: your changes
/// commit together with "delivery done", or roll back when you return an
/// error (the delivery then runs again after the inbox's backoff). Work
/// elsewhere (an HTTP call to a warehouse) runs at least once: make it
/// idempotent, keyed by [`Delivery::webhook_id`].
///
/// ```no_run
/// use yoco_webhooks::Delivery;
/// use yoco_webhooks::postgres::InboxHandler;
/// use yoco_webhooks::postgres::sqlx::{self, PgConnection};
///
/// struct MarkPaid;
///
/// impl InboxHandler for MarkPaid {
///     type Error = sqlx::Error;
///
///     async fn handle(&self, delivery: Delivery, connection: &mut PgConnection) -> Result<(), sqlx::Error> {
///         sqlx::query("UPDATE orders SET paid = true WHERE checkout_id = $1")
///             .bind(delivery.event.checkout_id().map(|id| id.as_str()))
///             .execute(connection)
///             .await?;
///         Ok(())
///     }
/// }
/// ```
pub trait InboxHandler: Send + Sync + 'static {
    /// Your error: its `Display` is kept as the delivery's `last_error`
    /// and logged (keep secrets out of it).
    type Error: fmt::Display + Send;

    /// Processes `delivery`, writing through `connection`.
    fn handle<'a>(
        &'a self,
        delivery: Delivery,
        connection: &'a mut PgConnection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'a;
}

/// How often an idle worker looks for a due delivery, by default.
const DEFAULT_POLL: Duration = Duration::from_millis(500);
/// How long a worker waits after the database could not answer.
const ERROR_WAIT: Duration = Duration::from_secs(1);
/// How long the attempts in hand may run on after a shutdown, by default.
const DEFAULT_GRACE: Duration = Duration::from_secs(10);
/// How often the inbox's gauges are refreshed (feature `metrics`).
#[cfg(feature = "metrics")]
const COUNTS_EVERY: Duration = Duration::from_secs(15);

/// The workers of an [`Inbox`], from [`Inbox::runner`]: run them with
/// [`run_until`](Self::run_until).
///
/// - **Their own pool.** The runner opens a pool of `workers + 1`
///   connections on the inbox's database (or uses the one given to
///   [`pool`](Self::pool)), so workers never take the connections the
///   endpoint answers Yoco with. An attempt holds one connection, an open
///   transaction and its row's lock for as long as the handler runs, at
///   most the inbox's [`attempt_timeout`](Inbox::attempt_timeout).
/// - **Timeouts.** A handler past the attempt timeout is stopped: a failed
///   attempt, with backoff, dead after the inbox's
///   [`max_attempts`](Inbox::max_attempts).
/// - **Panics.** A handler that panics is a failed attempt (`last_error`
///   says so); the worker goes on.
/// - **Shutdown.** When the `shutdown` future completes, workers take
///   nothing more; an attempt in hand may finish within the
///   [`shutdown_grace`](Self::shutdown_grace), else it is stopped and given
///   back (not counted, due again at once), so the next start processes it.
/// - **Observability** (features `tracing`, `metrics`): a span per attempt
///   and counters by result, the handler's time, and gauges of pending and
///   dead deliveries and the oldest pending one's age; see
///   [`observe`](super::observe).
pub struct InboxRunner<H> {
    inbox: Inbox,
    receiver: Receiver,
    handler: Arc<H>,
    workers: usize,
    poll: Duration,
    grace: Duration,
    pool: Option<PgPool>,
}

impl Inbox {
    /// The workers of this inbox: `handler` processes each delivery that
    /// `receiver` checks again (the same secrets and filter as the
    /// endpoint's). One worker, polling every 500 ms, 10 s of grace at
    /// shutdown, on a pool of its own.
    pub fn runner<H: InboxHandler>(&self, receiver: Receiver, handler: H) -> InboxRunner<H> {
        InboxRunner {
            inbox: self.clone(),
            receiver,
            handler: Arc::new(handler),
            workers: 1,
            poll: DEFAULT_POLL,
            grace: DEFAULT_GRACE,
            pool: None,
        }
    }
}

impl<H: InboxHandler> InboxRunner<H> {
    /// How many deliveries are processed at once (at least one).
    #[must_use]
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// How often an idle worker looks for a due delivery.
    #[must_use]
    pub fn poll_every(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// How long the attempts in hand may run on after a shutdown before
    /// they are stopped and given back.
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The workers' pool, instead of one the runner opens: give it at least
    /// `workers + 1` connections, and not the endpoint's.
    #[must_use]
    pub fn pool(mut self, pool: PgPool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Runs the workers until `shutdown` completes (a signal, a channel),
    /// then until the attempts in hand finished or were given back. A
    /// database that cannot answer is logged and waited out, never the end
    /// of the runner.
    pub async fn run_until<S: Future<Output = ()> + Send>(self, shutdown: S) {
        let own_pool = self.pool.is_none();
        let pool = self.pool.unwrap_or_else(|| {
            let connections = u32::try_from(self.workers).unwrap_or(u32::MAX).saturating_add(1);
            PgPoolOptions::new()
                .max_connections(connections)
                .connect_lazy_with(self.inbox.pool().connect_options().as_ref().clone())
        });
        let worker = Arc::new(Worker {
            inbox: self.inbox.on_pool(pool.clone()),
            receiver: self.receiver,
            handler: self.handler,
            poll: self.poll,
            grace: self.grace,
        });
        let (stop, stopping) = watch::channel(false);
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..self.workers {
            let (worker, stopping) = (Arc::clone(&worker), stopping.clone());
            workers.spawn(async move { worker.run(stopping).await });
        }
        #[cfg(feature = "metrics")]
        workers.spawn(count_every(worker.inbox.clone(), stopping.clone()));
        shutdown.await;
        // Receivers outlive this send: every worker holds one.
        let _ = stop.send(true);
        while workers.join_next().await.is_some() {}
        if own_pool {
            pool.close().await;
        }
    }
}

/// What every worker of a runner shares.
struct Worker<H> {
    inbox: Inbox,
    receiver: Receiver,
    handler: Arc<H>,
    poll: Duration,
    grace: Duration,
}

impl<H: InboxHandler> Worker<H> {
    async fn run(&self, mut stopping: watch::Receiver<bool>) {
        while !*stopping.borrow() {
            let wait = match self.inbox.next().await {
                Ok(Some(taken)) => {
                    self.attempt(taken, &mut stopping).await;
                    continue;
                }
                Ok(None) => self.poll,
                Err(err) => {
                    #[cfg(feature = "tracing")]
                    tracing::error!(target: "yoco_webhooks::inbox", "the inbox's database could not answer: {err}");
                    #[cfg(not(feature = "tracing"))]
                    let _ = err;
                    ERROR_WAIT
                }
            };
            // Either way: a stop wakes the wait.
            let _ = tokio::time::timeout(wait, stopping.wait_for(|stop| *stop)).await;
        }
    }

    /// One attempt: checked, handled within the timeout, recorded.
    async fn attempt(&self, mut taken: InboxDelivery, stopping: &mut watch::Receiver<bool>) {
        let mut report = observe::start(taken.stored(), taken.attempt());
        let delivery = match taken.check(&self.receiver) {
            Err(refused) => {
                let error = refused.to_string();
                let recorded = taken.refused(&error).await;
                return finish(report, recorded.map(|()| AttemptResult::Refused), None, Some(&error));
            }
            Ok(Outcome::Ignore(_)) => {
                return finish(report, taken.done().await.map(|()| AttemptResult::Ignored), None, None);
            }
            Ok(Outcome::Process(delivery)) => delivery,
        };
        report.checked(&delivery);
        let started = Instant::now();
        let timeout = self.inbox.attempt_timeout;
        let handled = {
            let handling = AssertUnwindSafe(self.handler.handle(delivery, taken.connection())).catch_unwind();
            let handling = tokio::time::timeout(timeout, report.in_span(handling));
            tokio::pin!(handling);
            let grace = async {
                let _ = stopping.wait_for(|stop| *stop).await;
                tokio::time::sleep(self.grace).await;
            };
            tokio::select! {
                handled = &mut handling => Some(handled),
                () = grace => None,
            }
        };
        let ran = Some(started.elapsed());
        let (recorded, error) = match handled {
            Some(Ok(Ok(Ok(())))) => (taken.done().await.map(|()| AttemptResult::Done), None),
            Some(Ok(Ok(Err(error)))) => failed(taken, error.to_string(), AttemptResult::Failed).await,
            Some(Ok(Err(panic))) => failed(taken, panicked(panic.as_ref()), AttemptResult::Failed).await,
            Some(Err(_elapsed)) => failed(taken, timed_out(timeout), AttemptResult::TimedOut).await,
            None => (taken.release().await.map(|()| AttemptResult::Released), None),
        };
        finish(report, recorded, ran, error.as_deref());
    }
}

/// Records a failed attempt: `result`, or dead if it was the last.
async fn failed(
    taken: InboxDelivery,
    error: String,
    result: AttemptResult,
) -> (Result<AttemptResult, StoreError>, Option<String>) {
    let recorded = taken.failed(&error).await.map(|next| match next {
        NextAttempt::Dead => AttemptResult::Dead,
        NextAttempt::At(_) => result,
    });
    (recorded, Some(error))
}

/// Reports what became of the attempt, or that the database could not
/// record it.
fn finish(
    report: AttemptReport,
    recorded: Result<AttemptResult, StoreError>,
    ran: Option<Duration>,
    error: Option<&str>,
) {
    match recorded {
        Ok(result) => observe::finished(report, result, ran, error),
        Err(err) => observe::finished(report, AttemptResult::StoreUnavailable, ran, Some(&err.to_string())),
    }
}

/// Refreshes the inbox's gauges until the runner stops.
#[cfg(feature = "metrics")]
async fn count_every(inbox: Inbox, mut stopping: watch::Receiver<bool>) {
    while !*stopping.borrow() {
        if let Ok(counts) = inbox.counts().await {
            counted(&counts);
        }
        let _ = tokio::time::timeout(COUNTS_EVERY, stopping.wait_for(|stop| *stop)).await;
    }
}

impl<H> fmt::Debug for InboxRunner<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboxRunner")
            .field("inbox", &self.inbox)
            .field("workers", &self.workers)
            .field("poll", &self.poll)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

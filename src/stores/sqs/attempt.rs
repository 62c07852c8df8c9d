//! One message, one attempt: read the stored delivery, check it again,
//! process it once through the store within the attempt timeout, and say
//! what becomes of the message. What the long-polling worker and the
//! Lambda batch handler share.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;

use super::observe::{self, AttemptResult};
use crate::dedup::process::{Processed, panicked};
use crate::dedup::{Deduplicator, IdempotencyStore};
use crate::handoff::StoredDelivery;
use crate::receive::{Delivery, Outcome, Receiver};
use crate::stores::attempt_report::AttemptReport;

/// What the workers do with each delivery: your processing. It runs once
/// per `webhook-id` through the worker's store; an error (its `Display`
/// logged: keep secrets out of it) gives the claim up, and the message
/// reappears after the queue's visibility timeout for another attempt.
/// Work outside the store (an HTTP call to a warehouse) runs at least once
/// if the store cannot record it done: make it idempotent, keyed by
/// [`Delivery::webhook_id`].
///
/// A closure `Fn(Delivery) -> impl Future<Output = Result<(), E>>` is a
/// handler:
///
/// ```
/// use yoco_webhooks::Delivery;
/// use yoco_webhooks::sqs::SqsHandler;
///
/// fn mark_paid() -> impl SqsHandler {
///     |delivery: Delivery| async move {
///         println!("paid: {:?}", delivery.event.checkout_id());
///         Ok::<(), std::io::Error>(())
///     }
/// }
/// ```
pub trait SqsHandler: Send + Sync + 'static {
    /// Your error: its `Display` is logged (keep secrets out of it).
    type Error: fmt::Display + Send;

    /// Processes `delivery`.
    fn handle(&self, delivery: Delivery) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

impl<F, Fut, E> SqsHandler for F
where
    F: Fn(Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: fmt::Display + Send,
{
    type Error = E;

    fn handle(&self, delivery: Delivery) -> impl Future<Output = Result<(), E>> + Send {
        self(delivery)
    }
}

/// A message as the worker or Lambda received it.
pub(super) struct Message<'a> {
    pub(super) message_id: &'a str,
    pub(super) body: Option<&'a str>,
    /// SQS's `ApproximateReceiveCount`: this attempt's number.
    pub(super) receive_count: Option<u32>,
}

/// Why the handler's attempt ended without success.
enum Unfinished<E> {
    Failed(E),
    TimedOut,
    Stopped,
}

/// What every attempt needs: the checks, the store, the handler, the time.
pub(super) struct Attempts<S, H> {
    pub(super) receiver: Receiver,
    pub(super) dedup: Deduplicator<S>,
    pub(super) handler: H,
    pub(super) timeout: Duration,
}

impl<S: IdempotencyStore, H: SqsHandler> Attempts<S, H> {
    /// One attempt at `message`; `stop` completes when the attempt must be
    /// given up (the worker stopping, its grace over).
    pub(super) async fn attempt(&self, message: &Message<'_>, stop: impl Future<Output = ()> + Send) -> AttemptResult {
        let mut report = observe::start(message.message_id, message.receive_count);
        let stored = match read(message.body) {
            Ok(stored) => stored,
            Err(error) => return finished(report, AttemptResult::Unreadable, None, Some(&error)),
        };
        report.read(stored.webhook_id().as_str());
        let delivery = match self.receiver.receive_stored(&stored) {
            Err(refused) => return finished(report, AttemptResult::Refused, None, Some(&refused.to_string())),
            Ok(Outcome::Ignore(_)) => return finished(report, AttemptResult::Ignored, None, None),
            Ok(Outcome::Process(delivery)) => delivery,
        };
        report.checked(&delivery);
        let started = Instant::now();
        let webhook_id = delivery.webhook_id.clone();
        let handling = self.dedup.process(&webhook_id, || async {
            let handled = tokio::time::timeout(self.timeout, report.in_span(self.handler.handle(delivery)));
            tokio::select! {
                handled = handled => match handled {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(error)) => Err(Unfinished::Failed(error)),
                    Err(_elapsed) => Err(Unfinished::TimedOut),
                },
                () = stop => Err(Unfinished::Stopped),
            }
        });
        // The deduplicator gives the claim up before a panic goes on.
        let processed = AssertUnwindSafe(handling).catch_unwind().await;
        let ran = Some(started.elapsed());
        let (result, error) = match processed {
            Ok(Processed::Done { recorded, .. }) => (AttemptResult::Done, recorded.err().map(|err| err.to_string())),
            Ok(Processed::Duplicate) => (AttemptResult::Duplicate, None),
            Ok(Processed::Ignored(_)) => (AttemptResult::Ignored, None),
            Ok(Processed::InProgress) => (AttemptResult::InProgress, None),
            Ok(Processed::Failed(Unfinished::Failed(error))) => (AttemptResult::Failed, Some(error.to_string())),
            Ok(Processed::Failed(Unfinished::TimedOut)) => (
                AttemptResult::TimedOut,
                Some(format!(
                    "timed out: the handler ran past the attempt timeout ({:?})",
                    self.timeout
                )),
            ),
            Ok(Processed::Failed(Unfinished::Stopped)) => (AttemptResult::Released, None),
            Ok(Processed::StoreUnavailable(err)) => (AttemptResult::StoreUnavailable, Some(err.to_string())),
            Err(panic) => (AttemptResult::Failed, Some(panicked(panic.as_ref()))),
        };
        let ran = if matches!(
            result,
            AttemptResult::Duplicate | AttemptResult::InProgress | AttemptResult::StoreUnavailable
        ) {
            None
        } else {
            ran
        };
        finished(report, result, ran, error.as_deref())
    }
}

/// The stored delivery in a message's body; the error says where the JSON
/// went wrong, never what it held.
fn read(body: Option<&str>) -> Result<StoredDelivery, String> {
    let body = body.ok_or("the message has no body")?;
    serde_json::from_str(body).map_err(|err| {
        format!(
            "not a stored delivery: {:?} JSON error at line {} column {}",
            err.classify(),
            err.line(),
            err.column()
        )
    })
}

fn finished(report: AttemptReport, result: AttemptResult, ran: Option<Duration>, error: Option<&str>) -> AttemptResult {
    observe::finished(report, result, ran, error);
    result
}

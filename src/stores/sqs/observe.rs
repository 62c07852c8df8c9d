//! What the SQS workers tell an operator: one `tracing` span per attempt
//! named [`ATTEMPT_SPAN`] (feature `tracing`), and `metrics` counters and
//! a histogram (feature `metrics`) under the names below, from the
//! [`SqsWorker`](super::SqsWorker), as a process or a Lambda function.
//! Without either feature nothing is recorded and nothing costs.
//!
//! Never a secret, a signature or the body: ids, types, modes, results,
//! and a failed handler's error (field `error`), which is the merchant's
//! own `Display`: keep secrets out of it.

use std::time::Duration;

use crate::stores::attempt_report::AttemptReport;

/// The name of the span around each attempt, with the fields
/// `message_id`, `webhook_id`, `attempt` (SQS's receive count),
/// `event_type`, `checkout_id`, `mode`, `result` and `handler_ms`.
pub const ATTEMPT_SPAN: &str = "yoco_webhooks.sqs.attempt";
/// The counter of attempts, labelled `result` (`done`, `duplicate`,
/// `ignored`, `failed`, `timed_out`, `in_progress`, `refused`,
/// `unreadable`, `released`, `store_unavailable`) and `event_type`.
pub const ATTEMPTS_TOTAL: &str = "yoco_webhooks_sqs_attempts_total";
/// The histogram of the handler's time per attempt, in seconds, labelled
/// `result`.
pub const HANDLER_SECONDS: &str = "yoco_webhooks_sqs_handler_seconds";

/// The target of every event the workers log.
#[cfg(feature = "tracing")]
const TARGET: &str = "yoco_webhooks::sqs";

/// What became of an attempt, and so of its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AttemptResult {
    /// The handler succeeded: the message is deleted.
    Done,
    /// Processed before (a copy, or SQS's redelivery): deleted.
    Duplicate,
    /// The receiver ignores it (another shop's checkout): deleted.
    Ignored,
    /// The handler failed: the message reappears after its visibility
    /// timeout.
    Failed,
    /// The handler ran past the attempt timeout: as failed.
    TimedOut,
    /// Another worker holds its claim: it reappears after its visibility
    /// timeout, and is then done or processed.
    InProgress,
    /// The stored delivery did not check out: kept, never processed, for
    /// the dead-letter queue.
    Refused,
    /// Not a stored delivery at all: kept for the dead-letter queue.
    Unreadable,
    /// The worker stopped first: given back, visible again at once.
    Released,
    /// The store could not answer: it reappears after its visibility
    /// timeout.
    StoreUnavailable,
}

impl AttemptResult {
    /// Whether the message is deleted: it needs no further attempt.
    pub(super) fn settled(self) -> bool {
        matches!(self, Self::Done | Self::Duplicate | Self::Ignored)
    }

    pub(super) fn label(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::InProgress => "in_progress",
            Self::Refused => "refused",
            Self::Unreadable => "unreadable",
            Self::Released => "released",
            Self::StoreUnavailable => "store_unavailable",
        }
    }
}

/// The report of an attempt at the message `message_id`, received for the
/// `attempt`th time.
pub(super) fn start(message_id: &str, attempt: Option<u32>) -> AttemptReport {
    #[cfg(feature = "tracing")]
    {
        AttemptReport::new(tracing::info_span!(
            target: TARGET,
                "yoco_webhooks.sqs.attempt",
                message_id,
                webhook_id = tracing::field::Empty,
                attempt,
                event_type = tracing::field::Empty,
                checkout_id = tracing::field::Empty,
                mode = tracing::field::Empty,
                result = tracing::field::Empty,
                handler_ms = tracing::field::Empty,
        ))
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (message_id, attempt);
        AttemptReport::new()
    }
}

/// What became of the attempt, how long the handler ran (if it ran), and
/// why it did not succeed.
pub(super) fn finished(report: AttemptReport, result: AttemptResult, handler: Option<Duration>, error: Option<&str>) {
    report.record(ATTEMPTS_TOTAL, HANDLER_SECONDS, result.label(), handler);
    #[cfg(feature = "tracing")]
    {
        let error = error.unwrap_or("");
        report.span.in_scope(|| match result {
                AttemptResult::Done if error.is_empty() => tracing::info!(target: TARGET, "delivery done"),
                AttemptResult::Done => tracing::warn!(target: TARGET, error, "delivery done, but not recorded as done or its message not deleted: a redelivery may run it again"),
                AttemptResult::Duplicate => tracing::info!(target: TARGET, "processed before: message deleted"),
                AttemptResult::Ignored => tracing::debug!(target: TARGET, "event ignored: not for this receiver; message deleted"),
                AttemptResult::Released => {
                    tracing::info!(target: TARGET, "worker stopping: message given back, visible again now")
                }
                AttemptResult::InProgress => {
                    tracing::info!(target: TARGET, "another worker holds its claim: it reappears after the visibility timeout")
                }
                AttemptResult::Failed => {
                    tracing::warn!(target: TARGET, error, "handler failed: the message reappears after its visibility timeout")
                }
                AttemptResult::TimedOut => {
                    tracing::warn!(target: TARGET, error, "handler timed out: the message reappears after its visibility timeout")
                }
                AttemptResult::Refused => {
                    tracing::error!(target: TARGET, error, "stored delivery refused: never processed, kept for the dead-letter queue")
                }
                AttemptResult::Unreadable => {
                    tracing::error!(target: TARGET, error, "not a stored delivery: never processed, kept for the dead-letter queue")
                }
                AttemptResult::StoreUnavailable => {
                    tracing::error!(target: TARGET, error, "the store could not answer: the message reappears after its visibility timeout")
                }
            });
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (report, error);
}

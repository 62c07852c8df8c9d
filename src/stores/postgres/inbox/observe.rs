//! What the inbox's workers tell an operator: one `tracing` span per
//! attempt named [`ATTEMPT_SPAN`] (feature `tracing`), and `metrics`
//! counters, histograms and gauges (feature `metrics`) under the names
//! below, from the [`InboxRunner`](super::InboxRunner). Without either
//! feature nothing is recorded and nothing costs.
//!
//! Never a secret, a signature or the body: ids, types, modes, results,
//! and a failed handler's error (field `error`), which is the merchant's
//! own `Display`: keep secrets out of it.

use std::time::Duration;

#[cfg(feature = "metrics")]
use super::operator::InboxCounts;
use crate::handoff::StoredDelivery;
use crate::stores::attempt_report::AttemptReport;

/// The name of the span around each attempt, with the fields
/// `webhook_id`, `attempt`, `event_type`, `checkout_id`, `mode`, `result`
/// and `handler_ms`.
pub const ATTEMPT_SPAN: &str = "yoco_webhooks.inbox.attempt";
/// The counter of attempts, labelled `result` (`done`, `failed`,
/// `timed_out`, `dead`, `refused`, `ignored`, `released`,
/// `store_unavailable`) and `event_type`.
pub const ATTEMPTS_TOTAL: &str = "yoco_webhooks_inbox_attempts_total";
/// The histogram of the handler's time per attempt, in seconds, labelled
/// `result`.
pub const HANDLER_SECONDS: &str = "yoco_webhooks_inbox_handler_seconds";
/// The gauge of pending deliveries ([`InboxCounts::pending`]).
pub const PENDING: &str = "yoco_webhooks_inbox_pending";
/// The gauge of dead deliveries ([`InboxCounts::dead`]): alert on any.
pub const DEAD: &str = "yoco_webhooks_inbox_dead";
/// The gauge of the oldest pending delivery's age, in seconds (0 when
/// nothing is pending): alert when the workers fall behind.
pub const OLDEST_PENDING_SECONDS: &str = "yoco_webhooks_inbox_oldest_pending_seconds";

/// The target of every event the workers log.
#[cfg(feature = "tracing")]
const TARGET: &str = "yoco_webhooks::inbox";

/// What became of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AttemptResult {
    /// The handler succeeded; the delivery is done.
    Done,
    /// The handler failed; the delivery runs again after its backoff.
    Failed,
    /// The handler ran past the attempt timeout; it runs again after its
    /// backoff.
    TimedOut,
    /// It failed (or timed out) on its last attempt.
    Dead,
    /// The stored delivery did not check out: dead at once.
    Refused,
    /// The receiver ignores it: done without the handler.
    Ignored,
    /// The worker stopped first and gave the attempt back.
    Released,
    /// The database could not record what became of it.
    StoreUnavailable,
}

impl AttemptResult {
    pub(super) fn label(self) -> &'static str {
        match self {
            AttemptResult::Done => "done",
            AttemptResult::Failed => "failed",
            AttemptResult::TimedOut => "timed_out",
            AttemptResult::Dead => "dead",
            AttemptResult::Refused => "refused",
            AttemptResult::Ignored => "ignored",
            AttemptResult::Released => "released",
            AttemptResult::StoreUnavailable => "store_unavailable",
        }
    }
}

/// The report of the `attempt`th attempt at `stored`.
pub(super) fn start(stored: &StoredDelivery, attempt: u32) -> AttemptReport {
    #[cfg(feature = "tracing")]
    {
        AttemptReport::new(tracing::info_span!(
                target: TARGET,
                "yoco_webhooks.inbox.attempt",
                webhook_id = stored.webhook_id().as_str(),
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
        let _ = (stored, attempt);
        AttemptReport::new()
    }
}

/// What became of the attempt, how long the handler ran (if it ran), and
/// why it did not succeed (the handler's or the database's error).
pub(super) fn finished(report: AttemptReport, result: AttemptResult, handler: Option<Duration>, error: Option<&str>) {
    report.record(ATTEMPTS_TOTAL, HANDLER_SECONDS, result.label(), handler);
    #[cfg(feature = "tracing")]
    {
        let error = error.unwrap_or("");
        report.span.in_scope(|| match result {
                AttemptResult::Done => tracing::info!(target: TARGET, "delivery done"),
                AttemptResult::Ignored => tracing::debug!(target: TARGET, "event ignored: not for this receiver; done"),
                AttemptResult::Released => {
                    tracing::info!(target: TARGET, "worker stopping: attempt given back, due again now")
                }
                AttemptResult::Failed => {
                    tracing::warn!(target: TARGET, error, "handler failed: runs again after its backoff")
                }
                AttemptResult::TimedOut => {
                    tracing::warn!(target: TARGET, error, "handler timed out: runs again after its backoff")
                }
                AttemptResult::Dead => {
                    tracing::error!(target: TARGET, error, "delivery dead: its last attempt failed; retry it from `yoco-webhooks inbox dead`")
                }
                AttemptResult::Refused => {
                    tracing::error!(target: TARGET, error, "stored delivery refused: dead, never processed")
                }
                AttemptResult::StoreUnavailable => {
                    tracing::error!(target: TARGET, error, "the inbox's database could not record the attempt: it runs again after its backoff")
                }
            });
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (report, error);
}

/// The inbox's gauges, from [`Inbox::counts`](super::Inbox::counts).
#[cfg(feature = "metrics")]
pub(super) fn counted(counts: &InboxCounts) {
    #[cfg(feature = "metrics")]
    {
        #[allow(
            clippy::cast_precision_loss,
            reason = "a gauge is an f64; counts that large are not exact anyway"
        )]
        {
            metrics::gauge!(PENDING).set(counts.pending as f64);
            metrics::gauge!(DEAD).set(counts.dead as f64);
        }
        metrics::gauge!(OLDEST_PENDING_SECONDS).set(counts.oldest_pending.map_or(0.0, |age| age.as_secs_f64()));
    }
    #[cfg(not(feature = "metrics"))]
    let _ = counts;
}

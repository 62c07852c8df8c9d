//! What the pipeline tells an operator about each delivery: one `tracing`
//! span named [`DELIVERY_SPAN`] (feature `tracing`), and `metrics` counters
//! and histograms (feature `metrics`) under the names below. Without either
//! feature nothing is recorded and nothing costs.
//!
//! Never a secret, a signature, the signed content or the body: the fields
//! are ids, types, modes, outcomes and reasons, and the messages are the
//! crate's own texts or errors whose `Display` is known to hold none of it;
//! and a failed handler's error (field `error`), which is the merchant's
//! own `Display`: keep secrets out of it.

use std::time::Duration;

mod timing;

pub(crate) use timing::{Stopwatch, TimedStore, store_call};

use super::answered::Answered;
use super::rejection::YocoRejection;
use crate::dedup::process::Processed;
use crate::event::event_type_label;
use crate::mode::{Mode, mode_label};
use crate::receive::Delivery;
use crate::verify::{SecretName, VerifyError};

/// The target of every event the pipeline logs (`RUST_LOG=yoco_webhooks=debug`).
#[cfg(feature = "tracing")]
const TARGET: &str = "yoco_webhooks";

/// The name of the span around each delivery.
pub const DELIVERY_SPAN: &str = "yoco_webhooks.delivery";
/// The counter of deliveries, labelled `outcome`, `reason`, `event_type`
/// and `mode`.
pub const DELIVERIES_TOTAL: &str = "yoco_webhooks_deliveries_total";
/// The counter of bodies refused for their size (413), without labels. Each
/// is an event lost: the sender's retries are as large, and are refused
/// the same way, so alert on any. Counted in [`DELIVERIES_TOTAL`] too
/// (reason `body_too_large`).
pub const BODY_TOO_LARGE_TOTAL: &str = "yoco_webhooks_body_too_large_total";
/// The counter of deliveries verified, labelled `secret`: the name of the
/// secret that verified (see `VerifierBuilder::named`), to see when a
/// previous secret stopped being used.
pub const VERIFIED_TOTAL: &str = "yoco_webhooks_verified_total";
/// The histogram of the merchant's handler time, in seconds, labelled
/// `event_type`.
pub const HANDLER_SECONDS: &str = "yoco_webhooks_handler_seconds";
/// The histogram of store calls, in seconds, labelled `store` and
/// `operation` (`claim`, `complete`, `release`, and `enqueue` for a
/// delivery queue, labelled with the queue's type).
pub const STORE_SECONDS: &str = "yoco_webhooks_store_seconds";

/// One delivery, observed from its first byte to its answer.
pub(crate) struct Observation {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
    /// Bounded labels for metrics, known once the event is parsed.
    event_type: &'static str,
    mode: &'static str,
}

impl Observation {
    /// Opens the delivery's span.
    pub(crate) fn start() -> Self {
        Self {
            #[cfg(feature = "tracing")]
            span: tracing::info_span!(
                target: TARGET,
                "yoco_webhooks.delivery",
                webhook_id = tracing::field::Empty,
                claimed_webhook_id = tracing::field::Empty,
                event_id = tracing::field::Empty,
                event_type = tracing::field::Empty,
                mode = tracing::field::Empty,
                checkout_id = tracing::field::Empty,
                secret = tracing::field::Empty,
                outcome = tracing::field::Empty,
                reason = tracing::field::Empty,
                status = tracing::field::Empty,
                store_ms = tracing::field::Empty,
                handler_ms = tracing::field::Empty,
                body_limit = tracing::field::Empty,
            ),
            event_type: "unknown",
            mode: "none",
        }
    }

    /// An authentic delivery to process: what it is.
    pub(crate) fn received(&mut self, delivery: &Delivery) {
        let event = &delivery.event;
        self.describe(event.event_type(), event.mode());
        self.verified_by(&delivery.secret);
        #[cfg(feature = "tracing")]
        self.record_ids(
            delivery.webhook_id.as_str(),
            event.id.as_str(),
            event.event_type(),
            event.mode(),
            event.checkout_id().map(|id| id.as_str()),
        );
    }

    /// Which secret verified: in the span, and counted.
    fn verified_by(&self, secret: &SecretName) {
        #[cfg(feature = "tracing")]
        self.span.record("secret", secret.as_str());
        #[cfg(feature = "metrics")]
        metrics::counter!(VERIFIED_TOTAL, "secret" => secret.shared()).increment(1);
        #[cfg(not(any(feature = "tracing", feature = "metrics")))]
        let _ = secret;
    }

    fn describe(&mut self, event_type: &str, mode: Option<&Mode>) {
        self.event_type = event_type_label(event_type);
        self.mode = mode_label(mode);
    }

    #[cfg(feature = "tracing")]
    fn record_ids(
        &self,
        webhook_id: &str,
        event_id: &str,
        event_type: &str,
        mode: Option<&Mode>,
        checkout_id: Option<&str>,
    ) {
        let span = &self.span;
        span.record("webhook_id", webhook_id);
        span.record("event_id", event_id);
        span.record("event_type", event_type);
        if let Some(mode) = mode {
            span.record("mode", mode.as_str());
        }
        if let Some(checkout_id) = checkout_id {
            span.record("checkout_id", checkout_id);
        }
    }

    /// The `webhook-id` of a verified request that is not an event.
    pub(crate) fn authentic_id(&self, webhook_id: &[u8]) {
        #[cfg(feature = "tracing")]
        if let Ok(webhook_id) = std::str::from_utf8(webhook_id) {
            self.span.record("webhook_id", webhook_id);
        }
        #[cfg(not(feature = "tracing"))]
        let _ = webhook_id;
    }

    /// The `webhook-id` a refused request claims, unverified: in its own
    /// field (never `webhook_id`, never a metric's label), at most
    /// [`CLAIMED_ID_CHARS`] characters, without control characters.
    pub(crate) fn claimed_id(&self, webhook_id: &[u8]) {
        #[cfg(feature = "tracing")]
        self.span.record("claimed_webhook_id", claimed(webhook_id).as_str());
        #[cfg(not(feature = "tracing"))]
        let _ = webhook_id;
    }

    /// The body was over `limit` bytes: counted apart, since the event is lost.
    pub(crate) fn over_limit(&self, limit: usize) {
        #[cfg(feature = "tracing")]
        self.span.record("body_limit", limit);
        #[cfg(feature = "metrics")]
        metrics::counter!(BODY_TOO_LARGE_TOTAL).increment(1);
        #[cfg(not(feature = "tracing"))]
        let _ = limit;
    }

    /// Answered without the handler: ignored (debug), rejected (warn), or
    /// too large to be processed ever (error).
    pub(crate) fn answered_itself(mut self, answered: &Answered) {
        let reason = answered.reason();
        let outcome = match answered {
            Answered::Ignored(ignored) => {
                self.describe(&ignored.event_type, ignored.mode.as_ref());
                self.verified_by(&ignored.secret);
                #[cfg(feature = "tracing")]
                self.record_ids(
                    ignored.webhook_id.as_str(),
                    ignored.event_id.as_str(),
                    &ignored.event_type,
                    ignored.mode.as_ref(),
                    ignored.checkout_id.as_ref().map(|id| id.as_str()),
                );
                "ignored"
            }
            Answered::Refused(YocoRejection::NotAuthentic(VerifyError::ModeMismatch { secret, .. })) => {
                // Verified, but by a secret bound to another mode.
                #[cfg(feature = "tracing")]
                self.span.record("secret", secret.as_str());
                #[cfg(not(feature = "tracing"))]
                let _ = secret;
                "rejected"
            }
            Answered::Queued(_) => "queued",
            Answered::AlreadyQueued(_) => "duplicate",
            Answered::Refused(YocoRejection::QueueUnavailable(_)) => "store_unavailable",
            Answered::Refused(_) => "rejected",
        };
        self.answered(outcome, reason, answered.status());
        #[cfg(feature = "tracing")]
        self.span.in_scope(|| match answered {
            Answered::Ignored(_) => tracing::debug!(target: TARGET, "event ignored: not for this receiver"),
            Answered::Queued(_) => tracing::info!(target: TARGET, "delivery queued"),
            Answered::AlreadyQueued(_) => {
                tracing::info!(target: TARGET, "delivery queued already: answered duplicate")
            }
            Answered::Refused(YocoRejection::NotAuthentic(cause)) => {
                tracing::warn!(target: TARGET, "request refused: not authentic: {cause}")
            }
            Answered::Refused(YocoRejection::QueueUnavailable(err)) => {
                tracing::error!(target: TARGET, "answered 503, Yoco retries: {err}")
            }
            Answered::Refused(YocoRejection::BodyTooLarge) => tracing::error!(
                target: TARGET,
                "body over the limit: answered 413, as every retry will be, so the event is lost; \
                 raise the body limit (`YocoWebhookConfig::body_limit`, or the server's own)"
            ),
            // Not the parser's message: it may quote the body.
            Answered::Refused(rejection) => {
                tracing::warn!(target: TARGET, "request refused: {}", rejection.body_text())
            }
        });
    }

    /// The handler's (and the store's) future, inside the span, so that
    /// the merchant's own logs nest under the delivery. Plain functions, not
    /// `async` ones, which would keep the future twice in their own.
    #[cfg(feature = "tracing")]
    pub(crate) fn in_span<F: Future>(&self, future: F) -> tracing::instrument::Instrumented<F> {
        tracing::Instrument::instrument(future, self.span.clone())
    }

    /// As with `tracing`, without a span.
    #[cfg(not(feature = "tracing"))]
    pub(crate) fn in_span<F: Future>(&self, future: F) -> F {
        future
    }

    /// What became of a delivery the handler was given; a handler's error
    /// is logged with its `Display`, as the merchant wrote it.
    pub(crate) fn processed<T, E: std::fmt::Display>(
        self,
        processed: &Processed<T, E>,
        store: Option<Duration>,
        handler: Option<Duration>,
    ) {
        let outcome = match processed {
            Processed::Done { .. } => "processed",
            Processed::Duplicate => "duplicate",
            Processed::Ignored(_) => "ignored",
            Processed::InProgress => "in_progress",
            Processed::Failed(_) => "handler_failed",
            Processed::StoreUnavailable(_) => "store_unavailable",
        };
        let reason = match processed {
            Processed::Ignored(reason) => reason,
            _ => "none",
        };
        self.answered(outcome, reason, processed.status());
        #[cfg(feature = "metrics")]
        if let Some(handler) = handler {
            metrics::histogram!(HANDLER_SECONDS, "event_type" => self.event_type).record(handler.as_secs_f64());
        }
        #[cfg(feature = "tracing")]
        {
            let span = &self.span;
            if let Some(store) = store {
                span.record("store_ms", millis(store));
            }
            if let Some(handler) = handler {
                span.record("handler_ms", millis(handler));
            }
            span.in_scope(|| match processed {
                Processed::Done { recorded: Ok(()), .. } => tracing::info!(target: TARGET, "delivery processed"),
                Processed::Done { recorded: Err(err), .. } => {
                    tracing::warn!(target: TARGET, "delivery processed, but not recorded as done: a retry may run it again: {err}");
                }
                Processed::Duplicate => tracing::info!(target: TARGET, "delivery processed before: duplicate"),
                Processed::Ignored(_) => tracing::debug!(target: TARGET, "event ignored by the handler: not for this receiver"),
                Processed::InProgress => tracing::warn!(target: TARGET, "delivery in progress elsewhere: answered 409, Yoco retries"),
                Processed::Failed(err) => {
                    tracing::error!(target: TARGET, error = %err, "handler failed: answered 500, Yoco retries");
                }
                Processed::StoreUnavailable(err) => tracing::error!(target: TARGET, "answered 503, Yoco retries: {err}"),
            });
        }
        #[cfg(not(feature = "tracing"))]
        let _ = (store, handler);
    }

    fn answered(&self, outcome: &'static str, reason: &'static str, status: u16) {
        #[cfg(feature = "tracing")]
        {
            self.span.record("outcome", outcome);
            if reason != "none" {
                self.span.record("reason", reason);
            }
            self.span.record("status", status);
        }
        #[cfg(feature = "metrics")]
        metrics::counter!(
            DELIVERIES_TOTAL,
            "outcome" => outcome,
            "reason" => reason,
            "event_type" => self.event_type,
            "mode" => self.mode,
        )
        .increment(1);
        #[cfg(not(feature = "tracing"))]
        let _ = status;
        #[cfg(not(any(feature = "tracing", feature = "metrics")))]
        let _ = (outcome, reason);
    }
}

/// How much of a claimed, unverified `webhook-id` a log keeps: real ids are
/// about 30 characters.
#[cfg(feature = "tracing")]
pub(crate) const CLAIMED_ID_CHARS: usize = 64;

/// A claimed `webhook-id` fit for a log line: UTF-8 (lossy), without
/// control characters (nor the line separators and bidirectional or
/// invisible formatting that can make a log line read as another), at most
/// [`CLAIMED_ID_CHARS`] characters.
#[cfg(feature = "tracing")]
fn claimed(webhook_id: &[u8]) -> String {
    let misleading = |c: char| {
        c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    };
    String::from_utf8_lossy(webhook_id)
        .chars()
        .filter(|&c| !misleading(c))
        .take(CLAIMED_ID_CHARS)
        .collect()
}

#[cfg(feature = "tracing")]
fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "tracing")]
    #[test]
    fn a_claimed_id_is_capped_and_loses_its_control_characters() {
        assert_eq!(claimed(b"msg_2fKx9bQzR4TnWc8Lp1Vd"), "msg_2fKx9bQzR4TnWc8Lp1Vd");
        assert_eq!(
            claimed(b"msg_1\r\nINFO forged line\x1b[31m"),
            "msg_1INFO forged line[31m"
        );
        assert_eq!(claimed(&[b'x'; 1000]).len(), CLAIMED_ID_CHARS);
        assert_eq!(claimed("é".repeat(100).as_bytes()).chars().count(), CLAIMED_ID_CHARS);
        assert_eq!(claimed(b"msg_\xff\x00"), "msg_\u{fffd}");
        assert_eq!(claimed("msg_\u{202E}1\u{2028}2\u{200B}3\u{FEFF}".as_bytes()), "msg_123");
    }

    #[test]
    fn the_span_wraps_a_future_without_keeping_it_twice() {
        // A future as large as a handler's with a big buffer in its state.
        let handler = async {
            let buffer = [7_u8; 4096];
            std::future::ready(()).await;
            buffer.iter().map(|&byte| usize::from(byte)).sum::<usize>()
        };
        let alone = std::mem::size_of_val(&handler);
        assert!(alone >= 4096);
        let observation = Observation::start();
        let wrapped = observation.in_span(handler);
        // The span's handle at most, not a second copy of the future.
        assert!(
            std::mem::size_of_val(&wrapped) <= alone + 64,
            "{} B around a future of {alone} B",
            std::mem::size_of_val(&wrapped)
        );
    }
}

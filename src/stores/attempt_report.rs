//! One worker's attempt at a queued delivery as an operator sees it, the
//! same for the inbox's workers and SQS's: a `tracing` span that learns the
//! delivery's type, checkout and mode once it checks out, with the handler
//! run inside it; and, at the end, a `metrics` counter by result and event
//! type and a histogram of the handler's time. Each queue names its span,
//! its metrics and what it logs (`postgres::observe`, `sqs::observe`).
//! Without `tracing` and `metrics` nothing is recorded and nothing costs.

use std::time::Duration;

use crate::receive::Delivery;

/// One attempt, from when it was taken to what became of it.
pub(crate) struct AttemptReport {
    /// The attempt's span: the queue logs what became of it inside.
    #[cfg(feature = "tracing")]
    pub(crate) span: tracing::Span,
    #[cfg(feature = "metrics")]
    event_type: &'static str,
}

impl AttemptReport {
    /// A report on the queue's span, whose fields `webhook_id`,
    /// `event_type`, `checkout_id`, `mode`, `result` and `handler_ms` this
    /// fills in.
    pub(crate) fn new(#[cfg(feature = "tracing")] span: tracing::Span) -> Self {
        Self {
            #[cfg(feature = "tracing")]
            span,
            #[cfg(feature = "metrics")]
            event_type: "none",
        }
    }

    /// The stored delivery's `webhook-id`, once read (SQS's span starts
    /// from the message, before its body is read).
    #[cfg(feature = "sqs")]
    pub(crate) fn read(&self, webhook_id: &str) {
        #[cfg(feature = "tracing")]
        self.span.record("webhook_id", webhook_id);
        #[cfg(not(feature = "tracing"))]
        let _ = webhook_id;
    }

    /// The checked delivery's type, checkout and mode.
    pub(crate) fn checked(&mut self, delivery: &Delivery) {
        let event = &delivery.event;
        #[cfg(feature = "tracing")]
        {
            self.span.record("event_type", event.event_type());
            if let Some(checkout) = event.checkout_id() {
                self.span.record("checkout_id", checkout.as_str());
            }
            if let Some(mode) = event.mode() {
                self.span.record("mode", mode.as_str());
            }
        }
        #[cfg(feature = "metrics")]
        {
            self.event_type = crate::event::event_type_label(event.event_type());
        }
        #[cfg(not(any(feature = "tracing", feature = "metrics")))]
        let _ = event;
    }

    /// The handler's future, inside the span, so that the merchant's own
    /// logs nest under the attempt.
    #[cfg(feature = "tracing")]
    pub(crate) fn in_span<F: std::future::Future>(&self, future: F) -> tracing::instrument::Instrumented<F> {
        tracing::Instrument::instrument(future, self.span.clone())
    }

    /// As with `tracing`, without a span.
    #[cfg(not(feature = "tracing"))]
    pub(crate) fn in_span<F: std::future::Future>(&self, future: F) -> F {
        future
    }

    /// The attempt's `result` (its label) and how long the handler ran, if
    /// it ran: on the span, and counted in the queue's `attempts_total` and
    /// `handler_seconds`.
    #[cfg_attr(
        not(feature = "metrics"),
        allow(unused_variables, reason = "the metrics' names are for `metrics`")
    )]
    pub(crate) fn record(
        &self,
        attempts_total: &'static str,
        handler_seconds: &'static str,
        result: &'static str,
        handler: Option<Duration>,
    ) {
        #[cfg(feature = "metrics")]
        {
            metrics::counter!(attempts_total, "result" => result, "event_type" => self.event_type).increment(1);
            if let Some(handler) = handler {
                metrics::histogram!(handler_seconds, "result" => result).record(handler.as_secs_f64());
            }
        }
        #[cfg(feature = "tracing")]
        {
            self.span.record("result", result);
            if let Some(handler) = handler {
                self.span.record("handler_ms", handler.as_secs_f64() * 1000.0);
            }
        }
        #[cfg(not(any(feature = "tracing", feature = "metrics")))]
        let _ = (result, handler);
    }
}

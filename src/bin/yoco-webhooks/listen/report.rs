//! What `listen` prints on standard output: its start, the webhooks it
//! removed, one line per delivery and its end; as text, or with `--json` one
//! JSON object a line, each with a `kind`. Never the API key or the secret
//! Yoco returned; the local secret only in the start line, on purpose.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use yoco_webhooks::Event;
use yoco_webhooks::registration::Subscription;

use crate::register::{describe, webhook_json};

/// Where and how lines are printed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Report {
    pub(super) json: bool,
}

/// What a delivery was, as far as its event could be read.
#[derive(Debug, Default)]
pub(super) struct Summary {
    event_type: Option<String>,
    checkout_id: Option<String>,
    amount: Option<(i64, String)>,
    mode: Option<String>,
}

impl Summary {
    /// The summary of `event`.
    pub(super) fn of(event: &Event) -> Self {
        Self {
            event_type: Some(event.event_type().to_owned()),
            checkout_id: event.checkout_id().map(|id| id.as_str().to_owned()),
            amount: event.amount().map(|(amount, currency)| (amount, currency.to_string())),
            mode: event.mode().map(|mode| mode.as_str().to_owned()),
        }
    }
}

/// What became of a delivery.
#[derive(Debug)]
pub(super) enum Verdict {
    /// Not forwarded: why (its signature did not verify, its body was too
    /// large or unreadable).
    Refused(String),
    /// Forwarded; the app answered this status.
    App(u16),
    /// Forwarded; the app did not answer: why.
    NoAnswer(String),
}

/// One delivery from Yoco and the answer it got.
#[derive(Debug)]
pub(super) struct Line {
    pub(super) webhook_id: Option<String>,
    pub(super) summary: Summary,
    pub(super) verdict: Verdict,
    /// The status answered to Yoco.
    pub(super) answered: u16,
}

/// `text`, or `-` when there is none.
fn or_dash(text: Option<&str>) -> &str {
    text.unwrap_or("-")
}

impl Report {
    /// The start: where it listens, the webhook, where it forwards, and the
    /// local secret the app verifies with.
    pub(super) fn ready(&self, listening: &str, webhook: &Subscription, forward_to: &str, local_secret: &str) {
        if self.json {
            let line = json!({"kind": "ready", "listening": listening, "webhook": webhook_json(webhook),
                              "forward_to": forward_to, "local_secret": local_secret});
            println!("{line}");
            return;
        }
        println!("listening on http://{listening} (point the tunnel here)");
        println!("registered {}", describe(webhook));
        println!("forwarding to {forward_to}, signed with the local secret; configure the app with");
        println!("  YOCO_WEBHOOK_SECRET={local_secret}");
        println!("Ctrl-C deletes the webhook and stops");
    }

    /// A webhook an earlier run left, deleted now.
    pub(super) fn removed(&self, webhook: &Subscription) {
        if self.json {
            println!("{}", json!({"kind": "removed", "webhook": webhook_json(webhook)}));
        } else {
            println!("removed {} (left by an earlier listen)", describe(webhook));
        }
    }

    /// Another listen's webhook on the account (a colleague's, another
    /// port's, or one left by a crash): named, not touched.
    pub(super) fn other_listen(&self, webhook: &Subscription) {
        eprintln!(
            "note: another listen's webhook is registered: {}; if it is left over, `yoco-webhooks delete {}` removes it",
            describe(webhook),
            webhook.id
        );
    }

    /// The account's webhooks when it has as many as Yoco allows.
    pub(super) fn limit(&self, webhooks: &[Subscription]) {
        if self.json {
            let webhooks: Vec<Value> = webhooks.iter().map(webhook_json).collect();
            println!("{}", json!({"kind": "limit", "webhooks": webhooks}));
        }
    }

    /// One delivery.
    pub(super) fn delivery(&self, line: &Line) {
        let now = OffsetDateTime::now_utc();
        let summary = &line.summary;
        if self.json {
            let (status, error) = match &line.verdict {
                Verdict::App(status) => (Some(*status), None),
                Verdict::Refused(reason) | Verdict::NoAnswer(reason) => (None, Some(reason.as_str())),
            };
            let value = json!({
                "kind": "delivery",
                "time": now.format(&Rfc3339).ok(),
                "webhook_id": line.webhook_id,
                "type": summary.event_type,
                "checkout_id": summary.checkout_id,
                "amount": summary.amount.as_ref().map(|(amount, _)| amount),
                "currency": summary.amount.as_ref().map(|(_, currency)| currency),
                "mode": summary.mode,
                "forwarded": !matches!(line.verdict, Verdict::Refused(_)),
                "app_status": status,
                "error": error,
                "answered": line.answered,
            });
            println!("{value}");
            return;
        }
        let amount = summary
            .amount
            .as_ref()
            .map(|(amount, currency)| format!("{amount} {currency}"));
        let outcome = match &line.verdict {
            Verdict::App(status) => format!("verified, app answered {status}"),
            Verdict::Refused(reason) => format!("refused ({reason}), not forwarded, answered {}", line.answered),
            Verdict::NoAnswer(reason) => format!("verified, app did not answer ({reason}), answered {}", line.answered),
        };
        println!(
            "{:02}:{:02}:{:02}  {}  {}  {}  {}  {}  {outcome}",
            now.hour(),
            now.minute(),
            now.second(),
            or_dash(summary.event_type.as_deref()),
            or_dash(summary.checkout_id.as_deref()),
            or_dash(amount.as_deref()),
            or_dash(summary.mode.as_deref()),
            or_dash(line.webhook_id.as_deref()),
        );
    }

    /// A hint after the app refused a delivery's signature.
    pub(super) fn app_refused_signature(&self) {
        eprintln!(
            "hint: the app answered 401: is it verifying with the local secret printed at start \
             (YOCO_WEBHOOK_SECRET), rather than Yoco's?"
        );
    }

    /// The end: the webhook deleted, after `signal`.
    pub(super) fn deleted(&self, webhook: &Subscription, signal: &str) {
        if self.json {
            let line = json!({"kind": "deleted", "webhook_id": webhook.id.as_str(), "signal": signal});
            println!("{line}");
        } else {
            println!("{signal}: deleted webhook {}", webhook.id);
        }
    }
}

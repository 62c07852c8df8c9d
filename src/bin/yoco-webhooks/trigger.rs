//! `trigger`: a signed sample event sent to an endpoint now, as Yoco would
//! send it, to try a receiver without Yoco (and without exposing it).

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use yoco_webhooks::event::{PAYMENT_SUCCEEDED, REFUND_FAILED, REFUND_SUCCEEDED};
use yoco_webhooks::testing::{SampleEvent, Signer};
use yoco_webhooks::{Mode, WebhookSecret};

use crate::failure::Failure;

/// What `trigger` sends, and how often.
#[derive(Debug, Args)]
pub(crate) struct Trigger {
    /// The event type: payment.succeeded, refund.succeeded, refund.failed,
    /// or any other (sent with a payment's payload, as a type Yoco adds later).
    #[arg(default_value = PAYMENT_SUCCEEDED, value_name = "TYPE")]
    pub(crate) event_type: String,
    /// The endpoint to POST to (http:// or https://).
    #[arg(long, value_name = "URL")]
    pub(crate) to: String,
    /// The webhook secret to sign with (whsec_...); YOCO_WEBHOOK_SECRET when
    /// omitted. Never printed.
    #[arg(long, value_name = "WHSEC")]
    pub(crate) secret: Option<Hidden>,
    /// The event's checkout id (payload.metadata.checkoutId); without it the
    /// event has none, like an in-store payment.
    #[arg(long, value_name = "CHECKOUT_ID")]
    pub(crate) checkout: Option<String>,
    /// The event's mode.
    #[arg(long, value_enum, default_value_t = ModeArg::Test)]
    pub(crate) mode: ModeArg,
    /// The amount, in minor units (cents).
    #[arg(long, default_value_t = 900)]
    pub(crate) amount: i64,
    /// The webhook-id; a fresh one when omitted. Sending the same id again
    /// imitates Yoco's retry of that delivery.
    #[arg(long, value_name = "WEBHOOK_ID")]
    pub(crate) id: Option<String>,
    /// Send the delivery this many times: Yoco's retries of it (the same
    /// webhook-id and event, signed anew each time).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub(crate) repeat: u16,
    /// How many of the repeats are in flight at once: retries racing each
    /// other, to see the 409 (in progress) and 200 (duplicate) answers.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub(crate) concurrency: u16,
    /// Print one JSON object per answer, for scripts:
    /// {"webhook_id":..,"status":..,"answer":..} (status null when the
    /// request failed).
    #[arg(long)]
    pub(crate) json: bool,
}

/// Live or test, as `--mode` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ModeArg {
    /// Real money.
    Live,
    /// Test payments.
    Test,
}

/// A command-line value that is never shown: not in `Debug`, not in
/// clap's errors (clap quotes a value it could not parse; this one always
/// parses, and is checked after).
#[derive(Clone)]
pub(crate) struct Hidden(pub(crate) String);

impl FromStr for Hidden {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self(text.to_owned()))
    }
}

impl fmt::Debug for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// One attempt's answer: the status and text, or why there was none.
type Answer = Result<(u16, String), String>;

/// Sends the delivery `repeat` times, `concurrency` at a time, printing each
/// answer; fails with 1 unless every answer was 2xx.
pub(crate) async fn trigger(mut options: Trigger) -> Result<(), Failure> {
    let secret = match options.secret.take() {
        Some(Hidden(secret)) => secret,
        None => std::env::var("YOCO_WEBHOOK_SECRET")
            .map_err(|_| Failure(2, "--secret or YOCO_WEBHOOK_SECRET is required".to_owned()))?,
    };
    let secret = WebhookSecret::parse(&secret).map_err(|err| Failure(2, format!("the webhook secret: {err}")))?;
    if !(options.to.starts_with("http://") || options.to.starts_with("https://")) {
        return Err(Failure(2, "--to takes an http:// or https:// URL".to_owned()));
    }
    let body = sample(&options).to_json();
    let webhook_id = options.id.clone().unwrap_or_else(fresh_webhook_id);
    let client = reqwest::Client::new();
    let signer = Signer::new(secret);
    let mut all_2xx = true;
    let mut left = options.repeat;
    while left > 0 {
        let wave = left.min(options.concurrency);
        left = left.saturating_sub(wave);
        let mut attempts = tokio::task::JoinSet::new();
        for _ in 0..wave {
            let headers = signer.sign_now(&webhook_id, &body);
            let mut request = client
                .post(&options.to)
                .header("content-type", "application/json")
                .body(body.clone());
            for (name, value) in headers.pairs() {
                request = request.header(name, value);
            }
            attempts.spawn(async move {
                let response = request.send().await.map_err(|err| crate::failure::one_line(&err))?;
                let status = response.status().as_u16();
                Ok((status, response.text().await.unwrap_or_default()))
            });
        }
        while let Some(joined) = attempts.join_next().await {
            let answer: Answer = joined.unwrap_or_else(|err| Err(err.to_string()));
            all_2xx &= matches!(answer, Ok((200..=299, _)));
            report(&options, &webhook_id, &answer);
        }
    }
    if all_2xx {
        Ok(())
    } else {
        Err(Failure(1, "not every answer was 2xx".to_owned()))
    }
}

/// The sample event the options describe.
fn sample(options: &Trigger) -> SampleEvent {
    let sample = match options.event_type.as_str() {
        PAYMENT_SUCCEEDED => SampleEvent::payment_succeeded(),
        REFUND_SUCCEEDED => SampleEvent::refund_succeeded(),
        REFUND_FAILED => SampleEvent::refund_failed(),
        other => SampleEvent::other(other),
    };
    let sample = match &options.checkout {
        Some(checkout) => sample.checkout_id(checkout),
        None => sample.without_checkout_id(),
    };
    let mode = match options.mode {
        ModeArg::Live => Mode::Live,
        ModeArg::Test => Mode::Test,
    };
    sample.mode(mode).amount(options.amount)
}

/// A `webhook-id` unlike any sent before from this machine.
fn fresh_webhook_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!("msg_trigger{nanos}{}", std::process::id())
}

/// One line per answer: text, or JSON with `--json`; a failed request on
/// standard error.
fn report(options: &Trigger, webhook_id: &str, answer: &Answer) {
    if options.json {
        let (status, text) = match answer {
            Ok((status, text)) => (Some(*status), text.trim()),
            Err(reason) => (None, reason.as_str()),
        };
        let line = serde_json::json!({"webhook_id": webhook_id, "status": status, "answer": text});
        println!("{line}");
        return;
    }
    let what = format!(
        "POST {} {} ({}, {}) webhook-id {webhook_id}",
        options.to,
        options.event_type,
        options.checkout.as_deref().unwrap_or("no checkout id"),
        match options.mode {
            ModeArg::Live => "live",
            ModeArg::Test => "test",
        },
    );
    match answer {
        Ok((status, text)) => println!("{what} -> {status} {}", text.trim()),
        Err(reason) => eprintln!("error: {what}: {reason}"),
    }
}

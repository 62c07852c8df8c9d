//! Signs a sample Yoco event and posts it to an endpoint, as Yoco would: for
//! testing a local receiver without exposing it to the internet.
//!
//! ```text
//! cargo run --example send_event -- --url http://127.0.0.1:3000/webhooks/yoco \
//!     --secret whsec_... --type payment.succeeded --checkout ch_...
//! ```
//!
//! Options: `--url` (required); `--secret` (or `YOCO_WEBHOOK_SECRET`);
//! `--type` (default `payment.succeeded`; `refund.succeeded`, `refund.failed`
//! or any other type); `--checkout` (omit it for an event without a checkout
//! id, like an in-store payment); `--mode live|test` (default `test`);
//! `--amount` in minor units (default 900); `--id` (the `webhook-id`; send the
//! same one twice to imitate a retry). Prints the answer; exits 0 on a 2xx,
//! 1 on any other answer or a failed request, 2 on a usage error. The secret
//! is never printed.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use yoco_webhooks::testing::{SampleEvent, Signer};
use yoco_webhooks::{
    Mode, WebhookSecret,
    event::{PAYMENT_SUCCEEDED, REFUND_FAILED, REFUND_SUCCEEDED},
};

const USAGE: &str = "usage: send_event --url URL [--secret whsec_...] [--type TYPE] [--checkout CH] \
                     [--mode live|test] [--amount MINOR_UNITS] [--id WEBHOOK_ID]";

/// What to send.
struct Options {
    url: String,
    secret: WebhookSecret,
    event_type: String,
    checkout: Option<String>,
    mode: Mode,
    amount: i64,
    webhook_id: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1).collect()) {
        Ok(options) => options,
        Err(reason) => {
            eprintln!("error: {reason} ({USAGE})");
            return ExitCode::from(2);
        }
    };
    match send(&options).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(reason) => {
            eprintln!("error: {reason}");
            ExitCode::from(1)
        }
    }
}

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut url = None;
    let mut secret = std::env::var("YOCO_WEBHOOK_SECRET").ok();
    let mut event_type = PAYMENT_SUCCEEDED.to_owned();
    let mut checkout = None;
    let mut mode = Mode::Test;
    let mut amount = 900;
    let mut webhook_id = None;
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => url = Some(value),
            "--secret" => secret = Some(value),
            "--type" => event_type = value,
            "--checkout" => checkout = Some(value),
            "--mode" if value == "live" => mode = Mode::Live,
            "--mode" if value == "test" => mode = Mode::Test,
            "--mode" => return Err("--mode is live or test".to_owned()),
            "--amount" => amount = value.parse().map_err(|_| "--amount takes an integer (minor units)")?,
            "--id" => webhook_id = Some(value),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let secret = secret.ok_or("--secret or YOCO_WEBHOOK_SECRET is required")?;
    Ok(Options {
        url: url.ok_or("--url is required")?,
        secret: WebhookSecret::parse(&secret).map_err(|err| err.to_string())?,
        event_type,
        checkout,
        mode,
        amount,
        webhook_id: webhook_id.unwrap_or_else(fresh_webhook_id),
    })
}

/// A `webhook-id` unlike any sent before from this machine.
fn fresh_webhook_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!("msg_local{nanos}{}", std::process::id())
}

/// Posts the event; `Ok(true)` on a 2xx answer.
async fn send(options: &Options) -> Result<bool, String> {
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
    let body = sample.mode(options.mode.clone()).amount(options.amount).to_json();
    let headers = Signer::new(options.secret.clone()).sign_now(&options.webhook_id, &body);

    let mut request = reqwest::Client::new()
        .post(&options.url)
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|err| format!("POST {}: {err}", options.url))?;
    let status = response.status();
    let answer = response.text().await.unwrap_or_default();
    println!(
        "POST {} {} ({}) webhook-id {} -> {status} {}",
        options.url,
        options.event_type,
        options.checkout.as_deref().unwrap_or("no checkout id"),
        options.webhook_id,
        answer.trim()
    );
    Ok(status.is_success())
}

//! A Yoco webhook receiver on Cloudflare Workers, to copy into your Worker.
//!
//! ```text
//! npx wrangler secret put YOCO_WEBHOOK_SECRET
//! npx wrangler deploy
//! ```
//!
//! - `YOCO_WEBHOOK_SECRET` (a secret, required): the secret Yoco returned at
//!   registration. Missing or invalid: every request is answered 500 with
//!   what to set (never its value), and the log says so.
//! - `YOCO_WEBHOOK_SECRET_TEST` (a secret, optional): the secret of a
//!   test-mode registration of the same URL, bound to test mode: it
//!   verifies test events only, and `YOCO_WEBHOOK_SECRET` then verifies
//!   live ones only.
//! - `YOCO_CHECKOUT_IDS` (a var, optional): comma-separated checkout ids;
//!   when set, only those checkouts are processed, others acknowledged and
//!   skipped.
//! - `YOCO_BODY_LIMIT` (a var, optional): the largest body accepted, in
//!   bytes (default 1 MiB); larger ones are refused with 413 while read.
//! - `YOCO_DEDUP` (a Durable Object binding, class `YocoDedup`): where each
//!   delivery is claimed, so that it is processed once across every
//!   instance of the Worker.
//!
//! `POST /webhooks/yoco` processes every authentic event that passes the
//! filter, whatever its type, once per delivery, and logs one JSON line per
//! processed event (`console.log`, in `wrangler tail`); other methods get
//! 405, other paths 404.
//!
//! With `YOCO_STORE_CHECK` set (a var, for the crate's tests only),
//! `/store-check` runs the store contract (`testing::check_store`'s suite)
//! against the Durable Object store: 200 `no violation`, or 500 with the
//! violation.

use serde_json::{Value, json};
use worker::send::SendFuture;
use worker::{DurableObject, Env, Request, Response, State, console_error, console_log, durable_object, event};
use yoco_webhooks::testing::StoreCheck;
use yoco_webhooks::{CheckoutFilter, Delivery, EventData, Mode, Receiver, Verifier, WebhookSecret};
use yoco_webhooks::{
    YocoWebhookConfig,
    worker::{DedupObject, DurableObjectStore},
};

#[event(fetch)]
async fn fetch(request: Request, env: Env, _ctx: worker::Context) -> worker::Result<Response> {
    if request.path() == "/store-check" && text(&env, "YOCO_STORE_CHECK").is_some() {
        return store_check(&env).await;
    }
    if request.path() != "/webhooks/yoco" {
        return Response::error("not found", 404);
    }
    let config = match config_from_env(&env) {
        Ok(config) => config,
        Err(reason) => {
            console_error!("error: {reason}");
            return Response::error(reason, 500);
        }
    };
    Ok(yoco_webhooks::worker::handle(&config, request, |delivery| async move {
        // Your processing goes here (mark the order paid, ...). Return an
        // error if it fails: Yoco gets a 500 and retries.
        console_log!("{}", processed_line(&delivery));
        Ok::<(), worker::Error>(())
    })
    .await)
}

/// The store contract, run inside workerd against the Durable Object
/// store, waiting with the Workers timer (there are no threads).
async fn store_check(env: &Env) -> worker::Result<Response> {
    let store = DurableObjectStore::from_env(env, "YOCO_DEDUP")?;
    let check = StoreCheck::with_sleep(|duration| SendFuture::new(worker::Delay::from(duration)));
    match check.run(&store).await {
        Ok(()) => Response::ok("no violation"),
        Err(violation) => Response::error(violation.to_string(), 500),
    }
}

/// The Durable Object class that deduplicates, bound as `YOCO_DEDUP`.
#[durable_object]
pub struct YocoDedup(DedupObject);

impl DurableObject for YocoDedup {
    fn new(state: State, _env: Env) -> Self {
        Self(DedupObject::new(&state))
    }

    async fn fetch(&self, request: Request) -> worker::Result<Response> {
        self.0.fetch(request).await
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.0.alarm().await
    }
}

/// The configuration from the Worker's environment; the error says what to
/// set, never a value.
fn config_from_env(env: &Env) -> Result<YocoWebhookConfig, String> {
    let store = DurableObjectStore::from_env(env, "YOCO_DEDUP")
        .map_err(|_| "bind the Durable Object class YocoDedup as YOCO_DEDUP (see wrangler.toml)".to_owned())?;
    let mut config = YocoWebhookConfig::new_without_dedup(receiver_from_env(env)?).with_store(store);
    if let Some(limit) = text(env, "YOCO_BODY_LIMIT") {
        let limit = limit
            .trim()
            .parse()
            .map_err(|_| "YOCO_BODY_LIMIT: a number of bytes".to_owned())?;
        config = config.body_limit(limit);
    }
    Ok(config)
}

/// A secret's or a var's text, if set and not blank.
fn text(env: &Env, name: &str) -> Option<String> {
    let value = env.secret(name).ok()?.to_string();
    (!value.trim().is_empty()).then_some(value)
}

/// The receiver, from `YOCO_WEBHOOK_SECRET` (with `YOCO_WEBHOOK_SECRET_TEST`,
/// the two bound to live and test mode) and `YOCO_CHECKOUT_IDS`.
fn receiver_from_env(env: &Env) -> Result<Receiver, String> {
    let secret = text(env, "YOCO_WEBHOOK_SECRET")
        .ok_or("set YOCO_WEBHOOK_SECRET to the webhook secret Yoco returned (whsec_...)")?;
    let secret = WebhookSecret::parse(&secret).map_err(|err| format!("YOCO_WEBHOOK_SECRET: {err}"))?;
    let verifier = match text(env, "YOCO_WEBHOOK_SECRET_TEST") {
        Some(test) => {
            let test = WebhookSecret::parse(&test).map_err(|err| format!("YOCO_WEBHOOK_SECRET_TEST: {err}"))?;
            Verifier::builder(secret)
                .named("live")
                .for_mode(Mode::Live)
                .also_accept_for(test, Mode::Test)
                .named("test")
                .build()
        }
        None => Verifier::new(secret),
    };
    let filter = match text(env, "YOCO_CHECKOUT_IDS") {
        Some(ids) => CheckoutFilter::checkouts(
            ids.split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
        ),
        None => CheckoutFilter::any(),
    };
    Ok(Receiver::new(verifier, filter))
}

/// One JSON line describing a processed event (as the other example
/// receivers print).
fn processed_line(delivery: &Delivery) -> Value {
    let event = &delivery.event;
    let (amount, currency) = match &event.data {
        EventData::PaymentSucceeded(payment) => (json!(payment.amount), json!(payment.currency.as_str())),
        EventData::RefundSucceeded(refund) | EventData::RefundFailed(refund) => {
            (json!(refund.amount), json!(refund.currency.as_str()))
        }
        EventData::Other(other) => (
            other.payload.get("amount").cloned().unwrap_or(Value::Null),
            other.payload.get("currency").cloned().unwrap_or(Value::Null),
        ),
        _ => (Value::Null, Value::Null),
    };
    json!({
        "webhook_id": delivery.webhook_id.as_str(),
        "event_id": event.id.as_str(),
        "type": event.event_type(),
        "checkout_id": event.checkout_id().map(|id| id.as_str()),
        "mode": event.mode().map(|mode| mode.as_str()),
        "amount": amount,
        "currency": currency,
    })
}

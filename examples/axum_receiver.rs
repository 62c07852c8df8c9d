//! A Yoco webhook receiver on axum, to copy into your service.
//!
//! ```text
//! YOCO_WEBHOOK_SECRET=whsec_... cargo run --example axum_receiver
//! ```
//!
//! - `YOCO_WEBHOOK_SECRET` (required): the secret Yoco returned at
//!   registration. Missing or invalid: a message and exit status 2.
//! - `YOCO_CHECKOUT_IDS` (optional): comma-separated checkout ids; when set,
//!   only those checkouts are processed, others acknowledged and skipped.
//! - `BIND_ADDR` (default `127.0.0.1:3000`).
//! - `YOCO_REDIS_URL` (optional, feature `redis`): deduplicate on this Redis
//!   (`redis://[:password@]host[:port][/db]`) instead of in memory, so that
//!   several instances behind a load balancer process each delivery once.
//!   Invalid or unreachable at start: a message and exit status 2.
//!   `cargo run --example axum_receiver --features redis`.
//!
//! `POST /webhooks/yoco` processes every authentic event that passes the
//! filter, whatever its type, once per delivery, and prints one JSON line per
//! processed event on stdout; logs go to stderr.

use std::process::ExitCode;

use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};
use yoco_webhooks::axum::{YocoWebhook, YocoWebhookConfig};
use yoco_webhooks::dedup::{IdempotencyStore, Processed};
use yoco_webhooks::{CheckoutFilter, Delivery, EventData, Receiver, Verifier, WebhookSecret};

#[tokio::main]
async fn main() -> ExitCode {
    let configured = match receiver_from_env() {
        Ok(receiver) => Store::from_env().await.map(|store| store.app(receiver)),
        Err(reason) => Err(reason),
    };
    let app = match configured {
        Ok(app) => app,
        Err(reason) => {
            eprintln!("error: {reason}");
            return ExitCode::from(2);
        }
    };
    let address = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = match tokio::net::TcpListener::bind(&address).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: cannot listen on {address}: {err}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "listening on http://{}/webhooks/yoco",
        listener.local_addr().map_or(address, |a| a.to_string())
    );
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: server stopped: {err}");
            ExitCode::from(1)
        }
    }
}

/// The receiver (secret and checkout filter), from the environment.
fn receiver_from_env() -> Result<Receiver, String> {
    let secret = std::env::var("YOCO_WEBHOOK_SECRET")
        .map_err(|_| "set YOCO_WEBHOOK_SECRET to the webhook secret Yoco returned (whsec_...)".to_owned())?;
    let secret = WebhookSecret::parse(&secret).map_err(|err| format!("YOCO_WEBHOOK_SECRET: {err}"))?;
    let filter = match std::env::var("YOCO_CHECKOUT_IDS") {
        Ok(ids) if !ids.trim().is_empty() => CheckoutFilter::checkouts(
            ids.split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
        ),
        _ => CheckoutFilter::any(),
    };
    Ok(Receiver::new(Verifier::new(secret), filter))
}

/// Where deliveries are deduplicated. Another shared store is one more
/// variant, one more line in `from_env` and one more arm in `app`.
enum Store {
    /// This process's memory: one instance.
    Memory,
    /// A Redis shared by every instance.
    #[cfg(feature = "redis")]
    Redis(yoco_webhooks::redis::RedisStore),
}

impl Store {
    /// The store the environment asks for, connected.
    async fn from_env() -> Result<Store, String> {
        if let Some(url) = non_empty_var("YOCO_REDIS_URL") {
            return redis_store(&url).await;
        }
        Ok(Store::Memory)
    }

    /// The routes, deduplicating on this store.
    fn app(self, receiver: Receiver) -> Router {
        let config = YocoWebhookConfig::new(receiver);
        match self {
            Store::Memory => app(config),
            #[cfg(feature = "redis")]
            Store::Redis(store) => app(config.with_dedup(yoco_webhooks::dedup::Deduplicator::new(store))),
        }
    }
}

#[cfg(feature = "redis")]
async fn redis_store(url: &str) -> Result<Store, String> {
    // The error and its causes never contain the URL, so the password stays out of logs.
    yoco_webhooks::redis::RedisStore::connect(url)
        .await
        .map(Store::Redis)
        .map_err(|err| format!("YOCO_REDIS_URL: {}", with_causes(&err)))
}

#[cfg(not(feature = "redis"))]
async fn redis_store(_url: &str) -> Result<Store, String> {
    Err("YOCO_REDIS_URL is set, but this build has no Redis support: \
         cargo run --example axum_receiver --features redis"
        .to_owned())
}

/// An environment variable that is set to something.
fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

/// An error and its causes, on one line.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(err) = cause {
        text = format!("{text}: {err}");
        cause = err.source();
    }
    text
}

/// The routes: `POST /webhooks/yoco` (other methods get 405).
pub(crate) fn app<S: IdempotencyStore + 'static>(config: YocoWebhookConfig<S>) -> Router {
    Router::new()
        .route("/webhooks/yoco", post(yoco_webhook::<S>))
        .with_state(config)
}

async fn yoco_webhook<S: IdempotencyStore + 'static>(
    webhook: YocoWebhook<S>,
) -> Processed<(), std::convert::Infallible> {
    webhook
        .process(|delivery| async move {
            // Your processing goes here (mark the order paid, ...). Return an
            // error if it fails: Yoco gets a 500 and retries.
            println!("{}", processed_line(&delivery));
            Ok(())
        })
        .await
}

/// One JSON line describing a processed event.
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

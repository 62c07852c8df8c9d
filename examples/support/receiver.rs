//! What the example receivers share: their configuration from the
//! environment and the line they print per processed event. (Each example
//! includes this file beside `observe.rs` and `store.rs`.)

use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{Value, json};
use yoco_webhooks::{CheckoutFilter, Delivery, EventData, Mode, Receiver, Verifier, WebhookSecret, YocoWebhookConfig};

/// Everything a receiver takes from the environment: logs on stderr, the
/// metrics recorder, the receiver and where it deduplicates. The error says
/// what to set, never a value; the examples exit with status 2 on it.
pub(crate) async fn config_from_env() -> Result<(YocoWebhookConfig, PrometheusHandle), String> {
    super::observe::log_to_stderr();
    let metrics = super::observe::record_metrics()?;
    let config = super::store::with_store_from_env(YocoWebhookConfig::new(receiver_from_env()?)).await?;
    Ok((config, metrics))
}

/// The receiver, from `YOCO_WEBHOOK_SECRET` (with `YOCO_WEBHOOK_SECRET_TEST`,
/// the two bound to live and test mode) and `YOCO_CHECKOUT_IDS`; the error
/// says what to set, never the value.
pub(crate) fn receiver_from_env() -> Result<Receiver, String> {
    let secret = std::env::var("YOCO_WEBHOOK_SECRET")
        .map_err(|_| "set YOCO_WEBHOOK_SECRET to the webhook secret Yoco returned (whsec_...)".to_owned())?;
    let secret = WebhookSecret::parse(&secret).map_err(|err| format!("YOCO_WEBHOOK_SECRET: {err}"))?;
    // A test-mode registration of the same URL has its own secret, which may
    // vouch for test events only; the main secret then is the live one's.
    let verifier = match std::env::var("YOCO_WEBHOOK_SECRET_TEST") {
        Ok(test) if !test.trim().is_empty() => {
            let test = WebhookSecret::parse(&test).map_err(|err| format!("YOCO_WEBHOOK_SECRET_TEST: {err}"))?;
            Verifier::builder(secret)
                .named("live")
                .for_mode(Mode::Live)
                .also_accept_for(test, Mode::Test)
                .named("test")
                .build()
        }
        _ => Verifier::new(secret),
    };
    let filter = match std::env::var("YOCO_CHECKOUT_IDS") {
        Ok(ids) if !ids.trim().is_empty() => CheckoutFilter::checkouts(
            ids.split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
        ),
        _ => CheckoutFilter::any(),
    };
    Ok(Receiver::new(verifier, filter))
}

/// `BIND_ADDR`, by default `127.0.0.1:3000`.
pub(crate) fn bind_address() -> String {
    std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
}

/// One JSON line describing a processed event.
pub(crate) fn processed_line(delivery: &Delivery) -> Value {
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

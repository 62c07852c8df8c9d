//! What a person needs of a queued delivery to find the order, the same in
//! `inbox` and `sqs` listings: its event's id, type, checkout, amount and
//! mode, and when it was received; never the signature.

use time::format_description::well_known::Rfc3339;
use yoco_webhooks::{Event, StoredDelivery};

/// The fields of `stored` (all null when there is none, or its body is no
/// event): `webhook_id`, `event_id`, `type`, `checkout_id`, `amount` (in
/// cents), `currency`, `mode`, `received_at`.
pub(super) fn delivery_fields(stored: Option<&StoredDelivery>) -> serde_json::Map<String, serde_json::Value> {
    let event = stored.and_then(|stored| Event::from_slice(stored.body().as_bytes()).ok());
    let amount = event.as_ref().and_then(Event::amount);
    let described = serde_json::json!({
        "webhook_id": stored.map(|stored| stored.webhook_id().as_str()),
        "event_id": event.as_ref().map(|event| event.id.as_str()),
        "type": event.as_ref().map(Event::event_type),
        "checkout_id": event.as_ref().and_then(Event::checkout_id).map(|id| id.as_str()),
        "amount": amount.map(|(cents, _)| cents),
        "currency": amount.map(|(_, currency)| currency.as_str()),
        "mode": event.as_ref().and_then(Event::mode).map(|mode| mode.as_str()),
        "received_at": stored.and_then(|stored| stored.received_at().format(&Rfc3339).ok()),
    });
    match described {
        serde_json::Value::Object(fields) => fields,
        _ => serde_json::Map::new(),
    }
}

/// `described`'s amount for a person (`-12.50 ZAR`), `?` when unknown.
pub(super) fn amount_text(described: &serde_json::Value) -> String {
    match (described["amount"].as_i64(), described["currency"].as_str()) {
        (Some(cents), Some(currency)) => {
            let (sign, units) = (if cents < 0 { "-" } else { "" }, cents.unsigned_abs());
            format!("{sign}{}.{:02} {currency}", units / 100, units % 100)
        }
        _ => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_money_and_unknown_as_a_question_mark() {
        let amount = |value| amount_text(&value);
        assert_eq!(
            amount(serde_json::json!({"amount": 1250, "currency": "ZAR"})),
            "12.50 ZAR"
        );
        assert_eq!(
            amount(serde_json::json!({"amount": -5, "currency": "ZAR"})),
            "-0.05 ZAR"
        );
        assert_eq!(
            amount(serde_json::json!({"amount": i64::MIN, "currency": "ZAR"})),
            "-92233720368547758.08 ZAR"
        );
        assert_eq!(amount(serde_json::json!({"amount": 100})), "?");
    }

    #[test]
    fn no_delivery_is_all_nulls() {
        let fields = delivery_fields(None);
        assert_eq!(fields.len(), 8);
        assert!(fields.values().all(serde_json::Value::is_null), "{fields:?}");
    }
}

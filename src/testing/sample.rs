//! Sample event bodies: Yoco's documented sample ([`DOCUMENTED_SAMPLE`]) and
//! [`SampleEvent`], shaped like Yoco's events with every field settable.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::event::{REFUND_FAILED, REFUND_SUCCEEDED};
use crate::mode::Mode;

/// The 464-byte `payment.succeeded` sample from Yoco's documentation, byte
/// for byte:
///
/// ```json
#[doc = include_str!("../event/documented_sample.json")]
/// ```
pub const DOCUMENTED_SAMPLE: &str = include_str!("../event/documented_sample.json");

/// A sample event body, shaped like Yoco's, with every field settable: in
/// test mode, with an event id of its own, unless set otherwise.
///
/// ```
/// use yoco_webhooks::testing::SampleEvent;
/// use yoco_webhooks::{Event, Mode};
///
/// let body = SampleEvent::refund_succeeded().checkout_id("ch_1").amount(450).to_json();
/// let event = Event::from_slice(&body)?;
/// assert_eq!(event.event_type(), "refund.succeeded");
/// assert_eq!(event.mode(), Some(&Mode::Test)); // unless `.mode(Mode::Live)`
/// let another = SampleEvent::refund_succeeded().checkout_id("ch_2").amount(450).to_json();
/// assert_ne!(event.id, Event::from_slice(&another)?.id); // another event, another id
/// assert_eq!(body, SampleEvent::refund_succeeded().checkout_id("ch_1").amount(450).to_json()); // the same, the same
/// # Ok::<(), yoco_webhooks::event::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct SampleEvent {
    /// Set with [`SampleEvent::event_id`]; otherwise derived from the
    /// event's content.
    event_id: Option<String>,
    event_type: String,
    created_date: OffsetDateTime,
    payload: Map<String, Value>,
}

/// `evt_` and the first 24 hex digits of the SHA-256 of the event's type,
/// date and payload: the same sample, the same id; another, another.
fn derived_event_id(event_type: &str, created_date: &str, payload: &Map<String, Value>) -> String {
    use sha2::Digest as _;
    let mut hash = sha2::Sha256::new();
    for part in [event_type.as_bytes(), b"\n", created_date.as_bytes(), b"\n"] {
        hash.update(part);
    }
    hash.update(serde_json::to_vec(payload).unwrap_or_default());
    let digest = hash.finalize();
    let mut id = String::from("evt_");
    for byte in digest.iter().take(12) {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

impl SampleEvent {
    /// A `payment.succeeded` event shaped as the one of Yoco's documentation
    /// ([`DOCUMENTED_SAMPLE`]), but in **test** mode and with an event id of
    /// its own: unless [`event_id`](Self::event_id) sets one, the id is
    /// derived from the event's type, date and payload (`evt_` and 24 hex
    /// digits of their SHA-256), so two different samples (another checkout,
    /// another amount) have different ids, and the same sample built twice
    /// (to sign it, then to send it) is the same bytes.
    /// [`mode`](Self::mode) sets the mode; [`documented`](Self::documented)
    /// is the documented event as it is.
    pub fn payment_succeeded() -> Self {
        let mut sample = Self::documented().mode(Mode::Test);
        sample.event_id = None;
        sample
    }

    /// The `payment.succeeded` event of Yoco's documentation
    /// ([`DOCUMENTED_SAMPLE`]) as it is: live mode, its event id.
    pub fn documented() -> Self {
        // Parsing a constant: cannot fail, and falls back harmlessly if it did.
        let mut sample: Map<String, Value> = serde_json::from_str(DOCUMENTED_SAMPLE).unwrap_or_default();
        let mut text = |key: &str| match sample.remove(key) {
            Some(Value::String(text)) => text,
            _ => String::new(),
        };
        let (event_id, event_type, created_date) = (text("id"), text("type"), text("createdDate"));
        let payload = match sample.remove("payload") {
            Some(Value::Object(payload)) => payload,
            _ => Map::new(),
        };
        Self {
            event_id: Some(event_id),
            event_type,
            created_date: OffsetDateTime::parse(&created_date, &Rfc3339).unwrap_or(OffsetDateTime::UNIX_EPOCH),
            payload,
        }
    }

    /// A `refund.succeeded` event for a sample payment (test mode, an event
    /// id of its own).
    pub fn refund_succeeded() -> Self {
        Self::refund(REFUND_SUCCEEDED, "succeeded")
    }

    /// A `refund.failed` event for a sample payment (test mode, an event id
    /// of its own).
    pub fn refund_failed() -> Self {
        Self::refund(REFUND_FAILED, "failed")
    }

    /// An event of a type this crate does not know (such as
    /// `payment.failed`), with a payment-like payload.
    pub fn other(event_type: &str) -> Self {
        let mut event = Self::payment_succeeded();
        event.event_type = event_type.to_owned();
        event.payload.insert("status".into(), Value::from("unknown"));
        event
    }

    /// A full refund of the sample payment, in its mode and for its checkout.
    fn refund(event_type: &str, status: &str) -> Self {
        let mut event = Self::payment_succeeded();
        let payment = std::mem::take(&mut event.payload);
        let of_payment = |key: &str| payment.get(key).cloned().unwrap_or(Value::Null);
        event.event_type = event_type.to_owned();
        event.payload = Map::from_iter([
            ("id".to_owned(), Value::from("rfd_7Xq2mJ4bD9cK1pL8sN3vT6wY")),
            ("type".to_owned(), Value::from("refund")),
            ("createdDate".to_owned(), Value::from("2024-06-16T09:12:03.118224Z")),
            ("amount".to_owned(), of_payment("amount")),
            ("currency".to_owned(), of_payment("currency")),
            ("paymentId".to_owned(), of_payment("id")),
            ("status".to_owned(), Value::from(status)),
            ("mode".to_owned(), of_payment("mode")),
            ("metadata".to_owned(), of_payment("metadata")),
        ]);
        event
    }

    /// Sets the event id.
    pub fn event_id(mut self, id: &str) -> Self {
        self.event_id = Some(id.to_owned());
        self
    }

    /// Sets the event's `createdDate`.
    pub fn created_date(mut self, at: OffsetDateTime) -> Self {
        self.created_date = at;
        self
    }

    /// Sets `payload.metadata.checkoutId`.
    pub fn checkout_id(self, id: &str) -> Self {
        self.metadata("checkoutId", id)
    }

    /// Removes `payload.metadata.checkoutId`, like an in-store payment.
    pub fn without_checkout_id(mut self) -> Self {
        if let Some(Value::Object(metadata)) = self.payload.get_mut("metadata") {
            metadata.remove("checkoutId");
        }
        self
    }

    /// Sets a key of `payload.metadata`.
    pub fn metadata(mut self, key: &str, value: impl Into<Value>) -> Self {
        let metadata = self
            .payload
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !metadata.is_object() {
            *metadata = Value::Object(Map::new());
        }
        if let Value::Object(metadata) = metadata {
            metadata.insert(key.to_owned(), value.into());
        }
        self
    }

    /// Sets `payload.amount`, in minor units.
    pub fn amount(self, minor_units: i64) -> Self {
        self.payload_field("amount", minor_units)
    }

    /// Sets `payload.mode`.
    pub fn mode(self, mode: Mode) -> Self {
        self.payload_field("mode", mode.as_str())
    }

    /// Sets any payload field (or adds one Yoco might add).
    pub fn payload_field(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.payload.insert(key.to_owned(), value.into());
        self
    }

    /// The body as compact JSON bytes, as it would be posted: the envelope's
    /// keys in Yoco's order (`id`, `type`, `createdDate`, `payload`), as in
    /// its documented sample.
    pub fn to_json(&self) -> Vec<u8> {
        /// The envelope, its fields in Yoco's order (a JSON map would sort
        /// them, putting `payload` before `type`).
        #[derive(serde::Serialize)]
        struct Envelope<'a> {
            id: &'a str,
            #[serde(rename = "type")]
            event_type: &'a str,
            #[serde(rename = "createdDate")]
            created_date: String,
            payload: &'a Map<String, Value>,
        }
        let created_date = self.created_date.format(&Rfc3339).unwrap_or_default();
        let derived;
        let id = match &self.event_id {
            Some(id) => id.as_str(),
            None => {
                derived = derived_event_id(&self.event_type, &created_date, &self.payload);
                derived.as_str()
            }
        };
        let envelope = Envelope {
            id,
            event_type: &self.event_type,
            created_date,
            payload: &self.payload,
        };
        serde_json::to_vec(&envelope).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_payment_is_the_documented_sample_in_test_mode_with_its_own_id() {
        assert_eq!(DOCUMENTED_SAMPLE.len(), 464);
        let documented = crate::Event::from_slice(DOCUMENTED_SAMPLE.as_bytes()).unwrap();
        assert_eq!(
            crate::Event::from_slice(&SampleEvent::documented().to_json()).unwrap(),
            documented
        );
        let sample = crate::Event::from_slice(&SampleEvent::payment_succeeded().to_json()).unwrap();
        assert_eq!(sample.mode(), Some(&Mode::Test));
        assert!(
            sample.id.as_str().starts_with("evt_") && sample.id != documented.id,
            "{:?}",
            sample.id
        );
        let live = SampleEvent::payment_succeeded()
            .mode(Mode::Live)
            .event_id(documented.id.as_str());
        assert_eq!(crate::Event::from_slice(&live.to_json()).unwrap(), documented);
        // The same sample, the same id; another sample, another id.
        let id = |sample: SampleEvent| crate::Event::from_slice(&sample.to_json()).unwrap().id;
        assert_eq!(id(SampleEvent::payment_succeeded()), sample.id);
        assert_ne!(id(SampleEvent::payment_succeeded().checkout_id("ch_other")), sample.id);
        assert_ne!(id(SampleEvent::refund_succeeded()), id(SampleEvent::refund_failed()));
        let refund = crate::Event::from_slice(&SampleEvent::refund_failed().to_json()).unwrap();
        let crate::EventData::RefundFailed(refund) = refund.data else {
            panic!("not a failed refund")
        };
        assert_eq!(refund.payment_id, "p_bx4bY9JA6r4UwAKFyAjHY2bE");
        assert_eq!((refund.amount, refund.mode), (900, Mode::Test));
        assert_eq!(refund.metadata.checkout_id.unwrap(), "ch_9LVKD8GnAj7f39DFbn4F16bE");
    }

    #[test]
    fn sample_bodies_keep_yocos_key_order() {
        let body = String::from_utf8(SampleEvent::refund_failed().event_id("evt_1").to_json()).unwrap();
        assert!(
            body.starts_with(r#"{"id":"evt_1","type":"refund.failed","createdDate":""#),
            "{body}"
        );
        let (type_at, payload_at) = (body.find(r#""type""#), body.find(r#""payload""#));
        assert!(type_at < payload_at, "{body}");
    }
}

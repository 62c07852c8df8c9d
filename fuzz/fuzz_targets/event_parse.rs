//! Arbitrary bytes as a webhook body: `Event::from_slice`, and
//! `Receiver::receive_at` behind a valid signature with a one-checkout filter
//! and with `CheckoutFilter::any()`.
//!
//! Properties:
//! - never panics;
//! - a correctly signed request is never refused as unauthentic (401);
//! - under `any()`, the receiver processes exactly the bodies `from_slice`
//!   parses, with the same event, and answers 400 for the rest;
//! - under `checkout("ch_1")`, a processed event's checkout id is `ch_1`; a
//!   body that parses is processed iff its checkout id is `ch_1`, and ignored
//!   for the right reason otherwise; a body that does not parse is never
//!   processed;
//! - key order does not matter: the body re-serialised through
//!   `serde_json::Value` (keys sorted, so `payload` before `type`, which takes
//!   the two-pass parser where Yoco's order takes the one-pass one) parses to
//!   the same event, or fails too. A repeated key takes its last value in
//!   the crate as in a `Value`, so bodies that repeat keys are compared too;
//!   with a float only the envelope and owner are compared (a float need not
//!   re-parse to the same bits).
#![no_main]

mod common;

use std::fmt;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use yoco_webhooks::testing::Signer;
use yoco_webhooks::{CheckoutFilter, Event, IgnoreReason, Outcome, ReceiveError, Receiver};

const WEBHOOK_ID: &str = "msg_2hVbEBdDNyrZBrVQmDmLUSxyfFe";
const CHECKOUT: &str = "ch_1";

struct Fixture {
    signer: Signer,
    any: Receiver,
    mine: Receiver,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let verifier = yoco_webhooks::Verifier::new(common::secret());
        Fixture {
            signer: Signer::new(common::secret()),
            any: Receiver::new(verifier.clone(), CheckoutFilter::any()),
            mine: Receiver::new(verifier, CheckoutFilter::checkout(CHECKOUT)),
        }
    })
}

/// Touches everything an application would read from an event.
fn inspect(event: &Event) {
    let _ = event.event_type();
    let _ = event.checkout_id();
    let _ = event.mode().map(|m| m.to_string());
    let _ = format!("{event:?}");
}

/// What a round trip through `serde_json::Value` would not keep.
#[derive(Default)]
struct Lossy {
    /// A number is a float (printed and re-parsed, maybe to other bits).
    float: bool,
}

/// Walks any JSON value, noting in `Lossy` what a round trip would change.
struct Scan<'a>(&'a mut Lossy);

impl<'de> DeserializeSeed<'de> for Scan<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scan<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        self.0.float = true;
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Scan(&mut *self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<de::IgnoredAny>()?.is_some() {
            map.next_value_seed(Scan(&mut *self.0))?;
        }
        Ok(())
    }
}

/// The body with its keys sorted must parse as the body does.
fn check_key_order(body: &[u8], parsed: &Result<Event, yoco_webhooks::ParseError>) {
    let mut lossy = Lossy::default();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let scanned = Scan(&mut lossy).deserialize(&mut deserializer).and_then(|()| deserializer.end());
    if scanned.is_err() {
        return;
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let sorted = serde_json::to_vec(&value).expect("a Value serialises");
    match (parsed, Event::from_slice(&sorted)) {
        (Ok(event), Ok(again)) if lossy.float => {
            assert_eq!(event.id, again.id);
            assert_eq!(event.created_date, again.created_date);
            assert_eq!(event.event_type(), again.event_type());
            assert_eq!(event.checkout_id(), again.checkout_id());
            assert_eq!(event.mode(), again.mode());
        }
        (Ok(event), Ok(again)) => assert_eq!(event, &again, "key order changed the event"),
        (Err(_), Err(_)) => {}
        (parsed, again) => panic!(
            "key order changed the outcome: as sent {parsed:?}, sorted {again:?}, sorted body {:?}",
            String::from_utf8_lossy(&sorted)
        ),
    }
}

fuzz_target!(|body: &[u8]| {
    let fx = fixture();
    let parsed = Event::from_slice(body);
    match &parsed {
        Ok(event) => inspect(event),
        Err(err) => {
            assert_eq!(err.status(), 400);
            let _ = err.to_string();
        }
    }

    check_key_order(body, &parsed);

    let headers = fx.signer.sign(WEBHOOK_ID, common::now(), body);

    // Any checkout: process exactly what parses.
    match (fx.any.receive_at(&headers, body, common::now()), &parsed) {
        (Ok(Outcome::Process(delivery)), Ok(event)) => {
            assert_eq!(&delivery.event, event);
            assert_eq!(delivery.webhook_id, WEBHOOK_ID);
            assert_eq!(delivery.timestamp, common::now());
        }
        (Err(ReceiveError::Parse(err)), Err(_)) => assert_eq!(err.status(), 400),
        (Err(ReceiveError::Verify(err)), _) => panic!("correctly signed body refused: {err:?}"),
        (outcome, parsed) => panic!("any(): got {outcome:?} for a body whose parse is {parsed:?}"),
    }

    // One checkout.
    let outcome = fx.mine.receive_at(&headers, body, common::now());
    match &outcome {
        Ok(Outcome::Process(delivery)) => {
            assert_eq!(
                delivery.event.checkout_id().map(|id| id.as_str()),
                Some(CHECKOUT),
                "processed another checkout's event"
            );
            assert_eq!(Some(&delivery.event), parsed.as_ref().ok(), "processed an event from_slice refuses");
            inspect(&delivery.event);
        }
        Ok(Outcome::Ignore(ignored)) => {
            assert_eq!(ignored.webhook_id, WEBHOOK_ID);
            assert!(ignored.checkout_id.as_ref().map(|id| id.as_str()) != Some(CHECKOUT));
            let expected_reason = match &ignored.checkout_id {
                None => IgnoreReason::NoCheckoutId,
                Some(_) => IgnoreReason::ForeignCheckout,
            };
            assert_eq!(ignored.reason, expected_reason);
            let _ = ignored.reason.to_string();
            if let Ok(event) = &parsed {
                assert_eq!(ignored.event_id, event.id);
                assert_eq!(ignored.event_type, event.event_type());
                assert_eq!(ignored.checkout_id.as_ref(), event.checkout_id());
                assert_eq!(ignored.mode.as_ref(), event.mode());
            }
        }
        Err(ReceiveError::Parse(err)) => {
            assert!(parsed.is_err(), "from_slice parses what the receiver refuses: {err}");
            assert_eq!(err.status(), 400);
        }
        Err(ReceiveError::Verify(err)) => panic!("correctly signed body refused: {err:?}"),
        Err(err) => panic!("unexpected error {err:?}"),
    }
    if let Ok(event) = &parsed {
        let ours = event.checkout_id().map(|id| id.as_str()) == Some(CHECKOUT);
        assert_eq!(matches!(outcome, Ok(Outcome::Process(_))), ours);
    }
});

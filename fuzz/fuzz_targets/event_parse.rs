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
//!   processed.
#![no_main]

mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
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

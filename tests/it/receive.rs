//! The `Receiver` end to end: signed by `testing::Signer`, bodies from
//! `testing::SampleEvent`.

use std::collections::HashSet;

use base64::Engine as _;
use yoco_webhooks::testing::{DOCUMENTED_SAMPLE, SampleEvent, SignedHeaders, Signer, TEST_SECRET};
use yoco_webhooks::{
    CheckoutFilter, CheckoutId, Delivery, EventData, IgnoreReason, Ignored, Mode, Outcome, ReceiveError, Receiver,
    Verifier, VerifyError, WebhookSecret,
    event::{PAYMENT_SUCCEEDED, ParseError, REFUND_FAILED, REFUND_SUCCEEDED},
};

use crate::unix;

const OURS: &str = "ch_mine";
const FOREIGN: &str = "ch_someone_else";
const MSG: &str = "msg_2fKx9bQzR4TnWc8Lp1Vd";
/// 2024-06-15T15:51:55Z.
const SIGNED_AT: i64 = 1_718_466_715;
/// The receiver's clock: a little after signing, within the tolerance.
const NOW: i64 = SIGNED_AT + 7;

fn secret() -> WebhookSecret {
    WebhookSecret::parse(TEST_SECRET).unwrap()
}

fn signer() -> Signer {
    Signer::new(secret())
}

fn receiver(filter: CheckoutFilter) -> Receiver {
    Receiver::new(Verifier::new(secret()), filter)
}

fn sign(body: &[u8]) -> SignedHeaders {
    signer().sign(MSG, unix(SIGNED_AT), body)
}

/// Signs `body` and receives it at [`NOW`].
fn receive(receiver: &Receiver, body: &[u8]) -> Result<Outcome, ReceiveError> {
    receiver.receive_at(&sign(body), body, unix(NOW))
}

fn processed(outcome: Result<Outcome, ReceiveError>) -> Delivery {
    match outcome {
        Ok(Outcome::Process(delivery)) => delivery,
        other => panic!("expected Process, got {other:?}"),
    }
}

fn ignored(outcome: Result<Outcome, ReceiveError>) -> Ignored {
    match outcome {
        Ok(Outcome::Ignore(ignored)) => ignored,
        other => panic!("expected Ignore, got {other:?}"),
    }
}

fn rejected(outcome: Result<Outcome, ReceiveError>) -> ReceiveError {
    match outcome {
        Err(err) => err,
        Ok(outcome) => panic!("expected an error, got {outcome:?}"),
    }
}

/// The event type of an `InvalidPayload` error.
fn invalid_payload_type(err: &ReceiveError) -> Option<&str> {
    match err {
        ReceiveError::Parse(ParseError::InvalidPayload { event_type, .. }) => Some(event_type),
        _ => None,
    }
}

// --- Our events are processed, typed ---------------------------------------

#[test]
fn our_payment_is_processed_with_the_typed_event() {
    let body = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .event_id("evt_ours")
        .checkout_id(OURS)
        .amount(2500)
        .metadata("orderRef", "A-17")
        .to_json();
    let outcome = receive(&receiver(CheckoutFilter::checkout(OURS)), &body);
    assert_eq!(outcome.as_ref().unwrap().webhook_id(), MSG);
    let delivery = processed(outcome);
    assert_eq!(delivery.webhook_id, MSG);
    assert_eq!(delivery.timestamp, unix(SIGNED_AT));
    assert_eq!(delivery.event.id, "evt_ours");
    assert_eq!(delivery.event.event_type(), PAYMENT_SUCCEEDED);
    assert_eq!(delivery.event.checkout_id().unwrap(), OURS);
    assert_eq!(delivery.event.mode(), Some(&Mode::Live));
    let EventData::PaymentSucceeded(payment) = &delivery.event.data else {
        panic!("not a payment: {:?}", delivery.event.data)
    };
    assert_eq!(payment.id, "p_bx4bY9JA6r4UwAKFyAjHY2bE");
    assert_eq!(payment.amount, 2500);
    assert_eq!(payment.currency, "ZAR");
    assert_eq!(payment.status, "succeeded");
    assert_eq!(payment.metadata.checkout_id.as_ref().unwrap(), OURS);
    assert_eq!(payment.metadata.get("orderRef"), Some(&serde_json::Value::from("A-17")));
    let card = payment.payment_method_details.as_ref().unwrap().card.as_ref().unwrap();
    assert_eq!(card.masked_card.as_deref(), Some("************1111"));
}

#[test]
fn our_refunds_are_processed_with_the_typed_event() {
    let receiver = receiver(CheckoutFilter::checkout(OURS));
    for (sample, event_type, status) in [
        (
            SampleEvent::refund_succeeded().mode(Mode::Live),
            REFUND_SUCCEEDED,
            "succeeded",
        ),
        (SampleEvent::refund_failed().mode(Mode::Live), REFUND_FAILED, "failed"),
    ] {
        let body = sample.checkout_id(OURS).amount(450).mode(Mode::Test).to_json();
        let delivery = processed(receive(&receiver, &body));
        assert_eq!(delivery.event.event_type(), event_type);
        assert_eq!(delivery.event.mode(), Some(&Mode::Test));
        let refund = match &delivery.event.data {
            EventData::RefundSucceeded(refund) if event_type == REFUND_SUCCEEDED => refund,
            EventData::RefundFailed(refund) if event_type == REFUND_FAILED => refund,
            other => panic!("{event_type}: wrong variant {other:?}"),
        };
        assert_eq!(refund.amount, 450);
        assert_eq!(refund.status, status);
        assert_eq!(refund.payment_id, "p_bx4bY9JA6r4UwAKFyAjHY2bE");
        assert_eq!(refund.metadata.checkout_id.as_ref().unwrap(), OURS);
    }
}

#[test]
fn the_documented_sample_is_processed_with_the_clock_and_a_header_map() {
    let receiver = receiver(CheckoutFilter::checkout("ch_9LVKD8GnAj7f39DFbn4F16bE").only_mode(Mode::Live));
    let body = DOCUMENTED_SAMPLE.as_bytes();
    let headers = signer().sign_now(MSG, body);
    let delivery = processed(receiver.receive(&headers, body));
    assert_eq!(delivery.event.id, "evt_1EAwK8Mjy2DT38WIWntiZWxm");
    let map = headers.to_header_map().unwrap();
    let delivery = processed(receiver.receive(&map, body));
    let EventData::PaymentSucceeded(payment) = delivery.event.data else {
        panic!("not a payment")
    };
    assert_eq!(payment.amount, 900);
}

#[test]
fn a_retry_has_the_same_webhook_id_and_is_processed_again() {
    let receiver = receiver(CheckoutFilter::checkout(OURS));
    let body = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .checkout_id(OURS)
        .to_json();
    let first = signer().sign(MSG, unix(SIGNED_AT), &body);
    let retry = signer().sign(MSG, unix(SIGNED_AT + 5), &body);
    assert_ne!(first.webhook_signature, retry.webhook_signature);
    let a = processed(receiver.receive_at(&first, &body, unix(SIGNED_AT + 5)));
    let b = processed(receiver.receive_at(&retry, &body, unix(SIGNED_AT + 5)));
    assert_eq!(a.webhook_id, b.webhook_id);
    assert_eq!(a.event, b.event);
    assert_eq!(b.timestamp, unix(SIGNED_AT + 5));
}

// --- Events that are not ours are acknowledged, with the reason ------------

#[test]
fn a_foreign_checkout_is_ignored() {
    let body = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .event_id("evt_foreign")
        .checkout_id(FOREIGN)
        .to_json();
    let ignored = ignored(receive(&receiver(CheckoutFilter::checkout(OURS)), &body));
    assert_eq!(ignored.reason, IgnoreReason::ForeignCheckout);
    assert_eq!(ignored.webhook_id, MSG);
    assert_eq!(ignored.event_id, "evt_foreign");
    assert_eq!(ignored.event_type, PAYMENT_SUCCEEDED);
    assert_eq!(ignored.checkout_id, Some(CheckoutId::new(FOREIGN)));
    assert_eq!(ignored.mode, Some(Mode::Live));
}

#[test]
fn an_event_without_a_checkout_id_is_ignored_unless_any_checkout_is_wanted() {
    let body = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .without_checkout_id()
        .to_json();
    let ignored = ignored(receive(&receiver(CheckoutFilter::checkout(OURS)), &body));
    assert_eq!(ignored.reason, IgnoreReason::NoCheckoutId);
    assert_eq!(ignored.checkout_id, None);

    let delivery = processed(receive(&receiver(CheckoutFilter::any()), &body));
    assert_eq!(delivery.event.checkout_id(), None);
}

#[test]
fn an_unwanted_mode_is_ignored() {
    let receiver = receiver(CheckoutFilter::checkout(OURS).only_mode(Mode::Live));
    let test_mode = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .checkout_id(OURS)
        .mode(Mode::Test)
        .to_json();
    let ignored_event = ignored(receive(&receiver, &test_mode));
    assert_eq!(ignored_event.reason, IgnoreReason::UnwantedMode);
    assert_eq!(ignored_event.mode, Some(Mode::Test));
    assert_eq!(ignored_event.checkout_id, Some(CheckoutId::new(OURS)));

    let live = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .checkout_id(OURS)
        .mode(Mode::Live)
        .to_json();
    processed(receive(&receiver, &live));

    // The checkout is checked first.
    let foreign_test = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .checkout_id(FOREIGN)
        .mode(Mode::Test)
        .to_json();
    assert_eq!(
        ignored(receive(&receiver, &foreign_test)).reason,
        IgnoreReason::ForeignCheckout
    );

    // Any checkout, test mode only.
    let test_only = self::receiver(CheckoutFilter::any().only_mode(Mode::Test));
    processed(receive(&test_only, &test_mode));
    assert_eq!(ignored(receive(&test_only, &live)).reason, IgnoreReason::UnwantedMode);
}

#[test]
fn filters_by_one_id_a_set_and_a_predicate() {
    let filters = [
        ("one id", CheckoutFilter::checkout("ch_a")),
        ("set", CheckoutFilter::checkouts(["ch_a", "ch_b"])),
        (
            "set of owned ids",
            CheckoutFilter::checkouts(
                ["ch_a", "ch_b"]
                    .map(CheckoutId::from)
                    .into_iter()
                    .collect::<HashSet<_>>(),
            ),
        ),
        (
            "predicate",
            CheckoutFilter::matching(|id| matches!(id.as_str(), "ch_a" | "ch_b")),
        ),
    ];
    for (name, filter) in filters {
        let receiver = receiver(filter);
        let body = |id: &str| {
            SampleEvent::payment_succeeded()
                .mode(Mode::Live)
                .checkout_id(id)
                .to_json()
        };
        let delivery = processed(receive(&receiver, &body("ch_a")));
        assert_eq!(delivery.event.checkout_id().unwrap(), "ch_a", "{name}");
        let second = receive(&receiver, &body("ch_b"));
        if name == "one id" {
            assert_eq!(ignored(second).reason, IgnoreReason::ForeignCheckout, "{name}");
        } else {
            processed(second);
        }
        for foreign in ["ch_c", "ch_A", "ch_a ", ""] {
            let ignored = ignored(receive(&receiver, &body(foreign)));
            assert_eq!(ignored.reason, IgnoreReason::ForeignCheckout, "{name}: {foreign:?}");
            assert_eq!(ignored.checkout_id, Some(CheckoutId::new(foreign)), "{name}");
        }
        let without = SampleEvent::payment_succeeded()
            .mode(Mode::Live)
            .without_checkout_id()
            .to_json();
        assert_eq!(
            ignored(receive(&receiver, &without)).reason,
            IgnoreReason::NoCheckoutId,
            "{name}"
        );
    }
}

// --- Event types this crate does not know -----------------------------------

#[test]
fn an_unknown_type_for_our_checkout_is_processed_as_other() {
    let receiver = receiver(CheckoutFilter::checkout(OURS));
    let body = SampleEvent::other("payment.failed")
        .mode(Mode::Live)
        .checkout_id(OURS)
        .to_json();
    let delivery = processed(receive(&receiver, &body));
    assert_eq!(delivery.event.event_type(), "payment.failed");
    assert_eq!(delivery.event.checkout_id().unwrap(), OURS);
    let EventData::Other(other) = &delivery.event.data else {
        panic!("not Other: {:?}", delivery.event.data)
    };
    assert_eq!(other.event_type, "payment.failed");
    assert_eq!(other.checkout_id.as_ref().unwrap(), OURS);
    assert_eq!(other.mode, Some(Mode::Live));
    assert_eq!(other.payload["metadata"]["checkoutId"], OURS);
    assert_eq!(other.payload["status"], "unknown");

    // A foreign one is acknowledged like any other foreign event.
    let body = SampleEvent::other("payment.failed")
        .mode(Mode::Live)
        .checkout_id(FOREIGN)
        .to_json();
    let ignored = ignored(receive(&receiver, &body));
    assert_eq!(ignored.reason, IgnoreReason::ForeignCheckout);
    assert_eq!(ignored.event_type, "payment.failed");
    assert_eq!(ignored.checkout_id, Some(CheckoutId::new(FOREIGN)));
}

#[test]
fn an_unknown_type_with_an_unfamiliar_payload_is_not_an_error() {
    // The checkout id is read from payload.metadata.checkoutId whatever else
    // the payload holds.
    let body = concat!(
        r#"{"id":"evt_9","type":"checkout.expired","createdDate":"2024-06-15T15:51:55Z","#,
        r#""payload":{"metadata":{"checkoutId":"ch_mine"},"amount":"n/a"}}"#
    )
    .as_bytes();
    let delivery = processed(receive(&receiver(CheckoutFilter::checkout(OURS)), body));
    let EventData::Other(other) = &delivery.event.data else {
        panic!("not Other")
    };
    assert_eq!(other.checkout_id.as_ref().unwrap(), OURS);
    assert_eq!(other.mode, None);

    let body = br#"{"id":"evt_9","type":"checkout.expired","createdDate":"2024-06-15T15:51:55Z","payload":{}}"#;
    assert_eq!(
        ignored(receive(&receiver(CheckoutFilter::checkout(OURS)), body)).reason,
        IgnoreReason::NoCheckoutId
    );
    processed(receive(&receiver(CheckoutFilter::any()), body));
}

// --- Authentic but broken bodies ------------------------------------------

#[test]
fn a_broken_payload_of_a_known_type_is_400_when_ours_and_ignored_when_not() {
    let broken_payment = |checkout: Option<&str>| {
        let sample = SampleEvent::payment_succeeded()
            .mode(Mode::Live)
            .event_id("evt_1EAwK8Mjy2DT38WIWntiZWxm")
            .payload_field("amount", "nine hundred");
        match checkout {
            Some(id) => sample.checkout_id(id),
            None => sample.without_checkout_id(),
        }
        .to_json()
    };
    let receiver = receiver(CheckoutFilter::checkout(OURS).only_mode(Mode::Live));

    let err = rejected(receive(&receiver, &broken_payment(Some(OURS))));
    assert_eq!(err.status(), 400);
    assert_eq!(err.status_code(), http::StatusCode::BAD_REQUEST);
    assert_eq!(invalid_payload_type(&err), Some(PAYMENT_SUCCEEDED), "{err:?}");

    let foreign = ignored(receive(&receiver, &broken_payment(Some(FOREIGN))));
    assert_eq!(foreign.reason, IgnoreReason::ForeignCheckout);
    assert_eq!(foreign.event_type, PAYMENT_SUCCEEDED);
    assert_eq!(foreign.event_id, "evt_1EAwK8Mjy2DT38WIWntiZWxm");
    assert_eq!(foreign.checkout_id, Some(CheckoutId::new(FOREIGN)));
    assert_eq!(foreign.mode, Some(Mode::Live));

    let without = ignored(receive(&receiver, &broken_payment(None)));
    assert_eq!(without.reason, IgnoreReason::NoCheckoutId);

    // Ours but in the unwanted mode: not ours to complain about either.
    let test_mode = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .payload_field("amount", "nine hundred")
        .checkout_id(OURS)
        .mode(Mode::Test)
        .to_json();
    assert_eq!(
        ignored(receive(&receiver, &test_mode)).reason,
        IgnoreReason::UnwantedMode
    );

    // A receiver that wants every event owns every broken one.
    let any = self::receiver(CheckoutFilter::any());
    assert_eq!(rejected(receive(&any, &broken_payment(None))).status(), 400);

    // A refund with a non-string paymentId.
    let refund = SampleEvent::refund_succeeded()
        .mode(Mode::Live)
        .checkout_id(OURS)
        .payload_field("paymentId", 42)
        .to_json();
    let err = rejected(receive(&receiver, &refund));
    assert_eq!(invalid_payload_type(&err), Some(REFUND_SUCCEEDED), "{err:?}");
}

#[test]
fn an_authentic_body_that_is_not_an_event_is_400() {
    let receiver = receiver(CheckoutFilter::any());
    for body in [
        &b"not json"[..],
        b"",
        b"\xff\xfe{}",
        b"null",
        b"[]",
        b"{}",
        br#"{"id":"evt_1","type":"payment.succeeded"}"#,
        br#"{"id":"evt_1","type":"payment.succeeded","createdDate":"yesterday","payload":{}}"#,
        br#"{"id":"evt_1","type":"payment.succeeded","createdDate":"2024-06-15T15:51:55Z","payload":{}"#,
    ] {
        let err = rejected(receive(&receiver, body));
        assert_eq!(err.status(), 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(err.status_code(), http::StatusCode::BAD_REQUEST);
        assert!(matches!(err, ReceiveError::Parse(ParseError::NotAnEvent(_))), "{err:?}");
    }
}

// --- Secrets bound to a mode ------------------------------------------------

/// Another registration's secret: the test registration's, say.
const OTHER_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn other_secret() -> WebhookSecret {
    WebhookSecret::parse(OTHER_SECRET).unwrap()
}

/// `TEST_SECRET` as the live registration's secret, `OTHER_SECRET` as the
/// test registration's, each bound to its mode and named.
fn live_and_test(filter: CheckoutFilter) -> Receiver {
    let verifier = Verifier::builder(secret())
        .named("live")
        .for_mode(Mode::Live)
        .also_accept_for(other_secret(), Mode::Test)
        .named("test")
        .build();
    Receiver::new(verifier, filter)
}

/// Signs `body` with `secret` and receives it at [`NOW`].
fn receive_signed_with(receiver: &Receiver, secret: WebhookSecret, body: &[u8]) -> Result<Outcome, ReceiveError> {
    receiver.receive_at(&Signer::new(secret).sign(MSG, unix(SIGNED_AT), body), body, unix(NOW))
}

/// The mode mismatch inside a rejection.
fn mode_mismatch(outcome: Result<Outcome, ReceiveError>) -> (String, Mode, Option<Mode>) {
    let err = rejected(outcome);
    assert_eq!(err.status(), 401, "{err:?}");
    assert_eq!(err.status_code(), http::StatusCode::UNAUTHORIZED);
    match err {
        ReceiveError::Verify(VerifyError::ModeMismatch { secret, bound, event }) => {
            (secret.as_str().to_owned(), bound, event)
        }
        other => panic!("expected a mode mismatch, got {other:?}"),
    }
}

/// An unknown event type without `payload.mode`.
const OTHER_WITHOUT_MODE: &[u8] = concat!(
    r#"{"id":"evt_9","type":"checkout.expired","createdDate":"2024-06-15T15:51:55Z","#,
    r#""payload":{"metadata":{"checkoutId":"ch_mine"}}}"#
)
.as_bytes();

#[test]
fn a_test_secret_cannot_make_a_live_event_processed() {
    for filter in [CheckoutFilter::any(), CheckoutFilter::checkout(OURS)] {
        let receiver = live_and_test(filter);
        let typed = SampleEvent::payment_succeeded()
            .mode(Mode::Live)
            .checkout_id(OURS)
            .to_json();
        let refund = SampleEvent::refund_failed()
            .mode(Mode::Live)
            .checkout_id(OURS)
            .to_json();
        let other = SampleEvent::other("payment.failed")
            .mode(Mode::Live)
            .checkout_id(OURS)
            .to_json();
        for body in [&typed, &refund, &other] {
            assert_eq!(
                mode_mismatch(receive_signed_with(&receiver, other_secret(), body)),
                ("test".to_owned(), Mode::Test, Some(Mode::Live)),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // Nor an event that claims no mode, or a mode Yoco does not send.
        assert_eq!(
            mode_mismatch(receive_signed_with(&receiver, other_secret(), OTHER_WITHOUT_MODE)),
            ("test".to_owned(), Mode::Test, None)
        );
        let sandbox = SampleEvent::other("payment.failed")
            .mode(Mode::Live)
            .checkout_id(OURS)
            .payload_field("mode", "sandbox")
            .to_json();
        // (A mode Yoco does not send is not quoted: it is the sender's text.)
        assert_eq!(
            mode_mismatch(receive_signed_with(&receiver, other_secret(), &sandbox)).2,
            None
        );
        // And the live secret cannot make a test event processed either.
        let test_event = SampleEvent::payment_succeeded()
            .mode(Mode::Live)
            .checkout_id(OURS)
            .mode(Mode::Test)
            .to_json();
        assert_eq!(
            mode_mismatch(receive_signed_with(&receiver, secret(), &test_event)),
            ("live".to_owned(), Mode::Live, Some(Mode::Test))
        );
    }
}

#[test]
fn a_foreign_event_with_a_broken_payload_is_refused_not_ignored_when_its_mode_differs() {
    // The filter would acknowledge these (foreign, or no checkout id), but a
    // secret bound to another mode cannot vouch for them at all.
    let receiver = live_and_test(CheckoutFilter::checkout(OURS).only_mode(Mode::Live));
    let broken = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .payload_field("amount", "nine hundred");
    for body in [
        broken.clone().checkout_id(FOREIGN).to_json(),
        broken.clone().without_checkout_id().to_json(),
        broken.clone().checkout_id(OURS).to_json(),
    ] {
        assert_eq!(
            mode_mismatch(receive_signed_with(&receiver, other_secret(), &body)),
            ("test".to_owned(), Mode::Test, Some(Mode::Live))
        );
    }
    // A known type whose payload lacks its mode.
    let no_mode = broken
        .clone()
        .checkout_id(FOREIGN)
        .payload_field("mode", serde_json::Value::Null)
        .to_json();
    assert_eq!(
        mode_mismatch(receive_signed_with(&receiver, other_secret(), &no_mode)),
        ("test".to_owned(), Mode::Test, None)
    );
    // Signed by the secret of its own mode, it is the filter's as before.
    let foreign = ignored(receive_signed_with(
        &receiver,
        secret(),
        &broken.clone().checkout_id(FOREIGN).to_json(),
    ));
    assert_eq!(
        (foreign.reason, foreign.secret.as_str()),
        (IgnoreReason::ForeignCheckout, "live")
    );
    let test_foreign = broken.clone().checkout_id(FOREIGN).mode(Mode::Test).to_json();
    let ignored_test = ignored(receive_signed_with(&receiver, other_secret(), &test_foreign));
    assert_eq!(
        (ignored_test.reason, ignored_test.secret.as_str()),
        (IgnoreReason::ForeignCheckout, "test")
    );
    let ours = rejected(receive_signed_with(
        &receiver,
        secret(),
        &broken.checkout_id(OURS).to_json(),
    ));
    assert_eq!(invalid_payload_type(&ours), Some(PAYMENT_SUCCEEDED), "{ours:?}");
    // A body that is not an event has no mode to compare: still a 400.
    let err = rejected(receive_signed_with(&receiver, other_secret(), b"not json"));
    assert!(matches!(err, ReceiveError::Parse(ParseError::NotAnEvent(_))), "{err:?}");
}

#[test]
fn each_secret_still_verifies_the_events_of_its_mode_and_is_named() {
    let receiver = live_and_test(CheckoutFilter::checkout(OURS));
    let live = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .checkout_id(OURS)
        .to_json();
    let delivery = processed(receive_signed_with(&receiver, secret(), &live));
    assert_eq!(delivery.secret, "live");
    assert_eq!(delivery.event.mode(), Some(&Mode::Live));

    let test = SampleEvent::refund_succeeded()
        .mode(Mode::Live)
        .checkout_id(OURS)
        .mode(Mode::Test)
        .to_json();
    let delivery = processed(receive_signed_with(&receiver, other_secret(), &test));
    assert_eq!(delivery.secret.as_str(), "test");
    assert_eq!(delivery.secret.to_string(), "test");

    let other = SampleEvent::other("payment.failed")
        .mode(Mode::Live)
        .checkout_id(OURS)
        .mode(Mode::Test)
        .to_json();
    assert_eq!(
        processed(receive_signed_with(&receiver, other_secret(), &other)).secret,
        "test"
    );

    let foreign = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .checkout_id(FOREIGN)
        .to_json();
    let ignored = ignored(receive_signed_with(&receiver, secret(), &foreign));
    assert_eq!(
        (ignored.reason, ignored.secret.as_str()),
        (IgnoreReason::ForeignCheckout, "live")
    );
}

#[test]
fn an_unbound_secret_verifies_both_modes_and_events_without_one() {
    // Rotating: the previous secret, unnamed and unbound, beside the current.
    let verifier = Verifier::builder(other_secret())
        .named("current")
        .also_accept(secret())
        .build();
    let receiver = Receiver::new(verifier, CheckoutFilter::any());
    for mode in [Mode::Live, Mode::Test] {
        let body = SampleEvent::payment_succeeded().mode(mode.clone()).to_json();
        let delivery = processed(receive_signed_with(&receiver, secret(), &body));
        assert_eq!(
            (delivery.secret.as_str(), delivery.event.mode()),
            ("secret-2", Some(&mode))
        );
        let delivery = processed(receive_signed_with(&receiver, other_secret(), &body));
        assert_eq!(delivery.secret, "current");
    }
    assert_eq!(processed(receive(&receiver, OTHER_WITHOUT_MODE)).secret, "secret-2");
    // The single-secret receiver names its secret `secret-1`.
    let body = SampleEvent::payment_succeeded().mode(Mode::Live).to_json();
    assert_eq!(
        processed(receive(&self::receiver(CheckoutFilter::any()), &body)).secret,
        "secret-1"
    );
}

// --- Requests that are not authentic ---------------------------------------

#[test]
fn tampered_stale_and_unsigned_requests_are_401() {
    let receiver = receiver(CheckoutFilter::any());
    let body = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .checkout_id(OURS)
        .to_json();
    let headers = sign(&body);
    let tampered = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .checkout_id(OURS)
        .amount(1)
        .to_json();

    let mut wrong_id = headers.clone();
    wrong_id.webhook_id.push('x');
    let mut wrong_time = headers.clone();
    wrong_time.webhook_timestamp = (SIGNED_AT + 1).to_string();
    let other_secret = Signer::new(WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap());

    let cases: [(&str, Result<Outcome, ReceiveError>, VerifyError); 9] = [
        (
            "tampered body",
            receiver.receive_at(&headers, &tampered, unix(NOW)),
            VerifyError::SignatureMismatch,
        ),
        (
            "tampered body that is not JSON",
            receiver.receive_at(&headers, b"garbage", unix(NOW)),
            VerifyError::SignatureMismatch,
        ),
        (
            "tampered id",
            receiver.receive_at(&wrong_id, &body, unix(NOW)),
            VerifyError::SignatureMismatch,
        ),
        (
            "tampered timestamp",
            receiver.receive_at(&wrong_time, &body, unix(NOW)),
            VerifyError::SignatureMismatch,
        ),
        (
            "another secret",
            receiver.receive_at(&other_secret.sign(MSG, unix(SIGNED_AT), &body), &body, unix(NOW)),
            VerifyError::SignatureMismatch,
        ),
        (
            "stale",
            receiver.receive_at(&headers, &body, unix(SIGNED_AT + 181)),
            VerifyError::StaleTimestamp,
        ),
        (
            "a day later (replayed)",
            receiver.receive_at(&headers, &body, unix(SIGNED_AT + 86_400)),
            VerifyError::StaleTimestamp,
        ),
        (
            "future",
            receiver.receive_at(&headers, &body, unix(SIGNED_AT - 181)),
            VerifyError::FutureTimestamp,
        ),
        (
            "unsigned",
            receiver.receive_at(
                &[("webhook-id", MSG), ("webhook-timestamp", "1718466715")],
                &body,
                unix(NOW),
            ),
            VerifyError::MissingHeader {
                name: "webhook-signature",
            },
        ),
    ];
    for (name, outcome, expected) in cases {
        let err = rejected(outcome);
        assert_eq!(err.status(), 401, "{name}");
        assert_eq!(err.status_code(), http::StatusCode::UNAUTHORIZED, "{name}");
        match err {
            ReceiveError::Verify(verify) => assert_eq!(verify, expected, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // The clock-reading receive rejects an old signature too.
    let err = rejected(receiver.receive(&headers, &body));
    assert!(
        matches!(err, ReceiveError::Verify(VerifyError::StaleTimestamp)),
        "{err:?}"
    );
}

#[test]
fn error_messages_say_what_failed() {
    let receiver = receiver(CheckoutFilter::any());
    let body = SampleEvent::payment_succeeded().mode(Mode::Live).to_json();
    let err = rejected(receiver.receive_at(&sign(&body), b"x", unix(NOW)));
    assert!(err.to_string().contains("signature"), "{err}");
    let err = rejected(receiver.receive_at(&sign(&body), &body, unix(SIGNED_AT + 1000)));
    assert!(err.to_string().contains("too old"), "{err}");
    let err = rejected(receiver.receive_at(&[("webhook-id", MSG)], &body, unix(NOW)));
    assert!(err.to_string().contains("webhook-timestamp"), "{err}");
    let err = rejected(receive(&receiver, b"nope"));
    assert!(err.to_string().contains("not a Yoco event"), "{err}");
}

// --- Secrets never appear in messages ---------------------------------------

/// Everything that must never be shown: the secret, its base64 key, the key
/// bytes as text, and every spelling of the expected signatures.
fn forbidden(secret: &str, expected_signatures: &[&SignedHeaders]) -> Vec<String> {
    let encoded = secret.strip_prefix("whsec_").unwrap();
    let key = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
    let mut words = vec![
        secret.to_owned(),
        encoded.to_owned(),
        encoded.trim_end_matches('=').to_owned(),
        String::from_utf8_lossy(&key).into_owned(),
        format!("{key:?}"),
    ];
    for headers in expected_signatures {
        let b64 = headers.webhook_signature.strip_prefix("v1,").unwrap();
        let tag = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
        words.push(b64.to_owned());
        words.push(b64[..16].to_owned());
        words.push(tag.iter().map(|b| format!("{b:02x}")).collect());
        words.push(format!("{tag:?}"));
    }
    words
}

fn assert_shows_none(text: &str, forbidden: &[String]) {
    for word in forbidden {
        assert!(!text.contains(word.as_str()), "{text:?} shows {word:?}");
    }
}

#[test]
fn errors_never_show_the_secret_the_key_or_the_expected_signature() {
    // TEST_SECRET's key is printable text, so it is checked for as text too.
    let key = base64::engine::general_purpose::STANDARD
        .decode(TEST_SECRET.strip_prefix("whsec_").unwrap())
        .unwrap();
    assert!(key.iter().all(u8::is_ascii_graphic));

    let receiver = receiver(CheckoutFilter::any());
    let body = SampleEvent::payment_succeeded().mode(Mode::Live).to_json();
    let tampered = SampleEvent::payment_succeeded().mode(Mode::Live).amount(1).to_json();
    let sent = sign(&body);
    // What the verifier computes for the tampered body: the signature a
    // careless error would print.
    let expected_for_tampered = sign(&tampered);
    let mut forged = sent.clone();
    forged.webhook_signature = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned();
    let forbidden = forbidden(TEST_SECRET, &[&expected_for_tampered, &sent]);

    let mismatch = rejected(receiver.receive_at(&sent, &tampered, unix(NOW)));
    assert!(matches!(mismatch, ReceiveError::Verify(VerifyError::SignatureMismatch)));
    let forged_mismatch = rejected(receiver.receive_at(&forged, &body, unix(NOW)));
    assert!(matches!(
        forged_mismatch,
        ReceiveError::Verify(VerifyError::SignatureMismatch)
    ));
    let errors = [
        mismatch,
        forged_mismatch,
        rejected(receiver.receive_at(&sent, &body, unix(SIGNED_AT + 1000))),
        rejected(receiver.receive_at(&sent, &body, unix(SIGNED_AT - 1000))),
        rejected(receiver.receive_at(&[("webhook-id", MSG)], &body, unix(NOW))),
    ];
    for err in &errors {
        assert_shows_none(&err.to_string(), &forbidden);
        assert_shows_none(&format!("{err:?}"), &forbidden);
        assert_shows_none(&format!("{err:#?}"), &forbidden);
    }
    // The verifier's own errors, and the debug output of every type holding the secret.
    let verify_err = receiver.verifier().verify_at(&sent, &tampered, unix(NOW)).unwrap_err();
    assert_shows_none(&format!("{verify_err} {verify_err:?}"), &forbidden);
    assert_shows_none(&format!("{:?} {:#?}", receiver, receiver.verifier()), &forbidden);
    assert_shows_none(&format!("{:?} {:?}", signer(), secret()), &forbidden);

    // The checks can fail: the sent signature is in the headers' Debug output.
    let shown = format!("{sent:?}");
    assert!(forbidden.iter().any(|word| shown.contains(word.as_str())));
}

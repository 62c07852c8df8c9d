//! One reader decides whose event a body is, and it reads what
//! `serde_json::Value` reads: on generated, mutated and hostile signed
//! bodies, every receiver's answer is held to [`by_value`]'s reference
//! (under filters by one checkout, a set, a predicate and a mode, and with
//! a secret bound to a mode), and a body `Value` cannot read is never
//! ignored. The defects this closed are each a test below: a payment of
//! ours acknowledged as "not ours" because its metadata held what `Value`
//! cannot (a lone surrogate, `1e400`, deep nesting), a `payload` written as
//! an array processed as ours, a body with invalid UTF-8 processed with a
//! body that no longer verifies, and a live event refused when a test
//! secret also signed it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use serde_json::Value;
use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};
use yoco_webhooks::{
    CheckoutFilter, IgnoreReason, Mode, Outcome, ReceiveError, Receiver, Verifier, VerifyError, WebhookSecret,
    event::ParseError,
};

use crate::by_value;

const NOW: i64 = 1_718_466_715;

fn secret() -> WebhookSecret {
    WebhookSecret::parse(TEST_SECRET).unwrap()
}

/// A receiver, its filter and the mode its secret is bound to.
type Case = (&'static str, Receiver, CheckoutFilter, Option<Mode>);

/// Receivers whose filters and secrets decide each a different way.
fn receivers() -> Vec<Case> {
    let verifier = Verifier::new(secret());
    let bound = Verifier::builder(secret()).for_mode(Mode::Live).build();
    let filters = [
        ("one, live", CheckoutFilter::checkout("ch_a").only_mode(Mode::Live)),
        ("set", CheckoutFilter::checkouts(["ch_a", "ch_c"])),
        ("matching", CheckoutFilter::matching(|id| id.as_str().ends_with('a'))),
        ("any, test", CheckoutFilter::any().only_mode(Mode::Test)),
        ("any", CheckoutFilter::any()),
    ];
    let mut receivers: Vec<Case> = filters
        .into_iter()
        .map(|(name, filter)| (name, Receiver::new(verifier.clone(), filter.clone()), filter, None))
        .collect();
    receivers.push((
        "bound to live",
        Receiver::new(bound, CheckoutFilter::any()),
        CheckoutFilter::any(),
        Some(Mode::Live),
    ));
    receivers
}

/// Every receiver's answer to `body`, signed, held to what `Value` reads.
fn as_value_reads(receivers: &[Case], body: &[u8]) -> Result<(), TestCaseError> {
    let headers = Signer::new(secret()).sign_at_unix("msg_one_reader", NOW, body);
    let now = crate::unix(NOW);
    for (name, receiver, filter, bound) in receivers {
        let answer = receiver.receive_at(&headers, body, now);
        if let Err(disagreement) = by_value::check(body, filter, bound.as_ref(), &answer) {
            prop_assert!(false, "{name}: {}: {disagreement}", String::from_utf8_lossy(body));
        }
        // What is processed is the body as signed, byte for byte.
        if let Ok(Outcome::Process(delivery)) = &answer {
            prop_assert_eq!(delivery.body(), body);
        }
    }
    Ok(())
}

/// Raw JSON that a reader must be careful with, as a metadata value or
/// whole entries.
const ODD_VALUES: &[&str] = &[
    r#""ch_a""#,
    r#""ch_b""#,
    r#""ch_\u0061""#,
    r#""\"checkoutId\":\"ch_a\"""#,
    r#""checkoutId""#,
    r#"{"checkoutId":"ch_a"}"#,
    r#"["checkoutId","ch_a"]"#,
    r#""Zoë ☕ café""#,
    r#""\ud800""#,
    r#""tab	inside""#,
    "1e400",
    "-1.5e3",
    "123456789012345678901234567890",
    "1234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
    "0.000000000000000000000000000001",
    "-0",
    "null",
    "true",
    "[]",
    "{}",
];

/// Keys, some of them the ones the reader decides by.
const ODD_KEYS: &[&str] = &[
    "checkoutId",
    "mode",
    "metadata",
    "payload",
    "orderRef",
    "id",
    "type",
    "checkout\\u0049d",
];

/// `depth` nested arrays.
fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// A Yoco-shaped event: any type, owner and mode, merchant metadata with
/// odd keys and values, and raw entries spliced into the payload or the
/// metadata.
fn yoco_shaped() -> impl Strategy<Value = Vec<u8>> {
    let event_type = proptest::sample::select(vec![
        "payment.succeeded",
        "refund.succeeded",
        "refund.failed",
        "payment.failed",
    ]);
    let checkout = proptest::sample::select(vec![Some("ch_a"), Some("ch_b"), Some("ch_c"), Some("ch_ba"), None]);
    let mode = proptest::sample::select(vec![Mode::Live, Mode::Test, Mode::Other("sandbox".into())]);
    let metadata = proptest::collection::vec(
        (
            proptest::sample::select(ODD_KEYS.to_vec()),
            proptest::sample::select(ODD_VALUES.to_vec()),
        ),
        0..4,
    );
    let splice = proptest::option::of((
        proptest::sample::select(vec!["metadata", "payload", "top"]),
        proptest::sample::select(ODD_KEYS.to_vec()),
        prop_oneof![
            proptest::sample::select(ODD_VALUES.to_vec()).prop_map(str::to_owned),
            Just(nested(63)),
            Just(nested(70)),
            Just(nested(130)),
        ],
    ));
    (event_type, checkout, mode, metadata, splice).prop_map(|(event_type, checkout, mode, metadata, splice)| {
        let mut event = match event_type {
            "payment.succeeded" => SampleEvent::payment_succeeded(),
            "refund.succeeded" => SampleEvent::refund_succeeded(),
            "refund.failed" => SampleEvent::refund_failed(),
            other => SampleEvent::other(other),
        }
        .mode(mode);
        event = match checkout {
            Some(id) => event.checkout_id(id),
            None => event.without_checkout_id(),
        };
        for (key, value) in metadata {
            // Values a `Value` can hold go in as values; the rest are
            // spliced in as text below.
            if let Ok(value) = serde_json::from_str::<Value>(value) {
                event = event.metadata(key, value);
            }
        }
        let mut body = String::from_utf8(event.to_json()).unwrap();
        if let Some((place, key, value)) = splice {
            let entry = format!(r#""{key}":{value},"#);
            let anchor = match place {
                "metadata" => r#""metadata":{"#,
                "payload" => r#""payload":{"#,
                _ => "{",
            };
            if let Some(at) = body.find(anchor) {
                let at = at + anchor.len();
                body.insert_str(at, &entry);
                // An empty object would now end in `,}`: let it, the body is
                // then simply not JSON, and both paths must refuse it alike.
            }
        }
        body.into_bytes()
    })
}

/// Edits to a body: delete, insert or replace one byte, with bytes that
/// matter to JSON.
fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8, u8)>> {
    let byte = proptest::sample::select(b"\"\\{}[],: 0e-.nt\x1f\xffa_I".to_vec());
    proptest::collection::vec((any::<prop::sample::Index>(), 0_u8..3, byte), 1..4)
}

fn mutate(mut body: Vec<u8>, edits: &[(prop::sample::Index, u8, u8)]) -> Vec<u8> {
    for (at, op, byte) in edits {
        if body.is_empty() {
            body.push(*byte);
            continue;
        }
        let at = at.index(body.len());
        match op {
            0 => {
                body.remove(at);
            }
            1 => body.insert(at, *byte),
            _ => body[at] = *byte,
        }
    }
    body
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(512);
    ProptestConfig::with_cases(cases)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn on_yoco_shaped_events(body in yoco_shaped()) {
        as_value_reads(&receivers(), &body)?;
    }

    #[test]
    fn on_yoco_shaped_events_mutated(body in yoco_shaped(), edits in edits()) {
        as_value_reads(&receivers(), &mutate(body, &edits))?;
    }

    #[test]
    fn on_repeated_keys(body in crate::duplicate_keys::body()) {
        as_value_reads(&receivers(), body.as_bytes())?;
    }

    #[test]
    fn on_repeated_keys_mutated(body in crate::duplicate_keys::body(), edits in edits()) {
        as_value_reads(&receivers(), &mutate(body.into_bytes(), &edits))?;
    }
}

/// A `matching` predicate is asked once per event that has a checkout id,
/// whether the event is ours or not.
#[test]
fn a_predicate_is_asked_once_per_event() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let receiver = Receiver::new(
        Verifier::new(secret()),
        CheckoutFilter::matching(move |id| {
            counter.fetch_add(1, Ordering::Relaxed);
            id == "ch_a"
        }),
    );
    let now = crate::unix(NOW);
    for (checkout, processed) in [("ch_a", true), ("ch_b", false)] {
        let body = SampleEvent::payment_succeeded().checkout_id(checkout).to_json();
        let headers = Signer::new(secret()).sign_at_unix("msg_once", NOW, &body);
        let before = calls.load(Ordering::Relaxed);
        let outcome = receiver.receive_at(&headers, &body, now);
        assert_eq!(matches!(outcome, Ok(Outcome::Process(_))), processed, "{checkout}");
        assert_eq!(calls.load(Ordering::Relaxed) - before, 1, "{checkout}");
    }
}

/// Our payment, with `from` replaced by `to` in its body.
fn ours_with(from: &str, to: &str) -> Vec<u8> {
    let body = String::from_utf8(
        SampleEvent::payment_succeeded()
            .checkout_id("ch_a")
            .mode(Mode::Live)
            .metadata("customer", "Zoe")
            .to_json(),
    )
    .unwrap();
    assert!(body.contains(from), "{body}");
    body.replacen(from, to, 1).into_bytes()
}

fn receive(receiver: &Receiver, body: &[u8]) -> Result<Outcome, ReceiveError> {
    let headers = Signer::new(secret()).sign_at_unix("msg_ours", NOW, body);
    receiver.receive_at(&headers, body, crate::unix(NOW))
}

/// Values `serde_json::Value` cannot hold, in a payment of ours: never
/// acknowledged as not ours, under a filter by checkout, by mode, or a
/// live-bound secret. Processed where the typed payment reads (the raw
/// body always there), else refused with 400 for Yoco to retry.
#[test]
fn a_payment_of_ours_that_value_cannot_read_is_never_ignored() {
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let cases = [
        (r#""customer":"Zoe""#, r#""customer":"Zo\ud83d""#.to_owned()),
        (r#""customer":"Zoe""#, r#""customer":1e400"#.to_owned()),
        (r#""customer":"Zoe""#, format!(r#""customer":{deep}"#)),
        (r#""amount":900"#, r#""amount":1e400"#.to_owned()),
        (r#""customer":"Zoe""#, r#""customer":"Zoe","note":"\udc00""#.to_owned()),
        // Outside the payload, where the typed event does not look.
        (
            r#""type":"payment.succeeded""#,
            r#""type":"payment.succeeded","x":1e400"#.to_owned(),
        ),
    ];
    let bound = Receiver::new(
        Verifier::builder(secret()).for_mode(Mode::Live).build(),
        CheckoutFilter::checkout("ch_a"),
    );
    let receivers = [
        Receiver::new(Verifier::new(secret()), CheckoutFilter::checkout("ch_a")),
        Receiver::new(Verifier::new(secret()), CheckoutFilter::any().only_mode(Mode::Live)),
        bound,
    ];
    for (from, to) in &cases {
        let body = ours_with(from, to);
        assert!(serde_json::from_slice::<Value>(&body).is_err(), "Value reads {to}");
        for receiver in &receivers {
            match receive(receiver, &body) {
                Ok(Outcome::Process(delivery)) => {
                    assert_eq!(delivery.event.checkout_id().unwrap(), "ch_a");
                    assert_eq!(delivery.body(), &body[..]);
                }
                Err(ReceiveError::Parse(ParseError::InvalidPayload { .. })) => {}
                other => panic!("{to}: {other:?}"),
            }
        }
    }
    // Outside the payload, the typed payment reads: processed.
    let body = ours_with(
        r#""type":"payment.succeeded""#,
        r#""type":"payment.succeeded","x":1e400"#,
    );
    assert!(matches!(receive(&receivers[0], &body), Ok(Outcome::Process(_))));
    // A name cut in the middle of an emoji, as JavaScript writes it: the
    // payment is processed, the lone surrogate read as U+FFFD, as most
    // JSON readers but `serde_json` read it.
    for receiver in &receivers {
        for (cut, read) in [
            (r"Zo\ud83d", "Zo\u{fffd}"),
            (r"\udc00Zo\ud83d\ud83d\ude00", "\u{fffd}Zo\u{fffd}\u{1f600}"),
        ] {
            let body = ours_with(r#""customer":"Zoe""#, &format!(r#""customer":"{cut}""#));
            let Ok(Outcome::Process(delivery)) = receive(receiver, &body) else {
                panic!("{cut}: {:?}", receive(receiver, &body))
            };
            let yoco_webhooks::EventData::PaymentSucceeded(payment) = &delivery.event.data else {
                panic!("not a payment")
            };
            assert_eq!(payment.metadata.get("customer"), Some(&Value::from(read)));
            assert_eq!(delivery.body(), &body[..]);
        }
    }
}

/// Someone else's event that `Value` cannot read is refused, not ignored:
/// another reader may see another owner in it.
#[test]
fn a_foreign_event_that_value_cannot_read_is_refused() {
    let body = ours_with(r#""customer":"Zoe""#, r#""customer":"Zo\ud83d","note":"ch_b""#);
    let receiver = Receiver::new(Verifier::new(secret()), CheckoutFilter::checkout("ch_b"));
    match receive(&receiver, &body) {
        Err(ReceiveError::Parse(error @ ParseError::Unreadable(_))) => {
            assert_eq!(error.status(), 400);
            assert!(error.to_string().contains("lone surrogate"), "{error}");
        }
        other => panic!("{other:?}"),
    }
}

/// A payload written as an array of the payment's fields in order: no
/// JSON reader sees a checkout id or a mode there, so it is not ours.
#[test]
fn a_payload_written_as_an_array_is_not_an_owned_payment() {
    for event_type in ["payment.succeeded", "refund.succeeded", "refund.failed"] {
        let body = format!(
            r#"{{"id":"evt_1","type":"{event_type}","createdDate":"2024-06-15T15:51:55.260284Z","payload":["p_1","2024-06-15T17:51:54.405141Z",900,"ZAR","succeeded","live",null,{{"checkoutId":"ch_a"}}]}}"#
        );
        let ours = Receiver::new(Verifier::new(secret()), CheckoutFilter::checkout("ch_a"));
        match receive(&ours, body.as_bytes()) {
            Ok(Outcome::Ignore(ignored)) => assert_eq!(ignored.reason, IgnoreReason::NoCheckoutId),
            other => panic!("{event_type}: {other:?}"),
        }
        let any = Receiver::new(Verifier::new(secret()), CheckoutFilter::any());
        match receive(&any, body.as_bytes()) {
            Err(ReceiveError::Parse(ParseError::InvalidPayload { .. })) => {}
            other => panic!("{event_type}: {other:?}"),
        }
        let bound = Receiver::new(
            Verifier::builder(secret()).for_mode(Mode::Live).build(),
            CheckoutFilter::any(),
        );
        assert!(matches!(
            receive(&bound, body.as_bytes()),
            Err(ReceiveError::Verify(VerifyError::ModeMismatch { .. }))
        ));
    }
    // Nested objects too: a card written as an array is not a card.
    let body = ours_with(r#""card":{"#, r#""card":[2,30,"************1111","visa"],"was":{"#);
    let any = Receiver::new(Verifier::new(secret()), CheckoutFilter::any());
    assert!(
        matches!(
            receive(&any, &body),
            Err(ReceiveError::Parse(ParseError::InvalidPayload { .. }))
        ),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

/// Invalid UTF-8 in a string the event does not use: refused before
/// anything is processed or queued (JSON is UTF-8), never processed with a
/// body that no longer verifies.
#[test]
fn a_body_with_invalid_utf8_is_refused_before_anything() {
    let mut body = ours_with(
        r#""type":"payment.succeeded""#,
        r#""type":"payment.succeeded","note":"ab""#,
    );
    let at = body.windows(4).position(|w| w == b"\"ab\"").unwrap() + 1;
    body[at] = 0xff;
    for filter in [
        CheckoutFilter::any(),
        CheckoutFilter::checkout("ch_a"),
        CheckoutFilter::checkout("ch_b"),
    ] {
        let receiver = Receiver::new(Verifier::new(secret()), filter);
        match receive(&receiver, &body) {
            Err(ReceiveError::Parse(error @ ParseError::NotAnEvent(_))) => {
                assert!(error.to_string().contains("UTF-8"), "{error}");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A signature header with a live and a test entry, both secrets
/// configured, each bound to its mode: the secret of the event's mode
/// vouches for it, whichever was configured last.
#[test]
fn the_secret_of_the_events_mode_vouches_when_several_match() {
    let live = WebhookSecret::parse(TEST_SECRET).unwrap();
    let test = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    for mode in [Mode::Live, Mode::Test] {
        let body = SampleEvent::payment_succeeded()
            .checkout_id("ch_a")
            .mode(mode.clone())
            .to_json();
        let signed_live = Signer::new(live.clone()).sign_at_unix("msg_both", NOW, &body);
        let signed_test = Signer::new(test.clone()).sign_at_unix("msg_both", NOW, &body);
        let both = format!("{} {}", signed_live.webhook_signature, signed_test.webhook_signature);
        let timestamp = NOW.to_string();
        let headers = [
            ("webhook-id", "msg_both"),
            ("webhook-timestamp", timestamp.as_str()),
            ("webhook-signature", both.as_str()),
        ];
        let secrets = [("live", Mode::Live, &live), ("test", Mode::Test, &test)];
        for (first, second) in [(&secrets[0], &secrets[1]), (&secrets[1], &secrets[0])] {
            let verifier = Verifier::builder(first.2.clone())
                .named(first.0)
                .for_mode(first.1.clone())
                .also_accept_for(second.2.clone(), second.1.clone())
                .named(second.0)
                .build();
            let receiver = Receiver::new(verifier, CheckoutFilter::any());
            match receiver.receive_at(&headers, &body, crate::unix(NOW)) {
                Ok(Outcome::Process(delivery)) => assert_eq!(delivery.secret.as_str(), mode.as_str()),
                other => panic!("{mode}, {} configured last: {other:?}", second.0),
            }
        }
    }
}

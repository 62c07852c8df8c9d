//! The fast path for foreign events never decides differently from the
//! full parse: on the same signed bodies, `Receiver::receive_at` (which
//! takes the fast path when it is certain) and
//! `testing::receive_by_full_parse` (which never does) give the same outcome
//! or the same error, under filters by one checkout, a set, a predicate and
//! a mode, and with a secret bound to a mode. Bodies are Yoco-shaped events
//! with adversarial metadata, bodies with repeated keys at every level, and
//! both mutated byte by byte.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use serde_json::Value;
use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET, receive_by_full_parse};
use yoco_webhooks::{CheckoutFilter, Mode, Outcome, Receiver, Verifier, WebhookSecret};

const NOW: i64 = 1_718_466_715;

fn secret() -> WebhookSecret {
    WebhookSecret::parse(TEST_SECRET).unwrap()
}

/// Receivers whose filters can ignore, each a different way.
fn receivers() -> Vec<(&'static str, Receiver)> {
    let verifier = Verifier::new(secret());
    let bound = Verifier::builder(secret()).for_mode(Mode::Live).build();
    vec![
        (
            "one, live",
            Receiver::new(verifier.clone(), CheckoutFilter::checkout("ch_a").only_mode(Mode::Live)),
        ),
        (
            "set",
            Receiver::new(verifier.clone(), CheckoutFilter::checkouts(["ch_a", "ch_c"])),
        ),
        (
            "matching",
            Receiver::new(
                verifier.clone(),
                CheckoutFilter::matching(|id| id.as_str().ends_with('a')),
            ),
        ),
        (
            "any, test",
            Receiver::new(verifier.clone(), CheckoutFilter::any().only_mode(Mode::Test)),
        ),
        ("bound to live", Receiver::new(bound, CheckoutFilter::any())),
        ("any", Receiver::new(verifier, CheckoutFilter::any())),
    ]
}

/// Both paths, on `body` signed, under every receiver.
fn same_decision(receivers: &[(&str, Receiver)], body: &[u8]) -> Result<(), TestCaseError> {
    let headers = Signer::new(secret()).sign_at_unix("msg_fast", NOW, body);
    let now = crate::unix(NOW);
    for (name, receiver) in receivers {
        let fast = receiver.receive_at(&headers, body, now);
        let full = receive_by_full_parse(receiver, &headers, body, now);
        let text = String::from_utf8_lossy(body);
        match (&fast, &full) {
            (Ok(fast), Ok(full)) => prop_assert_eq!(fast, full, "{}: {}", name, text),
            (Err(fast), Err(full)) => {
                prop_assert_eq!(fast.status(), full.status(), "{}: {}", name, text);
                prop_assert_eq!(fast.to_string(), full.to_string(), "{}: {}", name, text);
            }
            _ => prop_assert!(false, "{name}: {text}: fast {fast:?}, full {full:?}"),
        }
    }
    Ok(())
}

/// Raw JSON that the fast path must be careful with, as a metadata value or
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

/// Keys, some of them the ones the fast path reads.
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
        same_decision(&receivers(), &body)?;
    }

    #[test]
    fn on_yoco_shaped_events_mutated(body in yoco_shaped(), edits in edits()) {
        same_decision(&receivers(), &mutate(body, &edits))?;
    }

    #[test]
    fn on_repeated_keys(body in crate::duplicate_keys::body()) {
        same_decision(&receivers(), body.as_bytes())?;
    }

    #[test]
    fn on_repeated_keys_mutated(body in crate::duplicate_keys::body(), edits in edits()) {
        same_decision(&receivers(), &mutate(body.into_bytes(), &edits))?;
    }
}

/// A `matching` predicate is asked once per event that has a checkout id,
/// on the fast path as on the full parse, whether the event is ours or not.
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
        for by_full_parse in [false, true] {
            let before = calls.load(Ordering::Relaxed);
            let outcome = if by_full_parse {
                receive_by_full_parse(&receiver, &headers, &body, now)
            } else {
                receiver.receive_at(&headers, &body, now)
            };
            assert_eq!(matches!(outcome, Ok(Outcome::Process(_))), processed, "{checkout}");
            assert_eq!(
                calls.load(Ordering::Relaxed) - before,
                1,
                "{checkout}, full parse: {by_full_parse}"
            );
        }
    }
}

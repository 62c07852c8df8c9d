//! The receiver against what `serde_json::Value` reads, on the same signed
//! bodies, under six receivers: one checkout in live mode, a set, a
//! predicate, any checkout in test mode, a secret bound to live mode, and
//! any checkout. The reference is `tests/it/by_value.rs`, included here:
//! where `Value` reads the body, the verdict is the one its reading gives
//! (ignored with its reason, owner and mode; processed with its ids, owner,
//! mode and typed fields; refused with 400 exactly when it is not an event
//! or a known type's payload is malformed); where `Value` cannot read it,
//! the verdict is never "ignored". A processed delivery's body is the
//! signed body, byte for byte.
//!
//! Input: a body, mutated by libFuzzer from Yoco-shaped seeds with
//! adversarial metadata (`seeds/one_reader`, a JSON dictionary helps:
//! `-dict=one_reader.dict`); or, when the first byte is 0, a Yoco-shaped
//! event generated from the following bytes: its type, owner and mode, and
//! metadata entries with odd keys and raw values spliced in as text
//! (escapes, lone surrogates, repeated keys, a key inside a string, huge and
//! exponent numbers, deep nesting).
#![no_main]

mod common;
#[path = "../../tests/it/by_value.rs"]
mod by_value;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use yoco_webhooks::testing::Signer;
use yoco_webhooks::{CheckoutFilter, Mode, Receiver, Verifier};

const WEBHOOK_ID: &str = "msg_2hVbEBdDNyrZBrVQmDmLUSxyfFe";

struct Fixture {
    signer: Signer,
    /// Each receiver with its filter and the mode its secret is bound to.
    receivers: Vec<(&'static str, Receiver, CheckoutFilter, Option<Mode>)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let verifier = Verifier::new(common::secret());
        let bound_verifier = Verifier::builder(common::secret()).for_mode(Mode::Live).build();
        Fixture {
            signer: Signer::new(common::secret()),
            receivers: [
                ("one, live", CheckoutFilter::checkout("ch_1").only_mode(Mode::Live), None),
                ("set", CheckoutFilter::checkouts(["ch_1", "ch_3"]), None),
                ("matching", CheckoutFilter::matching(|id| id.as_str().ends_with('1')), None),
                ("any, test", CheckoutFilter::any().only_mode(Mode::Test), None),
                ("bound to live", CheckoutFilter::any(), Some(Mode::Live)),
                ("any", CheckoutFilter::any(), None),
            ]
            .into_iter()
            .map(|(name, filter, bound)| {
                let verifier = if bound.is_some() { bound_verifier.clone() } else { verifier.clone() };
                (name, Receiver::new(verifier, filter.clone()), filter, bound)
            })
            .collect(),
        }
    })
}

const TYPES: &[&str] = &["payment.succeeded", "refund.succeeded", "refund.failed", "payment.failed", "x"];
const CHECKOUTS: &[&str] = &[r#""ch_1""#, r#""ch_2""#, r#""ch_3""#, r#""ch_\u0031""#, "null", "1", ""];
const MODES: &[&str] = &[r#""live""#, r#""test""#, r#""sandbox""#, r#""l\u0069ve""#, "null", ""];
const KEYS: &[&str] = &["checkoutId", "mode", "metadata", "payload", "id", "type", "createdDate", "orderRef", "checkout\\u0049d"];
const VALUES: &[&str] = &[
    r#""ch_1""#,
    r#""ch_2""#,
    r#""\"checkoutId\":\"ch_1\"""#,
    r#"{"checkoutId":"ch_1"}"#,
    r#"["checkoutId","ch_1"]"#,
    r#""Zoë ☕""#,
    r#""\ud800""#,
    r#""Zo\ud83d""#,
    r#""\udc00\ud83d\ude00""#,
    "1e400",
    "-1.5e3",
    "123456789012345678901234567890",
    "0.5",
    "-0",
    "null",
    "true",
    "{}",
    "[]",
    r#""2024-06-16T10:00:00Z""#,
    r#""2024-02-30T10:00:00Z""#,
];

/// A Yoco-shaped event built from `choices`.
fn generate(choices: &[u8]) -> Vec<u8> {
    let mut next = choices.iter().copied();
    let mut pick = |options: &[&'static str]| options[usize::from(next.next().unwrap_or(0)) % options.len()];
    let event_type = pick(TYPES);
    let checkout = pick(CHECKOUTS);
    let mode = pick(MODES);
    let date = pick(&[r#""2024-06-16T10:00:00Z""#, r#""2024-06-16T10:00:00.123456+02:00""#, r#""2024-13-01T00:00:00Z""#]);
    let mut metadata = Vec::new();
    let mut payload_extra = Vec::new();
    let mut top_extra = Vec::new();
    for _ in 0..(usize::from(pick(&["0", "1", "2", "3"]).as_bytes()[0] - b'0')) {
        let place = pick(&["metadata", "payload", "top"]);
        let key = pick(KEYS);
        let value = match pick(&["value", "deep", "deeper"]) {
            "deep" => format!("{}{}", "[".repeat(63), "]".repeat(63)),
            "deeper" => format!("{}{}", "[".repeat(130), "]".repeat(130)),
            _ => pick(VALUES).to_owned(),
        };
        let entry = format!(r#""{key}":{value}"#);
        match place {
            "metadata" => metadata.push(entry),
            "payload" => payload_extra.push(entry),
            _ => top_extra.push(entry),
        }
    }
    if !checkout.is_empty() {
        metadata.push(format!(r#""checkoutId":{checkout}"#));
    }
    let mut payload = vec![
        r#""id":"p_1""#.to_owned(),
        r#""createdDate":"2024-06-16T10:00:00Z""#.to_owned(),
        r#""amount":900"#.to_owned(),
        r#""currency":"ZAR""#.to_owned(),
        r#""status":"succeeded""#.to_owned(),
        r#""paymentId":"p_0""#.to_owned(),
    ];
    if !mode.is_empty() {
        payload.push(format!(r#""mode":{mode}"#));
    }
    payload.push(format!(r#""metadata":{{{}}}"#, metadata.join(",")));
    payload.extend(payload_extra);
    let mut top = vec![
        r#""id":"evt_1""#.to_owned(),
        format!(r#""type":"{event_type}""#),
        format!(r#""createdDate":{date}"#),
        format!(r#""payload":{{{}}}"#, payload.join(",")),
    ];
    top.extend(top_extra);
    // Key order: as Yoco sends it, or reversed (payload before type).
    if pick(&["yoco", "reversed"]) == "reversed" {
        top.reverse();
    }
    format!("{{{}}}", top.join(",")).into_bytes()
}

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    let body = match data.split_first() {
        Some((0, choices)) => generate(choices),
        _ => data.to_vec(),
    };
    let headers = fx.signer.sign(WEBHOOK_ID, common::now(), &body);
    for (name, receiver, filter, bound) in &fx.receivers {
        let answer = receiver.receive_at(&headers, &body, common::now());
        if let Err(disagreement) = by_value::check(&body, filter, bound.as_ref(), &answer) {
            panic!("{name}: {disagreement}: {:?}", String::from_utf8_lossy(&body));
        }
        if let Ok(yoco_webhooks::Outcome::Process(delivery)) = &answer {
            assert_eq!(delivery.body(), &body[..], "{name}");
        }
    }
});

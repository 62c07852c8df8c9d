//! The fast path for foreign events against the full parse, on the same
//! signed bodies: `Receiver::receive_at` (which answers a foreign event from
//! one scan of the body when it is certain) and
//! `testing::receive_by_full_parse` (which never takes that path) must give
//! the same outcome, or the same error, under six receivers: one checkout
//! in live mode, a set, a predicate, any checkout in test mode, a secret
//! bound to live mode, and any checkout.
//!
//! Input: a body, mutated by libFuzzer from Yoco-shaped seeds with
//! adversarial metadata (`seeds/fast_path`, a JSON dictionary helps:
//! `-dict=fast_path.dict`); or, when the first byte is 0, a Yoco-shaped
//! event generated from the following bytes: its type, owner and mode, and
//! metadata entries with odd keys and raw values spliced in as text
//! (escapes, repeated keys, a key inside a string, huge and exponent
//! numbers, deep nesting).
#![no_main]

mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use yoco_webhooks::testing::{Signer, receive_by_full_parse};
use yoco_webhooks::{CheckoutFilter, Mode, Receiver, Verifier};

const WEBHOOK_ID: &str = "msg_2hVbEBdDNyrZBrVQmDmLUSxyfFe";

struct Fixture {
    signer: Signer,
    receivers: Vec<(&'static str, Receiver)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let verifier = Verifier::new(common::secret());
        let bound = Verifier::builder(common::secret()).for_mode(Mode::Live).build();
        Fixture {
            signer: Signer::new(common::secret()),
            receivers: vec![
                ("one, live", Receiver::new(verifier.clone(), CheckoutFilter::checkout("ch_1").only_mode(Mode::Live))),
                ("set", Receiver::new(verifier.clone(), CheckoutFilter::checkouts(["ch_1", "ch_3"]))),
                (
                    "matching",
                    Receiver::new(verifier.clone(), CheckoutFilter::matching(|id| id.as_str().ends_with('1'))),
                ),
                ("any, test", Receiver::new(verifier.clone(), CheckoutFilter::any().only_mode(Mode::Test))),
                ("bound to live", Receiver::new(bound, CheckoutFilter::any())),
                ("any", Receiver::new(verifier, CheckoutFilter::any())),
            ],
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
    for (name, receiver) in &fx.receivers {
        let fast = receiver.receive_at(&headers, &body, common::now());
        let full = receive_by_full_parse(receiver, &headers, &body, common::now());
        match (&fast, &full) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{name}: {:?}", String::from_utf8_lossy(&body)),
            (Err(a), Err(b)) => assert_eq!(
                (a.status(), a.to_string()),
                (b.status(), b.to_string()),
                "{name}: {:?}",
                String::from_utf8_lossy(&body)
            ),
            _ => panic!("{name}: fast {fast:?}, full {full:?}, body {:?}", String::from_utf8_lossy(&body)),
        }
    }
});

//! Repeated keys. The one reader, the typed payload (read again from a
//! `Value` when serde's derive refuses a repeated field) and unknown event
//! types take a repeated key's last value, as `serde_json::Value` does, so that
//! the filter, the typed event and a handler that reads the raw body again
//! with `serde_json` never disagree. A `checkoutId` or `mode` whose last value
//! is not a string is absent.

use proptest::prelude::*;
use serde_json::Value;
use yoco_webhooks::testing::{Signer, TEST_SECRET};
use yoco_webhooks::{
    CheckoutFilter, Event, IgnoreReason, Mode, Outcome, ReceiveError, Receiver, Verifier, WebhookSecret,
};

/// The checkout the receiver under test wants, in live mode.
const OURS: &str = "ch_a";
/// The receiver's clock and the signing time.
const NOW: i64 = 1_718_466_715;

/// Event type, `payload.metadata.checkoutId` and `payload.mode`, each `None`
/// unless a string.
type Owner = (Option<String>, Option<String>, Option<String>);

/// What `serde_json::Value` reads from `body`: the rule.
fn as_value_reads(body: &str) -> Owner {
    let value: Value = serde_json::from_str(body).unwrap();
    let text = |value: &Value| value.as_str().map(str::to_owned);
    (
        text(&value["type"]),
        text(&value["payload"]["metadata"]["checkoutId"]),
        text(&value["payload"]["mode"]),
    )
}

fn receiver() -> Receiver {
    let secret = WebhookSecret::parse(TEST_SECRET).unwrap();
    Receiver::new(
        Verifier::new(secret),
        CheckoutFilter::checkout(OURS).only_mode(Mode::Live),
    )
}

fn signer() -> Signer {
    Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap())
}

/// Whether the envelope of `body`, as a `Value` reads it, is sound: string
/// `id` and `type`, an RFC 3339 `createdDate` and a `payload`.
fn sound_envelope(value: &Value) -> bool {
    let date = value["createdDate"].as_str().unwrap_or("");
    value["id"].is_string()
        && value["type"].is_string()
        && time::OffsetDateTime::parse(date, &time::format_description::well_known::Rfc3339).is_ok()
        && value.get("payload").is_some()
}

/// Checks every path against what `serde_json::Value` reads from `body`.
fn check(body: &str) -> Result<(), TestCaseError> {
    let value: Value = serde_json::from_str(body).unwrap();
    let (event_type, checkout_id, mode) = as_value_reads(body);

    // The event: as the same body without repeated keys (a `Value` printed).
    let parsed = Event::from_slice(body.as_bytes());
    let deduplicated = Event::from_slice(&serde_json::to_vec(&value).unwrap());
    match (&parsed, &deduplicated) {
        (Ok(event), Ok(again)) => prop_assert_eq!(event, again, "{}", body),
        (Err(_), Err(_)) => {}
        _ => prop_assert!(false, "{body}: {parsed:?} but without repeats {deduplicated:?}"),
    }
    if let Ok(event) = &parsed {
        let ours = (
            Some(event.event_type().to_owned()),
            event.checkout_id().map(|id| id.as_str().to_owned()),
            event.mode().map(|mode| mode.as_str().to_owned()),
        );
        prop_assert_eq!(
            ours,
            (event_type.clone(), checkout_id.clone(), mode.clone()),
            "{}",
            body
        );
    }

    // The filter, whether the payload parses or not.
    let headers = signer().sign_at_unix("msg_dup", NOW, body.as_bytes());
    let outcome = receiver().receive_at(&headers, body.as_bytes(), crate::unix(NOW));
    match outcome {
        Ok(Outcome::Process(delivery)) => {
            prop_assert_eq!(
                delivery.event.checkout_id().map(|id| id.as_str()),
                Some(OURS),
                "{}",
                body
            );
            prop_assert_eq!(mode.as_deref(), Some("live"), "{}", body);
        }
        Ok(Outcome::Ignore(ignored)) => {
            prop_assert_eq!(Some(ignored.event_type.into_owned()), event_type, "{}", body);
            prop_assert_eq!(
                ignored.checkout_id.map(|id| id.as_str().to_owned()),
                checkout_id.clone(),
                "{}",
                body
            );
            prop_assert_eq!(
                ignored.mode.map(|mode| mode.as_str().to_owned()),
                mode.clone(),
                "{}",
                body
            );
            let reason = match (checkout_id.as_deref(), mode.as_deref()) {
                (None, _) => IgnoreReason::NoCheckoutId,
                (Some(OURS), _) => IgnoreReason::UnwantedMode,
                (Some(_), _) => IgnoreReason::ForeignCheckout,
            };
            prop_assert_eq!(ignored.reason, reason, "{}", body);
        }
        Err(ReceiveError::Parse(_)) => {
            prop_assert!(parsed.is_err(), "{body}: the receiver refuses what parses");
            // Only our own live events, or bodies whose envelope is broken,
            // are refused: anyone else's is acknowledged.
            let ours = checkout_id.as_deref() == Some(OURS) && mode.as_deref() == Some("live");
            prop_assert!(ours || !sound_envelope(&value), "{body}: refused, not ignored");
        }
        Err(err) => prop_assert!(false, "{body}: {err:?}"),
    }
    Ok(())
}

const PAYMENT_FIELDS: &str = r#""id":"p_1","createdDate":"2024-06-16T10:00:00Z","amount":900,"currency":"ZAR","status":"succeeded","paymentId":"p_0""#;
const DATE: &str = r#""createdDate":"2024-06-16T10:00:00Z""#;

#[test]
fn each_repeated_key_takes_its_last_value_in_every_path() {
    let payment = |rest: &str| format!(r#"{{{PAYMENT_FIELDS},{rest}}}"#);
    let live_ours = payment(r#""mode":"live","metadata":{"checkoutId":"ch_a"}"#);
    let cases = [
        (
            "checkoutId: a string, then a number (typed, one pass)",
            format!(
                r#"{{"id":"e","type":"payment.succeeded",{DATE},"payload":{}}}"#,
                payment(r#""mode":"live","metadata":{"checkoutId":"ch_a","checkoutId":42}"#)
            ),
            ("payment.succeeded", None, Some("live")),
        ),
        (
            "checkoutId: a number, then a string (typed, one pass)",
            format!(
                r#"{{"id":"e","type":"refund.failed",{DATE},"payload":{}}}"#,
                payment(r#""mode":"live","metadata":{"checkoutId":42,"checkoutId":"ch_a"}"#)
            ),
            ("refund.failed", Some("ch_a"), Some("live")),
        ),
        (
            "checkoutId: two strings (typed, two passes)",
            format!(
                r#"{{"id":"e","payload":{},{DATE},"type":"payment.succeeded"}}"#,
                payment(r#""mode":"live","metadata":{"checkoutId":"ch_a","checkoutId":"ch_b"}"#)
            ),
            ("payment.succeeded", Some("ch_b"), Some("live")),
        ),
        (
            "checkoutId: a string, then null (an unknown type)",
            format!(
                r#"{{"id":"e","type":"payment.failed",{DATE},"payload":{}}}"#,
                payment(r#""mode":"live","metadata":{"checkoutId":"ch_a","checkoutId":null}"#)
            ),
            ("payment.failed", None, Some("live")),
        ),
        (
            "checkoutId: two strings (a broken payload: the filter's summary)",
            format!(
                r#"{{"id":"e","type":"payment.succeeded",{DATE},"payload":{{"mode":"live","metadata":{{"checkoutId":"ch_a","checkoutId":"ch_b"}}}}}}"#
            ),
            ("payment.succeeded", Some("ch_b"), Some("live")),
        ),
        (
            "mode (typed)",
            format!(
                r#"{{"id":"e","type":"payment.succeeded",{DATE},"payload":{}}}"#,
                payment(r#""mode":"live","metadata":{"checkoutId":"ch_a"},"mode":"test""#)
            ),
            ("payment.succeeded", Some("ch_a"), Some("test")),
        ),
        (
            "mode: a number, then a string (typed)",
            format!(
                r#"{{"id":"e","type":"payment.succeeded",{DATE},"payload":{}}}"#,
                payment(r#""mode":1,"metadata":{"checkoutId":"ch_a"},"mode":"live""#)
            ),
            ("payment.succeeded", Some("ch_a"), Some("live")),
        ),
        (
            "mode (an unknown type)",
            format!(
                r#"{{"id":"e","type":"checkout.expired",{DATE},"payload":{{"mode":"test","mode":"live","metadata":{{"checkoutId":"ch_a"}}}}}}"#
            ),
            ("checkout.expired", Some("ch_a"), Some("live")),
        ),
        (
            "metadata",
            format!(
                r#"{{"id":"e","type":"refund.succeeded",{DATE},"payload":{}}}"#,
                payment(r#""mode":"live","metadata":{"checkoutId":"ch_a"},"metadata":{"orderRef":"A"}"#)
            ),
            ("refund.succeeded", None, Some("live")),
        ),
        (
            "type at the top level",
            format!(r#"{{"id":"e","type":"payment.failed",{DATE},"payload":{live_ours},"type":"payment.succeeded"}}"#),
            ("payment.succeeded", Some("ch_a"), Some("live")),
        ),
        (
            "id at the top level",
            format!(r#"{{"id":"e1","type":"payment.succeeded","id":"e2",{DATE},"payload":{live_ours}}}"#),
            ("payment.succeeded", Some("ch_a"), Some("live")),
        ),
        (
            "payload at the top level",
            format!(
                r#"{{"id":"e","type":"payment.succeeded",{DATE},"payload":{live_ours},"payload":{}}}"#,
                payment(r#""mode":"test","metadata":{"checkoutId":"ch_b"}"#)
            ),
            ("payment.succeeded", Some("ch_b"), Some("test")),
        ),
    ];
    for (name, body, (event_type, checkout_id, mode)) in cases {
        let expected = (
            Some(event_type.to_owned()),
            checkout_id.map(str::to_owned),
            mode.map(str::to_owned),
        );
        assert_eq!(as_value_reads(&body), expected, "{name}: the table is wrong");
        if let Err(err) = check(&body) {
            panic!("{name}: {err}");
        }
    }
    // The id too: the last one is the event's.
    let body = format!(r#"{{"id":"e1","type":"payment.succeeded","id":"e2",{DATE},"payload":{live_ours}}}"#);
    assert_eq!(Event::from_slice(body.as_bytes()).unwrap().id, "e2");
}

/// `"key":value` entries in the order given, as a JSON object.
fn object(entries: Vec<(&'static str, String)>) -> String {
    let fields: Vec<String> = entries
        .into_iter()
        .map(|(key, value)| format!("\"{key}\":{value}"))
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// One of a few JSON texts.
fn one_of(texts: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(texts).prop_map(str::to_owned)
}

/// Entries for `key`, from none to `max` of them.
fn repeated(
    key: &'static str,
    values: &'static [&'static str],
    min: usize,
    max: usize,
) -> impl Strategy<Value = Vec<(&'static str, String)>> {
    proptest::collection::vec(one_of(values), min..=max)
        .prop_map(move |values| values.into_iter().map(|value| (key, value)).collect())
}

fn metadata() -> impl Strategy<Value = String> {
    (
        repeated(
            "checkoutId",
            &[r#""ch_a""#, r#""ch_b""#, "42", "null", r#"{"id":"ch_a"}"#],
            0,
            3,
        ),
        repeated("orderRef", &[r#""A-17""#, "7"], 0, 2),
    )
        .prop_flat_map(|(ids, refs)| Just([ids, refs].concat()).prop_shuffle())
        .prop_map(object)
}

fn payload() -> impl Strategy<Value = String> {
    let fixed: Vec<(&'static str, String)> = [
        ("id", r#""p_1""#),
        ("createdDate", r#""2024-06-16T10:00:00Z""#),
        ("currency", r#""ZAR""#),
        ("status", r#""succeeded""#),
        ("paymentId", r#""p_0""#),
    ]
    .into_iter()
    .map(|(key, value)| (key, value.to_owned()))
    .collect();
    (
        repeated("amount", &["900", r#""n/a""#], 1, 2),
        repeated("mode", &[r#""live""#, r#""test""#, r#""sandbox""#, "1", "null"], 0, 3),
        proptest::collection::vec(metadata(), 0..=2),
    )
        .prop_flat_map(move |(amounts, modes, metadata)| {
            let metadata = metadata.into_iter().map(|m| ("metadata", m)).collect();
            Just([fixed.clone(), amounts, modes, metadata].concat()).prop_shuffle()
        })
        .prop_map(object)
}

pub(crate) fn body() -> impl Strategy<Value = String> {
    (
        repeated("id", &[r#""evt_1""#, r#""evt_2""#, "3"], 1, 2),
        repeated(
            "type",
            &[
                r#""payment.succeeded""#,
                r#""refund.succeeded""#,
                r#""refund.failed""#,
                r#""payment.failed""#,
                "7",
            ],
            1,
            3,
        ),
        repeated("createdDate", &[r#""2024-06-16T10:00:00Z""#, r#""yesterday""#], 1, 2),
        proptest::collection::vec(payload(), 1..=2),
    )
        .prop_flat_map(|(ids, types, dates, payloads)| {
            let payloads = payloads.into_iter().map(|p| ("payload", p)).collect();
            Just([ids, types, dates, payloads].concat()).prop_shuffle()
        })
        .prop_map(object)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Bodies with repeated keys at every level, in any order: the event, the
    /// filter's verdict and what a `serde_json::Value` reads agree.
    #[test]
    fn parsed_owner_and_type_are_what_serde_json_reads(body in body()) {
        check(&body)?;
    }
}

//! Properties of verification, checked with proptest.
//!
//! The case count defaults to 128 per property so the suite runs in seconds;
//! set `PROPTEST_CASES` for a longer run.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use proptest::prelude::*;
use proptest::sample::Index;
use yoco_webhooks::testing::{SignedHeaders, Signer};
use yoco_webhooks::{Verifier, VerifyError, WebhookSecret};

use crate::unix;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(128);
    ProptestConfig::with_cases(cases)
}

/// Tolerance used by these properties (the default, 3 minutes).
const TOLERANCE: i64 = 180;

/// Ids: non-empty printable ASCII, spaces inside but not at the ends, as
/// header values allow.
fn id() -> impl Strategy<Value = String> {
    "[!-~]([ -~]{0,38}[!-~])?"
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..1024)
}

fn non_empty_body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 1..1024)
}

/// Raw HMAC keys, of any non-empty length (past the 64-byte block too).
fn key() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 1..100)
}

/// A signing time from 1970 to 2100, and the receiver's clock within the
/// tolerance of it, either way.
fn times() -> impl Strategy<Value = (i64, i64)> {
    (0_i64..4_102_444_800, -TOLERANCE..=TOLERANCE).prop_map(|(signed, skew)| (signed, signed + skew))
}

/// Up to `max` arbitrary bytes.
fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

/// Strings matching `regex`, as bytes.
fn text(regex: &'static str) -> impl Strategy<Value = Vec<u8>> {
    regex.prop_map(String::into_bytes)
}

/// Header names for arbitrary header lists: the three, in several cases, and another.
const HEADER_NAMES: [&str; 6] = [
    "webhook-id",
    "Webhook-Timestamp",
    "WEBHOOK-SIGNATURE",
    "webhook-signature",
    "webhook-timestamp",
    "x-other",
];

/// A verifier accepting every key of `keys` (at least one).
fn verifier_for<'a>(mut keys: impl Iterator<Item = &'a Vec<u8>>) -> Verifier {
    let first = Verifier::builder(secret(keys.next().unwrap()));
    keys.fold(first, |builder, key| builder.also_accept(secret(key)))
        .build()
}

/// Any byte but `old`.
fn other_than(old: u8, delta: u8) -> u8 {
    debug_assert_ne!(delta, 0);
    old ^ delta
}

fn secret(key: &[u8]) -> WebhookSecret {
    WebhookSecret::from_key_bytes(key).unwrap()
}

/// The signed headers as byte pairs, for tampering with any byte.
fn byte_pairs(headers: &SignedHeaders) -> [(&'static str, Vec<u8>); 3] {
    [
        ("webhook-id", headers.webhook_id.clone().into_bytes()),
        ("webhook-timestamp", headers.webhook_timestamp.clone().into_bytes()),
        ("webhook-signature", headers.webhook_signature.clone().into_bytes()),
    ]
}

fn verify(verifier: &Verifier, headers: &[(&'static str, Vec<u8>)], body: &[u8], now: i64) -> Result<(), VerifyError> {
    verifier.verify_at(headers, body, unix(now)).map(|_| ())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sign_then_verify_round_trips(id in id(), body in body(), key in key(), (signed, now) in times()) {
        let headers = Signer::new(secret(&key)).sign(&id, unix(signed), &body);
        prop_assert_eq!(&headers.webhook_timestamp, &signed.to_string());
        let verifier = Verifier::new(secret(&key));
        let verified = verifier.verify_at(&headers, &body, unix(now));
        prop_assert!(verified.is_ok(), "{:?}", verified);
        let verified = verified.unwrap();
        prop_assert_eq!(verified.webhook_id(), id.as_str());
        prop_assert_eq!(verified.timestamp(), unix(signed));
        prop_assert_eq!(verified.body(), body.as_slice());
        // The same through an http::HeaderMap.
        let map = headers.to_header_map().unwrap();
        prop_assert!(verifier.verify_at(&map, &body, unix(now)).is_ok());
    }

    #[test]
    fn a_changed_body_byte_is_rejected(
        id in id(), body in non_empty_body(), key in key(), (signed, now) in times(),
        at in any::<Index>(), delta in 1_u8..,
    ) {
        let headers = Signer::new(secret(&key)).sign(&id, unix(signed), &body);
        let mut tampered = body.clone();
        let i = at.index(tampered.len());
        tampered[i] = other_than(tampered[i], delta);
        let verifier = Verifier::new(secret(&key));
        prop_assert_eq!(verify(&verifier, &byte_pairs(&headers), &body, now), Ok(()));
        prop_assert_eq!(verify(&verifier, &byte_pairs(&headers), &tampered, now), Err(VerifyError::SignatureMismatch));
    }

    #[test]
    fn a_changed_header_byte_is_rejected(
        id in id(), body in body(), key in key(), (signed, now) in times(),
        which in 0_usize..3, at in any::<Index>(), delta in 1_u8..,
    ) {
        let headers = Signer::new(secret(&key)).sign(&id, unix(signed), &body);
        let mut pairs = byte_pairs(&headers);
        let verifier = Verifier::new(secret(&key));
        prop_assert_eq!(verify(&verifier, &pairs, &body, now), Ok(()));

        let value = &mut pairs[which].1;
        let i = at.index(value.len());
        let old = value[i];
        value[i] = other_than(old, delta);
        let changed = value.clone();
        let result = verify(&verifier, &pairs, &body, now);
        // The one change that keeps the tag: the padding `=` turned into a
        // space leaves the unpadded tag (accepted, as documented) and an
        // empty entry. The signature is still the right one: no forgery.
        if which == 2 && old == b'=' && changed[i] == b' ' {
            prop_assert_eq!(result, Ok(()));
            return Ok(());
        }
        let name = pairs[which].0;
        prop_assert!(result.is_err(), "{} changed to {:?} verifies", name, String::from_utf8_lossy(&changed));
        // A changed id that is still a valid id fails on the signature itself.
        if which == 0 && std::str::from_utf8(&changed).is_ok() {
            prop_assert_eq!(result, Err(VerifyError::SignatureMismatch));
        }
    }

    #[test]
    fn a_random_signature_never_verifies(
        id in id(), body in body(), key in key(), (signed, now) in times(), tag in any::<[u8; 32]>(),
    ) {
        let mut headers = Signer::new(secret(&key)).sign(&id, unix(signed), &body);
        let right = headers.webhook_signature.clone();
        headers.webhook_signature = format!("v1,{}", BASE64.encode(tag));
        prop_assume!(headers.webhook_signature != right);
        let verifier = Verifier::new(secret(&key));
        let result = verify(&verifier, &byte_pairs(&headers), &body, now);
        prop_assert_eq!(result, Err(VerifyError::SignatureMismatch));
    }

    #[test]
    fn a_signature_by_another_key_never_verifies(
        id in id(), body in body(), key in key(), other in key(), (signed, now) in times(),
    ) {
        prop_assume!(key != other);
        let headers = Signer::new(secret(&other)).sign(&id, unix(signed), &body);
        let verifier = Verifier::new(secret(&key));
        let result = verify(&verifier, &byte_pairs(&headers), &body, now);
        prop_assert_eq!(result, Err(VerifyError::SignatureMismatch));
    }

    #[test]
    fn any_configured_key_verifies_and_no_other(
        id in id(), body in body(), keys in proptest::collection::vec(key(), 2..5), signer in any::<Index>(),
        (signed, now) in times(),
    ) {
        let signer = signer.index(keys.len());
        let headers = Signer::new(secret(&keys[signer])).sign(&id, unix(signed), &body);
        let all = verifier_for(keys.iter());
        prop_assert_eq!(verify(&all, &byte_pairs(&headers), &body, now), Ok(()));
        let others: Vec<&Vec<u8>> = keys.iter().filter(|k| **k != keys[signer]).collect();
        if !others.is_empty() {
            let without = verifier_for(others.into_iter());
            let result = verify(&without, &byte_pairs(&headers), &body, now);
            prop_assert_eq!(result, Err(VerifyError::SignatureMismatch));
        }
    }

    #[test]
    fn outside_the_tolerance_is_rejected_however_well_signed(
        id in id(), body in body(), key in key(),
        signed in 0_i64..4_102_444_800, skew in (TOLERANCE + 1)..1_000_000,
    ) {
        let headers = byte_pairs(&Signer::new(secret(&key)).sign(&id, unix(signed), &body));
        let verifier = Verifier::new(secret(&key));
        prop_assert_eq!(verify(&verifier, &headers, &body, signed + skew), Err(VerifyError::StaleTimestamp));
        prop_assert_eq!(verify(&verifier, &headers, &body, signed - skew), Err(VerifyError::FutureTimestamp));
    }

    /// Arbitrary bytes in all three headers, arbitrary bodies, clocks and
    /// tolerances: an error, never a panic (proptest reports a panic as a
    /// failure) and never a pass.
    #[test]
    fn arbitrary_headers_never_panic_nor_verify(
        id in bytes(64),
        timestamp in prop_oneof![bytes(32), text("[0-9]{0,25}"), text("-[0-9]{1,20}")],
        signature in prop_oneof![bytes(128), text("(v1,[A-Za-z0-9+/=]{0,48} ?){0,3}")],
        body in body(),
        key in key(),
        now in -377_705_116_800_i64..=253_402_300_799,
        tolerance in prop_oneof![Just(u64::MAX), Just(0_u64), any::<u64>(), 0_u64..1_000],
    ) {
        let verifier = Verifier::builder(secret(&key)).tolerance(Duration::from_secs(tolerance)).build();
        let pairs = [("webhook-id", id), ("webhook-timestamp", timestamp), ("webhook-signature", signature)];
        prop_assert!(verify(&verifier, &pairs, &body, now).is_err());
    }

    /// Arbitrary header lists (names in any case, missing or repeated):
    /// never a panic, never a pass. Timestamps are mostly valid and within
    /// the tolerance, and signatures mostly shaped like lists of `v1,`
    /// entries, so that what gets exercised is the signature list's
    /// parsing, not the timestamp's refusal.
    #[test]
    fn arbitrary_header_lists_never_panic_nor_verify(
        (now, headers) in any::<u32>().prop_flat_map(|now| (Just(now), header_list(now))),
        body in body(),
        key in key(),
    ) {
        let verifier = Verifier::new(secret(&key));
        prop_assert!(verify(&verifier, &headers, &body, i64::from(now)).is_err());
    }
}

/// Headers of [`HEADER_NAMES`], each with a value for its name: mostly the
/// three once each (in either spelling), so that verification gets past
/// "missing" and "repeated"; sometimes one missing; sometimes 1 or 2 more
/// (repeats, or another header); in any order.
fn header_list(now: u32) -> impl Strategy<Value = Vec<(&'static str, Vec<u8>)>> {
    let named = move |names: &'static [&'static str]| {
        proptest::sample::select(names).prop_flat_map(move |name| (Just(name), header_value(name, now)))
    };
    (
        proptest::option::weighted(0.9, named(&HEADER_NAMES[..1])),
        proptest::option::weighted(0.9, named(&[HEADER_NAMES[1], HEADER_NAMES[4]])),
        proptest::option::weighted(0.9, named(&HEADER_NAMES[2..4])),
        prop_oneof![3 => Just(Vec::new()), 1 => proptest::collection::vec(named(&HEADER_NAMES), 1..3)],
    )
        .prop_map(|(id, timestamp, signature, mut more)| {
            more.extend([id, timestamp, signature].into_iter().flatten());
            more
        })
        .prop_shuffle()
}

/// A value for header `name` at `now`: a timestamp within the default
/// tolerance, a list of signature-like entries, or any bytes.
fn header_value(name: &'static str, now: u32) -> BoxedStrategy<Vec<u8>> {
    let tolerance = i64::try_from(yoco_webhooks::DEFAULT_TOLERANCE.as_secs()).unwrap();
    match name.to_ascii_lowercase().as_str() {
        "webhook-timestamp" => prop_oneof![
            4 => (-tolerance..=tolerance).prop_map(move |skew| (i64::from(now) + skew).to_string().into_bytes()),
            1 => bytes(48),
        ]
        .boxed(),
        // Entries of a tag's shape, of other lengths (short ones too), and
        // of other versions or none, separated by spaces or not.
        "webhook-signature" => prop_oneof![
            3 => text("( ?v1,[A-Za-z0-9+/]{43}=? ?){1,3}"),
            2 => text("(v1,[A-Za-z0-9+/=]{0,4} ?){1,3}"),
            2 => text("( *v[0-9]?,[A-Za-z0-9+/=]{40,46}[ ,]?){0,3}"),
            1 => bytes(48),
        ]
        .boxed(),
        _ => prop_oneof![3 => text("msg_[A-Za-z0-9]{1,12}"), 1 => bytes(48)].boxed(),
    }
}

/// The property helpers do change what they claim to change: without this,
/// a tampering property could pass by never tampering.
#[test]
fn tampering_helpers_change_the_byte() {
    for old in 0..=u8::MAX {
        for delta in 1..=u8::MAX {
            assert_ne!(other_than(old, delta), old);
        }
    }
}

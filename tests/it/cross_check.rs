//! Interoperability with the `standardwebhooks` crate (the Standard Webhooks
//! reference implementation for Rust), both ways.
//!
//! `standardwebhooks` signs only UTF-8 bodies and verifies against the system
//! clock with a 5-minute tolerance, so the bodies here are UTF-8 and the
//! checks through its `verify` sign at the current time. Non-UTF-8 bodies are
//! covered by the vectors.

use http::{HeaderMap, HeaderValue};
use standardwebhooks::Webhook;
use time::OffsetDateTime;
use yoco_webhooks::testing::{DOCUMENTED_SAMPLE, Signer, TEST_SECRET};
use yoco_webhooks::{Verifier, VerifyError, WebhookSecret};

use crate::{body_16k, unix, verdict};

/// Secrets in the canonical padded form both crates accept.
const SECRETS: [&str; 4] = [
    TEST_SECRET,
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
    // A 64-byte key: a whole SHA-256 block.
    "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==",
];

/// Message ids with the characters real ids use, and some they might.
const IDS: [&str; 3] = [
    "msg_2fKx9bQzR4TnWc8Lp1Vd",
    "evt_1EAwK8Mjy2DT38WIWntiZWxm",
    "a.b-c_d:e/f",
];

/// A fixed signing time for the `verify_at` checks: 2024-06-15T15:51:55Z.
const SIGNED_AT: i64 = 1_718_466_715;

fn bodies() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("documented sample", DOCUMENTED_SAMPLE.as_bytes().to_vec()),
        ("empty", Vec::new()),
        ("one byte", b"x".to_vec()),
        (
            "pretty JSON",
            b"{\n  \"id\": \"evt_1\",\n  \"amount\": 900\r\n}\n".to_vec(),
        ),
        (
            "multi-byte UTF-8",
            "{\"name\":\"Zoë – café ☕ 🇿🇦\"}".as_bytes().to_vec(),
        ),
        ("16 KiB", body_16k()),
    ]
}

/// The three webhook headers as an `http::HeaderMap`.
fn header_map(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert("webhook-id", HeaderValue::from_str(id).unwrap());
    map.insert("webhook-timestamp", HeaderValue::from_str(timestamp).unwrap());
    map.insert("webhook-signature", HeaderValue::from_str(signature).unwrap());
    map
}

fn verifier(secret: &str) -> Verifier {
    Verifier::new(WebhookSecret::parse(secret).unwrap())
}

/// One changed byte in the middle, or a byte added to an empty body.
fn tamper(body: &[u8]) -> Vec<u8> {
    let mut tampered = body.to_vec();
    match tampered.get_mut(body.len() / 2) {
        Some(byte) => *byte ^= 0x01,
        None => tampered.push(b' '),
    }
    tampered
}

#[test]
fn the_sample_and_16k_bodies_are_what_they_claim() {
    assert_eq!(DOCUMENTED_SAMPLE.len(), 464);
    let big = body_16k();
    assert_eq!(big.len(), 16 * 1024);
    assert!(std::str::from_utf8(&big).is_ok());
    assert!(
        big.iter().any(|b| !b.is_ascii()),
        "the 16 KiB body should hold multi-byte characters"
    );
}

#[test]
fn standardwebhooks_signatures_verify_at_a_given_time() {
    for secret in SECRETS {
        let theirs = Webhook::new(secret).unwrap();
        let ours = verifier(secret);
        for id in IDS {
            for (name, body) in bodies() {
                let signature = theirs.sign(id, SIGNED_AT, &body).unwrap();
                let timestamp = SIGNED_AT.to_string();
                let pairs = [
                    ("webhook-id", id),
                    ("webhook-timestamp", timestamp.as_str()),
                    ("webhook-signature", signature.as_str()),
                ];
                let map = header_map(id, &timestamp, &signature);
                for now in [SIGNED_AT - 180, SIGNED_AT, SIGNED_AT + 180] {
                    assert_eq!(
                        verdict(&ours, &pairs, &body, unix(now)),
                        Ok(()),
                        "{name}, {id}, {secret}"
                    );
                    assert_eq!(verdict(&ours, &map, &body, unix(now)), Ok(()), "{name}, {id}, {secret}");
                }
                let verified = ours.verify_at(&map, &body, unix(SIGNED_AT)).unwrap();
                assert_eq!(verified.webhook_id(), id);
                assert_eq!(verified.timestamp(), unix(SIGNED_AT));
                assert_eq!(verified.body(), body.as_slice());
            }
        }
    }
}

#[test]
fn standardwebhooks_signatures_verify_with_the_clock() {
    for secret in SECRETS {
        let theirs = Webhook::new(secret).unwrap();
        let ours = verifier(secret);
        for (name, body) in bodies() {
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let signature = theirs.sign(IDS[0], now, &body).unwrap();
            let map = header_map(IDS[0], &now.to_string(), &signature);
            let verified = ours.verify(&map, &body);
            assert!(verified.is_ok(), "{name}, {secret}: {verified:?}");
        }
    }
}

#[test]
fn our_signer_makes_the_same_signature_as_standardwebhooks() {
    for secret in SECRETS {
        let theirs = Webhook::new(secret).unwrap();
        let signer = Signer::new(WebhookSecret::parse(secret).unwrap());
        for id in IDS {
            for (name, body) in bodies() {
                for at in [0, 1, SIGNED_AT, 4_102_444_800] {
                    let ours = signer.sign(id, unix(at), &body);
                    assert_eq!(ours.webhook_id, id);
                    assert_eq!(ours.webhook_timestamp, at.to_string());
                    assert_eq!(
                        ours.webhook_signature,
                        theirs.sign(id, at, &body).unwrap(),
                        "{name}, {id}, {secret}, {at}"
                    );
                }
            }
        }
    }
}

#[test]
fn our_signer_verifies_with_standardwebhooks() {
    for secret in SECRETS {
        let theirs = Webhook::new(secret).unwrap();
        let signer = Signer::new(WebhookSecret::parse(secret).unwrap());
        for id in IDS {
            for (name, body) in bodies() {
                let headers = signer.sign_now(id, &body);
                let map = headers.to_header_map().unwrap();
                assert_eq!(map.len(), 3);
                let verdict = theirs.verify(&body, &map);
                assert!(verdict.is_ok(), "{name}, {id}, {secret}: {verdict:?}");
                // And with ours, from the same map.
                assert!(verifier(secret).verify(&map, &body).is_ok(), "{name}, {id}, {secret}");
            }
        }
    }
}

#[test]
fn tampered_bodies_fail_in_both() {
    for secret in SECRETS {
        let theirs = Webhook::new(secret).unwrap();
        let ours = verifier(secret);
        let signer = Signer::new(WebhookSecret::parse(secret).unwrap());
        for (name, body) in bodies() {
            let tampered = tamper(&body);
            assert_ne!(tampered, body);

            // Signed by them, tampered, checked by us (at a given time and with the clock).
            let signature = theirs.sign(IDS[0], SIGNED_AT, &body).unwrap();
            let map = header_map(IDS[0], &SIGNED_AT.to_string(), &signature);
            assert_eq!(
                verdict(&ours, &map, &tampered, unix(SIGNED_AT)),
                Err(VerifyError::SignatureMismatch),
                "{name}, {secret}"
            );
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let signature = theirs.sign(IDS[0], now, &body).unwrap();
            let map = header_map(IDS[0], &now.to_string(), &signature);
            assert_eq!(
                ours.verify(&map, &tampered).map(|_| ()),
                Err(VerifyError::SignatureMismatch),
                "{name}, {secret}"
            );

            // Signed by us, tampered, checked by them.
            let map = signer.sign_now(IDS[0], &body).to_header_map().unwrap();
            assert!(theirs.verify(&body, &map).is_ok(), "{name}, {secret}");
            assert!(theirs.verify(&tampered, &map).is_err(), "{name}, {secret}");
        }
    }
}

#[test]
fn a_signature_by_another_secret_fails_in_both() {
    for (signing, checking) in SECRETS.iter().zip(SECRETS.iter().cycle().skip(1)) {
        let body = DOCUMENTED_SAMPLE.as_bytes();
        let signature = Webhook::new(signing).unwrap().sign(IDS[0], SIGNED_AT, body).unwrap();
        let map = header_map(IDS[0], &SIGNED_AT.to_string(), &signature);
        assert_eq!(
            verdict(&verifier(checking), &map, body, unix(SIGNED_AT)),
            Err(VerifyError::SignatureMismatch),
            "{signing} checked with {checking}"
        );

        let map = Signer::new(WebhookSecret::parse(signing).unwrap())
            .sign_now(IDS[0], body)
            .to_header_map()
            .unwrap();
        assert!(Webhook::new(checking).unwrap().verify(body, &map).is_err());
    }
}

#[test]
fn several_signatures_and_rotating_secrets_interoperate() {
    let [old, new, other, _] = SECRETS;
    let body = DOCUMENTED_SAMPLE.as_bytes();
    let timestamp = SIGNED_AT.to_string();

    // The sender signs with two keys during its rotation; we know only one.
    let by_old = Webhook::new(old).unwrap().sign(IDS[0], SIGNED_AT, body).unwrap();
    let by_other = Webhook::new(other).unwrap().sign(IDS[0], SIGNED_AT, body).unwrap();
    for header in [format!("{by_other} {by_old}"), format!("{by_old} {by_other}")] {
        let map = header_map(IDS[0], &timestamp, &header);
        assert_eq!(verdict(&verifier(old), &map, body, unix(SIGNED_AT)), Ok(()), "{header}");
        assert_eq!(
            verdict(&verifier(new), &map, body, unix(SIGNED_AT)),
            Err(VerifyError::SignatureMismatch)
        );
    }

    // We rotate: both secrets accepted while the sender switches.
    let rotating = Verifier::builder(WebhookSecret::parse(new).unwrap())
        .also_accept(WebhookSecret::parse(old).unwrap())
        .build();
    let by_new = Webhook::new(new).unwrap().sign(IDS[0], SIGNED_AT, body).unwrap();
    for signature in [&by_old, &by_new] {
        let map = header_map(IDS[0], &timestamp, signature);
        assert_eq!(verdict(&rotating, &map, body, unix(SIGNED_AT)), Ok(()));
    }
    let map = header_map(IDS[0], &timestamp, &by_other);
    assert_eq!(
        verdict(&rotating, &map, body, unix(SIGNED_AT)),
        Err(VerifyError::SignatureMismatch)
    );

    // Our header, with an extra entry in front, still verifies with them.
    let ours = Signer::new(WebhookSecret::parse(old).unwrap()).sign_now(IDS[0], body);
    let mut map = ours.to_header_map().unwrap();
    let combined = format!("{by_other} {}", ours.webhook_signature);
    map.insert("webhook-signature", HeaderValue::from_str(&combined).unwrap());
    assert!(Webhook::new(old).unwrap().verify(body, &map).is_ok());
}

/// Signed by `standardwebhooks`, sent under Svix's header names: verified,
/// as Svix's libraries verify it. Both names sent: accepted when they agree;
/// when one disagrees, refused with an error that names the two headers and
/// quotes neither value.
#[test]
fn svix_header_names_verify_and_disagreeing_names_are_refused() {
    let theirs = Webhook::new(TEST_SECRET).unwrap();
    let body = DOCUMENTED_SAMPLE.as_bytes();
    let signature = theirs.sign(IDS[0], SIGNED_AT, body).unwrap();
    let timestamp = SIGNED_AT.to_string();
    let ours = verifier(TEST_SECRET);
    let at = unix(SIGNED_AT);

    let svix = [
        ("svix-id", IDS[0]),
        ("svix-timestamp", timestamp.as_str()),
        ("svix-signature", signature.as_str()),
    ];
    let verified = ours.verify_at(&svix, body, at).unwrap();
    assert_eq!(verified.webhook_id(), IDS[0]);
    // Through an `http::HeaderMap` too, whatever the case of the names.
    let mut map = HeaderMap::new();
    for (name, value) in svix {
        map.insert(
            http::HeaderName::from_bytes(name.to_uppercase().as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    assert_eq!(verdict(&ours, &map, body, at), Ok(()));

    let mut both = header_map(IDS[0], &timestamp, &signature);
    both.extend(map.clone());
    assert_eq!(verdict(&ours, &both, body, at), Ok(()), "both names, one value each");

    let other_signature = theirs.sign(IDS[1], SIGNED_AT, body).unwrap();
    let later = (SIGNED_AT + 1).to_string();
    for (name, svix_name, value) in [
        ("webhook-id", "svix-id", IDS[1]),
        ("webhook-timestamp", "svix-timestamp", later.as_str()),
        ("webhook-signature", "svix-signature", other_signature.as_str()),
    ] {
        let mut disagreeing = header_map(IDS[0], &timestamp, &signature);
        disagreeing.insert(svix_name, HeaderValue::from_str(value).unwrap());
        let err = verdict(&ours, &disagreeing, body, at).unwrap_err();
        assert_eq!(err, VerifyError::ConflictingHeaders { name, svix_name });
        let shown = err.to_string();
        assert!(shown.contains(name) && shown.contains(svix_name), "{shown}");
        for value in [IDS[0], IDS[1], &timestamp, &later, &signature, &other_signature] {
            assert!(!shown.contains(value), "{shown} quotes {value}");
        }
    }
}

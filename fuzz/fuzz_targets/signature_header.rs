//! Arbitrary bytes as the `webhook-signature` header of an otherwise valid
//! request (fixed secret, id, timestamp, body and clock).
//!
//! Properties:
//! - never panics;
//! - the result is `Ok` exactly when the header holds the correct `v1,`
//!   entry (padded or unpadded) as one of its space-separated entries;
//! - every error is the one `common::signature_error` gives for the header
//!   (the other headers are valid): `NoSignature` without a `v1` entry,
//!   `MalformedSignature` when no `v1` entry is base64 of 32 bytes,
//!   `SignatureMismatch` otherwise; a header without the correct entry never
//!   verifies.
#![no_main]

mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use yoco_webhooks::testing::{DOCUMENTED_SAMPLE, Signer};
use yoco_webhooks::{Verifier, headers::{WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP}};

const ID: &str = "msg_2hVbEBdDNyrZBrVQmDmLUSxyfFe";

struct Fixture {
    verifier: Verifier,
    timestamp: String,
    /// The correct `v1,...` entry for ID / timestamp / DOCUMENTED_SAMPLE.
    entry: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let signed = Signer::new(common::secret()).sign(ID, common::now(), DOCUMENTED_SAMPLE.as_bytes());
        // The crate's signer and the independent one must agree.
        assert_eq!(
            signed.webhook_signature,
            common::v1_entry(ID.as_bytes(), signed.webhook_timestamp.as_bytes(), DOCUMENTED_SAMPLE.as_bytes())
        );
        Fixture {
            verifier: Verifier::new(common::secret()),
            timestamp: signed.webhook_timestamp,
            entry: signed.webhook_signature,
        }
    })
}

fuzz_target!(|signature: &[u8]| {
    let fx = fixture();
    let headers: [(&str, &[u8]); 3] = [
        (WEBHOOK_ID, ID.as_bytes()),
        (WEBHOOK_TIMESTAMP, fx.timestamp.as_bytes()),
        (WEBHOOK_SIGNATURE, signature),
    ];
    let result = fx
        .verifier
        .verify_at(&headers[..], DOCUMENTED_SAMPLE.as_bytes(), common::now());
    let holds_correct = common::holds_entry(signature, &fx.entry);
    match result {
        Ok(verified) => {
            assert!(
                holds_correct,
                "verified a signature header without the correct entry: {:?}",
                String::from_utf8_lossy(signature)
            );
            assert_eq!(verified.webhook_id(), ID);
            assert_eq!(verified.body(), DOCUMENTED_SAMPLE.as_bytes());
            assert_eq!(verified.timestamp(), common::now());
        }
        Err(err) => {
            assert!(
                !holds_correct,
                "rejected a header holding the correct entry ({err:?}): {:?}",
                String::from_utf8_lossy(signature)
            );
            assert_eq!(err, common::signature_error(signature), "for {:?}", String::from_utf8_lossy(signature));
            assert_eq!(err.status(), 401);
            let _ = err.to_string();
        }
    }
});

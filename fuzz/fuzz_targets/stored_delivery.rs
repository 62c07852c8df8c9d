//! Stored deliveries, as a queue writer could leave them:
//! `StoredDelivery` deserialised from JSON, then `Receiver::receive_stored`.
//!
//! Two kinds of input, by the first byte:
//! - not 0: the rest is the stored JSON as it is;
//! - 0: a delivery is made from choices and stored as the crate stores it,
//!   then perhaps tampered with. Layout after the 0: `i16` (big-endian)
//!   seconds from the signed timestamp to the time of receipt, `i8`
//!   seconds the time of receipt is then moved by, a flag byte (bit 0:
//!   change one character of the receipt, at the position of the next
//!   byte; bit 1: the receipt made under another secret's key; bit 2: the
//!   body is the rest of the input rather than the documented sample),
//!   that position byte, then the body.
//!
//! Properties:
//! - never panics;
//! - JSON that deserialises re-serialises to JSON that deserialises to an
//!   equal value;
//! - `receive_stored` accepts a receipt only if it equals the receipt
//!   computed here without the crate (HMAC-SHA256 over the length-prefixed
//!   id and timestamp header and the big-endian time of receipt, under
//!   HMAC-SHA256(key, `yoco-webhooks receipt v1`));
//! - a delivery it processes stores again as the same value, to whole
//!   seconds (`to_stored`), and that value serialises to equal JSON;
//! - a made delivery is refused as stale or future exactly when its time
//!   of receipt is beyond the tolerance of its timestamp, else with
//!   `ReceiptMismatch` exactly when its time was moved or its receipt
//!   changed or made under another key, else never as unauthentic.
#![no_main]

mod common;

use std::sync::OnceLock;

use base64::Engine as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use time::OffsetDateTime;
use yoco_webhooks::testing::{DOCUMENTED_SAMPLE, Signer, TEST_SECRET};
use yoco_webhooks::{CheckoutFilter, Outcome, ReceiveError, Receiver, StoredDelivery, Verifier, VerifyError, WebhookId};

const OTHER_KEY: &[u8] = b"another receiver's secret";
const CHANGE_RECEIPT: u8 = 1 << 0;
const OTHER_SECRET: u8 = 1 << 1;
const OWN_BODY: u8 = 1 << 2;

fn receiver() -> &'static Receiver {
    static RECEIVER: OnceLock<Receiver> = OnceLock::new();
    RECEIVER.get_or_init(|| Receiver::new(Verifier::new(common::secret()), CheckoutFilter::any()))
}

fn test_key() -> Vec<u8> {
    let encoded = TEST_SECRET.strip_prefix("whsec_").expect("prefix");
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64")
}

/// The receipt, computed without the crate.
fn receipt(key: &[u8], id: &str, timestamp: &str, received_at: i64) -> String {
    let mut derive = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    derive.update(b"yoco-webhooks receipt v1");
    let receipt_key = derive.finalize().into_bytes();
    let mut mac = Hmac::<Sha256>::new_from_slice(&receipt_key).expect("any key length");
    for part in [id, timestamp] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    mac.update(&received_at.to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).expect("near 2024")
}

/// Checks `stored` against the properties that hold for any input; the
/// result for the caller to check further.
fn check(stored: &StoredDelivery) -> Result<Outcome, ReceiveError> {
    let json = serde_json::to_string(stored).expect("serialises");
    let again: StoredDelivery = serde_json::from_str(&json).expect("reads back what it wrote");
    assert_eq!(&again, stored);
    let result = receiver().receive_stored(stored);
    if result.is_ok() {
        let received_at = stored.received_at().unix_timestamp();
        let expected = receipt(
            &test_key(),
            stored.webhook_id().as_str(),
            stored.webhook_timestamp(),
            received_at,
        );
        assert_eq!(stored.receipt(), expected, "accepted only with the receipt made for it");
    }
    if let Ok(Outcome::Process(delivery)) = &result {
        let whole_seconds = StoredDelivery::new(
            stored.webhook_id().clone(),
            stored.webhook_timestamp(),
            stored.webhook_signature(),
            stored.body(),
            at(stored.received_at().unix_timestamp()),
            stored.receipt(),
        );
        let restored = delivery.to_stored();
        assert_eq!(restored, whole_seconds);
        assert_eq!(
            serde_json::to_string(&restored).unwrap(),
            serde_json::to_string(&whole_seconds).unwrap()
        );
    }
    result
}

fn made(data: &[u8]) {
    let [a, b, moved, flags, position, rest @ ..] = data else {
        return;
    };
    let received_after = i64::from(i16::from_be_bytes([*a, *b]));
    let moved = i64::from(*moved as i8);
    let body: &[u8] = if flags & OWN_BODY != 0 {
        rest
    } else {
        DOCUMENTED_SAMPLE.as_bytes()
    };
    let Ok(body) = std::str::from_utf8(body) else {
        return;
    };
    let signed_at = common::NOW_UNIX;
    let received_at = signed_at + received_after;
    let id = "msg_2hVbEBdDNyrZBrVQmDmLUSxyfFe";
    let headers = Signer::new(common::secret()).sign_at_unix(id, signed_at, body.as_bytes());
    let key = if flags & OTHER_SECRET != 0 {
        OTHER_KEY.to_vec()
    } else {
        test_key()
    };
    let mut made_receipt = receipt(&key, id, &headers.webhook_timestamp, received_at).into_bytes();
    let changed = flags & CHANGE_RECEIPT != 0;
    if changed {
        let index = usize::from(*position) % made_receipt.len();
        made_receipt[index] = if made_receipt[index] == b'A' { b'B' } else { b'A' };
    }
    let stored = StoredDelivery::new(
        WebhookId::new(id),
        headers.webhook_timestamp.as_str(),
        headers.webhook_signature.as_str(),
        body,
        at(received_at + moved),
        String::from_utf8(made_receipt).expect("base64 is ASCII"),
    );
    let result = check(&stored);
    let checked_at = received_at + moved;
    let tolerance = common::TOLERANCE_SECS;
    match result {
        _ if checked_at - signed_at > tolerance => {
            assert!(
                matches!(result, Err(ReceiveError::Verify(VerifyError::StaleTimestamp))),
                "{result:?}"
            )
        }
        _ if signed_at - checked_at > tolerance => {
            assert!(
                matches!(result, Err(ReceiveError::Verify(VerifyError::FutureTimestamp))),
                "{result:?}"
            )
        }
        _ if moved != 0 || changed || flags & OTHER_SECRET != 0 => {
            assert!(
                matches!(result, Err(ReceiveError::Verify(VerifyError::ReceiptMismatch))),
                "{result:?}"
            )
        }
        Err(ReceiveError::Verify(err)) => panic!("authentic, on time and with its receipt, yet {err:?}"),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((0, rest)) => made(rest),
        Some((_, json)) => {
            if let Ok(stored) = serde_json::from_slice::<StoredDelivery>(json) {
                let _ = check(&stored);
            }
        }
        None => {}
    }
});

//! The receipt: a MAC that binds a stored delivery's time of receipt to
//! the delivery, under a key derived from the secret that verified it, so
//! whoever can write the queue but does not hold the secret cannot make an
//! old delivery look fresh.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit as _, Mac as _};
use subtle::ConstantTimeEq as _;

use crate::secret::{HmacSha256, WebhookSecret};

/// What the receipt key is derived under: HMAC(secret, this). A receipt is
/// keyed apart from `v1` signatures, so neither can stand for the other.
const RECEIPT_KEY_LABEL: &[u8] = b"yoco-webhooks receipt v1";

/// What the fingerprint of a receipt key is a MAC of.
const FINGERPRINT_LABEL: &[u8] = b"fingerprint";

/// Length of a receipt in padded standard base64 (32 bytes).
const ENCODED_LEN: usize = 44;

/// The key receipts are made and checked with, derived from one accepted
/// secret when the verifier is built, and shared (an `Arc`) with every
/// delivery that secret verifies. Prints as `[redacted]`.
#[derive(Clone)]
pub(crate) struct ReceiptKey {
    keyed_mac: HmacSha256,
    /// A MAC of a fixed text under the key: says whether two keys are the
    /// same without showing either.
    fingerprint: [u8; 32],
}

impl ReceiptKey {
    /// The receipt key of `secret`.
    pub(crate) fn derive(secret: &WebhookSecret) -> Self {
        let mut derive = secret.mac();
        derive.update(RECEIPT_KEY_LABEL);
        // HMAC pads a key shorter than its block with zeros: the 32-byte
        // key so padded is the same key, taken without a fallible call.
        let mut key = [0_u8; 64];
        for (slot, byte) in key.iter_mut().zip(derive.finalize().into_bytes()) {
            *slot = byte;
        }
        let keyed_mac = HmacSha256::new(&key.into());
        let mut fingerprint = keyed_mac.clone();
        fingerprint.update(FINGERPRINT_LABEL);
        Self {
            fingerprint: fingerprint.finalize().into_bytes().into(),
            keyed_mac,
        }
    }

    /// The receipt of a delivery: padded standard base64 of the MAC over
    /// its `webhook-id`, its `webhook-timestamp` header and its time of
    /// receipt (Unix seconds), each length-prefixed so no two different
    /// triples feed the same bytes.
    pub(crate) fn receipt(&self, webhook_id: &str, webhook_timestamp: &str, received_at: i64) -> String {
        STANDARD.encode(self.tag(webhook_id, webhook_timestamp, received_at))
    }

    /// Whether `receipt` is the receipt of the delivery, compared in
    /// constant time (over the expected text's length).
    pub(crate) fn verifies(&self, receipt: &str, webhook_id: &str, webhook_timestamp: &str, received_at: i64) -> bool {
        let mut expected = [0_u8; ENCODED_LEN];
        // 32 bytes always encode to exactly 44 characters.
        let Ok(ENCODED_LEN) =
            STANDARD.encode_slice(self.tag(webhook_id, webhook_timestamp, received_at), &mut expected)
        else {
            return false;
        };
        bool::from(expected.as_slice().ct_eq(receipt.as_bytes()))
    }

    fn tag(&self, webhook_id: &str, webhook_timestamp: &str, received_at: i64) -> [u8; 32] {
        let mut mac = self.keyed_mac.clone();
        for part in [webhook_id, webhook_timestamp] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.update(&received_at.to_be_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Two keys are equal when they are the same key: compared by fingerprint,
/// so deliveries verified by equal receivers are equal.
impl PartialEq for ReceiptKey {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}

impl Eq for ReceiptKey {}

impl fmt::Debug for ReceiptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReceiptKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

    fn key(secret: &str) -> ReceiptKey {
        ReceiptKey::derive(&WebhookSecret::parse(secret).unwrap())
    }

    #[test]
    fn a_receipt_is_the_documented_mac() {
        // Computed with Python's hmac: HMAC-SHA256(HMAC-SHA256(key,
        // "yoco-webhooks receipt v1"), be64(5) "msg_1" be64(10)
        // "1718466716" be64(1718466718)).
        assert_eq!(
            key(SECRET).receipt("msg_1", "1718466716", 1_718_466_718),
            "Q/hAVWfF5auOwQjeDqPUBKDWN14t1p3dO6InOY4iGvs="
        );
    }

    #[test]
    fn a_receipt_verifies_only_its_own_id_timestamp_time_and_key() {
        let key = key(SECRET);
        let receipt = key.receipt("msg_1", "1718466716", 1_718_466_718);
        assert_eq!(receipt.len(), ENCODED_LEN);
        assert!(key.verifies(&receipt, "msg_1", "1718466716", 1_718_466_718));
        assert!(!key.verifies(&receipt, "msg_1", "1718466716", 1_718_466_717));
        assert!(!key.verifies(&receipt, "msg_1", "1718466717", 1_718_466_718));
        assert!(!key.verifies(&receipt, "msg_2", "1718466716", 1_718_466_718));
        // The length prefixes keep the boundary between id and timestamp.
        assert!(!key.verifies(&receipt, "msg_11", "718466716", 1_718_466_718));
        let other = self::key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert!(!other.verifies(&receipt, "msg_1", "1718466716", 1_718_466_718));
        // Only the canonical text: unpadded, or with room to spare, is refused.
        assert!(!key.verifies(receipt.trim_end_matches('='), "msg_1", "1718466716", 1_718_466_718));
        assert!(!key.verifies(&format!("{receipt} "), "msg_1", "1718466716", 1_718_466_718));
        assert!(!key.verifies("", "msg_1", "1718466716", 1_718_466_718));
    }

    #[test]
    fn the_receipt_key_is_not_the_signing_key() {
        let secret = WebhookSecret::parse(SECRET).unwrap();
        let key = ReceiptKey::derive(&secret);
        // A `v1` signature over the same parts is not a receipt.
        let signed = signature::sign(&secret, b"msg_1", b"1718466716", b"");
        let signed = std::str::from_utf8(&signed).unwrap();
        assert_ne!(key.receipt("msg_1", "1718466716", 0), signed);
        assert!(!key.verifies(signed, "msg_1", "1718466716", 0));
    }

    #[test]
    fn keys_are_equal_when_derived_from_the_same_secret_and_never_shown() {
        assert_eq!(key(SECRET), key(SECRET));
        assert_ne!(key(SECRET), key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        assert_eq!(format!("{:?}", key(SECRET)), "ReceiptKey([redacted])");
    }
}

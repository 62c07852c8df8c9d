//! Shared by the fuzz targets: the fixed secret, clock and an independent
//! implementation of the Standard Webhooks `v1` signature.
#![allow(dead_code)]

use base64::Engine as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;
use time::OffsetDateTime;
use yoco_webhooks::WebhookSecret;
use yoco_webhooks::testing::TEST_SECRET;

/// The fixed "now" of every target: 2024-06-15T15:51:55Z, the second the
/// documented sample event was created.
pub const NOW_UNIX: i64 = 1_718_466_715;

/// The tolerance the targets expect (`yoco_webhooks::DEFAULT_TOLERANCE`).
pub const TOLERANCE_SECS: i64 = 180;

pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW_UNIX).expect("constant in range")
}

pub fn secret() -> WebhookSecret {
    WebhookSecret::parse(TEST_SECRET).expect("TEST_SECRET parses")
}

/// The raw key of [`TEST_SECRET`], decoded here independently of the crate.
fn key() -> Vec<u8> {
    let encoded = TEST_SECRET.strip_prefix("whsec_").expect("whsec_ prefix");
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("TEST_SECRET is padded standard base64")
}

/// `v1,<base64(HMAC-SHA256(key, id "." timestamp "." body))>`, computed
/// without the crate: a second opinion on what must verify.
pub fn v1_entry(id: &[u8], timestamp: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key()).expect("HMAC takes any key length");
    mac.update(id);
    mac.update(b".");
    mac.update(timestamp);
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(tag))
}

/// The part after `v1,` of each `v1` entry of a `webhook-signature` header.
pub fn v1_entries(header: &[u8]) -> Vec<&[u8]> {
    header
        .split(|&b| b == b' ')
        .filter_map(|e| e.strip_prefix(b"v1,"))
        .collect()
}

/// Whether an entry is base64 of 32 bytes, padded or not, decoded here
/// independently of the crate. Non-canonical trailing bits are allowed: such
/// an entry is well formed, and fails as a mismatch.
pub fn is_tag_shaped(entry: &[u8]) -> bool {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(entry).is_ok_and(|bytes| bytes.len() == 32)
}

/// The error a header without the correct entry must give: no `v1` entry,
/// `v1` entries none of which is shaped like a tag, or a mismatch.
pub fn signature_error(header: &[u8]) -> yoco_webhooks::VerifyError {
    use yoco_webhooks::VerifyError;
    let entries = v1_entries(header);
    if entries.is_empty() {
        VerifyError::NoSignature
    } else if !entries.iter().any(|e| is_tag_shaped(e)) {
        VerifyError::MalformedSignature
    } else {
        VerifyError::SignatureMismatch
    }
}

/// Whether `header` (space-separated entries) holds `entry`, padded as
/// produced or with its `=` padding stripped: the two spellings of a tag that
/// a verifier may accept.
pub fn holds_entry(header: &[u8], entry: &str) -> bool {
    let unpadded = entry.trim_end_matches('=');
    header
        .split(|&b| b == b' ')
        .any(|e| e == entry.as_bytes() || e == unpadded.as_bytes())
}

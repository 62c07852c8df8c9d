//! Arbitrary text as a webhook secret: `WebhookSecret::parse`.
//!
//! Properties:
//! - never panics;
//! - refuses exactly what an independent reading refuses, with its error:
//!   `Blank` (empty after trimming ASCII whitespace), `MissingPrefix` (no
//!   `whsec_`), `Empty` (nothing after it, or nothing decoded), and
//!   `InvalidBase64` (not standard base64, padded or not);
//! - a parsed secret signs as HMAC-SHA256 under the independently decoded
//!   key (checked through `testing::Signer`), and as `from_key_bytes` of
//!   that key and as the same text parsed through `FromStr`;
//! - it prints as `WebhookSecret([redacted])`, and each error's message is
//!   the fixed text of its kind, so none holds any of the input.
#![no_main]

mod common;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, KeyInit as _, Mac as _};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use yoco_webhooks::testing::Signer;
use yoco_webhooks::{SecretError, WebhookSecret};

/// Standard base64, `=` padding optional, no stray trailing bits.
const EITHER_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What parsing `text` must give: the key bytes, or the error.
fn expected(text: &str) -> Result<Vec<u8>, SecretError> {
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if trimmed.is_empty() {
        return Err(SecretError::Blank);
    }
    let encoded = trimmed.strip_prefix("whsec_").ok_or(SecretError::MissingPrefix)?;
    if encoded.is_empty() {
        return Err(SecretError::Empty);
    }
    let key = EITHER_PADDING.decode(encoded).map_err(|_| SecretError::InvalidBase64)?;
    if key.is_empty() {
        return Err(SecretError::Empty);
    }
    Ok(key)
}

/// The `v1` signature entry under `key`, computed without the crate.
fn entry(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"msg_1.");
    mac.update(common::NOW_UNIX.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

fn signature(secret: WebhookSecret, body: &[u8]) -> String {
    Signer::new(secret)
        .sign_at_unix("msg_1", common::NOW_UNIX, body)
        .webhook_signature
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = WebhookSecret::parse(text);
    match (parsed, expected(text)) {
        (Ok(secret), Ok(key)) => {
            assert_eq!(format!("{secret:?}"), "WebhookSecret([redacted])");
            let body = data;
            let signed = signature(secret, body);
            assert_eq!(signed, entry(&key, body), "signs under the decoded key");
            let from_bytes = WebhookSecret::from_key_bytes(&key).expect("non-empty key");
            assert_eq!(signature(from_bytes, body), signed);
            let from_str: WebhookSecret = text.parse().expect("FromStr is parse");
            assert_eq!(signature(from_str, body), signed);
        }
        (Err(err), Err(want)) => {
            assert_eq!(err, want, "{text:?}");
            // A fixed text per error: nothing of the input can be in it.
            assert_eq!(err.to_string(), want.to_string());
        }
        (parsed, want) => panic!("{text:?}: parsed {parsed:?}, expected {want:?}"),
    }
});

//! The `v1` signature: HMAC-SHA256 over `{id}.{timestamp}.{body}`, base64 in
//! the `webhook-signature` header.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::Mac as _;

use crate::secret::WebhookSecret;

/// Length of an HMAC-SHA256 tag.
pub(crate) const SIGNATURE_LEN: usize = 32;

/// A raw `v1` signature.
pub(crate) type Signature = [u8; SIGNATURE_LEN];

/// Standard base64; senders pad, but an unpadded tag is the same tag.
/// Non-canonical trailing bits are still refused, so each tag has one spelling
/// per padding style.
const SIGNATURE_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Signs `{id}.{timestamp}.{body}` with the pre-keyed MAC, feeding the parts in
/// turn rather than concatenating them, so nothing is allocated or copied.
pub(crate) fn sign(secret: &WebhookSecret, id: &[u8], timestamp: &[u8], body: &[u8]) -> Signature {
    let mut mac = secret.mac();
    mac.update(id);
    mac.update(b".");
    mac.update(timestamp);
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The `v1` signatures of a `webhook-signature` header, decoded.
///
/// Entries are separated by spaces. Entries of another version, without a
/// comma, with bad base64 or of the wrong length are skipped: they cannot
/// match, and one of them must not hide a good entry beside it.
pub(crate) fn v1_signatures(header: &[u8]) -> impl Iterator<Item = Signature> + '_ {
    header
        .split(|&byte| byte == b' ')
        .filter_map(|entry| entry.strip_prefix(b"v1,"))
        .filter_map(|encoded| {
            let mut signature = [0_u8; SIGNATURE_LEN];
            match SIGNATURE_BASE64.decode_slice(encoded, &mut signature) {
                Ok(SIGNATURE_LEN) => Some(signature),
                _ => None,
            }
        })
}

/// The header entry for a signature: `v1,<base64>`.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn header_entry(signature: &Signature) -> String {
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the Standard Webhooks reference libraries.
    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        let secret = WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let signature = sign(
            &secret,
            b"msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            b"1649367553",
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(
            header_entry(&signature),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn parses_every_v1_entry_and_skips_the_rest() {
        let good = [7_u8; SIGNATURE_LEN];
        let entry = header_entry(&good);
        let unpadded = entry.trim_end_matches('=');
        let header = format!(
            "v2,abc {entry}  v1, v1 nocomma v1,!!! v1,AAAA {unpadded} v1a,{}",
            &entry[3..]
        );
        let found: Vec<Signature> = v1_signatures(header.as_bytes()).collect();
        assert_eq!(found, vec![good, good]);
    }

    #[test]
    fn an_overlong_signature_is_skipped() {
        let long = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode([1_u8; 48]));
        assert_eq!(v1_signatures(long.as_bytes()).count(), 0);
        assert_eq!(v1_signatures(b"").count(), 0);
    }
}

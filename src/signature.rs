//! The `v1` signature: HMAC-SHA256 over `{id}.{timestamp}.{body}`, base64 in
//! the `webhook-signature` header.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac as _;
use subtle::{Choice, ConstantTimeEq as _};

use crate::secret::WebhookSecret;

/// Length of an HMAC-SHA256 tag.
const SIGNATURE_LEN: usize = 32;

/// Length of a tag in padded base64.
const ENCODED_LEN: usize = 44;

/// A tag as the header spells it: padded standard base64.
pub(crate) type EncodedSignature = [u8; ENCODED_LEN];

/// Signs `{id}.{timestamp}.{body}` with the pre-keyed MAC, feeding the parts in
/// turn rather than concatenating them, so nothing is allocated or copied.
/// The tag comes back base64-encoded: one encoding per request is cheaper than
/// decoding every header entry.
pub(crate) fn sign(secret: &WebhookSecret, id: &[u8], timestamp: &[u8], body: &[u8]) -> EncodedSignature {
    let mut mac = secret.mac();
    mac.update(id);
    mac.update(b".");
    mac.update(timestamp);
    mac.update(b".");
    mac.update(body);
    let tag: [u8; SIGNATURE_LEN] = mac.finalize().into_bytes().into();
    let mut text = [b'='; ENCODED_LEN];
    // 32 bytes always encode to exactly 44 characters, so this cannot fail.
    let _ = STANDARD.encode_slice(tag, &mut text);
    text
}

/// The base64 part of each `v1,` entry of a `webhook-signature` header that
/// has a tag's length, padded (44) or unpadded (43).
///
/// Entries are separated by spaces. Entries of another version, without a
/// comma or of another length are skipped: they cannot match, and one of them
/// must not hide a good entry beside it.
pub(crate) fn v1_entries(header: &[u8]) -> impl Iterator<Item = &[u8]> {
    header
        .split(|&byte| byte == b' ')
        .filter_map(|entry| entry.strip_prefix(b"v1,"))
        .filter(|encoded| encoded.len() == ENCODED_LEN || encoded.len() == ENCODED_LEN - 1)
}

/// Whether a `v1` entry spells the expected tag, in constant time over the
/// whole entry. The expected text is canonical base64, so a non-canonical
/// spelling of the right bytes does not match, as a decoder would refuse it.
pub(crate) fn entry_matches(expected: &EncodedSignature, entry: &[u8]) -> Choice {
    // An unpadded entry is the padded text without its final `=`.
    let Some(expected) = expected.get(..entry.len()) else {
        return Choice::from(0);
    };
    // One branch-free pass, then one constant-time test: `subtle`'s slice
    // comparison puts an optimisation barrier on every byte, which costs more
    // than the rest of the comparison.
    let difference = expected.iter().zip(entry).fold(0_u8, |acc, (a, b)| acc | (a ^ b));
    difference.ct_eq(&0)
}

/// The header entry for a signature: `v1,<base64>`.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn header_entry(signature: &EncodedSignature) -> String {
    format!("v1,{}", String::from_utf8_lossy(signature))
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
    fn picks_the_v1_entries_of_a_tags_length() {
        let good = "tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
        let unpadded = &good[..43];
        let header = format!("v2,{good} v1,{good}  v1, v1 nocomma v1,!!! v1,AAAA v1,{unpadded} v1a,{good} v1,{good}=");
        let found: Vec<&[u8]> = v1_entries(header.as_bytes()).collect();
        assert_eq!(found, vec![good.as_bytes(), unpadded.as_bytes()]);
        assert_eq!(v1_entries(b"").count(), 0);
    }

    #[test]
    fn an_entry_matches_only_when_every_character_does() {
        let mut expected = [b'A'; ENCODED_LEN];
        expected[ENCODED_LEN - 1] = b'=';
        assert!(bool::from(entry_matches(&expected, &expected)));
        assert!(bool::from(entry_matches(&expected, &expected[..43])));
        for index in 0..ENCODED_LEN {
            let mut other = expected;
            other[index] ^= 1;
            assert!(!bool::from(entry_matches(&expected, &other)), "byte {index}");
        }
        assert!(!bool::from(entry_matches(&expected, &[b'A'; 45])));
    }
}

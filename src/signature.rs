//! The `v1` signature: HMAC-SHA256 over `{id}.{timestamp}.{body}`, base64 in
//! the `webhook-signature` header.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac as _;
use subtle::{Choice, ConstantTimeEq as _};

use crate::secret::{HmacSha256, WebhookSecret};

/// Length of an HMAC-SHA256 tag.
pub(crate) const SIGNATURE_LEN: usize = 32;

/// Length of a tag in padded base64.
pub(crate) const ENCODED_LEN: usize = 44;

/// A tag as the header spells it: padded standard base64.
pub(crate) type EncodedSignature = [u8; ENCODED_LEN];

/// Signs `{id}.{timestamp}.{body}` with the pre-keyed MAC, feeding the parts in
/// turn rather than concatenating them, so nothing is allocated or copied.
/// The tag comes back base64-encoded: one encoding per request is cheaper than
/// decoding every header entry.
pub(crate) fn sign(secret: &WebhookSecret, id: &[u8], timestamp: &[u8], body: &[u8]) -> EncodedSignature {
    sign_keyed(secret.mac(), id, timestamp, body)
}

/// [`sign`] with an HMAC state keyed by the caller (the diagnosis tries
/// keys a sender may have used by mistake).
pub(crate) fn sign_keyed(mut mac: HmacSha256, id: &[u8], timestamp: &[u8], body: &[u8]) -> EncodedSignature {
    mac.update(id);
    mac.update(b".");
    mac.update(timestamp);
    mac.update(b".");
    mac.update(body);
    encode(&mac.finalize().into_bytes().into())
}

/// A tag as the header spells it: padded standard base64.
pub(crate) fn encode(tag: &[u8; SIGNATURE_LEN]) -> EncodedSignature {
    let mut text = [b'='; ENCODED_LEN];
    // 32 bytes always encode to exactly 44 characters, so this cannot fail.
    let _ = STANDARD.encode_slice(tag, &mut text);
    text
}

/// The part after `v1,` of each `v1` entry of a `webhook-signature` header.
///
/// Entries are separated by spaces; entries of another version (or without
/// a comma) are skipped, as the scheme says.
pub(crate) fn v1_entries(header: &[u8]) -> impl Iterator<Item = &[u8]> {
    header
        .split(|&byte| byte == b' ')
        .filter_map(|entry| entry.strip_prefix(b"v1,"))
}

/// The `v1` entries of a tag's length, padded (44) or unpadded (43): the
/// only ones that can match, found without looking at every character (the
/// comparison does that). One of the others must not hide a good entry
/// beside it.
pub(crate) fn v1_tags(header: &[u8]) -> impl Iterator<Item = &[u8]> {
    v1_entries(header).filter(|entry| entry.len() == ENCODED_LEN || entry.len() == ENCODED_LEN - 1)
}

/// Whether an entry is standard base64 of a tag's 32 bytes: 44 characters
/// ending in one `=`, or the same 43 without it. Non-canonical trailing bits
/// pass here and fail the comparison. Says nothing about the secret, so it
/// need not run in constant time.
pub(crate) fn is_tag_shaped(entry: &[u8]) -> bool {
    let digits = match entry.split_last() {
        Some((b'=', digits)) if entry.len() == ENCODED_LEN => digits,
        _ if entry.len() == ENCODED_LEN - 1 => entry,
        _ => return false,
    };
    digits
        .iter()
        .all(|&byte| byte.is_ascii_alphanumeric() || byte == b'+' || byte == b'/')
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
    fn picks_the_v1_entries_those_of_a_tags_length_and_those_shaped_like_a_tag() {
        let good = "tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
        let unpadded = &good[..43];
        let hex = "b59d48e3f843ca000980ee5363189277a49dd240d6ea13de9c37be6d36b72a4c";
        let (too_long, bangs) = (format!("{good}="), "!".repeat(44));
        let header = format!(
            "v2,{good} v1,{good}  v1, v1 nocomma v1,!!! v1,AAAA v1,{unpadded} v1a,{good} v1,{too_long} v1,{hex} v1,{bangs}"
        );
        let entries: Vec<&[u8]> = v1_entries(header.as_bytes()).collect();
        let expected: Vec<&[u8]> = vec![
            good.as_bytes(),
            b"",
            b"!!!",
            b"AAAA",
            unpadded.as_bytes(),
            too_long.as_bytes(),
            hex.as_bytes(),
            bangs.as_bytes(),
        ];
        assert_eq!(entries, expected);
        let tags: Vec<&[u8]> = v1_tags(header.as_bytes()).collect();
        assert_eq!(tags, vec![good.as_bytes(), unpadded.as_bytes(), bangs.as_bytes()]);
        let shaped: Vec<&[u8]> = v1_tags(header.as_bytes()).filter(|tag| is_tag_shaped(tag)).collect();
        assert_eq!(shaped, vec![good.as_bytes(), unpadded.as_bytes()]);
        assert_eq!(v1_entries(b"").count(), 0);
    }

    #[test]
    fn a_tag_is_44_characters_of_base64_with_one_pad_or_43_without() {
        let good = "tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
        assert!(is_tag_shaped(good.as_bytes()));
        assert!(is_tag_shaped(&good.as_bytes()[..43]));
        for bad in [
            "",
            "=",
            &good[..42],
            "tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kk==",  // 31 bytes
            "tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3KkwA",  // 33 bytes
            "tZ1I4_hDygAJgO5TYxiSd6Sd0kDW6hPenDe-bTa3Kkw=",  // URL-safe alphabet
            "tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kk w=", // a space inside
            "tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw==", // 45 characters
        ] {
            assert!(!is_tag_shaped(bad.as_bytes()), "{bad:?}");
        }
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

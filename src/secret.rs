//! The webhook signing secret, parsed once and never printed.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, KeyInit as _};
use sha2::Sha256;

/// HMAC-SHA256, the MAC of the Standard Webhooks `v1` scheme.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The prefix of every Standard Webhooks secret.
const PREFIX: &str = "whsec_";

/// Standard base64 that accepts the secret with or without `=` padding:
/// dashboards and environment files are not consistent about it.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A webhook signing secret (`whsec_<base64>`), as Yoco returns it when the
/// endpoint is registered.
///
/// The key is decoded and the HMAC keyed once, when the secret is parsed, so
/// verification does no per-request key setup. The type prints as
/// `WebhookSecret([redacted])` and offers no equality, so it cannot leak
/// through logs or timing.
#[derive(Clone)]
pub struct WebhookSecret {
    keyed_mac: HmacSha256,
    /// The keys a sender gets wrong with this secret's text, for the
    /// diagnosis only; none for a secret made from its key bytes.
    text_keys: Option<Arc<TextKeys>>,
}

/// HMACs keyed with the secret's text instead of its decoded bytes: a
/// sender's mistake that [`Verifier::diagnose_at`](crate::Verifier::diagnose_at)
/// names. Keyed once, when the secret is parsed; never used to verify.
pub(crate) struct TextKeys {
    /// Keyed with the whole text, `whsec_` included.
    pub(crate) whole: HmacSha256,
    /// Keyed with the base64 text after `whsec_`, not decoded.
    pub(crate) encoded: HmacSha256,
}

impl WebhookSecret {
    /// Parses a secret of the form `whsec_<base64>` (padded or unpadded
    /// standard base64). Surrounding ASCII whitespace, as left by environment
    /// files, is ignored.
    ///
    /// # Errors
    /// [`SecretError::Blank`] if the text is empty or only whitespace (an
    /// unset setting), [`SecretError::MissingPrefix`] if it does not start
    /// with `whsec_`, [`SecretError::Empty`] if nothing follows the prefix,
    /// [`SecretError::InvalidBase64`] if the rest is not base64.
    pub fn parse(secret: &str) -> Result<Self, SecretError> {
        let secret = secret.trim_ascii();
        if secret.is_empty() {
            return Err(SecretError::Blank);
        }
        let encoded = secret.strip_prefix(PREFIX).ok_or(SecretError::MissingPrefix)?;
        if encoded.is_empty() {
            return Err(SecretError::Empty);
        }
        let key = SECRET_BASE64.decode(encoded).map_err(|_| SecretError::InvalidBase64)?;
        let mut parsed = Self::from_key_bytes(&key)?;
        // Neither text is empty here, and HMAC takes keys of any length.
        if let (Ok(whole), Ok(encoded)) = (
            HmacSha256::new_from_slice(secret.as_bytes()),
            HmacSha256::new_from_slice(encoded.as_bytes()),
        ) {
            parsed.text_keys = Some(Arc::new(TextKeys { whole, encoded }));
        }
        Ok(parsed)
    }

    /// Builds a secret from the raw key bytes (what follows `whsec_`, decoded).
    ///
    /// # Errors
    /// [`SecretError::Empty`] if `key` is empty: an empty HMAC key would let
    /// anyone forge events.
    pub fn from_key_bytes(key: &[u8]) -> Result<Self, SecretError> {
        if key.is_empty() {
            return Err(SecretError::Empty);
        }
        // HMAC accepts keys of any length, so this cannot fail; the error is
        // mapped rather than unwrapped all the same.
        let keyed_mac = HmacSha256::new_from_slice(key).map_err(|_| SecretError::Empty)?;
        Ok(Self {
            keyed_mac,
            text_keys: None,
        })
    }

    /// A fresh HMAC state, already keyed with this secret.
    pub(crate) fn mac(&self) -> HmacSha256 {
        self.keyed_mac.clone()
    }

    /// The keys of a sender that used this secret's text as the key, when
    /// it was parsed from its text.
    pub(crate) fn text_keys(&self) -> Option<&TextKeys> {
        self.text_keys.as_deref()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

impl std::str::FromStr for WebhookSecret {
    type Err = SecretError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Why a webhook secret was refused. The messages never contain the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The text is empty or only whitespace: usually a setting or
    /// environment variable that is not set.
    #[error("webhook secret is blank: is the setting that should hold it (`whsec_...`) set?")]
    Blank,
    /// The text does not start with `whsec_`.
    #[error("webhook secret must start with `whsec_` (is this the webhook secret, not the API key?)")]
    MissingPrefix,
    /// Nothing follows `whsec_` (or [`WebhookSecret::from_key_bytes`] was
    /// given no bytes): an empty key would let anyone forge events.
    #[error("webhook secret is empty: nothing follows `whsec_`")]
    Empty,
    /// The part after `whsec_` is not standard base64.
    #[error("webhook secret is not valid base64 after `whsec_`")]
    InvalidBase64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::Mac as _;

    fn tag(secret: &WebhookSecret) -> Vec<u8> {
        let mut mac = secret.mac();
        mac.update(b"x");
        mac.finalize().into_bytes().to_vec()
    }

    #[test]
    fn padded_and_unpadded_secrets_are_the_same_key() {
        let padded = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let unpadded = WebhookSecret::parse("whsec_dGVzdA").unwrap();
        let padded_test = WebhookSecret::parse("whsec_dGVzdA==").unwrap();
        assert_eq!(tag(&unpadded), tag(&padded_test));
        assert_ne!(tag(&padded), tag(&unpadded));
    }

    #[test]
    fn whitespace_around_the_secret_is_ignored() {
        let plain = WebhookSecret::parse("whsec_dGVzdA==").unwrap();
        let spaced = WebhookSecret::parse("  whsec_dGVzdA==\n").unwrap();
        assert_eq!(tag(&plain), tag(&spaced));
    }

    #[test]
    fn refuses_empty_prefix_only_and_undecodable_secrets() {
        for blank in ["", " ", "\n\t ", "\r\n"] {
            assert_eq!(
                WebhookSecret::parse(blank).unwrap_err(),
                SecretError::Blank,
                "{blank:?}"
            );
        }
        assert_eq!(WebhookSecret::parse("whsec_").unwrap_err(), SecretError::Empty);
        assert_eq!(WebhookSecret::parse(" whsec_").unwrap_err(), SecretError::Empty);
        assert_eq!(WebhookSecret::parse("whsec_ \n").unwrap_err(), SecretError::Empty);
        assert_eq!(
            WebhookSecret::parse("whsec_!!!").unwrap_err(),
            SecretError::InvalidBase64
        );
        assert_eq!(WebhookSecret::parse("whsec_a").unwrap_err(), SecretError::InvalidBase64);
        assert_eq!(
            WebhookSecret::parse("sk_test_abc").unwrap_err(),
            SecretError::MissingPrefix
        );
        assert_eq!(WebhookSecret::from_key_bytes(b"").unwrap_err(), SecretError::Empty);
    }

    #[test]
    fn a_blank_secret_says_so_and_not_that_the_prefix_is_missing() {
        let blank = SecretError::Blank.to_string();
        assert!(blank.contains("blank") && !blank.contains("must start"), "{blank}");
        let empty = WebhookSecret::parse("whsec_").unwrap_err().to_string();
        assert!(empty.contains("empty") && empty.contains("whsec_"), "{empty}");
        let prefix = WebhookSecret::parse("sk_live_x").unwrap_err().to_string();
        assert!(prefix.contains("must start with `whsec_`"), "{prefix}");
        assert_ne!(blank, empty);
    }

    #[test]
    fn debug_and_errors_never_show_the_secret() {
        let secret = WebhookSecret::parse("whsec_c2VjcmV0LWtleS1ieXRlcw==").unwrap();
        let shown = format!("{secret:?}");
        assert_eq!(shown, "WebhookSecret([redacted])");
        let err = WebhookSecret::parse("whsec_c2VjcmV0!").unwrap_err().to_string();
        assert!(!err.contains("c2VjcmV0"), "{err}");
    }
}

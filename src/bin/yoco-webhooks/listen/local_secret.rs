//! The local secret `listen` re-signs deliveries with, for the app to verify
//! them: derived from the account's secret API key, so that it is the same
//! on every run and every machine (the app's configuration never changes),
//! with no file to keep. HMAC-SHA256 of a fixed label under the key: the
//! secret reveals nothing of the key, and another key gives another secret.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;
use yoco_webhooks::WebhookSecret;

use crate::failure::Failure;

/// What the key signs to give the local secret. Changing it changes every
/// developer's local secret: it is versioned, never edited.
const LABEL: &[u8] = b"yoco-webhooks listen: local webhook secret, v1";

/// A `whsec_` secret meant to be printed: the app's configuration holds it.
/// `Debug` still redacts it, so that it appears only where it is printed on
/// purpose.
pub(super) struct LocalSecret {
    text: String,
    secret: WebhookSecret,
}

impl LocalSecret {
    /// The secret derived from the secret API key `key`.
    pub(super) fn derived_from(key: &str) -> Result<Self, Failure> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.trim().as_bytes())
            .map_err(|_| Failure(2, "YOCO_SECRET_KEY cannot key a MAC".to_owned()))?;
        mac.update(LABEL);
        let text = format!("whsec_{}", STANDARD.encode(mac.finalize().into_bytes()));
        Self::parse(text, "the derived local secret")
    }

    /// A secret the developer chose (`--local-secret`, `YOCO_LISTEN_SECRET`);
    /// `origin` names where it came from in the error, never the value.
    pub(super) fn parse(text: String, origin: &str) -> Result<Self, Failure> {
        let secret = WebhookSecret::parse(&text).map_err(|err| Failure(2, format!("{origin}: {err}")))?;
        Ok(Self {
            text: text.trim().to_owned(),
            secret,
        })
    }

    /// The `whsec_...` text, to print for the app's configuration.
    pub(super) fn expose(&self) -> &str {
        &self.text
    }

    /// The parsed secret, to sign with.
    pub(super) fn secret(&self) -> &WebhookSecret {
        &self.secret
    }
}

impl fmt::Debug for LocalSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalSecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk_test_960bfde0VBrLlpK098e4ffeb53e1";

    #[test]
    fn the_same_key_gives_the_same_secret_and_another_key_another() {
        let one = LocalSecret::derived_from(KEY).unwrap();
        assert_eq!(
            one.expose(),
            LocalSecret::derived_from(&format!(" {KEY}\n")).unwrap().expose()
        );
        let other = LocalSecret::derived_from("sk_test_another").unwrap();
        assert_ne!(one.expose(), other.expose());
        assert!(one.expose().starts_with("whsec_"), "{}", one.expose());
        assert!(!one.expose().contains(KEY.trim_start_matches("sk_test_")));
        // The vector, as `openssl` computes it:
        // printf %s "$LABEL" | openssl dgst -sha256 -hmac "$KEY" -binary | base64
        assert_eq!(one.expose(), "whsec_DpA/5n+f4k18JFWCB/I7khYewDV+aoD0WzoAtS+eCBs=");
    }

    #[test]
    fn a_chosen_secret_must_be_a_webhook_secret_and_never_prints() {
        let err = LocalSecret::parse("hunter2".to_owned(), "--local-secret").unwrap_err();
        assert_eq!(err.0, 2);
        assert!(
            err.1.starts_with("--local-secret: ") && !err.1.contains("hunter2"),
            "{}",
            err.1
        );
        let chosen = LocalSecret::parse(" whsec_dGVzdA== ".to_owned(), "--local-secret").unwrap();
        assert_eq!(chosen.expose(), "whsec_dGVzdA==");
        assert_eq!(format!("{chosen:?}"), "LocalSecret([redacted])");
    }
}

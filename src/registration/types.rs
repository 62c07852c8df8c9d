//! The values the registration API takes and gives: the secret API key, the
//! revealed webhook secret, webhook ids and registered webhooks.

use std::fmt;

use serde::Deserialize;

use crate::mode::Mode;
use crate::secret::{SecretError, WebhookSecret};

/// The account's secret API key (`sk_live_...` or `sk_test_...`). Prints as
/// `[redacted]` and offers no equality.
#[derive(Clone)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wraps a secret API key. Surrounding whitespace is ignored.
    pub fn new(key: impl Into<String>) -> Self {
        let key = key.into();
        Self(key.trim().to_owned())
    }

    /// The mode of the key, from its prefix: `sk_live_` is live, `sk_test_`
    /// is test; `None` for any other key. A webhook registered with the key
    /// has this mode and receives events of this mode only.
    pub fn mode(&self) -> Option<Mode> {
        if self.0.starts_with("sk_live_") {
            Some(Mode::Live)
        } else if self.0.starts_with("sk_test_") {
            Some(Mode::Test)
        } else {
            None
        }
    }

    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

/// The webhook secret as Yoco returns it once, at registration. Prints as
/// `[redacted]`; [`RevealedSecret::expose`] gives the text to store.
#[derive(Clone)]
pub struct RevealedSecret(String);

impl RevealedSecret {
    /// The `whsec_...` text, to put in your secret store. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Parses it for verification.
    ///
    /// # Errors
    /// [`SecretError`] if Yoco returned something that is not a webhook secret.
    pub fn to_webhook_secret(&self) -> Result<WebhookSecret, SecretError> {
        WebhookSecret::parse(&self.0)
    }
}

impl fmt::Debug for RevealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RevealedSecret([redacted])")
    }
}

impl<'de> Deserialize<'de> for RevealedSecret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(RevealedSecret)
    }
}

/// The id Yoco gives a registered webhook.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(transparent)]
pub struct SubscriptionId(String);

impl SubscriptionId {
    /// Wraps an id, as listed by Yoco.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A webhook registered on the account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Subscription {
    /// Its id, for deleting it.
    pub id: SubscriptionId,
    /// The name it was registered with.
    #[serde(default)]
    pub name: String,
    /// The endpoint Yoco posts to.
    pub url: String,
    /// Live or test: the mode of the key that registered it.
    #[serde(default)]
    pub mode: Option<Mode>,
}

/// A webhook just registered, with its secret (shown this once).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Registered {
    /// The new webhook.
    pub webhook: Subscription,
    /// Its signing secret. Store it now: Yoco never shows it again.
    pub secret: RevealedSecret,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_secrets_never_print() {
        let key = "sk_test_960bfde0VBrLlpK098e4ffeb53e1";
        assert_eq!(format!("{:?}", SecretKey::new(key)), "SecretKey([redacted])");
        let secret: RevealedSecret = serde_json::from_str(r#""whsec_dGVzdA==""#).unwrap();
        assert_eq!(format!("{secret:?}"), "RevealedSecret([redacted])");
    }

    #[test]
    fn a_keys_mode_is_its_prefix() {
        assert_eq!(SecretKey::new(" sk_live_abc ").mode(), Some(Mode::Live));
        assert_eq!(SecretKey::new("sk_test_abc").mode(), Some(Mode::Test));
        for other in [
            "",
            "sk_",
            "sk_live",
            "SK_LIVE_abc",
            "pk_live_abc",
            "sk_prod_abc",
            "whsec_abc",
        ] {
            assert_eq!(SecretKey::new(other).mode(), None, "{other}");
        }
    }
}

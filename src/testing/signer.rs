//! Signing bodies as Yoco does: [`Signer`] and the [`SignedHeaders`] it
//! produces, for a secret such as [`TEST_SECRET`].

use time::OffsetDateTime;

use crate::headers::{Headers, Lookup, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
use crate::secret::WebhookSecret;
use crate::signature;

/// A well-formed secret for tests. Never use it for a real endpoint.
pub const TEST_SECRET: &str = "whsec_dGVzdC1zZWNyZXQtZm9yLXlvY28td2ViaG9va3MtdGVzdHM=";

/// Signs bodies the way Yoco does, producing the three webhook headers.
#[derive(Debug, Clone)]
pub struct Signer {
    secret: WebhookSecret,
}

impl Signer {
    /// A signer for `secret`.
    pub fn new(secret: WebhookSecret) -> Self {
        Self { secret }
    }

    /// Signs `body` as message `webhook_id`, sent at `timestamp`.
    pub fn sign(&self, webhook_id: &str, timestamp: OffsetDateTime, body: &[u8]) -> SignedHeaders {
        self.sign_at_unix(webhook_id, timestamp.unix_timestamp(), body)
    }

    /// Signs `body` as message `webhook_id`, sent `unix_secs` seconds after
    /// the Unix epoch: a replay or a skewed clock, tested without the `time`
    /// crate.
    ///
    /// ```
    /// use yoco_webhooks::testing::{Signer, TEST_SECRET};
    /// use yoco_webhooks::{Verifier, VerifyError, WebhookSecret};
    ///
    /// let secret = WebhookSecret::parse(TEST_SECRET)?;
    /// // Signed at 2024-06-15T15:51:55Z, long ago: a replay.
    /// let headers = Signer::new(secret.clone()).sign_at_unix("msg_1", 1_718_466_715, b"{}");
    /// assert_eq!(headers.webhook_timestamp, "1718466715");
    /// let err = Verifier::new(secret).verify(&headers, b"{}").unwrap_err();
    /// assert_eq!(err, VerifyError::StaleTimestamp);
    /// # Ok::<(), yoco_webhooks::SecretError>(())
    /// ```
    pub fn sign_at_unix(&self, webhook_id: &str, unix_secs: i64, body: &[u8]) -> SignedHeaders {
        let webhook_timestamp = unix_secs.to_string();
        let tag = signature::sign(&self.secret, webhook_id.as_bytes(), webhook_timestamp.as_bytes(), body);
        SignedHeaders {
            webhook_id: webhook_id.to_owned(),
            webhook_timestamp,
            webhook_signature: signature::header_entry(&tag),
        }
    }

    /// Signs `body` as message `webhook_id`, sent now.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn sign_now(&self, webhook_id: &str, body: &[u8]) -> SignedHeaders {
        self.sign(webhook_id, OffsetDateTime::now_utc(), body)
    }
}

/// The three headers of a signed webhook request.
///
/// Usable directly as [`Headers`]; public fields so that tests can tamper
/// with them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedHeaders {
    /// `webhook-id`.
    pub webhook_id: String,
    /// `webhook-timestamp`.
    pub webhook_timestamp: String,
    /// `webhook-signature`.
    pub webhook_signature: String,
}

impl SignedHeaders {
    /// The headers as `(name, value)` pairs, to set on an HTTP client's request.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (WEBHOOK_ID, &self.webhook_id),
            (WEBHOOK_TIMESTAMP, &self.webhook_timestamp),
            (WEBHOOK_SIGNATURE, &self.webhook_signature),
        ]
    }

    /// The headers as an [`http::HeaderMap`].
    ///
    /// # Errors
    /// [`http::header::InvalidHeaderValue`] if a field was set to a value
    /// that is not a valid header value.
    #[cfg(feature = "http")]
    pub fn to_header_map(&self) -> Result<http::HeaderMap, http::header::InvalidHeaderValue> {
        let mut map = http::HeaderMap::with_capacity(3);
        for (name, value) in self.pairs() {
            map.insert(name, http::HeaderValue::from_str(value)?);
        }
        Ok(map)
    }
}

impl Headers for SignedHeaders {
    fn lookup(&self, name: &str) -> Lookup<'_> {
        self.pairs()
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(Lookup::Missing, |(_, v)| Lookup::One(v.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_at_a_unix_time_is_signing_at_that_instant() {
        let signer = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap());
        let at = OffsetDateTime::from_unix_timestamp(1_718_466_715).unwrap();
        let by_instant = signer.sign("msg_1", at, b"{}");
        let by_unix = signer.sign_at_unix("msg_1", 1_718_466_715, b"{}");
        assert_eq!(by_unix, by_instant);
        assert_eq!(by_unix.webhook_timestamp, "1718466715");
        assert_ne!(signer.sign_at_unix("msg_1", 1_718_466_716, b"{}"), by_instant);
    }
}

//! Standard Webhooks verification: headers, timestamp tolerance and `v1`
//! signatures. Knows nothing of Yoco's events.

use std::fmt;
use std::time::Duration;

use subtle::Choice;
use time::OffsetDateTime;

use crate::headers::{Headers, Lookup, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
use crate::secret::WebhookSecret;
use crate::signature;

/// How far a `webhook-timestamp` may be from the receiver's clock, either
/// way, by default: 3 minutes, as Yoco recommends.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(3 * 60);

/// Verifies that a request was signed by the holder of a webhook secret, and
/// recently.
///
/// Cheap to clone and share: build it once at start-up and keep it in your
/// application state.
///
/// ```
/// use yoco_webhooks::{Verifier, WebhookSecret};
/// use time::macros::datetime;
///
/// let verifier = Verifier::new(WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")?);
/// let headers = [
///     ("webhook-id", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"),
///     ("webhook-timestamp", "1649367553"),
///     ("webhook-signature", "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="),
/// ];
/// let body = br#"{"email":"test@example.com","username":"test_user"}"#;
/// let verified = verifier.verify_at(&headers, body, datetime!(2022-04-07 21:39:33 UTC))?;
/// assert_eq!(verified.webhook_id(), "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Verifier {
    secrets: Vec<WebhookSecret>,
    tolerance_secs: u64,
}

impl Verifier {
    /// A verifier for one secret with the default tolerance.
    pub fn new(secret: WebhookSecret) -> Self {
        Self::builder(secret).build()
    }

    /// Starts a verifier for `secret`; more secrets and the tolerance can be
    /// set before [`VerifierBuilder::build`].
    pub fn builder(secret: WebhookSecret) -> VerifierBuilder {
        VerifierBuilder {
            secrets: vec![secret],
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// The tolerance on the timestamp, in whole seconds.
    pub fn tolerance(&self) -> Duration {
        Duration::from_secs(self.tolerance_secs)
    }

    /// Verifies a request against the time `now`.
    ///
    /// `body` must be the raw request body, byte for byte. Nothing is
    /// allocated: the result borrows from `headers` and `body`.
    ///
    /// # Errors
    /// A [`VerifyError`] naming the check that failed; every one of them
    /// means the request is not authentic (HTTP 401).
    pub fn verify_at<'a, H: Headers + ?Sized>(
        &self,
        headers: &'a H,
        body: &'a [u8],
        now: OffsetDateTime,
    ) -> Result<Verified<'a>, VerifyError> {
        self.verify_at_unix(headers, body, now.unix_timestamp())
    }

    /// [`Verifier::verify_at`] with `now` in Unix seconds, as the hot path
    /// takes it (no calendar arithmetic).
    pub(crate) fn verify_at_unix<'a, H: Headers + ?Sized>(
        &self,
        headers: &'a H,
        body: &'a [u8],
        now: i64,
    ) -> Result<Verified<'a>, VerifyError> {
        let id = required(headers, WEBHOOK_ID)?;
        let timestamp_header = required(headers, WEBHOOK_TIMESTAMP)?;
        let signature_header = required(headers, WEBHOOK_SIGNATURE)?;

        let webhook_id =
            std::str::from_utf8(id)
                .ok()
                .filter(|id| !id.is_empty())
                .ok_or(VerifyError::InvalidHeader {
                    name: WEBHOOK_ID,
                    reason: "must be non-empty UTF-8",
                })?;
        let timestamp = self.check_timestamp(timestamp_header, now)?;
        // Refuse a header with nothing to compare before hashing the body.
        if signature::v1_tags(signature_header).next().is_none() {
            return Err(if signature::v1_entries(signature_header).next().is_none() {
                VerifyError::NoSignature
            } else {
                VerifyError::MalformedSignature
            });
        }

        let mut matched = Choice::from(0);
        for secret in &self.secrets {
            let expected = signature::sign(secret, id, timestamp_header, body);
            for entry in signature::v1_tags(signature_header) {
                matched |= signature::entry_matches(&expected, entry);
            }
        }
        if !bool::from(matched) {
            // Off the hot path: a wrong signature, or none spelled like one.
            return Err(if signature::v1_tags(signature_header).any(signature::is_tag_shaped) {
                VerifyError::SignatureMismatch
            } else {
                VerifyError::MalformedSignature
            });
        }
        Ok(Verified {
            webhook_id,
            timestamp,
            body,
        })
    }

    /// Verifies a request against the system clock.
    ///
    /// Not available on `wasm32-unknown-unknown`, which has no clock: use
    /// [`Verifier::verify_at`] with the time your runtime gives.
    ///
    /// # Errors
    /// As [`Verifier::verify_at`].
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn verify<'a, H: Headers + ?Sized>(&self, headers: &'a H, body: &'a [u8]) -> Result<Verified<'a>, VerifyError> {
        self.verify_at_unix(headers, body, unix_now())
    }

    /// Parses the timestamp strictly (ASCII digits only) and checks it is
    /// within the tolerance of `now`, in either direction.
    fn check_timestamp(&self, header: &[u8], now: i64) -> Result<i64, VerifyError> {
        const DIGITS_ONLY: &str = "must be Unix seconds, ASCII digits only";
        let invalid = |reason| VerifyError::InvalidHeader {
            name: WEBHOOK_TIMESTAMP,
            reason,
        };
        if header.is_empty() {
            return Err(invalid(DIGITS_ONLY));
        }
        let mut seconds: u64 = 0;
        for &byte in header {
            if !byte.is_ascii_digit() {
                return Err(invalid(DIGITS_ONLY));
            }
            seconds = seconds
                .checked_mul(10)
                .and_then(|s| s.checked_add(u64::from(byte.wrapping_sub(b'0'))))
                .ok_or(invalid("is out of range"))?;
        }
        // i128 holds every u64 and i64 and their sums, so nothing here can
        // overflow; saturating arithmetic keeps that visible to the linter.
        let sent = i128::from(seconds);
        let now = i128::from(now);
        let tolerance = i128::from(self.tolerance_secs);
        if sent.saturating_add(tolerance) < now {
            return Err(VerifyError::StaleTimestamp);
        }
        if sent > now.saturating_add(tolerance) {
            return Err(VerifyError::FutureTimestamp);
        }
        // Within the calendar `time` can represent, so `Verified::timestamp`
        // cannot fail.
        i64::try_from(seconds)
            .ok()
            .filter(|&s| s <= MAX_UNIX_SECONDS)
            .ok_or(invalid("is out of range"))
    }
}

/// 9999-12-31T23:59:59Z, the last second `time` represents by default.
const MAX_UNIX_SECONDS: i64 = 253_402_300_799;

/// The system clock in Unix seconds (negative before 1970).
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub(crate) fn unix_now() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, i64::wrapping_neg),
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("secrets", &self.secrets.len())
            .field("tolerance", &self.tolerance())
            .finish()
    }
}

/// The one value of a required header.
fn required<'a, H: Headers + ?Sized>(headers: &'a H, name: &'static str) -> Result<&'a [u8], VerifyError> {
    match headers.lookup(name) {
        Lookup::One(value) => Ok(value),
        Lookup::Missing => Err(VerifyError::MissingHeader { name }),
        Lookup::Repeated => Err(VerifyError::RepeatedHeader { name }),
    }
}

/// Configures a [`Verifier`]. Start with [`Verifier::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct VerifierBuilder {
    secrets: Vec<WebhookSecret>,
    tolerance: Duration,
}

impl VerifierBuilder {
    /// Accepts signatures made with `secret` too, for rotating secrets: while
    /// both are configured, a request signed with either one verifies.
    pub fn also_accept(mut self, secret: WebhookSecret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// How far the `webhook-timestamp` may be from `now`, in the past or the
    /// future (whole seconds; default [`DEFAULT_TOLERANCE`]). A longer
    /// tolerance widens the window in which a captured request can be
    /// replayed; keep it to minutes.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Builds the verifier.
    pub fn build(self) -> Verifier {
        Verifier {
            secrets: self.secrets,
            tolerance_secs: self.tolerance.as_secs(),
        }
    }
}

/// A request whose signature and timestamp checked out. Borrows from the
/// request.
#[derive(Debug, Clone, Copy)]
pub struct Verified<'a> {
    webhook_id: &'a str,
    /// Unix seconds, in `0..=MAX_UNIX_SECONDS`.
    timestamp: i64,
    body: &'a [u8],
}

impl<'a> Verified<'a> {
    /// The `webhook-id`: the same for every retry of one message, so it is the
    /// key to deduplicate deliveries with.
    pub fn webhook_id(&self) -> &'a str {
        self.webhook_id
    }

    /// When this attempt was signed (`webhook-timestamp`).
    pub fn timestamp(&self) -> OffsetDateTime {
        // In range by construction (see `check_timestamp`); the fallback is unreachable.
        OffsetDateTime::from_unix_timestamp(self.timestamp).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The raw body that was verified.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }
}

/// Why a request failed verification. Every variant means "not authentic"
/// (HTTP 401). Messages name the failed check and never carry the secret or
/// the expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent.
    #[error("missing `{name}` header")]
    MissingHeader {
        /// The header's name.
        name: &'static str,
    },
    /// A required header was sent more than once.
    #[error("`{name}` header sent more than once")]
    RepeatedHeader {
        /// The header's name.
        name: &'static str,
    },
    /// A header's value is malformed.
    #[error("`{name}` header {reason}")]
    InvalidHeader {
        /// The header's name.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The timestamp is older than the tolerance allows: a replay, or a clock
    /// far behind.
    #[error("`webhook-timestamp` is too old (outside the tolerance)")]
    StaleTimestamp,
    /// The timestamp is further in the future than the tolerance allows.
    #[error("`webhook-timestamp` is too far in the future (outside the tolerance)")]
    FutureTimestamp,
    /// `webhook-signature` holds no `v1` entry at all (it is empty, or has
    /// only entries of other versions).
    #[error("`webhook-signature` has no `v1` entry")]
    NoSignature,
    /// `webhook-signature` has `v1` entries, but none is a valid signature:
    /// standard base64 of 32 bytes (44 characters, or 43 without the `=`).
    /// Hex, a truncated or an empty entry (`v1,`) are such.
    #[error("`webhook-signature` has a `v1` entry, but it is not a valid signature (base64 of 32 bytes)")]
    MalformedSignature,
    /// No `v1` signature matches any configured secret.
    #[error("no `v1` signature matches")]
    SignatureMismatch,
}

impl VerifyError {
    /// The HTTP status to answer: always 401 Unauthorized.
    pub fn status(&self) -> u16 {
        401
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TS: &str = "1649367553";
    const SIG: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SIGNED_AT: OffsetDateTime = datetime!(2022-04-07 21:39:13 UTC);

    fn verifier() -> Verifier {
        Verifier::new(WebhookSecret::parse(SECRET).unwrap())
    }

    fn verify(id: &str, ts: &str, sig: &str, now: OffsetDateTime) -> Result<(), VerifyError> {
        let headers = [(WEBHOOK_ID, id), (WEBHOOK_TIMESTAMP, ts), (WEBHOOK_SIGNATURE, sig)];
        verifier().verify_at(&headers, BODY, now).map(|_| ())
    }

    #[test]
    fn accepts_the_reference_vector() {
        assert_eq!(SIGNED_AT.unix_timestamp(), 1_649_367_553);
        let headers = [(WEBHOOK_ID, ID), (WEBHOOK_TIMESTAMP, TS), (WEBHOOK_SIGNATURE, SIG)];
        let verified = verifier().verify_at(&headers, BODY, SIGNED_AT).unwrap();
        assert_eq!(verified.webhook_id(), ID);
        assert_eq!(verified.timestamp(), SIGNED_AT);
        assert_eq!(verified.body(), BODY);
    }

    #[test]
    fn tolerance_is_checked_both_ways_at_the_boundary() {
        let tolerance = DEFAULT_TOLERANCE.as_secs() as i64;
        let at = |delta: i64| SIGNED_AT + time::Duration::seconds(delta);
        assert_eq!(verify(ID, TS, SIG, at(tolerance)), Ok(()));
        assert_eq!(verify(ID, TS, SIG, at(tolerance + 1)), Err(VerifyError::StaleTimestamp));
        assert_eq!(verify(ID, TS, SIG, at(-tolerance)), Ok(()));
        assert_eq!(
            verify(ID, TS, SIG, at(-tolerance - 1)),
            Err(VerifyError::FutureTimestamp)
        );
    }

    #[test]
    fn hostile_timestamps_are_errors_not_panics() {
        for ts in [
            "",
            "-1",
            "+1649367553",
            " 1649367553",
            "1649367553 ",
            "1.5",
            "-9223372036854775808",
            "99999999999999999999999",
            "１２",
        ] {
            let err = verify(ID, ts, SIG, SIGNED_AT).unwrap_err();
            assert!(
                matches!(
                    err,
                    VerifyError::InvalidHeader {
                        name: WEBHOOK_TIMESTAMP,
                        ..
                    }
                ),
                "{ts}: {err:?}"
            );
        }
        // Parses, but is centuries away from now.
        assert_eq!(
            verify(ID, "18446744073709551615", SIG, SIGNED_AT),
            Err(VerifyError::FutureTimestamp)
        );
        assert_eq!(verify(ID, "0", SIG, SIGNED_AT), Err(VerifyError::StaleTimestamp));
    }

    #[test]
    fn a_huge_tolerance_cannot_overflow() {
        let verifier = Verifier::builder(WebhookSecret::parse(SECRET).unwrap())
            .tolerance(Duration::MAX)
            .build();
        let headers = [
            (WEBHOOK_ID, ID),
            (WEBHOOK_TIMESTAMP, "18446744073709551615"),
            (WEBHOOK_SIGNATURE, SIG),
        ];
        let err = verifier.verify_at(&headers, BODY, SIGNED_AT).unwrap_err();
        assert!(matches!(err, VerifyError::InvalidHeader { .. }), "{err:?}");
    }

    #[test]
    fn prefixes_and_truncations_of_the_signature_fail() {
        for sig in [
            "v1,",
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kk",
            "v1,tZ1I4/hD",
            "v1,=",
            "v2,abc v1,tZ1I4/hD",
        ] {
            assert_eq!(
                verify(ID, TS, sig, SIGNED_AT),
                Err(VerifyError::MalformedSignature),
                "{sig}"
            );
        }
        for sig in [
            "v2,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
            "",
            "tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        ] {
            assert_eq!(verify(ID, TS, sig, SIGNED_AT), Err(VerifyError::NoSignature), "{sig}");
        }
        assert_eq!(
            verify(ID, TS, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkx=", SIGNED_AT),
            Err(VerifyError::SignatureMismatch),
            "non-canonical trailing bits are not a spelling of the tag"
        );
        assert_eq!(
            verify(ID, TS, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw", SIGNED_AT),
            Ok(()),
            "unpadded is the same tag"
        );
        assert_eq!(
            verify(ID, TS, "v1,uZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=", SIGNED_AT),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn a_v1_entry_that_is_not_a_signature_is_named_malformed() {
        // The right tag in hex, and base64 of the wrong length or alphabet.
        let hex = "v1,b59d48e3f843ca000980ee5363189277a49dd240d6ea13de9c37be6d36b72a4c";
        for sig in [
            hex,
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kk==",
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3KkwA",
            "v1,tZ1I4_hDygAJgO5TYxiSd6Sd0kDW6hPenDe-bTa3Kkw=",
            "v1 v1,!!! v1,AAAA",
        ] {
            let err = verify(ID, TS, sig, SIGNED_AT).unwrap_err();
            assert_eq!(err, VerifyError::MalformedSignature, "{sig}");
            let message = err.to_string();
            assert!(message.contains("not a valid signature"), "{message}");
            assert!(!message.contains("tZ1I4"), "{message}");
        }
        let none = VerifyError::NoSignature.to_string();
        assert!(none.contains("no `v1` entry"), "{none}");
        // A well-formed entry beside it is compared as usual.
        assert_eq!(verify(ID, TS, &format!("{hex} {SIG}"), SIGNED_AT), Ok(()));
        assert_eq!(
            verify(ID, TS, &format!("{hex} v1,{}", "A".repeat(43)), SIGNED_AT),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn one_matching_entry_among_many_is_enough() {
        let sig = format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= junk {SIG} v1a,x");
        assert_eq!(verify(ID, TS, &sig, SIGNED_AT), Ok(()));
        let sig = format!("{SIG} v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        assert_eq!(verify(ID, TS, &sig, SIGNED_AT), Ok(()));
    }

    #[test]
    fn any_configured_secret_may_match() {
        let old = WebhookSecret::parse(SECRET).unwrap();
        let new = WebhookSecret::parse("whsec_bmV3LXNlY3JldC1rZXk=").unwrap();
        let headers = [(WEBHOOK_ID, ID), (WEBHOOK_TIMESTAMP, TS), (WEBHOOK_SIGNATURE, SIG)];
        let both = Verifier::builder(new.clone()).also_accept(old).build();
        assert!(both.verify_at(&headers, BODY, SIGNED_AT).is_ok());
        let only_new = Verifier::new(new);
        assert_eq!(
            only_new.verify_at(&headers, BODY, SIGNED_AT).unwrap_err(),
            VerifyError::SignatureMismatch
        );
    }

    #[test]
    fn header_problems_are_named() {
        let headers = [(WEBHOOK_TIMESTAMP, TS), (WEBHOOK_SIGNATURE, SIG)];
        assert_eq!(
            verifier().verify_at(&headers, BODY, SIGNED_AT).unwrap_err(),
            VerifyError::MissingHeader { name: WEBHOOK_ID }
        );
        let headers = [
            (WEBHOOK_ID, ID),
            (WEBHOOK_TIMESTAMP, TS),
            (WEBHOOK_SIGNATURE, SIG),
            ("Webhook-Signature", SIG),
        ];
        assert_eq!(
            verifier().verify_at(&headers, BODY, SIGNED_AT).unwrap_err(),
            VerifyError::RepeatedHeader {
                name: WEBHOOK_SIGNATURE
            }
        );
        let err = verify("", TS, SIG, SIGNED_AT).unwrap_err();
        assert!(matches!(err, VerifyError::InvalidHeader { name: WEBHOOK_ID, .. }));
        assert_eq!(err.status(), 401);
    }

    #[test]
    fn a_non_utf8_body_is_verified_as_bytes() {
        let secret = WebhookSecret::parse(SECRET).unwrap();
        let body = [0xff_u8, 0xfe, 0x00, b'{'];
        let sig = signature::header_entry(&signature::sign(&secret, ID.as_bytes(), TS.as_bytes(), &body));
        let headers = [
            (WEBHOOK_ID, ID),
            (WEBHOOK_TIMESTAMP, TS),
            (WEBHOOK_SIGNATURE, sig.as_str()),
        ];
        assert!(verifier().verify_at(&headers, &body, SIGNED_AT).is_ok());
    }

    #[test]
    fn the_signed_timestamp_is_the_header_bytes_as_sent() {
        // "01649367553" is the same instant as TS, but not the same signed bytes.
        assert_eq!(
            verify(ID, "01649367553", SIG, SIGNED_AT),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn debug_shows_no_key() {
        let shown = format!("{:?}", verifier());
        assert_eq!(shown, "Verifier { secrets: 1, tolerance: 180s }");
    }
}

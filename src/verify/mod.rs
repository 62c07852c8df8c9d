//! Standard Webhooks verification: headers, timestamp tolerance and `v1`
//! signatures. Knows nothing of Yoco's events.
//!
//! - `builder`: [`VerifierBuilder`], the accepted secrets, their
//!   [`SecretName`]s and the modes they are bound to.
//! - `error`: [`VerifyError`], which check failed.
//! - `diagnose`: [`Diagnosis`], why a request does not verify, named as a
//!   cause to act on ([`Verifier::diagnose_at`]).

mod builder;
mod diagnose;
mod error;
pub(crate) mod receipt;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use subtle::{Choice, ConditionallySelectable as _};
use time::OffsetDateTime;

use crate::headers::{Found, Headers, WEBHOOK_ID, WEBHOOK_TIMESTAMP, Which, webhook_header};
use crate::mode::Mode;
use crate::secret::WebhookSecret;
use crate::signature;
use receipt::ReceiptKey;

use builder::{Accepted, Binding};
pub use builder::{SecretName, VerifierBuilder};
pub use diagnose::{BodyChange, Diagnosis, SignatureSpelling, TextKey};
pub use error::VerifyError;

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
/// assert_eq!(verified.secret_name(), "secret-1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Verifier {
    secrets: Vec<Accepted>,
    tolerance_secs: u64,
}

impl Verifier {
    /// A verifier for one secret with the default tolerance.
    pub fn new(secret: WebhookSecret) -> Self {
        Self::builder(secret).build()
    }

    /// Starts a verifier for `secret`, named `secret-1` and bound to no
    /// mode; its name, its mode, more secrets and the tolerance can be set
    /// before [`VerifierBuilder::build`].
    pub fn builder(secret: WebhookSecret) -> VerifierBuilder {
        VerifierBuilder::new(secret)
    }

    /// The tolerance on the timestamp, in whole seconds.
    pub fn tolerance(&self) -> Duration {
        Duration::from_secs(self.tolerance_secs)
    }

    /// The names of the accepted secrets, in the order they were added, each
    /// with the mode it is bound to, if any.
    pub fn secrets(&self) -> impl Iterator<Item = (&SecretName, Option<&Mode>)> {
        self.secrets
            .iter()
            .map(|accepted| (&accepted.binding.name, accepted.binding.mode.as_ref()))
    }

    /// Verifies a request against the time `now`.
    ///
    /// `body` must be the raw request body, byte for byte. Nothing is
    /// allocated: the result borrows from `headers` and `body`, and from
    /// this verifier the name of the secret that verified it.
    ///
    /// The result says which secret verified the request
    /// ([`Verified::secret_name`]) and the mode it is bound to
    /// ([`Verified::secret_mode`]); the verifier does not read the event, so
    /// checking that mode against the event's is the caller's part
    /// ([`Receiver`](crate::Receiver) does it).
    ///
    /// # Errors
    /// A [`VerifyError`] naming the check that failed; every one of them
    /// means the request is not authentic (HTTP 401).
    pub fn verify_at<'a, H: Headers + ?Sized>(
        &'a self,
        headers: &'a H,
        body: &'a [u8],
        now: OffsetDateTime,
    ) -> Result<Verified<'a>, VerifyError> {
        self.verify_at_unix(headers, body, now.unix_timestamp())
    }

    /// [`Verifier::verify_at`] with `now` in Unix seconds, as the hot path
    /// takes it (no calendar arithmetic).
    pub(crate) fn verify_at_unix<'a, H: Headers + ?Sized>(
        &'a self,
        headers: &'a H,
        body: &'a [u8],
        now: i64,
    ) -> Result<Verified<'a>, VerifyError> {
        let id = required(headers, Which::Id)?;
        let timestamp_header = required(headers, Which::Timestamp)?;
        let signature_header = required(headers, Which::Signature)?;

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

        // Every secret against every entry, without branching on a match: the
        // index of the (last) matching secret is picked in constant time.
        let mut matched = Choice::from(0);
        let mut index: u32 = 0;
        // Every secret that matched (the first 64), for the receiver to
        // pick the one bound to the event's mode (see `Verified::vouch_for`).
        let mut all_matched: u64 = 0;
        for (position, accepted) in (0_u32..).zip(&self.secrets) {
            let expected = signature::sign(&accepted.secret, id, timestamp_header, body);
            let mut this_one = Choice::from(0);
            for entry in signature::v1_tags(signature_header) {
                this_one |= signature::entry_matches(&expected, entry);
            }
            index.conditional_assign(&position, this_one);
            matched |= this_one;
            all_matched |= u64::from(this_one.unwrap_u8()).checked_shl(position).unwrap_or(0);
        }
        let accepted = usize::try_from(index).ok().and_then(|index| self.secrets.get(index));
        let (true, Some(accepted)) = (bool::from(matched), accepted) else {
            // Off the hot path: a wrong signature, or none spelled like one.
            return Err(if signature::v1_tags(signature_header).any(signature::is_tag_shaped) {
                VerifyError::SignatureMismatch
            } else {
                VerifyError::MalformedSignature
            });
        };
        Ok(Verified {
            webhook_id,
            timestamp,
            timestamp_header,
            signature_header,
            body,
            secret: &accepted.binding,
            secrets: &self.secrets,
            matched: all_matched,
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
    pub fn verify<'a, H: Headers + ?Sized>(
        &'a self,
        headers: &'a H,
        body: &'a [u8],
    ) -> Result<Verified<'a>, VerifyError> {
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
        let names: Vec<&SecretName> = self.secrets.iter().map(|accepted| &accepted.binding.name).collect();
        f.debug_struct("Verifier")
            .field("secrets", &names)
            .field("tolerance", &self.tolerance())
            .finish()
    }
}

/// The one value of a required header, under its `webhook-*` or `svix-*` name.
fn required<H: Headers + ?Sized>(headers: &H, which: Which) -> Result<&[u8], VerifyError> {
    match webhook_header(headers, which) {
        Found::One(value) => Ok(value),
        Found::Missing => Err(VerifyError::MissingHeader { name: which.name() }),
        Found::Repeated(name) => Err(VerifyError::RepeatedHeader { name }),
        Found::Conflicting => Err(VerifyError::ConflictingHeaders {
            name: which.name(),
            svix_name: which.svix_name(),
        }),
    }
}

/// A request whose signature and timestamp checked out. Borrows from the
/// request, and from the verifier the accepted secret that verified it.
#[derive(Clone)]
pub struct Verified<'a> {
    webhook_id: &'a str,
    /// Unix seconds, in `0..=MAX_UNIX_SECONDS`.
    timestamp: i64,
    /// The `webhook-timestamp` and `webhook-signature` headers as received.
    timestamp_header: &'a [u8],
    signature_header: &'a [u8],
    body: &'a [u8],
    secret: &'a Binding,
    /// The verifier's secrets, and which of them matched (a bit each).
    secrets: &'a [Accepted],
    matched: u64,
}

/// The ids, the time and the secret's name; the body and the signature are
/// left out of logs.
impl fmt::Debug for Verified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("webhook_id", &self.webhook_id)
            .field("timestamp", &self.timestamp)
            .field("secret", &self.secret.name)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
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

    /// The `webhook-timestamp` header as received (ASCII digits).
    pub(crate) fn timestamp_header(&self) -> &'a [u8] {
        self.timestamp_header
    }

    /// The `webhook-signature` header as received.
    pub(crate) fn signature_header(&self) -> &'a [u8] {
        self.signature_header
    }

    /// The name of the secret that verified the request (see
    /// [`VerifierBuilder::named`]).
    pub fn secret_name(&self) -> &str {
        self.secret.name.as_str()
    }

    /// The name of the secret that verified the request, to keep (a cheap
    /// clone).
    pub fn secret(&self) -> &SecretName {
        &self.secret.name
    }

    /// The mode the secret that verified the request is bound to, if any
    /// (see [`VerifierBuilder::for_mode`]).
    pub fn secret_mode(&self) -> Option<&Mode> {
        self.secret.mode.as_ref()
    }

    /// Settles which secret vouches for an event of mode `mode`: among the
    /// secrets whose signature matched (a sender may sign with a live and
    /// a test secret at once), one bound to that mode, else one bound to
    /// none; [`Verified::secret`] is then that one.
    ///
    /// # Errors
    /// [`VerifyError::ModeMismatch`] when every secret that matched is bound
    /// to another mode (or the event has none).
    pub fn vouch_for(&mut self, mode: Option<&Mode>) -> Result<(), VerifyError> {
        if self.secret.mode.is_none() || self.secret.mode.as_ref() == mode {
            return Ok(());
        }
        let matched = (0_u32..)
            .zip(self.secrets)
            .filter(|(position, _)| self.matched.checked_shr(*position).unwrap_or(0) & 1 == 1)
            .map(|(_, accepted)| &*accepted.binding);
        let bound = matched
            .clone()
            .filter(|binding| binding.mode.is_some() && binding.mode.as_ref() == mode);
        let unbound = matched.filter(|binding| binding.mode.is_none());
        match bound.last().or_else(|| unbound.last()) {
            Some(binding) => {
                self.secret = binding;
                Ok(())
            }
            None => Err(VerifyError::ModeMismatch {
                secret: self.secret.name.clone(),
                bound: self.secret.mode.clone().unwrap_or(Mode::Live),
                event: mode.filter(|mode| matches!(mode, Mode::Live | Mode::Test)).cloned(),
            }),
        }
    }

    /// The receipt key of the secret that verified the request.
    pub(crate) fn receipt_key(&self) -> &Arc<ReceiptKey> {
        &self.secret.receipt_key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::WEBHOOK_SIGNATURE;
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
        let verifier = verifier();
        let verified = verifier.verify_at(&headers, BODY, SIGNED_AT).unwrap();
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

    /// Headers signing [`BODY`] with `secret` at [`TS`].
    fn signed_with(secret: &WebhookSecret) -> [(&'static str, String); 3] {
        let sig = signature::header_entry(&signature::sign(secret, ID.as_bytes(), TS.as_bytes(), BODY));
        [
            (WEBHOOK_ID, ID.to_owned()),
            (WEBHOOK_TIMESTAMP, TS.to_owned()),
            (WEBHOOK_SIGNATURE, sig),
        ]
    }

    #[test]
    fn the_result_names_the_secret_that_verified_and_its_mode() {
        let secrets: Vec<WebhookSecret> = [SECRET, "whsec_bmV3LXNlY3JldC1rZXk=", "whsec_dGhpcmQtc2VjcmV0"]
            .iter()
            .map(|text| WebhookSecret::parse(text).unwrap())
            .collect();
        let named = Verifier::builder(secrets[0].clone())
            .named("live")
            .for_mode(Mode::Live)
            .also_accept_for(secrets[1].clone(), Mode::Test)
            .named("test")
            .also_accept(secrets[2].clone())
            .build();
        let positional = Verifier::builder(secrets[0].clone())
            .also_accept(secrets[1].clone())
            .also_accept(secrets[2].clone())
            .build();
        let expected = [
            ("live", Some(Mode::Live), "secret-1"),
            ("test", Some(Mode::Test), "secret-2"),
            ("secret-3", None, "secret-3"),
        ];
        for (secret, (name, mode, position)) in secrets.iter().zip(expected) {
            let headers = signed_with(secret);
            let verified = named.verify_at(&headers, BODY, SIGNED_AT).unwrap();
            assert_eq!((verified.secret_name(), verified.secret_mode()), (name, mode.as_ref()));
            assert_eq!(verified.secret(), &name);
            let verified = positional.verify_at(&headers, BODY, SIGNED_AT).unwrap();
            assert_eq!((verified.secret_name(), verified.secret_mode()), (position, None));
        }
        // Both entries in one header, one per secret: either secret's name
        // is true; the last matching secret is the one named.
        let both = format!("{} {}", signed_with(&secrets[0])[2].1, signed_with(&secrets[1])[2].1);
        let headers = [
            (WEBHOOK_ID, ID),
            (WEBHOOK_TIMESTAMP, TS),
            (WEBHOOK_SIGNATURE, both.as_str()),
        ];
        assert_eq!(
            named.verify_at(&headers, BODY, SIGNED_AT).unwrap().secret_name(),
            "test"
        );
        // The same secret twice: the later name wins.
        let twice = Verifier::builder(secrets[0].clone())
            .named("old")
            .also_accept(secrets[0].clone())
            .named("new")
            .build();
        let headers = signed_with(&secrets[0]);
        assert_eq!(twice.verify_at(&headers, BODY, SIGNED_AT).unwrap().secret_name(), "new");
        // The default reference vector is the first secret.
        let headers = [(WEBHOOK_ID, ID), (WEBHOOK_TIMESTAMP, TS), (WEBHOOK_SIGNATURE, SIG)];
        assert_eq!(
            verifier().verify_at(&headers, BODY, SIGNED_AT).unwrap().secret_name(),
            "secret-1"
        );
    }

    #[test]
    fn named_and_for_mode_apply_to_the_secret_added_last() {
        let secret = || WebhookSecret::parse(SECRET).unwrap();
        let verifier = Verifier::builder(secret())
            .also_accept(secret())
            .named("b")
            .for_mode(Mode::Test)
            .also_accept_for(secret(), Mode::Live)
            .also_accept(secret())
            .named(String::from("d"))
            .build();
        let listed: Vec<(String, Option<Mode>)> = verifier
            .secrets()
            .map(|(name, mode)| (name.to_string(), mode.cloned()))
            .collect();
        assert_eq!(
            listed,
            [
                ("secret-1".to_owned(), None),
                ("b".to_owned(), Some(Mode::Test)),
                ("secret-3".to_owned(), Some(Mode::Live)),
                ("d".to_owned(), None),
            ]
        );
        assert_eq!(
            format!("{verifier:?}"),
            r#"Verifier { secrets: ["secret-1", "b", "secret-3", "d"], tolerance: 180s }"#
        );
    }

    #[test]
    fn a_mode_mismatch_says_which_check_failed_and_nothing_secret() {
        let err = VerifyError::ModeMismatch {
            secret: SecretName::from("test"),
            bound: Mode::Test,
            event: Some(Mode::Live),
        };
        assert_eq!(err.status(), 401);
        assert_eq!(
            err.to_string(),
            "event mode `live` differs from mode `test` of the secret `test` that signed it"
        );
        let err = VerifyError::ModeMismatch {
            secret: SecretName::from("test"),
            bound: Mode::Test,
            event: None,
        };
        assert_eq!(
            err.to_string(),
            "event has no mode, or one other than live and test, and the secret `test` that signed it is bound to mode `test`"
        );
        let odd = VerifyError::ModeMismatch {
            secret: SecretName::from("live"),
            bound: Mode::Live,
            event: Some(Mode::Other(format!("x\n{}", "y".repeat(1000)))),
        };
        let shown = odd.to_string();
        assert!(shown.len() < 150 && !shown.contains('\n'), "{shown}");
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
        assert_eq!(shown, r#"Verifier { secrets: ["secret-1"], tolerance: 180s }"#);
        let builder = Verifier::builder(WebhookSecret::parse(SECRET).unwrap()).named("live");
        assert_eq!(
            format!("{builder:?}"),
            r#"VerifierBuilder { secrets: ["live"], tolerance: 180s }"#
        );
    }
}

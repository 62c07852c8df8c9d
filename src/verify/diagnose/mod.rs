//! [`Diagnosis`]: why a request does not verify, named as a cause a person
//! can act on, instead of "not authentic".
//!
//! - this file: the causes and their sentences;
//! - `inspect`: the inspection, its order and its bounds;
//! - `body`: the common changes to a body on its way in, and their undoing.
//!
//! The diagnosis runs only when asked ([`Verifier::diagnose_at`],
//! [`Receiver::diagnose`](crate::Receiver::diagnose)), never on the way to
//! a 401. Its work is bounded whatever the request (see
//! [`Diagnosis::MAX_ENTRIES`], [`Diagnosis::MAX_MACS_PER_SECRET`],
//! [`Diagnosis::MAX_REWORKED_BODY`]). It never shows a secret or a signature;
//! the names of secrets ([`SecretName`]) are shown.

mod body;
mod inspect;

use std::fmt;

use time::OffsetDateTime;

use super::{SecretName, Verifier};
use crate::headers::Headers;
use crate::mode::Mode;

impl Verifier {
    /// Says why a request does or does not verify at the time `now`: the
    /// cause, with what to do about it, rather than the first check that
    /// failed. For a request that was refused, to log at debug level or
    /// show an operator; not for the hot path (the request is checked
    /// several ways, a bounded number of HMACs, see [`Diagnosis`]).
    ///
    /// A [`Receiver`](crate::Receiver) also checks the event's mode against
    /// the secret's: [`Receiver::diagnose_at`](crate::Receiver::diagnose_at)
    /// names that cause too.
    ///
    /// ```
    /// use yoco_webhooks::testing::{Signer, TEST_SECRET};
    /// use yoco_webhooks::{Diagnosis, Verifier, WebhookSecret};
    /// use time::macros::datetime;
    ///
    /// let secret = WebhookSecret::parse(TEST_SECRET)?;
    /// let now = datetime!(2024-06-15 15:51:55 UTC);
    /// let headers = Signer::new(secret.clone()).sign("msg_1", now, br#"{"id":"evt_1"}"#);
    /// // The handler handed over the body with a newline added.
    /// let diagnosis = Verifier::new(secret).diagnose_at(&headers, b"{\"id\":\"evt_1\"}\n", now);
    /// assert!(matches!(diagnosis, Diagnosis::BodyChanged { .. }));
    /// assert!(diagnosis.to_string().contains("raw request body"));
    /// # Ok::<(), yoco_webhooks::SecretError>(())
    /// ```
    pub fn diagnose_at<H: Headers + ?Sized>(&self, headers: &H, body: &[u8], now: OffsetDateTime) -> Diagnosis {
        inspect::inspect(self, headers, body, now.unix_timestamp()).0
    }
}

/// Why a request does or does not verify: one cause, the first to fix,
/// with its data. [`Display`](fmt::Display) gives one sentence: what is
/// wrong and what to do. Nothing in it is a secret or a signature.
///
/// Made by [`Verifier::diagnose_at`] and
/// [`Receiver::diagnose`](crate::Receiver::diagnose).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Diagnosis {
    /// The request verifies: a secret signs it, within the tolerance (and,
    /// from a [`Receiver`](crate::Receiver), for the event's mode).
    Verifies {
        /// The secret that signs it.
        secret: SecretName,
    },
    /// A required header is absent under its `webhook-*` and its `svix-*`
    /// name.
    MissingHeader {
        /// The header's name (`webhook-id`, ...).
        name: &'static str,
        /// A header of a similar name that is there instead, which the
        /// sender or a proxy on the way used: `x-yoco-signature`,
        /// `webhook_signature`, `x-svix-signature`, ...
        look_alike: Option<&'static str>,
    },
    /// A required header was sent more than once: a proxy added its own.
    RepeatedHeader {
        /// The name repeated.
        name: &'static str,
    },
    /// A header is sent under its `webhook-*` and its `svix-*` name with
    /// different values.
    ConflictingHeaders {
        /// The Standard Webhooks name.
        name: &'static str,
        /// Svix's name.
        svix_name: &'static str,
    },
    /// `webhook-id` is empty or not UTF-8.
    InvalidWebhookId,
    /// `webhook-signature` holds a signature, but not spelled
    /// `v1,<base64>`.
    MisspelledSignature {
        /// How it is spelled.
        spelling: SignatureSpelling,
        /// The secret whose signature it is, once spelled right; `None`
        /// when it is no given secret's (or cannot be read).
        secret: Option<SecretName>,
    },
    /// `webhook-signature` has no `v1` entry: empty, or only other
    /// versions.
    NoSignature,
    /// `webhook-timestamp` is Unix milliseconds, not seconds.
    TimestampInMilliseconds {
        /// Seconds from the timestamp read as milliseconds to `now`
        /// (negative: in the future).
        age_secs: i64,
    },
    /// `webhook-timestamp` is not Unix seconds in ASCII digits, or is out
    /// of range.
    MalformedTimestamp,
    /// A secret signs the request, but its timestamp is outside the
    /// tolerance: a replay, or a clock that is off.
    OutsideTolerance {
        /// The secret that signs it.
        secret: SecretName,
        /// Seconds from the timestamp to `now`: positive when it was
        /// signed that long ago, negative when it is in the future.
        age_secs: i64,
        /// The verifier's tolerance, in seconds.
        tolerance_secs: u64,
    },
    /// A secret bound to a mode signs the request, but the event is of
    /// another mode (or of none): the other registration's secret. Found
    /// by [`Receiver::diagnose`](crate::Receiver::diagnose), which reads
    /// the event.
    OtherModeSecret {
        /// The secret that signs it.
        secret: SecretName,
        /// The mode that secret is bound to.
        bound: Mode,
        /// The event's mode when it is `live` or `test`.
        event: Option<Mode>,
    },
    /// The request was signed with the text of a secret as the HMAC key,
    /// instead of the bytes its base64 decodes to. Found only for secrets
    /// parsed from their text ([`WebhookSecret::parse`](crate::WebhookSecret::parse)).
    SecretTextAsKey {
        /// The secret whose text was used.
        secret: SecretName,
        /// Which text.
        key: TextKey,
    },
    /// The body was changed after it was signed: undoing a common change
    /// makes it verify, so the handler is not passing the raw bytes.
    BodyChanged {
        /// The secret that signs the body as it was.
        secret: SecretName,
        /// The change.
        change: BodyChange,
    },
    /// No secret given signs the request, and no common mistake explains
    /// it.
    NoSecretSigns {
        /// How many secrets were tried.
        secrets: usize,
        /// Whether the body was too large (over [`Diagnosis::MAX_REWORKED_BODY`]) for
        /// the changes to it to be tried.
        body_too_large: bool,
    },
}

impl Diagnosis {
    /// The entries of `webhook-signature` read: the first 16. A sender
    /// signs with one or two secrets at a time; the rest of a longer
    /// header is not looked at.
    pub const MAX_ENTRIES: usize = inspect::MAX_ENTRIES;

    /// The most HMACs computed per secret, whatever the request: the body
    /// as received, with the secret's two texts as the key, and the body
    /// with each common change undone ([`BodyChange`]).
    pub const MAX_MACS_PER_SECRET: usize = inspect::MAX_MACS_PER_SECRET;

    /// The largest body whose common changes are undone and tried: 1 MiB,
    /// the adapters' default body limit. A larger body is checked as
    /// received only, and never copied.
    pub const MAX_REWORKED_BODY: usize = inspect::MAX_REWORKED_BODY;

    /// Whether the request verifies.
    pub fn verifies(&self) -> bool {
        matches!(self, Self::Verifies { .. })
    }

    /// A short code for the cause, stable for scripts and metrics labels:
    /// `verifies`, `missing_header`, `repeated_header`,
    /// `conflicting_headers`, `invalid_webhook_id`, `misspelled_signature`,
    /// `no_signature`, `timestamp_in_milliseconds`, `malformed_timestamp`,
    /// `outside_tolerance`, `other_mode_secret`, `secret_text_as_key`,
    /// `body_changed`, `no_secret_signs`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Verifies { .. } => "verifies",
            Self::MissingHeader { .. } => "missing_header",
            Self::RepeatedHeader { .. } => "repeated_header",
            Self::ConflictingHeaders { .. } => "conflicting_headers",
            Self::InvalidWebhookId => "invalid_webhook_id",
            Self::MisspelledSignature { .. } => "misspelled_signature",
            Self::NoSignature => "no_signature",
            Self::TimestampInMilliseconds { .. } => "timestamp_in_milliseconds",
            Self::MalformedTimestamp => "malformed_timestamp",
            Self::OutsideTolerance { .. } => "outside_tolerance",
            Self::OtherModeSecret { .. } => "other_mode_secret",
            Self::SecretTextAsKey { .. } => "secret_text_as_key",
            Self::BodyChanged { .. } => "body_changed",
            Self::NoSecretSigns { .. } => "no_secret_signs",
        }
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Verifies { secret } => write!(f, "verifies: signed by the secret `{secret}`, within the tolerance"),
            Self::MissingHeader {
                name,
                look_alike: Some(found),
            } => write!(
                f,
                "no `{name}` header, but `{found}` is there: the sender or a proxy on the way renamed it; \
                 have it arrive as `{name}`"
            ),
            Self::MissingHeader { name, look_alike: None } => write!(
                f,
                "no `{name}` header: the request is not a Standard Webhooks delivery, or a proxy on the way \
                 dropped the header; forward every header to the receiver"
            ),
            Self::RepeatedHeader { name } => write!(
                f,
                "`{name}` is sent more than once: a proxy on the way added its own; forward only the sender's"
            ),
            Self::ConflictingHeaders { name, svix_name } => write!(
                f,
                "`{name}` and `{svix_name}` are both sent, with different values: send only one of them"
            ),
            Self::InvalidWebhookId => {
                f.write_str("`webhook-id` is empty or not UTF-8: the sender must send the message id")
            }
            Self::MisspelledSignature {
                spelling,
                secret: Some(secret),
            } => write!(
                f,
                "`webhook-signature` holds the signature of the secret `{secret}`, but {spelling}: \
                 the sender must write `v1,` and the standard base64 of the HMAC"
            ),
            Self::MisspelledSignature { spelling, secret: None } => write!(
                f,
                "`webhook-signature` holds no `v1,<base64>` signature, only one {spelling}, and no secret given \
                 signs it: the sender must write `v1,` and the standard base64 of the HMAC, with this endpoint's secret"
            ),
            Self::NoSignature => f.write_str(
                "`webhook-signature` has no `v1` entry (it is empty, or of other versions only): \
                 the sender does not sign with the Standard Webhooks `v1` scheme",
            ),
            Self::TimestampInMilliseconds { age_secs } => write!(
                f,
                "`webhook-timestamp` is in milliseconds ({}): the sender must send Unix seconds",
                Age(*age_secs)
            ),
            Self::MalformedTimestamp => f.write_str(
                "`webhook-timestamp` is not Unix seconds in ASCII digits (or is out of range): \
                 the sender must send Unix seconds",
            ),
            Self::OutsideTolerance {
                secret,
                age_secs,
                tolerance_secs,
            } if *age_secs >= 0 => write!(
                f,
                "signed by the secret `{secret}`, but {}, beyond the tolerance of {tolerance_secs} s: a replay \
                 of an old request, or this machine's clock is ahead (check NTP); diagnose a saved request \
                 at the time it arrived",
                Age(*age_secs)
            ),
            Self::OutsideTolerance {
                secret,
                age_secs,
                tolerance_secs,
            } => write!(
                f,
                "signed by the secret `{secret}`, but {}, beyond the tolerance of {tolerance_secs} s: this \
                 machine's clock is behind the sender's (check NTP)",
                Age(*age_secs)
            ),
            Self::OtherModeSecret {
                secret,
                bound,
                event: Some(event),
            } => write!(
                f,
                "signed by the secret `{secret}`, which is bound to mode `{bound}`, but the event's mode is \
                 `{event}`: the {bound} registration's secret cannot vouch for a {event} event; check which \
                 registration sends it and which secret is bound to which mode"
            ),
            Self::OtherModeSecret {
                secret,
                bound,
                event: None,
            } => write!(
                f,
                "signed by the secret `{secret}`, which is bound to mode `{bound}`, but the event has no mode \
                 (or one other than live and test): a secret bound to a mode vouches only for events of that mode"
            ),
            Self::SecretTextAsKey { secret, key } => write!(
                f,
                "signed with {key} of the secret `{secret}` as the HMAC key: the sender must key the HMAC \
                 with the bytes that the base64 after `whsec_` decodes to"
            ),
            Self::BodyChanged { secret, change } => write!(
                f,
                "the body was changed on its way in ({change}): undone, the secret `{secret}` signs it; \
                 pass the raw request body to the receiver, byte for byte, not re-read or re-serialised"
            ),
            Self::NoSecretSigns {
                secrets,
                body_too_large,
            } => {
                let plural = if *secrets == 1 { "" } else { "s" };
                write!(
                    f,
                    "no secret given signs this request ({secrets} secret{plural} tried): it was signed with \
                     another secret (another registration's, or one rotated out), or its id, timestamp or \
                     body changed after signing (a handler that re-serialises JSON cannot pass the raw body)"
                )?;
                if *body_too_large {
                    write!(
                        f,
                        "; the body is over {} bytes, so changes to it were not tried",
                        Self::MAX_REWORKED_BODY
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// A signed age in words: `signed 90 s ago`, `signed 7200 s (about 2
/// hours) in the future`.
struct Age(i64);

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.unsigned_abs();
        write!(f, "signed {seconds} s")?;
        let (count, unit) = match seconds {
            0..120 => (0, ""),
            120..7200 => (seconds / 60, "minutes"),
            7200..172_800 => (seconds / 3600, "hours"),
            _ => (seconds / 86_400, "days"),
        };
        if count > 0 {
            write!(f, " (about {count} {unit})")?;
        }
        f.write_str(if self.0 >= 0 { " ago" } else { " in the future" })
    }
}

/// How a signature in `webhook-signature` is spelled when it is not
/// `v1,<standard base64>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureSpelling {
    /// `v1,` and the tag in hex (64 digits).
    Hex,
    /// `v1,` and the tag in URL-safe base64 (`-` and `_`).
    UrlSafeBase64,
    /// The tag in base64 without `v1,` in front: bare, or after `sha256=`
    /// or `v1=`.
    Unversioned,
    /// The tag in hex without `v1,` in front.
    UnversionedHex,
    /// `v1,` and something that is not 32 bytes in base64 or hex
    /// (truncated, empty, ...).
    NotASignature,
}

impl fmt::Display for SignatureSpelling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Hex => "in hex instead of base64",
            Self::UrlSafeBase64 => "in URL-safe base64 instead of standard base64",
            Self::Unversioned => "without `v1,` in front",
            Self::UnversionedHex => "in hex and without `v1,` in front",
            Self::NotASignature => "that is not 32 bytes in base64 (truncated?)",
        })
    }
}

/// Which text of a secret a sender used as the HMAC key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TextKey {
    /// The whole text, `whsec_` included.
    WholeText,
    /// The base64 after `whsec_`, not decoded.
    Base64Text,
}

impl fmt::Display for TextKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::WholeText => "the whole text (`whsec_...`)",
            Self::Base64Text => "the base64 text after `whsec_`, undecoded,",
        })
    }
}

/// A change made to a body on its way in (by a proxy, a framework or the
/// handler), which the diagnosis undoes to find the signed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyChange {
    /// A newline added at the end.
    TrailingNewlineAdded,
    /// The newline at the end removed (the body trimmed).
    TrailingNewlineRemoved,
    /// Line ends turned into CRLF.
    CrlfLineEnds,
    /// A UTF-8 byte-order mark added in front.
    ByteOrderMark,
    /// The JSON re-serialised pretty (indented), where it was compact.
    PrettyJson,
    /// The JSON re-serialised compact, where it was pretty (two-space
    /// indent).
    CompactJson,
}

impl fmt::Display for BodyChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TrailingNewlineAdded => "a newline added at the end",
            Self::TrailingNewlineRemoved => "the newline at the end removed",
            Self::CrlfLineEnds => "line ends turned into CRLF",
            Self::ByteOrderMark => "a byte-order mark added in front",
            Self::PrettyJson => "the JSON re-serialised pretty",
            Self::CompactJson => "the JSON re-serialised compact",
        })
    }
}

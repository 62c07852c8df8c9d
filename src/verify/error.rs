//! [`VerifyError`]: which check a request failed, never a secret, a
//! signature or a value from the body.

use super::SecretName;
use crate::mode::Mode;

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
    /// A header is sent under both its Standard Webhooks name and Svix's
    /// (`webhook-id` and `svix-id`, ...) with different values.
    #[error("`{name}` and `{svix_name}` headers are both sent and differ")]
    ConflictingHeaders {
        /// The Standard Webhooks name (`webhook-id`, ...).
        name: &'static str,
        /// Svix's name for the same header (`svix-id`, ...).
        svix_name: &'static str,
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
    /// A stored delivery's `receipt` is not the one its receiver made for
    /// it: its time of receipt was moved, or it was stored by a receiver
    /// whose secret differs from the one that verified it here (see
    /// [`StoredDelivery`](crate::StoredDelivery)).
    #[error("stored delivery's `receipt` does not match its `received_at` (moved, or stored under another secret)")]
    ReceiptMismatch,
    /// The signature matches a secret bound to a mode (see
    /// [`VerifierBuilder::for_mode`](crate::VerifierBuilder::for_mode)), but the event's `payload.mode` is
    /// another, or absent: the holder of a test secret cannot vouch for a
    /// live event. Found by [`Receiver`](crate::Receiver), which reads the
    /// event; never by [`Verifier`](crate::Verifier) alone.
    #[error("{}", mode_mismatch(secret, bound, event.as_ref()))]
    ModeMismatch {
        /// The name of the secret whose signature matched.
        secret: SecretName,
        /// The mode that secret is bound to.
        bound: Mode,
        /// The event's mode when it is `live` or `test` (`None` when it
        /// has none or another: a mode the sender made up is not quoted).
        event: Option<Mode>,
    },
}

/// The message of [`VerifyError::ModeMismatch`].
fn mode_mismatch(secret: &SecretName, bound: &Mode, event: Option<&Mode>) -> String {
    match event {
        Some(event @ (Mode::Live | Mode::Test)) => {
            format!("event mode `{event}` differs from mode `{bound}` of the secret `{secret}` that signed it")
        }
        _ => format!(
            "event has no mode, or one other than live and test, and the secret `{secret}` that signed it is bound to mode `{bound}`"
        ),
    }
}

impl VerifyError {
    /// The HTTP status to answer: always 401 Unauthorized.
    pub fn status(&self) -> u16 {
        401
    }
}

//! Why a call to Yoco's webhook API failed: [`Error`] for what the sans-IO
//! API decides (refused input, error statuses, unreadable answers), and
//! [`ClientError`] (feature `client`) adding what sending can go wrong.

#[cfg(feature = "client")]
use std::time::Duration;

/// Why a request was not built or an answer not accepted. Never carries the
/// API key or a webhook secret, and never quotes an answer's body: an
/// answer to a registration holds the new webhook's secret, a list of
/// webhooks their URLs (which may hold a token or a password). Only the
/// human message of an error answer is quoted, short and redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The endpoint URL was refused before sending.
    #[error("endpoint URL {reason}")]
    InvalidEndpointUrl {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The API base URL was refused (it is never quoted: it might hold a
    /// password).
    #[error("API base URL {reason}")]
    InvalidBaseUrl {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The webhook name is empty.
    #[error("webhook name must not be empty")]
    EmptyName,
    /// The webhook id is empty, `.`, `..` or not a plain path segment.
    #[error("webhook id must be a plain id such as `sub_...`: letters, digits, `_`, `-`, `.` and `~`, not only dots")]
    InvalidId,
    /// The API key cannot be sent in a header (control characters).
    #[error("secret API key contains characters that cannot be sent in a header")]
    InvalidKey,
    /// The API key starts with neither `sk_live_` nor `sk_test_`, so
    /// `ensure` cannot tell which mode's webhook it may reuse. Found before
    /// anything is sent.
    #[error(
        "secret API key starts with neither `sk_live_` nor `sk_test_`: cannot tell whether to reuse a live or a test webhook"
    )]
    UnknownKeyMode,
    /// A webhook with the URL is registered, but Yoco's list does not say
    /// its mode, so `ensure` cannot tell whether it is the key's mode's
    /// (reusing a test webhook for live would miss every live event).
    #[error(
        "webhook {id} has this URL, but Yoco's list does not say whether it is live or test; check it in Yoco's dashboard, or delete it and register again"
    )]
    UnknownWebhookMode {
        /// The webhook's id.
        id: super::SubscriptionId,
    },
    /// Yoco refused the API key (401 or 403).
    #[error("Yoco refused the secret API key (HTTP {status}): {message}")]
    Unauthorized {
        /// The HTTP status.
        status: u16,
        /// Yoco's message.
        message: String,
    },
    /// The account has the maximum number of webhooks.
    #[error("the account has reached Yoco's limit of 5 webhooks: {message}; delete one first")]
    LimitReached {
        /// The HTTP status, when Yoco said so (none when we checked first).
        status: Option<u16>,
        /// Yoco's message, or ours.
        message: String,
    },
    /// Yoco refused the request as invalid (400 or 422).
    #[error("Yoco refused the request (HTTP {status}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// Yoco's message.
        message: String,
    },
    /// Any other error status.
    #[error("Yoco answered HTTP {status}: {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// Yoco's message, or that the answer had none (its body is never
        /// quoted).
        message: String,
    },
    /// A success status with a body that is not what the API documents.
    /// The body is not quoted: it may hold a secret or a webhook's URL.
    #[error(
        "unexpected answer from Yoco (HTTP {status}): {problem}{}",
        if *.registration { REGISTRATION_NOTE } else { "" }
    )]
    InvalidResponse {
        /// The HTTP status.
        status: u16,
        /// What is wrong with the body: `the body is not JSON`, `the body is
        /// JSON, but not of the documented shape`.
        problem: &'static str,
        /// Whether it answered a registration: the webhook may then be
        /// registered with its secret lost.
        registration: bool,
    },
}

/// What an unreadable answer to a registration means for the merchant.
const REGISTRATION_NOTE: &str = "; it answered a registration, so the webhook may be registered with its secret \
                                 lost: list the webhooks, delete it and register again";

/// Why a call through [`Client`](super::Client) failed: the API's own
/// [`Error`], or the transport. Transport errors keep reqwest's error as
/// their source, without the URL's user name or password.
#[cfg(feature = "client")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Refused before sending, or Yoco's answer was an error or unreadable.
    #[error(transparent)]
    Api(#[from] Error),
    /// The HTTP client could not start (its TLS stack, say).
    #[error("could not start the HTTP client")]
    Setup(#[source] reqwest::Error),
    /// The request could not be sent or its answer not received.
    #[error("could not reach Yoco's API")]
    Transport(#[source] reqwest::Error),
    /// No answer within the client's timeout.
    #[error("Yoco's API did not answer within {after:?}")]
    Timeout {
        /// The client's timeout.
        after: Duration,
    },
    /// The answer was larger than the client reads.
    #[error("Yoco's answer was larger than {limit} bytes")]
    AnswerTooLarge {
        /// The most the client reads.
        limit: usize,
    },
}

#[cfg(feature = "client")]
impl ClientError {
    /// The API's error, if it was one (not the transport).
    pub fn api_error(&self) -> Option<&Error> {
        match self {
            Self::Api(err) => Some(err),
            _ => None,
        }
    }
}

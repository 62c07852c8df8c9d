//! The one answer table: every status and text the crate answers Yoco with,
//! and the one conversion to a response's parts.

use http::StatusCode;

use crate::dedup::process::Processed;
use crate::filter::IgnoreReason;

/// Every answer the crate gives. Each server integration turns one into its
/// response with [`status`](Self::status), [`text`](Self::text) and
/// [`headers`](Self::headers), and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Processed,
    Duplicate,
    Ignored(IgnoreReason),
    /// The handler said the delivery is not the merchant's.
    IgnoredByHandler,
    /// Recorded in a delivery queue, for a worker to process.
    Queued,
    InProgress,
    HandlerFailed,
    StoreUnavailable,
    /// The delivery queue could not record the delivery.
    QueueUnavailable,
    NotAuthentic,
    NotAnEvent,
    BodyTooLarge,
    BodyUnreadable,
    MethodNotAllowed,
    /// The server was not given a configuration: the merchant's mistake,
    /// not the sender's (actix-web, Poem and Rocket find it at run time).
    NotConfigured,
}

/// The content type of every answer's text.
pub(crate) const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

impl Answer {
    /// The status: 2xx only where Yoco must stop retrying.
    pub(crate) const fn status(self) -> StatusCode {
        match self {
            Answer::Processed | Answer::Duplicate | Answer::Ignored(_) | Answer::IgnoredByHandler | Answer::Queued => {
                StatusCode::OK
            }
            Answer::InProgress => StatusCode::CONFLICT,
            Answer::HandlerFailed | Answer::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
            Answer::StoreUnavailable | Answer::QueueUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Answer::NotAuthentic => StatusCode::UNAUTHORIZED,
            Answer::NotAnEvent | Answer::BodyUnreadable => StatusCode::BAD_REQUEST,
            Answer::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Answer::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    /// A short text that reveals nothing of secrets, signatures, the body or
    /// the handler's error.
    pub(crate) const fn text(self) -> &'static str {
        match self {
            Answer::Processed => "processed",
            Answer::Duplicate => "duplicate",
            Answer::Ignored(IgnoreReason::NoCheckoutId) => "ignored: no checkout id",
            Answer::Ignored(IgnoreReason::ForeignCheckout) => "ignored: foreign checkout",
            Answer::Ignored(IgnoreReason::UnwantedMode) => "ignored: unwanted mode",
            Answer::IgnoredByHandler => "ignored: not for this receiver",
            Answer::Queued => "queued",
            Answer::InProgress => "in progress",
            Answer::HandlerFailed => "handler failed",
            Answer::StoreUnavailable => "store unavailable",
            Answer::QueueUnavailable => "queue unavailable",
            Answer::NotAuthentic => "webhook not authentic",
            Answer::NotAnEvent => "not a Yoco event",
            Answer::BodyTooLarge => "body too large",
            Answer::BodyUnreadable => "body could not be read",
            Answer::MethodNotAllowed => "method not allowed",
            Answer::NotConfigured => "yoco-webhooks: no YocoWebhookConfig for this route",
        }
    }

    /// The headers the answer carries besides its plain-text content type.
    pub(crate) const fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Answer::MethodNotAllowed => &[("allow", "POST")],
            _ => &[],
        }
    }

    /// The answer as an `http` response, for the servers built on the
    /// `http` types.
    #[cfg_attr(
        all(target_arch = "wasm32", target_os = "unknown"),
        allow(
            dead_code,
            reason = "http_request, which reads the system clock, is not on wasm32-unknown-unknown"
        )
    )]
    pub(crate) fn to_response<B: From<&'static str>>(self) -> http::Response<B> {
        let mut response = http::Response::new(B::from(self.text()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(TEXT_PLAIN));
        for (name, value) in self.headers() {
            headers.insert(*name, http::HeaderValue::from_static(value));
        }
        response
    }
}

impl<T, E> Processed<T, E> {
    /// The answer for Yoco.
    pub(crate) fn answer(&self) -> Answer {
        match self {
            Processed::Done { .. } => Answer::Processed,
            Processed::Duplicate => Answer::Duplicate,
            Processed::Ignored(_) => Answer::IgnoredByHandler,
            Processed::InProgress => Answer::InProgress,
            Processed::Failed(_) => Answer::HandlerFailed,
            Processed::StoreUnavailable(_) => Answer::StoreUnavailable,
        }
    }

    /// The HTTP status to answer: 200 (processed, duplicate or ignored), 409 (in
    /// progress elsewhere), 500 (the handler failed) or 503 (the store could
    /// not answer).
    pub fn status(&self) -> u16 {
        self.answer().status().as_u16()
    }

    /// [`status`](Self::status) as an [`http::StatusCode`].
    pub fn status_code(&self) -> StatusCode {
        self.answer().status()
    }

    /// A short answer text for Yoco, revealing nothing of the handler's error.
    pub fn text(&self) -> &'static str {
        self.answer().text()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY: [Answer; 17] = [
        Answer::Processed,
        Answer::Duplicate,
        Answer::Ignored(IgnoreReason::NoCheckoutId),
        Answer::Ignored(IgnoreReason::ForeignCheckout),
        Answer::Ignored(IgnoreReason::UnwantedMode),
        Answer::IgnoredByHandler,
        Answer::Queued,
        Answer::InProgress,
        Answer::HandlerFailed,
        Answer::StoreUnavailable,
        Answer::QueueUnavailable,
        Answer::NotAuthentic,
        Answer::NotAnEvent,
        Answer::BodyTooLarge,
        Answer::BodyUnreadable,
        Answer::MethodNotAllowed,
        Answer::NotConfigured,
    ];

    #[test]
    fn only_what_yoco_must_not_retry_is_2xx() {
        for answer in EVERY {
            let done = matches!(
                answer,
                Answer::Processed | Answer::Duplicate | Answer::Ignored(_) | Answer::IgnoredByHandler | Answer::Queued
            );
            assert_eq!(answer.status().is_success(), done, "{answer:?}");
        }
    }

    #[test]
    fn every_answer_has_its_own_text() {
        let mut texts: Vec<_> = EVERY.iter().map(|answer| answer.text()).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), EVERY.len());
    }

    #[test]
    fn a_405_says_what_is_allowed() {
        let response: http::Response<String> = Answer::MethodNotAllowed.to_response();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()[http::header::ALLOW], "POST");
        assert_eq!(response.headers()[http::header::CONTENT_TYPE], TEXT_PLAIN);
        assert_eq!(response.body(), "method not allowed");
        let response: http::Response<String> = Answer::Processed.to_response();
        assert!(response.headers().get(http::header::ALLOW).is_none());
    }
}

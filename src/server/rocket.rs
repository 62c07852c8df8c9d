//! The Rocket 0.5 integration: [`YocoWebhook`] is a data guard that
//! verifies, parses and filters the delivery, and processes it at most
//! once. It is configured through Rocket's managed state, as Rocket's own
//! `State` guard is.
//!
//! ```
//! use rocket::{post, routes};
//! use yoco_webhooks::{Answered, CheckoutFilter, Receiver, Verifier, WebhookSecret};
//! use yoco_webhooks::{Processed, YocoWebhook, YocoWebhookConfig};
//!
//! #[post("/webhooks/yoco", data = "<webhook>")]
//! async fn yoco(webhook: Result<YocoWebhook, Answered>) -> Result<Processed<(), std::io::Error>, Answered> {
//!     // Not yours, not authentic, ...: answered as it is, without your code running.
//!     let processed = webhook?
//!         .process(|delivery| async move {
//!             println!("{} for {:?}", delivery.event.event_type(), delivery.event.checkout_id());
//!             Ok(()) // an Err answers 500, and Yoco retries
//!         })
//!         .await;
//!     Ok(processed)
//! }
//!
//! let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let config = YocoWebhookConfig::new(Receiver::new(Verifier::new(secret), CheckoutFilter::any()));
//! let rocket = rocket::build().manage(config).mount("/", routes![yoco]);
//! # Ok::<(), yoco_webhooks::SecretError>(())
//! ```
//!
//! The handler names no store: [`YocoWebhookConfig::with_store`] picks it
//! (memory by default, Redis or PostgreSQL for several instances; see the
//! [stores guide](crate::guide::stores), which also shows
//! [`YocoWebhook::process_claimed`] completing the delivery inside your
//! own database transaction). `examples/rocket_receiver.rs` in the
//! repository is a complete receiver to copy, with the same contract as the
//! axum one (and 405 for other methods).
//!
//! # The handler's shape
//!
//! Take `Result<YocoWebhook, Answered>` and answer
//! `Result<Processed<T, E>, Answered>`, as above: both are Rocket
//! `Responder`s, so every case gets the crate's status and short text,
//! and an event that is not yours gets its 200 (`ignored: foreign
//! checkout`, ...) without your code running. A bare `YocoWebhook` works
//! too, but leaves each answer to Rocket's catchers: the same statuses
//! (an ignored event is a 200 "error"), with Rocket's bodies instead of
//! ours. Match on the `Err` to log which check failed
//! (`Answered::Refused` keeps the [`YocoRejection`] and its cause).
//!
//! The answers: 200 processed, ignored (not your checkout or mode) or
//! duplicate; 401 not authentic; 400 not a Yoco event or an unreadable body;
//! 413 body over the limit (refused while reading, with or without
//! `content-length`); 409 in progress elsewhere; 500 your handler failed,
//! or no [`YocoWebhookConfig`] is managed (a configuration mistake, not the
//! sender's); 503 the deduplication store could not answer. Rocket answers
//! 404 to a method no route is mounted for, so a `POST` route never sees
//! another method; a [`YocoRejection::MethodNotAllowed`] answers 405 with
//! `Allow: POST` where you route other methods to it. An `Err` from your
//! handler answers 500; with the `tracing` feature the crate logs it (its
//! `Display`, field `error`, at ERROR) as `handler failed: answered 500,
//! Yoco retries`.
//!
//! # Body limit
//!
//! The smaller of [`YocoWebhookConfig::body_limit`] (1 MiB by default) and
//! Rocket's own limit named [`LIMIT_NAME`] (`yoco-webhook`, e.g.
//! `ROCKET_LIMITS={yoco-webhook="64 KiB"}`; none by default) bounds what is
//! read, before reading when `content-length` says so.
//!
//! [`YocoRejection`]: crate::YocoRejection
//! [`YocoRejection::MethodNotAllowed`]: crate::YocoRejection::MethodNotAllowed
//! [`YocoWebhook`]: crate::YocoWebhook
//! [`YocoWebhook::process_claimed`]: crate::YocoWebhook::process_claimed
//! [`YocoWebhookConfig`]: crate::YocoWebhookConfig
//! [`YocoWebhookConfig::with_store`]: crate::YocoWebhookConfig::with_store
//! [`YocoWebhookConfig::body_limit`]: crate::YocoWebhookConfig::body_limit

use ::rocket::Request;
use ::rocket::data::{self, Data, FromData};
use ::rocket::http::{Header, HeaderMap, Status};
use ::rocket::outcome::Outcome;
use ::rocket::response::{self, Responder, Response};
use bytes::Bytes;

use crate::dedup::process::Processed;
use crate::headers::{Headers, Lookup};
use crate::server::answer::{Answer, TEXT_PLAIN};
use crate::server::{Answered, YocoRejection, YocoWebhook, YocoWebhookConfig};

/// The name of Rocket's data limit that applies to this guard besides
/// [`YocoWebhookConfig::body_limit`].
pub const LIMIT_NAME: &str = "yoco-webhook";

#[::rocket::async_trait]
impl<'r> FromData<'r> for YocoWebhook {
    type Error = Answered;

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        let Some(config) = request.rocket().state::<YocoWebhookConfig>() else {
            return Outcome::Error((status(Answer::NotConfigured), YocoRejection::NotConfigured.into()));
        };
        let rockets = request.limits().get(LIMIT_NAME).map(|limit| limit.as_u64());
        let rockets = rockets.map_or(usize::MAX, |limit| usize::try_from(limit).unwrap_or(usize::MAX));
        let read = |limit| read_body(data, limit);
        let method = request.method().as_str();
        match config.extract_within(rockets, method, request.headers(), read).await {
            Ok(webhook) => Outcome::Success(webhook),
            Err(answered) => Outcome::Error((status(answered.answer()), answered)),
        }
    }
}

/// Reads the whole body, refusing it once it passes `limit`.
async fn read_body(data: Data<'_>, limit: usize) -> Result<Bytes, YocoRejection> {
    let limit = u64::try_from(limit).unwrap_or(u64::MAX);
    match data.open(limit.into()).into_bytes().await {
        Ok(body) if body.is_complete() => Ok(Bytes::from(body.into_inner())),
        Ok(_) => Err(YocoRejection::BodyTooLarge),
        Err(err) => Err(YocoRejection::BodyUnreadable(Box::new(err))),
    }
}

impl Headers for HeaderMap<'_> {
    fn lookup(&self, name: &str) -> Lookup<'_> {
        // Rocket's `get` matches names ignoring case and yields each value.
        let mut values = self.get(name);
        match (values.next(), values.next()) {
            (None, _) => Lookup::Missing,
            (Some(value), None) => Lookup::One(value.as_bytes()),
            (Some(_), Some(_)) => Lookup::Repeated,
        }
    }
}

impl<'r> Responder<'r, 'static> for Answered {
    fn respond_to(self, _request: &'r Request<'_>) -> response::Result<'static> {
        respond(self.answer())
    }
}

impl<'r, T, E> Responder<'r, 'static> for Processed<T, E> {
    fn respond_to(self, _request: &'r Request<'_>) -> response::Result<'static> {
        respond(self.answer())
    }
}

/// The answer's status as Rocket's type: the one conversion.
fn status(answer: Answer) -> Status {
    Status::new(answer.status().as_u16())
}

fn respond(answer: Answer) -> response::Result<'static> {
    let mut response = Response::build();
    response
        .status(status(answer))
        .header(Header::new("content-type", TEXT_PLAIN));
    for (name, value) in answer.headers() {
        response.header(Header::new(*name, *value));
    }
    let text = answer.text();
    response.sized_body(text.len(), std::io::Cursor::new(text)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_map_reports_one_missing_and_repeated_ignoring_case() {
        let mut map = HeaderMap::new();
        map.add(Header::new("Webhook-Id", "msg_1"));
        map.add(Header::new("webhook-signature", "v1,a"));
        map.add(Header::new("WEBHOOK-SIGNATURE", "v1,b"));
        assert_eq!(map.lookup(crate::headers::WEBHOOK_ID), Lookup::One(b"msg_1"));
        assert_eq!(map.lookup(crate::headers::WEBHOOK_TIMESTAMP), Lookup::Missing);
        assert_eq!(map.lookup(crate::headers::WEBHOOK_SIGNATURE), Lookup::Repeated);
    }

    #[test]
    fn a_405_says_what_is_allowed() {
        let response = respond(Answer::MethodNotAllowed).unwrap();
        assert_eq!(response.status(), Status::MethodNotAllowed);
        assert_eq!(response.headers().get_one("allow"), Some("POST"));
        assert_eq!(response.headers().get_one("content-type"), Some(TEXT_PLAIN));
        let response = respond(Answer::Ignored(crate::IgnoreReason::ForeignCheckout)).unwrap();
        assert_eq!(response.status(), Status::Ok);
        assert_eq!(response.headers().get_one("allow"), None);
    }
}

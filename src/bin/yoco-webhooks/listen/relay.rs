//! One delivery from Yoco, through the tunnel, to the app: read with a body
//! limit, verified with the secret Yoco returned, re-signed with the local
//! secret (the same `webhook-id` and body bytes, a fresh timestamp), posted
//! to the app, and answered with the app's status and (bounded) body, so
//! that Yoco retries exactly when it would in production.

use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use yoco_webhooks::testing::Signer;
use yoco_webhooks::{Event, Verifier};

use yoco_webhooks::registration::RevealedSecret;

use super::local_secret::LocalSecret;
use super::report::{Line, Report, Summary, Verdict};
use crate::failure::{Failure, one_line};

/// The largest delivery read (Yoco's are a few KiB; Svix sends up to about
/// 350 KB).
const BODY_LIMIT: usize = 1024 * 1024;

/// The most of the app's answer relayed to Yoco.
const ANSWER_LIMIT: usize = 64 * 1024;

/// How long the app may take: Yoco waits about 15 seconds.
const APP_TIMEOUT: Duration = Duration::from_secs(10);

/// What every delivery goes through.
#[derive(Debug)]
pub(super) struct Relay {
    /// Verifies with the secret Yoco returned at registration.
    verifier: Verifier,
    /// Signs with the local secret.
    signer: Signer,
    /// The app's endpoint.
    forward_to: String,
    /// Posts to the app, with [`APP_TIMEOUT`] and no redirects.
    http: reqwest::Client,
    report: Report,
}

/// An answer: a status, a content type, a body.
fn answer(status: StatusCode, content_type: Option<HeaderValue>, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    if let Some(content_type) = content_type {
        response.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    response
}

/// A short text answer of listen's own.
fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    answer(
        status,
        Some(HeaderValue::from_static("text/plain; charset=utf-8")),
        Bytes::from_static(body.as_bytes()),
    )
}

impl Relay {
    /// A relay that verifies with the secret Yoco returned and signs with
    /// the local secret.
    pub(super) fn new(
        yoco: &RevealedSecret,
        local: &LocalSecret,
        forward_to: &str,
        report: Report,
    ) -> Result<Self, Failure> {
        let secret = yoco
            .to_webhook_secret()
            .map_err(|err| Failure(1, format!("Yoco returned a webhook secret that does not parse: {err}")))?;
        let http = reqwest::Client::builder()
            .timeout(APP_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| Failure(1, format!("could not start the HTTP client: {}", one_line(&err))))?;
        Ok(Self {
            verifier: Verifier::new(secret),
            signer: Signer::new(local.secret().clone()),
            forward_to: forward_to.to_owned(),
            http,
            report,
        })
    }

    /// Answers one request from the tunnel, and prints its line.
    pub(super) async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        if request.method() != Method::POST {
            let mut refused = text(StatusCode::METHOD_NOT_ALLOWED, "yoco-webhooks listen takes POST\n");
            refused.headers_mut().insert(ALLOW, HeaderValue::from_static("POST"));
            return refused;
        }
        let (parts, body) = request.into_parts();
        let webhook_id = ["webhook-id", "svix-id"]
            .iter()
            .find_map(|name| parts.headers.get(*name))
            .map(|id| String::from_utf8_lossy(id.as_bytes()).into_owned());
        let mut line = Line {
            webhook_id,
            summary: Summary::default(),
            verdict: Verdict::Refused(String::new()),
            answered: 0,
        };
        let body = match Limited::new(body, BODY_LIMIT).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) => {
                let (status, reason) = if err.downcast_ref::<LengthLimitError>().is_some() {
                    (StatusCode::PAYLOAD_TOO_LARGE, format!("body over {BODY_LIMIT} bytes"))
                } else {
                    (StatusCode::BAD_REQUEST, format!("body unreadable: {err}"))
                };
                return self.finish(line, Verdict::Refused(reason), text(status, "body refused\n"));
            }
        };
        let verified_id = match self.verifier.verify(&parts.headers, &body) {
            Ok(verified) => verified.webhook_id().to_owned(),
            Err(err) => {
                let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::UNAUTHORIZED);
                return self.finish(line, Verdict::Refused(err.to_string()), text(status, "not authentic\n"));
            }
        };
        if let Ok(event) = Event::from_slice(&body) {
            line.summary = Summary::of(&event);
        }
        let content_type = parts.headers.get(CONTENT_TYPE).cloned();
        match self.forward(&verified_id, content_type, body).await {
            Ok((status, content_type, body)) => {
                if status == StatusCode::UNAUTHORIZED {
                    self.report.app_refused_signature();
                }
                self.finish(line, Verdict::App(status.as_u16()), answer(status, content_type, body))
            }
            Err((status, reason)) => self.finish(
                line,
                Verdict::NoAnswer(reason),
                text(status, "the app did not answer\n"),
            ),
        }
    }

    /// Prints the line and gives the answer.
    fn finish(&self, mut line: Line, verdict: Verdict, answer: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
        line.verdict = verdict;
        line.answered = answer.status().as_u16();
        self.report.delivery(&line);
        answer
    }

    /// Posts the body to the app, signed anew as `webhook_id`; its status,
    /// content type and body (at most [`ANSWER_LIMIT`] bytes), or the status
    /// to answer Yoco instead (502, or 504 after [`APP_TIMEOUT`]) and why.
    async fn forward(
        &self,
        webhook_id: &str,
        content_type: Option<HeaderValue>,
        body: Bytes,
    ) -> Result<(StatusCode, Option<HeaderValue>, Bytes), (StatusCode, String)> {
        let headers = self.signer.sign_now(webhook_id, &body);
        let content_type = content_type.unwrap_or_else(|| HeaderValue::from_static("application/json"));
        let mut request = self
            .http
            .post(&self.forward_to)
            .header(CONTENT_TYPE, content_type)
            .body(body);
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        let failed = |err: reqwest::Error| {
            let status = if err.is_timeout() {
                StatusCode::GATEWAY_TIMEOUT
            } else {
                StatusCode::BAD_GATEWAY
            };
            (status, one_line(&err.without_url()))
        };
        let mut response = request.send().await.map_err(failed)?;
        let status = response.status();
        let content_type = response.headers().get(CONTENT_TYPE).cloned();
        let mut relayed = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            let room = ANSWER_LIMIT.saturating_sub(relayed.len());
            relayed.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
            if relayed.len() >= ANSWER_LIMIT {
                break;
            }
        }
        Ok((status, content_type, Bytes::from(relayed)))
    }
}

//! The streaming body limit, through its public door: axum's extractor
//! (`YocoWebhook: FromRequest`), which reads an `http-body` body with the
//! configured limit (the private `pipeline::body::read_limited`).
//!
//! Input layout: `u16` (big-endian) body limit, a byte of how many spaces
//! to append to the documented sample (the signed body, so every body is
//! an event Yoco could send), a flag byte, then chunk lengths, one byte
//! each, cutting the body into frames (the rest in a last frame). Flags:
//!
//! | bit | meaning |
//! |---|---|
//! | 0 | send `content-length` |
//! | 1 | ... stating the length minus the next byte (a lie, smaller) |
//! | 2 | ... stating the length plus the next byte (a lie, larger) |
//! | 3 | a trailers frame between the data frames |
//! | 4 | the body fails after its last data frame |
//! | 5 | an empty data frame before each chunk |
//!
//! Properties: never panics; a declared length over the limit is refused
//! with 413 before reading; otherwise a body over the limit is 413 however
//! it is cut; a body that fails within the limit is refused as unreadable
//! (400); any other body is read whole, byte for byte, and verifies.
#![no_main]

mod common;

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use axum::extract::{FromRequest as _, Request};
use bytes::Bytes;
use http_body::Frame;
use libfuzzer_sys::fuzz_target;
use yoco_webhooks::testing::{DOCUMENTED_SAMPLE, Signer};
use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, Answered, YocoRejection, YocoWebhook, YocoWebhookConfig};

const DECLARE_LENGTH: u8 = 1 << 0;
const DECLARE_LESS: u8 = 1 << 1;
const DECLARE_MORE: u8 = 1 << 2;
const TRAILERS: u8 = 1 << 3;
const FAIL_AT_END: u8 = 1 << 4;
const EMPTY_FRAMES: u8 = 1 << 5;

/// A body that hands out its frames one by one, then perhaps an error.
struct Frames {
    frames: VecDeque<Frame<Bytes>>,
    fail_at_end: bool,
}

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.frames.pop_front() {
            Some(frame) => Poll::Ready(Some(Ok(frame))),
            None if self.fail_at_end => {
                self.fail_at_end = false;
                Poll::Ready(Some(Err(std::io::Error::other("connection reset"))))
            }
            None => Poll::Ready(None),
        }
    }
}

fn receiver() -> &'static Receiver {
    static RECEIVER: OnceLock<Receiver> = OnceLock::new();
    RECEIVER.get_or_init(|| Receiver::new(Verifier::new(common::secret()), CheckoutFilter::any()))
}

/// Polls a future that never waits (the body is always ready) to its end.
fn now_or_never<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("extraction waited on a body that is always ready"),
    }
}

fuzz_target!(|data: &[u8]| {
    let [limit_high, limit_low, spaces, flags, lie, cuts @ ..] = data else {
        return;
    };
    let limit = usize::from(u16::from_be_bytes([*limit_high, *limit_low]));
    let mut body = DOCUMENTED_SAMPLE.as_bytes().to_vec();
    body.resize(body.len() + usize::from(*spaces), b' ');
    let body = Bytes::from(body);
    let headers = Signer::new(common::secret()).sign_now("msg_1", &body);

    let mut frames = VecDeque::new();
    let mut rest = body.clone();
    for &cut in cuts {
        if flags & EMPTY_FRAMES != 0 {
            frames.push_back(Frame::data(Bytes::new()));
        }
        let chunk = rest.split_to(usize::from(cut).min(rest.len()));
        frames.push_back(Frame::data(chunk));
        if flags & TRAILERS != 0 && frames.len() == 2 {
            frames.push_back(Frame::trailers(http::HeaderMap::new()));
        }
    }
    frames.push_back(Frame::data(rest));
    let fails = flags & FAIL_AT_END != 0;

    let mut request = http::Request::post("/webhooks/yoco");
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    let declared = if flags & DECLARE_LENGTH == 0 {
        None
    } else if flags & DECLARE_LESS != 0 {
        Some(body.len().saturating_sub(usize::from(*lie)))
    } else if flags & DECLARE_MORE != 0 {
        Some(body.len() + usize::from(*lie))
    } else {
        Some(body.len())
    };
    if let Some(declared) = declared {
        request = request.header("content-length", declared);
    }
    let request: Request = request
        .body(axum::body::Body::new(Frames {
            frames,
            fail_at_end: fails,
        }))
        .expect("a valid request");

    let config = YocoWebhookConfig::new_without_dedup(receiver().clone()).body_limit(limit);
    let extracted: Result<YocoWebhook, Answered> = now_or_never(YocoWebhook::from_request(request, &config));
    let status = |result: &Result<YocoWebhook, Answered>| match result {
        Ok(_) => 200,
        Err(rejection) => rejection.status(),
    };
    if declared.is_some_and(|declared| declared > limit) || body.len() > limit {
        assert!(
            matches!(extracted, Err(Answered::Refused(YocoRejection::BodyTooLarge))),
            "{} bytes, declared {declared:?}, limit {limit}: {}",
            body.len(),
            status(&extracted)
        );
    } else if fails {
        assert!(
            matches!(extracted, Err(Answered::Refused(YocoRejection::BodyUnreadable(_)))),
            "{}",
            status(&extracted)
        );
        assert_eq!(status(&extracted), 400);
    } else {
        match extracted {
            Ok(webhook) => assert_eq!(webhook.delivery().body(), &body[..]),
            Err(rejection) => panic!("{} bytes within {limit}: {rejection:?}", body.len()),
        }
    }
});

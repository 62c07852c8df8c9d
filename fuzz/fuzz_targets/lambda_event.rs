//! Lambda events as raw JSON, decoded as the runtime decodes them
//! (`lambda_http::request::from_str`) and handled by `lambda::handle`.
//!
//! Two kinds of input, by the first byte:
//! - not 0: the rest is the event JSON as it is;
//! - 0: an event is made from choices: a flag byte, then how many spaces
//!   follow the documented sample in the (signed) body. Flags:
//!
//! | bit | meaning |
//! |---|---|
//! | 0 | the v2 event (HTTP API) rather than v1 (REST API) |
//! | 1 | the body base64-encoded (`isBase64Encoded`) |
//! | 2 | method `GET`, not `POST` |
//! | 3 | no `webhook-signature` header |
//! | 4 | header names in upper case |
//! | 5 | (v2) `webhook-id` sent twice: joined with a comma |
//! | 6 | one byte of the body changed after signing |
//!
//! Properties: never panics (but in `lambda_http`'s own decoding, before
//! `handle`, which the runtime catches: see `decoded`); any event answers one of 200, 400, 401, 405
//! or 413 (the handler succeeds and the store is in memory, so nothing
//! else); the handler runs only on a 200; a made event answers 405 for a
//! `GET`, else 401 when unsigned, repeated or changed, else 200 with the
//! handler given the body byte for byte, base64 or not.
#![no_main]

mod common;

use std::cell::RefCell;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use yoco_webhooks::lambda::lambda_http::Request;
use yoco_webhooks::lambda::lambda_http::request::from_str;
use yoco_webhooks::{YocoWebhookConfig, lambda::handle};
use yoco_webhooks::testing::{DOCUMENTED_SAMPLE, Signer};
use yoco_webhooks::{CheckoutFilter, Receiver, Verifier};

const V2: u8 = 1 << 0;
const BASE64: u8 = 1 << 1;
const GET: u8 = 1 << 2;
const UNSIGNED: u8 = 1 << 3;
const UPPER_CASE: u8 = 1 << 4;
const REPEATED_ID: u8 = 1 << 5;
const CHANGED: u8 = 1 << 6;

fn config() -> YocoWebhookConfig {
    static RECEIVER: OnceLock<Receiver> = OnceLock::new();
    let receiver = RECEIVER.get_or_init(|| Receiver::new(Verifier::new(common::secret()), CheckoutFilter::any()));
    // A fresh store each time: a retry of an earlier input is not a duplicate.
    YocoWebhookConfig::new(receiver.clone())
}

/// Polls a future that never waits (the memory store answers at once).
fn now_or_never<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("handling waited"),
    }
}

/// The request `lambda_http` decodes from the event, as the runtime does.
/// `lambda_http` (and `aws_lambda_events` under it) panic on some events:
/// a body marked `isBase64Encoded` that is not base64 (documented), a
/// `domainName` or `host` that makes no URL (an `unwrap`). That is the
/// runtime's decoding, before `handle`; `lambda_runtime`'s panic layer
/// catches it and fails the invocation. Caught here as there: such events
/// are left out, and a panic anywhere else still ends the run.
fn decoded(event: &str) -> Option<Request> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let decoded = std::panic::catch_unwind(|| from_str(event));
    std::panic::set_hook(hook);
    decoded.ok()?.ok()
}

/// The status, and the body the handler was given, if it ran.
fn handled(event: &str) -> Option<(u16, Option<Vec<u8>>)> {
    let request = decoded(event)?;
    let seen = RefCell::new(None);
    let response = now_or_never(handle(&config(), request, |delivery| {
        *seen.borrow_mut() = Some(delivery.body().to_vec());
        async { Ok::<(), std::io::Error>(()) }
    }));
    let status = response.status().as_u16();
    assert!([200, 400, 401, 405, 413].contains(&status), "{status}");
    let seen = seen.into_inner();
    assert!(seen.is_none() || status == 200, "the handler ran, yet {status}");
    Some((status, seen))
}

fn made(flags: u8, spaces: u8) {
    let mut body = DOCUMENTED_SAMPLE.as_bytes().to_vec();
    body.resize(body.len() + usize::from(spaces), b' ');
    let headers = Signer::new(common::secret()).sign_now("msg_1", &body);
    if flags & CHANGED != 0 {
        body[10] ^= 1;
    }
    let method = if flags & GET != 0 { "GET" } else { "POST" };
    let name = |name: &str| {
        if flags & UPPER_CASE != 0 {
            name.to_ascii_uppercase()
        } else {
            name.to_owned()
        }
    };
    let mut header_object = serde_json::Map::new();
    for (header, value) in headers.pairs() {
        if header == "webhook-signature" && flags & UNSIGNED != 0 {
            continue;
        }
        let value = if header == "webhook-id" && flags & REPEATED_ID != 0 && flags & V2 != 0 {
            format!("{value},{value}")
        } else {
            value.to_owned()
        };
        header_object.insert(name(header), json!(value));
    }
    let base64 = flags & BASE64 != 0;
    let encoded = if base64 {
        base64::engine::general_purpose::STANDARD.encode(&body)
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    let event = if flags & V2 != 0 {
        json!({
            "version": "2.0", "routeKey": "POST /webhooks/yoco", "rawPath": "/webhooks/yoco", "rawQueryString": "",
            "headers": Value::Object(header_object),
            "requestContext": {
                "accountId": "123456789012", "apiId": "abcdefgh",
                "domainName": "abcdefgh.execute-api.af-south-1.amazonaws.com",
                "domainPrefix": "abcdefgh", "requestId": "id", "routeKey": "POST /webhooks/yoco",
                "stage": "$default", "time": "01/Dec/2026:12:00:00 +0000", "timeEpoch": 1_796_126_400_000_u64,
                "http": {"method": method, "path": "/webhooks/yoco", "protocol": "HTTP/1.1",
                         "sourceIp": "192.0.2.1", "userAgent": "Yoco"}
            },
            "body": encoded, "isBase64Encoded": base64,
        })
    } else {
        let multi: serde_json::Map<String, Value> = header_object
            .iter()
            .map(|(header, value)| (header.clone(), json!([value])))
            .collect();
        json!({
            "resource": "/webhooks/yoco", "path": "/webhooks/yoco", "httpMethod": method,
            "headers": Value::Object(header_object), "multiValueHeaders": Value::Object(multi),
            "queryStringParameters": null, "multiValueQueryStringParameters": null,
            "pathParameters": null, "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012", "resourceId": "abc123", "stage": "prod",
                "requestId": "c6af9ac6", "identity": {"sourceIp": "192.0.2.1"},
                "resourcePath": "/webhooks/yoco", "httpMethod": method, "apiId": "1234567890",
                "path": "/prod/webhooks/yoco"
            },
            "body": encoded, "isBase64Encoded": base64,
        })
    };
    let (status, seen) = handled(&event.to_string()).expect("a made event decodes");
    let expected = if flags & GET != 0 {
        405
    } else if flags & (UNSIGNED | CHANGED) != 0 || (flags & REPEATED_ID != 0 && flags & V2 != 0) {
        401
    } else {
        200
    };
    assert_eq!(status, expected, "flags {flags:#010b}");
    if status == 200 {
        assert_eq!(seen.as_deref(), Some(&body[..]), "the body as signed");
    }
}

fuzz_target!(|data: &[u8]| {
    match data {
        [0, flags, spaces, ..] => made(*flags, *spaces),
        [0, ..] | [] => {}
        [_, event @ ..] => {
            if let Ok(event) = std::str::from_utf8(event) {
                let _ = handled(event);
            }
        }
    }
});

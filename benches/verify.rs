//! Verification cost against two anchors measured in the same run: the
//! `standardwebhooks` crate, and the floor (a bare pre-keyed HMAC-SHA256 over
//! the same bytes and a constant-time compare, with nothing parsed).
//!
//! Receiving (verify, parse, filter) is measured for a processed event, for
//! a foreign one (answered from the one reader), and against the floor plus a plain owned
//! `serde_json` parse into equivalent types (`receive/464B/owned_parse`),
//! the floor plus the same parse borrowed, without an allocation
//! (`receive/464B/borrowed_parse`), and the floor plus `serde_json`'s
//! syntax check of the body alone (`receive/464B/syntax_check`); and the
//! last two with `simd-json`, the SIMD parser, instead
//! (`receive/464B/simd_borrowed_parse`, `receive/464B/simd_syntax_check`).
//!
//! The diagnosis of a refused request (`diagnose/...`), which runs only
//! when asked, is measured beside verification of the same request: a body
//! changed by a trailing newline (found after a few HMACs), and a hostile
//! request, 1 MiB of JSON and 10 000 signature entries, which costs every
//! HMAC the diagnosis allows and no more.
//!
//! Run with `cargo bench --bench verify`; `scripts/bench-table.py` turns the
//! results into the README's table.

// Set-up code: a bad constant should stop the benchmark loudly.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;
use yoco_webhooks::testing::{DOCUMENTED_SAMPLE, SampleEvent, Signer};
use yoco_webhooks::{CheckoutFilter, Diagnosis, Outcome, Receiver, Verifier, WebhookSecret};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const KEY: &str = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WEBHOOK_ID: &str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";

/// A `payment.succeeded` body of exactly 16 KiB (merchant metadata padded).
fn event_of_16_kib() -> Vec<u8> {
    let base = SampleEvent::payment_succeeded().metadata("notes", "").to_json();
    let padding = 16 * 1024 - base.len();
    let body = SampleEvent::payment_succeeded()
        .metadata("notes", "x".repeat(padding))
        .to_json();
    assert_eq!(body.len(), 16 * 1024);
    body
}

/// The headers of a delivery as a server sees them: the three webhook
/// headers among the usual ones, signed now (`standardwebhooks` checks
/// against the system clock).
fn request_headers(secret: &WebhookSecret, body: &[u8]) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for (name, value) in [
        ("host", "shop.example.com"),
        (
            "user-agent",
            "Svix-Webhooks/1.62.0 (sender-abc123; +https://www.svix.com/http-sender/)",
        ),
        ("content-type", "application/json"),
        ("content-length", "464"),
        ("accept", "*/*"),
        ("accept-encoding", "gzip"),
        ("x-forwarded-for", "203.0.113.7"),
        ("x-forwarded-proto", "https"),
        ("x-request-id", "5f0c7a9e-2d1b-4c3e-9f8a-7b6d5e4c3b2a"),
    ] {
        headers.insert(name, http::HeaderValue::from_static(value));
    }
    headers.extend(
        Signer::new(secret.clone())
            .sign_now(WEBHOOK_ID, body)
            .to_header_map()
            .unwrap(),
    );
    headers
}

fn bench_verify(c: &mut Criterion, name: &str, body: &[u8]) {
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let headers = request_headers(&secret, body);
    let now = OffsetDateTime::now_utc();
    let verifier = Verifier::new(secret);
    let theirs = standardwebhooks::Webhook::new(SECRET).unwrap();

    let floor = Floor::new(&headers, body);

    assert!(verifier.verify_at(&headers, body, now).is_ok());
    assert!(theirs.verify(body, &headers).is_ok());
    assert!(floor.check(body));

    let mut group = c.benchmark_group(format!("verify/{name}"));
    group.throughput(Throughput::Bytes(body.len() as u64));
    // `now` given, as a handler passes the time of its request.
    group.bench_function("yoco_webhooks", |b| {
        b.iter(|| {
            verifier
                .verify_at(black_box(&headers), black_box(body), black_box(now))
                .is_ok()
        })
    });
    // `verify`, which reads the system clock on every call like `standardwebhooks` does.
    group.bench_function("yoco_webhooks_clock", |b| {
        b.iter(|| verifier.verify(black_box(&headers), black_box(body)).is_ok())
    });
    group.bench_function("standardwebhooks", |b| {
        b.iter(|| theirs.verify(black_box(body), black_box(&headers)).is_ok())
    });
    group.bench_function("floor", |b| b.iter(|| floor.check(body)));
    group.finish();
}

/// The floor: a bare pre-keyed HMAC-SHA256 of the signed content and a
/// constant-time compare, parsing nothing.
struct Floor {
    keyed: Hmac<Sha256>,
    timestamp: Vec<u8>,
    expected: [u8; 32],
}

impl Floor {
    fn new(headers: &http::HeaderMap, body: &[u8]) -> Self {
        let keyed = Hmac::<Sha256>::new_from_slice(&base64_decode(KEY)).unwrap();
        let timestamp = headers["webhook-timestamp"].as_bytes().to_vec();
        let mut mac = keyed.clone();
        for part in [WEBHOOK_ID.as_bytes(), b".", &timestamp, b".", body] {
            mac.update(part);
        }
        let expected = mac.finalize().into_bytes().into();
        Self {
            keyed,
            timestamp,
            expected,
        }
    }

    /// Whether `body` carries the signature: the work measured.
    fn check(&self, body: &[u8]) -> bool {
        let mut mac = self.keyed.clone();
        mac.update(black_box(WEBHOOK_ID.as_bytes()));
        mac.update(b".");
        mac.update(black_box(&self.timestamp));
        mac.update(b".");
        mac.update(black_box(body));
        let tag: [u8; 32] = mac.finalize().into_bytes().into();
        bool::from(tag.ct_eq(black_box(&self.expected)))
    }
}

/// A plain owned `serde_json` parse of the event into types equivalent to
/// the crate's (derived `Deserialize`, `String`s, the same two dates and a
/// map of the other metadata): the anchor for the receiver's own parse.
mod plain {
    use serde::Deserialize;
    use time::OffsetDateTime;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    pub(crate) struct Event {
        id: String,
        #[serde(rename = "type")]
        event_type: String,
        #[serde(with = "time::serde::rfc3339")]
        created_date: OffsetDateTime,
        payload: Payment,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Payment {
        id: String,
        #[serde(with = "time::serde::rfc3339")]
        created_date: OffsetDateTime,
        amount: i64,
        currency: String,
        status: String,
        mode: String,
        payment_method_details: Option<Details>,
        metadata: Metadata,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Details {
        #[serde(rename = "type")]
        method: String,
        card: Option<Card>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Card {
        expiry_month: Option<u8>,
        expiry_year: Option<u16>,
        masked_card: Option<String>,
        scheme: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Metadata {
        checkout_id: Option<String>,
        #[serde(flatten)]
        other: serde_json::Map<String, serde_json::Value>,
    }
}

#[path = "support/borrowed_event.rs"]
mod borrowed;

fn bench_receive(c: &mut Criterion) {
    let body = DOCUMENTED_SAMPLE.as_bytes();
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let headers = request_headers(&secret, body);
    let now = OffsetDateTime::now_utc();
    let receiver = Receiver::new(
        Verifier::new(secret.clone()),
        CheckoutFilter::checkout("ch_9LVKD8GnAj7f39DFbn4F16bE"),
    );
    assert!(matches!(
        receiver.receive_at(&headers, body, now),
        Ok(Outcome::Process(_))
    ));
    // The same delivery at an endpoint whose checkouts are others'.
    let elsewhere = Receiver::new(
        Verifier::new(secret),
        CheckoutFilter::checkout("ch_2uXvWq7Bm4KpLr9TzNc3HdYe"),
    );
    assert!(matches!(
        elsewhere.receive_at(&headers, body, now),
        Ok(Outcome::Ignore(_))
    ));

    // The floor, as in `verify/464B/floor`, plus a plain parse.
    let floor = Floor::new(&headers, body);
    assert!(floor.check(body));
    assert!(serde_json::from_slice::<plain::Event>(body).is_ok());
    assert!(serde_json::from_slice::<borrowed::Event>(body).is_ok());
    let floor = || floor.check(body);

    let mut group = c.benchmark_group("receive/464B");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("yoco_webhooks", |b| {
        b.iter(|| {
            receiver
                .receive_at(black_box(&headers), black_box(body), black_box(now))
                .is_ok()
        })
    });
    group.bench_function("yoco_webhooks_ignored", |b| {
        b.iter(|| {
            elsewhere
                .receive_at(black_box(&headers), black_box(body), black_box(now))
                .is_ok()
        })
    });
    group.bench_function("owned_parse", |b| {
        b.iter(|| floor() && serde_json::from_slice::<plain::Event>(black_box(body)).is_ok())
    });
    // Ceilings: the least a typed `serde_json` parse costs (borrowed, no
    // allocation), and the least any decision does that checks every
    // byte's JSON syntax, as a foreign event's must (`serde_json` reading
    // the body into nothing).
    group.bench_function("borrowed_parse", |b| {
        b.iter(|| floor() && serde_json::from_slice::<borrowed::Event>(black_box(body)).is_ok())
    });
    group.bench_function("syntax_check", |b| {
        b.iter(|| floor() && serde_json::from_slice::<serde::de::IgnoredAny>(black_box(body)).is_ok())
    });
    // The same two with the fastest parser there is, SIMD: it rewrites its
    // input, so each pass copies the body into a buffer kept with its own
    // (as a receiver using it would).
    let mut buffers = simd_json::Buffers::new(body.len());
    let mut copy = body.to_vec();
    let mut simd = |check: fn(&mut [u8], &mut simd_json::Buffers) -> bool| {
        copy.copy_from_slice(black_box(body));
        check(&mut copy, &mut buffers)
    };
    assert!(simd(simd_borrowed_parse) && simd(simd_syntax_check));
    group.bench_function("simd_borrowed_parse", |b| {
        b.iter(|| floor() && simd(simd_borrowed_parse))
    });
    group.bench_function("simd_syntax_check", |b| b.iter(|| floor() && simd(simd_syntax_check)));
    group.finish();
}

/// `simd-json`'s typed parse into the borrowed shape.
fn simd_borrowed_parse(body: &mut [u8], buffers: &mut simd_json::Buffers) -> bool {
    simd_json::serde::from_slice_with_buffers::<borrowed::Event>(body, buffers).is_ok()
}

/// `simd-json` reading the body into nothing: its syntax check.
fn simd_syntax_check(body: &mut [u8], buffers: &mut simd_json::Buffers) -> bool {
    simd_json::serde::from_slice_with_buffers::<serde::de::IgnoredAny>(body, buffers).is_ok()
}

fn bench_diagnose(c: &mut Criterion) {
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let receiver = Receiver::new(Verifier::new(secret.clone()), CheckoutFilter::any());
    let now = OffsetDateTime::now_utc();
    let body = DOCUMENTED_SAMPLE.as_bytes();
    let headers = request_headers(&secret, body);
    let with_newline = [body, b"\n"].concat();
    // 1 MiB of JSON, just under the bound on reworked bodies, and 10 000
    // entries that are no one's signature.
    let mut hostile_body = br#"{"pad":""#.to_vec();
    hostile_body.resize(Diagnosis::MAX_REWORKED_BODY - 2, b'x');
    hostile_body.extend_from_slice(b"\"}");
    let mut hostile = request_headers(&secret, b"{}");
    let entries = vec![format!("v1,{}", "A".repeat(43)); 10_000].join(" ");
    hostile.insert("webhook-signature", http::HeaderValue::from_str(&entries).unwrap());
    assert!(matches!(
        receiver.diagnose_at(&headers, &with_newline, now),
        Diagnosis::BodyChanged { .. }
    ));
    assert!(matches!(
        receiver.diagnose_at(&hostile, &hostile_body, now),
        Diagnosis::NoSecretSigns { .. }
    ));

    let mut group = c.benchmark_group("diagnose");
    group.throughput(Throughput::Elements(1));
    group.bench_function("464B_verify_refused", |b| {
        b.iter(|| {
            receiver
                .receive_at(black_box(&headers), black_box(&with_newline), now)
                .is_err()
        })
    });
    group.bench_function("464B_trailing_newline", |b| {
        b.iter(|| receiver.diagnose_at(black_box(&headers), black_box(&with_newline), now))
    });
    group.bench_function("1MiB_10000_entries", |b| {
        b.iter(|| receiver.diagnose_at(black_box(&hostile), black_box(&hostile_body), now))
    });
    group.finish();
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

fn benches(c: &mut Criterion) {
    assert_eq!(DOCUMENTED_SAMPLE.len(), 464);
    bench_verify(c, "464B", DOCUMENTED_SAMPLE.as_bytes());
    bench_verify(c, "16KiB", &event_of_16_kib());
    bench_receive(c);
    bench_diagnose(c);
}

criterion_group!(verify, benches);
criterion_main!(verify);

//! Receives the documented sample `n` times, for counting instructions with
//! callgrind (repeatable on a busy machine, where wall-clock times are not):
//!
//! ```sh
//! cargo bench --bench receive_instructions --no-run
//! valgrind --tool=callgrind target/release/deps/receive_instructions-* processed 2000
//! ```
//!
//! Modes: `processed` (any checkout), `ignored` (another checkout), and the
//! anchors `syntax` (`serde_json` into `IgnoredAny`) and `value` (into a
//! `serde_json::Value`). Subtract a run with `n` = 0, divide by `n`.
//! `BENCHMARKS.md` has the figures.
// Set-up code: a bad argument should stop the run loudly.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use yoco_webhooks::testing::{DOCUMENTED_SAMPLE, Signer};
use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret};

fn main() {
    // (`cargo bench` passes `--bench`: run the binary directly.)
    if std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap();
    let n: u64 = args.next().unwrap().parse().unwrap();
    let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let filter = if which == "processed" {
        CheckoutFilter::any()
    } else {
        CheckoutFilter::checkout("ch_other")
    };
    let receiver = Receiver::new(Verifier::new(secret.clone()), filter);
    let body = DOCUMENTED_SAMPLE.as_bytes();
    let now = time::OffsetDateTime::from_unix_timestamp(1_718_466_716).unwrap();
    let headers = Signer::new(secret).sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", now, body);
    let mut ok = 0u64;
    // The anchors: the same body read by `serde_json` alone.
    if which == "syntax" || which == "value" {
        for _ in 0..n {
            let read = if which == "syntax" {
                serde_json::from_slice::<serde::de::IgnoredAny>(black_box(body)).is_ok()
            } else {
                serde_json::from_slice::<serde_json::Value>(black_box(body)).is_ok()
            };
            ok += u64::from(read);
        }
        assert_eq!(ok, n);
        return;
    }
    for _ in 0..n {
        ok += u64::from(
            receiver
                .receive_at(black_box(&headers), black_box(body), black_box(now))
                .is_ok(),
        );
    }
    assert_eq!(ok, n);
}

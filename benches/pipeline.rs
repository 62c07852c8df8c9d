//! The pipeline's cost per delivery (`http_request::handle`: verify, parse,
//! filter, claim in memory, a handler that does nothing, complete, answer),
//! and what the `tracing` and `metrics` features add when something listens:
//! with no subscriber and no recorder, with a `tracing-subscriber` formatter
//! writing every line to a sink, and with a metrics recorder as well.
//!
//! Every delivery has its own `webhook-id`, signed ahead of the measurement,
//! so that each one is processed, not answered as a duplicate.
//!
//! ```text
//! cargo bench --bench pipeline
//! ```

// Set-up code: a bad constant should stop the benchmark loudly.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};
use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret, YocoWebhookConfig, http_request};

/// Signed deliveries with fresh ids, ready to be handled.
struct Deliveries {
    signer: Signer,
    body: Vec<u8>,
    next: u64,
}

impl Deliveries {
    fn next(&mut self) -> http::Request<Vec<u8>> {
        self.next += 1;
        let headers = self.signer.sign_now(&format!("msg_{}", self.next), &self.body);
        let mut request = http::Request::post("/webhooks/yoco").body(self.body.clone()).unwrap();
        *request.headers_mut() = headers.to_header_map().unwrap();
        request
    }
}

fn pipeline(c: &mut Criterion) {
    let secret = WebhookSecret::parse(TEST_SECRET).unwrap();
    let receiver = Receiver::new(Verifier::new(secret.clone()), CheckoutFilter::checkout("ch_bench"));
    let config = YocoWebhookConfig::new(receiver);
    let mut deliveries = Deliveries {
        signer: Signer::new(secret),
        body: SampleEvent::payment_succeeded().checkout_id("ch_bench").to_json(),
        next: 0,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut handle = |group: &str, c: &mut Criterion| {
        c.bench_function(&format!("pipeline/{group}"), |b| {
            b.iter_batched(
                || deliveries.next(),
                |request| {
                    let response = runtime.block_on(http_request::handle(&config, request, |delivery| async move {
                        black_box(delivery);
                        Ok::<(), std::convert::Infallible>(())
                    }));
                    assert_eq!(response.status(), 200);
                },
                BatchSize::SmallInput,
            );
        });
    };

    handle("nothing_listening", c);

    let formatter = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_max_level(tracing::Level::INFO)
        .finish();
    tracing::subscriber::with_default(formatter, || handle("formatter_to_sink", c));

    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let formatter = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_max_level(tracing::Level::INFO)
        .finish();
    tracing::subscriber::with_default(formatter, || {
        metrics::with_local_recorder(&recorder, || handle("formatter_and_metrics", c));
    });
}

criterion_group!(benches, pipeline);
criterion_main!(benches);

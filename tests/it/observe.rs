//! What the pipeline reports (features `tracing` and `metrics`), while the
//! whole shared hostile adapter suite runs against the axum extractor: one
//! span per request with the outcome, reason and status each case should
//! give, metrics counting the same, and no secret, signature, signed content
//! or body text anywhere in what was captured.
//!
//! Everything runs on one thread (a current-thread runtime serving and
//! sending), under a thread-local subscriber and metrics recorder, so that
//! the other tests running meanwhile are not captured.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use yoco_webhooks::dedup::{Claim, ClaimToken, DEFAULT_LEASE, IdempotencyStore, MemoryStore, StoreError};
use yoco_webhooks::http::Request;
use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};
use yoco_webhooks::{
    CheckoutFilter, Mode, Receiver, Verifier, WebhookId, WebhookSecret, YocoWebhookConfig, http_request,
    observe::{DELIVERIES_TOTAL, DELIVERY_SPAN, HANDLER_SECONDS, STORE_SECONDS, VERIFIED_TOTAL},
};

use crate::adapters;

/// A delivery span's fields once it closed.
type Fields = BTreeMap<String, String>;

/// Every closed delivery span, and every line of text seen anywhere.
#[derive(Clone, Default)]
struct Captured {
    spans: Arc<Mutex<Vec<Fields>>>,
    text: Arc<Mutex<String>>,
}

struct FieldsVisitor<'a>(&'a mut Fields);

impl Visit for FieldsVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Captured {
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let mut fields = Fields::new();
        attributes.record(&mut FieldsVisitor(&mut fields));
        if let Some(span) = context.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, context: Context<'_, S>) {
        if let Some(span) = context.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(&mut FieldsVisitor(fields));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, _context: Context<'_, S>) {
        // The crate's own events (the HTTP client's and server's are not ours).
        if !event.metadata().target().starts_with("yoco_webhooks") {
            return;
        }
        let mut fields = Fields::new();
        event.record(&mut FieldsVisitor(&mut fields));
        writeln!(
            self.text.lock().unwrap(),
            "{} {}",
            event.metadata().level(),
            line(&fields)
        )
        .unwrap();
    }

    fn on_close(&self, id: Id, context: Context<'_, S>) {
        let Some(span) = context.span(&id) else { return };
        if span.name() == DELIVERY_SPAN {
            let fields = span.extensions().get::<Fields>().cloned().unwrap_or_default();
            writeln!(self.text.lock().unwrap(), "{} {}", span.name(), line(&fields)).unwrap();
            self.spans.lock().unwrap().push(fields);
        }
    }
}

/// Fields as `name=value` pairs, as a plain-text log would write them.
fn line(fields: &Fields) -> String {
    fields.iter().map(|(name, value)| format!("{name}={value} ")).collect()
}

impl Captured {
    /// The `secret` field of every span closed so far, without forgetting them.
    fn secrets(&self) -> Vec<String> {
        self.spans
            .lock()
            .unwrap()
            .iter()
            .map(|fields| fields.get("secret").cloned().unwrap_or_default())
            .collect()
    }

    /// The spans closed so far as (webhook id, outcome, reason, status),
    /// sorted, and forgotten.
    /// How many spans closed since the last [`take`](Self::take).
    fn len(&self) -> usize {
        self.spans.lock().unwrap().len()
    }

    fn take(&self) -> Vec<(String, String, String, String)> {
        let mut spans: Vec<_> = self
            .spans
            .lock()
            .unwrap()
            .drain(..)
            .map(|fields| {
                let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
                (field("webhook_id"), field("outcome"), field("reason"), field("status"))
            })
            .collect();
        spans.sort();
        spans
    }
}

/// A runtime serving and sending on this thread, under its subscriber and
/// metrics recorder.
fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn row(id: &str, outcome: &str, reason: &str, status: u16) -> (String, String, String, String) {
    (id.to_owned(), outcome.to_owned(), reason.to_owned(), status.to_string())
}

#[test]
fn every_case_of_the_suite_is_reported_with_its_outcome_and_nothing_secret() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(captured.clone());
    let _subscriber = crate::capture_this_thread(subscriber);
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = current_thread_runtime();

    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let (address, recorder) = crate::axum::serve(256 * 1024).await;
            adapters::processes_ours_once_and_acknowledges_the_rest(address, recorder).await;
            assert_eq!(
                captured.secrets(),
                vec!["secret-1"; 5],
                "the name of the secret that verified"
            );
            assert_eq!(
                captured.take(),
                vec![
                    row("msg_1", "duplicate", "", 200),
                    row("msg_1", "processed", "", 200),
                    row("msg_2", "ignored", "foreign_checkout", 200),
                    row("msg_3", "ignored", "no_checkout_id", 200),
                    row("msg_4", "processed", "", 200),
                ]
            );

            let (address, recorder) = crate::axum::serve(256 * 1024).await;
            adapters::refuses_what_is_not_authentic_or_not_an_event(address, recorder).await;
            // Refused requests carry no ids: nothing unauthenticated is recorded.
            assert_eq!(
                captured.take(),
                vec![
                    row("", "rejected", "malformed_signature", 401),
                    row("", "rejected", "missing_header", 401),
                    row("", "rejected", "repeated_header", 401),
                    row("", "rejected", "repeated_header", 401),
                    row("", "rejected", "repeated_header", 401),
                    row("", "rejected", "signature_mismatch", 401),
                    row("msg_5", "rejected", "not_an_event", 400),
                    row("msg_6", "processed", "", 200),
                ]
            );

            let (address, recorder) = crate::axum::serve(256 * 1024).await;
            adapters::a_failed_handler_is_retried_and_concurrent_duplicates_run_once(address, recorder).await;
            let spans = captured.take();
            assert_eq!(
                spans[..2],
                [
                    row("msg_1", "handler_failed", "", 500),
                    row("msg_1", "processed", "", 200)
                ]
            );
            // The first held in the handler, the nine others answered 409.
            let mut concurrent = vec![row("msg_2", "in_progress", "", 409); 9];
            concurrent.push(row("msg_2", "processed", "", 200));
            assert_eq!(spans[2..], concurrent);

            let limit = 4 * 1024;
            let (address, recorder) = crate::axum::serve(limit).await;
            adapters::oversized_and_aborted_bodies_are_refused_while_reading(address, recorder, limit).await;
            // The aborted upload's request may still be finishing on the
            // server: wait for its span (the fourth) to close.
            while captured.len() < 4 {
                tokio::task::yield_now().await;
            }
            assert_eq!(
                captured.take(),
                vec![
                    row("", "rejected", "body_too_large", 413),
                    row("", "rejected", "body_too_large", 413),
                    row("", "rejected", "body_unreadable", 400),
                    row("msg_3", "processed", "", 200),
                ]
            );

            // A live event signed with the secret bound to test mode.
            let live = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
            let test = WebhookSecret::parse(TEST_SECRET).unwrap();
            let verifier = Verifier::builder(live)
                .named("live")
                .also_accept_for(test.clone(), Mode::Test)
                .named("test")
                .build();
            let config = YocoWebhookConfig::new(Receiver::new(verifier, CheckoutFilter::any()));
            let body = SampleEvent::payment_succeeded().mode(Mode::Live).to_json();
            let mut request = Request::post("/webhooks/yoco").body(body.clone()).unwrap();
            *request.headers_mut() = Signer::new(test)
                .sign_now("msg_forged_live", &body)
                .to_header_map()
                .unwrap();
            let response =
                http_request::handle(&config, request, |_| async { Ok::<(), std::convert::Infallible>(()) }).await;
            assert_eq!(response.status(), 401);
            assert_eq!(captured.secrets(), vec!["test"]);
            assert_eq!(captured.take(), vec![row("", "rejected", "mode_mismatch", 401)]);
        });
    });

    let text = captured.text.lock().unwrap().clone();
    assert!(text.contains("delivery processed"), "{text}");
    assert!(text.contains("signature_mismatch"), "{text}");
    // The handler's own error reaches the log, with the answer it caused.
    assert!(
        text.contains("handler failed: answered 500, Yoco retries") && text.contains("database down"),
        "{text}"
    );
    let key = TEST_SECRET.trim_start_matches("whsec_");
    for leak in [
        TEST_SECRET,
        key,
        "v1,", // a signature
        "{\"", // the body, or the signed content ending in it
        "paymentMethodDetails",
        "maskedCard",
        "\"amount\"",
    ] {
        assert!(!text.contains(leak), "{leak:?} in the captured output:\n{text}");
    }

    // The metrics count the same deliveries, with bounded labels only.
    let mut deliveries = BTreeMap::new();
    let mut histograms = BTreeMap::new();
    let mut verified = BTreeMap::new();
    let mut too_large = 0;
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let labels: BTreeMap<String, String> = key
            .key()
            .labels()
            .map(|label| (label.key().to_owned(), label.value().to_owned()))
            .collect();
        for value in labels.values() {
            assert!(
                !value.starts_with("msg_") && !value.starts_with("evt_") && !value.starts_with("ch_"),
                "{labels:?}"
            );
        }
        match (key.key().name(), value) {
            (DELIVERIES_TOTAL, DebugValue::Counter(count)) => {
                let label = |name: &str| labels.get(name).cloned().unwrap_or_default();
                *deliveries
                    .entry((label("outcome"), label("reason"), label("event_type"), label("mode")))
                    .or_insert(0) += count;
            }
            (VERIFIED_TOTAL, DebugValue::Counter(count)) => {
                *verified.entry(labels["secret"].clone()).or_insert(0) += count;
            }
            (yoco_webhooks::observe::BODY_TOO_LARGE_TOTAL, DebugValue::Counter(count)) => too_large += count,
            (name @ (HANDLER_SECONDS | STORE_SECONDS), DebugValue::Histogram(values)) => {
                *histograms.entry((name.to_owned(), labels)).or_insert(0) += values.len();
            }
            other => panic!("unexpected metric {other:?}"),
        }
    }
    let count = |outcome: &str, reason: &str, event_type: &str, mode: &str| {
        deliveries
            .get(&(outcome.into(), reason.into(), event_type.into(), mode.into()))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(
        count("processed", "none", "payment.succeeded", "test"),
        5,
        "{deliveries:?}"
    );
    assert_eq!(count("processed", "none", "other", "test"), 1, "{deliveries:?}");
    assert_eq!(count("ignored", "foreign_checkout", "payment.succeeded", "test"), 1);
    assert_eq!(count("ignored", "no_checkout_id", "payment.succeeded", "test"), 1);
    assert_eq!(count("rejected", "repeated_header", "unknown", "none"), 3);
    assert_eq!(count("rejected", "signature_mismatch", "unknown", "none"), 1);
    assert_eq!(count("rejected", "not_an_event", "unknown", "none"), 1);
    assert_eq!(count("rejected", "body_too_large", "unknown", "none"), 2);
    assert_eq!(too_large, 2, "each 413 counted apart");
    assert_eq!(count("handler_failed", "none", "payment.succeeded", "test"), 1);
    assert_eq!(count("rejected", "mode_mismatch", "unknown", "none"), 1);
    let all: u64 = deliveries.values().sum();
    assert_eq!(all, 5 + 8 + 12 + 4 + 1, "{deliveries:?}");
    // Every authentic event of ours or not (not the non-event, not the one
    // refused for its mode) counts for the secret that verified it.
    assert_eq!(verified, BTreeMap::from([("secret-1".to_owned(), 5 + 1 + 12 + 1)]));
    let store = |operation: &str| {
        histograms
            .iter()
            .filter(|((name, labels), _)| {
                name == STORE_SECONDS
                    && labels.get("store").map(String::as_str) == Some("MemoryStore")
                    && labels.get("operation").map(String::as_str) == Some(operation)
            })
            .map(|(_, count)| *count)
            .sum::<usize>()
    };
    // Every authentic delivery of ours claimed once (duplicates too); the
    // processed ones completed, the failed one released.
    assert_eq!(store("claim"), 3 + 1 + 12 + 1);
    assert_eq!(store("complete"), 6);
    assert_eq!(store("release"), 1);
    let handler: usize = histograms
        .iter()
        .filter(|((name, _), _)| name == HANDLER_SECONDS)
        .map(|(_, count)| *count)
        .sum();
    assert_eq!(handler, 7, "the handler ran for each processed and the failed delivery");
}

/// A store that cannot answer.
struct Down;

impl IdempotencyStore for Down {
    async fn claim(&self, _: &WebhookId, _: Duration) -> Result<Claim, StoreError> {
        Err(StoreError::new("connection refused"))
    }

    async fn complete(&self, _: &ClaimToken, _: Duration) -> Result<(), StoreError> {
        Err(StoreError::new("connection refused"))
    }

    async fn release(&self, _: &ClaimToken) -> Result<(), StoreError> {
        Err(StoreError::new("connection refused"))
    }
}

/// The two outcomes the suite meets only by chance or not at all: a
/// delivery held by another attempt (409) and a store that cannot answer
/// (503), each in the span, in the logs at their level, and counted.
#[test]
fn in_progress_and_store_unavailable_are_reported() {
    let captured = Captured::default();
    let _subscriber = crate::capture_this_thread(tracing_subscriber::registry().with(captured.clone()));
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = current_thread_runtime();

    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let store = Arc::new(MemoryStore::default());
            let Claim::Acquired(_held) = store.claim(&WebhookId::new("msg_held"), DEFAULT_LEASE).await.unwrap() else {
                panic!("a fresh claim")
            };
            let held = YocoWebhookConfig::new(receiver()).with_store(Arc::clone(&store));
            let response = http_request::handle(&held, request("msg_held"), |_| async {
                Ok::<(), std::convert::Infallible>(())
            })
            .await;
            assert_eq!(response.status(), 409);

            let down = YocoWebhookConfig::new(receiver()).with_store(Down);
            let response = http_request::handle(&down, request("msg_down"), |_| async {
                Ok::<(), std::convert::Infallible>(())
            })
            .await;
            assert_eq!(response.status(), 503);
        });
    });

    assert_eq!(
        captured.take(),
        vec![
            row("msg_down", "store_unavailable", "", 503),
            row("msg_held", "in_progress", "", 409),
        ]
    );
    let text = captured.text.lock().unwrap().clone();
    assert!(
        text.contains("WARN") && text.contains("in progress elsewhere"),
        "{text}"
    );
    assert!(text.contains("ERROR") && text.contains("connection refused"), "{text}");
    assert_eq!(
        outcomes(&snapshotter),
        BTreeMap::from([("in_progress".to_owned(), 1), ("store_unavailable".to_owned(), 1)])
    );
}

/// A receiver of every authentic event.
fn receiver() -> Receiver {
    Receiver::new(
        Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
        CheckoutFilter::any(),
    )
}

/// A live payment, signed now with the test secret.
fn request(webhook_id: &str) -> Request<Vec<u8>> {
    let body = SampleEvent::payment_succeeded().mode(Mode::Live).to_json();
    let mut request = Request::post("/webhooks/yoco").body(body.clone()).unwrap();
    let signer = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap());
    *request.headers_mut() = signer.sign_now(webhook_id, &body).to_header_map().unwrap();
    request
}

/// `deliveries_total` by outcome.
fn outcomes(snapshotter: &metrics_util::debugging::Snapshotter) -> BTreeMap<String, u64> {
    let mut outcomes = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        if let (DELIVERIES_TOTAL, DebugValue::Counter(count)) = (key.key().name(), value) {
            let outcome = key.key().labels().find(|label| label.key() == "outcome").unwrap();
            *outcomes.entry(outcome.value().to_owned()).or_insert(0) += count;
        }
    }
    outcomes
}

/// Through a queue: a delivery is `queued`, its retry a `duplicate` (not a
/// second `queued`), and a queue that cannot record it a 503 whose reason
/// names the queue.
#[test]
fn a_queued_retry_is_reported_as_a_duplicate() {
    let captured = Captured::default();
    let _subscriber = crate::capture_this_thread(tracing_subscriber::registry().with(captured.clone()));
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = current_thread_runtime();
    let answer = |config: &YocoWebhookConfig, id: &str| {
        let response = runtime.block_on(http_request::handle(config, request(id), |_| async {
            Ok::<(), std::convert::Infallible>(())
        }));
        let status = response.status().as_u16();
        (status, response.into_body().to_owned())
    };

    metrics::with_local_recorder(&recorder, || {
        let queued = YocoWebhookConfig::new(receiver()).with_queue(adapters::RecordingQueue::default());
        assert_eq!(answer(&queued, "msg_q"), (200, "queued".to_owned()));
        assert_eq!(answer(&queued, "msg_q"), (200, "duplicate".to_owned()));
        let down = YocoWebhookConfig::new(receiver()).with_queue(adapters::QueueDown);
        assert_eq!(answer(&down, "msg_down"), (503, "queue unavailable".to_owned()));
    });

    assert_eq!(
        captured.take(),
        vec![
            row("msg_down", "store_unavailable", "queue_unavailable", 503),
            row("msg_q", "duplicate", "duplicate", 200),
            row("msg_q", "queued", "queued", 200),
        ]
    );
    let text = captured.text.lock().unwrap().clone();
    assert!(text.contains("delivery queued already: answered duplicate"), "{text}");
    assert_eq!(
        outcomes(&snapshotter),
        BTreeMap::from([
            ("duplicate".to_owned(), 1),
            ("queued".to_owned(), 1),
            ("store_unavailable".to_owned(), 1)
        ])
    );
}

/// A route that finds the delivery is not its own (`YocoWebhook::ignore`),
/// and one taken through `http_request::extract` that the filter ignored:
/// both answered 200 `ignored`, reported as ignored with their reason, and
/// the handler never runs.
#[test]
fn a_delivery_the_route_ignores_is_answered_and_counted_as_ignored() {
    let captured = Captured::default();
    let _subscriber = crate::capture_this_thread(tracing_subscriber::registry().with(captured.clone()));
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = current_thread_runtime();
    let secret = WebhookSecret::parse(TEST_SECRET).unwrap();
    let request = |id: &str, checkout: &str| {
        let body = SampleEvent::payment_succeeded().checkout_id(checkout).to_json();
        let mut request = Request::post("/webhooks/yoco").body(body.clone()).unwrap();
        *request.headers_mut() = Signer::new(secret.clone()).sign_now(id, &body).to_header_map().unwrap();
        request
    };
    let config = YocoWebhookConfig::new(Receiver::new(
        Verifier::new(secret.clone()),
        CheckoutFilter::matching(|id| id.as_str() != "ch_filtered"),
    ));

    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let webhook = http_request::extract(&config, request("msg_unknown", "ch_unknown"))
                .await
                .unwrap();
            let processed: yoco_webhooks::Processed<(), &str> = webhook.ignore("unknown_checkout");
            assert_eq!(
                (processed.status(), processed.text()),
                (200, "ignored: not for this receiver")
            );
            let Err(answered) = http_request::extract(&config, request("msg_filtered", "ch_filtered")).await else {
                panic!("the filter ignores it")
            };
            assert!(!answered.is_refusal());
            let response = http_request::answer(&answered);
            assert_eq!(
                (response.status().as_u16(), *response.body()),
                (200, "ignored: foreign checkout")
            );
        });
    });

    assert_eq!(
        captured.take(),
        vec![
            row("msg_filtered", "ignored", "foreign_checkout", 200),
            row("msg_unknown", "ignored", "unknown_checkout", 200),
        ]
    );
    let mut reasons = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        if let (DELIVERIES_TOTAL, DebugValue::Counter(count)) = (key.key().name(), value) {
            let label = |name: &str| {
                key.key()
                    .labels()
                    .find(|label| label.key() == name)
                    .unwrap()
                    .value()
                    .to_owned()
            };
            *reasons.entry((label("outcome"), label("reason"))).or_insert(0) += count;
        }
    }
    assert_eq!(
        reasons,
        BTreeMap::from([
            (("ignored".to_owned(), "foreign_checkout".to_owned()), 1),
            (("ignored".to_owned(), "unknown_checkout".to_owned()), 1),
        ])
    );
}

/// What a `tracing_subscriber::fmt` subscriber writes, as an operator reads it.
#[derive(Clone, Default)]
struct Written(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Written {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Written {
    /// The line logged at `level` whose text has `needle`.
    fn line(&self, level: &str, needle: &str) -> String {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .find(|line| line.contains(level) && line.contains(needle))
            .unwrap_or_else(|| panic!("no {level} line with {needle:?} in:\n{text}"))
            .to_owned()
    }
}

/// A 401 and a 413 are logged with the `webhook-id` the request claims, in
/// a field of its own that says it is unverified (never `webhook_id`, never
/// a metric's label), capped and without control characters; a 413 at
/// `error`, with the limit, and counted apart: the event is lost.
#[test]
fn refusals_carry_the_claimed_id_apart_and_a_413_is_an_error() {
    let written = Written::default();
    let writer = written.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _subscriber = crate::capture_this_thread(subscriber);
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = current_thread_runtime();
    let secret = WebhookSecret::parse(TEST_SECRET).unwrap();
    let config =
        YocoWebhookConfig::new(Receiver::new(Verifier::new(secret.clone()), CheckoutFilter::any())).body_limit(1024);
    let post = |headers: &[(&'static str, &str)], body: Vec<u8>| {
        let mut request = Request::post("/webhooks/yoco").body(body).unwrap();
        for (name, value) in headers {
            let value = yoco_webhooks::http::HeaderValue::from_bytes(value.as_bytes()).unwrap();
            request.headers_mut().append(*name, value);
        }
        http_request::handle(&config, request, |_| async { Ok::<(), std::convert::Infallible>(()) })
    };
    let body = SampleEvent::payment_succeeded().mode(Mode::Live).to_json();
    let signed = Signer::new(secret).sign_now("msg_ok", &body);
    let long = format!("msg_{}", "L".repeat(100));

    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            // A forged request claiming an id with a tab in it: 401.
            let forged = [
                ("webhook-id", "msg_forged\tid"),
                ("webhook-timestamp", signed.webhook_timestamp.as_str()),
                ("webhook-signature", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            ];
            assert_eq!(post(&forged, body.clone()).await.status(), 401);
            // Under Svix's name, and 100 characters long: 401.
            let unsigned = [("svix-id", long.as_str())];
            assert_eq!(post(&unsigned, body.clone()).await.status(), 401);
            // A body over the limit: 413.
            let big = SampleEvent::payment_succeeded()
                .mode(Mode::Live)
                .metadata("notes", "x".repeat(2048))
                .to_json();
            let headers = [("webhook-id", "msg_big"), ("content-length", "4096")];
            assert_eq!(post(&headers, big).await.status(), 413);
        });
    });

    let forged = written.line("WARN", "signature_mismatch");
    assert!(forged.contains(r#"claimed_webhook_id="msg_forgedid""#), "{forged}");
    let unsigned = written.line("WARN", "missing_header");
    let capped = format!(r#"claimed_webhook_id="{}""#, &long[..64]);
    assert!(unsigned.contains(&capped), "{unsigned}");
    let too_large = written.line("ERROR", "body_too_large");
    assert!(too_large.contains(r#"claimed_webhook_id="msg_big""#), "{too_large}");
    assert!(too_large.contains("body_limit=1024"), "{too_large}");
    assert!(too_large.contains("the event is lost"), "{too_large}");
    for line in [&forged, &unsigned, &too_large] {
        // Only as claimed: never in the field of an authentic id.
        assert!(
            !line.contains("{webhook_id=") && !line.contains(" webhook_id="),
            "{line}"
        );
    }

    let mut too_large_counted = 0;
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        for label in key.key().labels() {
            assert!(!label.value().contains("msg_"), "{key:?}");
        }
        if let (yoco_webhooks::observe::BODY_TOO_LARGE_TOTAL, DebugValue::Counter(count)) = (key.key().name(), value) {
            too_large_counted += count;
        }
    }
    assert_eq!(too_large_counted, 1);
}

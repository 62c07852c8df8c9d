//! No value of a body ever reaches an error, a log line or a metric: bodies
//! full of canaries (a customer's e-mail address, a card-like number, a
//! `whsec_` string), each one refused on another path (not JSON, not an
//! event, a malformed payload, a value `serde_json::Value` cannot read, a
//! mode no secret vouches for, a changed body, hostile headers), go through
//! the receiver and the pipeline with `tracing` at TRACE for every target
//! and a metrics recorder on. Every error's `Display` and `Debug`, every
//! answer's text, every log line and every metric's name and labels are
//! searched for the canaries.

use std::io::Write;
use std::sync::{Arc, Mutex};

use metrics_util::debugging::DebuggingRecorder;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
use yoco_webhooks::http::Request;
use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};
use yoco_webhooks::{
    CheckoutFilter, Event, Mode, Receiver, StoredDelivery, Verifier, WebhookSecret, YocoWebhookConfig, http_request,
};

const EMAIL: &str = "zoe.canary@example.com";
const CARD: &str = "4111111111111111";
const SECRET: &str = "whsec_Y2FuYXJ5Y2FuYXJ5Y2FuYXJ5";
const CANARIES: [&str; 3] = [EMAIL, CARD, SECRET];
const NOW: i64 = 1_718_466_715;

/// Every rejected body, each with canaries where the path reads.
fn hostile_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let ours = String::from_utf8(
        SampleEvent::payment_succeeded()
            .checkout_id("ch_ours")
            .mode(Mode::Live)
            .metadata("email", EMAIL)
            .metadata("card", CARD)
            .metadata("note", SECRET)
            .to_json(),
    )
    .unwrap();
    let quoted = |canary: &str| format!("\"{canary}\"");
    let mut bodies = vec![
        ("not JSON", format!("{EMAIL} {CARD} {SECRET}").into_bytes()),
        ("broken JSON", ours.replacen('}', "", 1).into_bytes()),
        (
            "id not a string",
            ours.replacen(r#""id":"evt_"#, &format!(r#""id":{CARD},"x":"evt_"#), 1)
                .into_bytes(),
        ),
        (
            "date not a date",
            ours.replacen(r#""createdDate":""#, &format!(r#""createdDate":"{EMAIL}","was":""#), 1)
                .into_bytes(),
        ),
        (
            "amount a string",
            ours.replacen(r#""amount":900"#, &format!(r#""amount":{}"#, quoted(EMAIL)), 1)
                .into_bytes(),
        ),
        (
            "amount a float",
            ours.replacen(r#""amount":900"#, &format!(r#""amount":{CARD}.5"#), 1)
                .into_bytes(),
        ),
        (
            "currency a number",
            ours.replacen(r#""currency":"ZAR""#, &format!(r#""currency":{CARD}"#), 1)
                .into_bytes(),
        ),
        (
            "status an object",
            ours.replacen(r#""status":"succeeded""#, &format!(r#""status":{{"{SECRET}":1}}"#), 1)
                .into_bytes(),
        ),
        (
            "expiry out of range",
            ours.replacen(r#""expiryMonth":2"#, &format!(r#""expiryMonth":{CARD}"#), 1)
                .into_bytes(),
        ),
        (
            "payload an array",
            ours.replacen(
                r#""payload":{"#,
                &format!(r#""payload":[{},{}],"was":{{"#, quoted(EMAIL), quoted(SECRET)),
                1,
            )
            .into_bytes(),
        ),
        (
            "lone surrogate, foreign",
            ours.replacen("ch_ours", "ch_theirs\\ud83d", 1).into_bytes(),
        ),
        (
            "mode a canary",
            ours.replacen(r#""mode":"live""#, &format!(r#""mode":{}"#, quoted(SECRET)), 1)
                .into_bytes(),
        ),
        (
            "type a canary, payload broken",
            ours.replacen(r#""amount":900"#, r#""amount":"x""#, 1)
                .replacen("payment.succeeded", SECRET, 1)
                .into_bytes(),
        ),
    ];
    let mut invalid_utf8 = ours.clone().into_bytes();
    invalid_utf8.extend_from_slice(b"\xff");
    invalid_utf8.extend_from_slice(EMAIL.as_bytes());
    bodies.push(("not UTF-8", invalid_utf8));
    bodies
}

/// A writer into a shared buffer, for the log lines.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_no_canary(what: &str, text: &str) {
    for canary in CANARIES {
        assert!(!text.contains(canary), "{canary} in {what}: {text}");
    }
    // Nor a part of one that a message could have cut.
    assert!(!text.contains("Y2FuYXJ5"), "part of the secret in {what}: {text}");
}

#[test]
fn no_value_of_a_body_reaches_an_error_a_log_or_a_metric() {
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_span_events(FmtSpan::FULL)
            .with_filter(tracing_subscriber::filter::LevelFilter::TRACE),
    );
    let _subscriber = crate::capture_this_thread(subscriber);
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let secret = WebhookSecret::parse(TEST_SECRET).unwrap();
    let bound = Verifier::builder(secret.clone()).for_mode(Mode::Live).build();
    let receivers = [
        Receiver::new(Verifier::new(secret.clone()), CheckoutFilter::checkout("ch_ours")),
        Receiver::new(Verifier::new(secret.clone()), CheckoutFilter::any()),
        Receiver::new(bound, CheckoutFilter::any()),
    ];
    let signer = Signer::new(secret.clone());
    let mut refused = 0;
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            for (name, body) in hostile_bodies() {
                let headers = signer.sign_at_unix("msg_canary", NOW, &body);
                let now = crate::unix(NOW);
                if let Err(error) = Event::from_slice(&body) {
                    assert_no_canary(&format!("{name}: Event::from_slice"), &format!("{error} {error:?}"));
                }
                for receiver in &receivers {
                    let Err(error) = receiver.receive_at(&headers, &body, now) else {
                        continue;
                    };
                    refused += 1;
                    assert_no_canary(
                        name,
                        &format!("{error} | {error:?} | {:?}", std::error::Error::source(&error)),
                    );
                    // The same refused through the pipeline, logged and counted.
                    let config = YocoWebhookConfig::new(receiver.clone());
                    let mut request = Request::post("/webhooks/yoco").body(body.clone()).unwrap();
                    *request.headers_mut() = signer.sign_now("msg_canary", &body).to_header_map().unwrap();
                    let response =
                        http_request::handle(&config, request, |_| async { Ok::<(), std::convert::Infallible>(()) })
                            .await;
                    assert!(response.status().is_client_error(), "{name}: {}", response.status());
                    assert_no_canary(name, response.body());
                }
            }
            // Hostile headers: canaries as the timestamp and the signature. (A
            // refused request's `webhook-id` is logged, capped and apart, as
            // `claimed_webhook_id`: the sender's id, to find its attempt.)
            let body = SampleEvent::payment_succeeded().to_json();
            for (id, timestamp, signature) in [
                ("msg_1", NOW.to_string(), format!("v1,{SECRET}")),
                ("msg_2", CARD.to_owned(), "v1,x".to_owned()),
                ("msg_3", EMAIL.to_owned(), CARD.to_owned()),
                ("msg_4", NOW.to_string(), format!("v1,{SECRET} v1,{CARD} {EMAIL}")),
            ] {
                let headers = [
                    ("webhook-id", id),
                    ("webhook-timestamp", timestamp.as_str()),
                    ("webhook-signature", signature.as_str()),
                ];
                let error = receivers[0].receive_at(&headers, &body, crate::unix(NOW)).unwrap_err();
                refused += 1;
                assert_no_canary("hostile headers", &format!("{error} | {error:?}"));
                let mut request = Request::post("/webhooks/yoco").body(body.clone()).unwrap();
                for (name, value) in headers {
                    request.headers_mut().insert(name, value.parse().unwrap());
                }
                let config = YocoWebhookConfig::new(receivers[0].clone());
                let response =
                    http_request::handle(&config, request, |_| async { Ok::<(), std::convert::Infallible>(()) }).await;
                assert_eq!(response.status(), 401);
            }
            // A stored delivery whose body was changed.
            let body = SampleEvent::payment_succeeded().checkout_id("ch_ours").to_json();
            let headers = signer.sign_at_unix("msg_stored", NOW, &body);
            let Ok(yoco_webhooks::Outcome::Process(delivery)) =
                receivers[0].receive_at(&headers, &body, crate::unix(NOW))
            else {
                panic!("the sample is ours")
            };
            let mut json = serde_json::to_value(delivery.to_stored()).unwrap();
            let tampered = String::from_utf8(body)
                .unwrap()
                .replacen("900", &format!("9,\"x\":\"{EMAIL}\""), 1);
            json["body"] = tampered.into();
            let stored: StoredDelivery = serde_json::from_value(json).unwrap();
            let error = receivers[0].receive_stored(&stored).unwrap_err();
            assert_no_canary(
                "a changed stored delivery",
                &format!("{error} | {error:?} | {stored:?}"),
            );
        });
    });
    assert!(
        refused >= 30,
        "only {refused} refusals: the bodies no longer reach the paths"
    );

    let logged = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("not_an_event"), "nothing logged at TRACE:\n{logged}");
    assert_no_canary("the log", &logged);
    let metrics: String = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, ..)| format!("{:?}\n", key.key()))
        .collect();
    assert!(metrics.contains("rejected"), "{metrics}");
    assert_no_canary("the metrics", &metrics);
}

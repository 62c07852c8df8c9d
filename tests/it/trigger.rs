//! `yoco-webhooks trigger` against a receiver on 127.0.0.1 that verifies
//! with this crate, deduplicates, and records what it processed.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use yoco_webhooks::testing::TEST_SECRET;
use yoco_webhooks::{
    CheckoutFilter, Mode, Processed, Receiver, Verifier, WebhookSecret, YocoWebhook, YocoWebhookConfig,
};

/// What the receiver processed: event type, checkout id, mode, webhook id.
type Seen = Arc<Mutex<Vec<(String, Option<String>, Option<Mode>, String)>>>;

/// A receiver of every authentic event but checkout `ch_foreign`'s, each
/// processed once, slowly enough (100 ms) that racing retries meet it in
/// progress.
async fn serve() -> (SocketAddr, Seen) {
    let filter = CheckoutFilter::matching(|id| id.as_str() != "ch_foreign");
    let config = YocoWebhookConfig::new(Receiver::new(
        Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
        filter,
    ));
    let seen = Seen::default();
    let recorder = Arc::clone(&seen);
    let router = Router::new()
        .route(
            "/webhooks/yoco",
            post(move |webhook: YocoWebhook| {
                let seen = Arc::clone(&recorder);
                async move {
                    let processed: Processed<(), std::convert::Infallible> = webhook
                        .process(|delivery| async move {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            let event = &delivery.event;
                            seen.lock().unwrap().push((
                                event.event_type().to_owned(),
                                event.checkout_id().map(|id| id.to_string()),
                                event.mode().cloned(),
                                delivery.webhook_id.to_string(),
                            ));
                            Ok(())
                        })
                        .await;
                    processed
                }
            }),
        )
        .with_state(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (address, seen)
}

fn trigger() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_yoco-webhooks"));
    command.arg("trigger").env_remove("YOCO_WEBHOOK_SECRET");
    command
}

async fn run(command: &mut tokio::process::Command) -> (i32, String, String) {
    let output = command.output().await.unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (output.status.code().unwrap(), text(output.stdout), text(output.stderr))
}

#[tokio::test]
async fn sends_signed_events_that_a_receiver_processes_once() {
    let (address, seen) = serve().await;
    let url = format!("http://{address}/webhooks/yoco");

    let msg_a = [
        "--to",
        &url,
        "--secret",
        TEST_SECRET,
        "--checkout",
        "ch_mine",
        "--id",
        "msg_a",
    ];
    let (code, out, err) = run(trigger().args(msg_a)).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("-> 200 processed") && out.contains("msg_a"), "{out}");
    assert!(!out.contains(TEST_SECRET) && !err.contains(TEST_SECRET));

    // The same id again: Yoco's retry, answered as a duplicate.
    let (code, out, _) = run(trigger().args(msg_a)).await;
    assert_eq!((code, out.contains("-> 200 duplicate")), (0, true), "{out}");

    let mut command = trigger();
    command.env("YOCO_WEBHOOK_SECRET", TEST_SECRET);
    let (code, out, _) = run(command.args([
        "payment.failed",
        "--to",
        &url,
        "--checkout",
        "ch_other",
        "--mode",
        "live",
        "--id",
        "msg_b",
        "--json",
    ]))
    .await;
    assert_eq!(code, 0, "{out}");
    let line: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        line,
        serde_json::json!({"webhook_id": "msg_b", "status": 200, "answer": "processed"})
    );

    // Another integration's checkout, and an in-store payment without one:
    // acknowledged, not processed.
    let (code, out, _) = run(trigger().args(["--to", &url, "--secret", TEST_SECRET, "--checkout", "ch_foreign"])).await;
    assert_eq!(
        (code, out.contains("-> 200 ignored: foreign checkout")),
        (0, true),
        "{out}"
    );

    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (
                "payment.succeeded".to_owned(),
                Some("ch_mine".to_owned()),
                Some(Mode::Test),
                "msg_a".to_owned()
            ),
            (
                "payment.failed".to_owned(),
                Some("ch_other".to_owned()),
                Some(Mode::Live),
                "msg_b".to_owned(),
            ),
        ]
    );
}

#[tokio::test]
async fn racing_retries_are_processed_once_and_the_others_answered_409_or_duplicate() {
    let (address, seen) = serve().await;
    let url = format!("http://{address}/webhooks/yoco");
    let args = [
        "--to",
        &url,
        "--secret",
        TEST_SECRET,
        "--checkout",
        "ch_mine",
        "--id",
        "msg_race",
        "--json",
    ];
    let (code, out, err) = run(trigger().args(args).args(["--repeat", "6", "--concurrency", "3"])).await;
    let answers: Vec<serde_json::Value> = out.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(answers.len(), 6, "{out}{err}");
    let count = |text: &str| answers.iter().filter(|answer| answer["answer"] == text).count();
    assert_eq!(count("processed"), 1, "{out}");
    assert!(
        count("in progress") >= 1,
        "three at once: the others meet it in progress: {out}"
    );
    assert_eq!(
        count("processed") + count("in progress") + count("duplicate"),
        6,
        "{out}"
    );
    assert_eq!(code, 1, "a 409 is not 2xx: {err}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn reports_refusals_and_usage_errors() {
    let (address, seen) = serve().await;
    let url = format!("http://{address}/webhooks/yoco");

    let other_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (code, out, _) = run(trigger().args(["--to", &url, "--secret", other_secret])).await;
    assert_eq!(code, 1);
    assert!(out.contains("-> 401 webhook not authentic"), "{out}");
    assert!(seen.lock().unwrap().is_empty());

    let (code, _, err) = run(trigger().args(["--secret", TEST_SECRET])).await;
    assert_eq!(code, 2);
    assert!(err.contains("--to"), "{err}");
    let (code, _, err) = run(trigger().args(["--to", &url])).await;
    assert_eq!(code, 2);
    assert!(err.contains("YOCO_WEBHOOK_SECRET"), "{err}");
    let (code, _, err) = run(trigger().args(["--to", &url, "--secret", "sk_test_oops"])).await;
    assert_eq!(code, 2);
    assert!(err.contains("whsec_") && !err.contains("oops"), "{err}");
    let (code, _, err) = run(trigger().args(["--to", "ftp://127.0.0.1/x", "--secret", TEST_SECRET])).await;
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(trigger().args(["--to", "http://127.0.0.1:9/x", "--secret", TEST_SECRET])).await;
    assert_eq!(code, 1);
    assert!(err.starts_with("error: POST http://127.0.0.1:9/x"), "{err}");
}

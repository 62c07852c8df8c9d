//! The `send_event` example against a receiver on 127.0.0.1 that verifies
//! with this crate and records what it was sent.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use yoco_webhooks::testing::TEST_SECRET;
use yoco_webhooks::{CheckoutFilter, Mode, Outcome, Receiver, Verifier, WebhookSecret};

/// What the receiver processed: event type, checkout id, mode, webhook id.
type Seen = Arc<Mutex<Vec<(String, Option<String>, Option<Mode>, String)>>>;

async fn receive(State((receiver, seen)): State<(Arc<Receiver>, Seen)>, headers: HeaderMap, body: Bytes) -> StatusCode {
    match receiver.receive(&headers, &body) {
        Ok(Outcome::Process(delivery)) => {
            let event = &delivery.event;
            seen.lock().unwrap().push((
                event.event_type().to_owned(),
                event.checkout_id().map(|id| id.to_string()),
                event.mode().cloned(),
                delivery.webhook_id.to_string(),
            ));
            StatusCode::OK
        }
        Ok(Outcome::Ignore(_)) => StatusCode::OK,
        Err(err) => StatusCode::from_u16(err.status()).unwrap(),
    }
}

async fn serve() -> (SocketAddr, Seen) {
    let receiver = Arc::new(Receiver::new(
        Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
        CheckoutFilter::any(),
    ));
    let seen = Seen::default();
    let router = Router::new()
        .route("/webhooks/yoco", post(receive))
        .with_state((receiver, Arc::clone(&seen)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (address, seen)
}

fn send_event() -> tokio::process::Command {
    crate::example_binary("send_event")
}

async fn run(command: &mut tokio::process::Command) -> (i32, String, String) {
    let output = command.output().await.unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (output.status.code().unwrap(), text(output.stdout), text(output.stderr))
}

#[tokio::test]
async fn posts_signed_events_that_a_receiver_accepts() {
    let (address, seen) = serve().await;
    let url = format!("http://{address}/webhooks/yoco");

    let (code, out, err) = run(send_event().args([
        "--url",
        &url,
        "--secret",
        TEST_SECRET,
        "--checkout",
        "ch_mine",
        "--id",
        "msg_a",
    ]))
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("-> 200 OK") && out.contains("msg_a"), "{out}");
    assert!(!out.contains(TEST_SECRET) && !err.contains(TEST_SECRET));

    let mut command = send_event();
    command.env("YOCO_WEBHOOK_SECRET", TEST_SECRET);
    let (code, _, _) = run(command.args([
        "--url",
        &url,
        "--type",
        "payment.failed",
        "--mode",
        "live",
        "--id",
        "msg_b",
    ]))
    .await;
    assert_eq!(code, 0);

    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (
                "payment.succeeded".to_owned(),
                Some("ch_mine".to_owned()),
                Some(Mode::Test),
                "msg_a".to_owned()
            ),
            ("payment.failed".to_owned(), None, Some(Mode::Live), "msg_b".to_owned()),
        ]
    );
}

#[tokio::test]
async fn reports_refusals_and_usage_errors() {
    let (address, seen) = serve().await;
    let url = format!("http://{address}/webhooks/yoco");

    let other_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (code, out, _) = run(send_event().args(["--url", &url, "--secret", other_secret])).await;
    assert_eq!(code, 1);
    assert!(out.contains("-> 401 Unauthorized"), "{out}");
    assert!(seen.lock().unwrap().is_empty());

    let (code, _, err) = run(send_event().args(["--secret", TEST_SECRET])).await;
    assert_eq!(code, 2);
    assert!(err.contains("--url is required"), "{err}");
    let (code, _, err) = run(send_event().args(["--url", &url, "--secret", "sk_test_oops"])).await;
    assert_eq!(code, 2);
    assert!(err.contains("whsec_") && !err.contains("oops"), "{err}");
    let (code, _, err) = run(send_event().args(["--url", "http://127.0.0.1:9/x", "--secret", TEST_SECRET])).await;
    assert_eq!(code, 1);
    assert!(err.starts_with("error: POST http://127.0.0.1:9/x"), "{err}");
}

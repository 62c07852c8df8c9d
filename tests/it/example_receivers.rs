//! The example receivers, `axum_receiver` and `actix_receiver`, run as
//! processes and held to their shared contract: environment, route,
//! statuses, and one JSON line per processed event.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use yoco_webhooks::Mode;
use yoco_webhooks::WebhookSecret;
use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};

fn example(name: &str) -> tokio::process::Command {
    let mut command = crate::example_binary(name);
    command.env("BIND_ADDR", "127.0.0.1:0");
    command
}

/// A running receiver: its URL and its stdout lines.
struct Running {
    _child: Child,
    url: String,
    stdout: Lines<BufReader<ChildStdout>>,
}

async fn start(name: &str, checkout_ids: Option<&str>) -> Running {
    let mut command = example(name);
    command
        .env("YOCO_WEBHOOK_SECRET", TEST_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(ids) = checkout_ids {
        command.env("YOCO_CHECKOUT_IDS", ids);
    }
    let mut child = command.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), stderr.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let url = line.strip_prefix("listening on ").unwrap().to_owned();
    let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    Running {
        _child: child,
        url,
        stdout,
    }
}

impl Running {
    async fn post(&self, id: &str, body: Vec<u8>) -> u16 {
        let headers = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_now(id, &body);
        let mut request = reqwest::Client::new().post(&self.url).body(body);
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        request.send().await.unwrap().status().as_u16()
    }

    async fn next_line(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(5), self.stdout.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        serde_json::from_str(&line).unwrap()
    }
}

async fn processes_the_listed_checkouts_once_with_one_json_line_each(name: &str) {
    let mut receiver = start(name, Some("ch_a, ch_b")).await;

    let payment = SampleEvent::payment_succeeded()
        .checkout_id("ch_a")
        .event_id("evt_1")
        .to_json();
    assert_eq!(receiver.post("msg_1", payment.clone()).await, 200);
    assert_eq!(
        receiver.next_line().await,
        json!({"webhook_id": "msg_1", "event_id": "evt_1", "type": "payment.succeeded", "checkout_id": "ch_a",
               "mode": "live", "amount": 900, "currency": "ZAR"})
    );
    // A retry of the same delivery, a foreign checkout and a forgery print nothing.
    assert_eq!(receiver.post("msg_1", payment).await, 200);
    let foreign = SampleEvent::payment_succeeded().checkout_id("ch_c").to_json();
    assert_eq!(receiver.post("msg_2", foreign).await, 200);
    let forged = reqwest::Client::new()
        .post(&receiver.url)
        .header("webhook-id", "msg_3")
        .header("webhook-timestamp", "1")
        .header("webhook-signature", "v1,AAAA")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    assert_eq!(reqwest::get(&receiver.url).await.unwrap().status(), 405);

    // An unknown type is processed like any other, its owner read from the metadata.
    let unknown = SampleEvent::other("payment.failed")
        .checkout_id("ch_b")
        .mode(Mode::Test)
        .amount(250)
        .event_id("evt_4")
        .to_json();
    assert_eq!(receiver.post("msg_4", unknown).await, 200);
    assert_eq!(
        receiver.next_line().await,
        json!({"webhook_id": "msg_4", "event_id": "evt_4", "type": "payment.failed", "checkout_id": "ch_b",
               "mode": "test", "amount": 250, "currency": "ZAR"})
    );
    let refund = SampleEvent::refund_failed()
        .checkout_id("ch_b")
        .amount(100)
        .event_id("evt_5")
        .to_json();
    assert_eq!(receiver.post("msg_5", refund).await, 200);
    assert_eq!(receiver.next_line().await["type"], "refund.failed");
}

async fn without_a_checkout_list_everything_authentic_is_processed(name: &str) {
    let mut receiver = start(name, None).await;
    let in_store = SampleEvent::payment_succeeded()
        .without_checkout_id()
        .event_id("evt_9")
        .to_json();
    assert_eq!(receiver.post("msg_9", in_store).await, 200);
    let line = receiver.next_line().await;
    assert_eq!(
        (line["checkout_id"].clone(), line["event_id"].clone()),
        (Value::Null, json!("evt_9"))
    );
}

async fn a_missing_or_invalid_secret_exits_with_status_2(name: &str) {
    let output = example(name).output().await.unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("YOCO_WEBHOOK_SECRET"));
    let output = example(name)
        .env("YOCO_WEBHOOK_SECRET", "sk_test_not_a_webhook_secret")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("whsec_") && !stderr.contains("not_a_webhook_secret"),
        "{stderr}"
    );
}

/// The contract's tests for the example `$name`.
macro_rules! contract {
    ($module:ident, $name:literal) => {
        mod $module {
            #[tokio::test]
            async fn processes_the_listed_checkouts_once_with_one_json_line_each() {
                super::processes_the_listed_checkouts_once_with_one_json_line_each($name).await;
            }

            #[tokio::test]
            async fn without_a_checkout_list_everything_authentic_is_processed() {
                super::without_a_checkout_list_everything_authentic_is_processed($name).await;
            }

            #[tokio::test]
            async fn a_missing_or_invalid_secret_exits_with_status_2() {
                super::a_missing_or_invalid_secret_exits_with_status_2($name).await;
            }
        }
    };
}

contract!(axum, "axum_receiver");
contract!(actix, "actix_receiver");

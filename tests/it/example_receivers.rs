//! The example receivers, `axum_receiver`, `actix_receiver`,
//! `poem_receiver` (feature `poem`), `rocket_receiver` (feature `rocket`)
//! and `lambda_receiver` (feature `lambda`, under the Lambda emulator), run
//! as processes and held to their shared contract: environment, route, statuses, and one JSON line per
//! processed event.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
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

/// A running receiver: its process, URL, stdout lines, what it logged on
/// stderr so far, and what it runs under (the Lambda emulator, for
/// `lambda_receiver`).
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) stdout: Lines<BufReader<ChildStdout>>,
    pub(crate) logged: Arc<Mutex<String>>,
    _runtime: Option<Box<dyn std::any::Any + Send>>,
}

/// Starts the example `name` with the test secret and `env`, and waits until
/// it listens (`lambda_receiver`: under the Lambda emulator, which queues
/// requests until the function polls).
pub(crate) async fn start(name: &str, env: &[(&str, &str)]) -> Running {
    let mut command = example(name);
    command
        .env("YOCO_WEBHOOK_SECRET", TEST_SECRET)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(feature = "lambda")]
    if name == "lambda_receiver" {
        let emulator = crate::lambda::Emulator::start().await;
        let mut child = command.envs(emulator.function_env()).spawn().unwrap();
        let logged = crate::lambda::drain(child.stderr.take().unwrap());
        emulator.until_answered_by(&mut child, &logged).await;
        return Running {
            url: emulator.webhook_url(),
            stdout: BufReader::new(child.stdout.take().unwrap()).lines(),
            logged,
            child,
            _runtime: Some(Box::new(emulator)),
        };
    }
    let mut child = command.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    // Logs may come first (a store's notices); the address comes on its own line.
    let mut earlier = String::new();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), stderr.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap_or_else(|| panic!("{name} exited before listening:\n{earlier}"));
        match line.strip_prefix("listening on ") {
            Some(url) => break url.to_owned(),
            None => {
                earlier.push_str(&line);
                earlier.push('\n');
            }
        }
    };
    let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let logged = Arc::new(Mutex::new(earlier));
    let log = Arc::clone(&logged);
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            let mut log = log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    Running {
        child,
        url,
        stdout,
        logged,
        _runtime: None,
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

    pub(crate) async fn next_line(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(5), self.stdout.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        serde_json::from_str(&line).unwrap()
    }
}

async fn processes_the_listed_checkouts_once_with_one_json_line_each(name: &str) {
    let mut receiver = start(name, &[("YOCO_CHECKOUT_IDS", "ch_a, ch_b")]).await;

    let payment = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
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
    let foreign = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .checkout_id("ch_c")
        .to_json();
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
        .mode(Mode::Live)
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
        .mode(Mode::Live)
        .checkout_id("ch_b")
        .amount(100)
        .event_id("evt_5")
        .to_json();
    assert_eq!(receiver.post("msg_5", refund).await, 200);
    assert_eq!(receiver.next_line().await["type"], "refund.failed");
}

async fn without_a_checkout_list_everything_authentic_is_processed(name: &str) {
    let mut receiver = start(name, &[]).await;
    let in_store = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
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

/// What a receiver deduplicating in memory says on stderr at start-up.
const IN_MEMORY: &str = "deduplication is in this process's memory";

async fn says_at_start_up_that_deduplication_is_in_memory(name: &str) {
    let receiver = start(name, &[]).await;
    // Said before it listens, so it is in what `start` read already.
    let logged = receiver.logged.lock().unwrap().clone();
    let line = logged
        .lines()
        .find(|line| line.contains(IN_MEMORY))
        .unwrap_or_else(|| panic!("no word of in-memory deduplication:\n{logged}"));
    assert!(line.starts_with("warning:"), "{line}");
    assert!(line.contains("a restart forgets"), "{line}");
    assert!(
        line.contains("YOCO_REDIS_URL") && line.contains("YOCO_DATABASE_URL"),
        "{line}"
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

/// The value of the one sample of `metric` whose labels include all of
/// `labels`, in Prometheus' text format.
fn sample(metrics: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|line| line.starts_with(&format!("{metric}{{")))
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

async fn reports_its_deliveries_on_metrics_and_logs_nothing_secret(name: &str) {
    let mut receiver = start(name, &[("YOCO_CHECKOUT_IDS", "ch_a"), ("RUST_LOG", "debug")]).await;
    let printed = post_each_kind(&mut receiver).await;

    let metrics = reqwest::get(receiver.url.replace("/webhooks/yoco", "/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let deliveries = |labels: &[&str]| sample(&metrics, "yoco_webhooks_deliveries_total", labels);
    let payment = r#"event_type="payment.succeeded""#;
    assert_eq!(deliveries(&[r#"outcome="processed""#, payment]), Some(1.0), "{metrics}");
    assert_eq!(
        deliveries(&[r#"outcome="processed""#, r#"event_type="refund.succeeded""#]),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(deliveries(&[r#"outcome="duplicate""#, payment]), Some(1.0), "{metrics}");
    assert_eq!(
        deliveries(&[r#"outcome="ignored""#, r#"reason="foreign_checkout""#]),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        deliveries(&[r#"outcome="rejected""#, r#"reason="stale_timestamp""#]),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"yoco_webhooks_store_seconds{store="MemoryStore",operation="claim""#),
        "{metrics}"
    );
    logs_nothing_secret(&receiver, &printed).await;
}

/// What a body of each kind carries in its metadata: a text that must
/// never be printed.
pub(crate) const BODY_TEXT: &str = "body-text-never-printed";

/// Posts, with `receiver` filtering on `ch_a`: a payment (processed), its
/// retry (duplicate), a refund (processed), a foreign payment (ignored)
/// and a forgery (401); each body carries [`BODY_TEXT`]. The lines the
/// receiver printed on stdout for the two it processed.
async fn post_each_kind(receiver: &mut Running) -> Vec<Value> {
    let payment = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .checkout_id("ch_a")
        .metadata("notes", BODY_TEXT)
        .to_json();
    assert_eq!(receiver.post("msg_1", payment.clone()).await, 200);
    let mut printed = vec![receiver.next_line().await];
    assert_eq!(receiver.post("msg_1", payment.clone()).await, 200);
    let refund = SampleEvent::refund_succeeded()
        .mode(Mode::Live)
        .checkout_id("ch_a")
        .metadata("notes", BODY_TEXT)
        .to_json();
    assert_eq!(receiver.post("msg_2", refund).await, 200);
    printed.push(receiver.next_line().await);
    let foreign = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .checkout_id("ch_c")
        .metadata("notes", BODY_TEXT)
        .to_json();
    assert_eq!(receiver.post("msg_3", foreign).await, 200);
    assert_eq!(post_forged(&receiver.url, payment).await, 401);
    printed
}

/// Posts `body` to `url` as delivery `msg_4`, stale and with a forged
/// signature; the status.
pub(crate) async fn post_forged(url: &str, body: Vec<u8>) -> u16 {
    let forged = reqwest::Client::new()
        .post(url)
        .header("webhook-id", "msg_4")
        .header("webhook-timestamp", "1")
        .header("webhook-signature", "v1,AAAA")
        .body(body)
        .send()
        .await
        .unwrap();
    forged.status().as_u16()
}

/// Once [`post_each_kind`]'s deliveries are logged (a line each on stderr,
/// written before the answer, read by another task: waited for), neither
/// the log nor the `printed` lines hold the secret, its base64 key, a
/// signature or the body's text.
async fn logs_nothing_secret(receiver: &Running, printed: &[Value]) {
    let expected = ["delivery processed", "foreign_checkout", "stale_timestamp"];
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while !expected
            .iter()
            .all(|line| receiver.logged.lock().unwrap().contains(line))
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let logged = receiver.logged.lock().unwrap().clone();
    assert!(waited.is_ok(), "{expected:?} not all logged:\n{logged}");
    assert_nothing_secret(&logged);
    for line in printed {
        assert_nothing_secret(&line.to_string());
    }
}

/// `output` (a log, printed lines) holds neither the test secret, nor its
/// base64 key, nor a `v1,` signature, nor a body (its JSON, its text).
pub(crate) fn assert_nothing_secret(output: &str) {
    let key = TEST_SECRET.trim_start_matches("whsec_");
    for leak in [TEST_SECRET, key, "v1,", "{\"id\"", BODY_TEXT] {
        assert!(!output.contains(leak), "{leak:?} in the output:\n{output}");
    }
}

async fn a_test_secret_vouches_for_test_events_only(name: &str) {
    let live = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let mut receiver = start(
        name,
        &[("YOCO_WEBHOOK_SECRET", live), ("YOCO_WEBHOOK_SECRET_TEST", TEST_SECRET)],
    )
    .await;
    // `post` signs with the test secret.
    let test_event = SampleEvent::payment_succeeded().mode(Mode::Test).to_json();
    assert_eq!(receiver.post("msg_1", test_event).await, 200);
    assert_eq!(receiver.next_line().await["mode"], "test");
    let live_event = SampleEvent::payment_succeeded().mode(Mode::Live).to_json();
    assert_eq!(
        receiver.post("msg_2", live_event).await,
        401,
        "a test secret cannot vouch for a live event"
    );
    let metrics = reqwest::get(receiver.url.replace("/webhooks/yoco", "/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        sample(&metrics, "yoco_webhooks_verified_total", &[r#"secret="test""#]),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "yoco_webhooks_deliveries_total",
            &[r#"reason="mode_mismatch""#]
        ),
        Some(1.0),
        "{metrics}"
    );
}

/// Starts the two example receivers `examples` on one shared store (the
/// environment variable `store` names it), fires every delivery at both at
/// once, retried as Yoco retries until each is answered 200, then counts
/// the JSON lines they printed: exactly one per delivery.
pub(crate) async fn two_processes_print_each_delivery_once(examples: [&str; 2], store: (&str, &str)) {
    two_processes_on_one_store_print_each_delivery_once(examples, &[store]).await;
}

/// [`two_processes_print_each_delivery_once`] on a store that `env` (the
/// store's variable first) names.
pub(crate) async fn two_processes_on_one_store_print_each_delivery_once(examples: [&str; 2], env: &[(&str, &str)]) {
    const DELIVERIES: usize = 20;
    let mut receivers = Vec::new();
    for name in examples {
        let receiver = start(name, env).await;
        let logged = receiver.logged.lock().unwrap().clone();
        assert!(!logged.contains(IN_MEMORY), "{name} on {:?}:\n{logged}", env.first());
        receivers.push(receiver);
    }

    let mut posts = tokio::task::JoinSet::new();
    for n in 0..DELIVERIES {
        for receiver in &receivers {
            let url = receiver.url.clone();
            posts.spawn(async move {
                let body = SampleEvent::payment_succeeded()
                    .mode(Mode::Live)
                    .event_id(&format!("evt_{n}"))
                    .to_json();
                let id = format!("msg_{n}");
                // As Yoco does: a 409 (the other has it in hand) or a 503
                // (a store slow under this load) is retried, until 200.
                let mut statuses = Vec::new();
                while statuses.last() != Some(&200) {
                    assert!(statuses.len() < 100, "msg_{n}: {statuses:?}");
                    let headers = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_now(&id, &body);
                    let mut request = reqwest::Client::new()
                        .post(&url)
                        .timeout(Duration::from_secs(15))
                        .body(body.clone());
                    for (name, value) in headers.pairs() {
                        request = request.header(name, value);
                    }
                    statuses.push(request.send().await.unwrap().status().as_u16());
                    if statuses.last() != Some(&200) {
                        tokio::time::sleep(Duration::from_millis(10 * statuses.len() as u64)).await;
                    }
                }
                (n, statuses)
            });
        }
    }
    while let Some(answer) = posts.join_next().await {
        let (n, statuses) = answer.unwrap();
        assert!(
            statuses.iter().all(|s| [200, 409, 503].contains(s)),
            "msg_{n}: {statuses:?}"
        );
    }

    // Every answer is in, so every line is written (the examples print
    // before they answer); stop both and read all they printed.
    let mut printed = HashMap::<String, usize>::new();
    for mut receiver in receivers {
        receiver.child.kill().await.unwrap();
        while let Some(line) = receiver.stdout.next_line().await.unwrap() {
            let line: Value = serde_json::from_str(&line).unwrap();
            *printed
                .entry(line["webhook_id"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(printed.len(), DELIVERIES, "{printed:?}");
    assert!(printed.values().all(|&count| count == 1), "{printed:?}");
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
            async fn reports_its_deliveries_on_metrics_and_logs_nothing_secret() {
                super::reports_its_deliveries_on_metrics_and_logs_nothing_secret($name).await;
            }

            #[tokio::test]
            async fn a_test_secret_vouches_for_test_events_only() {
                super::a_test_secret_vouches_for_test_events_only($name).await;
            }

            #[tokio::test]
            async fn a_missing_or_invalid_secret_exits_with_status_2() {
                super::a_missing_or_invalid_secret_exits_with_status_2($name).await;
            }

            #[tokio::test]
            async fn says_at_start_up_that_deduplication_is_in_memory() {
                super::says_at_start_up_that_deduplication_is_in_memory($name).await;
            }
        }
    };
}

contract!(axum, "axum_receiver");
contract!(actix, "actix_receiver");
#[cfg(feature = "poem")]
contract!(poem, "poem_receiver");
#[cfg(feature = "rocket")]
contract!(rocket, "rocket_receiver");

/// The contract's tests that apply to a Lambda function: no `/metrics` (each
/// instance would count only its own invocations).
#[cfg(feature = "lambda")]
mod lambda {
    #[tokio::test]
    async fn processes_the_listed_checkouts_once_with_one_json_line_each() {
        super::processes_the_listed_checkouts_once_with_one_json_line_each("lambda_receiver").await;
    }

    #[tokio::test]
    async fn without_a_checkout_list_everything_authentic_is_processed() {
        super::without_a_checkout_list_everything_authentic_is_processed("lambda_receiver").await;
    }

    #[tokio::test]
    async fn a_missing_or_invalid_secret_exits_with_status_2() {
        super::a_missing_or_invalid_secret_exits_with_status_2("lambda_receiver").await;
    }

    /// The function's own output (stdout and stderr, as CloudWatch gets
    /// it), at `debug`, holds nothing secret.
    #[tokio::test]
    async fn logs_nothing_secret() {
        let mut receiver = super::start(
            "lambda_receiver",
            &[("YOCO_CHECKOUT_IDS", "ch_a"), ("RUST_LOG", "debug")],
        )
        .await;
        let printed = super::post_each_kind(&mut receiver).await;
        super::logs_nothing_secret(&receiver, &printed).await;
    }
}

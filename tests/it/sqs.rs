//! The SQS queue and its worker against moto's server (`moto.rs`): the
//! endpoint answering `queued` over HTTP, and 503 when SQS is down or
//! refuses the message; a FIFO queue's deduplication; the worker
//! processing, deleting, leaving a failed delivery to reappear, the
//! dead-letter queue after `maxReceiveCount`, listed and re-driven from the
//! command line; Lambda's batch with partial failures; and the round trips
//! of each, counted by an SDK interceptor. The worker processes are in
//! `sqs_processes.rs`.
//!
//! moto answers SQS's API as AWS documents it; it cannot show SQS's
//! throughput, its latency, or its at-least-once delivery under failures
//! (moto delivers exactly what it holds), and these tests claim none of it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sqs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sqs::error::BoxError;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use axum::Router;
use axum::routing::post;
use yoco_webhooks::dedup::{MemoryStore, StoreErrorKind};
use yoco_webhooks::sqs::SqsQueue;
use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};
use yoco_webhooks::{
    Delivery, DeliveryQueue, Enqueued, Outcome, StoredDelivery, WebhookSecret, YocoWebhook, YocoWebhookConfig,
};

pub(crate) use crate::deliveries::{post as post_delivery, receiver, stored};
use crate::moto::Moto;

/// How long a test waits for the worker before it fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// The SQS operations a client sent, in order (`SendMessage`, ...).
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "Calls"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context.request().headers().get("x-amz-target").unwrap_or("?");
        let operation = target.trim_start_matches("AmazonSQS.").to_owned();
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

impl Calls {
    fn count(&self, operation: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|called| *called == operation)
            .count()
    }

    fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

/// A client of `moto`, its calls counted.
async fn client(moto: &Moto) -> (Client, Calls) {
    let calls = Calls::default();
    let config = aws_sdk_sqs::config::Builder::from(&moto.sdk_config().await)
        .interceptor(calls.clone())
        .build();
    (Client::from_conf(config), calls)
}

/// A new queue named after `prefix` (`.fifo` added for a FIFO queue) with
/// `attributes`: its URL.
pub(crate) async fn create_queue(client: &Client, prefix: &str, attributes: &[(QueueAttributeName, &str)]) -> String {
    let fifo = attributes
        .iter()
        .any(|(name, _)| *name == QueueAttributeName::FifoQueue);
    let mut name = Moto::unique(prefix);
    if fifo {
        name.push_str(".fifo");
    }
    let mut create = client.create_queue().queue_name(name);
    for (attribute, value) in attributes {
        create = create.attributes(attribute.clone(), *value);
    }
    create.send().await.unwrap().queue_url().unwrap().to_owned()
}

/// A queue whose messages reappear after a second and go to a new
/// dead-letter queue on their `max_receives + 1`-th receive: (queue, DLQ).
pub(crate) async fn queue_with_dlq(client: &Client, max_receives: u32) -> (String, String) {
    let dlq = create_queue(client, "dead", &[]).await;
    let arn = client
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let policy =
        serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": max_receives.to_string()}).to_string();
    let queue = create_queue(
        client,
        "work",
        &[
            (QueueAttributeName::VisibilityTimeout, "1"),
            (QueueAttributeName::RedrivePolicy, &policy),
        ],
    )
    .await;
    (queue, dlq)
}

/// An axum endpoint queuing to `queue`: its URL.
async fn endpoint(queue: SqsQueue) -> String {
    let config = YocoWebhookConfig::new(receiver()).with_queue(queue);
    let app = Router::new()
        .route(
            "/webhooks/yoco",
            post(|webhook: YocoWebhook| async move {
                webhook
                    .process(|_| async { Err::<(), _>("the route's handler does not run with a queue") })
                    .await
            }),
        )
        .with_state(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/webhooks/yoco")
}

/// The ids a handler saw, in order.
#[derive(Debug, Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn ids(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn times(&self, id: &str) -> usize {
        self.0.lock().unwrap().iter().filter(|seen| *seen == id).count()
    }

    async fn until(&self, what: &str, check: impl Fn(&[String]) -> bool) {
        let started = std::time::Instant::now();
        while !check(&self.ids()) {
            assert!(
                started.elapsed() < PATIENCE,
                "not within {PATIENCE:?}: {what}; saw {:?}",
                self.ids()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A worker on `queue` with a store of its own, recording each delivery in
/// `seen` and failing those starting `always-` while `failing` holds, run
/// until the returned sender is dropped.
fn run_worker(queue: &SqsQueue, seen: &Seen, failing: Arc<AtomicBool>) -> tokio::sync::oneshot::Sender<()> {
    let seen = seen.clone();
    let worker = queue
        .worker(receiver(), MemoryStore::default(), move |delivery: Delivery| {
            let (seen, failing) = (seen.clone(), Arc::clone(&failing));
            async move {
                let id = delivery.webhook_id.to_string();
                seen.0.lock().unwrap().push(id.clone());
                if id.starts_with("always-") && failing.load(Ordering::SeqCst) {
                    return Err("told to fail");
                }
                Ok(())
            }
        })
        .long_poll(Duration::from_secs(1))
        .lease(Duration::from_secs(1))
        .attempt_timeout(Duration::from_millis(900));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(worker.run_until(async move {
        let _ = stopped.await;
    }));
    stop
}

/// The messages `queue` holds, received once each (hidden a minute).
async fn drain(client: &Client, queue: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let mut all = Vec::new();
    loop {
        let received = client
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        match received.messages {
            Some(messages) if !messages.is_empty() => all.extend(messages),
            _ => return all,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_over_http_in_one_send_and_processed_with_one_delete_each() {
    let moto = Moto::shared();
    let (client, calls) = client(moto).await;
    let url = create_queue(&client, "queued", &[(QueueAttributeName::VisibilityTimeout, "5")]).await;
    let queue = SqsQueue::new(client.clone(), &url);
    let endpoint = endpoint(queue.clone()).await;
    let http = reqwest::Client::new();
    calls.clear();
    for n in 0..10 {
        let answer = post_delivery(&http, &endpoint, &format!("msg_{n}")).await;
        assert_eq!(answer, (200, "queued".to_owned()));
    }
    assert_eq!(calls.count("SendMessage"), 10, "one round trip per delivery: {calls:?}");
    assert_eq!(calls.0.lock().unwrap().len(), 10, "{calls:?}");

    calls.clear();
    let seen = Seen::default();
    let stop = run_worker(&queue, &seen, Arc::default());
    seen.until("all ten processed", |ids| ids.len() == 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(stop);
    let (receives, deletes) = (calls.count("ReceiveMessage"), calls.count("DeleteMessage"));
    eprintln!("10 deliveries: {receives} ReceiveMessage (up to 10 messages each), {deletes} DeleteMessage");
    assert_eq!(deletes, 10, "one delete per processed delivery: {calls:?}");
    assert!(receives <= 10, "receives are shared by a batch: {calls:?}");
    assert!(drain(&client, &url).await.is_empty(), "every message deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_down_or_refusing_the_message_is_503_never_200() {
    let moto = Moto::start();
    let (client, _) = client(&moto).await;
    let url = create_queue(&client, "down", &[]).await;
    // moto takes messages of any size (SQS refuses those over the queue's
    // `MaximumMessageSize`): the queue's own limit refuses them here.
    let queue = SqsQueue::new(client.clone(), &url).max_message_bytes(256 * 1024);
    let endpoint = endpoint(queue.clone()).await;
    let http = reqwest::Client::new();

    // A delivery larger than the queue takes: misconfigured, never acknowledged.
    let sample = String::from_utf8(SampleEvent::payment_succeeded().checkout_id("ch_shop").to_json()).unwrap();
    let large = sample.replacen('{', &format!("{{\"padding\":\"{}\",", "x".repeat(300 * 1024)), 1);
    let headers = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_now("large-1", large.as_bytes());
    let mut request = http.post(&endpoint).body(large.clone());
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    let answer = request.send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 503);
    assert_eq!(answer.text().await.unwrap(), "queue unavailable");
    let pairs: Vec<(String, String)> = headers
        .pairs()
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    let Outcome::Process(delivery) = receiver().receive(&pairs, large.as_bytes()).unwrap() else {
        panic!()
    };
    let refused = queue.enqueue(&delivery.to_stored()).await.unwrap_err();
    assert_eq!(refused.kind(), StoreErrorKind::Configuration, "{refused}");
    eprintln!("{refused}");

    let address = moto.address();
    drop(moto); // SQS down: unavailable, once its port refuses.
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(address).is_ok() {
        assert!(started.elapsed() < PATIENCE, "moto still serves");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let err = queue.enqueue(&stored("down-1")).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
    assert_eq!(
        post_delivery(&http, &endpoint, "down-2").await,
        (503, "queue unavailable".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_queue_drops_a_copy_by_webhook_id_each_delivery_its_own_group() {
    let moto = Moto::shared();
    let (client, _) = client(moto).await;
    let url = create_queue(&client, "copies", &[(QueueAttributeName::FifoQueue, "true")]).await;
    let queue = SqsQueue::new(client.clone(), &url);
    assert!(queue.is_fifo());
    for id in ["fifo-1", "fifo-1", "fifo-2"] {
        // SQS answers a copy as a new message: so does the queue.
        assert_eq!(queue.enqueue(&stored(id)).await.unwrap(), Enqueued::New);
    }
    let messages = drain(&client, &url).await;
    let groups: Vec<&str> = messages
        .iter()
        .map(|message| message.attributes().unwrap()[&MessageSystemAttributeName::MessageGroupId].as_str())
        .collect();
    assert_eq!(groups, ["fifo-1", "fifo-2"], "the copy dropped: {messages:?}");
    let attribute = messages[0]
        .message_attributes()
        .map(|attributes| attributes.contains_key("webhook_id"));
    assert!(attribute.unwrap_or(true), "{messages:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_delivery_reappears_goes_to_the_dead_letter_queue_and_is_redriven_from_the_command_line() {
    let moto = Moto::shared();
    let (client, _) = client(moto).await;
    let (url, dlq) = queue_with_dlq(&client, 2).await;
    let queue = SqsQueue::new(client.clone(), &url);
    queue.enqueue(&stored("always-1")).await.unwrap();
    queue.enqueue(&stored("fine-1")).await.unwrap();
    let failing = Arc::new(AtomicBool::new(true));
    let seen = Seen::default();
    let stop = run_worker(&queue, &seen, Arc::clone(&failing));
    seen.until("fine-1 done and always-1 tried twice", |_| {
        seen.times("fine-1") == 1 && seen.times("always-1") == 2
    })
    .await;
    // Its third receive moves it to the dead-letter queue.
    let dead = queue
        .dead_letter_queue()
        .await
        .unwrap()
        .expect("the queue's RedrivePolicy names it");
    assert_eq!(dead.url(), dlq);
    let started = std::time::Instant::now();
    let letters = loop {
        let letters = dead.dead_letters(10).await.unwrap();
        if !letters.is_empty() || started.elapsed() > PATIENCE {
            break letters;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(stop);
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].stored.as_ref().unwrap().webhook_id().as_str(), "always-1");
    assert_eq!(seen.times("always-1"), 2, "not processed again once dead");

    #[cfg(feature = "cli")]
    {
        let env = moto_env(moto);
        let listed = cli(&["sqs", "dead", "--queue", &url], &env).await;
        assert!(
            listed.contains("always-1") && listed.contains("payment.succeeded"),
            "{listed}"
        );
        assert!(!listed.contains("v1,"), "no signature shown: {listed}");
        let moved = cli(&["sqs", "redrive", "--queue", &url, "--webhook-id", "always-1"], &env).await;
        assert!(moved.contains("moved 1"), "{moved}");
    }
    #[cfg(not(feature = "cli"))]
    assert_eq!(dead.redrive_to(&queue, None).await.unwrap(), 1);

    failing.store(false, Ordering::SeqCst);
    let stop = run_worker(&queue, &seen, failing);
    seen.until("always-1 processed after the redrive", |_| seen.times("always-1") == 3)
        .await;
    drop(stop);
    assert!(dead.dead_letters(10).await.unwrap().is_empty());
}

/// The environment the command line needs to reach `moto`.
#[cfg(feature = "cli")]
pub(crate) fn moto_env(moto: &Moto) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("AWS_REGION", "eu-west-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
    ]
    .map(|(name, value)| (name.to_owned(), value))
    .to_vec()
}

/// Runs `yoco-webhooks args` with `env`; its stdout, once it succeeded.
#[cfg(feature = "cli")]
async fn cli(args: &[&str], env: &[(String, String)]) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_yoco-webhooks"))
        .args(args)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .output()
        .await
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        output.status.success(),
        "{args:?}: {}\n{stdout}\n{stderr}",
        output.status
    );
    stdout.into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lambda_batch_names_the_failed_and_unreadable_messages_only() {
    let moto = Moto::shared();
    let (client, _) = client(moto).await;
    let url = create_queue(&client, "lambda", &[]).await;
    let queue = SqsQueue::new(client.clone(), &url);
    for id in ["ok-1", "always-1"] {
        queue.enqueue(&stored(id)).await.unwrap();
    }
    client
        .send_message()
        .queue_url(&url)
        .message_body("not a delivery")
        .send()
        .await
        .unwrap();
    let mut changed = stored("changed-1");
    changed = StoredDelivery::new(
        changed.webhook_id().clone(),
        changed.webhook_timestamp(),
        changed.webhook_signature(),
        changed.body().replace("ch_shop", "ch_thief"),
        changed.received_at(),
        changed.receipt(),
    );
    client
        .send_message()
        .queue_url(&url)
        .message_body(serde_json::to_string(&changed).unwrap())
        .send()
        .await
        .unwrap();

    // The event Lambda would build of the messages SQS gives out.
    let mut event = SqsEvent::default();
    for message in drain(&client, &url).await {
        let mut record = SqsMessage::default();
        record.message_id = message.message_id().map(str::to_owned);
        record.receipt_handle = message.receipt_handle().map(str::to_owned);
        record.body = message.body().map(str::to_owned);
        record.attributes = message
            .attributes()
            .unwrap()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
            .collect();
        event.records.push(record);
    }
    assert_eq!(event.records.len(), 4);
    let ids: HashMap<String, String> = event
        .records
        .iter()
        .map(|record| {
            let body = record.body.clone().unwrap();
            let id = serde_json::from_str::<StoredDelivery>(&body)
                .map_or_else(|_| "garbage".to_owned(), |stored| stored.webhook_id().to_string());
            (record.message_id.clone().unwrap(), id)
        })
        .collect();

    let seen = Seen::default();
    let seen_by = seen.clone();
    let worker = queue.worker(receiver(), MemoryStore::default(), move |delivery: Delivery| {
        let seen = seen_by.clone();
        async move {
            let id = delivery.webhook_id.to_string();
            seen.0.lock().unwrap().push(id.clone());
            if id.starts_with("always-") {
                Err("told to fail")
            } else {
                Ok(())
            }
        }
    });
    let failed = |answer: aws_lambda_events::sqs::SqsBatchResponse| {
        let mut failed: Vec<String> = answer
            .batch_item_failures
            .iter()
            .map(|failure| ids[&failure.item_identifier].clone())
            .collect();
        failed.sort();
        failed
    };
    let answer = worker.handle_batch(event.clone()).await;
    assert_eq!(failed(answer), ["always-1", "changed-1", "garbage"]);
    // Lambda gives the whole batch again: the done one is a duplicate now.
    let again = worker.handle_batch(event).await;
    assert_eq!(failed(again), ["always-1", "changed-1", "garbage"]);
    let mut ran = seen.ids();
    ran.sort();
    assert_eq!(
        ran,
        ["always-1", "always-1", "ok-1"],
        "ok-1 once; the changed and the garbage never"
    );
}

/// What a `tracing_subscriber::fmt` subscriber writes.
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

/// A Lambda record of `body`, as message `id`, received `count` times.
fn record(id: &str, body: &str, count: u32) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(id.to_owned());
    record.body = Some(body.to_owned());
    record
        .attributes
        .insert("ApproximateReceiveCount".to_owned(), count.to_string());
    record
}

#[test]
fn each_attempt_is_a_span_and_a_count_by_result_with_nothing_secret() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use yoco_webhooks::sqs::observe::{ATTEMPT_SPAN, ATTEMPTS_TOTAL};

    let written = Written::default();
    let writer = written.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .finish();
    let _subscriber = crate::capture_this_thread(subscriber);
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (ok, failing) = (stored("ok-1"), stored("always-1"));
    let mut event = SqsEvent::default();
    event.records = vec![
        record("m-ok", &serde_json::to_string(&ok).unwrap(), 1),
        record("m-fail", &serde_json::to_string(&failing).unwrap(), 1),
        record("m-garbage", "not a delivery", 3),
    ];
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let client = Client::from_conf(
                aws_sdk_sqs::Config::builder()
                    .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
                    .region(aws_sdk_sqs::config::Region::new("eu-west-1"))
                    .build(),
            );
            let queue = SqsQueue::new(client, "http://127.0.0.1:9/unused");
            let worker = queue.worker(receiver(), MemoryStore::default(), |delivery: Delivery| async move {
                if delivery.webhook_id.as_str().starts_with("always-") {
                    Err("told to fail")
                } else {
                    Ok(())
                }
            });
            let first = worker.handle_batch(event.clone()).await;
            assert_eq!(first.batch_item_failures.len(), 2);
            let _ = worker.handle_batch(event).await;
        });
    });
    let mut results = std::collections::BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        if let (ATTEMPTS_TOTAL, DebugValue::Counter(count)) = (key.key().name(), value) {
            let label = |name: &str| {
                key.key()
                    .labels()
                    .find(|label| label.key() == name)
                    .unwrap()
                    .value()
                    .to_owned()
            };
            *results.entry((label("result"), label("event_type"))).or_insert(0) += count;
        }
    }
    let paid = "payment.succeeded".to_owned();
    assert_eq!(
        results,
        [
            (("done".to_owned(), paid.clone()), 1),
            (("duplicate".to_owned(), paid.clone()), 1),
            (("failed".to_owned(), paid), 2),
            (("unreadable".to_owned(), "none".to_owned()), 2),
        ]
        .into_iter()
        .collect()
    );
    let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains(ATTEMPT_SPAN), "{text}");
    assert!(
        text.contains(r#"webhook_id="always-1""#) && text.contains(r#"error="told to fail""#),
        "{text}"
    );
    assert!(
        text.contains("not a stored delivery") && text.contains("attempt=3"),
        "{text}"
    );
    for secret in [
        TEST_SECRET,
        failing.webhook_signature(),
        failing.receipt(),
        "not a delivery",
        "ch_shop\\\"",
    ] {
        assert!(!text.contains(secret), "{secret} logged:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_gives_back_the_delivery_in_hand_after_its_grace() {
    let moto = Moto::shared();
    let (client, calls) = client(moto).await;
    // A minute's visibility: only a message given back is visible again soon.
    let url = create_queue(&client, "stopping", &[(QueueAttributeName::VisibilityTimeout, "60")]).await;
    let queue = SqsQueue::new(client.clone(), &url);
    queue.enqueue(&stored("hold-1")).await.unwrap();
    let seen = Seen::default();
    let seen_by = seen.clone();
    let holder = queue
        .worker(receiver(), MemoryStore::default(), move |delivery: Delivery| {
            let seen = seen_by.clone();
            async move {
                seen.0.lock().unwrap().push(delivery.webhook_id.to_string());
                std::future::pending::<Result<(), &str>>().await
            }
        })
        .long_poll(Duration::from_secs(1))
        .shutdown_grace(Duration::from_millis(200));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(holder.run_until(async move {
        let _ = stopped.await;
    }));
    seen.until("hold-1 in hand", |ids| ids.len() == 1).await;
    drop(stop);
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(calls.count("ChangeMessageVisibility"), 1, "given back: {calls:?}");
    assert_eq!(calls.count("DeleteMessage"), 0, "{calls:?}");

    // Visible again at once (not after the minute): another worker takes it.
    let stop = run_worker(&queue, &seen, Arc::default());
    seen.until("hold-1 processed by the next worker", |ids| ids.len() == 2)
        .await;
    drop(stop);
}

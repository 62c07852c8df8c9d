//! `InboxRunner` on a real PostgreSQL: its own pool beside the endpoint's,
//! the attempt timeout, a handler that panics, a shutdown mid-attempt, the
//! handler's writes committing with "done" or not at all, and what it
//! reports (a span per attempt, counters by result, the inbox's gauges).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tokio::sync::{Notify, oneshot};
use tracing_subscriber::layer::SubscriberExt as _;
use yoco_webhooks::postgres::sqlx::postgres::PgPoolOptions;
use yoco_webhooks::postgres::sqlx::{self, PgConnection, PgPool};
use yoco_webhooks::postgres::{Inbox, InboxHandler, observe};
use yoco_webhooks::testing::TEST_SECRET;
use yoco_webhooks::{Delivery, DeliveryQueue, YocoWebhook, YocoWebhookConfig};

use crate::inbox::{eventually, prepare, processed, receiver, row, stored};
use crate::postgres::TestDb;

/// Records each delivery in `processed` through the delivery's
/// transaction, after `wait`; fails those whose `webhook-id` starts with
/// `fails`.
#[derive(Default)]
struct Recording {
    wait: Duration,
    fails: Option<&'static str>,
}

impl InboxHandler for Recording {
    type Error = String;

    async fn handle(&self, delivery: Delivery, connection: &mut PgConnection) -> Result<(), String> {
        tokio::time::sleep(self.wait).await;
        if self
            .fails
            .is_some_and(|prefix| delivery.webhook_id.as_str().starts_with(prefix))
        {
            return Err("the warehouse said no".to_owned());
        }
        sqlx::query("INSERT INTO processed (webhook_id, worker, attempt) VALUES ($1, 'runner', 0)")
            .bind(delivery.webhook_id.as_str())
            .execute(connection)
            .await
            .map_err(|err| err.to_string())?;
        Ok(())
    }
}

/// Runs `runner` on a task; the sender stops it.
fn spawn<H: InboxHandler>(
    runner: yoco_webhooks::postgres::InboxRunner<H>,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel();
    let running = tokio::spawn(async move {
        runner
            .run_until(async move {
                let _ = stopped.await;
            })
            .await;
    });
    (stop, running)
}

/// The endpoint's pool as the docs size it: three connections, and a
/// short wait for one, so that a starved pool shows as 503 at once.
async fn endpoint_pool(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(3)
        .acquire_timeout(Duration::from_secs(1))
        .connect(url)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_workers_at_their_limit_never_starve_the_endpoint() {
    let db = TestDb::new("runner_starve").await;
    let pool = endpoint_pool(&db.url).await;
    let inbox = prepare(&pool).await;
    // Three workers on three slow deliveries: each holds a connection, a
    // transaction and a row lock for 3 s, on the runner's own pool.
    let slow = Recording {
        wait: Duration::from_secs(3),
        ..Recording::default()
    };
    let (stop, running) = spawn(
        inbox
            .runner(receiver(), slow)
            .workers(3)
            .poll_every(Duration::from_millis(20)),
    );
    for n in 0..3 {
        inbox.enqueue(&stored(&format!("slow-{n}"))).await.unwrap();
    }
    eventually("three attempts in hand", || async {
        let (held,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM yoco_webhook_inbox WHERE attempts = 1 AND state = 'pending'")
                .fetch_one(&pool)
                .await
                .unwrap();
        held == 3
    })
    .await;

    // Meanwhile Yoco delivers more: each is queued, none refused for a
    // connection (the endpoint's three are all its own).
    let config = YocoWebhookConfig::new(receiver()).with_queue(inbox.clone());
    let router = Router::new()
        .route("/", post(|_: YocoWebhook| async {}))
        .with_state(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = reqwest::Client::new();
    let mut posts = tokio::task::JoinSet::new();
    for n in 0..12 {
        let (client, url) = (client.clone(), url.clone());
        posts.spawn(async move { crate::inbox::post(&client, &url, &format!("fast-{n}")).await });
    }
    while let Some(answer) = posts.join_next().await {
        assert_eq!(answer.unwrap(), (200, "queued".to_owned()));
    }
    let (held,): (i64,) = sqlx::query_as("SELECT count(*) FROM processed")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        held, 0,
        "the slow attempts were still in hand while the endpoint answered"
    );
    eventually("all fifteen processed", || async { processed(&pool).await.len() == 15 }).await;
    stop.send(()).unwrap();
    running.await.unwrap();

    // The mistake the split prevents, to show this test would see it: the
    // same workers on the endpoint's own pool starve it into 503s.
    let slow = Recording {
        wait: Duration::from_secs(3),
        ..Recording::default()
    };
    let runner = inbox.runner(receiver(), slow).workers(3).pool(pool.clone());
    let (stop, running) = spawn(runner.poll_every(Duration::from_millis(20)));
    for n in 0..3 {
        inbox.enqueue(&stored(&format!("shared-{n}"))).await.unwrap();
    }
    let mut answers = Vec::new();
    for n in 0..6 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        answers.push(crate::inbox::post(&client, &url, &format!("starved-{n}")).await.0);
    }
    assert!(
        answers.contains(&503),
        "a shared pool never starved the endpoint: {answers:?}"
    );
    stop.send(()).unwrap();
    running.await.unwrap();
}

/// Another worker's take locks a just-taken row for an instant; a worker
/// that skipped its own delivery then would leave it for its backoff, its
/// attempt counted and never run (`abandoned`). Each must run at its first
/// attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_run_each_delivery_at_its_first_attempt() {
    const DELIVERIES: usize = 300;
    let db = TestDb::new("runner_first_attempt").await;
    let pool = db.pool().await;
    let inbox = prepare(&pool).await;
    for n in 0..DELIVERIES {
        inbox.enqueue(&stored(&format!("first-{n}"))).await.unwrap();
    }
    let (stop, running) = spawn(
        inbox
            .runner(receiver(), Recording::default())
            .workers(3)
            .poll_every(Duration::from_millis(5)),
    );
    eventually("every delivery done", || async {
        processed(&pool).await.len() == DELIVERIES
    })
    .await;
    stop.send(()).unwrap();
    running.await.unwrap();
    let (later,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM yoco_webhook_inbox WHERE attempts <> 1 OR last_error IS NOT NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(later, 0, "deliveries taken more than once");
}

/// Hangs for ever, counting its calls.
#[derive(Default)]
struct Hangs(AtomicU32);

impl InboxHandler for Hangs {
    type Error = String;

    async fn handle(&self, _: Delivery, _: &mut PgConnection) -> Result<(), String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        std::future::pending().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_past_its_timeout_fails_with_backoff_and_is_dead_after_the_last() {
    let db = TestDb::new("runner_timeout").await;
    let pool = db.pool().await;
    let inbox = prepare(&pool)
        .await
        .max_attempts(3)
        .backoff(Duration::from_millis(100), Duration::from_millis(100))
        .attempt_timeout(Duration::from_millis(200));
    inbox.enqueue(&stored("hangs-1")).await.unwrap();
    let (stop, running) = spawn(
        inbox
            .runner(receiver(), Hangs::default())
            .poll_every(Duration::from_millis(20)),
    );
    eventually("hangs-1 dead", || async { row(&pool, "hangs-1").await.0 == "dead" }).await;
    let (_, attempts, error) = row(&pool, "hangs-1").await;
    assert_eq!(attempts, 3);
    assert!(
        error
            .unwrap()
            .starts_with("timed out: the handler ran past the attempt timeout (200ms)")
    );
    stop.send(()).unwrap();
    running.await.unwrap();
}

/// Panics on its first call, then records.
#[derive(Default)]
struct PanicsOnce(AtomicU32, Recording);

impl InboxHandler for PanicsOnce {
    type Error = String;

    async fn handle(&self, delivery: Delivery, connection: &mut PgConnection) -> Result<(), String> {
        if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("out of stock");
        }
        self.1.handle(delivery, connection).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_panics_is_a_failed_attempt_and_the_worker_goes_on() {
    let db = TestDb::new("runner_panics").await;
    let pool = db.pool().await;
    let inbox = prepare(&pool)
        .await
        .backoff(Duration::from_millis(50), Duration::from_millis(50));
    inbox.enqueue(&stored("panics-1")).await.unwrap();
    // One worker: the one that panicked is the one that finishes it.
    let (stop, running) = spawn(
        inbox
            .runner(receiver(), PanicsOnce::default())
            .poll_every(Duration::from_millis(20)),
    );
    eventually("panics-1 done", || async { row(&pool, "panics-1").await.0 == "done" }).await;
    assert_eq!(row(&pool, "panics-1").await.1, 2);
    assert_eq!(processed(&pool).await.get("panics-1"), Some(&1));
    stop.send(()).unwrap();
    running.await.unwrap();
}

/// Waits for a go it never gets, telling the test it started.
struct Blocks(Arc<Notify>);

impl InboxHandler for Blocks {
    type Error = String;

    async fn handle(&self, _: Delivery, connection: &mut PgConnection) -> Result<(), String> {
        // A write of its own, rolled back with the attempt.
        sqlx::query("INSERT INTO processed (webhook_id, worker, attempt) VALUES ('rolled-back', 'blocks', 0)")
            .execute(connection)
            .await
            .map_err(|err| err.to_string())?;
        self.0.notify_one();
        std::future::pending().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_mid_attempt_gives_it_back_and_the_next_start_processes_it_once() {
    let db = TestDb::new("runner_shutdown").await;
    let pool = db.pool().await;
    let inbox = prepare(&pool).await;
    inbox.enqueue(&stored("stopped-1")).await.unwrap();
    let started = Arc::new(Notify::new());
    let runner = inbox
        .runner(receiver(), Blocks(Arc::clone(&started)))
        .poll_every(Duration::from_millis(20))
        .shutdown_grace(Duration::from_millis(100));
    let (stop, running) = spawn(runner);
    started.notified().await;
    stop.send(()).unwrap();
    running.await.unwrap();
    // Given back: pending, due now, its attempt not counted, nothing written.
    assert_eq!(row(&pool, "stopped-1").await, ("pending".to_owned(), 0, None));
    assert!(processed(&pool).await.is_empty());

    let (stop, running) = spawn(
        inbox
            .runner(receiver(), Recording::default())
            .poll_every(Duration::from_millis(20)),
    );
    eventually("stopped-1 done", || async { row(&pool, "stopped-1").await.0 == "done" }).await;
    stop.send(()).unwrap();
    running.await.unwrap();
    assert_eq!(processed(&pool).await, [("stopped-1".to_owned(), 1)].into());
    assert_eq!(row(&pool, "stopped-1").await.1, 1);
}

/// Writes an order in the delivery's transaction: for customer 42 (who
/// does not exist: the deferred foreign key fails at commit) on the first
/// call, for no customer after.
#[derive(Default)]
struct WritesAnOrder(AtomicU32);

impl InboxHandler for WritesAnOrder {
    type Error = sqlx::Error;

    async fn handle(&self, delivery: Delivery, connection: &mut PgConnection) -> Result<(), sqlx::Error> {
        let customer = (self.0.fetch_add(1, Ordering::SeqCst) == 0).then_some(42);
        sqlx::query("INSERT INTO orders (webhook_id, customer) VALUES ($1, $2)")
            .bind(delivery.webhook_id.as_str())
            .bind(customer)
            .execute(connection)
            .await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handler_s_writes_and_done_commit_together_or_not_at_all() {
    let db = TestDb::new("runner_commit").await;
    let pool = db.pool().await;
    let inbox = prepare(&pool)
        .await
        .backoff(Duration::from_millis(50), Duration::from_millis(50));
    sqlx::raw_sql(
        "CREATE TABLE customers (id integer PRIMARY KEY);
         CREATE TABLE orders (webhook_id text PRIMARY KEY,
             customer integer REFERENCES customers DEFERRABLE INITIALLY DEFERRED)",
    )
    .execute(&pool)
    .await
    .unwrap();
    inbox.enqueue(&stored("order-1")).await.unwrap();
    let handler = WritesAnOrder::default();
    let (stop, running) = spawn(inbox.runner(receiver(), handler).poll_every(Duration::from_millis(20)));
    eventually("order-1 done", || async { row(&pool, "order-1").await.0 == "done" }).await;
    stop.send(()).unwrap();
    running.await.unwrap();
    // The first commit failed: neither its order nor "done"; the second
    // committed both.
    let orders: Vec<(String, Option<i32>)> = sqlx::query_as("SELECT webhook_id, customer FROM orders")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(orders, [("order-1".to_owned(), None)]);
    assert_eq!(row(&pool, "order-1").await.1, 2, "the failed commit's attempt counted");
}

/// A span's fields.
type SpanFields = BTreeMap<String, String>;

/// Span fields of every closed attempt span, and every event's text.
#[derive(Clone, Default)]
struct Attempts(Arc<Mutex<(Vec<SpanFields>, String)>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S> tracing_subscriber::Layer<S> for Attempts
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attributes: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        context: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = BTreeMap::new();
        attributes.record(&mut Fields(&mut fields));
        if let Some(span) = context.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        context: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = context.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<BTreeMap<String, String>>()
        {
            values.record(&mut Fields(fields));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let line = format!("{} {fields:?}\n", event.metadata().level());
        self.0.lock().unwrap().1.push_str(&line);
    }

    fn on_close(&self, id: tracing::span::Id, context: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = context.span(&id)
            && span.name() == observe::ATTEMPT_SPAN
            && let Some(fields) = span.extensions().get::<BTreeMap<String, String>>()
        {
            self.0.lock().unwrap().0.push(fields.clone());
        }
    }
}

/// On one thread, so that the thread's subscriber and metrics recorder see
/// every worker.
#[test]
fn attempts_are_reported_by_result_with_the_inbox_s_gauges_and_nothing_secret() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let captured = Attempts::default();
    let _subscriber = crate::capture_this_thread(tracing_subscriber::registry().with(captured.clone()));
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let deliveries = ["fails-1", "fails-2", "done-1"].map(stored);
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let db = TestDb::new("runner_reports").await;
            let pool = db.pool().await;
            let inbox: Inbox = prepare(&pool)
                .await
                .max_attempts(2)
                .backoff(Duration::from_millis(50), Duration::from_millis(50));
            for delivery in &deliveries {
                inbox.enqueue(delivery).await.unwrap();
            }
            // fails-1 and fails-2 fail twice each: dead.
            let handler = Recording {
                fails: Some("fails-"),
                ..Recording::default()
            };
            let (stop, running) = spawn(inbox.runner(receiver(), handler).poll_every(Duration::from_millis(20)));
            eventually("all finished", || async {
                let states = [
                    row(&pool, "done-1").await.0,
                    row(&pool, "fails-1").await.0,
                    row(&pool, "fails-2").await.0,
                ];
                states == ["done", "dead", "dead"]
            })
            .await;
            stop.send(()).unwrap();
            running.await.unwrap();
            let counts = inbox.counts().await.unwrap();
            assert_eq!((counts.pending, counts.dead, counts.oldest_pending), (0, 2, None));
        });
    });

    let (spans, text) = captured.0.lock().unwrap().clone();
    let mut results: BTreeMap<String, u64> = BTreeMap::new();
    for span in &spans {
        assert_eq!(span["event_type"], "payment.succeeded", "{span:?}");
        assert_eq!(span["checkout_id"], "ch_shop");
        *results.entry(span["result"].clone()).or_default() += 1;
    }
    let expected = BTreeMap::from([("dead".to_owned(), 2), ("done".to_owned(), 1), ("failed".to_owned(), 2)]);
    assert_eq!(results, expected, "{spans:?}");
    assert!(
        text.contains("the warehouse said no"),
        "the handler's error is logged: {text}"
    );

    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    let mut gauges = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        match (key.key().name(), value) {
            (observe::ATTEMPTS_TOTAL, DebugValue::Counter(count)) => {
                let result = key.key().labels().find(|label| label.key() == "result").unwrap();
                *counted.entry(result.value().to_owned()).or_default() += count;
            }
            (name, DebugValue::Gauge(value)) => {
                gauges.insert(name.to_owned(), value.into_inner());
            }
            _ => {}
        }
    }
    assert_eq!(counted, expected);
    // Counted once at the start: three pending, none dead yet.
    assert_eq!(gauges.get(observe::PENDING), Some(&3.0), "{gauges:?}");
    assert_eq!(gauges.get(observe::DEAD), Some(&0.0));
    assert!(gauges.contains_key(observe::OLDEST_PENDING_SECONDS));

    // Nothing of the secret, the signatures or the bodies.
    let everything = format!("{spans:?}{text}");
    assert!(!everything.contains(TEST_SECRET));
    for delivery in &deliveries {
        for secret in [delivery.webhook_signature(), delivery.body()] {
            assert!(!everything.contains(secret), "{secret} in {everything}");
        }
    }
}

//! One suite for every HTTP adapter, over a real server on 127.0.0.1 driven
//! by a real HTTP client (and raw TCP for what HTTP clients will not send):
//! statuses, retries, concurrent duplicates, hostile headers, oversized,
//! chunked and aborted bodies. An adapter's module starts its server with
//! [`Recorder::handle`] as the merchant's handler and runs
//! [`adapter_suite!`] on it, and [`configured_suite!`] on a server it
//! starts with a given configuration (a queue, a failing store).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use yoco_webhooks::dedup::{Claim, ClaimToken, IdempotencyStore, MemoryStore, StoreError};
use yoco_webhooks::testing::{SampleEvent, SignedHeaders, Signer, TEST_SECRET};
use yoco_webhooks::{
    CheckoutFilter, Delivery, DeliveryQueue, Enqueued, Receiver, StoredDelivery, Verifier, WebhookId, WebhookSecret,
};

/// The merchant's handler, shared with the test: records what it processed,
/// fails on demand, and holds a delivery on demand. For a server in another
/// process (a Worker in `workerd`), it records what the server printed
/// instead, and can neither fail nor hold.
#[derive(Clone, Default)]
pub(crate) struct Recorder {
    processed: Arc<Mutex<Vec<String>>>,
    fail_next: Arc<AtomicUsize>,
    panic_next: Arc<AtomicUsize>,
    /// Holds the handler on demand.
    holder: Holder,
    /// For a server in another process: its printed lines and a sentinel.
    printed: Option<Arc<Printed>>,
    /// The server runs one request at a time (one Lambda function under the
    /// emulator): a held handler would hold every other request too.
    one_at_a_time: bool,
    /// That server, stopped when the last clone is dropped.
    server: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

/// A held handler: told when a delivery reaches it, it waits for `open`.
#[derive(Clone)]
struct Held {
    arrived: Arc<tokio::sync::Notify>,
    open: tokio::sync::watch::Receiver<bool>,
}

/// The JSON lines a server in another process prints, one per delivery it
/// processed (with its `webhook_id`), and a way to make it print one more.
pub(crate) struct Printed {
    lines: Mutex<std::sync::mpsc::Receiver<String>>,
    /// Delivers a sentinel with the given `webhook-id`, which the server
    /// processes (and prints) after every delivery answered before it.
    sentinel: Box<dyn Fn(&str) + Send + Sync>,
}

impl Recorder {
    /// A recorder of what a server in another process printed (`lines`):
    /// lines printed before an answer may reach the test after it, so
    /// [`processed`](Self::processed) sends a `sentinel` delivery and reads
    /// up to its line.
    pub(crate) fn out_of_process(
        lines: std::sync::mpsc::Receiver<String>,
        sentinel: impl Fn(&str) + Send + Sync + 'static,
    ) -> Self {
        Self {
            printed: Some(Arc::new(Printed {
                lines: Mutex::new(lines),
                sentinel: Box::new(sentinel),
            })),
            ..Self::default()
        }
    }

    /// A recorder for a server that runs one request at a time, whose
    /// handler therefore must not be held.
    pub(crate) fn one_at_a_time() -> Self {
        Self {
            one_at_a_time: true,
            ..Self::default()
        }
    }

    /// Keeps `server` (a guard that stops it when dropped) while the test
    /// holds this recorder.
    pub(crate) fn keeping(mut self, server: impl std::any::Any + Send + Sync) -> Self {
        self.server = Some(Arc::new(server));
        self
    }

    /// Processes `delivery`; fails instead when asked to.
    pub(crate) async fn handle(&self, delivery: Delivery) -> Result<(), &'static str> {
        self.record(delivery.webhook_id.as_str()).await
    }

    /// [`handle`](Self::handle) for a delivery known by its `webhook-id`
    /// only: one processed in another process.
    pub(crate) async fn record(&self, webhook_id: &str) -> Result<(), &'static str> {
        self.holder.wait_if_held().await;
        if self.take_panic() {
            panic!("the merchant's handler panicked on purpose");
        }
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err("database down");
        }
        self.processed.lock().unwrap().push(webhook_id.to_owned());
        Ok(())
    }

    /// Holds every delivery that reaches the handler from now until the
    /// returned guard opens (or is dropped).
    pub(crate) fn hold(&self) -> Gate {
        self.holder.hold()
    }

    /// Whether [`hold`](Self::hold) can hold its handler without holding
    /// the server: not in another process, nor one at a time.
    pub(crate) fn can_hold(&self) -> bool {
        self.printed.is_none() && !self.one_at_a_time
    }

    /// The `webhook-id`s processed, in order.
    pub(crate) fn processed(&self) -> Vec<String> {
        if let Some(printed) = &self.printed {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let sentinel = format!("msg_sentinel_{}", NEXT.fetch_add(1, Ordering::SeqCst));
            (printed.sentinel)(&sentinel);
            // In the test's own thread, so that a bad line fails the test.
            let lines = printed.lines.lock().unwrap();
            loop {
                let line = lines
                    .recv_timeout(Duration::from_secs(60))
                    .unwrap_or_else(|err| panic!("the server did not print the sentinel {sentinel}: {err}"));
                let printed: serde_json::Value =
                    serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON line: {line}"));
                let webhook_id = printed["webhook_id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("a line without a webhook_id: {line}"));
                if webhook_id == sentinel {
                    break;
                }
                self.processed.lock().unwrap().push(webhook_id.to_owned());
            }
        }
        self.processed.lock().unwrap().clone()
    }

    /// Makes the next `count` deliveries fail.
    pub(crate) fn fail_next(&self, count: usize) {
        assert!(
            self.printed.is_none(),
            "a server in another process cannot be made to fail"
        );
        self.fail_next.store(count, Ordering::SeqCst);
    }

    /// Whether the handler is to panic now (for a handler in another
    /// process, which asks before it records).
    pub(crate) fn take_panic(&self) -> bool {
        self.panic_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Makes the next `count` deliveries panic in the handler.
    pub(crate) fn panic_next(&self, count: usize) {
        assert!(
            self.printed.is_none(),
            "a server that prints what it processed cannot be made to panic"
        );
        self.panic_next.store(count, Ordering::SeqCst);
    }
}

/// A handler's brake: while a [`Gate`] is shut, a handler that calls
/// [`wait_if_held`](Self::wait_if_held) says it arrived and waits, so that
/// a test can make requests overlap for certain.
#[derive(Clone, Default)]
pub(crate) struct Holder {
    /// While set, the handler waits for it to open.
    held: Arc<Mutex<Option<Held>>>,
}

impl Holder {
    /// Holds every handler that arrives from now until the returned gate
    /// opens (or is dropped).
    pub(crate) fn hold(&self) -> Gate {
        let (open, opened) = tokio::sync::watch::channel(false);
        let arrived = Arc::new(tokio::sync::Notify::new());
        *self.held.lock().unwrap() = Some(Held {
            arrived: Arc::clone(&arrived),
            open: opened,
        });
        Gate {
            arrived,
            open,
            held: Arc::clone(&self.held),
        }
    }

    /// In a handler: waits while held.
    pub(crate) async fn wait_if_held(&self) {
        let held = self.held.lock().unwrap().clone();
        if let Some(mut held) = held {
            held.arrived.notify_one();
            let _ = held.open.wait_for(|open| *open).await;
        }
    }
}

/// Holds the handlers of a [`Holder`] until [`open`](Self::open).
pub(crate) struct Gate {
    arrived: Arc<tokio::sync::Notify>,
    open: tokio::sync::watch::Sender<bool>,
    held: Arc<Mutex<Option<Held>>>,
}

impl Gate {
    /// Waits until a delivery reaches the held handler.
    pub(crate) async fn arrived(&self) {
        self.arrived.notified().await;
    }

    /// Lets every held delivery, and the next ones, go on.
    pub(crate) fn open(&self) {
        *self.held.lock().unwrap() = None;
        let _ = self.open.send(true);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.open();
    }
}

/// The receiver every adapter is configured with: checkout `ch_mine` only.
pub(crate) fn receiver() -> Receiver {
    Receiver::new(
        Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
        CheckoutFilter::checkout("ch_mine"),
    )
}

/// Generates the suite's tests for an adapter, given an `async fn(limit:
/// usize) -> (SocketAddr, Recorder)` that serves `POST /webhooks/yoco` with
/// that body limit; `adapter_suite!(serve, out_of_process)` for a server in
/// another process, with a [`Recorder::out_of_process`].
macro_rules! adapter_suite {
    ($serve:path) => {
        crate::adapters::adapter_suite!(@every_server $serve);

        #[tokio::test]
        async fn a_failed_handler_is_retried_and_concurrent_duplicates_run_once() {
            let (address, recorder) = $serve(256 * 1024).await;
            crate::adapters::a_failed_handler_is_retried_and_concurrent_duplicates_run_once(address, recorder).await;
        }
    };
    // A server in another process, whose handler cannot be made to fail:
    // every case but the failed handler's.
    ($serve:path, out_of_process) => {
        crate::adapters::adapter_suite!(@every_server $serve);

        #[tokio::test]
        async fn concurrent_duplicates_run_once() {
            let (address, recorder) = $serve(256 * 1024).await;
            crate::adapters::concurrent_duplicates_run_once(address, recorder).await;
        }
    };
    (@every_server $serve:path) => {
        #[tokio::test]
        async fn processes_ours_once_and_acknowledges_the_rest() {
            let (address, recorder) = $serve(256 * 1024).await;
            crate::adapters::processes_ours_once_and_acknowledges_the_rest(address, recorder).await;
        }

        #[tokio::test]
        async fn refuses_what_is_not_authentic_or_not_an_event() {
            let (address, recorder) = $serve(256 * 1024).await;
            crate::adapters::refuses_what_is_not_authentic_or_not_an_event(address, recorder).await;
        }

        #[tokio::test]
        async fn an_event_as_large_as_the_sender_accepts_is_processed_within_the_default_limit() {
            let (address, recorder) = $serve(yoco_webhooks::DEFAULT_BODY_LIMIT).await;
            crate::adapters::an_event_as_large_as_the_sender_accepts_is_processed(address, recorder).await;
        }

        #[tokio::test]
        async fn svix_header_names_are_accepted_and_conflicting_ones_refused() {
            let (address, recorder) = $serve(256 * 1024).await;
            crate::adapters::svix_header_names_are_accepted_and_conflicting_ones_refused(address, recorder).await;
        }

        #[tokio::test]
        async fn oversized_and_aborted_bodies_are_refused_while_reading() {
            let limit = 4 * 1024;
            let (address, recorder) = $serve(limit).await;
            crate::adapters::oversized_and_aborted_bodies_are_refused_while_reading(address, recorder, limit).await;
        }
    };
}
pub(crate) use adapter_suite;

/// Generates the suite's tests of a configuration's queue and store for an
/// adapter, given an `async fn(YocoWebhookConfig) -> (SocketAddr, Recorder)`
/// that serves `POST /webhooks/yoco` with that configuration.
macro_rules! configured_suite {
    ($serve_config:path) => {
        #[tokio::test]
        async fn with_a_queue_a_delivery_is_queued_once_and_the_handler_never_runs() {
            let queue = crate::adapters::RecordingQueue::default();
            let config = yoco_webhooks::YocoWebhookConfig::new(crate::adapters::receiver()).with_queue(queue.clone());
            let (address, recorder) = $serve_config(config).await;
            crate::adapters::with_a_queue_a_delivery_is_queued_once(address, recorder, queue).await;
        }

        #[tokio::test]
        async fn a_queue_that_cannot_record_is_answered_503() {
            let config = yoco_webhooks::YocoWebhookConfig::new(crate::adapters::receiver())
                .with_queue(crate::adapters::QueueDown);
            let (address, recorder) = $serve_config(config).await;
            crate::adapters::a_queue_that_cannot_record_is_answered_503(address, recorder).await;
        }

        #[tokio::test]
        async fn a_handler_done_but_not_recorded_is_answered_200_processed() {
            let config = yoco_webhooks::YocoWebhookConfig::new(crate::adapters::receiver())
                .with_store(crate::adapters::CompleteFails::default());
            let (address, recorder) = $serve_config(config).await;
            crate::adapters::a_handler_done_but_not_recorded_is_answered_200_processed(address, recorder).await;
        }

        #[tokio::test]
        async fn a_handler_that_panics_is_never_2xx_and_its_retry_is_processed() {
            let config = yoco_webhooks::YocoWebhookConfig::new(crate::adapters::receiver());
            let (address, recorder) = $serve_config(config).await;
            crate::adapters::a_handler_that_panics_is_never_2xx_and_its_retry_is_processed(address, recorder).await;
        }
    };
}
pub(crate) use configured_suite;

/// A [`DeliveryQueue`] in memory that keeps the `webhook-id`s it recorded,
/// each once, as the contract asks.
#[derive(Clone, Default)]
pub(crate) struct RecordingQueue {
    queued: Arc<Mutex<Vec<String>>>,
}

impl RecordingQueue {
    /// Records `webhook_id`, unless it is queued already.
    pub(crate) fn record(&self, webhook_id: &str) -> Enqueued {
        let mut queued = self.queued.lock().unwrap();
        if queued.iter().any(|id| id == webhook_id) {
            return Enqueued::AlreadyQueued;
        }
        queued.push(webhook_id.to_owned());
        Enqueued::New
    }
}

impl DeliveryQueue for RecordingQueue {
    fn enqueue(&self, delivery: &StoredDelivery) -> impl Future<Output = Result<Enqueued, StoreError>> + Send {
        std::future::ready(Ok(self.record(delivery.webhook_id().as_str())))
    }
}

/// A [`DeliveryQueue`] that cannot record anything: a database down.
pub(crate) struct QueueDown;

impl DeliveryQueue for QueueDown {
    fn enqueue(&self, _: &StoredDelivery) -> impl Future<Output = Result<Enqueued, StoreError>> + Send {
        std::future::ready(Err(StoreError::new("queue down on purpose")))
    }
}

/// A [`MemoryStore`] whose `complete` fails: the handler's work is done,
/// but the store could not record it.
#[derive(Default)]
pub(crate) struct CompleteFails(MemoryStore);

impl IdempotencyStore for CompleteFails {
    fn claim(&self, webhook_id: &WebhookId, lease: Duration) -> impl Future<Output = Result<Claim, StoreError>> + Send {
        self.0.claim(webhook_id, lease)
    }

    fn complete(&self, _: &ClaimToken, _: Duration) -> impl Future<Output = Result<(), StoreError>> + Send {
        std::future::ready(Err(StoreError::new("complete fails on purpose")))
    }

    fn release(&self, token: &ClaimToken) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.0.release(token)
    }
}

/// With a queue: our delivery is answered 200 `queued` and its retry 200
/// `duplicate`, recorded once; a foreign one is ignored, not queued; the
/// route's handler never runs.
pub(crate) async fn with_a_queue_a_delivery_is_queued_once(
    address: SocketAddr,
    recorder: Recorder,
    queue: RecordingQueue,
) {
    for answer in ["queued", "duplicate"] {
        assert_eq!(
            post_signed(address, &signed("msg_q", &ours()), ours()).await,
            (200, answer.into())
        );
    }
    assert_eq!(
        post_foreign(address, "msg_foreign").await,
        (200, "ignored: foreign checkout".into())
    );
    assert_eq!(*queue.queued.lock().unwrap(), ["msg_q"]);
    assert!(recorder.processed().is_empty(), "the handler ran with a queue");
}

/// A queue that cannot record the delivery: 503, so that Yoco retries;
/// never 2xx, and the handler does not run instead.
pub(crate) async fn a_queue_that_cannot_record_is_answered_503(address: SocketAddr, recorder: Recorder) {
    assert_eq!(
        post_signed(address, &signed("msg_q", &ours()), ours()).await,
        (503, "queue unavailable".into())
    );
    assert!(recorder.processed().is_empty());
}

/// The handler succeeded but the store could not mark the delivery done
/// (`Processed::Done { recorded: Err(..) }`): the work is done, so the
/// answer is 200 `processed` (a 5xx would have Yoco send it again, to run
/// the work twice once the lease ends); the handler ran once.
pub(crate) async fn a_handler_done_but_not_recorded_is_answered_200_processed(address: SocketAddr, recorder: Recorder) {
    assert_eq!(
        post_signed(address, &signed("msg_1", &ours()), ours()).await,
        (200, "processed".into())
    );
    assert_eq!(recorder.processed(), ["msg_1"]);
}

/// A handler that panics: the answer is never 2xx (a 500, or the server
/// drops the connection, which Yoco retries as it retries a 5xx), and
/// the claim is released, so that Yoco's retry, at once, is processed
/// rather than answered 409 until the lease ends.
pub(crate) async fn a_handler_that_panics_is_never_2xx_and_its_retry_is_processed(
    address: SocketAddr,
    recorder: Recorder,
) {
    recorder.panic_next(1);
    match send_signed(address, &signed("msg_1", &ours()), ours()).await {
        Ok(response) => assert!(
            response.status().is_server_error(),
            "a panicking handler answered {}",
            response.status()
        ),
        Err(err) => assert!(!err.is_timeout(), "{err}"),
    }
    assert_eq!(
        post_signed(address, &signed("msg_1", &ours()), ours()).await,
        (200, "processed".into()),
        "the retry after a panic"
    );
    assert_eq!(recorder.processed(), ["msg_1"]);
}

pub(crate) fn signed(id: &str, body: &[u8]) -> SignedHeaders {
    Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_now(id, body)
}

pub(crate) async fn post_signed(address: SocketAddr, headers: &SignedHeaders, body: Vec<u8>) -> (u16, String) {
    let response = send_signed(address, headers, body).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Posts `body` signed with `headers`: the response, or why none came.
pub(crate) async fn send_signed(
    address: SocketAddr,
    headers: &SignedHeaders,
    body: Vec<u8>,
) -> reqwest::Result<reqwest::Response> {
    let mut request = reqwest::Client::new()
        .post(format!("http://{address}/webhooks/yoco"))
        .body(body);
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    request.send().await
}

/// A delivery for another merchant's checkout, signed with `id`.
pub(crate) async fn post_foreign(address: SocketAddr, id: &str) -> (u16, String) {
    let foreign = SampleEvent::payment_succeeded().checkout_id("ch_theirs").to_json();
    post_signed(address, &signed(id, &foreign), foreign).await
}

/// Our delivery with a `webhook-id` but neither timestamp nor signature:
/// refused for the missing `webhook-timestamp`.
pub(crate) async fn post_with_only_an_id(address: SocketAddr) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("http://{address}/webhooks/yoco"))
        .header("webhook-id", "msg_1")
        .body(ours())
        .send()
        .await
        .unwrap()
}

pub(crate) fn ours() -> Vec<u8> {
    SampleEvent::payment_succeeded().checkout_id("ch_mine").to_json()
}

pub(crate) async fn processes_ours_once_and_acknowledges_the_rest(address: SocketAddr, recorder: Recorder) {
    assert_eq!(
        post_signed(address, &signed("msg_1", &ours()), ours()).await,
        (200, "processed".into())
    );
    // Yoco's retry: same id, new signature.
    assert_eq!(
        post_signed(address, &signed("msg_1", &ours()), ours()).await,
        (200, "duplicate".into())
    );

    assert_eq!(
        post_foreign(address, "msg_2").await,
        (200, "ignored: foreign checkout".into())
    );
    let in_store = SampleEvent::payment_succeeded().without_checkout_id().to_json();
    assert_eq!(
        post_signed(address, &signed("msg_3", &in_store), in_store).await,
        (200, "ignored: no checkout id".into())
    );
    let unknown_type = SampleEvent::other("payment.failed").checkout_id("ch_mine").to_json();
    assert_eq!(
        post_signed(address, &signed("msg_4", &unknown_type), unknown_type).await,
        (200, "processed".into())
    );

    assert_eq!(recorder.processed(), vec!["msg_1".to_owned(), "msg_4".to_owned()]);
}

pub(crate) async fn refuses_what_is_not_authentic_or_not_an_event(address: SocketAddr, recorder: Recorder) {
    refuses_repeated_webhook_headers(address).await;
    refuses_forgeries_and_what_is_not_an_event(address).await;
    assert_eq!(recorder.processed(), vec!["msg_6".to_owned()]);
}

/// Each webhook header sent twice, with the same value: ambiguous, so
/// refused. (A front that keeps one of the two, as the Lambda emulator
/// does, never lets the server see this request.)
pub(crate) async fn refuses_repeated_webhook_headers(address: SocketAddr) {
    for repeated in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let headers = signed("msg_1", &ours());
        let mut request = reqwest::Client::new()
            .post(format!("http://{address}/webhooks/yoco"))
            .body(ours());
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
            if name == repeated {
                // The same value again: still ambiguous, still refused.
                request = request.header(name, value);
            }
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "a repeated {repeated} is refused");
    }
}

/// A tampered signature, no webhook headers, 8 KiB of junk and a body
/// that is not an event are refused; only `msg_6`, beside a junk header,
/// is processed.
pub(crate) async fn refuses_forgeries_and_what_is_not_an_event(address: SocketAddr) {
    let mut tampered = signed("msg_1", &ours());
    tampered.webhook_signature = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    assert_eq!(
        post_signed(address, &tampered, ours()).await,
        (401, "webhook not authentic".into())
    );

    let response = reqwest::Client::new()
        .post(format!("http://{address}/webhooks/yoco"))
        .body(ours())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "no webhook headers at all");

    // 8 KiB of junk in the signature header, and in another header.
    let mut junk = signed("msg_1", &ours());
    junk.webhook_signature = format!("v1,{} v2,x junk", "A".repeat(8 * 1024));
    assert_eq!(post_signed(address, &junk, ours()).await.0, 401);
    let headers = signed("msg_6", &ours());
    let mut request = reqwest::Client::new()
        .post(format!("http://{address}/webhooks/yoco"))
        .header("x-junk", "j".repeat(8 * 1024))
        .body(ours());
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    assert_eq!(
        request.send().await.unwrap().status(),
        200,
        "an 8 KiB header beside a good delivery"
    );

    let not_an_event = b"{\"hello\":\"world\"}".to_vec();
    assert_eq!(
        post_signed(address, &signed("msg_5", &not_an_event), not_an_event).await,
        (400, "not a Yoco event".into())
    );
}

/// The largest payload the sender (svix-server) accepts, about 350 KB.
pub(crate) const SENDERS_LARGEST: usize = 350 * 1000;

/// Our delivery of [`SENDERS_LARGEST`] bytes, its metadata padded.
pub(crate) fn as_large_as_the_sender_accepts() -> Vec<u8> {
    let small = ours().len();
    let body = SampleEvent::payment_succeeded()
        .checkout_id("ch_mine")
        .metadata("notes", "x".repeat(SENDERS_LARGEST - small - r#","notes":"""#.len()))
        .to_json();
    assert!(body.len().abs_diff(SENDERS_LARGEST) < 64, "{}", body.len());
    body
}

/// An event as large as the sender accepts is processed (a smaller limit
/// would answer 413 to every retry, and the event would be lost).
pub(crate) async fn an_event_as_large_as_the_sender_accepts_is_processed(address: SocketAddr, recorder: Recorder) {
    let big = as_large_as_the_sender_accepts();
    assert_eq!(
        post_signed(address, &signed("msg_big", &big), big).await,
        (200, "processed".into())
    );
    assert_eq!(recorder.processed(), vec!["msg_big".to_owned()]);
}

/// The three signed values, as the `standardwebhooks` crate (Svix's
/// scheme) signs them: id, timestamp and signature.
pub(crate) struct SignedByTheirs {
    id: String,
    timestamp: String,
    signature: String,
}

impl SignedByTheirs {
    /// Our delivery `id`, signed now by `standardwebhooks`.
    pub(crate) fn now(id: &str) -> Self {
        let theirs = standardwebhooks::Webhook::new(TEST_SECRET).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let timestamp = i64::try_from(now).unwrap();
        Self {
            id: id.to_owned(),
            timestamp: timestamp.to_string(),
            signature: theirs.sign(id, timestamp, &ours()).unwrap(),
        }
    }

    /// The headers under `prefix` (`svix` or `webhook`): `{prefix}-id`, ...
    pub(crate) fn named(&self, prefix: &str) -> [(String, &str); 3] {
        [
            (format!("{prefix}-id"), &self.id),
            (format!("{prefix}-timestamp"), &self.timestamp),
            (format!("{prefix}-signature"), &self.signature),
        ]
    }
}

/// Posts our delivery with `headers`.
pub(crate) async fn post_ours_with(address: SocketAddr, headers: &[(String, &str)]) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("http://{address}/webhooks/yoco"))
        .body(ours());
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Signed by the `standardwebhooks` crate, sent as Svix's CLI and a
/// default svix-server send it, under the `svix-*` names: processed. Both
/// names of each header with one value: accepted; with two: 401.
pub(crate) async fn svix_header_names_are_accepted_and_conflicting_ones_refused(
    address: SocketAddr,
    recorder: Recorder,
) {
    let svix = SignedByTheirs::now("msg_svix");
    assert_eq!(
        post_ours_with(address, &svix.named("svix")).await,
        (200, "processed".into())
    );
    // Its retry, under the standard names: the same delivery.
    assert_eq!(
        post_ours_with(address, &SignedByTheirs::now("msg_svix").named("webhook")).await,
        (200, "duplicate".into())
    );

    let both = SignedByTheirs::now("msg_both");
    let mut headers = both.named("svix").to_vec();
    headers.extend(both.named("webhook"));
    assert_eq!(
        post_ours_with(address, &headers).await,
        (200, "processed".into()),
        "both names with the same values"
    );

    // Each header's Svix name disagreeing with the standard one, the
    // delivery signed for the standard values: refused.
    let good = SignedByTheirs::now("msg_conflict");
    let other = SignedByTheirs::now("msg_other");
    for (name, value) in [
        ("svix-id", "msg_other"),
        ("svix-timestamp", "1"),
        ("svix-signature", other.signature.as_str()),
    ] {
        let mut headers = good.named("webhook").to_vec();
        headers.push((name.to_owned(), value));
        assert_eq!(post_ours_with(address, &headers).await.0, 401, "{name} disagreeing");
    }
    assert_eq!(recorder.processed(), vec!["msg_svix".to_owned(), "msg_both".to_owned()]);
}

pub(crate) async fn a_failed_handler_is_retried_and_concurrent_duplicates_run_once(
    address: SocketAddr,
    recorder: Recorder,
) {
    recorder.fail_next(1);
    assert_eq!(
        post_signed(address, &signed("msg_1", &ours()), ours()).await,
        (500, "handler failed".into())
    );
    assert_eq!(
        post_signed(address, &signed("msg_1", &ours()), ours()).await,
        (200, "processed".into())
    );
    concurrent_duplicates_run_once(address, recorder).await;
}

/// Ten attempts at one delivery at once. With the first held in the
/// handler until the nine others are answered, they overlap for certain,
/// and each is answered 409 (in progress: Yoco retries it); then the
/// first is answered 200, and the handler ran once. (A server in another
/// process, or one that runs one request at a time, whose handler cannot
/// be held, is held to the once only.)
pub(crate) async fn concurrent_duplicates_run_once(address: SocketAddr, recorder: Recorder) {
    let before = recorder.processed().len();
    if !recorder.can_hold() {
        let attempts = (0..10).map(|_| {
            let headers = signed("msg_2", &ours());
            tokio::spawn(async move { post_signed(address, &headers, ours()).await.0 })
        });
        let mut statuses = Vec::new();
        for attempt in attempts {
            statuses.push(attempt.await.unwrap());
        }
        assert!(
            statuses.iter().all(|status| [200, 409].contains(status)),
            "{statuses:?}"
        );
    } else {
        let gate = recorder.hold();
        let headers = signed("msg_2", &ours());
        let first = tokio::spawn(async move { post_signed(address, &headers, ours()).await });
        gate.arrived().await;
        let duplicates = (0..9).map(|_| {
            let headers = signed("msg_2", &ours());
            tokio::spawn(async move { post_signed(address, &headers, ours()).await })
        });
        for duplicate in duplicates {
            assert_eq!(
                duplicate.await.unwrap(),
                (409, "in progress".into()),
                "a duplicate while the first is in the handler"
            );
        }
        gate.open();
        assert_eq!(first.await.unwrap(), (200, "processed".into()));
    }
    let processed = recorder.processed();
    assert_eq!(processed.iter().filter(|id| *id == "msg_2").count(), 1, "{processed:?}");
    assert_eq!(processed.len(), before + 1);
}

/// The head of a chunked POST of a delivery signed with `headers`, without
/// `content-length`: what HTTP clients will not send for a body they hold.
pub(crate) fn chunked_head(headers: &SignedHeaders) -> Vec<u8> {
    format!(
        "POST /webhooks/yoco HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\
         webhook-id: {}\r\nwebhook-timestamp: {}\r\nwebhook-signature: {}\r\n\r\n",
        headers.webhook_id, headers.webhook_timestamp, headers.webhook_signature
    )
    .into_bytes()
}

/// Sends raw bytes and reads the status line of the answer.
pub(crate) async fn raw_status(address: SocketAddr, request: &[u8], then_close: bool) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    if then_close {
        stream.shutdown().await.unwrap();
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

pub(crate) async fn oversized_and_aborted_bodies_are_refused_while_reading(
    address: SocketAddr,
    recorder: Recorder,
    limit: usize,
) {
    let big = over_the_limit(limit);
    assert_eq!(
        post_signed(address, &signed("msg_1", &big), big.clone()).await.0,
        413,
        "with content-length"
    );

    // Chunked, without content-length: refused once the limit is passed,
    // long before the 1 MiB the client announces it will send.
    let headers = signed("msg_2", &big);
    let mut request = chunked_head(&headers);
    for _ in 0..(limit / 1024 + 2) {
        request.extend_from_slice(format!("400\r\n{}\r\n", "x".repeat(1024)).as_bytes());
    }
    assert_eq!(raw_status(address, &request, false).await, Some(413));
    an_aborted_upload_is_not_processed(address, recorder, &headers).await;
}

/// Our delivery, made larger than `limit` bytes by its metadata.
pub(crate) fn over_the_limit(limit: usize) -> Vec<u8> {
    SampleEvent::payment_succeeded()
        .checkout_id("ch_mine")
        .metadata("notes", "x".repeat(limit))
        .to_json()
}

/// An upload, signed with `headers`, that stops half-way is not processed
/// and does not bring the server down: `msg_3` after it is.
pub(crate) async fn an_aborted_upload_is_not_processed(
    address: SocketAddr,
    recorder: Recorder,
    headers: &SignedHeaders,
) {
    let partial = format!(
        "POST /webhooks/yoco HTTP/1.1\r\nhost: localhost\r\ncontent-length: 2000\r\n\
         webhook-id: {}\r\nwebhook-timestamp: {}\r\nwebhook-signature: {}\r\n\r\n{{\"id\":",
        headers.webhook_id, headers.webhook_timestamp, headers.webhook_signature
    );
    let _ = raw_status(address, partial.as_bytes(), true).await;
    assert_eq!(
        post_signed(address, &signed("msg_3", &ours()), ours()).await,
        (200, "processed".into())
    );
    assert_eq!(recorder.processed(), vec!["msg_3".to_owned()]);
}

/// A server's own body limit of 1 KiB, below the configured one, holds for
/// the integration too: with `content-length` and while reading.
pub(crate) async fn a_smaller_server_limit_of_1_kib_applies(address: SocketAddr, recorder: Recorder) {
    let big = SampleEvent::payment_succeeded()
        .checkout_id("ch_mine")
        .metadata("notes", "x".repeat(2048))
        .to_json();
    assert_eq!(
        post_signed(address, &signed("msg_1", &big), big.clone()).await,
        (413, "body too large".into())
    );
    // Without content-length: refused while reading.
    let headers = signed("msg_2", &big);
    let mut request = chunked_head(&headers);
    for chunk in big.chunks(512) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(raw_status(address, &request, false).await, Some(413));
    // Below both limits: processed.
    assert_eq!(
        post_signed(address, &signed("msg_3", &ours()), ours()).await,
        (200, "processed".into())
    );
    assert_eq!(recorder.processed(), vec!["msg_3".to_owned()]);
}

//! The Lambda handler under a real Lambda runtime emulator: cargo-lambda's
//! `cargo lambda watch --only-lambda-apis` (PyPI `cargo-lambda`), which
//! serves the Lambda Runtime API the function polls, function URLs at its
//! root and the Invoke API. The function runs as its own process, polling
//! the emulator as it would poll Lambda.
//!
//! - The shared adapter suite over HTTP through the emulator's function
//!   URLs. The function is this test binary run again as a child (the
//!   ignored test [`suite_function`]); its handler is the suite's
//!   [`Recorder`] in the test, reached over loopback HTTP.
//! - Events of each shape (API Gateway REST v1, HTTP API v2, function URL;
//!   base64-encoded and not) sent with `cargo lambda invoke`, each answered
//!   as axum answers the same request.
//! - The `lambda_receiver` example under the emulator, held to the example
//!   receivers' contract (in `example_receivers`).
//!
//! Without cargo-lambda the tests fail, saying how to install it.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use yoco_webhooks::YocoWebhookConfig;
use yoco_webhooks::testing::{SampleEvent, SignedHeaders};

use yoco_webhooks::dedup::StoreError;
use yoco_webhooks::{DeliveryQueue, Enqueued, StoredDelivery};

use crate::adapters::{
    CompleteFails, QueueDown, Recorder, RecordingQueue, an_aborted_upload_is_not_processed, chunked_head, ours,
    over_the_limit, post_signed, raw_status, receiver, refuses_forgeries_and_what_is_not_an_event, signed,
};
use crate::servers::{Ready, Server, ServerSpec, http_answers};

/// What to install when the emulator cannot start.
const INSTALL: &str = "install the Lambda emulator with `pip install cargo-lambda` \
                       (scripts/test does it), so that `cargo lambda watch` runs";

/// `cargo lambda watch --only-lambda-apis` on a loopback port, stopped when
/// dropped.
pub(crate) struct Emulator {
    _server: Server,
    address: SocketAddr,
}

impl Emulator {
    /// Starts the emulator (by [`crate::servers`]) and waits until its
    /// Runtime API answers; fails with what to install when it cannot start.
    pub(crate) async fn start() -> Self {
        // `cargo lambda` is `cargo-lambda lambda`: run directly, so that
        // stopping it stops the emulator, not a `cargo` in front of it.
        let spec = ServerSpec::new(
            "cargo-lambda",
            INSTALL,
            |port| {
                ["lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1"]
                    .map(String::from)
                    .into_iter()
                    .chain([
                        "--invoke-port".into(),
                        port.to_string(),
                        "--timeout".into(),
                        "30".into(),
                    ])
                    .collect()
            },
            // A route of the Runtime API that answers at once (GET is not
            // its method): the emulator is serving.
            Ready::Answers(Box::new(|address| {
                http_answers(
                    address,
                    "/.rt/2018-06-01/runtime/invocation/readiness-probe/error",
                    Some(405),
                )
            })),
        )
        // It reads the project's metadata, though it builds nothing.
        .current_dir(env!("CARGO_MANIFEST_DIR"));
        let server = tokio::task::spawn_blocking(move || Server::start(spec)).await.unwrap();
        Self {
            address: server.address(),
            _server: server,
        }
    }

    /// The environment a function needs to poll this emulator, as Lambda
    /// sets it.
    pub(crate) fn function_env(&self) -> [(&'static str, String); 4] {
        [
            ("AWS_LAMBDA_RUNTIME_API", format!("http://{}/.rt", self.address)),
            ("AWS_LAMBDA_FUNCTION_NAME", "_".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "1".into()),
        ]
    }

    /// Waits until `function`, polling this emulator, answers (a GET of the
    /// webhook URL: 405, nothing processed); fails with what it logged if
    /// it exits instead, which would leave the emulator waiting for it.
    pub(crate) async fn until_answered_by(&self, function: &mut Child, logged: &Mutex<String>) {
        tokio::select! {
            answer = reqwest::get(self.webhook_url()) => assert_eq!(answer.unwrap().status(), 405),
            status = function.wait() => {
                // What it said last, from the task reading its stderr.
                tokio::time::sleep(Duration::from_millis(100)).await;
                panic!("the function exited ({}):\n{}", status.unwrap(), logged.lock().unwrap());
            }
        }
    }

    /// The function URL of `/webhooks/yoco`.
    pub(crate) fn webhook_url(&self) -> String {
        format!("http://{}/webhooks/yoco", self.address)
    }

    /// Sends `event` with `cargo lambda invoke`, and returns the function's
    /// answer: its status and body.
    async fn invoke(&self, event: &Value) -> (u16, String) {
        let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["lambda", "invoke", "--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &self.address.port().to_string()])
            .args(["--output-format", "json", "--data-ascii", &event.to_string()])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .await
            .unwrap_or_else(|err| panic!("cannot run cargo lambda invoke: {err}; {INSTALL}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "cargo lambda invoke: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: Value = serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("{err}: {stdout}"));
        let body = answer["body"].as_str().unwrap_or_default();
        let body = if answer["isBase64Encoded"] == true {
            String::from_utf8(STANDARD.decode(body).unwrap()).unwrap()
        } else {
            body.to_owned()
        };
        (answer["statusCode"].as_u64().unwrap() as u16, body)
    }
}

/// Reads `stream` to its end in the background, keeping what it said.
pub(crate) fn drain(stream: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> Arc<Mutex<String>> {
    let logged = Arc::new(Mutex::new(String::new()));
    let log = Arc::clone(&logged);
    let mut lines = BufReader::new(stream).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let mut log = log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    logged
}

/// Where the suite's function reaches the recorder, its body limit, and
/// its configuration's queue or store (see [`Configured`]).
const RECORDER_URL: &str = "YOCO_TEST_RECORDER_URL";
const BODY_LIMIT: &str = "YOCO_TEST_BODY_LIMIT";
const CONFIGURED: &str = "YOCO_TEST_CONFIGURED";

/// What the recorder answers a handler that is to panic.
const PANIC_NOW: StatusCode = StatusCode::IM_A_TEAPOT;

/// The suite function's queue or store, beside the default memory store.
#[derive(Clone, Copy)]
enum Configured {
    Default,
    /// A queue that records in the test's [`RecordingQueue`], over HTTP.
    Queue,
    /// [`QueueDown`].
    QueueDown,
    /// [`CompleteFails`].
    CompleteFails,
}

impl Configured {
    fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Queue => "queue",
            Self::QueueDown => "queue_down",
            Self::CompleteFails => "complete_fails",
        }
    }
}

/// A queue in the function that records each delivery in the test's
/// [`RecordingQueue`], through the recorder's `POST /queued/{webhook-id}`.
struct QueueOverHttp {
    client: reqwest::Client,
    url: String,
}

impl DeliveryQueue for QueueOverHttp {
    fn enqueue(&self, delivery: &StoredDelivery) -> impl Future<Output = Result<Enqueued, StoreError>> + Send {
        let request = self.client.post(format!("{}{}", self.url, delivery.webhook_id()));
        async move {
            match request.send().await.map(|response| response.status()) {
                Ok(StatusCode::CREATED) => Ok(Enqueued::New),
                Ok(StatusCode::OK) => Ok(Enqueued::AlreadyQueued),
                _ => Err(StoreError::new("the test's queue did not record it")),
            }
        }
    }
}

/// The suite's function, run by [`serve`] as a child process under the
/// emulator: the crate's `lambda::run` with the suite's configuration, whose
/// handler asks the test's recorder to process each delivery.
#[tokio::test]
#[ignore = "the function the Lambda tests run as a child process under the emulator"]
async fn suite_function() {
    let recorder = std::env::var(RECORDER_URL).expect("run by the Lambda tests, under the emulator");
    let limit = std::env::var(BODY_LIMIT).unwrap().parse().unwrap();
    let config = YocoWebhookConfig::new(receiver()).body_limit(limit);
    let client = reqwest::Client::new();
    let config = match std::env::var(CONFIGURED).as_deref() {
        Ok("queue") => config.with_queue(QueueOverHttp {
            client: client.clone(),
            url: format!("{recorder}queued/"),
        }),
        Ok("queue_down") => config.with_queue(QueueDown),
        Ok("complete_fails") => config.with_store(CompleteFails::default()),
        _ => config,
    };
    yoco_webhooks::lambda::run(config, move |delivery| {
        let request = client.post(format!("{recorder}{}", delivery.webhook_id));
        async move {
            match request.send().await {
                Ok(response) if response.status() == PANIC_NOW => panic!("the handler panics on purpose"),
                Ok(response) if response.status().is_success() => Ok(()),
                _ => Err("handler failed"),
            }
        }
    })
    .await
    .unwrap();
}

/// The recorder, served over loopback HTTP: `POST /{webhook-id}` processes
/// that delivery, answering 500 when the recorder fails it and
/// [`PANIC_NOW`] when the handler is to panic; `POST /queued/{webhook-id}`
/// records it in `queue`.
async fn serve_recorder(recorder: Recorder, queue: RecordingQueue) -> SocketAddr {
    async fn record(State((recorder, _)): State<(Recorder, RecordingQueue)>, Path(id): Path<String>) -> StatusCode {
        if recorder.take_panic() {
            return PANIC_NOW;
        }
        match recorder.record(&id).await {
            Ok(()) => StatusCode::OK,
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    /// 201 when `id` is new, 200 when it was queued already.
    async fn queued(State((_, queue)): State<(Recorder, RecordingQueue)>, Path(id): Path<String>) -> StatusCode {
        match queue.record(&id) {
            Enqueued::New => StatusCode::CREATED,
            _ => StatusCode::OK,
        }
    }
    let router = Router::new()
        .route("/{id}", post(record))
        .route("/queued/{id}", post(queued))
        .with_state((recorder, queue));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    address
}

/// The emulator, with [`suite_function`] polling it; the emulator's
/// address (function URLs at its root) and the recorder.
async fn start_suite_function(limit: usize) -> (Emulator, Recorder) {
    start_configured_function(limit, Configured::Default, RecordingQueue::default()).await
}

/// [`start_suite_function`] with `configured`, queuing (if it does) in `queue`.
async fn start_configured_function(
    limit: usize,
    configured: Configured,
    queue: RecordingQueue,
) -> (Emulator, Recorder) {
    // One function polls the emulator: one invocation at a time.
    let recorder = Recorder::one_at_a_time();
    let recorder_address = serve_recorder(recorder.clone(), queue).await;
    let emulator = Emulator::start().await;
    let mut function = Command::new(std::env::current_exe().unwrap())
        .args([
            "lambda::suite_function",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(emulator.function_env())
        .env(RECORDER_URL, format!("http://{recorder_address}/"))
        .env(BODY_LIMIT, limit.to_string())
        .env(CONFIGURED, configured.name())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let logged = drain(function.stderr.take().unwrap());
    emulator.until_answered_by(&mut function, &logged).await;
    // The function lives as long as the test's runtime: the task holding
    // it is dropped, and the function killed, when the test ends.
    tokio::spawn(async move {
        let _function = function;
        std::future::pending::<()>().await;
    });
    (emulator, recorder)
}

async fn serve(limit: usize) -> (SocketAddr, Recorder) {
    let (address, recorder, _) = serve_configured(limit, Configured::Default).await;
    (address, recorder)
}

/// [`serve`] with `configured`; the test's queue the function queues in.
async fn serve_configured(limit: usize, configured: Configured) -> (SocketAddr, Recorder, RecordingQueue) {
    let queue = RecordingQueue::default();
    let (emulator, recorder) = start_configured_function(limit, configured, queue.clone()).await;
    let address = emulator.address;
    // As the function: killed when the test ends.
    tokio::spawn(async move {
        let _emulator = emulator;
        std::future::pending::<()>().await;
    });
    (address, recorder, queue)
}

// The shared adapter suite, through function URLs. Two of its requests
// are answered by the front before any function runs, on AWS as under the
// emulator, so they are sent as Lambda delivers them instead: a repeated
// header (the emulator keeps the first value; AWS joins them with commas,
// or lists them in a REST API's `multiValueHeaders`: see
// `repeated_headers_as_lambda_delivers_them_answer_as_axum_does`), and a
// chunked body without its end (Lambda reads the whole body before it
// invokes the function; a complete one over the limit is refused with 413).

#[tokio::test]
async fn processes_ours_once_and_acknowledges_the_rest() {
    let (address, recorder) = serve(256 * 1024).await;
    crate::adapters::processes_ours_once_and_acknowledges_the_rest(address, recorder).await;
}

#[tokio::test]
async fn a_failed_handler_is_retried_and_concurrent_duplicates_run_once() {
    let (address, recorder) = serve(256 * 1024).await;
    crate::adapters::a_failed_handler_is_retried_and_concurrent_duplicates_run_once(address, recorder).await;
}

// The suite's tests of a configuration's queue and store.

#[tokio::test]
async fn with_a_queue_a_delivery_is_queued_once_and_the_handler_never_runs() {
    let (address, recorder, queue) = serve_configured(256 * 1024, Configured::Queue).await;
    crate::adapters::with_a_queue_a_delivery_is_queued_once(address, recorder, queue).await;
}

#[tokio::test]
async fn a_queue_that_cannot_record_is_answered_503() {
    let (address, recorder, _) = serve_configured(256 * 1024, Configured::QueueDown).await;
    crate::adapters::a_queue_that_cannot_record_is_answered_503(address, recorder).await;
}

#[tokio::test]
async fn a_handler_done_but_not_recorded_is_answered_200_processed() {
    let (address, recorder, _) = serve_configured(256 * 1024, Configured::CompleteFails).await;
    crate::adapters::a_handler_done_but_not_recorded_is_answered_200_processed(address, recorder).await;
}

#[tokio::test]
async fn a_handler_that_panics_is_never_2xx_and_its_retry_is_processed() {
    let (address, recorder) = serve(256 * 1024).await;
    crate::adapters::a_handler_that_panics_is_never_2xx_and_its_retry_is_processed(address, recorder).await;
}

#[tokio::test]
async fn refuses_what_is_not_authentic_or_not_an_event() {
    let (address, recorder) = serve(256 * 1024).await;
    refuses_forgeries_and_what_is_not_an_event(address).await;
    assert_eq!(recorder.processed(), vec!["msg_6".to_owned()]);
}

#[tokio::test]
async fn oversized_and_aborted_bodies_are_refused() {
    let limit = 4 * 1024;
    let (address, recorder) = serve(limit).await;
    let big = over_the_limit(limit);
    assert_eq!(
        post_signed(address, &signed("msg_1", &big), big.clone()).await,
        (413, "body too large".into()),
        "with content-length"
    );
    // Chunked, without content-length, whole: refused by the function.
    let headers = signed("msg_2", &big);
    let mut request = chunked_head(&headers);
    for chunk in big.chunks(1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(raw_status(address, &request, false).await, Some(413));
    an_aborted_upload_is_not_processed(address, recorder, &headers).await;
}

/// The headers as an event's JSON object.
fn header_object(headers: &SignedHeaders) -> Value {
    let pairs = headers.pairs().into_iter();
    Value::Object(pairs.map(|(name, value)| (name.to_owned(), json!(value))).collect())
}

fn encode(body: &[u8], base64: bool) -> String {
    if base64 {
        STANDARD.encode(body)
    } else {
        String::from_utf8(body.to_vec()).unwrap()
    }
}

/// The event shapes Lambda delivers HTTP requests in.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// API Gateway REST API: the v1 (proxy) event, behind stage `prod`.
    RestApi,
    /// API Gateway HTTP API: the v2 event, with its route key.
    HttpApi,
    /// A function URL: the v2 event, route `$default`.
    FunctionUrl,
}

impl Shape {
    /// The event for a request of `method` with `headers` and `body`.
    fn event(self, method: &str, headers: &SignedHeaders, body: &[u8], base64: bool) -> Value {
        self.event_repeating(None, method, headers, body, base64)
    }

    /// [`event`](Self::event) with the header `repeated` sent twice, as
    /// Lambda delivers that: listed twice in a REST API's
    /// `multiValueHeaders` (`headers` keeps the last), joined with a comma
    /// in a v2 event.
    fn event_repeating(
        self,
        repeated: Option<&str>,
        method: &str,
        headers: &SignedHeaders,
        body: &[u8],
        base64: bool,
    ) -> Value {
        let twice = |name: &str| repeated == Some(name);
        match self {
            Self::RestApi => {
                let multi = headers.pairs().into_iter().map(|(name, value)| {
                    let values = if twice(name) {
                        json!([value, value])
                    } else {
                        json!([value])
                    };
                    (name.to_owned(), values)
                });
                json!({
                    "resource": "/webhooks/yoco", "path": "/webhooks/yoco", "httpMethod": method,
                    "headers": header_object(headers), "multiValueHeaders": Value::Object(multi.collect()),
                    "queryStringParameters": null, "multiValueQueryStringParameters": null,
                    "pathParameters": null, "stageVariables": null,
                    "requestContext": {
                        "accountId": "123456789012", "resourceId": "abc123", "stage": "prod",
                        "requestId": "c6af9ac6", "identity": {"sourceIp": "192.0.2.1"},
                        "resourcePath": "/webhooks/yoco", "httpMethod": method, "apiId": "1234567890",
                        "path": "/prod/webhooks/yoco"
                    },
                    "body": encode(body, base64), "isBase64Encoded": base64,
                })
            }
            Self::HttpApi | Self::FunctionUrl => {
                let (route, domain) = match self {
                    Self::HttpApi => ("POST /webhooks/yoco", "abcdefgh.execute-api.af-south-1.amazonaws.com"),
                    _ => ("$default", "abcdefgh.lambda-url.af-south-1.on.aws"),
                };
                let joined = headers.pairs().into_iter().map(|(name, value)| {
                    let value = if twice(name) {
                        format!("{value},{value}")
                    } else {
                        value.to_owned()
                    };
                    (name.to_owned(), json!(value))
                });
                json!({
                    "version": "2.0", "routeKey": route, "rawPath": "/webhooks/yoco", "rawQueryString": "",
                    "headers": Value::Object(joined.collect()),
                    "requestContext": {
                        "accountId": "123456789012", "apiId": "abcdefgh", "domainName": domain,
                        "domainPrefix": "abcdefgh", "requestId": "id", "routeKey": route, "stage": "$default",
                        "time": "01/Dec/2026:12:00:00 +0000", "timeEpoch": 1_796_126_400_000_u64,
                        "http": {"method": method, "path": "/webhooks/yoco", "protocol": "HTTP/1.1",
                                 "sourceIp": "192.0.2.1", "userAgent": "Yoco"}
                    },
                    "body": encode(body, base64), "isBase64Encoded": base64,
                })
            }
        }
    }
}

/// Every event shape, base64-encoded and not: each case of deliveries
/// answered as axum answers the same request, and the signature verified
/// over the decoded bytes.
#[tokio::test]
async fn every_event_shape_answers_as_axum_does() {
    const LIMIT: usize = 4 * 1024;
    let (emulator, recorder) = start_suite_function(LIMIT).await;
    let (axum, axum_recorder) = crate::axum::serve(LIMIT).await;

    let foreign = SampleEvent::payment_succeeded().checkout_id("ch_theirs").to_json();
    let big = SampleEvent::payment_succeeded()
        .checkout_id("ch_mine")
        .metadata("notes", "x".repeat(LIMIT))
        .to_json();
    // Not UTF-8, so Lambda can deliver it only base64-encoded: authentic,
    // so refused by the parser, not the verifier.
    let binary = b"{\"id\":\"\xff\xfe\"}".to_vec();
    for shape in [Shape::RestApi, Shape::HttpApi, Shape::FunctionUrl] {
        for base64 in [false, true] {
            let id = |n: u8| format!("{shape:?}_{base64}_{n}");
            let mut forged = signed(&id(4), &ours());
            forged.webhook_signature = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
            let mut cases = vec![
                (signed(&id(1), &ours()), ours()),
                (signed(&id(1), &ours()), ours()),
                (signed(&id(2), &foreign), foreign.clone()),
                (signed(&id(3), b"[]"), b"[]".to_vec()),
                (forged, ours()),
                (signed(&id(5), &big), big.clone()),
            ];
            if base64 {
                cases.push((signed(&id(6), &binary), binary.clone()));
                // Signed over the base64 text rather than the bytes it encodes.
                let text = STANDARD.encode(ours());
                cases.push((signed(&id(7), text.as_bytes()), ours()));
            }
            for (headers, body) in cases {
                let lambda = emulator.invoke(&shape.event("POST", &headers, &body, base64)).await;
                let expected = post_signed(axum, &headers, body).await;
                assert_eq!(lambda, expected, "{shape:?}, base64 {base64}, {}", headers.webhook_id);
            }
            let get = emulator
                .invoke(&shape.event("GET", &signed(&id(8), &ours()), &ours(), base64))
                .await;
            assert_eq!(get, (405, "method not allowed".into()), "{shape:?}");
        }
    }
    assert_eq!(recorder.processed(), axum_recorder.processed());
    assert_eq!(recorder.processed().len(), 6, "{:?}", recorder.processed());
}

/// Each webhook header sent twice, as Lambda delivers it in each event
/// shape: refused, as axum refuses the request.
#[tokio::test]
async fn repeated_headers_as_lambda_delivers_them_answer_as_axum_does() {
    let (emulator, recorder) = start_suite_function(256 * 1024).await;
    let (axum, _) = crate::axum::serve(256 * 1024).await;
    for shape in [Shape::RestApi, Shape::HttpApi, Shape::FunctionUrl] {
        for repeated in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let headers = signed("msg_1", &ours());
            let event = shape.event_repeating(Some(repeated), "POST", &headers, &ours(), false);
            let mut request = reqwest::Client::new()
                .post(format!("http://{axum}/webhooks/yoco"))
                .body(ours());
            for (name, value) in headers.pairs() {
                request = request.header(name, value);
                if name == repeated {
                    request = request.header(name, value);
                }
            }
            let response = request.send().await.unwrap();
            let expected = (response.status().as_u16(), response.text().await.unwrap());
            assert_eq!(expected.0, 401);
            assert_eq!(emulator.invoke(&event).await, expected, "{shape:?}, {repeated} twice");
        }
    }
    assert!(recorder.processed().is_empty());
}

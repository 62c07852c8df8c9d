//! The example Worker (`examples/worker`), built for `wasm32-unknown-unknown`
//! by `scripts/test` (worker-build), served by `workerd`, the Workers
//! runtime, on a loopback port, with a Durable Object in memory for
//! deduplication: the shared adapter suite over HTTP (every case but a
//! handler made to fail, which the example cannot be), and the example
//! receivers' contract.
//!
//! The processed deliveries are the JSON lines the Worker logs
//! (`console.log`), which `workerd` prints on its stdout.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::Receiver;

use serde_json::Value;
use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};
use yoco_webhooks::{Mode, WebhookSecret};

use crate::adapters::{Recorder, adapter_suite};
use crate::example_receivers::{BODY_TEXT, assert_nothing_secret, post_forged};
use crate::servers::{Ready, Server, ServerSpec, http_answers};

/// What `scripts/test` installs and builds, and how to get it by hand.
const INSTALL: &str = "run scripts/test, which installs and builds what this needs: \
    `npm ci --prefix examples/worker` (workerd, esbuild), \
    `rustup target add wasm32-unknown-unknown`, \
    `cargo install worker-build wasm-bindgen-cli` (the wasm-bindgen version of examples/worker/Cargo.lock), \
    then `worker-build --release` in examples/worker";

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/worker")
}

/// The `workerd` binary the npm package `workerd` installed for this platform.
fn workerd() -> PathBuf {
    let packages = example_dir().join("node_modules/@cloudflare");
    std::fs::read_dir(&packages)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin/workerd"))
        .find(|binary| binary.is_file())
        .unwrap_or_else(|| panic!("workerd is not installed in {}: {INSTALL}", packages.display()))
}

/// A Worker served by `workerd` (by [`crate::servers`]); stopped when
/// dropped.
struct Served {
    address: SocketAddr,
    /// The lines it printed on stdout, as they come (raw: the test parses
    /// them, in its own thread).
    lines: Option<Receiver<String>>,
    server: Server,
    _dir: tempfile_dir::TempDir,
}

impl Served {
    /// Stops the Worker and returns every JSON line it printed that the
    /// test has not taken: all of them, since it stopped.
    fn printed_until_stopped(self) -> Vec<Value> {
        self.output_until_stopped()
            .0
            .iter()
            .map(|line| json_line(line))
            .collect()
    }

    /// Stops the Worker and returns what it printed: the lines on stdout
    /// that the test has not taken, and everything on stderr.
    fn output_until_stopped(mut self) -> (Vec<String>, String) {
        self.server.stop();
        let lines = self.lines.take().expect("the lines are still here");
        (lines.iter().collect(), self.server.log())
    }
}

fn json_line(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"))
}

/// Text bindings in workerd's configuration language.
fn bindings(vars: &[(&str, &str)]) -> String {
    vars.iter()
        .map(|(name, value)| format!("(name = {name:?}, text = {value:?}), "))
        .collect()
}

/// Serves the built example with `vars`, ready when it answers HTTP.
fn serve_example(vars: &[(&str, &str)]) -> Served {
    let build = example_dir().join("build");
    let (script, wasm) = (build.join("index.js"), build.join("index_bg.wasm"));
    assert!(
        script.is_file() && wasm.is_file(),
        "the example Worker is not built ({} missing): {INSTALL}",
        script.display()
    );
    let workerd = workerd();
    let dir = tempfile_dir::TempDir::new();
    std::fs::copy(&script, dir.path().join("index.js")).unwrap();
    std::fs::copy(&wasm, dir.path().join("index_bg.wasm")).unwrap();
    let bindings = bindings(vars);
    let config_dir = dir.path().to_owned();
    // The configuration names the port, chosen as the server starts.
    let args = move |port: u16| {
        let config = format!(
            r#"using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:{port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "index.js", esModule = embed "index.js"),
    (name = "index_bg.wasm", wasm = embed "index_bg.wasm"),
  ],
  compatibilityDate = "2026-11-01",
  bindings = [ {bindings}(name = "YOCO_DEDUP", durableObjectNamespace = "YocoDedup") ],
  durableObjectNamespaces = [ (className = "YocoDedup", uniqueKey = "yoco-webhooks-test-dedup") ],
  durableObjectStorage = (inMemory = void),
);
"#
        );
        let path = config_dir.join(format!("config-{port}.capnp"));
        std::fs::write(&path, config).unwrap();
        vec!["serve".to_owned(), path.display().to_string()]
    };
    let spec = ServerSpec::new(
        "workerd",
        INSTALL,
        args,
        // Any answer: the Worker is loaded and serving (its answers are
        // the tests' business).
        Ready::Answers(Box::new(|address| http_answers(address, "/", None))),
    )
    .in_dir(workerd.parent().unwrap())
    .current_dir(dir.path())
    .stdout_to_test();
    let mut server = Server::start(spec);
    let stdout = BufReader::new(server.take_stdout());
    let (printed, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if printed.send(line).is_err() {
                break;
            }
        }
    });
    Served {
        address: server.address(),
        lines: Some(lines),
        server,
        _dir: dir,
    }
}

/// The example as the suite's adapters are configured: the test secret,
/// checkout `ch_mine`, a body limit of `limit`.
async fn serve(limit: usize) -> (SocketAddr, Recorder) {
    let limit = limit.to_string();
    let mut served = serve_example(&[
        ("YOCO_WEBHOOK_SECRET", TEST_SECRET),
        ("YOCO_CHECKOUT_IDS", "ch_mine"),
        ("YOCO_BODY_LIMIT", &limit),
    ]);
    let address = served.address;
    let lines = served.lines.take().unwrap();
    let recorder = Recorder::out_of_process(lines, move |webhook_id| {
        let body = SampleEvent::payment_succeeded()
            .mode(Mode::Live)
            .checkout_id("ch_mine")
            .to_json();
        assert_eq!(
            post_blocking(address, webhook_id, &body),
            200,
            "the sentinel {webhook_id}"
        );
    });
    // Served while the suite holds the recorder.
    (address, recorder.keeping(Mutex::new(served)))
}

adapter_suite!(serve, out_of_process);

/// Posts `body` signed with the test secret as delivery `id`, from a
/// thread outside the runtime, and returns the status.
fn post_blocking(address: SocketAddr, id: &str, body: &[u8]) -> u16 {
    let headers = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_now(id, body);
    let mut request = format!(
        "POST /webhooks/yoco HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers.pairs() {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"))
}

/// Posts `body` signed with the test secret as delivery `id`.
async fn post(address: SocketAddr, id: &str, body: Vec<u8>) -> u16 {
    let headers = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_now(id, &body);
    let mut request = reqwest::Client::new()
        .post(format!("http://{address}/webhooks/yoco"))
        .body(body);
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn the_example_keeps_the_receivers_contract() {
    let served = serve_example(&[
        ("YOCO_WEBHOOK_SECRET", TEST_SECRET),
        ("YOCO_CHECKOUT_IDS", "ch_a, ch_b"),
    ]);
    let address = served.address;
    let payment = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .checkout_id("ch_a")
        .event_id("evt_1")
        .to_json();
    assert_eq!(post(address, "msg_1", payment.clone()).await, 200);
    assert_eq!(post(address, "msg_1", payment).await, 200, "a retry");
    let foreign = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .checkout_id("ch_c")
        .to_json();
    assert_eq!(post(address, "msg_2", foreign).await, 200);
    let unknown = SampleEvent::other("payment.failed")
        .mode(Mode::Live)
        .checkout_id("ch_b")
        .mode(Mode::Test)
        .amount(250)
        .event_id("evt_4")
        .to_json();
    assert_eq!(post(address, "msg_4", unknown).await, 200);

    let url = format!("http://{address}/webhooks/yoco");
    let get = reqwest::get(&url).await.unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");
    assert_eq!(get.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(get.text().await.unwrap(), "method not allowed");
    let elsewhere = reqwest::get(format!("http://{address}/other")).await.unwrap();
    assert_eq!(elsewhere.status(), 404);

    assert_eq!(
        served.printed_until_stopped(),
        vec![
            serde_json::json!({"webhook_id": "msg_1", "event_id": "evt_1", "type": "payment.succeeded",
                "checkout_id": "ch_a", "mode": "live", "amount": 900, "currency": "ZAR"}),
            serde_json::json!({"webhook_id": "msg_4", "event_id": "evt_4", "type": "payment.failed",
                "checkout_id": "ch_b", "mode": "test", "amount": 250, "currency": "ZAR"}),
        ]
    );
}

#[tokio::test]
async fn without_a_secret_every_request_is_answered_500_with_what_to_set() {
    let served = serve_example(&[]);
    let body = SampleEvent::payment_succeeded().mode(Mode::Live).to_json();
    let response = reqwest::Client::new()
        .post(format!("http://{}/webhooks/yoco", served.address))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert!(response.text().await.unwrap().contains("YOCO_WEBHOOK_SECRET"));
    assert_eq!(
        served.printed_until_stopped(),
        Vec::<Value>::new(),
        "processed without a secret"
    );

    let served = serve_example(&[("YOCO_WEBHOOK_SECRET", "sk_test_not_a_webhook_secret")]);
    let response = reqwest::Client::new()
        .post(format!("http://{}/webhooks/yoco", served.address))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("whsec_") && !text.contains("not_a_webhook_secret"),
        "{text}"
    );
    assert_eq!(
        served.printed_until_stopped(),
        Vec::<Value>::new(),
        "processed with a bad secret"
    );
}

#[tokio::test]
async fn a_test_secret_vouches_for_test_events_only() {
    let served = serve_example(&[
        ("YOCO_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("YOCO_WEBHOOK_SECRET_TEST", TEST_SECRET),
    ]);
    let test_event = SampleEvent::payment_succeeded().mode(Mode::Test).to_json();
    assert_eq!(post(served.address, "msg_1", test_event).await, 200);
    let live_event = SampleEvent::payment_succeeded().mode(Mode::Live).to_json();
    assert_eq!(post(served.address, "msg_2", live_event).await, 401);
    let lines = served.printed_until_stopped();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["mode"], "test");
}

/// What `workerd` prints, the Worker's `console.log` and `console.error`
/// included, holds neither the secret, nor its base64 key, nor a
/// signature, nor a body, whatever the delivery: processed, a retry,
/// foreign, forged, not an event.
#[tokio::test]
async fn prints_nothing_secret() {
    let served = serve_example(&[("YOCO_WEBHOOK_SECRET", TEST_SECRET), ("YOCO_CHECKOUT_IDS", "ch_a")]);
    let address = served.address;
    let payment = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .checkout_id("ch_a")
        .metadata("notes", BODY_TEXT)
        .to_json();
    assert_eq!(post(address, "msg_1", payment.clone()).await, 200);
    assert_eq!(post(address, "msg_1", payment.clone()).await, 200, "a retry");
    let foreign = SampleEvent::payment_succeeded()
        .mode(Mode::Live)
        .checkout_id("ch_c")
        .metadata("notes", BODY_TEXT)
        .to_json();
    assert_eq!(post(address, "msg_2", foreign).await, 200);
    let not_an_event = format!("{{\"notes\":\"{BODY_TEXT}\"}}").into_bytes();
    assert_eq!(post(address, "msg_3", not_an_event).await, 400);
    assert_eq!(
        post_forged(&format!("http://{address}/webhooks/yoco"), payment).await,
        401
    );

    let (stdout, stderr) = served.output_until_stopped();
    assert_eq!(stdout.len(), 1, "one delivery processed: {stdout:?}");
    assert_nothing_secret(&stdout.join("\n"));
    assert_nothing_secret(&stderr);
}

/// The Durable Object store keeps the store contract, run inside workerd
/// by the example's `/store-check` (`testing::StoreCheck` with the Workers
/// timer): claims once, completion and release by the owner only, a lease
/// that runs out, one winner of concurrent claims.
#[tokio::test]
async fn the_durable_object_store_keeps_the_store_contract() {
    let served = serve_example(&[("YOCO_STORE_CHECK", "1")]);
    let response = reqwest::get(format!("http://{}/store-check", served.address))
        .await
        .unwrap();
    let answer = (response.status().as_u16(), response.text().await.unwrap());
    assert_eq!(answer, (200, "no violation".to_owned()));
}

/// A temporary directory, removed when dropped (no dependency for it).
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub(super) struct TempDir(PathBuf);

    impl TempDir {
        pub(super) fn new() -> Self {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let path = std::env::temp_dir().join(format!("yoco-webhooks-workerd-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }

        pub(super) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

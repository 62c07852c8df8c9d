//! The example Worker (`examples/worker`), built for `wasm32-unknown-unknown`
//! by `scripts/test` (worker-build), served by `workerd`, the Workers
//! runtime, on a loopback port, with a Durable Object in memory for
//! deduplication: the shared adapter suite over HTTP (every case but a
//! handler made to fail, which the example cannot be), and the example
//! receivers' contract.
//!
//! The processed deliveries are the JSON lines the Worker logs
//! (`console.log`), which `workerd` prints on its stdout.

use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};
use yoco_webhooks::{Mode, WebhookSecret};

use crate::adapters::{Recorder, adapter_suite};

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

/// A Worker served by `workerd`; stopped when dropped.
struct Served {
    child: Child,
    address: SocketAddr,
    _dir: tempfile_dir::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port, for `workerd` to listen on.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Text bindings in workerd's configuration language.
fn bindings(vars: &[(&str, &str)]) -> String {
    vars.iter()
        .map(|(name, value)| format!("(name = {name:?}, text = {value:?}), "))
        .collect()
}

/// Serves the built example with `vars` and returns it with the JSON
/// lines it prints, as they come.
fn serve_example(vars: &[(&str, &str)], lines: impl Fn(Value) + Send + 'static) -> Served {
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
    let port = free_port();
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
"#,
        bindings = bindings(vars)
    );
    std::fs::write(dir.path().join("config.capnp"), config).unwrap();
    let mut child = Command::new(&workerd)
        .arg("serve")
        .arg(dir.path().join("config.capnp"))
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}: {INSTALL}", workerd.display()));
    let stdout = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            lines(serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON line: {line}")));
        }
    });
    let errors = Arc::new(Mutex::new(String::new()));
    let logged = Arc::clone(&errors);
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            eprintln!("workerd: {line}");
            logged.lock().unwrap().push_str(&line);
        }
    });
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    while TcpStream::connect(address).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("workerd exited ({status}): {}", errors.lock().unwrap());
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "workerd did not listen on {address}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Served {
        child,
        address,
        _dir: dir,
    }
}

/// The example as the suite's adapters are configured: the test secret,
/// checkout `ch_mine`, a body limit of `limit`.
async fn serve(limit: usize) -> (SocketAddr, Recorder) {
    let recorder = Recorder::out_of_process(Duration::from_millis(300));
    let record = recorder.clone();
    let limit = limit.to_string();
    let served = serve_example(
        &[
            ("YOCO_WEBHOOK_SECRET", TEST_SECRET),
            ("YOCO_CHECKOUT_IDS", "ch_mine"),
            ("YOCO_BODY_LIMIT", &limit),
        ],
        move |line| record.record_printed(line["webhook_id"].as_str().unwrap().to_owned()),
    );
    let address = served.address;
    // Served while the suite holds the recorder.
    (address, recorder.keeping(served))
}

adapter_suite!(serve, out_of_process);

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

/// The lines printed once `count` have come (or 10 s have passed), and
/// 300 ms more for any line too many: lines printed before an answer may
/// reach the test after it.
fn printed(lines: &Mutex<Vec<Value>>, count: usize) -> Vec<Value> {
    let started = Instant::now();
    while lines.lock().unwrap().len() < count && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    lines.lock().unwrap().clone()
}

#[tokio::test]
async fn the_example_keeps_the_receivers_contract() {
    let lines = Arc::new(Mutex::new(Vec::<Value>::new()));
    let seen = Arc::clone(&lines);
    let served = serve_example(
        &[
            ("YOCO_WEBHOOK_SECRET", TEST_SECRET),
            ("YOCO_CHECKOUT_IDS", "ch_a, ch_b"),
        ],
        move |line| seen.lock().unwrap().push(line),
    );
    let address = served.address;
    let payment = SampleEvent::payment_succeeded()
        .checkout_id("ch_a")
        .event_id("evt_1")
        .to_json();
    assert_eq!(post(address, "msg_1", payment.clone()).await, 200);
    assert_eq!(post(address, "msg_1", payment).await, 200, "a retry");
    let foreign = SampleEvent::payment_succeeded().checkout_id("ch_c").to_json();
    assert_eq!(post(address, "msg_2", foreign).await, 200);
    let unknown = SampleEvent::other("payment.failed")
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
        printed(&lines, 2),
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
    let served = serve_example(&[], |line| panic!("processed without a secret: {line}"));
    let body = SampleEvent::payment_succeeded().to_json();
    let response = reqwest::Client::new()
        .post(format!("http://{}/webhooks/yoco", served.address))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert!(response.text().await.unwrap().contains("YOCO_WEBHOOK_SECRET"));

    let served = serve_example(&[("YOCO_WEBHOOK_SECRET", "sk_test_not_a_webhook_secret")], |line| {
        panic!("processed with a bad secret: {line}")
    });
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
}

#[tokio::test]
async fn a_test_secret_vouches_for_test_events_only() {
    let lines = Arc::new(Mutex::new(Vec::<Value>::new()));
    let seen = Arc::clone(&lines);
    let served = serve_example(
        &[
            ("YOCO_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            ("YOCO_WEBHOOK_SECRET_TEST", TEST_SECRET),
        ],
        move |line| seen.lock().unwrap().push(line),
    );
    let test_event = SampleEvent::payment_succeeded().mode(Mode::Test).to_json();
    assert_eq!(post(served.address, "msg_1", test_event).await, 200);
    let live_event = SampleEvent::payment_succeeded().mode(Mode::Live).to_json();
    assert_eq!(post(served.address, "msg_2", live_event).await, 401);
    let lines = printed(&lines, 1);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["mode"], "test");
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

//! `yoco-webhooks listen` end to end on loopback: the imitation of Yoco's
//! API (`fake_yoco`) registers its webhook; a stand-in for Yoco signs
//! deliveries with the secret that API returned and posts them through an
//! imaginary tunnel (the public URL's origin swapped for listen's address),
//! retrying at once on a non-2xx answer as Yoco's first retry does; the
//! `axum_receiver` example, configured with the local secret, is the app.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};
use yoco_webhooks::{
    CheckoutFilter, Mode, Processed, Receiver, Verifier, WebhookSecret, YocoWebhook, YocoWebhookConfig,
};

use crate::fake_yoco::{FakeYoco, GOOD_KEY, LIVE_KEY, SECRET, serve};

/// The tunnel's public URL, as the developer would pass it.
const PUBLIC_URL: &str = "https://abc.example/yoco";

/// How long any one step may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);

/// `yoco-webhooks listen ARGS` with the test key, against the fake at `api`,
/// as user `tester` on machine `ci`.
fn listen(api: SocketAddr, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_yoco-webhooks"));
    command
        .arg("listen")
        .args(args)
        .env("YOCO_SECRET_KEY", GOOD_KEY)
        .env("YOCO_API_BASE", format!("http://{api}/api"))
        .env_remove("YOCO_LISTEN_SECRET")
        .env("USER", "tester")
        .env("HOSTNAME", "ci")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// A running listen: its process, its stdout lines, its stderr so far.
struct Listening {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<String>>,
    /// Where the tunnel would point.
    address: String,
}

impl Listening {
    /// Starts `command` and reads up to the start line (with `--json`, the
    /// `ready` object; the lines before it are returned).
    async fn start(mut command: tokio::process::Command) -> (Self, Vec<String>) {
        let mut child = command.spawn().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::clone(&stderr);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                log.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let mut listening = Self {
            child,
            stdout,
            stderr,
            address: String::new(),
        };
        let mut before = Vec::new();
        loop {
            let line = listening.next_line().await;
            let address = match serde_json::from_str::<Value>(&line) {
                Ok(ready) if ready["kind"] == "ready" => ready["listening"].as_str().map(str::to_owned),
                _ => line
                    .strip_prefix("listening on http://")
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_owned),
            };
            before.push(line);
            if let Some(address) = address {
                listening.address = address;
                return (listening, before);
            }
        }
    }

    async fn next_line(&mut self) -> String {
        match tokio::time::timeout(DEADLINE, self.stdout.next_line()).await {
            Ok(Ok(Some(line))) => line,
            other => panic!(
                "no line from listen ({other:?}); stderr:\n{}",
                self.stderr.lock().unwrap()
            ),
        }
    }

    async fn next_json(&mut self) -> Value {
        let line = self.next_line().await;
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"))
    }

    /// Sends `signal` (`INT`, `TERM`) and waits for the exit; its code and the
    /// rest of stdout.
    async fn stop(mut self, signal: &str) -> (i32, String) {
        let pid = self.child.id().unwrap().to_string();
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .unwrap()
            .unwrap();
        let mut rest = String::new();
        while let Ok(Some(line)) = self.stdout.next_line().await {
            rest.push_str(&format!("{line}\n"));
        }
        (status.code().unwrap_or(-1), rest)
    }

    /// Yoco through the tunnel: the registered webhook's URL, with the
    /// public origin swapped for listen's address.
    fn through_tunnel(&self, fake: &FakeYoco) -> String {
        let webhooks = fake.webhooks.lock().unwrap();
        let ours: Vec<_> = webhooks
            .iter()
            .filter(|w| w.name.starts_with("yoco-webhooks listen tester@ci:"))
            .collect();
        assert_eq!(ours.len(), 1, "{webhooks:?}");
        assert_eq!(ours[0].url, PUBLIC_URL);
        ours[0]
            .url
            .replace("https://abc.example", &format!("http://{}", self.address))
    }
}

/// The stand-in for Yoco: posts `body` as delivery `id` to `url`, signed
/// with `secret` afresh on each attempt, again at once on a non-2xx answer,
/// at most `attempts` times; each answer's status.
async fn deliver(url: &str, secret: &str, id: &str, body: &[u8], attempts: usize) -> Vec<u16> {
    let signer = Signer::new(WebhookSecret::parse(secret).unwrap());
    let client = reqwest::Client::builder().timeout(DEADLINE).build().unwrap();
    let mut statuses = Vec::new();
    for _ in 0..attempts {
        let mut request = client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in signer.sign_now(id, body).pairs() {
            request = request.header(name, value);
        }
        let status = request.send().await.unwrap().status().as_u16();
        statuses.push(status);
        if (200..300).contains(&status) {
            break;
        }
    }
    statuses
}

/// A port free a moment ago, for a listen that must run twice on one port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A webhook on the account that is not this test's listen's.
fn other_webhook(id: &str, name: &str) -> yoco_webhooks::registration::Subscription {
    serde_json::from_value(json!({"id": id, "name": name, "url": format!("https://shop.example/{id}"), "mode": "test"}))
        .unwrap()
}

#[tokio::test]
async fn relays_each_delivery_to_the_example_app_and_deletes_its_webhook_on_sigint() {
    let fake = FakeYoco::default();
    let api = serve(fake.router()).await;
    let output = listen(api, &["--print-secret"]).output().await.unwrap();
    assert!(output.status.success(), "{output:?}");
    let local = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(local.starts_with("whsec_") && local != SECRET, "{local}");
    assert!(
        fake.webhooks.lock().unwrap().is_empty(),
        "--print-secret touches nothing"
    );

    let mut app = crate::example_receivers::start("axum_receiver", &[("YOCO_WEBHOOK_SECRET", &local)]).await;
    let args = [
        "--public-url",
        PUBLIC_URL,
        "--forward-to",
        &app.url,
        "--listen",
        "127.0.0.1:0",
        "--json",
    ];
    let (mut listening, before) = Listening::start(listen(api, &args)).await;
    let ready: Value = serde_json::from_str(&before[0]).unwrap();
    assert_eq!(
        ready["local_secret"], local,
        "the same secret as --print-secret: {ready}"
    );
    assert_eq!(ready["webhook"]["mode"], "test");
    assert_eq!(ready["forward_to"], app.url.as_str());
    let url = listening.through_tunnel(&fake);

    // A payment: forwarded, processed, its line printed, the app's 200 relayed.
    let payment = SampleEvent::payment_succeeded()
        .checkout_id("ch_a")
        .amount(1234)
        .event_id("evt_1")
        .to_json();
    assert_eq!(deliver(&url, SECRET, "msg_1", &payment, 3).await, [200]);
    let processed = app.next_line().await;
    assert_eq!(
        (processed["webhook_id"].as_str(), processed["amount"].as_i64()),
        (Some("msg_1"), Some(1234))
    );
    let line = listening.next_json().await;
    assert_eq!(
        line,
        json!({"kind": "delivery", "time": line["time"], "webhook_id": "msg_1", "type": "payment.succeeded",
               "checkout_id": "ch_a", "amount": 1234, "currency": "ZAR", "mode": "test", "forwarded": true,
               "app_status": 200, "error": null, "answered": 200})
    );

    // Yoco's retry keeps its webhook-id: the app sees a retry and processes
    // it no more; the next delivery is the app's next line.
    assert_eq!(deliver(&url, SECRET, "msg_1", &payment, 3).await, [200]);
    assert_eq!(listening.next_json().await["app_status"], 200);
    let refund = SampleEvent::refund_succeeded()
        .mode(Mode::Test)
        .checkout_id("ch_a")
        .to_json();
    assert_eq!(deliver(&url, SECRET, "msg_2", &refund, 3).await, [200]);
    assert_eq!(app.next_line().await["webhook_id"], "msg_2");
    assert_eq!(listening.next_json().await["type"], "refund.succeeded");

    // Not signed by Yoco's secret: 401, printed, not forwarded.
    assert_eq!(deliver(&url, TEST_SECRET, "msg_3", &payment, 1).await, [401]);
    let refused = listening.next_json().await;
    assert_eq!(
        (refused["forwarded"].as_bool(), refused["answered"].as_u64()),
        (Some(false), Some(401))
    );
    assert!(refused["error"].as_str().unwrap().contains("signature"), "{refused}");
    let sentinel = SampleEvent::payment_succeeded().to_json();
    assert_eq!(deliver(&url, SECRET, "msg_4", &sentinel, 1).await, [200]);
    assert_eq!(
        app.next_line().await["webhook_id"],
        "msg_4",
        "msg_3 never reached the app"
    );
    listening.next_json().await;

    let stderr = Arc::clone(&listening.stderr);
    let (code, rest) = listening.stop("INT").await;
    assert_eq!(code, 0, "{rest}{}", stderr.lock().unwrap());
    assert_eq!(
        serde_json::from_str::<Value>(rest.trim()).unwrap()["kind"],
        "deleted",
        "{rest}"
    );
    assert!(fake.webhooks.lock().unwrap().is_empty());
    let all = format!("{before:?}{rest}{}", stderr.lock().unwrap());
    assert!(!all.contains(SECRET) && !all.contains(GOOD_KEY), "{all}");
}

#[tokio::test]
async fn relays_the_apps_500_so_that_yoco_retries_and_deletes_its_webhook_on_sigterm() {
    // An app whose database is down for the first attempt.
    let attempts = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&attempts);
    let config = YocoWebhookConfig::new(Receiver::new(
        Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
        CheckoutFilter::any(),
    ));
    let app = Router::new()
        .route(
            "/hook",
            post(move |webhook: YocoWebhook| {
                let attempt = counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    let processed: Processed<(), &str> = webhook
                        .process(|_| async move { if attempt == 0 { Err("database down") } else { Ok(()) } })
                        .await;
                    processed
                }
            }),
        )
        .with_state(config);
    let app = serve(app).await;

    let fake = FakeYoco::default();
    let api = serve(fake.router()).await;
    let forward_to = format!("http://{app}/hook");
    let args = [
        "--public-url",
        PUBLIC_URL,
        "--forward-to",
        &forward_to,
        "--listen",
        "127.0.0.1:0",
        "--local-secret",
        TEST_SECRET,
    ];
    let (mut listening, before) = Listening::start(listen(api, &args)).await;
    let mut shown = before.join("\n");
    loop {
        let line = listening.next_line().await;
        shown.push_str(&format!("\n{line}"));
        if line == "Ctrl-C deletes the webhook and stops" {
            break;
        }
    }
    assert!(
        shown.contains("registered sub_1  test  yoco-webhooks listen tester@ci:"),
        "{shown}"
    );
    assert!(shown.contains(&format!("YOCO_WEBHOOK_SECRET={TEST_SECRET}")), "{shown}");
    let url = listening.through_tunnel(&fake);

    let payment = SampleEvent::payment_succeeded().checkout_id("ch_b").to_json();
    assert_eq!(deliver(&url, SECRET, "msg_9", &payment, 3).await, [500, 200]);
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    let (first, second) = (listening.next_line().await, listening.next_line().await);
    for (line, status) in [(&first, 500), (&second, 200)] {
        for part in [
            "payment.succeeded",
            "ch_b",
            "900 ZAR",
            "test",
            "msg_9",
            &format!("app answered {status}"),
        ] {
            assert!(line.contains(part), "{part} in {line}");
        }
    }

    let (code, rest) = listening.stop("TERM").await;
    assert_eq!(code, 0, "{rest}");
    assert_eq!(rest.trim(), "SIGTERM: deleted webhook sub_1");
    assert!(fake.webhooks.lock().unwrap().is_empty());
}

#[tokio::test]
async fn removes_what_a_crashed_run_left_and_reports_the_limit_of_five() {
    let fake = FakeYoco::default();
    fake.webhooks.lock().unwrap().extend([
        other_webhook("sub_a", "shop"),
        other_webhook("sub_b", "shop staging"),
        other_webhook("sub_c", "yoco-webhooks listen colleague@laptop:4242"),
    ]);
    let api = serve(fake.router()).await;
    let port = free_port().to_string();
    let closed = format!("http://127.0.0.1:{}/webhooks/yoco", free_port());
    let args = [
        "--public-url",
        PUBLIC_URL,
        "--forward-to",
        &closed,
        "--port",
        &port,
        "--json",
    ];

    // The app is not running: 502, so that Yoco retries.
    let (mut crashed, _) = Listening::start(listen(api, &args)).await;
    let url = crashed.through_tunnel(&fake);
    let body = SampleEvent::payment_succeeded().to_json();
    assert_eq!(deliver(&url, SECRET, "msg_1", &body, 2).await, [502, 502]);
    for _ in 0..2 {
        let line = crashed.next_json().await;
        assert_eq!(
            (line["app_status"].as_u64(), line["answered"].as_u64()),
            (None, Some(502)),
            "{line}"
        );
    }
    assert!(
        crashed.stderr.lock().unwrap().contains("colleague@laptop"),
        "the colleague's is named"
    );
    crashed.child.kill().await.unwrap();
    let left = fake.webhooks.lock().unwrap().last().unwrap().id.clone();

    // The next run on that port removes it; the colleague's stays.
    let (next, before) = Listening::start(listen(api, &args)).await;
    let removed: Value = serde_json::from_str(&before[0]).unwrap();
    assert_eq!(
        (removed["kind"].as_str(), removed["webhook"]["id"].as_str()),
        (Some("removed"), Some(left.as_str()))
    );
    let ids: Vec<String> = fake.webhooks.lock().unwrap().iter().map(|w| w.id.to_string()).collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert!(
        !ids.contains(&left.to_string()) && ids.contains(&"sub_c".to_owned()),
        "{ids:?}"
    );
    next.through_tunnel(&fake);

    // Five: listen says so, lists them, and exits 3 without registering.
    fake.webhooks.lock().unwrap().push(other_webhook("sub_e", "shop eu"));
    let registrations = *fake.registrations.lock().unwrap();
    let other_port = free_port().to_string();
    let args = [
        "--public-url",
        PUBLIC_URL,
        "--forward-to",
        &closed,
        "--port",
        &other_port,
    ];
    let full = listen(api, &args).output().await.unwrap();
    let stderr = String::from_utf8(full.stderr).unwrap();
    assert_eq!(full.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("already has 5 webhooks, and Yoco allows 5"), "{stderr}");
    for id in ["sub_a", "sub_b", "sub_c", "sub_e"] {
        assert!(stderr.contains(id), "{id} in {stderr}");
    }
    assert_eq!(*fake.registrations.lock().unwrap(), registrations);
    let (code, _) = next.stop("INT").await;
    assert_eq!(code, 0);
    assert_eq!(fake.webhooks.lock().unwrap().len(), 4);

    // A live key is refused unless --live.
    let mut live = listen(api, &args);
    live.env("YOCO_SECRET_KEY", LIVE_KEY);
    let refused = live.output().await.unwrap();
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--live") && !stderr.contains(LIVE_KEY), "{stderr}");
    assert_eq!(*fake.registrations.lock().unwrap(), registrations);
}

//! Load test over HTTP on loopback: the axum receiver (verify, parse,
//! filter, deduplicate, answer) against a bare axum handler that answers 200
//! without doing anything, driven alike in the same run.
//!
//! Each target is served by a child process (this binary, re-run with
//! `--serve <target>`) on a 2-thread runtime; the driver keeps
//! `--connections` requests in flight, each a delivery signed now with a
//! fresh `webhook-id`, for `--seconds` after a one-second warm-up, and at
//! most `--max-requests` in all. It prints one Markdown row per target:
//! requests per second, the ratio to the bare handler, and latency
//! percentiles. Loopback only; bounded in time and requests.
//!
//! ```text
//! cargo bench --bench load -- --targets bare,memory --seconds 10 --connections 50
//! ```
//!
//! `scripts/loadtest` runs it with the README's settings.

// A benchmark's set-up failing should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use yoco_webhooks::axum::{YocoWebhook, YocoWebhookConfig};
use yoco_webhooks::dedup::Processed;
use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};
use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret};

const CHECKOUT: &str = "ch_load";
const PATH: &str = "/webhooks/yoco";

/// What to serve; every target but `bare` is the receiver, deduplicating
/// in memory, on Redis (`YOCO_REDIS_URL`, feature `redis`), on PostgreSQL
/// (`YOCO_DATABASE_URL`, feature `postgres`), or not at all; `inbox`
/// queues each delivery in the PostgreSQL inbox instead and answers at once
/// (`YOCO_DATABASE_URL`, feature `postgres`).
const TARGETS: &[&str] = &["bare", "memory", "redis", "postgres", "inbox", "no-dedup"];

struct Options {
    targets: Vec<String>,
    seconds: u64,
    connections: usize,
    max_requests: u64,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(target) = value_of(&args, "--serve") {
        return serve(&target);
    }
    let options = Options {
        targets: value_of(&args, "--targets").map_or_else(
            || vec!["bare".to_owned(), "memory".to_owned()],
            |list| list.split(',').map(str::to_owned).collect(),
        ),
        seconds: value_of(&args, "--seconds").map_or(10, |s| s.parse().expect("--seconds")),
        connections: value_of(&args, "--connections").map_or(50, |s| s.parse().expect("--connections")),
        max_requests: value_of(&args, "--max-requests").map_or(2_000_000, |s| s.parse().expect("--max-requests")),
    };
    if let Some(unknown) = options.targets.iter().find(|t| !TARGETS.contains(&t.as_str())) {
        eprintln!("unknown target {unknown:?}; known: {}", TARGETS.join(", "));
        return ExitCode::from(2);
    }
    drive(&options);
    ExitCode::SUCCESS
}

/// `--name value` among the arguments (cargo bench adds its own, ignored).
fn value_of(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|arg| arg == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn receiver() -> Receiver {
    Receiver::new(
        Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
        CheckoutFilter::checkout(CHECKOUT),
    )
}

/// Serves `target` on an ephemeral loopback port, printing the address.
fn serve(target: &str) -> ExitCode {
    // `LOAD_SERVER_THREADS` varies the server's runtime, to see what the
    // threads' sharing costs.
    let threads = std::env::var("LOAD_SERVER_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let router = match target {
            "bare" => Router::new().route(PATH, post(|| async { StatusCode::OK })),
            "memory" => receiver_app(YocoWebhookConfig::new(receiver())),
            "no-dedup" => receiver_app(YocoWebhookConfig::new(receiver()).without_dedup()),
            "redis" => redis_app().await,
            "postgres" => postgres_app().await,
            "inbox" => inbox_app().await,
            other => {
                eprintln!("unknown target {other:?}");
                return ExitCode::from(2);
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        axum::serve(listener, router).await.unwrap();
        ExitCode::SUCCESS
    })
}

#[cfg(feature = "redis")]
async fn redis_app() -> Router {
    let url = std::env::var("YOCO_REDIS_URL").expect("YOCO_REDIS_URL (scripts/loadtest sets it)");
    let store = yoco_webhooks::redis::RedisStore::connect(&url).await.unwrap();
    receiver_app(YocoWebhookConfig::new(receiver()).with_store(store))
}

#[cfg(not(feature = "redis"))]
async fn redis_app() -> Router {
    panic!("the redis target needs --features redis");
}

/// Connections in the PostgreSQL pool: enough that 50 requests in flight
/// (two statements each) are not queued behind a handful.
#[cfg(feature = "postgres")]
const POOL_SIZE: u32 = 20;

#[cfg(feature = "postgres")]
async fn postgres_app() -> Router {
    use yoco_webhooks::postgres::{PostgresStore, sqlx};
    let url = std::env::var("YOCO_DATABASE_URL").expect("YOCO_DATABASE_URL (scripts/loadtest sets it)");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(
            std::env::var("LOAD_PG_POOL")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(POOL_SIZE),
        )
        .connect(&url)
        .await
        .unwrap();
    let store = PostgresStore::new(pool);
    store.migrate().await.unwrap();
    receiver_app(YocoWebhookConfig::new(receiver()).with_store(store))
}

#[cfg(not(feature = "postgres"))]
async fn postgres_app() -> Router {
    panic!("the postgres target needs --features postgres");
}

/// The receiver queueing in the PostgreSQL inbox (one statement per
/// delivery), on a pool of the same size as the store's.
#[cfg(feature = "postgres")]
async fn inbox_app() -> Router {
    use yoco_webhooks::postgres::{Inbox, sqlx};
    let url = std::env::var("YOCO_DATABASE_URL").expect("YOCO_DATABASE_URL (scripts/loadtest sets it)");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .connect(&url)
        .await
        .unwrap();
    let inbox = Inbox::new(pool);
    inbox.migrate().await.unwrap();
    receiver_app(YocoWebhookConfig::new(receiver()).with_queue(inbox))
}

#[cfg(not(feature = "postgres"))]
async fn inbox_app() -> Router {
    panic!("the inbox target needs --features postgres");
}

/// The receiver, with a handler that does nothing: what is measured is the
/// crate's work and the store's.
fn receiver_app(config: YocoWebhookConfig) -> Router {
    async fn handle(webhook: YocoWebhook) -> Processed<(), Infallible> {
        webhook.process(|_delivery| async { Ok(()) }).await
    }
    Router::new().route(PATH, post(handle)).with_state(config)
}

/// A served target, stopped on drop.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(target: &str) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--serve", target])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(!line.trim().is_empty(), "{target} did not start");
        Self {
            child,
            address: line.trim().to_owned(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one run against a target measured.
struct Measured {
    answered: u64,
    failed: u64,
    elapsed: Duration,
    /// Latency of every answered request, sorted.
    latencies: Vec<Duration>,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.answered as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let rank = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len().max(1));
        self.latencies.get(rank - 1).copied().unwrap_or_default()
    }
}

fn drive(options: &Options) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let run = std::process::id();
    let mut rows = Vec::new();
    for target in &options.targets {
        let server = Server::start(target);
        let prefix = format!("load-{run}-{target}");
        runtime.block_on(load(
            &server.address,
            &format!("{prefix}-warm"),
            options,
            Duration::from_secs(1),
        ));
        let measured = runtime.block_on(load(
            &server.address,
            &prefix,
            options,
            Duration::from_secs(options.seconds),
        ));
        eprintln!(
            "{target}: {} answered, {} failed in {:.1} s",
            measured.answered,
            measured.failed,
            measured.elapsed.as_secs_f64()
        );
        rows.push((target.clone(), measured));
    }
    let rate_of = |name: &str| {
        rows.iter()
            .find(|(target, _)| target == name)
            .map(|(_, m)| m.per_second())
    };
    let (bare, memory) = (rate_of("bare"), rate_of("memory"));
    let ratio =
        |rate: f64, anchor: Option<f64>| anchor.map_or_else(|| "–".to_owned(), |a| format!("{:.0}%", 100.0 * rate / a));
    println!(
        "\n{} connections, {} s per target after a 1 s warm-up\n",
        options.connections, options.seconds
    );
    println!("| target | requests/s | of bare | of memory | p50 | p99 | max | non-2xx |");
    println!("|---|---|---|---|---|---|---|---|");
    for (target, measured) in &rows {
        let rate = measured.per_second();
        println!(
            "| {target} | {rate:.0} | {} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {} |",
            ratio(rate, bare),
            ratio(rate, memory),
            ms(measured.percentile(0.50)),
            ms(measured.percentile(0.99)),
            ms(measured.latencies.last().copied().unwrap_or_default()),
            measured.failed
        );
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Keeps `connections` signed deliveries in flight for `duration`, each
/// connection a hyper HTTP/1.1 client of its own (no pool, keep-alive).
async fn load(address: &str, prefix: &str, options: &Options, duration: Duration) -> Measured {
    let body = Bytes::from(SampleEvent::payment_succeeded().checkout_id(CHECKOUT).to_json());
    let signer = Arc::new(Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()));
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..options.connections {
        let (body, signer, sent) = (body.clone(), Arc::clone(&signer), Arc::clone(&sent));
        let (address, prefix, max_requests) = (address.to_owned(), prefix.to_owned(), options.max_requests);
        workers.spawn(async move {
            let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .unwrap();
            tokio::spawn(connection);
            let (mut latencies, mut failed) = (Vec::new(), 0_u64);
            loop {
                let n = sent.fetch_add(1, Ordering::Relaxed);
                if n >= max_requests || Instant::now() >= deadline {
                    return (latencies, failed);
                }
                let headers = signer.sign_now(&format!("{prefix}-{n}"), &body);
                let mut request = Request::post(PATH)
                    .header("host", &address)
                    .header("content-type", "application/json");
                for (name, value) in headers.pairs() {
                    request = request.header(name, value);
                }
                let request = request.body(Full::new(body.clone())).unwrap();
                let sent_at = Instant::now();
                sender.ready().await.unwrap();
                match sender.send_request(request).await {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        let _ = response.into_body().collect().await;
                        if ok {
                            latencies.push(sent_at.elapsed());
                        } else {
                            failed += 1;
                        }
                    }
                    Err(_) => failed += 1,
                }
            }
        });
    }
    let mut measured = Measured {
        answered: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    while let Some(worker) = workers.join_next().await {
        let (latencies, failed) = worker.unwrap();
        measured.failed += failed;
        measured.latencies.extend(latencies);
    }
    measured.elapsed = started.elapsed();
    measured.answered = measured.latencies.len() as u64;
    measured.latencies.sort_unstable();
    measured
}

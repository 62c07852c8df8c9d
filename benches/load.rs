//! Load test over HTTP on loopback: the axum receiver (verify, parse,
//! filter, deduplicate, answer) against a bare axum handler that answers 200
//! without doing anything, and against the ceiling (the bare handler plus
//! only an HMAC and a borrowed parse, the least a receiver does), driven
//! alike in the same run, measuring the server rather than the load
//! generator.
//!
//! Each target is served by a child process (this binary, re-run with
//! `--serve <target>`), which `--server-cpus` pins with `taskset` apart
//! from the generator (`--generator-cpus`, this process). Every request is
//! a delivery with a fresh `webhook-id`, signed and built before the
//! measured window opens (timestamps well inside the tolerance), so the
//! generator only sends and reads. For each target, after a one-second
//! warm-up:
//!
//! - **capacity**: `--connections` requests kept in flight for `--seconds`;
//!   requests per second, and the server's CPU time per request read from
//!   its own counters (`/proc/<pid>/stat`, all its threads) over the window;
//! - **fixed load**: an open loop at `--rate` requests per second (by
//!   default half the bare handler's capacity measured in the same round),
//!   each connection sending on a schedule whatever the answers do; latency
//!   counts from the scheduled send, so a slow answer delays and is charged
//!   to the requests queued behind it (no coordinated omission).
//!
//! `--rounds` repeats all targets, the bare handler first in each round,
//! and the table gives medians with ranges over the rounds.
//!
//! ```text
//! cargo bench --bench load -- --targets bare,memory --seconds 10 --rounds 3 \
//!     --server-cpus 0 --generator-cpus 1
//! ```
//!
//! `scripts/loadtest` runs it with the README's settings, and starts the
//! stores. Loopback only; bounded in time and requests.

// A benchmark's set-up failing should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use time::OffsetDateTime;
use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};
use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret};
use yoco_webhooks::{Processed, dedup::MemoryStore};
use yoco_webhooks::{YocoWebhook, YocoWebhookConfig};

const CHECKOUT: &str = "ch_load";
const PATH: &str = "/webhooks/yoco";
const WARM_UP: Duration = Duration::from_secs(1);

/// What to serve; every target but `bare` and `ceiling` is the receiver,
/// deduplicating in memory, on Redis (`YOCO_REDIS_URL`, feature `redis`),
/// on PostgreSQL (`YOCO_DATABASE_URL`, feature `postgres`), or not at all;
/// `inbox` queues each delivery in the PostgreSQL inbox instead and answers
/// at once (`YOCO_DATABASE_URL`, feature `postgres`), and `inbox-busy` does
/// the same beside three workers whose handler is slow. `ceiling` is the
/// least any receiver does: the bare handler, plus a pre-keyed HMAC of the
/// signed content compared in constant time and a borrowed, allocation-free
/// `serde_json` parse of the body (no header checks, no filter, no
/// deduplication). `redis-floor` is the least the `redis` target can cost
/// with its client: the receiver without deduplication whose handler sends
/// the same two commands straight through redis-rs. `redis-pair` and
/// `redis-cluster-pair` are two receivers, each with a store (a connection)
/// of its own, the load dealt out between them: on one server
/// (`YOCO_REDIS_URL`), and on a Redis Cluster (`YOCO_REDIS_CLUSTER`, its
/// nodes' URLs, comma-separated).
const TARGETS: &[&str] = &[
    "bare",
    "ceiling",
    "memory",
    "redis",
    "redis-floor",
    "redis-pair",
    "redis-cluster-pair",
    "postgres",
    "inbox",
    "inbox-busy",
    "no-dedup",
];

struct Options {
    targets: Vec<String>,
    seconds: u64,
    connections: usize,
    /// Requests signed for one phase at most: bounds the time and memory
    /// spent before the window.
    max_requests: usize,
    rounds: usize,
    /// The fixed load; half the bare handler's capacity when `None`.
    rate: Option<f64>,
    server_cpus: Option<String>,
    generator_cpus: Option<String>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(target) = value_of(&args, "--serve") {
        let threads = value_of(&args, "--threads").map_or(2, |n| n.parse().expect("--threads"));
        return serve(&target, threads);
    }
    let mut options = Options {
        targets: value_of(&args, "--targets").map_or_else(
            || vec!["bare".to_owned(), "memory".to_owned()],
            |list| list.split(',').map(str::to_owned).collect(),
        ),
        seconds: value_of(&args, "--seconds").map_or(10, |s| s.parse().expect("--seconds")),
        connections: value_of(&args, "--connections").map_or(50, |s| s.parse().expect("--connections")),
        max_requests: value_of(&args, "--max-requests").map_or(1_500_000, |s| s.parse().expect("--max-requests")),
        rounds: value_of(&args, "--rounds").map_or(1, |s| s.parse().expect("--rounds")),
        rate: value_of(&args, "--rate").map(|s| s.parse().expect("--rate")),
        server_cpus: value_of(&args, "--server-cpus"),
        generator_cpus: value_of(&args, "--generator-cpus"),
    };
    if let Some(unknown) = options.targets.iter().find(|t| !TARGETS.contains(&t.as_str())) {
        eprintln!("unknown target {unknown:?}; known: {}", TARGETS.join(", "));
        return ExitCode::from(2);
    }
    // The bare handler first: each round's fixed load is half its capacity.
    options.targets.sort_by_key(|target| target != "bare");
    if let Some(cpus) = &options.generator_cpus {
        // Before the runtime starts any thread, so that all inherit it.
        pin(std::process::id(), cpus);
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

/// Pins every thread of process `pid` to `cpus` (a `taskset` list).
fn pin(pid: u32, cpus: &str) {
    let status = Command::new("taskset")
        .args(["-a", "-c", "-p", cpus, &pid.to_string()])
        .stdout(Stdio::null())
        .status()
        .expect("taskset (util-linux) to pin the generator");
    assert!(status.success(), "taskset -c {cpus} failed");
}

/// How many CPUs a `taskset` list such as `0`, `0-1` or `0,2-3` names.
fn cpu_count(list: &str) -> usize {
    list.split(',')
        .map(|part| match part.split_once('-') {
            Some((low, high)) => high.trim().parse::<usize>().unwrap() + 1 - low.trim().parse::<usize>().unwrap(),
            None => 1,
        })
        .sum()
}

fn receiver() -> Receiver {
    Receiver::new(
        Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
        CheckoutFilter::checkout(CHECKOUT),
    )
}

/// Serves `target` on an ephemeral loopback port on `threads` runtime
/// threads, printing the address.
fn serve(target: &str, threads: usize) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if let Some(pair) = redis_pair(target).await {
            return serve_all(pair).await;
        }
        let router = match target {
            "bare" => Router::new().route(PATH, post(|| async { StatusCode::OK })),
            // `LOAD_MEMORY_CAPACITY` sizes the in-memory store, small to
            // measure it full (evicting), as a long-running server's is.
            "memory" => match std::env::var("LOAD_MEMORY_CAPACITY") {
                Ok(capacity) => receiver_app(YocoWebhookConfig::new(receiver()).with_store(
                    MemoryStore::with_capacity(capacity.parse().expect("LOAD_MEMORY_CAPACITY")),
                )),
                Err(_) => receiver_app(YocoWebhookConfig::new(receiver())),
            },
            "no-dedup" => receiver_app(YocoWebhookConfig::new(receiver()).without_dedup()),
            "ceiling" => ceiling_app(),
            "redis" => redis_app().await,
            "redis-floor" => redis_floor_app().await,
            "postgres" => postgres_app().await,
            "inbox" => inbox_app(false).await,
            "inbox-busy" => inbox_app(true).await,
            other => {
                eprintln!("unknown target {other:?}");
                return ExitCode::from(2);
            }
        };
        serve_all(vec![router]).await
    })
}

/// Serves each of `routers` on an ephemeral loopback port, printing their
/// addresses on one line.
async fn serve_all(routers: Vec<Router>) -> ExitCode {
    let mut listeners = Vec::new();
    for _ in &routers {
        listeners.push(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    let addresses: Vec<String> = listeners
        .iter()
        .map(|listener| listener.local_addr().unwrap().to_string())
        .collect();
    println!("{}", addresses.join(" "));
    // The driver closes our stdin to stop us: exiting, rather than being
    // killed, lets a profiler wrapped around us (`LOAD_SERVER_WRAPPER`)
    // write its report.
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let mut serving = tokio::task::JoinSet::new();
    for (listener, router) in listeners.into_iter().zip(routers) {
        serving.spawn(async move { axum::serve(listener, router).await.unwrap() });
    }
    while let Some(served) = serving.join_next().await {
        served.unwrap();
    }
    ExitCode::SUCCESS
}

/// The `redis-pair` and `redis-cluster-pair` targets: two receivers, each
/// on a store of its own, on one server or on the cluster; `None` for the
/// other targets.
#[cfg(feature = "redis")]
async fn redis_pair(target: &str) -> Option<Vec<Router>> {
    use yoco_webhooks::redis::RedisStore;
    let mut pair = Vec::new();
    for _ in 0..2 {
        let store = match target {
            "redis-pair" => {
                let url = std::env::var("YOCO_REDIS_URL").expect("YOCO_REDIS_URL (scripts/loadtest sets it)");
                RedisStore::connect(&url).await.unwrap()
            }
            "redis-cluster-pair" => {
                let nodes = std::env::var("YOCO_REDIS_CLUSTER").expect("YOCO_REDIS_CLUSTER (scripts/loadtest sets it)");
                RedisStore::connect_cluster(nodes.split(',')).await.unwrap()
            }
            _ => return None,
        };
        pair.push(receiver_app(YocoWebhookConfig::new(receiver()).with_store(store)));
    }
    Some(pair)
}

#[cfg(not(feature = "redis"))]
async fn redis_pair(target: &str) -> Option<Vec<Router>> {
    assert!(
        !target.starts_with("redis-"),
        "the {target} target needs --features redis"
    );
    None
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

/// The `redis-floor` target: the receiver without deduplication whose
/// handler sends a delivery's two Redis commands itself, straight through
/// redis-rs (a claim by `SET NX GET PX`, a completion by `EVALSHA` of the
/// store's own owner-checking script, or by `SET IFEQ GET PX` where the
/// store completes so), with nothing of the store around them: no owner
/// tokens, no timeouts, no reading of the answers. What the `redis` target
/// costs at least with this client.
#[cfg(feature = "redis")]
async fn redis_floor_app() -> Router {
    use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
    use axum::extract::{FromRef, State};

    // The store's completion script, as `src/stores/redis/scripts.rs` spells
    // it (the crate does not export it; `scripts/loadtest`'s anchor reads it
    // alike).
    const SOURCE: &str = include_str!("../src/stores/redis/scripts.rs");
    const START: &str = "const COMPLETE_SCRIPT: &str = r\"";
    const CLAIM: &str = "claim:0123456789abcdef0123456789abcdef";

    #[derive(Clone)]
    struct Floor {
        config: YocoWebhookConfig,
        connection: ConnectionManager,
        complete: Arc<str>,
        complete_by_set: bool,
    }
    impl FromRef<Floor> for YocoWebhookConfig {
        fn from_ref(floor: &Floor) -> Self {
            floor.config.clone()
        }
    }
    async fn handle(State(floor): State<Floor>, webhook: YocoWebhook) -> Processed<(), Infallible> {
        webhook
            .process(|delivery| async move {
                let mut connection = floor.connection.clone();
                let key = delivery.webhook_id.as_str();
                let _: ::redis::Value = ::redis::cmd("SET")
                    .arg(key)
                    .arg(CLAIM)
                    .arg("NX")
                    .arg("GET")
                    .arg("PX")
                    .arg(60_000)
                    .query_async(&mut connection)
                    .await
                    .unwrap();
                let mut complete = ::redis::Cmd::new();
                if floor.complete_by_set {
                    complete
                        .arg("SET")
                        .arg(key)
                        .arg("done")
                        .arg("IFEQ")
                        .arg(CLAIM)
                        .arg("GET")
                        .arg("PX");
                } else {
                    complete.arg("EVALSHA").arg(&*floor.complete).arg(1).arg(key).arg(CLAIM);
                }
                let _: ::redis::Value = complete.arg(100_800_000).query_async(&mut connection).await.unwrap();
                Ok(())
            })
            .await
    }

    let url = std::env::var("YOCO_REDIS_URL").expect("YOCO_REDIS_URL (scripts/loadtest sets it)");
    // The store's choice of completion on this server.
    let complete_by_set = yoco_webhooks::redis::RedisStore::connect(&url)
        .await
        .unwrap()
        .completes_with_set();
    let config = ConnectionManagerConfig::new().set_response_timeout(None);
    let client = ::redis::Client::open(url).unwrap();
    let mut connection = ConnectionManager::new_with_config(client, config).await.unwrap();
    let complete_script = SOURCE
        .split_once(START)
        .and_then(|(_, rest)| rest.split_once("\";\n"))
        .map(|(script, _)| script)
        .expect("COMPLETE_SCRIPT in src/stores/redis/scripts.rs");
    let complete: String = ::redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(complete_script)
        .query_async(&mut connection)
        .await
        .unwrap();
    let floor = Floor {
        config: YocoWebhookConfig::new(receiver()).without_dedup(),
        connection,
        complete: complete.into(),
        complete_by_set,
    };
    Router::new().route(PATH, post(handle)).with_state(floor)
}

#[cfg(not(feature = "redis"))]
async fn redis_floor_app() -> Router {
    panic!("the redis-floor target needs --features redis");
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
/// delivery), on a pool of the same size as the store's; `busy`: with an
/// `InboxRunner` of three workers beside it whose handler takes 200 ms (a
/// slow warehouse), each holding a connection, a transaction and a row
/// lock all the while, on the runner's own pool.
#[cfg(feature = "postgres")]
async fn inbox_app(busy: bool) -> Router {
    use yoco_webhooks::postgres::sqlx::PgConnection;
    use yoco_webhooks::postgres::{Inbox, InboxHandler, sqlx};

    struct Slow;

    impl InboxHandler for Slow {
        type Error = Infallible;

        async fn handle(&self, _: yoco_webhooks::Delivery, _: &mut PgConnection) -> Result<(), Infallible> {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            Ok(())
        }
    }

    let url = std::env::var("YOCO_DATABASE_URL").expect("YOCO_DATABASE_URL (scripts/loadtest sets it)");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .connect(&url)
        .await
        .unwrap();
    let inbox = Inbox::new(pool);
    inbox.migrate().await.unwrap();
    if busy {
        let runner = inbox.runner(receiver(), Slow).workers(3);
        tokio::spawn(runner.run_until(std::future::pending()));
    }
    receiver_app(YocoWebhookConfig::new(receiver()).with_queue(inbox))
}

#[cfg(not(feature = "postgres"))]
async fn inbox_app(_busy: bool) -> Router {
    panic!("the inbox targets need --features postgres");
}

/// The receiver, with a handler that does nothing: what is measured is the
/// crate's work and the store's.
fn receiver_app(config: YocoWebhookConfig) -> Router {
    async fn handle(webhook: YocoWebhook) -> Processed<(), Infallible> {
        webhook.process(|_delivery| async { Ok(()) }).await
    }
    Router::new().route(PATH, post(handle)).with_state(config)
}

/// The `ceiling` target: the work no receiver can skip, done as cheaply as
/// the anchors of `benches/verify.rs` do it.
fn ceiling_app() -> Router {
    use base64::Engine as _;
    use hmac::{Hmac, KeyInit as _, Mac as _};
    use subtle::ConstantTimeEq as _;

    let secret = TEST_SECRET.strip_prefix("whsec_").unwrap();
    let key = base64::engine::general_purpose::STANDARD.decode(secret).unwrap();
    let keyed = Arc::new(Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap());
    let handle = move |headers: axum::http::HeaderMap, body: Bytes| {
        let keyed = Arc::clone(&keyed);
        async move {
            let header = |name: &str| headers.get(name).map(|value| value.as_bytes()).unwrap_or_default();
            let mut mac = (*keyed).clone();
            for part in [header("webhook-id"), b".", header("webhook-timestamp"), b".", &body] {
                mac.update(part);
            }
            let tag: [u8; 32] = mac.finalize().into_bytes().into();
            let sent = header("webhook-signature").get(3..).unwrap_or_default();
            let sent = base64::engine::general_purpose::STANDARD
                .decode(sent)
                .unwrap_or_default();
            if !bool::from(tag.as_slice().ct_eq(&sent)) {
                return StatusCode::UNAUTHORIZED;
            }
            match serde_json::from_slice::<borrowed::Event>(&body) {
                Ok(_) => StatusCode::OK,
                Err(_) => StatusCode::BAD_REQUEST,
            }
        }
    };
    Router::new().route(PATH, post(handle))
}

#[path = "support/borrowed_event.rs"]
mod borrowed;
#[path = "support/cpu_time.rs"]
mod cpu;
use cpu::cpu_time;

/// A served target, stopped on drop.
struct Server {
    child: Child,
    /// The first receiver's address.
    address: String,
    /// Every receiver's address (two for the pair targets).
    addresses: Vec<String>,
    /// The process of the store server the target uses, where the script
    /// that started it said which (`LOAD_REDIS_PID` for `redis` and
    /// `redis-floor`).
    store: Option<u32>,
}

impl Server {
    fn start(target: &str, options: &Options) -> Self {
        // `LOAD_SERVER_THREADS` varies the server's runtime; by default one
        // thread per CPU it is pinned to.
        let threads = std::env::var("LOAD_SERVER_THREADS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| options.server_cpus.as_deref().map_or(2, cpu_count));
        let exe = std::env::current_exe().unwrap();
        let threads = threads.to_string();
        // `taskset` and the wrapper exec the server: the child's id is the
        // server's. `LOAD_SERVER_WRAPPER` runs it under a profiler, such as
        // `valgrind --tool=callgrind` (its CPU times are then the profiler's).
        let mut line: Vec<String> = Vec::new();
        if let Some(cpus) = &options.server_cpus {
            line.extend(["taskset".to_owned(), "-c".to_owned(), cpus.clone()]);
        }
        if let Ok(wrapper) = std::env::var("LOAD_SERVER_WRAPPER") {
            line.extend(wrapper.split_whitespace().map(str::to_owned));
        }
        line.push(exe.to_string_lossy().into_owned());
        line.extend(["--serve", target, "--threads", &threads].map(str::to_owned));
        let mut child = Command::new(&line[0])
            .args(&line[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(!line.trim().is_empty(), "{target} did not start");
        let addresses: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        let store = match target {
            "redis" | "redis-floor" | "redis-pair" => {
                std::env::var("LOAD_REDIS_PID").ok().and_then(|pid| pid.parse().ok())
            }
            _ => None,
        };
        Self {
            child,
            address: addresses[0].clone(),
            addresses,
            store,
        }
    }

    fn cpu_time(&self) -> Option<Duration> {
        cpu_time(self.child.id())
    }

    fn store_cpu_time(&self) -> Option<Duration> {
        cpu_time(self.store?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing its stdin asks it to exit; killed if it has not in 30 s.
        drop(self.child.stdin.take());
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(30) {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one phase against a target measured.
#[derive(Default)]
struct Measured {
    answered: u64,
    failed: u64,
    elapsed: Duration,
    /// Latency of every answered request, sorted.
    latencies: Vec<Duration>,
    /// The server's CPU time over the phase.
    server_cpu: Option<Duration>,
    /// The generator's (this process's) CPU time over the phase.
    generator_cpu: Option<Duration>,
    /// The store server's CPU time over the phase, where it is known.
    store_cpu: Option<Duration>,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.answered as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let rank = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len().max(1));
        self.latencies.get(rank - 1).copied().unwrap_or_default()
    }

    /// The share of one CPU the server used over the phase: near 100% per
    /// CPU it has, it was the bottleneck; well below, the generator was.
    fn server_busy(&self) -> Option<f64> {
        self.server_cpu
            .map(|cpu| 100.0 * cpu.as_secs_f64() / self.elapsed.as_secs_f64())
    }

    /// Microseconds of `cpu` per answered request.
    fn micros_per_request(&self, cpu: Option<Duration>) -> Option<f64> {
        cpu.map(|cpu| cpu.as_secs_f64() * 1e6 / self.answered.max(1) as f64)
    }
}

/// One target in one round.
struct Row {
    target: String,
    capacity: Measured,
    fixed: Option<(f64, Measured)>,
    /// Requests answered in all phases: the denominator for a profile of
    /// the whole server process.
    served: u64,
}

fn drive(options: &Options) {
    let runtime = match options.generator_cpus.as_deref().map(cpu_count) {
        Some(1) => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        Some(threads) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build(),
        None => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
    }
    .unwrap();
    let run = std::process::id();
    let mut rounds = Vec::new();
    for round in 1..=options.rounds {
        let mut rows: Vec<Row> = Vec::new();
        for target in &options.targets {
            let server = Server::start(target, options);
            let prefix = format!("load-{run}-{round}-{target}");
            let row = runtime.block_on(measure(&server, target, &prefix, options, &rows));
            eprintln!("round {round}: {}", describe(&row));
            rows.push(row);
        }
        rounds.push(rows);
    }
    print_table(options, &rounds);
    print_store_ceiling(&rounds);
}

/// The phases against one served target: warm-up, capacity, fixed load.
async fn measure(server: &Server, target: &str, prefix: &str, options: &Options, earlier: &[Row]) -> Row {
    let mut connections = Vec::with_capacity(options.connections);
    // Dealt out between the receivers, for the pair targets.
    for n in 0..options.connections {
        connections.push(connect(&server.addresses[n % server.addresses.len()]).await);
    }
    // The warm-up's rate sizes the capacity phase's signed requests.
    let warm_up = sign(
        &server.address,
        &format!("{prefix}-warm"),
        200_000.min(options.max_requests),
        options,
    );
    let (connections, warm) = closed_loop(server, connections, warm_up, WARM_UP).await;
    let expected = warm.per_second() * options.seconds as f64 * 1.5;
    let count = (expected as usize + options.connections).min(options.max_requests);
    let requests = sign(&server.address, &format!("{prefix}-capacity"), count, options);
    let (connections, capacity) =
        closed_loop(server, connections, requests, Duration::from_secs(options.seconds)).await;
    let bare = earlier.iter().find(|row| row.target == "bare").map(|row| &row.capacity);
    let rate = options.rate.or_else(|| {
        let half = if target == "bare" { &capacity } else { bare? }.per_second() / 2.0;
        Some(half)
    });
    let fixed = match rate {
        Some(rate) => {
            let count = ((rate * options.seconds as f64) as usize).min(options.max_requests);
            let requests = sign(&server.address, &format!("{prefix}-fixed"), count, options);
            let duration = Duration::from_secs(options.seconds);
            Some((rate, open_loop(server, connections, requests, rate, duration).await.1))
        }
        None => None,
    };
    let served = warm.answered + capacity.answered + fixed.as_ref().map_or(0, |(_, fixed)| fixed.answered);
    Row {
        target: target.to_owned(),
        capacity,
        fixed,
        served,
    }
}

async fn connect(address: &str) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

/// `count` deliveries with fresh ids, signed now and built into requests,
/// dealt out to the connections in turn: request `i` goes to connection
/// `i % connections`, its `i / connections`-th.
fn sign(address: &str, prefix: &str, count: usize, options: &Options) -> Vec<Vec<Request<Full<Bytes>>>> {
    let body = Bytes::from(SampleEvent::payment_succeeded().checkout_id(CHECKOUT).to_json());
    let signer = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap());
    // One timestamp for all: a phase ends well inside the tolerance.
    let now = OffsetDateTime::now_utc();
    let mut dealt: Vec<Vec<_>> = (0..options.connections)
        .map(|_| Vec::with_capacity(count / options.connections + 1))
        .collect();
    for i in 0..count {
        let headers = signer.sign(&format!("{prefix}-{i}"), now, &body);
        let mut request = Request::post(PATH)
            .header("host", address)
            .header("content-type", "application/json");
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        dealt[i % options.connections].push(request.body(Full::new(body.clone())).unwrap());
    }
    dealt
}

/// Sends `request` and waits for the whole answer: whether it succeeded.
async fn send(sender: &mut SendRequest<Full<Bytes>>, request: Request<Full<Bytes>>) -> bool {
    if sender.ready().await.is_err() {
        return false;
    }
    match sender.send_request(request).await {
        Ok(response) => {
            let ok = response.status().is_success();
            response.into_body().collect().await.is_ok() && ok
        }
        Err(_) => false,
    }
}

type Sender = SendRequest<Full<Bytes>>;

/// Keeps every connection busy, each sending its next request when the
/// last is answered, for `duration` or until one runs out of requests.
async fn closed_loop(
    server: &Server,
    connections: Vec<Sender>,
    requests: Vec<Vec<Request<Full<Bytes>>>>,
    duration: Duration,
) -> (Vec<Sender>, Measured) {
    let stop = Arc::new(AtomicBool::new(false));
    let cpu = Cpu::now(server);
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = tokio::task::JoinSet::new();
    for (mut sender, requests) in connections.into_iter().zip(requests) {
        let stop = Arc::clone(&stop);
        workers.spawn(async move {
            let (mut latencies, mut failed) = (Vec::with_capacity(requests.len()), 0_u64);
            let mut requests = requests.into_iter();
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let Some(request) = requests.next() else {
                    stop.store(true, Ordering::Relaxed);
                    break;
                };
                let sent_at = Instant::now();
                if send(&mut sender, request).await {
                    latencies.push(sent_at.elapsed());
                } else {
                    failed += 1;
                }
            }
            (sender, latencies, failed)
        });
    }
    collect(server, workers, started, cpu).await
}

/// Sends request `i` at `i / rate` seconds after the start, whatever the
/// answers do (a connection whose last answer is late sends late): the
/// latency counts from the scheduled time. A server slower than `rate`
/// falls ever further behind: what is not sent within a second past
/// `duration` counts as failed.
async fn open_loop(
    server: &Server,
    connections: Vec<Sender>,
    requests: Vec<Vec<Request<Full<Bytes>>>>,
    rate: f64,
    duration: Duration,
) -> (Vec<Sender>, Measured) {
    let count = connections.len();
    let cpu = Cpu::now(server);
    let started = Instant::now() + Duration::from_millis(10);
    let deadline = started + duration + Duration::from_secs(1);
    let mut workers = tokio::task::JoinSet::new();
    for (k, (mut sender, requests)) in connections.into_iter().zip(requests).enumerate() {
        workers.spawn(async move {
            let (mut latencies, mut failed) = (Vec::with_capacity(requests.len()), 0_u64);
            let total = requests.len() as u64;
            for (j, request) in requests.into_iter().enumerate() {
                if Instant::now() > deadline {
                    failed = total - latencies.len() as u64;
                    break;
                }
                let due = started + Duration::from_secs_f64((k + j * count) as f64 / rate);
                wait_until(due).await;
                if send(&mut sender, request).await {
                    latencies.push(due.elapsed());
                } else {
                    failed += 1;
                }
            }
            (sender, latencies, failed)
        });
    }
    collect(server, workers, started, cpu).await
}

/// Waits for `due` more precisely than tokio's millisecond timer: it
/// sleeps until shortly before, then yields until the time (the generator
/// has its own core to spend).
async fn wait_until(due: Instant) {
    const SPIN: Duration = Duration::from_millis(2);
    if due.saturating_duration_since(Instant::now()) > SPIN {
        tokio::time::sleep_until((due - SPIN).into()).await;
    }
    while Instant::now() < due {
        tokio::task::yield_now().await;
    }
}

/// The CPU time used so far by the server, the generator and the store
/// server.
struct Cpu {
    server: Option<Duration>,
    generator: Option<Duration>,
    store: Option<Duration>,
}

impl Cpu {
    fn now(server: &Server) -> Self {
        Self {
            server: server.cpu_time(),
            generator: cpu_time(std::process::id()),
            store: server.store_cpu_time(),
        }
    }
}

async fn collect(
    server: &Server,
    mut workers: tokio::task::JoinSet<(Sender, Vec<Duration>, u64)>,
    started: Instant,
    before: Cpu,
) -> (Vec<Sender>, Measured) {
    let mut connections = Vec::new();
    let mut measured = Measured::default();
    while let Some(worker) = workers.join_next().await {
        let (sender, latencies, failed) = worker.unwrap();
        connections.push(sender);
        measured.failed += failed;
        measured.latencies.extend(latencies);
    }
    measured.elapsed = started.elapsed();
    let after = Cpu::now(server);
    let since = |before: Option<Duration>, after: Option<Duration>| Some(after?.saturating_sub(before?));
    measured.server_cpu = since(before.server, after.server);
    measured.generator_cpu = since(before.generator, after.generator);
    measured.store_cpu = since(before.store, after.store);
    measured.answered = measured.latencies.len() as u64;
    measured.latencies.sort_unstable();
    (connections, measured)
}

/// One line per target and round, as it is measured.
fn describe(row: &Row) -> String {
    let capacity = &row.capacity;
    let mut line = format!(
        "{}: {:.0} requests/s, server {}% busy, {} µs/request, generator {} µs/request, {} failed",
        row.target,
        capacity.per_second(),
        option(capacity.server_busy(), 0),
        option(capacity.micros_per_request(capacity.server_cpu), 2),
        option(capacity.micros_per_request(capacity.generator_cpu), 2),
        capacity.failed,
    );
    if let Some(store) = capacity.micros_per_request(capacity.store_cpu) {
        line += &format!(", store server {store:.2} µs/request");
    }
    if let Some((rate, fixed)) = &row.fixed {
        line += &format!(
            "; at {rate:.0}/s: {:.0} answered/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, server {} µs/request, {} failed",
            fixed.per_second(),
            ms(fixed.percentile(0.50)),
            ms(fixed.percentile(0.99)),
            ms(fixed.latencies.last().copied().unwrap_or_default()),
            option(fixed.micros_per_request(fixed.server_cpu), 2),
            fixed.failed,
        );
    }
    line + &format!("; {} answered in all", row.served)
}

fn option(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.decimals$}"))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Median and range of `values`: `5.1 (4.9–5.6)`, or the value alone.
fn spread(mut values: Vec<f64>, decimals: usize) -> String {
    values.retain(|v| v.is_finite());
    values.sort_by(f64::total_cmp);
    match values.as_slice() {
        [] => "–".to_owned(),
        [one] => format!("{one:.decimals$}"),
        [first, .., last] => {
            let middle = values.len() / 2;
            let median = if values.len().is_multiple_of(2) {
                f64::midpoint(values[middle - 1], values[middle])
            } else {
                values[middle]
            };
            format!("{median:.decimals$} ({first:.decimals$}–{last:.decimals$})")
        }
    }
}

/// The README's table: per target, medians over the rounds (ranges in
/// parentheses); differences to the bare handler are taken within a round.
fn print_table(options: &Options, rounds: &[Vec<Row>]) {
    let rates: Vec<f64> = rounds
        .iter()
        .filter_map(|rows| rows.iter().find_map(|row| row.fixed.as_ref().map(|(rate, _)| *rate)))
        .collect();
    println!(
        "\n{} round(s); per target a 1 s warm-up, {} s at capacity ({} connections), {} s at a fixed load of {} requests/s; \
         server on CPUs {}, generator on CPUs {}\n",
        rounds.len(),
        options.seconds,
        options.connections,
        options.seconds,
        spread(rates, 0),
        options.server_cpus.as_deref().unwrap_or("any"),
        options.generator_cpus.as_deref().unwrap_or("any"),
    );
    println!(
        "| target | requests/s | server busy | server CPU µs/request | over bare | generator CPU µs/request | p99 at fixed load | over bare | p50 at fixed load | failed |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for target in &options.targets {
        let rows: Vec<(&Row, Option<&Row>)> = rounds
            .iter()
            .filter_map(|rows| {
                let bare = rows.iter().find(|row| row.target == "bare");
                rows.iter().find(|row| &row.target == target).map(|row| (row, bare))
            })
            .collect();
        let cpu = |row: &Row| row.capacity.micros_per_request(row.capacity.server_cpu);
        let p99 = |row: &Row| row.fixed.as_ref().map(|(_, fixed)| ms(fixed.percentile(0.99)));
        // Answering less than the load offered, its queue only grows: its
        // latencies say how long the phase lasted.
        let overloaded = rows.iter().any(|(row, _)| {
            row.fixed
                .as_ref()
                .is_some_and(|(rate, fixed)| fixed.answered as f64 / fixed.elapsed.as_secs_f64() < 0.95 * rate)
        });
        let over_bare = |value: &dyn Fn(&Row) -> Option<f64>| -> Vec<f64> {
            rows.iter()
                .filter_map(|(row, bare)| Some(value(row)? - value(bare.as_ref()?)?))
                .collect()
        };
        let all = |value: &dyn Fn(&Row) -> Option<f64>| -> Vec<f64> {
            rows.iter().filter_map(|(row, _)| value(row)).collect()
        };
        let failed: u64 = rows
            .iter()
            .map(|(row, _)| row.capacity.failed + row.fixed.as_ref().map_or(0, |(_, fixed)| fixed.failed))
            .sum();
        println!(
            "| {target} | {} | {}% | {} | {} | {} | {}{} ms | {} ms | {} ms | {failed} |",
            spread(all(&|row| Some(row.capacity.per_second())), 0),
            spread(all(&|row| row.capacity.server_busy()), 0),
            spread(all(&cpu), 2),
            if target == "bare" {
                "–".to_owned()
            } else {
                spread(over_bare(&cpu), 2)
            },
            spread(
                all(&|row| row.capacity.micros_per_request(row.capacity.generator_cpu)),
                2
            ),
            if overloaded { "overloaded: " } else { "" },
            spread(all(&p99), 2),
            if target == "bare" {
                "–".to_owned()
            } else {
                spread(over_bare(&p99), 2)
            },
            spread(
                all(&|row| row.fixed.as_ref().map(|(_, fixed)| ms(fixed.percentile(0.5)))),
                2
            ),
        );
    }
}

/// Where the store server shares the server's CPUs: each round's ceiling for
/// the Redis target there, one request costing at least what the in-memory
/// receiver spends plus what `redis-server` spent per request in that round;
/// and the Redis target against `redis-floor`, the same commands straight
/// through the client.
fn print_store_ceiling(rounds: &[Vec<Row>]) {
    let (mut rates, mut ceilings, mut shares, mut stores, mut floors) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for rows in rounds {
        let find = |target: &str| rows.iter().find(|row| row.target == target);
        let Some(redis) = find("redis") else {
            continue;
        };
        let capacity = &redis.capacity;
        if let Some(floor) = find("redis-floor") {
            floors.push(100.0 * capacity.per_second() / floor.capacity.per_second());
        }
        let Some(memory) = find("memory") else {
            continue;
        };
        let (Some(store), Some(receiver)) = (
            capacity.micros_per_request(capacity.store_cpu),
            memory.capacity.micros_per_request(memory.capacity.server_cpu),
        ) else {
            continue;
        };
        let ceiling = 1e6 / (receiver + store);
        rates.push(capacity.per_second());
        ceilings.push(ceiling);
        shares.push(100.0 * capacity.per_second() / ceiling);
        stores.push(store);
    }
    if !rates.is_empty() {
        println!(
            "\nredis with redis-server beside it: {} requests/s; redis-server {} µs/request; \
             ceiling (in-memory receiver + redis-server per request) {} requests/s; {}% of it",
            spread(rates, 0),
            spread(stores, 2),
            spread(ceilings, 0),
            spread(shares, 0),
        );
    }
    if !floors.is_empty() {
        println!(
            "redis answers {}% of the requests/s of redis-floor (its commands straight through redis-rs), round by round",
            spread(floors, 0)
        );
    }
}

//! The Redis store's client side alone, without HTTP: claims and
//! completions of fresh deliveries, `--concurrency` at a time, against the
//! `redis-server` at `YOCO_REDIS_URL`, on a tokio runtime of one thread (as
//! the load test's server has on its one CPU). Prints deliveries per second
//! and this process's CPU time per delivery, from its own counters.
//!
//! ```text
//! redis-server --port 6390 --save '' --appendonly no &
//! YOCO_REDIS_URL=redis://127.0.0.1:6390 cargo bench --bench redis_store --features redis -- \
//!     --deliveries 40000 --concurrency 50
//! ```
//!
//! `--complete-with-script` completes with the Lua script where the server
//! takes `SET IFEQ` (Valkey 8.1, Redis 8.4 or later), to compare the two on
//! one server. With `YOCO_REDIS_PID` set to the server's process id, it
//! prints the server's CPU time per delivery too.
//!
//! Pin it and `redis-server` to different CPUs (`taskset`) for steady
//! figures. Its instructions per delivery: run it under
//! `valgrind --tool=callgrind` with two `--deliveries` counts (say 2000 and
//! 12000) and divide the difference of the totals by the difference of the
//! counts, so that start-up cancels out.

// A benchmark's set-up failing should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use yoco_webhooks::WebhookId;
use yoco_webhooks::dedup::{Claim, IdempotencyStore};
use yoco_webhooks::redis::{CompleteWith, RedisStore, RedisStoreBuilder};

#[path = "support/cpu_time.rs"]
mod cpu;

const LEASE: Duration = Duration::from_secs(60);
const RETENTION: Duration = Duration::from_secs(600);

#[path = "support/args.rs"]
mod args;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (deliveries, concurrency) = (
        args::number(&args, "--deliveries", 40_000),
        args::number(&args, "--concurrency", 50).max(1),
    );
    let url = std::env::var("YOCO_REDIS_URL").expect("YOCO_REDIS_URL: the redis-server to measure against");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut builder = RedisStoreBuilder::from_url(&url).unwrap();
        if args.iter().any(|arg| arg == "--complete-with-script") {
            builder = builder.complete_with(CompleteWith::Script);
        }
        let store = builder.connect().await.unwrap();
        let server = std::env::var("YOCO_REDIS_PID").ok().and_then(|pid| pid.parse::<u32>().ok());
        // Fresh ids per run, so that a second run against the same Redis
        // claims rather than finds them done.
        let run = format!("bench-{}-{}", std::process::id(), time::OffsetDateTime::now_utc().unix_timestamp());
        for n in 0..200 {
            deliver(&store, &format!("{run}-warm-up-{n}")).await;
        }
        let per_task = deliveries / concurrency;
        let ids: Vec<Vec<String>> = (0..concurrency)
            .map(|task| (0..per_task).map(|n| format!("{run}-{task}-{n}")).collect())
            .collect();
        let (started, cpu_before) = (Instant::now(), cpu::cpu_time(std::process::id()));
        let server_before = server.and_then(cpu::cpu_time);
        let mut tasks = tokio::task::JoinSet::new();
        for ids in ids {
            let store = store.clone();
            tasks.spawn(async move {
                for id in ids {
                    deliver(&store, &id).await;
                }
            });
        }
        while let Some(task) = tasks.join_next().await {
            task.unwrap();
        }
        let (elapsed, cpu_after) = (started.elapsed(), cpu::cpu_time(std::process::id()));
        let server_after = server.and_then(cpu::cpu_time);
        let done = (per_task * concurrency) as f64;
        let per_delivery = |before: Option<Duration>, after: Option<Duration>| {
            before
                .zip(after)
                .map(|(before, after)| format!("{:.2}", (after - before).as_secs_f64() * 1e6 / done))
        };
        let cpu = per_delivery(cpu_before, cpu_after);
        let server_cpu = per_delivery(server_before, server_after)
            .map(|cpu| format!(", the server {cpu} µs"))
            .unwrap_or_default();
        println!(
            "{done} deliveries, {concurrency} at a time, completed by {}: {:.0} deliveries/s, {} µs of CPU per delivery (a claim and a completion){server_cpu}",
            if store.completes_with_set() { "SET IFEQ" } else { "script" },
            done / elapsed.as_secs_f64(),
            cpu.as_deref().unwrap_or("–"),
        );
    });
}

/// One processed delivery's store calls: a claim, which must be acquired,
/// and its completion.
async fn deliver(store: &RedisStore, id: &str) {
    let webhook_id = WebhookId::new(id);
    match store.claim(&webhook_id, LEASE).await.unwrap() {
        Claim::Acquired(token) => store.complete(&token, RETENTION).await.unwrap(),
        other => panic!("{id}: {other:?}"),
    }
}

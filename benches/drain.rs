//! How fast workers drain the PostgreSQL inbox: one worker, then three, on
//! the same database, in the same run; each by the `InboxRunner` and by a
//! loop of `Inbox::work`, the way a merchant wrote workers before it.
//!
//! Each round fills the inbox with `--deliveries` signed deliveries (fresh
//! ids, written with `DeliveryQueue::enqueue` before the clock starts), then
//! times how long the workers take to empty it, with a handler that does
//! nothing: what is measured is the inbox's own work per delivery (take it
//! with `FOR UPDATE SKIP LOCKED`, check it again, record it done, commit).
//! The loop's workers each have a connection of their own; the runner's
//! share its own pool (`workers + 1`). It prints one Markdown row per way
//! and worker count, with the median of `--rounds` rounds and their range,
//! and the ratio to the loop with one worker.
//!
//! ```text
//! YOCO_DATABASE_URL=postgres://... cargo bench --bench drain --features postgres -- --deliveries 5000
//! ```
//!
//! `scripts/loadtest` runs it on its own PostgreSQL after the load test.

// A benchmark's set-up failing should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use yoco_webhooks::postgres::sqlx::PgConnection;
use yoco_webhooks::postgres::sqlx::postgres::PgPoolOptions;
use yoco_webhooks::postgres::{Inbox, InboxHandler, Worked};
use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};
use yoco_webhooks::{CheckoutFilter, DeliveryQueue, Outcome, Receiver, Verifier, WebhookSecret};

#[path = "support/args.rs"]
mod args;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (deliveries, rounds) = (
        args::number(&args, "--deliveries", 5000),
        args::number(&args, "--rounds", 3),
    );
    let Ok(url) = std::env::var("YOCO_DATABASE_URL") else {
        eprintln!("drain: set YOCO_DATABASE_URL to a PostgreSQL database (scripts/loadtest does)");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = PgPoolOptions::new().max_connections(4).connect(&url).await.unwrap();
        let inbox = Inbox::with_table(pool, "yoco_drain_bench").unwrap();
        inbox.migrate().await.unwrap();
        let receiver = Receiver::new(
            Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
            CheckoutFilter::any(),
        );
        let mut rows = Vec::new();
        for workers in [1, 3] {
            for way in ["loop of Inbox::work", "InboxRunner"] {
                let mut rates = Vec::new();
                for round in 0..rounds {
                    fill(
                        &inbox,
                        &receiver,
                        deliveries,
                        &format!("w{workers}r{round}{}", way.len()),
                    )
                    .await;
                    rates.push(match way {
                        "InboxRunner" => run(&inbox, &receiver, workers, deliveries).await,
                        _ => drain(&url, &receiver, workers).await,
                    });
                }
                rates.sort_by(f64::total_cmp);
                rows.push((way, workers, rates));
            }
        }
        let one = rows[0].2[rows[0].2.len() / 2];
        println!("\n{deliveries} deliveries per round, {rounds} rounds, median (range)\n");
        println!("| workers | by | deliveries/s | of the loop's one worker |");
        println!("|---|---|---|---|");
        for (way, workers, rates) in &rows {
            let median = rates[rates.len() / 2];
            println!(
                "| {workers} | {way} | {median:.0} ({:.0}–{:.0}) | {:.2}× |",
                rates[0],
                rates[rates.len() - 1],
                median / one
            );
        }
        sqlx_drop(&inbox).await;
    });
}

/// Queues `count` freshly signed deliveries.
async fn fill(inbox: &Inbox, receiver: &Receiver, count: usize, prefix: &str) {
    let signer = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap());
    let body = SampleEvent::payment_succeeded().checkout_id("ch_drain").to_json();
    for n in 0..count {
        let headers = signer.sign_now(&format!("msg_{prefix}_{n}"), &body);
        let Outcome::Process(delivery) = receiver.receive(&headers, &body).unwrap() else {
            panic!("not processed")
        };
        inbox.enqueue(&delivery.to_stored()).await.unwrap();
    }
}

/// Deliveries per second drained by `workers` tasks, each on a connection
/// of its own, until the inbox is empty.
async fn drain(url: &str, receiver: &Receiver, workers: usize) -> f64 {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let pool = PgPoolOptions::new().max_connections(1).connect(url).await.unwrap();
        let (inbox, receiver) = (Inbox::with_table(pool, "yoco_drain_bench").unwrap(), receiver.clone());
        tasks.spawn(async move {
            let mut done = 0_u64;
            loop {
                match inbox.work(&receiver, |_| async { Ok::<(), String>(()) }).await.unwrap() {
                    Worked::Idle => return done,
                    Worked::Done { .. } => done += 1,
                    other => panic!("{other:?}"),
                }
            }
        });
    }
    let mut drained = 0;
    while let Some(done) = tasks.join_next().await {
        drained += done.unwrap();
    }
    drained as f64 / started.elapsed().max(Duration::from_millis(1)).as_secs_f64()
}

/// Counts deliveries, and says when `until` were counted.
struct Count {
    done: AtomicUsize,
    until: usize,
    all: Arc<Notify>,
}

impl InboxHandler for Count {
    type Error = String;

    async fn handle(&self, _: yoco_webhooks::Delivery, _: &mut PgConnection) -> Result<(), String> {
        if self.done.fetch_add(1, Ordering::SeqCst) + 1 == self.until {
            self.all.notify_one();
        }
        Ok(())
    }
}

/// Deliveries per second drained by an `InboxRunner` of `workers`, from its
/// start until the last of `count` was handled (and its end, which lets
/// that last one commit).
async fn run(inbox: &Inbox, receiver: &Receiver, workers: usize, count: usize) -> f64 {
    let all = Arc::new(Notify::new());
    let handler = Count {
        done: AtomicUsize::new(0),
        until: count,
        all: Arc::clone(&all),
    };
    let started = Instant::now();
    let runner = inbox
        .runner(receiver.clone(), handler)
        .workers(workers)
        .poll_every(Duration::from_millis(5));
    runner.run_until(async move { all.notified().await }).await;
    count as f64 / started.elapsed().max(Duration::from_millis(1)).as_secs_f64()
}

async fn sqlx_drop(inbox: &Inbox) {
    yoco_webhooks::postgres::sqlx::raw_sql("DROP TABLE yoco_drain_bench")
        .execute(inbox.pool())
        .await
        .unwrap();
}

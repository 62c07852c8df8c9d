//! A worker process for the SQS queue the example receivers send to
//! (`YOCO_SQS_QUEUE_URL`), to copy into your service.
//!
//! ```text
//! YOCO_WEBHOOK_SECRET=whsec_... YOCO_SQS_QUEUE_URL=https://sqs.../yoco \
//!   YOCO_DYNAMODB_TABLE=yoco-webhooks cargo run --example sqs_worker --features sqs,dynamodb
//! ```
//!
//! - `YOCO_WEBHOOK_SECRET` (required), `YOCO_WEBHOOK_SECRET_TEST` and
//!   `YOCO_CHECKOUT_IDS` (optional): as the receivers', so that each
//!   delivery is checked again as it was received.
//! - `YOCO_SQS_QUEUE_URL` (required): the queue; the AWS configuration
//!   (region, credentials, `AWS_ENDPOINT_URL`) comes from the environment.
//! - `YOCO_DYNAMODB_TABLE`, `YOCO_REDIS_URL`, `YOCO_REDIS_CLUSTER` or
//!   `YOCO_DATABASE_URL` (features `dynamodb`, `redis`, `postgres`): the
//!   store that makes processing once certain across worker processes, as
//!   the receivers take it; in memory without one (one process only).
//! - `YOCO_SQS_WORKERS` (default 2): receive loops, each up to 10 messages.
//! - `YOCO_SQS_LEASE_SECONDS` (default 30): the store's claim; set it to
//!   the queue's visibility timeout.
//!
//! Prints one JSON line per processed event on stdout, as the receivers
//! do; stops on Ctrl-C or SIGTERM, letting the deliveries in hand finish.

use std::process::ExitCode;
use std::time::Duration;

use yoco_webhooks::Delivery;

// What the receivers share; a worker uses part of it.
#[allow(dead_code)]
#[path = "support/observe.rs"]
mod observe;
#[allow(dead_code)]
#[path = "support/receiver.rs"]
mod receiver;
#[allow(dead_code)]
#[path = "support/store.rs"]
mod store;

/// The longest a store call may take (DynamoDB's; the other stores keep
/// their own bounds): half the lease, between the receivers' 2 s, which is
/// for answering Yoco in time, and this. A worker answers no one, and a
/// call given up on costs the delivery a visibility timeout; under a burst
/// many given up on at once come back together.
const STORE_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("error: {reason}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<(), String> {
    observe::log_to_stderr();
    let receiver = receiver::receiver_from_env()?;
    let url = std::env::var("YOCO_SQS_QUEUE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .ok_or("set YOCO_SQS_QUEUE_URL to the queue the receivers send to")?;
    let workers = number("YOCO_SQS_WORKERS", 2)?;
    let lease = Duration::from_secs(number("YOCO_SQS_LEASE_SECONDS", 30)?);
    let queue = store::sqs_queue(&url).await;
    // The store the environment names, as the receivers take it, with
    // more time for each call (see `STORE_TIMEOUT`).
    let store = store::SharedStore::from_env()
        .await?
        .with_timeout((lease / 2).clamp(Duration::from_secs(2), STORE_TIMEOUT));
    let worker = queue.worker(receiver, store, print_each).workers(workers).lease(lease);
    eprintln!("working on {url}");
    worker.run_until(stopped()).await;
    Ok(())
}

/// Your processing goes here (mark the order paid, send the receipt, ...).
/// An error is retried after the queue's visibility timeout.
async fn print_each(delivery: Delivery) -> Result<(), std::convert::Infallible> {
    println!("{}", receiver::processed_line(&delivery));
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix (what a process manager sends).
async fn stopped() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name).ok().filter(|value| !value.trim().is_empty()) {
        Some(value) => value.trim().parse().map_err(|_| format!("{name}: a number")),
        None => Ok(default),
    }
}

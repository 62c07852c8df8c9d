//! A Yoco webhook receiver on axum, to copy into your service.
//!
//! ```text
//! YOCO_WEBHOOK_SECRET=whsec_... cargo run --example axum_receiver
//! ```
//!
//! - `YOCO_WEBHOOK_SECRET` (required): the secret Yoco returned at
//!   registration. Missing or invalid: a message and exit status 2.
//! - `YOCO_CHECKOUT_IDS` (optional): comma-separated checkout ids; when set,
//!   only those checkouts are processed, others acknowledged and skipped.
//! - `BIND_ADDR` (default `127.0.0.1:3000`).
//! - `YOCO_REDIS_URL` (optional, feature `redis`), `YOCO_REDIS_CLUSTER`
//!   (optional, feature `redis`: a Redis Cluster, its nodes' `redis://host:port`
//!   URLs comma-separated) or `YOCO_DATABASE_URL`
//!   (optional, feature `postgres`): deduplicate on this Redis
//!   (`redis://[:password@]host[:port][/db]`) or PostgreSQL database
//!   (`postgres://user:password@host/db`; the table is created if missing)
//!   instead of in memory, so that several instances behind a load balancer
//!   process each delivery once. Invalid or unreachable at start: a message
//!   and exit status 2.
//!   `cargo run --example axum_receiver --features redis,postgres`.
//! - `YOCO_DYNAMODB_TABLE` (optional, feature `dynamodb`): deduplicate on
//!   this DynamoDB table (created if missing), the client configured by the
//!   AWS SDK's own variables (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials).
//!
//! - `YOCO_INBOX=postgres` (optional, feature `postgres`, with
//!   `YOCO_DATABASE_URL`): answer now, process later. Each verified
//!   delivery is recorded in the PostgreSQL inbox (`yoco_webhook_inbox`,
//!   created if missing) and answered 200 `queued` at once (503 while the
//!   database is down); `YOCO_INBOX_WORKERS` worker tasks (default 1, 0 to
//!   only receive) print the JSON line instead of the request. Any number of
//!   instances share the inbox.
//!   `cargo run --example axum_receiver --features postgres`.
//! - `YOCO_WEBHOOK_SECRET_TEST` (optional): the secret of a test-mode
//!   registration of the same URL, bound to test mode: it verifies test
//!   events only, and `YOCO_WEBHOOK_SECRET` then verifies live ones only.
//! - `RUST_LOG` (default `info`): what is logged, on stderr.
//!
//! `POST /webhooks/yoco` processes every authentic event that passes the
//! filter, whatever its type, once per delivery, and prints one JSON line per
//! processed event on stdout; logs (one span per delivery) go to stderr.
//! `GET /metrics` serves the crate's metrics for Prometheus.

use std::process::ExitCode;

use axum::Router;
use axum::routing::{get, post};
use yoco_webhooks::Processed;
use yoco_webhooks::{YocoWebhook, YocoWebhookConfig};

#[path = "support/observe.rs"]
mod observe;
#[path = "support/receiver.rs"]
mod receiver;
#[path = "support/store.rs"]
mod store;

#[tokio::main]
async fn main() -> ExitCode {
    let (config, metrics) = match receiver::config_from_env().await {
        Ok(setup) => setup,
        Err(reason) => {
            eprintln!("error: {reason}");
            return ExitCode::from(2);
        }
    };
    let address = receiver::bind_address();
    let listener = match tokio::net::TcpListener::bind(&address).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: cannot listen on {address}: {err}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "listening on http://{}/webhooks/yoco",
        listener.local_addr().map_or(address, |a| a.to_string())
    );
    let app = app(config).route("/metrics", get(move || std::future::ready(metrics.render())));
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: server stopped: {err}");
            ExitCode::from(1)
        }
    }
}

/// The routes: `POST /webhooks/yoco` (other methods get 405).
pub(crate) fn app(config: YocoWebhookConfig) -> Router {
    Router::new()
        .route("/webhooks/yoco", post(yoco_webhook))
        .with_state(config)
}

async fn yoco_webhook(webhook: YocoWebhook) -> Processed<(), std::convert::Infallible> {
    webhook
        .process(|delivery| async move {
            // Your processing goes here (mark the order paid, ...). Return an
            // error if it fails: Yoco gets a 500 and retries.
            println!("{}", receiver::processed_line(&delivery));
            Ok(())
        })
        .await
}

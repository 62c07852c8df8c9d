//! A Yoco webhook receiver on actix-web, to copy into your service.
//!
//! ```text
//! YOCO_WEBHOOK_SECRET=whsec_... cargo run --example actix_receiver
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
//!   (optional, feature `postgres`): deduplicate on this Redis or PostgreSQL
//!   database instead of in memory, so that several instances process each
//!   delivery once. Invalid or unreachable at start: a message and exit
//!   status 2.
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
//!   `cargo run --example actix_receiver --features postgres`.
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

use actix_web::{App, HttpServer, web};
use yoco_webhooks::Processed;
use yoco_webhooks::YocoWebhook;

#[path = "support/observe.rs"]
mod observe;
#[path = "support/receiver.rs"]
mod receiver;
#[path = "support/store.rs"]
mod store;

#[actix_web::main]
async fn main() -> ExitCode {
    let (config, metrics) = match receiver::config_from_env().await {
        Ok(setup) => setup,
        Err(reason) => {
            eprintln!("error: {reason}");
            return ExitCode::from(2);
        }
    };
    let metrics = web::Data::new(metrics);
    let address = receiver::bind_address();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(config.clone())
            // A resource answers 405 to other methods (`App::route` would 404).
            .service(web::resource("/webhooks/yoco").route(web::post().to(yoco_webhook)))
            .app_data(metrics.clone())
            .service(web::resource("/metrics").route(web::get().to(render_metrics)))
    })
    .bind(&address);
    let server = match server {
        Ok(server) => server,
        Err(err) => {
            eprintln!("error: cannot listen on {address}: {err}");
            return ExitCode::from(2);
        }
    };
    for bound in server.addrs() {
        eprintln!("listening on http://{bound}/webhooks/yoco");
    }
    match server.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: server stopped: {err}");
            ExitCode::from(1)
        }
    }
}

async fn render_metrics(metrics: web::Data<metrics_exporter_prometheus::PrometheusHandle>) -> String {
    metrics.render()
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

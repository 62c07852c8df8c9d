//! A Yoco webhook receiver on Poem, to copy into your service.
//!
//! ```text
//! YOCO_WEBHOOK_SECRET=whsec_... cargo run --example poem_receiver --features poem
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
//!
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

use metrics_exporter_prometheus::PrometheusHandle;
use poem::listener::TcpAcceptor;
use poem::web::Data;
use poem::{EndpointExt, Route, Server, get, handler};
use yoco_webhooks::Processed;
use yoco_webhooks::YocoWebhook;

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
    let app = Route::new()
        // Every method reaches the extractor, which answers 405 (with
        // `Allow: POST`) to all but POST.
        .at("/webhooks/yoco", yoco_webhook.data(config))
        .at("/metrics", get(render_metrics).data(metrics));
    let served = match TcpAcceptor::from_tokio(listener) {
        Ok(acceptor) => Server::new_with_acceptor(acceptor).run(app).await,
        Err(err) => Err(err),
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: server stopped: {err}");
            ExitCode::from(1)
        }
    }
}

#[handler]
fn render_metrics(metrics: Data<&PrometheusHandle>) -> String {
    metrics.render()
}

#[handler]
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

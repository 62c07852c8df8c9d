//! A Yoco webhook receiver on Rocket, to copy into your service.
//!
//! ```text
//! YOCO_WEBHOOK_SECRET=whsec_... cargo run --example rocket_receiver --features rocket
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
//! - `YOCO_WEBHOOK_SECRET_TEST` (optional): the secret of a test-mode
//!   registration of the same URL, bound to test mode: it verifies test
//!   events only, and `YOCO_WEBHOOK_SECRET` then verifies live ones only.
//! - `RUST_LOG` (default `info`): what is logged, on stderr.
//! - Rocket's own settings (`ROCKET_LIMITS={yoco-webhook="64 KiB"}`, ...)
//!   apply too, except its address, port and logging: Rocket logs on
//!   stdout, which is kept for the JSON lines.
//!
//! `POST /webhooks/yoco` processes every authentic event that passes the
//! filter, whatever its type, once per delivery, and prints one JSON line per
//! processed event on stdout; logs (one span per delivery) go to stderr.
//! `GET /metrics` serves the crate's metrics for Prometheus.

use std::convert::Infallible;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use metrics_exporter_prometheus::PrometheusHandle;
use rocket::config::{Config, LogLevel};
use rocket::error::ErrorKind;
use rocket::fairing::AdHoc;
use rocket::http::Method;
use rocket::route::{BoxFuture, Outcome, Route};
use rocket::{Data, Request, State, get, post, routes};
use yoco_webhooks::Processed;
use yoco_webhooks::{Answered, YocoRejection, YocoWebhook};

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
    let Some(bind) = address.to_socket_addrs().ok().and_then(|mut found| found.next()) else {
        eprintln!("error: cannot listen on {address}: not an address");
        return ExitCode::from(2);
    };
    let settings = Config::figment()
        .merge(("address", bind.ip()))
        .merge(("port", bind.port()))
        .merge(("log_level", LogLevel::Off));
    let rocket = rocket::custom(settings)
        .manage(config)
        .manage(metrics)
        .mount("/", routes![yoco_webhook, render_metrics])
        .mount("/", other_methods())
        .attach(AdHoc::on_liftoff("address", |rocket| {
            let bound = SocketAddr::new(rocket.config().address, rocket.config().port);
            Box::pin(async move { eprintln!("listening on http://{bound}/webhooks/yoco") })
        }));
    match rocket.launch().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) if matches!(err.kind(), ErrorKind::Bind(_)) => {
            eprintln!("error: cannot listen on {address}: {err}");
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("error: server stopped: {err}");
            ExitCode::from(1)
        }
    }
}

#[get("/metrics")]
fn render_metrics(metrics: &State<PrometheusHandle>) -> String {
    metrics.render()
}

#[post("/webhooks/yoco", data = "<webhook>")]
async fn yoco_webhook(webhook: Result<YocoWebhook, Answered>) -> Result<Processed<(), Infallible>, Answered> {
    // Not yours, not authentic, ...: answered with the rejection's status and text.
    let processed = webhook?
        .process(|delivery| async move {
            // Your processing goes here (mark the order paid, ...). Return an
            // error if it fails: Yoco gets a 500 and retries.
            println!("{}", receiver::processed_line(&delivery));
            Ok(())
        })
        .await;
    Ok(processed)
}

/// Rocket answers 404 to a method that no route is mounted for: these
/// answer the other methods 405, with `Allow: POST`.
fn other_methods() -> Vec<Route> {
    [Method::Get, Method::Put, Method::Delete, Method::Patch, Method::Options]
        .into_iter()
        .map(|method| Route::new(method, "/webhooks/yoco", not_a_post))
        .collect()
}

fn not_a_post<'r>(request: &'r Request<'_>, _data: Data<'r>) -> BoxFuture<'r> {
    Outcome::from(request, Answered::from(YocoRejection::MethodNotAllowed)).pin()
}

//! A Yoco webhook receiver as an AWS Lambda function, to copy into your
//! service. Deploy it behind a function URL or an API Gateway route
//! (`cargo lambda build --release --example lambda_receiver --features lambda`),
//! or run it locally under the Lambda emulator:
//!
//! ```text
//! cargo lambda watch --example lambda_receiver --features lambda \
//!     --env-var YOCO_WEBHOOK_SECRET=whsec_...
//! # then POST to http://127.0.0.1:9000/webhooks/yoco
//! ```
//!
//! - `YOCO_WEBHOOK_SECRET` (required): the secret Yoco returned at
//!   registration. Missing or invalid: a message and exit status 2 (the
//!   function fails to start: Lambda reports an init error).
//! - `YOCO_CHECKOUT_IDS` (optional): comma-separated checkout ids; when set,
//!   only those checkouts are processed, others acknowledged and skipped.
//! - `YOCO_REDIS_URL` (optional, feature `redis`), `YOCO_REDIS_CLUSTER`
//!   (optional, feature `redis`: a Redis Cluster, its nodes' `redis://host:port`
//!   URLs comma-separated) or `YOCO_DATABASE_URL`
//!   (optional, feature `postgres`): deduplicate on this Redis or PostgreSQL
//!   database instead of in memory. Lambda runs one instance per concurrent
//!   request, each with its own memory, so without a shared store a retry
//!   reaching another instance is processed again: set one of these in
//!   production. Invalid or unreachable at start: a message and exit
//!   status 2.
//! - `YOCO_DYNAMODB_TABLE` (optional, feature `dynamodb`): deduplicate on
//!   this DynamoDB table, the natural store on Lambda; the client is
//!   configured as the AWS SDK finds it (the function's role and region,
//!   `AWS_ENDPOINT_URL` for an emulator). The example creates the table
//!   when missing (its role then needs `dynamodb:CreateTable`,
//!   `DescribeTable`, `DescribeTimeToLive` and `UpdateTimeToLive` besides
//!   `PutItem`, `UpdateItem` and `DeleteItem`); in production create it
//!   with your infrastructure and drop that call.
//! - `YOCO_WEBHOOK_SECRET_TEST` (optional): the secret of a test-mode
//!   registration of the same URL, bound to test mode.
//! - `RUST_LOG` (default `info`): what is logged, on stderr (CloudWatch).
//!
//! `POST /webhooks/yoco` processes every authentic event that passes the
//! filter, whatever its type, once per delivery, and prints one JSON line per
//! processed event on stdout; other methods get 405, other paths 404. No
//! `BIND_ADDR` (Lambda calls the function) and no `GET /metrics` (each
//! instance would report only its own invocations).

use std::process::ExitCode;

use yoco_webhooks::{
    YocoWebhookConfig,
    lambda::{handle, run_service},
};
use yoco_webhooks::{
    lambda::lambda_http::RequestExt as _,
    lambda::lambda_http::{self, Body, Request},
};

// The receivers' shared setup; a Lambda function binds no address and
// serves no metrics, so some of it goes unused here.
#[allow(dead_code)]
#[path = "support/observe.rs"]
mod observe;
#[allow(dead_code)]
#[path = "support/receiver.rs"]
mod receiver;
#[path = "support/store.rs"]
mod store;

#[tokio::main]
async fn main() -> ExitCode {
    observe::log_to_stderr();
    let config = match receiver::receiver_from_env() {
        Ok(receiver) => store::with_store_from_env(YocoWebhookConfig::new(receiver)).await,
        Err(reason) => Err(reason),
    };
    let config = match config {
        Ok(config) => config,
        Err(reason) => {
            eprintln!("error: {reason}");
            return ExitCode::from(2);
        }
    };
    // Built once per instance, outside the handler: warm invocations reuse
    // the store's connection.
    let function = lambda_http::service_fn(move |request: Request| {
        let config = config.clone();
        async move { Ok::<_, std::convert::Infallible>(route(&config, request).await) }
    });
    // `run_service` is `lambda_http::run` that keeps a REST API's repeated
    // headers repeated, so that they are refused as on every server.
    match run_service(function).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: the Lambda runtime stopped: {err}");
            ExitCode::from(1)
        }
    }
}

/// `/webhooks/yoco` (any method: the pipeline answers 405 to all but POST);
/// 404 elsewhere.
async fn route(config: &YocoWebhookConfig, request: Request) -> lambda_http::Response<Body> {
    // Behind a named API Gateway stage the path starts with the stage.
    if !request.raw_http_path().ends_with("/webhooks/yoco") {
        let mut response = lambda_http::Response::new(Body::from("not found"));
        *response.status_mut() = lambda_http::http::StatusCode::NOT_FOUND;
        return response;
    }
    handle(config, request, |delivery| async move {
        // Your processing goes here (mark the order paid, ...). Return an
        // error if it fails: Yoco gets a 500 and retries.
        println!("{}", receiver::processed_line(&delivery));
        Ok::<(), std::convert::Infallible>(())
    })
    .await
}

//! The axum extractor, through the shared adapter suite, beside the
//! merchant's own state and extractors.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::routing::post;
use yoco_webhooks::Processed;
use yoco_webhooks::{YocoWebhook, YocoWebhookConfig};

use crate::adapters::{Recorder, adapter_suite, configured_suite, receiver};

/// The merchant's own state, beside the webhook configuration.
#[derive(Clone)]
struct App {
    yoco: YocoWebhookConfig,
    recorder: Recorder,
}

impl FromRef<App> for YocoWebhookConfig {
    fn from_ref(app: &App) -> Self {
        app.yoco.clone()
    }
}

async fn handler(State(app): State<App>, webhook: YocoWebhook) -> Processed<(), &'static str> {
    webhook
        .process(|delivery| async move { app.recorder.handle(delivery).await })
        .await
}

pub(crate) async fn serve(limit: usize) -> (SocketAddr, Recorder) {
    serve_config(YocoWebhookConfig::new(receiver()).body_limit(limit)).await
}

pub(crate) async fn serve_config(yoco: YocoWebhookConfig) -> (SocketAddr, Recorder) {
    let app = App {
        yoco,
        recorder: Recorder::default(),
    };
    let router = Router::new()
        .route("/webhooks/yoco", post(handler))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (address, app.recorder)
}

adapter_suite!(serve);
configured_suite!(serve_config);

/// The route's own `DefaultBodyLimit` bounds the read when it is below the
/// configured limit: an operator's 1 KiB cap holds for this extractor too.
#[tokio::test]
async fn the_routes_default_body_limit_applies_when_smaller() {
    let app = App {
        yoco: YocoWebhookConfig::new(receiver()),
        recorder: Recorder::default(),
    };
    let router = Router::new()
        .route("/webhooks/yoco", post(handler).layer(DefaultBodyLimit::max(1024)))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    crate::adapters::a_smaller_server_limit_of_1_kib_applies(address, app.recorder).await;
}

//! The axum extractor, through the shared adapter suite, beside the
//! merchant's own state and extractors.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::post;
use yoco_webhooks::axum::{YocoWebhook, YocoWebhookConfig};
use yoco_webhooks::dedup::Processed;

use crate::adapters::{Recorder, adapter_suite, receiver};

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

async fn serve(limit: usize) -> (SocketAddr, Recorder) {
    let app = App {
        yoco: YocoWebhookConfig::new(receiver()).body_limit(limit),
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

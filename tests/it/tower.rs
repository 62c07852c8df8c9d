//! The tower layer over real servers on 127.0.0.1: a plain hyper server
//! with the layer in a `ServiceBuilder`, and an axum route with the layer.
//! Both run the shared adapter suite (the inner service answering as the
//! extractors do), and the layer's own checks: the raw body and the
//! delivery handed on, the signature marked sensitive, 405 with `Allow`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Extension;
use axum::extract::State;
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tower::{ServiceBuilder, service_fn};
use yoco_webhooks::Delivery;
use yoco_webhooks::{YocoWebhookConfig, tower::YocoWebhookLayer};

use crate::adapters::{Recorder, adapter_suite, configured_suite, ours, post_signed, receiver, signed};

/// The inner service's view of each call: the `webhook-id`, the body as
/// received, and whether `webhook-signature` and `svix-signature` were
/// marked sensitive.
#[derive(Clone, Default)]
struct Probe {
    recorder: Recorder,
    seen: Arc<Mutex<Vec<(String, Bytes, bool)>>>,
}

impl Probe {
    /// The inner service's work, on whichever server: notes what it saw,
    /// then processes like the extractors' handlers and answers as they do.
    async fn call(&self, delivery: Option<&Delivery>, headers: &HeaderMap, body: Bytes) -> (StatusCode, &'static str) {
        let Some(delivery) = delivery else {
            return (StatusCode::INTERNAL_SERVER_ERROR, "no delivery");
        };
        let sensitive = ["webhook-signature", "svix-signature"]
            .iter()
            .all(|name| headers.get_all(*name).iter().all(http::HeaderValue::is_sensitive));
        self.seen
            .lock()
            .unwrap()
            .push((delivery.webhook_id.to_string(), body, sensitive));
        match self.recorder.handle(delivery.clone()).await {
            Ok(()) => (StatusCode::OK, "processed"),
            Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "handler failed"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Server {
    /// hyper with `ServiceBuilder::new().layer(..).service(service_fn(..))`.
    Hyper,
    /// axum with `post(handler).layer(..)` and `Extension<Delivery>`.
    Axum,
}

fn config(limit: usize) -> YocoWebhookConfig {
    YocoWebhookConfig::new(receiver()).body_limit(limit)
}

async fn start(server: Server, limit: usize) -> (SocketAddr, Probe) {
    start_configured(server, config(limit)).await
}

async fn start_configured(server: Server, config: YocoWebhookConfig) -> (SocketAddr, Probe) {
    let layer = YocoWebhookLayer::new(config);
    let probe = Probe::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    match server {
        Server::Hyper => {
            let inner = probe.clone();
            let service =
                ServiceBuilder::new()
                    .layer(layer)
                    .service(service_fn(move |request: Request<Full<Bytes>>| {
                        let probe = inner.clone();
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await?.to_bytes();
                            let (status, text) = probe.call(parts.extensions.get(), &parts.headers, body).await;
                            let mut response = Response::new(text.to_owned());
                            *response.status_mut() = status;
                            Ok::<_, Infallible>(response)
                        }
                    }));
            tokio::spawn(async move {
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    let service = TowerToHyperService::new(service.clone());
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        }
        Server::Axum => {
            async fn handler(
                State(probe): State<Probe>,
                Extension(delivery): Extension<Delivery>,
                headers: HeaderMap,
                body: Bytes,
            ) -> (StatusCode, &'static str) {
                probe.call(Some(&delivery), &headers, body).await
            }
            let router = axum::Router::new()
                .route("/webhooks/yoco", post(handler).layer(layer))
                .with_state(probe.clone());
            tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        }
    }
    (address, probe)
}

mod on_hyper {
    use super::*;

    async fn serve(limit: usize) -> (SocketAddr, Recorder) {
        let (address, probe) = start(Server::Hyper, limit).await;
        (address, probe.recorder)
    }

    async fn serve_config(config: YocoWebhookConfig) -> (SocketAddr, Recorder) {
        let (address, probe) = start_configured(Server::Hyper, config).await;
        (address, probe.recorder)
    }

    adapter_suite!(serve);
    configured_suite!(serve_config);
}

mod on_axum {
    use super::*;

    async fn serve(limit: usize) -> (SocketAddr, Recorder) {
        let (address, probe) = start(Server::Axum, limit).await;
        (address, probe.recorder)
    }

    async fn serve_config(config: YocoWebhookConfig) -> (SocketAddr, Recorder) {
        let (address, probe) = start_configured(Server::Axum, config).await;
        (address, probe.recorder)
    }

    adapter_suite!(serve);
    configured_suite!(serve_config);
}

#[tokio::test]
async fn hands_on_the_raw_body_with_the_signature_marked_sensitive_and_refuses_other_methods() {
    for server in [Server::Hyper, Server::Axum] {
        let (address, probe) = start(server, 256 * 1024).await;

        // Not as our serialiser would write it: the inner service must see
        // the bytes as signed.
        let mut spaced = b"  ".to_vec();
        spaced.extend(ours());
        spaced.extend(b"\n");
        assert_eq!(
            post_signed(address, &signed("msg_1", &spaced), spaced.clone()).await,
            (200, "processed".into()),
            "{server:?}"
        );
        // A signed delivery, but not POSTed.
        let headers = signed("msg_2", &ours());
        let mut request = reqwest::Client::new()
            .put(format!("http://{address}/webhooks/yoco"))
            .body(ours());
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 405, "{server:?}");
        assert_eq!(response.headers()["allow"], "POST", "{server:?}");

        // Under Svix's names: its signature is marked sensitive too.
        let svix = crate::adapters::SignedByTheirs::now("msg_3");
        assert_eq!(
            crate::adapters::post_ours_with(address, &svix.named("svix")).await,
            (200, "processed".into()),
            "{server:?}"
        );

        assert_eq!(
            *probe.seen.lock().unwrap(),
            [
                ("msg_1".to_owned(), Bytes::from(spaced), true),
                ("msg_3".to_owned(), Bytes::from(ours()), true)
            ],
            "{server:?}"
        );
    }
}

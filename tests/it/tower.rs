//! The tower layer over real servers on 127.0.0.1: a plain hyper server
//! with the layer in a `ServiceBuilder`, and an axum route with the layer;
//! every case runs against both, driven by a real HTTP client (and a raw TCP
//! client for what HTTP clients will not send).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::{ServiceBuilder, service_fn};
use yoco_webhooks::testing::{SampleEvent, SignedHeaders, Signer, TEST_SECRET};
use yoco_webhooks::tower::YocoWebhookLayer;
use yoco_webhooks::{CheckoutFilter, Delivery, Receiver, Verifier, WebhookSecret};

/// What reached the inner service.
#[derive(Clone, Default)]
struct Recorder {
    /// Every call, by `webhook-id`, failed or not.
    calls: Arc<Mutex<Vec<String>>>,
    /// The deliveries recorded: `webhook-id` and the body as received.
    processed: Arc<Mutex<Vec<(String, Bytes)>>>,
    /// Whether every call saw `webhook-signature` marked sensitive.
    all_sensitive: Arc<Mutex<bool>>,
    /// How many of the next calls answer 500.
    fail_next: Arc<AtomicUsize>,
}

impl Recorder {
    /// The inner service's work, on whichever server: records the delivery
    /// unless told to fail.
    async fn record(
        &self,
        delivery: Option<&Delivery>,
        headers: &HeaderMap,
        body: Bytes,
    ) -> (StatusCode, &'static str) {
        let Some(delivery) = delivery else {
            return (StatusCode::INTERNAL_SERVER_ERROR, "no delivery");
        };
        let id = delivery.webhook_id.to_string();
        self.calls.lock().unwrap().push(id.clone());
        let sensitive = headers
            .get_all("webhook-signature")
            .iter()
            .all(http::HeaderValue::is_sensitive);
        *self.all_sensitive.lock().unwrap() &= sensitive;
        // Long enough for concurrent duplicates to overlap.
        tokio::time::sleep(Duration::from_millis(50)).await;
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return (StatusCode::INTERNAL_SERVER_ERROR, "database down");
        }
        self.processed.lock().unwrap().push((id, body));
        (StatusCode::OK, "recorded")
    }

    fn processed_ids(&self) -> Vec<String> {
        self.processed
            .lock()
            .unwrap()
            .iter()
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

#[derive(Debug, Clone, Copy)]
enum Server {
    /// hyper with `ServiceBuilder::new().layer(..).service(service_fn(..))`.
    Hyper,
    /// axum with `post(handler).layer(..)` and `Extension<Delivery>`.
    Axum,
}

const SERVERS: [Server; 2] = [Server::Hyper, Server::Axum];

fn layer(limit: usize) -> YocoWebhookLayer {
    let secret = WebhookSecret::parse(TEST_SECRET).unwrap();
    let receiver = Receiver::new(Verifier::new(secret), CheckoutFilter::checkout("ch_mine"));
    YocoWebhookLayer::new(receiver).body_limit(limit)
}

async fn serve(server: Server, limit: usize) -> (SocketAddr, Recorder) {
    let recorder = Recorder {
        all_sensitive: Arc::new(Mutex::new(true)),
        ..Recorder::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    match server {
        Server::Hyper => {
            let inner = recorder.clone();
            let service =
                ServiceBuilder::new()
                    .layer(layer(limit))
                    .service(service_fn(move |request: Request<Full<Bytes>>| {
                        let recorder = inner.clone();
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await?.to_bytes();
                            let (status, text) = recorder.record(parts.extensions.get(), &parts.headers, body).await;
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
                State(recorder): State<Recorder>,
                Extension(delivery): Extension<Delivery>,
                headers: HeaderMap,
                body: Bytes,
            ) -> (StatusCode, &'static str) {
                recorder.record(Some(&delivery), &headers, body).await
            }
            let router = axum::Router::new()
                .route("/webhooks/yoco", post(handler).layer(layer(limit)))
                .with_state(recorder.clone());
            tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        }
    }
    (address, recorder)
}

fn signed(id: &str, body: &[u8]) -> SignedHeaders {
    Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_now(id, body)
}

async fn post_signed(address: SocketAddr, headers: &SignedHeaders, body: Vec<u8>) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("http://{address}/webhooks/yoco"))
        .body(body);
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn ours() -> Vec<u8> {
    SampleEvent::payment_succeeded().checkout_id("ch_mine").to_json()
}

#[tokio::test]
async fn passes_ours_on_once_and_answers_the_rest_itself() {
    for server in SERVERS {
        let (address, recorder) = serve(server, 256 * 1024).await;

        // Not as our serialiser would write it: the inner service must see
        // the bytes as signed.
        let mut spaced = b"  ".to_vec();
        spaced.extend(ours());
        spaced.extend(b"\n");
        assert_eq!(
            post_signed(address, &signed("msg_1", &spaced), spaced.clone()).await,
            (200, "recorded".into()),
            "{server:?}"
        );
        // Yoco's retry: same id, new signature.
        assert_eq!(
            post_signed(address, &signed("msg_1", &ours()), ours()).await,
            (200, "duplicate".into()),
            "{server:?}"
        );

        let foreign = SampleEvent::payment_succeeded().checkout_id("ch_theirs").to_json();
        assert_eq!(
            post_signed(address, &signed("msg_2", &foreign), foreign).await,
            (200, "ignored: foreign checkout".into()),
            "{server:?}"
        );
        let in_store = SampleEvent::payment_succeeded().without_checkout_id().to_json();
        assert_eq!(
            post_signed(address, &signed("msg_3", &in_store), in_store).await,
            (200, "ignored: no checkout id".into()),
            "{server:?}"
        );
        let unknown_type = SampleEvent::other("payment.failed").checkout_id("ch_mine").to_json();
        assert_eq!(
            post_signed(address, &signed("msg_4", &unknown_type), unknown_type.clone()).await,
            (200, "recorded".into()),
            "{server:?}"
        );

        assert_eq!(recorder.calls(), ["msg_1", "msg_4"], "{server:?}");
        assert_eq!(
            *recorder.processed.lock().unwrap(),
            [
                ("msg_1".to_owned(), Bytes::from(spaced)),
                ("msg_4".to_owned(), Bytes::from(unknown_type))
            ],
            "{server:?}"
        );
        assert!(*recorder.all_sensitive.lock().unwrap(), "{server:?}");
    }
}

#[tokio::test]
async fn refuses_what_is_not_authentic_not_an_event_or_not_a_post() {
    for server in SERVERS {
        let (address, recorder) = serve(server, 256 * 1024).await;
        let url = format!("http://{address}/webhooks/yoco");

        let mut tampered = signed("msg_1", &ours());
        tampered.webhook_signature = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
        assert_eq!(
            post_signed(address, &tampered, ours()).await,
            (401, "webhook not authentic".into()),
            "{server:?}"
        );

        let response = reqwest::Client::new().post(&url).body(ours()).send().await.unwrap();
        assert_eq!(response.status(), 401, "{server:?}: no webhook headers at all");

        let headers = signed("msg_1", &ours());
        let mut request = reqwest::Client::new().post(&url).body(ours());
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        let response = request.header("webhook-id", "msg_other").send().await.unwrap();
        assert_eq!(response.status(), 401, "{server:?}: a repeated webhook-id is refused");

        let mut junk = signed("msg_1", &ours());
        junk.webhook_signature = format!("v1,{} v2,x junk", "A".repeat(8 * 1024));
        assert_eq!(post_signed(address, &junk, ours()).await.0, 401, "{server:?}");

        let not_an_event = b"{\"hello\":\"world\"}".to_vec();
        assert_eq!(
            post_signed(address, &signed("msg_5", &not_an_event), not_an_event).await,
            (400, "not a Yoco event".into()),
            "{server:?}"
        );

        // A signed delivery, but not POSTed.
        let headers = signed("msg_6", &ours());
        let mut request = reqwest::Client::new().put(&url).body(ours());
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 405, "{server:?}");
        assert_eq!(response.headers()["allow"], "POST", "{server:?}");

        assert!(recorder.calls().is_empty(), "{server:?}");
    }
}

#[tokio::test]
async fn a_failed_delivery_is_retried_and_concurrent_copies_reach_the_service_once() {
    for server in SERVERS {
        let (address, recorder) = serve(server, 256 * 1024).await;

        // The inner service's own answer goes back to Yoco, and the claim is released.
        recorder.fail_next.store(1, Ordering::SeqCst);
        assert_eq!(
            post_signed(address, &signed("msg_1", &ours()), ours()).await,
            (500, "database down".into()),
            "{server:?}"
        );
        assert_eq!(
            post_signed(address, &signed("msg_1", &ours()), ours()).await,
            (200, "recorded".into()),
            "{server:?}"
        );

        let attempts = (0..10).map(|_| {
            let headers = signed("msg_2", &ours());
            tokio::spawn(async move { post_signed(address, &headers, ours()).await.0 })
        });
        let mut statuses = Vec::new();
        for attempt in attempts {
            statuses.push(attempt.await.unwrap());
        }
        assert!(
            statuses.iter().all(|status| [200, 409].contains(status)),
            "{server:?}: {statuses:?}"
        );
        assert_eq!(recorder.calls(), ["msg_1", "msg_1", "msg_2"], "{server:?}");
        assert_eq!(recorder.processed_ids(), ["msg_1", "msg_2"], "{server:?}");
    }
}

/// Sends raw bytes and reads the status line of the answer.
async fn raw_status(address: SocketAddr, request: &[u8], then_close: bool) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    if then_close {
        stream.shutdown().await.unwrap();
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[tokio::test]
async fn oversized_bodies_are_refused_while_reading() {
    for server in SERVERS {
        let limit = 4 * 1024;
        let (address, recorder) = serve(server, limit).await;
        let big = SampleEvent::payment_succeeded()
            .checkout_id("ch_mine")
            .metadata("notes", "x".repeat(limit))
            .to_json();

        assert_eq!(
            post_signed(address, &signed("msg_1", &big), big.clone()).await.0,
            413,
            "{server:?}: with content-length"
        );

        // Chunked, without content-length: refused once the limit is passed.
        let headers = signed("msg_2", &big);
        let mut request = format!(
            "POST /webhooks/yoco HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\
             webhook-id: {}\r\nwebhook-timestamp: {}\r\nwebhook-signature: {}\r\n\r\n",
            headers.webhook_id, headers.webhook_timestamp, headers.webhook_signature
        )
        .into_bytes();
        for _ in 0..(limit / 1024 + 2) {
            request.extend_from_slice(format!("400\r\n{}\r\n", "x".repeat(1024)).as_bytes());
        }
        assert_eq!(raw_status(address, &request, false).await, Some(413), "{server:?}");

        // An upload that stops half-way is not processed and does not bring the server down.
        let partial = format!(
            "POST /webhooks/yoco HTTP/1.1\r\nhost: localhost\r\ncontent-length: 2000\r\n\
             webhook-id: {}\r\nwebhook-timestamp: {}\r\nwebhook-signature: {}\r\n\r\n{{\"id\":",
            headers.webhook_id, headers.webhook_timestamp, headers.webhook_signature
        );
        let _ = raw_status(address, partial.as_bytes(), true).await;
        assert_eq!(
            post_signed(address, &signed("msg_3", &ours()), ours()).await,
            (200, "recorded".into()),
            "{server:?}"
        );
        assert_eq!(recorder.calls(), ["msg_3"], "{server:?}");
    }
}

//! The Poem extractor, through the shared adapter suite, and its `Data`
//! configuration: a missing configuration, a handler taking `Result` (which
//! sees each rejection's cause), the pipeline's own 405, and an ignored
//! event answered 200 without the handler.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use poem::listener::TcpAcceptor;
use poem::web::Data;
use poem::{Endpoint, EndpointExt, Response, Route, Server, handler};
use yoco_webhooks::Processed;
use yoco_webhooks::VerifyError;
use yoco_webhooks::testing::SampleEvent;
use yoco_webhooks::{Answered, YocoRejection, YocoWebhook, YocoWebhookConfig};

use crate::adapters::{
    Recorder, adapter_suite, configured_suite, ours, post_signed, post_with_only_an_id, receiver, signed,
};

/// How many times the handler's body ran, whatever it then did.
#[derive(Clone, Default)]
struct Calls(Arc<AtomicUsize>);

#[handler]
async fn handle(recorder: Data<&Recorder>, calls: Data<&Calls>, webhook: YocoWebhook) -> Processed<(), &'static str> {
    calls.0.0.fetch_add(1, Ordering::SeqCst);
    webhook
        .process(|delivery| async move { recorder.handle(delivery).await })
        .await
}

/// Serves `app` on an ephemeral port of 127.0.0.1.
async fn serve_app(app: impl Endpoint + 'static) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let acceptor = TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(async move { Server::new_with_acceptor(acceptor).run(app).await.unwrap() });
    address
}

/// Serves the webhook route, for every method, with `config` in its data
/// when there is one; the handler's recorder and call count.
async fn serve_with(config: Option<YocoWebhookConfig>) -> (SocketAddr, Recorder, Calls) {
    let (recorder, calls) = (Recorder::default(), Calls::default());
    let route = handle.data(recorder.clone()).data(calls.clone());
    let address = match config {
        Some(config) => serve_app(Route::new().at("/webhooks/yoco", route.data(config))).await,
        None => serve_app(Route::new().at("/webhooks/yoco", route)).await,
    };
    (address, recorder, calls)
}

async fn serve(limit: usize) -> (SocketAddr, Recorder) {
    serve_config(YocoWebhookConfig::new(receiver()).body_limit(limit)).await
}

async fn serve_config(config: YocoWebhookConfig) -> (SocketAddr, Recorder) {
    let (address, recorder, _) = serve_with(Some(config)).await;
    (address, recorder)
}

adapter_suite!(serve);
configured_suite!(serve_config);

#[tokio::test]
async fn without_a_config_the_extractor_answers_500_and_processes_nothing() {
    let (address, recorder, calls) = serve_with(None).await;
    let (status, text) = post_signed(address, &signed("msg_1", &ours()), ours()).await;
    assert_eq!(status, 500);
    assert!(text.contains("YocoWebhookConfig"), "{text}");
    assert!(recorder.processed().is_empty());
    assert_eq!(calls.0.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn ignored_events_answer_200_without_the_handler_and_other_methods_405() {
    let (address, recorder, calls) = serve_with(Some(YocoWebhookConfig::new(receiver()))).await;
    let foreign = SampleEvent::payment_succeeded().checkout_id("ch_theirs").to_json();
    let mut request = reqwest::Client::new()
        .post(format!("http://{address}/webhooks/yoco"))
        .body(foreign.clone());
    for (name, value) in signed("msg_1", &foreign).pairs() {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(response.text().await.unwrap(), "ignored: foreign checkout");
    assert_eq!(calls.0.load(Ordering::SeqCst), 0, "the handler did not run");

    // The route takes every method: the pipeline answers the others.
    let response = reqwest::get(format!("http://{address}/webhooks/yoco")).await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(response.text().await.unwrap(), "method not allowed");

    assert_eq!(
        post_signed(address, &signed("msg_2", &ours()), ours()).await,
        (200, "processed".into())
    );
    assert_eq!(calls.0.load(Ordering::SeqCst), 1);
    assert_eq!(recorder.processed(), vec!["msg_2".to_owned()]);
}

/// A handler taking `Result` sees the rejection and its cause, and may
/// answer with it.
#[handler]
async fn logging_handler(webhook: poem::Result<YocoWebhook>) -> poem::Result<Response> {
    match webhook {
        Ok(webhook) => {
            let processed: Processed<(), &'static str> = webhook.process(|_| async { Ok(()) }).await;
            Ok(Response::builder().body(processed.text()))
        }
        Err(err) => match err.downcast_ref::<Answered>() {
            Some(Answered::Refused(YocoRejection::NotAuthentic(cause @ VerifyError::MissingHeader { .. }))) => {
                Ok(Response::builder()
                    .status(poem::http::StatusCode::UNAUTHORIZED)
                    .body(format!("cause: {cause}")))
            }
            _ => Err(err),
        },
    }
}

#[tokio::test]
async fn a_handler_taking_result_sees_the_rejection() {
    let config = YocoWebhookConfig::new(receiver());
    let address = serve_app(Route::new().at("/webhooks/yoco", logging_handler.data(config))).await;
    let response = post_with_only_an_id(address).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.text().await.unwrap(),
        "cause: missing `webhook-timestamp` header"
    );
    // Handed back to Poem, the error answers as the rejection does.
    let mut forged = signed("msg_1", &ours());
    forged.webhook_signature = "v1,AAAA".into();
    assert_eq!(
        post_signed(address, &forged, ours()).await,
        (401, "webhook not authentic".into())
    );
    let foreign = SampleEvent::payment_succeeded().checkout_id("ch_theirs").to_json();
    assert_eq!(
        post_signed(address, &signed("msg_2", &foreign), foreign).await,
        (200, "ignored: foreign checkout".into())
    );
    assert_eq!(
        post_signed(address, &signed("msg_1", &ours()), ours()).await,
        (200, "processed".into())
    );
}

//! The actix-web extractor, through the shared adapter suite, and its
//! `app_data` configuration: `Data` or plain, the error hook (which sees
//! each rejection's cause), and a missing configuration.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use actix_web::error::InternalError;
use actix_web::{App, HttpResponse, HttpServer, web};
use yoco_webhooks::Processed;
use yoco_webhooks::VerifyError;
use yoco_webhooks::{Answered, YocoRejection, YocoWebhook, YocoWebhookConfig, actix_web::YocoErrorHandler};

use crate::adapters::{
    Recorder, adapter_suite, configured_suite, ours, post_signed, post_with_only_an_id, receiver, signed,
};

async fn handler(recorder: web::Data<Recorder>, webhook: YocoWebhook) -> Processed<(), &'static str> {
    webhook
        .process(|delivery| async move { recorder.handle(delivery).await })
        .await
}

/// Serves `app` on an ephemeral port, on its own thread and actix system.
async fn serve_app<F, T>(app: F) -> SocketAddr
where
    F: Fn() -> App<T> + Send + Clone + 'static,
    T: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
{
    let (bound, address) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(app)
                .workers(2)
                .disable_signals()
                .bind(("127.0.0.1", 0))
                .unwrap();
            bound.send(server.addrs()[0]).unwrap();
            server.run().await.unwrap();
        });
    });
    address.await.unwrap()
}

/// Serves the webhook route with `config` in `app_data` (as it is, or in
/// `web::Data`), recording what the handler processes.
async fn serve_with<C: Clone + Send + 'static>(config: C) -> (SocketAddr, Recorder) {
    let recorder = Recorder::default();
    let data = web::Data::new(recorder.clone());
    let address = serve_app(move || {
        App::new()
            .app_data(config.clone())
            .app_data(data.clone())
            .route("/webhooks/yoco", web::post().to(handler))
    })
    .await;
    (address, recorder)
}

async fn serve(limit: usize) -> (SocketAddr, Recorder) {
    serve_with(YocoWebhookConfig::new(receiver()).body_limit(limit)).await
}

adapter_suite!(serve);
configured_suite!(serve_with);

#[tokio::test]
async fn the_config_may_be_data_and_the_error_hook_sees_the_cause() {
    let causes = Arc::new(Mutex::new(Vec::new()));
    let hook = {
        let causes = Arc::clone(&causes);
        YocoErrorHandler::new(move |rejection, _request| {
            causes.lock().unwrap().push(match &rejection {
                Answered::Refused(YocoRejection::NotAuthentic(VerifyError::MissingHeader { name })) => {
                    format!("missing {name}")
                }
                Answered::Refused(YocoRejection::NotAuthentic(_)) => "not authentic".to_owned(),
                Answered::Refused(YocoRejection::NotAnEvent(_)) => "not an event".to_owned(),
                other => format!("other: {other}"),
            });
            let response = HttpResponse::build(rejection.status().try_into().unwrap()).body("custom");
            InternalError::from_response(rejection, response).into()
        })
    };
    let recorder = Recorder::default();
    let data = web::Data::new(recorder.clone());
    let config = web::Data::new(YocoWebhookConfig::new(receiver()));
    let address = serve_app(move || {
        App::new()
            .app_data(config.clone())
            .app_data(hook.clone())
            .app_data(data.clone())
            .route("/webhooks/yoco", web::post().to(handler))
    })
    .await;

    let mut forged = signed("msg_1", &ours());
    forged.webhook_signature = "v1,AAAA".into();
    assert_eq!(post_signed(address, &forged, ours()).await, (401, "custom".into()));
    let response = post_with_only_an_id(address).await;
    assert_eq!(response.status(), 401);
    let not_an_event = b"[]".to_vec();
    assert_eq!(
        post_signed(address, &signed("msg_2", &not_an_event), not_an_event).await,
        (400, "custom".into())
    );
    assert_eq!(
        *causes.lock().unwrap(),
        ["not authentic", "missing webhook-timestamp", "not an event"]
    );
    assert_eq!(
        post_signed(address, &signed("msg_1", &ours()), ours()).await,
        (200, "processed".into()),
        "the hook is not called for a delivery to process"
    );
    assert_eq!(causes.lock().unwrap().len(), 3);
    assert_eq!(recorder.processed(), vec!["msg_1".to_owned()]);
}

#[tokio::test]
async fn without_a_config_the_extractor_answers_500_and_processes_nothing() {
    // Something else in app_data, but not the webhook configuration.
    let (address, recorder) = serve_with(web::Data::new(0_u8)).await;
    let (status, text) = post_signed(address, &signed("msg_1", &ours()), ours()).await;
    assert_eq!(status, 500);
    assert!(text.contains("YocoWebhookConfig"), "{text}");
    assert!(recorder.processed().is_empty());
}

/// A handler taking `Result` sees the rejection and its cause, and may
/// answer with it.
async fn logging_handler(webhook: Result<YocoWebhook, actix_web::Error>) -> HttpResponse {
    match webhook {
        Ok(webhook) => {
            let processed: Processed<(), &'static str> = webhook.process(|_| async { Ok(()) }).await;
            HttpResponse::Ok().body(processed.text())
        }
        Err(err) => match err.as_error::<Answered>() {
            Some(Answered::Refused(YocoRejection::NotAuthentic(cause))) => {
                HttpResponse::Unauthorized().body(format!("cause: {cause}"))
            }
            Some(other) => HttpResponse::build(other.status().try_into().unwrap()).body(other.body_text()),
            None => err.error_response(),
        },
    }
}

#[tokio::test]
async fn a_handler_taking_result_sees_the_rejection() {
    let config = YocoWebhookConfig::new(receiver());
    let address = serve_app(move || {
        App::new()
            .app_data(config.clone())
            .route("/webhooks/yoco", web::post().to(logging_handler))
    })
    .await;
    let response = post_with_only_an_id(address).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.text().await.unwrap(),
        "cause: missing `webhook-timestamp` header"
    );
    assert_eq!(
        post_signed(address, &signed("msg_1", &ours()), ours()).await,
        (200, "processed".into())
    );
}

//! The Rocket data guard, through the shared adapter suite, beside the
//! merchant's own managed state; Rocket's own data limit, and a missing
//! configuration.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;

use rocket::config::{LogLevel, Shutdown};
use rocket::data::{Limits, ToByteUnit};
use rocket::fairing::AdHoc;
use rocket::{Build, Rocket, State, routes};
use yoco_webhooks::Processed;
use yoco_webhooks::testing::SampleEvent;
use yoco_webhooks::{Answered, YocoWebhook, YocoWebhookConfig, rocket::LIMIT_NAME};

use crate::adapters::{Recorder, adapter_suite, configured_suite, ours, post_signed, receiver, signed};

#[rocket::post("/webhooks/yoco", data = "<webhook>")]
async fn handler(
    recorder: &State<Recorder>,
    webhook: Result<YocoWebhook, Answered>,
) -> Result<Processed<(), &'static str>, Answered> {
    Ok(webhook?.process(|delivery| recorder.handle(delivery)).await)
}

/// Rocket on 127.0.0.1, on a port of its choosing, quiet, with `limits`.
fn rocket(limits: Limits) -> Rocket<Build> {
    rocket::custom(rocket::Config {
        address: Ipv4Addr::LOCALHOST.into(),
        port: 0,
        log_level: LogLevel::Off,
        limits,
        shutdown: Shutdown {
            ctrlc: false,
            #[cfg(unix)]
            signals: HashSet::new(),
            ..Shutdown::default()
        },
        ..rocket::Config::debug_default()
    })
}

/// Launches `rocket`, and gives the address it listens on once it does.
async fn launch(rocket: Rocket<Build>) -> SocketAddr {
    let (bound, port) = tokio::sync::oneshot::channel();
    let bound = Mutex::new(Some(bound));
    let rocket = rocket.attach(AdHoc::on_liftoff("port", move |rocket| {
        let port = rocket.config().port;
        Box::pin(async move { bound.lock().unwrap().take().unwrap().send(port).unwrap() })
    }));
    tokio::spawn(rocket.launch());
    SocketAddr::from((Ipv4Addr::LOCALHOST, port.await.unwrap()))
}

/// Launches `rocket` with the webhook route recording into `recorder`.
async fn launch_recording(rocket: Rocket<Build>, recorder: &Recorder) -> SocketAddr {
    launch(rocket.manage(recorder.clone()).mount("/", routes![handler])).await
}

async fn serve(limit: usize) -> (SocketAddr, Recorder) {
    serve_config(YocoWebhookConfig::new(receiver()).body_limit(limit)).await
}

async fn serve_config(config: YocoWebhookConfig) -> (SocketAddr, Recorder) {
    let recorder = Recorder::default();
    let address = launch_recording(rocket(Limits::default()).manage(config), &recorder).await;
    (address, recorder)
}

adapter_suite!(serve);
configured_suite!(serve_config);

/// Rocket's own `yoco-webhook` limit bounds the read when it is below the
/// configured limit: an operator's 1 KiB cap holds for this guard too.
#[tokio::test]
async fn rockets_own_smaller_limit_applies() {
    let recorder = Recorder::default();
    let limits = Limits::default().limit(LIMIT_NAME, 1.kibibytes());
    let config = YocoWebhookConfig::new(receiver());
    let address = launch_recording(rocket(limits).manage(config), &recorder).await;
    crate::adapters::a_smaller_server_limit_of_1_kib_applies(address, recorder).await;
}

#[tokio::test]
async fn without_a_managed_config_the_guard_answers_500_and_processes_nothing() {
    let recorder = Recorder::default();
    let address = launch_recording(rocket(Limits::default()), &recorder).await;
    let (status, text) = post_signed(address, &signed("msg_1", &ours()), ours()).await;
    assert_eq!(status, 500);
    assert!(text.contains("YocoWebhookConfig"), "{text}");
    assert!(recorder.processed().is_empty());
}

#[rocket::post("/webhooks/yoco", data = "<webhook>")]
async fn bare_handler(webhook: YocoWebhook) -> Processed<(), &'static str> {
    webhook.process(|_| async { Ok(()) }).await
}

/// A handler taking a bare `YocoWebhook` leaves rejections to Rocket's
/// catchers: the bodies are Rocket's, the statuses still the crate's.
#[tokio::test]
async fn a_bare_guard_keeps_the_statuses() {
    let rocket = rocket(Limits::default())
        .manage(YocoWebhookConfig::new(receiver()))
        .mount("/", routes![bare_handler]);
    let address = launch(rocket).await;
    let foreign = SampleEvent::payment_succeeded().checkout_id("ch_theirs").to_json();
    assert_eq!(post_signed(address, &signed("msg_1", &foreign), foreign).await.0, 200);
    let mut forged = signed("msg_2", &ours());
    forged.webhook_signature = "v1,AAAA".into();
    assert_eq!(post_signed(address, &forged, ours()).await.0, 401);
    assert_eq!(
        post_signed(address, &signed("msg_3", &ours()), ours()).await,
        (200, "processed".into())
    );
}

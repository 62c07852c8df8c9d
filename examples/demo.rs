//! A zero-setup tour over real HTTP: starts the `axum_receiver` example on a
//! loopback port with a generated secret, posts signed sample Yoco events to
//! it (ours, someone else's, a retry of the same delivery, a tampered one, a
//! stale one, ...) and prints each answer. The receiver prints one JSON line
//! per event it processed.
//!
//! Run with `cargo run --example demo`.

use base64::Engine as _;
use time::{Duration, OffsetDateTime};
use yoco_webhooks::testing::{SampleEvent, Signer};
use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret};

// The receiver a merchant would run; its own `main` is not used here.
#[allow(dead_code)]
#[path = "axum_receiver.rs"]
mod axum_receiver;

const OUR_CHECKOUT: &str = "ch_DemoOurs4Jq8TfY2wLk7Vh3Nz";

/// How a sample request is spoiled after Yoco signed it.
#[derive(Clone, Copy)]
enum Tamper {
    None,
    Body,
    Signature,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // What Yoco returns once at registration. Generated here and never
    // printed: a secret does not belong in a log.
    let mut key = [0_u8; 32];
    getrandom::fill(&mut key).map_err(|err| format!("no randomness for the demo secret: {err}"))?;
    let secret = WebhookSecret::parse(&format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    ))?;

    let receiver = Receiver::new(Verifier::new(secret.clone()), CheckoutFilter::checkout(OUR_CHECKOUT));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks/yoco", listener.local_addr()?);
    let app = axum_receiver::app(yoco_webhooks::YocoWebhookConfig::new(receiver));
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("Receiver on {url}, processing checkout {OUR_CHECKOUT} only\n");

    let yoco = Signer::new(secret);
    let http = reqwest::Client::new();
    let now = OffsetDateTime::now_utc();
    let ours = SampleEvent::payment_succeeded().checkout_id(OUR_CHECKOUT).to_json();
    let cases: Vec<(&str, &str, Vec<u8>, OffsetDateTime, Tamper)> = vec![
        ("payment for our checkout", "msg_demo1", ours.clone(), now, Tamper::None),
        (
            "Yoco's retry of that same delivery",
            "msg_demo1",
            ours.clone(),
            now,
            Tamper::None,
        ),
        (
            "refund for our checkout",
            "msg_demo2",
            SampleEvent::refund_succeeded()
                .checkout_id(OUR_CHECKOUT)
                .amount(400)
                .to_json(),
            now,
            Tamper::None,
        ),
        (
            "payment.failed (a type this crate does not know)",
            "msg_demo3",
            SampleEvent::other("payment.failed").checkout_id(OUR_CHECKOUT).to_json(),
            now,
            Tamper::None,
        ),
        (
            "payment for another integration's checkout",
            "msg_demo4",
            SampleEvent::payment_succeeded()
                .checkout_id("ch_SomeoneElse9pQ2")
                .to_json(),
            now,
            Tamper::None,
        ),
        (
            "our payment, amount changed after signing",
            "msg_demo5",
            ours.clone(),
            now,
            Tamper::Body,
        ),
        (
            "our payment, with a made-up signature",
            "msg_demo6",
            ours.clone(),
            now,
            Tamper::Signature,
        ),
        (
            "our payment, signed 10 minutes ago (a replay)",
            "msg_demo7",
            ours,
            now - Duration::minutes(10),
            Tamper::None,
        ),
        (
            "authentic, but not a Yoco event",
            "msg_demo8",
            b"{\"hello\":\"world\"}".to_vec(),
            now,
            Tamper::None,
        ),
    ];

    for (number, (what, webhook_id, body, signed_at, tamper)) in cases.into_iter().enumerate() {
        let mut headers = yoco.sign(webhook_id, signed_at, &body);
        let body = match tamper {
            Tamper::None => body,
            Tamper::Body => String::from_utf8(body)?
                .replace("\"amount\":900", "\"amount\":1")
                .into_bytes(),
            Tamper::Signature => {
                headers.webhook_signature = "v1,bm90IHRoZSByaWdodCBzaWduYXR1cmUgYXQgYWxsIQ==".to_owned();
                body
            }
        };
        let mut request = http.post(&url).header("content-type", "application/json").body(body);
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let answer = response.text().await?;
        println!("{:>2}. {what:<48} {webhook_id} -> {status} {answer}", number + 1);
    }
    Ok(())
}

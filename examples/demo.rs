//! A zero-setup tour: generates a webhook secret, signs sample Yoco events
//! the way Yoco does (ours, someone else's, tampered, stale, of an unknown
//! type) and prints what the receiver decides for each.
//!
//! Run with `cargo run --example demo`.

use base64::Engine as _;
use time::{Duration, OffsetDateTime};
use yoco_webhooks::testing::{SampleEvent, Signer};
use yoco_webhooks::{CheckoutFilter, EventData, Outcome, Receiver, Verifier, WebhookSecret};

const OUR_CHECKOUT: &str = "ch_DemoOurs4Jq8TfY2wLk7Vh3Nz";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // What Yoco returns once when the endpoint is registered. Generated here,
    // and never printed: a secret does not belong in a log.
    let mut key = [0_u8; 32];
    getrandom::fill(&mut key).map_err(|err| format!("no randomness for the demo secret: {err}"))?;
    let secret = WebhookSecret::parse(&format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    ))?;

    let yoco = Signer::new(secret.clone());
    let receiver = Receiver::new(Verifier::new(secret), CheckoutFilter::checkout(OUR_CHECKOUT));
    let now = OffsetDateTime::now_utc();

    println!(
        "Receiver: {:?}, processing checkout {OUR_CHECKOUT} only\n",
        receiver.verifier()
    );

    let ours = SampleEvent::payment_succeeded().checkout_id(OUR_CHECKOUT).to_json();
    let cases: Vec<(&str, Vec<u8>, OffsetDateTime, Tamper)> = vec![
        ("payment for our checkout", ours.clone(), now, Tamper::None),
        (
            "refund for our checkout",
            SampleEvent::refund_succeeded()
                .checkout_id(OUR_CHECKOUT)
                .amount(400)
                .to_json(),
            now,
            Tamper::None,
        ),
        (
            "payment.failed (a type this crate does not know)",
            SampleEvent::other("payment.failed").checkout_id(OUR_CHECKOUT).to_json(),
            now,
            Tamper::None,
        ),
        (
            "payment for another integration's checkout",
            SampleEvent::payment_succeeded()
                .checkout_id("ch_SomeoneElse9pQ2")
                .to_json(),
            now,
            Tamper::None,
        ),
        (
            "in-store payment (no checkout id)",
            SampleEvent::payment_succeeded().without_checkout_id().to_json(),
            now,
            Tamper::None,
        ),
        (
            "our payment, amount changed after signing",
            ours.clone(),
            now,
            Tamper::Body,
        ),
        (
            "our payment, signed 10 minutes ago (replay)",
            ours.clone(),
            now - Duration::minutes(10),
            Tamper::None,
        ),
        ("our payment, with a made-up signature", ours, now, Tamper::Signature),
        (
            "authentic, but not a Yoco event",
            b"{\"hello\":\"world\"}".to_vec(),
            now,
            Tamper::None,
        ),
    ];

    for (number, (what, body, signed_at, tamper)) in cases.into_iter().enumerate() {
        let webhook_id = format!("msg_demo{number}");
        let mut headers = yoco.sign(&webhook_id, signed_at, &body);
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
        let answer = match receiver.receive_at(&headers, &body, now) {
            Ok(Outcome::Process(delivery)) => format!("200 process  {}", describe(&delivery.event.data)),
            Ok(Outcome::Ignore(ignored)) => format!("200 ignore   {} ({})", ignored.event_type, ignored.reason),
            Err(rejection) => format!("{} reject   {rejection}", rejection.status()),
        };
        println!("{:>2}. {what:<50} -> {answer}", number + 1);
    }
    Ok(())
}

/// How a sample request is spoiled after Yoco signed it.
enum Tamper {
    None,
    Body,
    Signature,
}

fn describe(data: &EventData) -> String {
    match data {
        EventData::PaymentSucceeded(payment) => format!(
            "payment {} of {} {} ({})",
            payment.id,
            minor_units(payment.amount),
            payment.currency,
            payment.mode
        ),
        EventData::RefundSucceeded(refund) | EventData::RefundFailed(refund) => format!(
            "refund {} of {} {} for {}, {}",
            refund.id,
            minor_units(refund.amount),
            refund.currency,
            refund.payment_id,
            refund.status
        ),
        EventData::Other(other) => format!("{} event, kept with its raw payload", other.event_type),
        _ => "an event of a newer kind".to_owned(),
    }
}

/// 900 -> "9.00".
fn minor_units(amount: i64) -> String {
    format!("{}.{:02}", amount / 100, (amount % 100).abs())
}

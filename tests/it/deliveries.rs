//! Deliveries for the queue tests (the PostgreSQL inbox's, SQS's): the
//! test receiver, a delivery signed now, as stored, and posted as Yoco posts.

use std::time::Duration;

use yoco_webhooks::testing::{SampleEvent, Signer, TEST_SECRET};
use yoco_webhooks::{CheckoutFilter, Outcome, Receiver, StoredDelivery, Verifier, WebhookSecret};

pub(crate) fn receiver() -> Receiver {
    Receiver::new(
        Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
        CheckoutFilter::any(),
    )
}

pub(crate) fn signed(id: &str) -> (Vec<u8>, Vec<(String, String)>) {
    let body = SampleEvent::payment_succeeded()
        .event_id(&format!("evt_{id}"))
        .checkout_id("ch_shop")
        .to_json();
    let headers = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_now(id, &body);
    let pairs = headers
        .pairs()
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    (body, pairs)
}

/// A verified delivery `id`, as the receiver stores it.
pub(crate) fn stored(id: &str) -> StoredDelivery {
    let (body, headers) = signed(id);
    match receiver().receive(&headers, &body).unwrap() {
        Outcome::Process(delivery) => delivery.to_stored(),
        Outcome::Ignore(ignored) => panic!("{ignored:?}"),
    }
}

/// Posts delivery `id` to `url` as Yoco would: (status, text).
pub(crate) async fn post(client: &reqwest::Client, url: &str, id: &str) -> (u16, String) {
    let (body, headers) = signed(id);
    let mut request = client.post(url).timeout(Duration::from_secs(15)).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("answered within Yoco's wait");
    (response.status().as_u16(), response.text().await.unwrap())
}

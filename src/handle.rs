//! The whole protocol for one request, for any server built on the `http`
//! types that has no adapter here: verify, filter, process at most once, and
//! the response to send.

use std::future::Future;

use crate::dedup::{Deduplicator, IdempotencyStore, Processed, process_delivery};
use crate::receive::{Answer, Delivery, Receiver};

/// Handles one webhook request whose body the server has read (with a size
/// limit: Yoco's events are a few kilobytes). Runs `handler` for a delivery
/// to process, at most once per `webhook-id` when `dedup` is given, and
/// returns the response to send, with a short text body.
///
/// ```
/// use yoco_webhooks::dedup::{Deduplicator, MemoryStore};
/// use yoco_webhooks::{CheckoutFilter, Receiver, Verifier, WebhookSecret, handle_request};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
/// let receiver = Receiver::new(Verifier::new(secret), CheckoutFilter::any());
/// let once = Deduplicator::new(MemoryStore::default());
/// let (parts, body) = http::Request::post("/webhooks/yoco").body(b"{}".to_vec()).unwrap().into_parts();
/// let response = handle_request(&receiver, Some(&once), &parts, &body, |_delivery| async { Ok::<(), ()>(()) }).await;
/// assert_eq!(response.status(), 401); // unsigned
/// # });
/// ```
pub async fn handle_request<S, F, Fut, T, E>(
    receiver: &Receiver,
    dedup: Option<&Deduplicator<S>>,
    parts: &http::request::Parts,
    body: &[u8],
    handler: F,
) -> http::Response<&'static str>
where
    S: IdempotencyStore,
    F: FnOnce(Delivery) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    if parts.method != http::Method::POST {
        let mut refused = response(Answer::new(405, "method not allowed"));
        refused
            .headers_mut()
            .insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
        return refused;
    }
    let delivery = match Answer::unless_processing(receiver.receive(&parts.headers, body)) {
        Ok(delivery) => delivery,
        Err(answer) => return response(answer),
    };
    let processed: Processed<T, E> = process_delivery(dedup, delivery, handler).await;
    response(Answer::new(processed.status(), processed.text()))
}

fn response(answer: Answer) -> http::Response<&'static str> {
    let mut response = http::Response::new(answer.text());
    *response.status_mut() =
        http::StatusCode::from_u16(answer.status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::MemoryStore;
    use crate::filter::CheckoutFilter;
    use crate::secret::WebhookSecret;
    use crate::testing::{SampleEvent, Signer, TEST_SECRET};
    use crate::verify::Verifier;

    fn request(method: http::Method, id: &str, body: &[u8]) -> http::request::Parts {
        let headers = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_now(id, body);
        let (parts, ()) = http::Request::builder()
            .method(method)
            .uri("/webhooks/yoco")
            .body(())
            .unwrap()
            .into_parts();
        let mut parts = parts;
        parts.headers = headers.to_header_map().unwrap();
        parts
    }

    #[test]
    fn answers_every_case_like_the_adapters() {
        let receiver = Receiver::new(
            Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
            CheckoutFilter::checkout("ch_mine"),
        );
        let once = Deduplicator::new(MemoryStore::default());
        let ours = SampleEvent::payment_succeeded().checkout_id("ch_mine").to_json();
        let theirs = SampleEvent::payment_succeeded().checkout_id("ch_theirs").to_json();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let answer = |method, id: &str, body: &[u8], fail: bool| {
            let parts = request(method, id, body);
            let response = runtime.block_on(handle_request(&receiver, Some(&once), &parts, body, |_| async move {
                if fail { Err("down") } else { Ok(()) }
            }));
            (response.status().as_u16(), *response.body())
        };
        assert_eq!(answer(http::Method::POST, "m1", &ours, true), (500, "handler failed"));
        assert_eq!(answer(http::Method::POST, "m1", &ours, false), (200, "processed"));
        assert_eq!(answer(http::Method::POST, "m1", &ours, false), (200, "duplicate"));
        assert_eq!(
            answer(http::Method::POST, "m2", &theirs, false),
            (200, "ignored: foreign checkout")
        );
        assert_eq!(
            answer(http::Method::POST, "m3", b"[]", false),
            (400, "not a Yoco event")
        );
        assert_eq!(
            answer(http::Method::GET, "m4", &ours, false),
            (405, "method not allowed")
        );
        let get = request(http::Method::GET, "m4", &ours);
        let refused = runtime.block_on(handle_request(&receiver, Some(&once), &get, &ours, |_| async {
            Ok::<(), ()>(())
        }));
        assert_eq!(refused.headers()[http::header::ALLOW], "POST");
        let mut forged = request(http::Method::POST, "m5", &ours);
        forged
            .headers
            .insert("webhook-signature", http::HeaderValue::from_static("v1,AAAA"));
        let response = runtime.block_on(handle_request(
            &receiver,
            None::<&Deduplicator<MemoryStore>>,
            &forged,
            &ours,
            |_| async { Ok::<(), ()>(()) },
        ));
        assert_eq!(
            (response.status().as_u16(), *response.body()),
            (401, "webhook not authentic")
        );
    }
}

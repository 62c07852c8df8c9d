//! The service: one request through the whole protocol, the inner service
//! called only for a delivery to process.

use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::Entry;
use http::{HeaderMap, HeaderName, Request, Response};
use http_body_util::Full;
use tower_service::Service;

use super::body::YocoResponseBody;
use super::future::ResponseFuture;
use crate::dedup::process::Processed;
use crate::headers::{SVIX_SIGNATURE, WEBHOOK_SIGNATURE};
use crate::server::YocoWebhookConfig;
use crate::server::answer::Answer;
use crate::server::body::read_limited;

/// The signature header under either name, checked to be valid names when
/// compiling.
const SIGNATURES: [HeaderName; 2] = [
    HeaderName::from_static(WEBHOOK_SIGNATURE),
    HeaderName::from_static(SVIX_SIGNATURE),
];

/// A service that receives Yoco deliveries for `Inner`; made by
/// [`YocoWebhookLayer`](super::YocoWebhookLayer). See [the module docs](super).
#[derive(Debug)]
pub struct YocoWebhookService<Inner> {
    inner: Inner,
    config: YocoWebhookConfig,
}

impl<Inner: Clone> Clone for YocoWebhookService<Inner> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
        }
    }
}

impl<Inner> YocoWebhookService<Inner> {
    pub(super) fn new(inner: Inner, config: YocoWebhookConfig) -> Self {
        Self { inner, config }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &Inner {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut Inner {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> Inner {
        self.inner
    }
}

impl<Inner, ReqBody, ResBody> Service<Request<ReqBody>> for YocoWebhookService<Inner>
where
    Inner: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone + Send + 'static,
    Inner::Future: Send,
    Inner::Error: Send,
    ReqBody: http_body::Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResBody: Send + 'static,
{
    type Response = Response<YocoResponseBody<ResBody>>;
    type Error = Inner::Error;
    type Future = ResponseFuture<ResBody, Inner::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        mark_sensitive(request.headers_mut());
        // The service that was polled ready goes into the future; its clone
        // stays here for the next `poll_ready`.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::new(receive(self.config.clone(), inner, request))
    }
}

/// Why a delivery was not done: the inner service answered non-2xx, or
/// failed. Either way the claim is released, so that Yoco retries.
enum NotDone<R, E> {
    Answered(R),
    Failed(E),
}

/// What the span logs of it; the inner service's error itself goes back to
/// the server, which logs it as it logs any service's.
impl<B, E> std::fmt::Display for NotDone<Response<B>, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotDone::Answered(response) => write!(f, "the inner service answered {}", response.status()),
            NotDone::Failed(_) => f.write_str("the inner service failed"),
        }
    }
}

async fn receive<Inner, ReqBody, ResBody>(
    config: YocoWebhookConfig,
    mut inner: Inner,
    request: Request<ReqBody>,
) -> Result<Response<YocoResponseBody<ResBody>>, Inner::Error>
where
    Inner: Service<Request<Full<Bytes>>, Response = Response<ResBody>>,
    ReqBody: http_body::Body,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut parts, body) = request.into_parts();
    let read = |limit| read_limited(body, limit);
    let webhook = match config.extract(parts.method.as_str(), &parts.headers, read).await {
        Ok(webhook) => webhook,
        Err(rejection) => return Ok(answer(rejection.answer())),
    };
    let body = webhook.body().clone();
    let processed = webhook
        .process(|delivery| async move {
            parts.extensions.insert(delivery);
            match inner.call(Request::from_parts(parts, Full::new(body))).await {
                Ok(response) if response.status().is_success() => Ok(response),
                Ok(response) => Err(NotDone::Answered(response)),
                Err(err) => Err(NotDone::Failed(err)),
            }
        })
        .await;
    match processed {
        Processed::Done { value: response, .. } | Processed::Failed(NotDone::Answered(response)) => {
            Ok(response.map(YocoResponseBody::inner))
        }
        Processed::Failed(NotDone::Failed(err)) => Err(err),
        other => Ok(answer(other.answer())),
    }
}

/// The layer's own answer, as plain text.
fn answer<B>(answer: Answer) -> Response<YocoResponseBody<B>> {
    answer.to_response().map(YocoResponseBody::answer)
}

/// Marks every `webhook-signature` and `svix-signature` value sensitive, so
/// that the inner service's logging and tracing layers do not print it.
fn mark_sensitive(headers: &mut HeaderMap) {
    for name in SIGNATURES {
        if let Entry::Occupied(mut entry) = headers.entry(name) {
            for value in entry.iter_mut() {
                value.set_sensitive(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use ::tower::{ServiceExt as _, service_fn};
    use http_body_util::BodyExt as _;
    use tower_layer::Layer as _;

    use super::*;
    use crate::server::tower::YocoWebhookLayer;
    use http::header::CONTENT_TYPE;

    use crate::dedup::{Claim, ClaimToken, IdempotencyStore, StoreError};
    use crate::filter::CheckoutFilter;
    use crate::ids::WebhookId;
    use crate::receive::{Delivery, Receiver};
    use crate::secret::WebhookSecret;
    use crate::server::YocoWebhookConfig;
    use crate::testing::{SampleEvent, Signer, TEST_SECRET};
    use crate::verify::Verifier;

    fn config() -> YocoWebhookConfig {
        let receiver = Receiver::new(
            Verifier::new(WebhookSecret::parse(TEST_SECRET).unwrap()),
            CheckoutFilter::any(),
        );
        YocoWebhookConfig::new(receiver)
    }

    fn layer() -> YocoWebhookLayer {
        YocoWebhookLayer::new(config())
    }

    fn delivery(id: &str) -> Request<Full<Bytes>> {
        let body = SampleEvent::payment_succeeded().to_json();
        let headers = Signer::new(WebhookSecret::parse(TEST_SECRET).unwrap()).sign_now(id, &body);
        let mut request = Request::post("/webhooks/yoco")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        *request.headers_mut() = headers.to_header_map().unwrap();
        request
    }

    /// An inner service that counts its calls and fails the first `failures`.
    fn inner(
        calls: &Arc<AtomicUsize>,
        failures: usize,
    ) -> impl Service<Request<Full<Bytes>>, Response = Response<String>, Error = &'static str, Future: Send>
    + Clone
    + Send
    + 'static {
        let calls = Arc::clone(calls);
        service_fn(move |request: Request<Full<Bytes>>| {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            let has_delivery = request.extensions().get::<Delivery>().is_some();
            async move {
                assert!(has_delivery);
                if call < failures {
                    Err("connection to the database lost")
                } else {
                    Ok(Response::new("recorded".to_owned()))
                }
            }
        })
    }

    async fn status_and_text<B>(response: Response<YocoResponseBody<B>>) -> (u16, Bytes)
    where
        B: http_body::Body<Data = Bytes, Error: std::fmt::Debug>,
    {
        let status = response.status().as_u16();
        (status, response.into_body().collect().await.unwrap().to_bytes())
    }

    #[tokio::test]
    async fn an_inner_error_is_passed_on_and_releases_the_claim() {
        let calls = Arc::new(AtomicUsize::new(0));
        let service = layer().layer(inner(&calls, 1));
        assert_eq!(
            service.clone().oneshot(delivery("msg_1")).await.unwrap_err(),
            "connection to the database lost"
        );
        let response = service.clone().oneshot(delivery("msg_1")).await.unwrap();
        assert_eq!(status_and_text(response).await, (200, Bytes::from("recorded")));
        let response = service.oneshot(delivery("msg_1")).await.unwrap();
        assert_eq!(status_and_text(response).await, (200, Bytes::from("duplicate")));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    /// A store that cannot answer.
    struct Down;

    impl IdempotencyStore for Down {
        async fn claim(&self, _: &WebhookId, _: Duration) -> Result<Claim, StoreError> {
            Err(StoreError::new("connection refused"))
        }

        async fn complete(&self, _: &ClaimToken, _: Duration) -> Result<(), StoreError> {
            Err(StoreError::new("connection refused"))
        }

        async fn release(&self, _: &ClaimToken) -> Result<(), StoreError> {
            Err(StoreError::new("connection refused"))
        }
    }

    #[tokio::test]
    async fn a_store_that_cannot_answer_is_a_503_without_calling_the_service() {
        let calls = Arc::new(AtomicUsize::new(0));
        let service = YocoWebhookLayer::new(config().with_store(Down)).layer(inner(&calls, 0));
        let response = service.oneshot(delivery("msg_1")).await.unwrap();
        assert_eq!(status_and_text(response).await, (503, Bytes::from("store unavailable")));
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn without_dedup_every_retry_reaches_the_service() {
        let calls = Arc::new(AtomicUsize::new(0));
        let service = YocoWebhookLayer::new(config().without_dedup()).layer(inner(&calls, 0));
        for _ in 0..2 {
            let response = service.clone().oneshot(delivery("msg_1")).await.unwrap();
            assert_eq!(status_and_text(response).await, (200, Bytes::from("recorded")));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_layers_answers_are_plain_text() {
        let calls = Arc::new(AtomicUsize::new(0));
        let mut unsigned = delivery("msg_1");
        unsigned.headers_mut().remove("webhook-signature");
        let response = layer().layer(inner(&calls, 0)).oneshot(unsigned).await.unwrap();
        assert_eq!(response.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
        assert_eq!(
            status_and_text(response).await,
            (401, Bytes::from("webhook not authentic"))
        );
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}

//! The response future of [`YocoWebhookService`](super::YocoWebhookService).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;

use super::body::YocoResponseBody;

/// What the service answers.
type Answered<B, E> = Result<Response<YocoResponseBody<B>>, E>;

/// The future of one request through the layer: it reads the body, receives
/// the delivery, claims it and calls the inner service.
///
/// Boxed inside: the deduplication store's futures have no names to spell
/// out an unboxed state machine with.
pub struct ResponseFuture<B, E> {
    inner: Pin<Box<dyn Future<Output = Answered<B, E>> + Send>>,
}

impl<B, E> ResponseFuture<B, E> {
    pub(super) fn new(future: impl Future<Output = Answered<B, E>> + Send + 'static) -> Self {
        Self {
            inner: Box::pin(future),
        }
    }
}

impl<B, E> Future for ResponseFuture<B, E> {
    type Output = Answered<B, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<B, E> fmt::Debug for ResponseFuture<B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

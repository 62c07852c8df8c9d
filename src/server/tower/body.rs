//! The response body: the layer's own short answer, or the inner service's
//! body passed through untouched.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

pin_project_lite::pin_project! {
    /// The body of a [`YocoWebhookService`](super::YocoWebhookService)
    /// response: the inner service's body, or the layer's short answer
    /// text. It works wherever the inner body does (hyper, axum's
    /// `IntoResponse`), with no bound on the inner body's type.
    #[derive(Debug)]
    pub struct YocoResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProjection]
    #[derive(Debug)]
    enum Kind<B> {
        // The text, until it has been sent.
        Answer { text: Option<Bytes> },
        Inner { #[pin] body: B },
    }
}

impl<B> YocoResponseBody<B> {
    /// The layer's answer.
    pub(super) fn answer(text: &'static str) -> Self {
        Self {
            kind: Kind::Answer {
                text: Some(Bytes::from_static(text.as_bytes())),
            },
        }
    }

    /// The inner service's body.
    pub(super) fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }
}

impl<B: Body<Data = Bytes>> Body for YocoResponseBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProjection::Answer { text } => Poll::Ready(text.take().map(|text| Ok(Frame::data(text)))),
            KindProjection::Inner { body } => body.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Answer { text } => text.is_none(),
            Kind::Inner { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Answer { text } => SizeHint::with_exact(text.as_ref().map_or(0, |text| text.len() as u64)),
            Kind::Inner { body } => body.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::{BodyExt as _, Empty, Full};

    use super::*;

    /// The announced length and the bytes.
    fn collect<B: Body<Data = Bytes>>(body: B) -> (u64, Bytes)
    where
        B::Error: std::fmt::Debug,
    {
        let exact = body.size_hint().exact().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let bytes = runtime.block_on(body.collect()).unwrap().to_bytes();
        (exact, bytes)
    }

    #[test]
    fn answers_its_text_once_with_an_exact_length() {
        let body = YocoResponseBody::<Empty<Bytes>>::answer("duplicate");
        assert!(!body.is_end_stream());
        assert_eq!(collect(body), (9, Bytes::from_static(b"duplicate")));
    }

    #[test]
    fn passes_the_inner_body_through() {
        let body = YocoResponseBody::inner(Full::new(Bytes::from_static(b"{\"ok\":true}")));
        assert_eq!(collect(body), (11, Bytes::from_static(b"{\"ok\":true}")));
        assert!(YocoResponseBody::inner(Empty::<Bytes>::new()).is_end_stream());
    }
}

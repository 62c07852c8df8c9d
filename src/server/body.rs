//! Reading an `http-body` body whole with a size limit (axum, tower, Poem).

use bytes::Bytes;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};

use super::rejection::{BoxError, YocoRejection};

/// Reads the whole body, refusing it as soon as it passes `limit`, or a
/// limit the server set on the body itself (axum's `DefaultBodyLimit`);
/// [`YocoRejection::BodyUnreadable`] if it could not be read.
#[allow(
    dead_code,
    reason = "used by each integration on an http-body server, behind its own feature"
)]
pub(crate) async fn read_limited<B>(body: B, limit: usize) -> Result<Bytes, YocoRejection>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if over_a_limit(&*err) => Err(YocoRejection::BodyTooLarge),
        Err(err) => Err(YocoRejection::BodyUnreadable(err)),
    }
}

/// Whether `err`, or an error it wraps, is a body limit's.
fn over_a_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if err.is::<LengthLimitError>() {
            return true;
        }
        cause = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http_body_util::Full;

    use super::*;

    fn run<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// A body whose connection broke: reading it fails.
    struct Broken;

    impl http_body::Body for Broken {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
            Poll::Ready(Some(Err(std::io::ErrorKind::ConnectionReset.into())))
        }
    }

    #[test]
    fn reads_up_to_the_limit_and_refuses_past_it() {
        assert_eq!(
            run(read_limited(Full::new(Bytes::from_static(b"1234")), 4)).unwrap(),
            Bytes::from_static(b"1234")
        );
        assert!(matches!(
            run(read_limited(Full::new(Bytes::from_static(b"12345")), 4)),
            Err(YocoRejection::BodyTooLarge)
        ));
    }

    /// An error wrapping another, as `axum::Error` wraps its body's.
    #[derive(Debug)]
    struct Wrapped(BoxError);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "body error: {}", self.0)
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.0)
        }
    }

    #[test]
    fn a_limit_set_on_the_body_itself_is_honoured() {
        // As axum's `DefaultBodyLimit` does: the body is limited already,
        // and its error wraps the limit's.
        let inner = Limited::new(Full::new(Bytes::from_static(b"12345")), 2).map_err(Wrapped);
        assert!(matches!(run(read_limited(inner, 4)), Err(YocoRejection::BodyTooLarge)));
    }

    #[test]
    fn a_broken_body_is_unreadable() {
        let Err(YocoRejection::BodyUnreadable(err)) = run(read_limited(Broken, 4)) else {
            panic!("not unreadable")
        };
        assert!(err.to_string().contains("reset"), "{err}");
    }
}

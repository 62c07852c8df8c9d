//! Reading a request body whole, with a size limit: what the adapters do
//! before anything is verified.

#[cfg(any(feature = "axum", feature = "tower"))]
use bytes::Bytes;
#[cfg(any(feature = "axum", feature = "tower"))]
use http_body_util::{BodyExt as _, LengthLimitError, Limited};

use crate::receive::Answer;

/// The largest body read by default: Yoco's events are a few kilobytes.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// The answer to a body over the limit.
pub(crate) const TOO_LARGE: Answer = Answer::new(413, "body too large");
/// The answer to a body that could not be read to its end (the client went
/// away, or sent a broken chunk).
pub(crate) const UNREADABLE: Answer = Answer::new(400, "body could not be read");

/// Refuses a body whose declared `content-length` is over `limit`, before
/// any of it is read. A length that does not parse is left to the limit
/// applied while reading.
pub(crate) fn check_declared_length(content_length: Option<&[u8]>, limit: usize) -> Result<(), Answer> {
    let declared = content_length
        .and_then(|value| std::str::from_utf8(value).ok())
        .and_then(|value| value.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => Err(TOO_LARGE),
        _ => Ok(()),
    }
}

/// Reads the whole body, refusing it with 413 as soon as it passes `limit`:
/// from `content-length` before reading, or while reading a body without
/// one; 400 if the body could not be read.
#[cfg(any(feature = "axum", feature = "tower"))]
pub(crate) async fn read_limited<B>(headers: &http::HeaderMap, body: B, limit: usize) -> Result<Bytes, Answer>
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let content_length = headers.get(http::header::CONTENT_LENGTH).map(|value| value.as_bytes());
    check_declared_length(content_length, limit)?;
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(TOO_LARGE),
        Err(_) => Err(UNREADABLE),
    }
}

#[cfg(test)]
#[cfg(any(feature = "axum", feature = "tower"))]
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
        let headers = http::HeaderMap::new();
        assert_eq!(
            run(read_limited(&headers, Full::new(Bytes::from_static(b"1234")), 4)),
            Ok(Bytes::from_static(b"1234"))
        );
        assert_eq!(
            run(read_limited(&headers, Full::new(Bytes::from_static(b"12345")), 4)),
            Err(Answer::new(413, "body too large"))
        );
    }

    #[test]
    fn refuses_a_declared_length_over_the_limit_before_reading() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from_static("5"));
        // Broken, so a 400 would show that it was read.
        assert_eq!(
            run(read_limited(&headers, Broken, 4)),
            Err(Answer::new(413, "body too large"))
        );
        headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from_static("junk"));
        assert_eq!(
            run(read_limited(&headers, Full::new(Bytes::from_static(b"{}")), 4)),
            Ok(Bytes::from_static(b"{}"))
        );
    }

    #[test]
    fn a_broken_body_is_a_bad_request() {
        assert_eq!(
            run(read_limited(&http::HeaderMap::new(), Broken, 4)),
            Err(Answer::new(400, "body could not be read"))
        );
    }
}

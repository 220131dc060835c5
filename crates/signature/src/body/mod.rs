//! Streaming request-body adapters: aws-chunked decoding (api-reference-2.md
//! §3.3), the `x-amz-content-sha256` check (§3.2 step 7) and
//! `x-amz-checksum-*` checks (§3.6).
//!
//! Each adapter wraps a [`ByteStream`] and returns one, never holding more
//! than the piece it is working on: a body may be many GiB. A failure is
//! yielded as an `Err` item wrapping a [`SignatureError`]
//! ([`SignatureError::from_io`] recovers it), after which the stream ends.
//! **A stream ends cleanly only when everything checked out**, and each
//! adapter holds back the most recent output piece until the next one is
//! ready or the final checks pass, so a consumer never sees the complete
//! body before an error that concerns it.

mod checksum;
mod chunked;

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};

use crate::error::SignatureError;

pub use checksum::{
    Checksum, ChecksumHasher, ChecksumValue, check_checksum_headers, check_payload_sha256,
    compute_checksum,
};
pub use chunked::decode_aws_chunked;

/// A request or response body as the API streams it.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// A pass over a body: input pieces in, verified output pieces out.
pub(crate) trait BodyTransform: Send + Unpin + 'static {
    /// Consumes one input piece, appending output pieces to `out`.
    fn push(&mut self, input: Bytes, out: &mut VecDeque<Bytes>) -> Result<(), SignatureError>;

    /// Runs at the end of the input; `Ok` means the body is complete and valid.
    fn finish(&mut self) -> Result<(), SignatureError>;
}

/// Wraps `body` so that `transform` sees every piece; see the module docs.
pub(crate) fn transform_stream<T: BodyTransform>(body: ByteStream, transform: T) -> ByteStream {
    Transformed {
        inner: body,
        transform,
        ready: VecDeque::new(),
        phase: Phase::Running,
    }
    .boxed()
}

/// A stream that yields `err` and ends.
pub(crate) fn error_stream(err: SignatureError) -> ByteStream {
    futures::stream::once(async move { Err(err.into_io()) }).boxed()
}

enum Phase {
    /// Reading input; the last piece in `ready` is held back.
    Running,
    /// Input ended and checks passed: release `ready`, then end.
    Verified,
    /// Ended (after an error, or after `Verified` drained).
    Done,
}

struct Transformed<T> {
    inner: ByteStream,
    transform: T,
    ready: VecDeque<Bytes>,
    phase: Phase,
}

impl<T: BodyTransform> Transformed<T> {
    fn fail(&mut self, err: std::io::Error) -> Poll<Option<std::io::Result<Bytes>>> {
        self.ready.clear();
        self.phase = Phase::Done;
        Poll::Ready(Some(Err(err)))
    }
}

impl<T: BodyTransform> Stream for Transformed<T> {
    type Item = std::io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match this.phase {
                Phase::Done => return Poll::Ready(None),
                Phase::Verified => {
                    if let Some(piece) = this.ready.pop_front() {
                        return Poll::Ready(Some(Ok(piece)));
                    }
                    this.phase = Phase::Done;
                }
                Phase::Running => {
                    if this.ready.len() > 1 {
                        return Poll::Ready(this.ready.pop_front().map(Ok));
                    }
                    match this.inner.poll_next_unpin(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Some(Ok(input))) => {
                            if let Err(e) = this.transform.push(input, &mut this.ready) {
                                return this.fail(e.into_io());
                            }
                        }
                        Poll::Ready(Some(Err(e))) => return this.fail(e),
                        Poll::Ready(None) => match this.transform.finish() {
                            Ok(()) => this.phase = Phase::Verified,
                            Err(e) => return this.fail(e.into_io()),
                        },
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts bytes; fails at the end when told to.
    struct Count {
        seen: usize,
        fail: bool,
    }

    impl BodyTransform for Count {
        fn push(&mut self, input: Bytes, out: &mut VecDeque<Bytes>) -> Result<(), SignatureError> {
            self.seen += input.len();
            out.push_back(input);
            Ok(())
        }

        fn finish(&mut self) -> Result<(), SignatureError> {
            if self.fail {
                return Err(SignatureError::invalid_request("told to fail"));
            }
            Ok(())
        }
    }

    fn pieces(n: usize) -> ByteStream {
        futures::stream::iter((0..n).map(|i| Ok(Bytes::from(vec![i as u8; 3])))).boxed()
    }

    #[test]
    fn passes_everything_through_when_checks_pass() {
        let out = futures::executor::block_on(
            transform_stream(
                pieces(4),
                Count {
                    seen: 0,
                    fail: false,
                },
            )
            .collect::<Vec<_>>(),
        );
        assert_eq!(out.len(), 4);
        assert!(out.iter().all(Result::is_ok));
    }

    #[test]
    fn holds_back_the_last_piece_when_the_final_check_fails() {
        let out = futures::executor::block_on(
            transform_stream(
                pieces(4),
                Count {
                    seen: 0,
                    fail: true,
                },
            )
            .collect::<Vec<_>>(),
        );
        assert_eq!(out.len(), 4, "three pieces, then the error");
        assert!(out[..3].iter().all(Result::is_ok));
        let err = out[3].as_ref().unwrap_err();
        assert!(matches!(
            SignatureError::from_io(err),
            Some(SignatureError::InvalidRequest { .. })
        ));
    }

    #[test]
    fn passes_inner_errors_through_and_stops() {
        let inner = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"a")),
            Err(std::io::Error::other("network")),
            Ok(Bytes::from_static(b"b")),
        ])
        .boxed();
        let out = futures::executor::block_on(
            transform_stream(
                inner,
                Count {
                    seen: 0,
                    fail: false,
                },
            )
            .collect::<Vec<_>>(),
        );
        assert_eq!(out.len(), 1);
        assert!(SignatureError::from_io(out[0].as_ref().unwrap_err()).is_none());
    }
}

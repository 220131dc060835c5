//! Reading the rest of a request body that a handler did not read, before answering.
//!
//! A handler that refuses a request early (a missing upload, a bad signature) drops the body
//! unread. hyper then stops reading and closes the connection while the client may still be
//! sending; the client's TCP stack can receive a reset before it reads the answer, and the SDK
//! reports a dropped connection instead of the error (seen with the Python SDK's `upload_part`
//! to an aborted upload). So the outer middleware gives each request a body that, when dropped
//! unfinished, hands the rest back ([`Leftover`]); the middleware reads and discards up to
//! [`DRAIN_LIMIT`] bytes of it before the answer goes out, and beyond that answers with
//! `Connection: close`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use http_body_util::BodyExt;

/// The most unread body bytes read and discarded before answering.
pub const DRAIN_LIMIT: u64 = 64 << 20;
/// The longest time spent doing so.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Where an unfinished body lands when its handler drops it.
#[derive(Debug, Clone, Default)]
pub struct Leftover(Arc<Mutex<Option<Unread>>>);

/// A body dropped before its end.
#[derive(Debug)]
struct Unread {
    body: Body,
    /// The handler had started reading it (so a client waiting for `100 Continue` got it).
    started: bool,
}

impl Leftover {
    /// Wraps `body` so that dropping it unfinished leaves it here.
    pub fn wrap(&self, body: Body) -> Body {
        Body::new(Returning {
            inner: Some(body),
            started: false,
            slot: self.clone(),
        })
    }

    /// Reads and discards what is left, within the limits; `false` if some is still unread
    /// (the connection must then close). A body never started of a request that asked for
    /// `100 Continue` is not read: its client has not sent it and will not.
    pub async fn drain(&self, expects_continue: bool) -> bool {
        let unread = self.0.lock().ok().and_then(|mut slot| slot.take());
        let Some(Unread { mut body, started }) = unread else {
            return true;
        };
        if expects_continue && !started {
            return false;
        }
        let read = async {
            let mut total = 0u64;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { return false };
                if let Some(data) = frame.data_ref() {
                    total += data.len() as u64;
                    if total > DRAIN_LIMIT {
                        return false;
                    }
                }
            }
            true
        };
        tokio::time::timeout(DRAIN_TIME, read)
            .await
            .unwrap_or(false)
    }
}

/// A body that gives itself back to its [`Leftover`] when dropped before its end.
struct Returning {
    inner: Option<Body>,
    started: bool,
    slot: Leftover,
}

impl HttpBody for Returning {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        self.started = true;
        match self.inner.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| http_body::SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        if let Some(body) = self.inner.take()
            && !body.is_end_stream()
            && let Ok(mut slot) = self.slot.0.lock()
        {
            *slot = Some(Unread {
                body,
                started: self.started,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unread_bodies_come_back_and_are_drained() {
        let leftover = Leftover::default();
        let body = leftover.wrap(Body::from(vec![7u8; 1000]));
        drop(body);
        assert!(leftover.drain(false).await);
        assert!(leftover.0.lock().unwrap().is_none());

        let leftover = Leftover::default();
        let body = leftover.wrap(Body::from("read"));
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(bytes.as_ref(), b"read");
        assert!(
            leftover.0.lock().unwrap().is_none(),
            "a finished body is not kept"
        );

        let leftover = Leftover::default();
        drop(leftover.wrap(Body::from("never sent")));
        assert!(
            !leftover.drain(true).await,
            "100-continue: not read, connection closes"
        );
    }
}

//! A bounded byte ring for a child's stderr.
//!
//! ffmpeg can print an unbounded amount of text (one warning per damaged packet), so
//! we keep only the newest bytes, like ab-av1 does: what explains a failure is almost
//! always at the end.

use std::collections::VecDeque;

use tokio::io::{AsyncRead, AsyncReadExt};

/// How many stderr bytes are kept (32 KiB, drop oldest).
pub(crate) const STDERR_TAIL_BYTES: usize = 32 * 1024;

/// Keeps the newest `cap` bytes pushed into it.
#[derive(Debug)]
pub(crate) struct TailBuffer {
    buf: VecDeque<u8>,
    cap: usize,
    truncated: bool,
}

impl TailBuffer {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            buf: VecDeque::with_capacity(cap.min(4096)),
            cap,
            truncated: false,
        }
    }

    /// Appends bytes, dropping the oldest ones beyond the capacity.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        let bytes = if bytes.len() > self.cap {
            self.truncated = true;
            &bytes[bytes.len() - self.cap..]
        } else {
            bytes
        };
        let overflow = (self.buf.len() + bytes.len()).saturating_sub(self.cap);
        if overflow > 0 {
            self.truncated = true;
            self.buf.drain(..overflow);
        }
        self.buf.extend(bytes);
    }

    /// The kept text, lossily decoded and trimmed. When older bytes were dropped the
    /// (probably partial) first line is dropped too and the text starts with `…`.
    pub(crate) fn into_string(self) -> String {
        let bytes: Vec<u8> = self.buf.into();
        let text = String::from_utf8_lossy(&bytes);
        let text = if self.truncated {
            match text.find('\n') {
                Some(pos) => format!("…{}", &text[pos + 1..]),
                None => format!("…{text}"),
            }
        } else {
            text.into_owned()
        };
        text.trim().to_owned()
    }
}

/// Reads `reader` to its end into a [`TailBuffer`] of [`STDERR_TAIL_BYTES`].
/// Read errors end the capture: the tail is diagnostic data, never worth failing a run.
pub(crate) async fn capture_tail<R: AsyncRead + Unpin>(mut reader: R) -> String {
    let mut tail = TailBuffer::new(STDERR_TAIL_BYTES);
    let mut chunk = [0u8; 8192];
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => tail.push(&chunk[..n]),
        }
    }
    tail.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_below_capacity() {
        let mut tail = TailBuffer::new(16);
        tail.push(b"hello\n");
        tail.push(b"world\n");
        assert_eq!(tail.into_string(), "hello\nworld");
    }

    #[test]
    fn drops_oldest_bytes_and_partial_first_line() {
        let mut tail = TailBuffer::new(12);
        tail.push(b"first line\n");
        tail.push(b"second\nthird\n");
        assert_eq!(tail.into_string(), "…third");
    }

    #[test]
    fn a_single_huge_push_keeps_its_end() {
        let mut tail = TailBuffer::new(4);
        tail.push(b"abcdefgh");
        assert_eq!(tail.into_string(), "…efgh");
    }

    #[tokio::test]
    async fn capture_reads_to_end() {
        let text = capture_tail(&b"Error opening input\n"[..]).await;
        assert_eq!(text, "Error opening input");
    }
}

//! Helpers shared by the SigV4 and body-adapter tests.

#![allow(dead_code)]

use bytes::Bytes;
use futures::StreamExt;
use reelflow_signature::v4::{scope, signing_key};
use reelflow_signature::{ByteStream, ChunkSigner, PayloadMode, SignatureError, V4Verified};

/// The AWS S3 example credentials (api-reference-2.md §3.5 b, c).
pub const S3_AK: &str = "AKIAIOSFODNN7EXAMPLE";
pub const S3_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
pub const S3_DATE: &str = "20130524T000000Z";
/// 2013-05-24T00:00:00Z.
pub const S3_NOW: i64 = 1_369_353_600;
/// SHA-256 of the empty string.
pub const E: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The secret lookup for the S3 example key only.
pub fn s3_lookup(ak: &str) -> Option<String> {
    (ak == S3_AK).then(|| S3_SECRET.to_owned())
}

/// Owned `(lower-case name, value)` headers.
pub fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned()))
        .collect()
}

/// The chain of the §3.5 c chunked upload: S3 example key, seed signature.
pub fn example_chunk_signer() -> ChunkSigner {
    let key = signing_key(S3_SECRET, "20130524", "us-east-1", "s3");
    ChunkSigner::new(
        key,
        S3_DATE,
        &scope("20130524", "us-east-1", "s3"),
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    )
}

/// A `V4Verified` as `verify_v4` would return it, for body tests.
pub fn verified(payload: PayloadMode) -> V4Verified {
    V4Verified {
        access_key_id: S3_AK.to_owned(),
        region: "us-east-1".to_owned(),
        service: "s3".to_owned(),
        presigned: false,
        payload,
        chunk_signer: example_chunk_signer(),
    }
}

/// `body` as a stream of pieces whose sizes cycle through `sizes` (each ≥ 1).
pub fn pieces(body: &[u8], sizes: &[usize]) -> ByteStream {
    let mut out = Vec::new();
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        out.push(Ok(Bytes::copy_from_slice(&rest[..n])));
        rest = &rest[n..];
        i += 1;
    }
    futures::stream::iter(out).boxed()
}

/// What a consumer saw: the data released, and the error that ended the
/// stream, if any (`None` means a clean end).
#[derive(Debug)]
pub struct Outcome {
    pub data: Vec<u8>,
    pub error: Option<std::io::Error>,
}

impl Outcome {
    /// The `SignatureError` that ended the stream; panics on a clean end.
    pub fn signature_error(&self) -> &SignatureError {
        let err = self
            .error
            .as_ref()
            .expect("the stream should end with an error");
        SignatureError::from_io(err).expect("the error should be a SignatureError")
    }

    /// The data of a clean end; panics on an error.
    pub fn ok(self) -> Vec<u8> {
        if let Some(err) = self.error {
            panic!("expected a clean end, got {err}");
        }
        self.data
    }
}

/// Drains `stream`, checking nothing follows an error.
pub fn drain(mut stream: ByteStream) -> Outcome {
    futures::executor::block_on(async move {
        let mut data = Vec::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(piece) => data.extend_from_slice(&piece),
                Err(err) => {
                    assert!(stream.next().await.is_none(), "items after an error");
                    return Outcome {
                        data,
                        error: Some(err),
                    };
                }
            }
        }
        Outcome { data, error: None }
    })
}

/// A tiny deterministic generator for split sizes.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

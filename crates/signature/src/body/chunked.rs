//! Decoding `Content-Encoding: aws-chunked` bodies (api-reference-2.md §3.3;
//! AWS sigv4-streaming and sigv4-streaming-trailers).
//!
//! Grammar, with every line ended by `\r\n`:
//!
//! ```text
//! body    = *chunk final trailer* "\r\n"
//! chunk   = hex-size [";chunk-signature=" 64hex] "\r\n" data "\r\n"
//! final   = "0" [";chunk-signature=" 64hex] "\r\n"
//! trailer = name ":" value "\r\n"      (the last may be x-amz-trailer-signature)
//! ```
//!
//! The decoder is a push parser: it accepts the body in pieces of any size
//! (a frame header may be split anywhere), releases data as slices of the
//! input without copying, and keeps at most one header or trailer line
//! ([`MAX_LINE`] bytes) buffered.

use std::collections::VecDeque;

use bytes::{Buf, Bytes};
use sha2::{Digest, Sha256};

use super::checksum::{Checksum, ChecksumHasher, verify_digest};
use super::{BodyTransform, ByteStream, error_stream, transform_stream};
use crate::error::SignatureError;
use crate::v4::{ChunkSigner, EMPTY_SHA256, PayloadMode, V4Verified};

/// The longest chunk-header or trailer line accepted, without its CRLF.
const MAX_LINE: usize = 4096;
const SIGNATURE_EXT: &str = "chunk-signature=";
const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";

/// Decodes an aws-chunked `body` into the payload bytes, verifying as it goes.
///
/// * Signed modes (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`): every
///   chunk signature, the final 0-size chunk's included, must continue the
///   chain seeded by the request signature; in the `-TRAILER` mode the
///   trailers must carry a valid `x-amz-trailer-signature`.
/// * `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: chunk headers are bare sizes.
/// * `declared_trailers` is the `x-amz-trailer` header split on commas:
///   exactly these trailers must arrive, each an `x-amz-checksum-*` that is
///   then checked against the decoded data (mismatch: `BadDigest`).
/// * `decoded_len` is `x-amz-decoded-content-length`, if sent: the decoded
///   total must equal it (`IncompleteBody` when short, `InvalidRequest` when
///   long, reported before the excess is released).
///
/// Failures end the stream with an `Err` item; see the [module docs](crate::body).
/// A `verified` whose payload mode is not `STREAMING-*` yields
/// `InvalidRequest` at once.
pub fn decode_aws_chunked(
    body: ByteStream,
    verified: &V4Verified,
    decoded_len: Option<u64>,
    declared_trailers: &[String],
) -> ByteStream {
    match Decoder::new(verified, decoded_len, declared_trailers) {
        Ok(decoder) => transform_stream(body, decoder),
        Err(err) => error_stream(err),
    }
}

/// Where the parser is in the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading `hex-size[;ext]` up to its line end.
    ChunkHeader,
    /// Inside chunk data, this many bytes to go.
    Data(u64),
    /// After chunk data, this many bytes of its `\r\n` matched.
    DataEnd(u8),
    /// After the final chunk: trailer lines until the empty line.
    Trailers,
    /// The closing empty line was read; nothing may follow.
    Done,
}

/// The signature chain of a signed body.
struct Chain {
    signer: ChunkSigner,
    /// The last verified signature (lower hex), at first the seed.
    previous: String,
    /// The signature the current chunk claims.
    claimed: Vec<u8>,
    /// SHA-256 of the current chunk so far.
    hasher: Sha256,
    /// Whether trailers are signed (`-TRAILER` mode).
    signed_trailers: bool,
}

pub(crate) struct Decoder {
    state: State,
    line: Vec<u8>,
    chain: Option<Chain>,
    /// Whether this mode has a trailer section.
    trailer_mode: bool,
    /// Declared checksum trailers, each with its running hasher.
    checksums: Vec<(Checksum, ChecksumHasher)>,
    /// Trailers received, as `(lower-case name, trimmed value)`.
    trailers: Vec<(String, String)>,
    trailer_signature: Option<Vec<u8>>,
    decoded_len: Option<u64>,
    decoded: u64,
    /// 1-based number of the current chunk, for messages.
    chunk: u64,
}

impl Decoder {
    pub(crate) fn new(
        verified: &V4Verified,
        decoded_len: Option<u64>,
        declared: &[String],
    ) -> Result<Self, SignatureError> {
        let (signed, trailer_mode) = match verified.payload {
            PayloadMode::StreamingSigned { trailer } => (true, trailer),
            PayloadMode::StreamingUnsignedTrailer => (false, true),
            PayloadMode::Sha256(_) | PayloadMode::Unsigned => {
                return Err(SignatureError::invalid_request(
                    "an aws-chunked body needs a STREAMING-* x-amz-content-sha256",
                ));
            }
        };
        let checksums = declared_checksums(declared)?;
        if !trailer_mode && !checksums.is_empty() {
            return Err(SignatureError::invalid_request(
                "x-amz-trailer needs a *-TRAILER x-amz-content-sha256",
            ));
        }
        let chain = signed.then(|| Chain {
            signer: verified.chunk_signer.clone(),
            previous: verified.chunk_signer.seed_signature().to_owned(),
            claimed: Vec::new(),
            hasher: Sha256::new(),
            signed_trailers: trailer_mode,
        });
        Ok(Self {
            state: State::ChunkHeader,
            line: Vec::new(),
            chain,
            trailer_mode,
            checksums,
            trailers: Vec::new(),
            trailer_signature: None,
            decoded_len,
            decoded: 0,
            chunk: 1,
        })
    }

    /// Consumes all of `input`, appending decoded data to `out`.
    fn feed(&mut self, mut input: Bytes, out: &mut VecDeque<Bytes>) -> Result<(), SignatureError> {
        while !input.is_empty() {
            match self.state {
                State::ChunkHeader | State::Trailers => {
                    if let Some(line) = self.take_line(&mut input)? {
                        if self.state == State::ChunkHeader {
                            self.chunk_header(&line)?;
                        } else {
                            self.trailer_line(&line)?;
                        }
                    }
                }
                State::Data(remaining) => {
                    let n = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
                    let data = input.split_to(n);
                    self.data(&data);
                    out.push_back(data);
                    self.state = State::Data(remaining - n as u64);
                    if remaining == n as u64 {
                        self.end_of_chunk_data()?;
                    }
                }
                State::DataEnd(seen) => {
                    let want = b"\r\n"[usize::from(seen)];
                    if input.get_u8() != want {
                        return Err(SignatureError::invalid_request(format!(
                            "aws-chunked chunk {}: data is not followed by CRLF (wrong chunk size?)",
                            self.chunk
                        )));
                    }
                    self.state = if seen == 0 {
                        State::DataEnd(1)
                    } else {
                        self.chunk += 1;
                        State::ChunkHeader
                    };
                }
                State::Done => {
                    return Err(SignatureError::invalid_request(
                        "data follows the end of the aws-chunked body",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Moves bytes up to a line end from `input` into `self.line`; returns
    /// the complete line without its CRLF once there is one.
    fn take_line(&mut self, input: &mut Bytes) -> Result<Option<Vec<u8>>, SignatureError> {
        let newline = input.iter().position(|&b| b == b'\n');
        let take = newline.map_or(input.len(), |i| i + 1);
        if self.line.len() + take > MAX_LINE + 2 {
            return Err(SignatureError::invalid_request(format!(
                "an aws-chunked header or trailer line is longer than {MAX_LINE} bytes"
            )));
        }
        self.line.extend_from_slice(&input.split_to(take));
        if newline.is_none() {
            return Ok(None);
        }
        let mut line = std::mem::take(&mut self.line);
        line.pop();
        if line.pop() != Some(b'\r') {
            return Err(SignatureError::invalid_request(
                "an aws-chunked header or trailer line does not end with CRLF",
            ));
        }
        Ok(Some(line))
    }

    fn chunk_header(&mut self, line: &[u8]) -> Result<(), SignatureError> {
        let chunk = self.chunk;
        let invalid = |what: &str| {
            SignatureError::invalid_request(format!("aws-chunked chunk {chunk}: {what}"))
        };
        let line = std::str::from_utf8(line).map_err(|_| invalid("the header is not text"))?;
        let (size, ext) = match line.split_once(';') {
            Some((size, ext)) => (size, Some(ext)),
            None => (line, None),
        };
        let size = parse_size(size).ok_or_else(|| invalid("the size is not 1 to 16 hex digits"))?;
        match (&mut self.chain, ext) {
            (Some(chain), Some(ext)) => {
                chain.claimed = ext
                    .strip_prefix(SIGNATURE_EXT)
                    .and_then(|hex| (hex.len() == 64).then(|| hex::decode(hex).ok()).flatten())
                    .ok_or_else(|| invalid("expected `;chunk-signature=<64 hex digits>`"))?;
                chain.hasher = Sha256::new();
            }
            (Some(_), None) => return Err(invalid("missing ;chunk-signature=")),
            (None, Some(_)) => {
                return Err(invalid("unexpected chunk extension in an unsigned body"));
            }
            (None, None) => {}
        }
        let total = self.decoded.checked_add(size);
        if let Some(limit) = self.decoded_len
            && total.is_none_or(|t| t > limit)
        {
            return Err(SignatureError::invalid_request(format!(
                "the aws-chunked body holds more than the {limit} bytes of x-amz-decoded-content-length"
            )));
        }
        if size == 0 {
            self.verify_chunk(EMPTY_SHA256)?;
            self.state = State::Trailers;
        } else {
            self.state = State::Data(size);
        }
        Ok(())
    }

    fn data(&mut self, data: &[u8]) {
        self.decoded += data.len() as u64;
        if let Some(chain) = &mut self.chain {
            chain.hasher.update(data);
        }
        for (_, hasher) in &mut self.checksums {
            hasher.update(data);
        }
    }

    fn end_of_chunk_data(&mut self) -> Result<(), SignatureError> {
        if let Some(chain) = &mut self.chain {
            let hash = hex::encode(std::mem::take(&mut chain.hasher).finalize());
            self.verify_chunk(&hash)?;
        }
        self.state = State::DataEnd(0);
        Ok(())
    }

    /// Checks the current chunk's claimed signature and advances the chain.
    fn verify_chunk(&mut self, chunk_sha256_hex: &str) -> Result<(), SignatureError> {
        let Some(chain) = &mut self.chain else {
            return Ok(());
        };
        if !chain
            .signer
            .chunk_matches(&chain.previous, chunk_sha256_hex, &chain.claimed)
        {
            return Err(SignatureError::StreamSignatureDoesNotMatch {
                part: format!("chunk {}", self.chunk),
            });
        }
        chain.previous = hex::encode(&chain.claimed);
        Ok(())
    }

    fn trailer_line(&mut self, line: &[u8]) -> Result<(), SignatureError> {
        if line.is_empty() {
            self.state = State::Done;
            return self.finish_trailers();
        }
        if !self.trailer_mode {
            return Err(SignatureError::invalid_request(
                "the final aws-chunked chunk must be followed by an empty line",
            ));
        }
        let invalid =
            |what: String| SignatureError::invalid_request(format!("aws-chunked trailer: {what}"));
        let line = std::str::from_utf8(line).map_err(|_| invalid("not text".to_owned()))?;
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("expected `name:value`, found {line:?}")))?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if self.trailer_signature.is_some() {
            return Err(invalid(format!("{name} follows {TRAILER_SIGNATURE}")));
        }
        if name == TRAILER_SIGNATURE {
            let signed = self.chain.as_ref().is_some_and(|c| c.signed_trailers);
            let signature = hex::decode(value).ok().filter(|s| s.len() == 32);
            match (signed, signature) {
                (true, Some(signature)) => self.trailer_signature = Some(signature),
                (true, None) => {
                    return Err(invalid(format!(
                        "{TRAILER_SIGNATURE} must be 64 hex digits"
                    )));
                }
                (false, _) => {
                    return Err(invalid(format!("{TRAILER_SIGNATURE} in an unsigned body")));
                }
            }
            return Ok(());
        }
        if !self.checksums.iter().any(|(c, _)| c.header_name() == name) {
            return Err(invalid(format!("{name} was not declared in x-amz-trailer")));
        }
        if self.trailers.iter().any(|(n, _)| *n == name) {
            return Err(invalid(format!("{name} appears more than once")));
        }
        self.trailers.push((name, value.to_owned()));
        Ok(())
    }

    /// At the closing empty line: trailer signature, trailer set, checksums, length.
    fn finish_trailers(&mut self) -> Result<(), SignatureError> {
        self.verify_trailer_signature()?;
        for (checksum, hasher) in std::mem::take(&mut self.checksums) {
            let name = checksum.header_name();
            let value = self
                .trailers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| {
                    SignatureError::invalid_request(format!(
                        "trailer {name} was declared in x-amz-trailer but not sent"
                    ))
                })?;
            let expected = checksum.decode_value(name, value)?;
            verify_digest(checksum, name, &expected, hasher)?;
        }
        match self.decoded_len {
            Some(limit) if self.decoded != limit => Err(SignatureError::incomplete(format!(
                "the aws-chunked body holds {} bytes but x-amz-decoded-content-length is {limit}",
                self.decoded
            ))),
            _ => Ok(()),
        }
    }

    fn verify_trailer_signature(&self) -> Result<(), SignatureError> {
        let Some(chain) = self.chain.as_ref().filter(|c| c.signed_trailers) else {
            return Ok(());
        };
        let Some(claimed) = &self.trailer_signature else {
            if self.trailers.is_empty() {
                return Ok(());
            }
            return Err(SignatureError::invalid_request(format!(
                "aws-chunked trailer: signed trailers need {TRAILER_SIGNATURE}"
            )));
        };
        let canonical: String = self
            .trailers
            .iter()
            .map(|(name, value)| format!("{name}:{value}\n"))
            .collect();
        if !chain
            .signer
            .trailer_matches(&chain.previous, canonical.as_bytes(), claimed)
        {
            return Err(SignatureError::StreamSignatureDoesNotMatch {
                part: "trailer".to_owned(),
            });
        }
        Ok(())
    }
}

impl BodyTransform for Decoder {
    fn push(&mut self, input: Bytes, out: &mut VecDeque<Bytes>) -> Result<(), SignatureError> {
        self.feed(input, out)
    }

    fn finish(&mut self) -> Result<(), SignatureError> {
        if self.state == State::Done {
            return Ok(());
        }
        Err(SignatureError::incomplete(format!(
            "the aws-chunked body ended early (in chunk {}, after {} decoded bytes)",
            self.chunk, self.decoded
        )))
    }
}

/// `x-amz-trailer` names to checksum hashers; anything but an
/// `x-amz-checksum-*` is refused.
fn declared_checksums(
    declared: &[String],
) -> Result<Vec<(Checksum, ChecksumHasher)>, SignatureError> {
    let mut checksums: Vec<(Checksum, ChecksumHasher)> = Vec::new();
    for name in declared.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let checksum = Checksum::from_header_name(name).ok_or_else(|| {
            SignatureError::invalid_request(format!(
                "x-amz-trailer names {name:?}; only x-amz-checksum-{{crc32,crc32c,crc64nvme,sha1,sha256}} trailers are supported"
            ))
        })?;
        if !checksums.iter().any(|(c, _)| *c == checksum) {
            checksums.push((checksum, checksum.hasher()));
        }
    }
    Ok(checksums)
}

fn parse_size(hex: &str) -> Option<u64> {
    let valid = (1..=16).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| u64::from_str_radix(hex, 16).ok()).flatten()
}

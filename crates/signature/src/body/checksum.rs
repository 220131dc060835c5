//! `x-amz-checksum-*` values and `x-amz-content-sha256` checks
//! (api-reference-2.md §3.2 step 7, §3.5 d, §3.6).
//!
//! A checksum value is the base64 of the big-endian digest: `hello world`
//! has CRC32 `DUoRhQ==`. These adapters do not depend on how the request
//! was signed, so they serve COS-signed requests too.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use crc_fast::{CrcAlgorithm, Digest as CrcDigest};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{BodyTransform, ByteStream, transform_stream};
use crate::error::SignatureError;

/// A checksum algorithm S3 clients send as `x-amz-checksum-<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Checksum {
    /// CRC-32/ISO-HDLC (the zlib CRC); boto3's default (§3.6).
    Crc32,
    /// CRC-32C (Castagnoli, iSCSI).
    Crc32c,
    /// CRC-64/NVME.
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl Checksum {
    /// Every supported algorithm.
    pub const ALL: [Self; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// The lower-case name: `crc32`, `crc32c`, `crc64nvme`, `sha1`, `sha256`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "crc32",
            Self::Crc32c => "crc32c",
            Self::Crc64Nvme => "crc64nvme",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }

    /// The header and trailer name, e.g. `x-amz-checksum-crc32`.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The algorithm from a header or trailer name (any case).
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.header_name().eq_ignore_ascii_case(name.trim()))
    }

    /// The algorithm from an `x-amz-sdk-checksum-algorithm` /
    /// `x-amz-checksum-algorithm` value such as `CRC32` (any case).
    pub fn from_algorithm_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// A streaming hasher for this algorithm.
    pub fn hasher(self) -> ChecksumHasher {
        ChecksumHasher::new(self)
    }

    /// The base64 checksum of `data`, as sent in `x-amz-checksum-*`.
    pub fn compute(self, data: &[u8]) -> String {
        let mut hasher = self.hasher();
        hasher.update(data);
        hasher.finalize_base64()
    }

    /// Decodes a base64 value sent for this algorithm; `InvalidRequest`
    /// naming `name` when it is not base64 of the right length.
    pub(crate) fn decode_value(self, name: &str, value: &str) -> Result<Vec<u8>, SignatureError> {
        match STANDARD.decode(value.trim()) {
            Ok(bytes) if bytes.len() == self.digest_len() => Ok(bytes),
            _ => Err(SignatureError::invalid_request(format!(
                "{name} must be the base64 of a {}-byte {} digest, found {value:?}",
                self.digest_len(),
                self.name()
            ))),
        }
    }
}

/// Computes one [`Checksum`] over data fed in pieces.
#[derive(Clone)]
pub struct ChecksumHasher {
    checksum: Checksum,
    state: State,
}

#[derive(Clone)]
enum State {
    Crc(CrcDigest),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl ChecksumHasher {
    /// A hasher with no data yet.
    pub fn new(checksum: Checksum) -> Self {
        let state = match checksum {
            Checksum::Crc32 => State::Crc(CrcDigest::new(CrcAlgorithm::Crc32IsoHdlc)),
            Checksum::Crc32c => State::Crc(CrcDigest::new(CrcAlgorithm::Crc32Iscsi)),
            Checksum::Crc64Nvme => State::Crc(CrcDigest::new(CrcAlgorithm::Crc64Nvme)),
            Checksum::Sha1 => State::Sha1(Sha1::new()),
            Checksum::Sha256 => State::Sha256(Sha256::new()),
        };
        Self { checksum, state }
    }

    /// The algorithm this hasher computes.
    pub fn checksum(&self) -> Checksum {
        self.checksum
    }

    /// Feeds more data.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc(digest) => digest.update(data),
            State::Sha1(digest) => digest.update(data),
            State::Sha256(digest) => digest.update(data),
        }
    }

    /// The big-endian digest bytes.
    pub fn finalize(self) -> Vec<u8> {
        match self.state {
            State::Crc(digest) if self.checksum == Checksum::Crc64Nvme => {
                digest.finalize().to_be_bytes().to_vec()
            }
            State::Crc(digest) => {
                let crc = u32::try_from(digest.finalize()).expect("a CRC-32 fits in 32 bits");
                crc.to_be_bytes().to_vec()
            }
            State::Sha1(digest) => digest.finalize().to_vec(),
            State::Sha256(digest) => digest.finalize().to_vec(),
        }
    }

    /// The base64 of [`finalize`](Self::finalize): the `x-amz-checksum-*` value.
    pub fn finalize_base64(self) -> String {
        STANDARD.encode(self.finalize())
    }
}

impl std::fmt::Debug for ChecksumHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChecksumHasher")
            .field("checksum", &self.checksum)
            .finish_non_exhaustive()
    }
}

/// Checks that `body` hashes to `expected_hex` (the `x-amz-content-sha256`
/// value, any case) while streaming it; the stream ends with
/// `Err(XAmzContentSha256Mismatch)` instead of a clean end on mismatch.
pub fn check_payload_sha256(body: ByteStream, expected_hex: String) -> ByteStream {
    transform_stream(
        body,
        PayloadSha256 {
            hasher: Sha256::new(),
            expected: expected_hex.trim().to_ascii_lowercase(),
        },
    )
}

struct PayloadSha256 {
    hasher: Sha256,
    expected: String,
}

impl BodyTransform for PayloadSha256 {
    fn push(&mut self, input: Bytes, out: &mut VecDeque<Bytes>) -> Result<(), SignatureError> {
        self.hasher.update(&input);
        push_piece(out, input);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SignatureError> {
        let computed = hex::encode(std::mem::take(&mut self.hasher).finalize());
        if computed != self.expected {
            return Err(SignatureError::XAmzContentSha256Mismatch {
                expected: self.expected.clone(),
                computed,
            });
        }
        Ok(())
    }
}

/// Verifies an `x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}` header,
/// if the request has one, against `body` at the end of the stream
/// (mismatch: `BadDigest`). Without such a header `body` is returned as is.
///
/// Errors now: `InvalidRequest` when a value is not base64 of the right
/// length or when more than one checksum header is present.
/// `x-amz-checksum-algorithm`, `-type` and `-mode` are not checksums and are
/// ignored.
pub fn check_checksum_headers(
    body: ByteStream,
    headers: &[(String, String)],
) -> Result<ByteStream, SignatureError> {
    let mut found: Option<(Checksum, &str)> = None;
    for (name, value) in headers {
        let Some(checksum) = Checksum::from_header_name(name) else {
            continue;
        };
        if let Some((first, first_value)) = found
            && (first != checksum || first_value != value)
        {
            return Err(SignatureError::invalid_request(format!(
                "expecting a single x-amz-checksum- header, found {} and {}",
                first.header_name(),
                checksum.header_name()
            )));
        }
        found = Some((checksum, value));
    }
    let Some((checksum, value)) = found else {
        return Ok(body);
    };
    let expected = checksum.decode_value(checksum.header_name(), value)?;
    Ok(transform_stream(
        body,
        ChecksumCheck {
            hasher: checksum.hasher(),
            expected,
        },
    ))
}

struct ChecksumCheck {
    hasher: ChecksumHasher,
    expected: Vec<u8>,
}

impl BodyTransform for ChecksumCheck {
    fn push(&mut self, input: Bytes, out: &mut VecDeque<Bytes>) -> Result<(), SignatureError> {
        self.hasher.update(&input);
        push_piece(out, input);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SignatureError> {
        let checksum = self.hasher.checksum();
        let hasher = std::mem::replace(&mut self.hasher, checksum.hasher());
        verify_digest(checksum, checksum.header_name(), &self.expected, hasher)
    }
}

/// Compares a finished hasher with the decoded value the client sent.
pub(crate) fn verify_digest(
    checksum: Checksum,
    name: &str,
    expected: &[u8],
    hasher: ChecksumHasher,
) -> Result<(), SignatureError> {
    let computed = hasher.finalize();
    if computed != expected {
        return Err(SignatureError::BadDigest {
            name: name.to_owned(),
            expected: STANDARD.encode(expected),
            computed: STANDARD.encode(&computed),
        });
    }
    debug_assert_eq!(computed.len(), checksum.digest_len());
    Ok(())
}

/// The checksum [`compute_checksum`] produces, readable once its stream
/// has ended cleanly.
#[derive(Debug, Clone, Default)]
pub struct ChecksumValue(Arc<Mutex<Option<String>>>);

impl ChecksumValue {
    /// The base64 checksum of the whole body; `None` until the stream ended
    /// cleanly.
    pub fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Passes `body` through while computing `checksum` over it, e.g. to echo
/// `x-amz-checksum-crc32` on a PUT response after an aws-chunked upload whose
/// trailer was verified.
pub fn compute_checksum(body: ByteStream, checksum: Checksum) -> (ByteStream, ChecksumValue) {
    let value = ChecksumValue::default();
    let tap = Tap {
        hasher: Some(checksum.hasher()),
        value: value.clone(),
    };
    (transform_stream(body, tap), value)
}

struct Tap {
    hasher: Option<ChecksumHasher>,
    value: ChecksumValue,
}

impl BodyTransform for Tap {
    fn push(&mut self, input: Bytes, out: &mut VecDeque<Bytes>) -> Result<(), SignatureError> {
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&input);
        }
        push_piece(out, input);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SignatureError> {
        if let Some(hasher) = self.hasher.take() {
            *self.value.0.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(hasher.finalize_base64());
        }
        Ok(())
    }
}

fn push_piece(out: &mut VecDeque<Bytes>, piece: Bytes) {
    if !piece.is_empty() {
        out.push_back(piece);
    }
}

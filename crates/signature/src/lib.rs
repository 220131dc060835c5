//! Request signatures: COS `q-sign-algorithm=sha1` and AWS SigV4 (S3), plus
//! the streaming body checks that go with them.
//!
//! * **COS q-sign** (below): [`verify`], [`sign`], [`presign`].
//! * **SigV4** (module [`v4`], api-reference-2.md §3.2–3.5): [`is_sigv4`]
//!   routes a request, [`verify_v4`] checks header auth and presigned URLs
//!   and returns a [`V4Verified`] with the access key id, the
//!   [`PayloadMode`] and the [`ChunkSigner`] for aws-chunked bodies.
//! * **Body adapters** (module [`body`], §3.3, §3.6): [`decode_aws_chunked`],
//!   [`check_payload_sha256`], [`check_checksum_headers`], [`compute_checksum`].
//!   They wrap a [`ByteStream`] and report failures as `Err` items that
//!   [`SignatureError::from_io`] turns back into a [`SignatureError`].
//!
//! Every error maps to an S3/COS code and HTTP status with
//! [`SignatureError::code`] and [`SignatureError::http_status`].
//!
//! # COS q-sign
//!
//! Tencent COS and CI clients (the Python, Go and Java SDKs, `coscmd`, the JS
//! SDK) authenticate every request with the "q-sign" scheme described in
//! section 2 of `ci-api-reference.md`. This crate implements that scheme as
//! pure functions: no I/O, no clock, no HTTP types. The HTTP layer extracts a
//! [`SignedRequest`] (method, decoded path, form-decoded query pairs, raw
//! headers), passes the current time and a secret lookup, and gets back the
//! [`VerifiedKey`] or a [`SignatureError`] with a stable COS error code.
//!
//! ## Design
//!
//! * **Rebuild, don't re-derive.** A verifier cannot know which parameters
//!   and headers a client chose to sign (the Python SDK leaves `?cancel`
//!   unsigned, Go signs every query parameter, Java signs none). So
//!   verification rebuilds `HttpParameters` and `HttpHeaders` from exactly
//!   the names listed in `q-url-param-list` / `q-header-list`, looking each
//!   value up case-insensitively in the request.
//! * **One code path for both directions.** [`sign`] and [`verify`] share the
//!   same canonicalisation and hashing functions, so a request signed
//!   here always verifies here; the documented test vectors pin both to the
//!   real clients.
//! * **Known client quirks are handled explicitly**, each in one place: the
//!   pre-signed query form, `Host` signed without its port
//!   (see [`verify`]), and `+` in query values (the caller must form-decode, see
//!   [`SignedRequest::query`]).
//! * **Intermediate values are public** ([`sign_key`], [`http_string`],
//!   [`sha1_hex`], [`string_to_sign`], [`signature_hex`]) so tests, and
//!   humans debugging a client, can compare each step with the documentation.

mod auth;
pub mod body;
mod canonical;
mod compute;
mod error;
mod request;
mod sign;
pub mod v4;
mod verify;

pub use canonical::{CanonicalList, canonical_list, canonical_name, cos_encode};
pub use compute::{http_string, sha1_hex, sign_key, signature_hex, string_to_sign};
pub use error::SignatureError;
pub use request::{Credentials, SignedRequest};
pub use sign::{presign, sign};
pub use verify::{CLOCK_SKEW_SECS, VerifiedKey, verify};

pub use body::{
    ByteStream, Checksum, ChecksumHasher, ChecksumValue, check_checksum_headers,
    check_payload_sha256, compute_checksum, decode_aws_chunked,
};
pub use v4::{
    ChunkSigner, PayloadMode, V4Request, V4Scope, V4Signed, V4Verified, is_sigv4, presign_v4,
    sign_v4, verify_v4,
};

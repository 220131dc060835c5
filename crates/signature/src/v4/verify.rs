//! Verifying a SigV4 request: parse, pick the payload mode, look up the key,
//! check the clock, compare (api-reference-2.md §3.2, §3.4).

use super::V4Request;
use super::auth::{V4Auth, check_scope_date, parse_header, parse_query};
use super::canonical::{canonical_headers, canonical_query, canonical_request, canonical_uri};
use super::compute::{ChunkSigner, SigningKey, signing_key, string_to_sign};
use super::time::{format_amz_date, parse_amz_date, parse_http_date};
use crate::error::SignatureError;

/// Largest accepted distance, in seconds, between the request time of a
/// header-signed request and the server clock (§3.2 step 5).
pub const V4_CLOCK_SKEW_SECS: i64 = 900;

const CONTENT_SHA256: &str = "x-amz-content-sha256";
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// How the request body is protected, from `x-amz-content-sha256` (§3.2 step 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadMode {
    /// A hex SHA-256 of the whole body (lower-cased here): check it with
    /// [`check_payload_sha256`](crate::check_payload_sha256).
    Sha256(String),
    /// `UNSIGNED-PAYLOAD`, and every presigned URL without the header.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`: an aws-chunked body
    /// whose chunks are signed (§3.3); decode it with
    /// [`decode_aws_chunked`](crate::decode_aws_chunked).
    StreamingSigned {
        /// Whether signed trailers follow the final chunk (`-TRAILER`).
        trailer: bool,
    },
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked, no chunk
    /// signatures, checksum trailers (boto3 over HTTPS, §3.6).
    StreamingUnsignedTrailer,
}

impl PayloadMode {
    /// Parses an `x-amz-content-sha256` value.
    fn parse(value: &str) -> Result<Self, SignatureError> {
        let value = value.trim();
        match value {
            UNSIGNED_PAYLOAD => Ok(Self::Unsigned),
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => Ok(Self::StreamingSigned { trailer: false }),
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => {
                Ok(Self::StreamingSigned { trailer: true })
            }
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => Ok(Self::StreamingUnsignedTrailer),
            "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
            | "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER" => {
                Err(SignatureError::NotImplemented {
                    feature: format!("SigV4a streaming payloads ({CONTENT_SHA256}: {value})"),
                })
            }
            hex if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(Self::Sha256(hex.to_ascii_lowercase()))
            }
            other => Err(SignatureError::InvalidArgument {
                reason: format!(
                    "{CONTENT_SHA256} must be a hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-* mode, found {other:?}"
                ),
            }),
        }
    }

    /// Whether the body is aws-chunked (any `STREAMING-*` mode).
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            Self::StreamingSigned { .. } | Self::StreamingUnsignedTrailer
        )
    }
}

/// A request whose SigV4 signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V4Verified {
    /// The access key id from the credential scope.
    pub access_key_id: String,
    /// The scope region the client signed for (any region is accepted, §3.1).
    pub region: String,
    /// The scope service the client signed for (`s3` from S3 SDKs).
    pub service: String,
    /// Whether the signature came from presigned query parameters.
    pub presigned: bool,
    /// How the body is protected.
    pub payload: PayloadMode,
    /// Signing key, request date, scope and seed signature: what
    /// [`decode_aws_chunked`](crate::decode_aws_chunked) needs to verify
    /// chunk and trailer signatures.
    pub chunk_signer: ChunkSigner,
}

/// Verifies the SigV4 signature of `req` at time `now_unix`.
///
/// `lookup` maps an access key id to its secret. Checks run in this order,
/// and the first failure is returned: exactly one authorization present and
/// well formed (SigV4a → `NotImplemented`), payload mode (header auth
/// requires `x-amz-content-sha256`), key known, clock (±15 minutes for header
/// auth; `X-Amz-Date` + `X-Amz-Expires` for presigned URLs), signature
/// (compared in constant time, with the region and service of the scope).
pub fn verify_v4(
    req: &V4Request<'_>,
    lookup: impl Fn(&str) -> Option<String>,
    now_unix: i64,
) -> Result<V4Verified, SignatureError> {
    let authorization = req.header("authorization").filter(|h| !h.trim().is_empty());
    let (auth, amz_date, payload_hash) = match (authorization, req.has_query_auth()) {
        (Some(_), true) => {
            return Err(SignatureError::InvalidArgument {
                reason: "only one auth mechanism allowed: send either the Authorization header or X-Amz-Algorithm query parameters".to_owned(),
            });
        }
        (Some(header), false) => header_auth(req, header, now_unix)?,
        (None, true) => query_auth(req, now_unix)?,
        (None, false) => return Err(SignatureError::MissingAuthorization),
    };
    let payload = PayloadMode::parse(payload_hash)?;
    let credential = &auth.credential;
    let secret =
        lookup(&credential.access_key_id).ok_or_else(|| SignatureError::InvalidAccessKeyId {
            access_key_id: credential.access_key_id.clone(),
        })?;
    let key = signing_key(
        &secret,
        &credential.date,
        &credential.region,
        &credential.service,
    );
    let seed = check_signature(req, &auth, &key, &amz_date, payload_hash)?;
    Ok(V4Verified {
        access_key_id: credential.access_key_id.clone(),
        region: credential.region.clone(),
        service: credential.service.clone(),
        presigned: auth.presigned.is_some(),
        payload,
        chunk_signer: ChunkSigner::new(key, &amz_date, &credential.scope(), &seed),
    })
}

/// Header auth: the parsed header, the ISO 8601 request time and the payload hash.
fn header_auth<'a>(
    req: &V4Request<'a>,
    header: &str,
    now: i64,
) -> Result<(V4Auth, String, &'a str), SignatureError> {
    let auth = parse_header(header)?;
    let payload_hash =
        req.header(CONTENT_SHA256)
            .ok_or_else(|| SignatureError::MissingSecurityHeader {
                header: CONTENT_SHA256.to_owned(),
            })?;
    let (amz_date, request_time) = request_time(req)?;
    check_scope_date(&auth.credential, &amz_date, "the request time", |reason| {
        SignatureError::AuthorizationHeaderMalformed { reason }
    })?;
    if (now - request_time).abs() > V4_CLOCK_SKEW_SECS {
        return Err(SignatureError::V4RequestTimeTooSkewed { request_time, now });
    }
    Ok((auth, amz_date, payload_hash))
}

/// Presigned auth: the parsed parameters, `X-Amz-Date` and the payload hash
/// (`UNSIGNED-PAYLOAD` unless the client sent `x-amz-content-sha256`).
fn query_auth<'a>(
    req: &V4Request<'a>,
    now: i64,
) -> Result<(V4Auth, String, &'a str), SignatureError> {
    let auth = parse_query(req.raw_query)?;
    let presigned = auth.presigned.as_ref().expect("parse_query sets presigned");
    let expired_at = presigned.date_unix + presigned.expires;
    if now > expired_at {
        return Err(SignatureError::RequestExpired { expired_at, now });
    }
    if presigned.date_unix - now > V4_CLOCK_SKEW_SECS {
        return Err(SignatureError::RequestNotYetValid {
            valid_from: presigned.date_unix,
            now,
        });
    }
    let amz_date = presigned.amz_date.clone();
    let payload_hash = req.header(CONTENT_SHA256).unwrap_or(UNSIGNED_PAYLOAD);
    Ok((auth, amz_date, payload_hash))
}

/// The request time from `x-amz-date`, else `Date`, as (ISO 8601 basic, unix).
fn request_time(req: &V4Request<'_>) -> Result<(String, i64), SignatureError> {
    if let Some(value) = req.header("x-amz-date") {
        let value = value.trim();
        let unix = parse_amz_date(value).ok_or_else(|| SignatureError::InvalidArgument {
            reason: format!("x-amz-date must be YYYYMMDDTHHMMSSZ, found {value:?}"),
        })?;
        return Ok((value.to_owned(), unix));
    }
    let Some(value) = req.header("date") else {
        return Err(SignatureError::MissingSecurityHeader {
            header: "x-amz-date (or Date)".to_owned(),
        });
    };
    let unix = parse_http_date(value).ok_or_else(|| SignatureError::InvalidArgument {
        reason: format!("Date must be an HTTP date, found {value:?}"),
    })?;
    Ok((format_amz_date(unix), unix))
}

/// Rebuilds the string to sign and compares; returns the signature (lower
/// hex) that seeds the chunk chain.
fn check_signature(
    req: &V4Request<'_>,
    auth: &V4Auth,
    key: &SigningKey,
    amz_date: &str,
    payload_hash: &str,
) -> Result<String, SignatureError> {
    let headers = canonical_headers(req.headers, &auth.signed_headers).map_err(|name| {
        let reason = format!("signed header {name} is not in the request");
        if auth.presigned.is_some() {
            SignatureError::AuthorizationQueryParametersError { reason }
        } else {
            SignatureError::AuthorizationHeaderMalformed { reason }
        }
    })?;
    let canonical = canonical_request(
        req.method,
        &canonical_uri(req.raw_path),
        &canonical_query(req.raw_query),
        &headers,
        &auth.signed_headers.join(";"),
        payload_hash.trim(),
    );
    let string_to_sign = string_to_sign(amz_date, &auth.credential.scope(), &canonical);
    if !key.verify(&string_to_sign, &auth.signature) {
        return Err(SignatureError::V4SignatureDoesNotMatch {
            canonical_request: canonical,
            string_to_sign,
        });
    }
    Ok(hex::encode(&auth.signature))
}

//! AWS Signature Version 4, S3 flavour: header auth, presigned URLs and the
//! aws-chunked signature chain (api-reference-2.md §3.2–3.5).
//!
//! The entry points are [`is_sigv4`], to route a request to this verifier or
//! the COS one, and [`verify_v4`]. [`sign_v4`] and [`presign_v4`] produce
//! what an AWS SDK would, for tests and outgoing requests. The building
//! blocks ([`canonical_uri`], [`canonical_query`], [`canonical_headers`],
//! [`canonical_request`], [`string_to_sign`], [`signing_key`]) are public so
//! tests, and humans debugging a client, can compare each step with the
//! published vectors; they take the service name as a parameter because the
//! AWS test suite signs for `service`, while [`verify_v4`] uses whatever
//! service the client's credential scope names.

mod auth;
mod canonical;
mod compute;
mod sign;
mod time;
mod verify;

pub use auth::MAX_PRESIGNED_EXPIRES_SECS;
pub use canonical::{canonical_headers, canonical_query, canonical_request, canonical_uri};
pub use compute::{
    ALGORITHM, ChunkSigner, EMPTY_SHA256, SigningKey, scope, sha256_hex, signing_key,
    string_to_sign,
};
pub use sign::{V4Scope, V4Signed, presign_v4, sign_v4};
pub use verify::{PayloadMode, V4_CLOCK_SKEW_SECS, V4Verified, verify_v4};

use canonical::query_pairs;

/// What the SigV4 verifier needs from a request, as it came off the wire.
#[derive(Debug, Clone, Copy)]
pub struct V4Request<'a> {
    /// The HTTP method as sent (`GET`, `PUT`).
    pub method: &'a str,
    /// The request path as on the wire, still percent-encoded, without the query.
    pub raw_path: &'a str,
    /// The raw query string after `?`, still percent-encoded; `None` when absent.
    pub raw_query: Option<&'a str>,
    /// Header names in lower case and values as received; a header sent
    /// several times appears several times. Under HTTP/2 the HTTP layer must
    /// add `:authority` as `host`.
    pub headers: &'a [(String, String)],
}

impl<'a> V4Request<'a> {
    /// The first header called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the query carries a presigned-URL `X-Amz-Algorithm`.
    fn has_query_auth(&self) -> bool {
        has_algorithm_param(self.raw_query)
    }
}

/// Whether a request is signed with SigV4 rather than COS q-sign.
///
/// True when `authorization` starts with `AWS4-HMAC-SHA256` or
/// `AWS4-ECDSA-P256-SHA256` (SigV4a, answered 501 by [`verify_v4`]), or the
/// raw query has an `X-Amz-Algorithm` parameter (a presigned URL, §3.4).
pub fn is_sigv4(authorization: Option<&str>, raw_query: Option<&str>) -> bool {
    let header = authorization
        .map(str::trim_start)
        .is_some_and(|a| a.starts_with(compute::ALGORITHM) || a.starts_with(auth::ECDSA_ALGORITHM));
    header || has_algorithm_param(raw_query)
}

fn has_algorithm_param(raw_query: Option<&str>) -> bool {
    query_pairs(raw_query)
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case(b"X-Amz-Algorithm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_sigv4_requests() {
        let header = "AWS4-HMAC-SHA256 Credential=a/20130524/r/s3/aws4_request";
        assert!(is_sigv4(Some(header), None));
        assert!(is_sigv4(Some("AWS4-ECDSA-P256-SHA256 Credential=x"), None));
        assert!(is_sigv4(None, Some("a=1&X-Amz-Algorithm=AWS4-HMAC-SHA256")));
        assert!(is_sigv4(Some(""), Some("x-amz-algorithm=AWS4-HMAC-SHA256")));
        assert!(!is_sigv4(Some("q-sign-algorithm=sha1&q-ak=x"), None));
        assert!(!is_sigv4(None, Some("q-sign-algorithm=sha1&X-Amz-Date=1")));
        assert!(!is_sigv4(None, None));
    }
}

//! Why a request failed authentication or body verification.
//!
//! Each variant maps to a stable COS/CI or S3 error code
//! ([`SignatureError::code`]) that the API layer copies into the
//! `<Error><Code>` element, and to one HTTP status
//! ([`SignatureError::http_status`]). The first six variants come from the
//! COS q-sign verifier; the rest from SigV4 (api-reference-2.md §3.2–3.4) and
//! the body adapters (§3.3, §3.6).
//!
//! Body adapters report failures as stream items:
//! `std::io::Error::other(SignatureError::…)`. Recover the variant with
//! `err.get_ref().and_then(|e| e.downcast_ref::<SignatureError>())`.

/// A request failed signature verification.
///
/// Messages are written for the client developer: they say what was wrong
/// and, where useful, the values the server saw, but never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// Neither an `Authorization` header nor pre-signed `q-*` query
    /// parameters were present (an anonymous request).
    #[error(
        "the request is not signed: send an Authorization header or pre-signed q-sign-algorithm query parameters"
    )]
    MissingAuthorization,

    /// The authorization fields are present but malformed, incomplete, or
    /// use an algorithm other than `sha1`.
    #[error("malformed authorization: {reason}")]
    InvalidAuthorization {
        /// What exactly is wrong, naming the offending field.
        reason: String,
    },

    /// `q-ak` names a SecretId this server does not know.
    #[error("the SecretId {secret_id:?} does not exist")]
    SecretidNotExist {
        /// The `q-ak` value as sent.
        secret_id: String,
    },

    /// The current time is after the end of `q-sign-time`.
    #[error("the signature expired at unix time {end}; the server time is {now}")]
    SignatureExpired {
        /// End of the signed validity window (unix seconds).
        end: i64,
        /// Server time used for the check (unix seconds).
        now: i64,
    },

    /// The current time is before the start of `q-sign-time`, even after
    /// allowing [`CLOCK_SKEW_SECS`](crate::CLOCK_SKEW_SECS) of skew.
    #[error(
        "the signature is not valid before unix time {start}; the server time is {now}: check the client clock"
    )]
    RequestTimeTooSkewed {
        /// Start of the signed validity window (unix seconds).
        start: i64,
        /// Server time used for the check (unix seconds).
        now: i64,
    },

    /// The signature is well formed but does not match the request.
    #[error(
        "the signature does not match the request: check the SecretKey and that the signed headers and query parameters were sent unchanged"
    )]
    SignatureDoesNotMatch {
        /// The `HttpString` the server rebuilt (for logs, not for clients):
        /// comparing it with the client's usually shows the difference.
        http_string: String,
    },

    /// SigV4: the `Authorization` header is not a well-formed
    /// `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` value,
    /// or its credential scope disagrees with the request date (§3.2).
    #[error("malformed SigV4 Authorization header: {reason}")]
    AuthorizationHeaderMalformed {
        /// What exactly is wrong, naming the offending component.
        reason: String,
    },

    /// SigV4: a presigned URL's `X-Amz-*` query parameters are missing or
    /// malformed (§3.4).
    #[error("malformed presigned URL: {reason}")]
    AuthorizationQueryParametersError {
        /// What exactly is wrong, naming the offending parameter.
        reason: String,
    },

    /// SigV4: the credential names an access key id this server does not know.
    #[error("the access key id {access_key_id:?} does not exist")]
    InvalidAccessKeyId {
        /// The access key id as sent.
        access_key_id: String,
    },

    /// SigV4: the request signature does not match the request (§3.2).
    #[error(
        "the SigV4 signature does not match the request: check the secret key and that the signed headers, path and query were sent unchanged"
    )]
    V4SignatureDoesNotMatch {
        /// The canonical request the server rebuilt (for logs): comparing it
        /// with the client's usually shows the difference.
        canonical_request: String,
        /// The string to sign the server rebuilt (for logs).
        string_to_sign: String,
    },

    /// SigV4 streaming: a chunk or trailer signature of an aws-chunked body
    /// does not continue the signature chain (§3.3).
    #[error(
        "the aws-chunked {part} signature does not match: the body was altered or signed with another key"
    )]
    StreamSignatureDoesNotMatch {
        /// Which signature failed, e.g. `chunk 3` or `trailer`.
        part: String,
    },

    /// SigV4 header auth: `x-amz-date` (or `Date`) is more than 15 minutes
    /// away from the server clock (§3.2 step 5).
    #[error(
        "the request time (unix {request_time}) differs from the server time (unix {now}) by more than 15 minutes: check the client clock"
    )]
    V4RequestTimeTooSkewed {
        /// The request time from `x-amz-date` or `Date` (unix seconds).
        request_time: i64,
        /// Server time used for the check (unix seconds).
        now: i64,
    },

    /// SigV4 presigned URL: `X-Amz-Date` + `X-Amz-Expires` is in the past (§3.4).
    #[error(
        "Request has expired: the presigned URL expired at unix {expired_at}; the server time is {now}"
    )]
    RequestExpired {
        /// `X-Amz-Date` + `X-Amz-Expires` (unix seconds).
        expired_at: i64,
        /// Server time used for the check (unix seconds).
        now: i64,
    },

    /// SigV4 presigned URL: `X-Amz-Date` is more than 15 minutes in the future.
    #[error(
        "Request is not valid yet: X-Amz-Date is unix {valid_from}; the server time is {now}: check the client clock"
    )]
    RequestNotYetValid {
        /// `X-Amz-Date` (unix seconds).
        valid_from: i64,
        /// Server time used for the check (unix seconds).
        now: i64,
    },

    /// A header the signing scheme requires is absent, e.g.
    /// `x-amz-content-sha256` or `x-amz-date` for SigV4 header auth (§3.2).
    #[error("missing required header {header}")]
    MissingSecurityHeader {
        /// The name of the missing header.
        header: String,
    },

    /// A header or parameter has a value the server cannot accept, e.g. an
    /// unknown `x-amz-content-sha256` mode or two authentication mechanisms.
    #[error("invalid argument: {reason}")]
    InvalidArgument {
        /// What exactly is wrong, naming the header or parameter.
        reason: String,
    },

    /// The body's SHA-256 differs from the hex `x-amz-content-sha256` (§3.2 step 7).
    #[error("the body's SHA-256 {computed} does not match x-amz-content-sha256 {expected}")]
    XAmzContentSha256Mismatch {
        /// The hex digest the client declared.
        expected: String,
        /// The hex digest of the received body.
        computed: String,
    },

    /// An `x-amz-checksum-*` header or trailer does not match the body (§3.6).
    #[error(
        "the {name} you specified ({expected}) did not match the checksum of the received body ({computed})"
    )]
    BadDigest {
        /// The header or trailer name, e.g. `x-amz-checksum-crc32`.
        name: String,
        /// The base64 value the client sent.
        expected: String,
        /// The base64 value of the received body.
        computed: String,
    },

    /// The request is malformed in a way no more specific code covers: bad
    /// aws-chunked framing, an undeclared or missing trailer, a checksum value
    /// that is not valid base64 (§3.3, §3.6).
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What exactly is wrong.
        reason: String,
    },

    /// The body ended early, or its decoded length differs from
    /// `x-amz-decoded-content-length` (§3.3).
    #[error("incomplete body: {reason}")]
    IncompleteBody {
        /// What was expected and what arrived.
        reason: String,
    },

    /// A valid request uses a feature this server does not implement, e.g.
    /// SigV4a (`AWS4-ECDSA-P256-SHA256`, §3.2 step 7).
    #[error("not implemented: {feature}")]
    NotImplemented {
        /// The feature, naming the header or value that asked for it.
        feature: String,
    },
}

impl SignatureError {
    /// The stable error code for the `<Code>` element of the error body.
    ///
    /// Codes follow the CI error list (reference 2.5) where it has one and
    /// the COS names (`SignatureDoesNotMatch`, `RequestTimeTooSkewed`)
    /// otherwise, so SDK users can search for them.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingAuthorization => "MissingAuthorization",
            Self::InvalidAuthorization { .. } => "InvalidAuthorization",
            Self::SecretidNotExist { .. } => "SecretidNotExist",
            Self::SignatureExpired { .. } => "SignatureExpired",
            Self::RequestTimeTooSkewed { .. } => "RequestTimeTooSkewed",
            Self::SignatureDoesNotMatch { .. } => "SignatureDoesNotMatch",
            Self::AuthorizationHeaderMalformed { .. } => "AuthorizationHeaderMalformed",
            Self::AuthorizationQueryParametersError { .. } => "AuthorizationQueryParametersError",
            Self::InvalidAccessKeyId { .. } => "InvalidAccessKeyId",
            Self::V4SignatureDoesNotMatch { .. } | Self::StreamSignatureDoesNotMatch { .. } => {
                "SignatureDoesNotMatch"
            }
            Self::V4RequestTimeTooSkewed { .. } => "RequestTimeTooSkewed",
            Self::RequestExpired { .. } | Self::RequestNotYetValid { .. } => "AccessDenied",
            Self::MissingSecurityHeader { .. } => "MissingSecurityHeader",
            Self::InvalidArgument { .. } => "InvalidArgument",
            Self::XAmzContentSha256Mismatch { .. } => "XAmzContentSHA256Mismatch",
            Self::BadDigest { .. } => "BadDigest",
            Self::InvalidRequest { .. } => "InvalidRequest",
            Self::IncompleteBody { .. } => "IncompleteBody",
            Self::NotImplemented { .. } => "NotImplemented",
        }
    }

    /// The HTTP status to answer with.
    ///
    /// Every COS q-sign failure is 403: the CI error list gives 401 for some
    /// of these codes while COS answers 403 for all authentication failures,
    /// the SDKs treat every 4xx the same (no retry, error code taken from the
    /// body), and the object API and the CI API share this verifier. The S3
    /// codes use the statuses S3 documents for them: 403 for authentication
    /// failures, 400 for malformed requests and bodies, 501 for SigV4a.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::AuthorizationHeaderMalformed { .. }
            | Self::AuthorizationQueryParametersError { .. }
            | Self::MissingSecurityHeader { .. }
            | Self::InvalidArgument { .. }
            | Self::XAmzContentSha256Mismatch { .. }
            | Self::BadDigest { .. }
            | Self::InvalidRequest { .. }
            | Self::IncompleteBody { .. } => 400,
            Self::NotImplemented { .. } => 501,
            Self::MissingAuthorization
            | Self::InvalidAuthorization { .. }
            | Self::SecretidNotExist { .. }
            | Self::SignatureExpired { .. }
            | Self::RequestTimeTooSkewed { .. }
            | Self::SignatureDoesNotMatch { .. }
            | Self::InvalidAccessKeyId { .. }
            | Self::V4SignatureDoesNotMatch { .. }
            | Self::StreamSignatureDoesNotMatch { .. }
            | Self::V4RequestTimeTooSkewed { .. }
            | Self::RequestExpired { .. }
            | Self::RequestNotYetValid { .. } => 403,
        }
    }

    /// Wraps `self` as the `std::io::Error` a body adapter yields; the caller
    /// recovers it with [`SignatureError::from_io`].
    pub fn into_io(self) -> std::io::Error {
        std::io::Error::other(self)
    }

    /// The `SignatureError` inside an error yielded by a body adapter, if any.
    ///
    /// Looks through further wrapping on the way (an `io::Error` around an
    /// `axum::Error` around ours, say), following `io::Error` payloads and
    /// `source()` links. `None` means the error came from the underlying
    /// body stream (a network failure, say), not from verification.
    pub fn from_io(err: &std::io::Error) -> Option<&SignatureError> {
        Self::find(err)
    }

    /// Like [`from_io`](Self::from_io), for any error type.
    pub fn find<'e>(err: &'e (dyn std::error::Error + 'static)) -> Option<&'e SignatureError> {
        let mut current = Some(err);
        while let Some(e) = current {
            if let Some(found) = e.downcast_ref::<SignatureError>() {
                return Some(found);
            }
            current = match e.downcast_ref::<std::io::Error>() {
                // `io::Error::source` skips the payload itself, so open it here.
                Some(io) => io
                    .get_ref()
                    .map(|inner| inner as &(dyn std::error::Error + 'static)),
                None => e.source(),
            };
        }
        None
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::InvalidAuthorization {
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_request(reason: impl Into<String>) -> Self {
        Self::InvalidRequest {
            reason: reason.into(),
        }
    }

    pub(crate) fn incomplete(reason: impl Into<String>) -> Self {
        Self::IncompleteBody {
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("wrapper")]
    struct Wrapper(#[source] std::io::Error);

    #[test]
    fn finds_the_error_through_wrapping() {
        let ours = || SignatureError::incomplete("short");
        assert_eq!(SignatureError::from_io(&ours().into_io()), Some(&ours()));
        let twice = std::io::Error::other(ours().into_io());
        assert_eq!(SignatureError::from_io(&twice), Some(&ours()));
        let wrapped = std::io::Error::other(Wrapper(ours().into_io()));
        assert_eq!(SignatureError::from_io(&wrapped), Some(&ours()));
        assert_eq!(SignatureError::from_io(&std::io::Error::other("net")), None);
        let plain = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        assert_eq!(SignatureError::from_io(&plain), None);
    }

    #[test]
    fn s3_codes_carry_their_statuses() {
        let cases = [
            (SignatureError::invalid_request("x"), "InvalidRequest", 400),
            (SignatureError::incomplete("x"), "IncompleteBody", 400),
            (
                SignatureError::NotImplemented {
                    feature: "x".to_owned(),
                },
                "NotImplemented",
                501,
            ),
            (
                SignatureError::RequestExpired {
                    expired_at: 1,
                    now: 2,
                },
                "AccessDenied",
                403,
            ),
            (
                SignatureError::MissingAuthorization,
                "MissingAuthorization",
                403,
            ),
        ];
        for (err, code, status) in cases {
            assert_eq!((err.code(), err.http_status()), (code, status));
        }
    }
}

//! Why a request failed authentication.
//!
//! Each variant maps to a stable COS/CI error code ([`SignatureError::code`])
//! that the API layer copies into the `<Error><Code>` element, and to one
//! HTTP status ([`SignatureError::http_status`]).

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
        }
    }

    /// The HTTP status to answer with: 403 for every variant.
    ///
    /// The CI error list gives 401 for some of these codes while COS answers
    /// 403 for all authentication failures. The SDKs treat every 4xx the same
    /// (no retry, error code taken from the body), and the object API and the
    /// CI API share this verifier, so one status keeps them consistent.
    pub fn http_status(&self) -> u16 {
        403
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::InvalidAuthorization {
            reason: reason.into(),
        }
    }
}

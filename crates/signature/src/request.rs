//! The request as the verifier sees it, and value lookup by signed name.

use crate::auth::is_auth_param;
use crate::canonical::canonical_name;

/// What the verifier needs from a request, already extracted by the HTTP layer.
///
/// Keeping HTTP types out of this crate lets the API layer (axum), a future
/// CLI and the tests all build one from whatever they hold.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The HTTP method, in any case (`PUT`, `put`).
    pub method: &'a str,
    /// The percent-decoded URI path, e.g. `/exampleobject(腾讯云)` or
    /// `/jobs/j1,j2`. Clients sign the decoded form.
    pub decoded_path: &'a str,
    /// Query pairs decoded as `application/x-www-form-urlencoded`: `+` must
    /// already be a space, because Python `requests` encodes spaces as `+`
    /// and a literal `+` as `%2B`. A bare `?active` is `("active", "")`.
    /// When a name repeats, the first occurrence is the one checked.
    pub query: &'a [(String, String)],
    /// Header names (any case) and values as received. Under HTTP/2 the HTTP
    /// layer must add `:authority` as `host`.
    pub headers: &'a [(String, String)],
}

/// A SecretId/SecretKey pair, used to sign requests.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The public key id, sent as `q-ak`.
    pub secret_id: String,
    /// The shared secret; never sent.
    pub secret_key: String,
}

impl std::fmt::Debug for Credentials {
    /// Redacts the secret so credentials can be logged safely.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

impl<'a> SignedRequest<'a> {
    /// The first header called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        find(self.headers, |n| n.eq_ignore_ascii_case(name))
    }

    /// `(canonical name, value)` for each listed canonical header name.
    ///
    /// A listed header missing from the request counts as empty: the
    /// signature then decides, exactly as it would for any altered value.
    pub(crate) fn signed_headers(&self, names: &[String]) -> Vec<(String, &'a str)> {
        lookup_all(self.headers, names, |_| true)
    }

    /// `(canonical name, value)` for each listed canonical parameter name.
    ///
    /// Pre-signed `q-*` authorization parameters are never part of
    /// `HttpParameters`: the client added them after signing.
    pub(crate) fn signed_params(&self, names: &[String]) -> Vec<(String, &'a str)> {
        lookup_all(self.query, names, |n| !is_auth_param(n))
    }
}

fn lookup_all<'a>(
    pairs: &'a [(String, String)],
    names: &[String],
    eligible: impl Fn(&str) -> bool,
) -> Vec<(String, &'a str)> {
    names
        .iter()
        .map(|listed| {
            let value = find(pairs, |n| eligible(n) && canonical_name(n) == *listed);
            (listed.clone(), value.unwrap_or(""))
        })
        .collect()
}

/// The value of the first pair whose name satisfies `matches`.
fn find(pairs: &[(String, String)], matches: impl Fn(&str) -> bool) -> Option<&str> {
    pairs
        .iter()
        .find(|(name, _)| matches(name))
        .map(|(_, value)| value.as_str())
}

//! Computing a signature: for our tests, the CLI and outgoing requests.

use crate::canonical::{canonical_list, canonical_name};
use crate::compute::{http_string, signature_hex};
use crate::request::{Credentials, SignedRequest};

/// Signs `req` and returns the full `Authorization` header value.
///
/// The listed headers and query parameters (any case) are looked up in `req`
/// as the verifier will look them up; a listed name the request lacks is
/// signed as an empty value. The signature is valid from `start` to `end`
/// (unix seconds), used as both `q-sign-time` and `q-key-time`.
pub fn sign(
    req: &SignedRequest<'_>,
    creds: &Credentials,
    start: i64,
    end: i64,
    header_names: &[&str],
    param_names: &[&str],
) -> String {
    let fields = signed_fields(req, creds, start, end, header_names, param_names);
    let parts: Vec<String> = fields.iter().map(|(n, v)| format!("{n}={v}")).collect();
    parts.join("&")
}

/// Like [`sign`], but returns the fields as query pairs for a pre-signed URL.
///
/// The caller appends them (URL-encoded) to the query; the verifier ignores
/// them when it rebuilds `HttpParameters`.
pub fn presign(
    req: &SignedRequest<'_>,
    creds: &Credentials,
    start: i64,
    end: i64,
    header_names: &[&str],
    param_names: &[&str],
) -> Vec<(String, String)> {
    signed_fields(req, creds, start, end, header_names, param_names)
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .collect()
}

fn signed_fields(
    req: &SignedRequest<'_>,
    creds: &Credentials,
    start: i64,
    end: i64,
    header_names: &[&str],
    param_names: &[&str],
) -> [(&'static str, String); 7] {
    let key_time = format!("{start};{end}");
    let headers = canonical_list(req.signed_headers(&canonical_names(header_names)));
    let params = canonical_list(req.signed_params(&canonical_names(param_names)));
    let http = http_string(req.method, req.decoded_path, &params.pairs, &headers.pairs);
    let signature = signature_hex(&creds.secret_key, &key_time, &http);
    [
        ("q-sign-algorithm", "sha1".to_owned()),
        ("q-ak", creds.secret_id.clone()),
        ("q-sign-time", key_time.clone()),
        ("q-key-time", key_time),
        ("q-header-list", headers.names),
        ("q-url-param-list", params.names),
        ("q-signature", signature),
    ]
}

fn canonical_names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| canonical_name(n)).collect()
}

//! Computing SigV4 signatures the way an AWS SDK does: for tests, the CLI
//! and outgoing requests (api-reference-2.md §3.2, §3.4).

use super::V4Request;
use super::canonical::{
    canonical_headers, canonical_query, canonical_request, canonical_uri, rfc3986,
};
use super::compute::{ALGORITHM, ChunkSigner, scope, signing_key, string_to_sign};
use crate::error::SignatureError;
use crate::request::Credentials;

/// Where and when a signature is made.
#[derive(Debug, Clone, Copy)]
pub struct V4Scope<'a> {
    /// The scope region, e.g. `ap-guangzhou`.
    pub region: &'a str,
    /// The scope service: `s3` for S3 requests.
    pub service: &'a str,
    /// The request time, `YYYYMMDDTHHMMSSZ`; header auth must also send it
    /// as `x-amz-date`.
    pub amz_date: &'a str,
}

/// The result of [`sign_v4`].
#[derive(Debug, Clone)]
pub struct V4Signed {
    /// The `Authorization` header value.
    pub authorization: String,
    /// The signature chain for an aws-chunked body, seeded with this signature.
    pub chunk_signer: ChunkSigner,
}

/// Signs `req` for header auth.
///
/// `req.headers` must already hold every header in `signed_headers`
/// (lower-case names; `host` and usually `x-amz-date` and
/// `x-amz-content-sha256`); `payload_hash` is the `x-amz-content-sha256`
/// value. A signed header missing from `req` is an error naming it.
pub fn sign_v4(
    req: &V4Request<'_>,
    creds: &Credentials,
    at: &V4Scope<'_>,
    signed_headers: &[&str],
    payload_hash: &str,
) -> Result<V4Signed, SignatureError> {
    let signed = lower(signed_headers);
    let (chunk_signer, scope) = signature(req, req.raw_query, creds, at, &signed, payload_hash)?;
    Ok(V4Signed {
        authorization: format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={}",
            creds.secret_id,
            signed.join(";"),
            chunk_signer.seed_signature()
        ),
        chunk_signer,
    })
}

/// Presigns `req` for `expires_secs` seconds and returns the complete raw
/// query: `req.raw_query` (if any) followed by the `X-Amz-*` parameters,
/// with `X-Amz-Signature` last. The payload hash is `UNSIGNED-PAYLOAD`, or
/// the request's `x-amz-content-sha256` header when it has one (as the
/// verifier expects, §3.4).
pub fn presign_v4(
    req: &V4Request<'_>,
    creds: &Credentials,
    at: &V4Scope<'_>,
    expires_secs: i64,
    signed_headers: &[&str],
) -> Result<String, SignatureError> {
    let signed = lower(signed_headers);
    let auth_params = [
        ("X-Amz-Algorithm", ALGORITHM.to_owned()),
        (
            "X-Amz-Credential",
            format!(
                "{}/{}",
                creds.secret_id,
                scope(scope_date(at)?, at.region, at.service)
            ),
        ),
        ("X-Amz-Date", at.amz_date.to_owned()),
        ("X-Amz-Expires", expires_secs.to_string()),
        ("X-Amz-SignedHeaders", signed.join(";")),
    ];
    let mut query: Vec<String> = req
        .raw_query
        .filter(|q| !q.is_empty())
        .map(str::to_owned)
        .into_iter()
        .collect();
    query.extend(
        auth_params
            .iter()
            .map(|(name, value)| format!("{name}={}", rfc3986(value.as_bytes()))),
    );
    let raw_query = query.join("&");
    let (signer, _) = signature(
        req,
        Some(&raw_query),
        creds,
        at,
        &signed,
        req.header("x-amz-content-sha256")
            .map_or("UNSIGNED-PAYLOAD", str::trim),
    )?;
    Ok(format!(
        "{raw_query}&X-Amz-Signature={}",
        signer.seed_signature()
    ))
}

/// Signs the canonical request of `req` with `raw_query`; returns the chain
/// seeded with the signature, and the scope.
fn signature(
    req: &V4Request<'_>,
    raw_query: Option<&str>,
    creds: &Credentials,
    at: &V4Scope<'_>,
    signed: &[String],
    payload_hash: &str,
) -> Result<(ChunkSigner, String), SignatureError> {
    let date = scope_date(at)?;
    let scope = scope(date, at.region, at.service);
    let headers =
        canonical_headers(req.headers, signed).map_err(|name| SignatureError::InvalidArgument {
            reason: format!("signed header {name} is not in the request"),
        })?;
    let canonical = canonical_request(
        req.method,
        &canonical_uri(req.raw_path),
        &canonical_query(raw_query),
        &headers,
        &signed.join(";"),
        payload_hash,
    );
    let key = signing_key(&creds.secret_key, date, at.region, at.service);
    let signature = key.sign(&string_to_sign(at.amz_date, &scope, &canonical));
    Ok((
        ChunkSigner::new(key, at.amz_date, &scope, &signature),
        scope,
    ))
}

fn scope_date<'s>(at: &V4Scope<'s>) -> Result<&'s str, SignatureError> {
    at.amz_date
        .get(..8)
        .ok_or_else(|| SignatureError::InvalidArgument {
            reason: format!("amz_date must be YYYYMMDDTHHMMSSZ, found {:?}", at.amz_date),
        })
}

fn lower(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_ascii_lowercase()).collect()
}

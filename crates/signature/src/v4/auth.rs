//! Parsing SigV4 authorization: the `Authorization` header (api-reference-2.md
//! §3.2 step 1) and presigned `X-Amz-*` query parameters (§3.4).
//!
//! Parsing only checks shape; the key lookup, clock and signature checks
//! happen in `verify`.

use super::canonical::query_pairs;
use super::compute::{ALGORITHM, scope};
use super::time::parse_amz_date;
use crate::error::SignatureError;

/// SigV4a algorithm name; recognised only to answer 501.
pub(crate) const ECDSA_ALGORITHM: &str = "AWS4-ECDSA-P256-SHA256";
/// The longest lifetime of a presigned URL, in seconds (seven days, §3.4).
pub const MAX_PRESIGNED_EXPIRES_SECS: i64 = 604_800;

/// `X-Amz-Credential` / `Credential=`: `<AK>/<yyyymmdd>/<region>/<service>/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credential {
    pub(crate) access_key_id: String,
    pub(crate) date: String,
    pub(crate) region: String,
    pub(crate) service: String,
}

impl Credential {
    pub(crate) fn scope(&self) -> String {
        scope(&self.date, &self.region, &self.service)
    }
}

/// The parsed authorization, from either place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct V4Auth {
    pub(crate) credential: Credential,
    /// Lower-case names in the client's order.
    pub(crate) signed_headers: Vec<String>,
    /// The raw 32 signature bytes.
    pub(crate) signature: Vec<u8>,
    /// Present for presigned URLs only.
    pub(crate) presigned: Option<Presigned>,
}

/// The presigned-only parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Presigned {
    /// `X-Amz-Date` as sent (`YYYYMMDDTHHMMSSZ`).
    pub(crate) amz_date: String,
    /// `X-Amz-Date` in unix seconds.
    pub(crate) date_unix: i64,
    /// `X-Amz-Expires` in seconds.
    pub(crate) expires: i64,
}

type MakeError = fn(String) -> SignatureError;

fn header_error(reason: String) -> SignatureError {
    SignatureError::AuthorizationHeaderMalformed { reason }
}

fn query_error(reason: String) -> SignatureError {
    SignatureError::AuthorizationQueryParametersError { reason }
}

fn not_implemented() -> SignatureError {
    SignatureError::NotImplemented {
        feature: format!("SigV4a ({ECDSA_ALGORITHM}) signatures"),
    }
}

/// Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
///
/// Components are split on commas with optional spaces; unknown components
/// are ignored, a repeated one is an error.
pub(crate) fn parse_header(value: &str) -> Result<V4Auth, SignatureError> {
    let value = value.trim();
    let (algorithm, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    check_algorithm(algorithm, header_error)?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, val)) = part.split_once('=') else {
            return Err(header_error(format!(
                "expected `Name=value` components separated by commas, found {part:?}"
            )));
        };
        let slot = match name.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(val.trim()).is_some() {
            return Err(header_error(format!(
                "component {name} appears more than once"
            )));
        }
    }
    let missing = |name: &str| header_error(format!("missing component {name}="));
    Ok(V4Auth {
        credential: parse_credential(
            credential.ok_or_else(|| missing("Credential"))?,
            header_error,
        )?,
        signed_headers: parse_signed_headers(
            signed.ok_or_else(|| missing("SignedHeaders"))?,
            header_error,
        )?,
        signature: parse_signature(signature.ok_or_else(|| missing("Signature"))?, header_error)?,
        presigned: None,
    })
}

/// Parses the presigned `X-Amz-*` parameters of a raw query (§3.4).
pub(crate) fn parse_query(raw_query: Option<&str>) -> Result<V4Auth, SignatureError> {
    const NAMES: [&str; 6] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ];
    let mut slots: [Option<String>; 6] = Default::default();
    for (name, value) in query_pairs(raw_query) {
        let Some(index) = NAMES
            .iter()
            .position(|n| n.as_bytes().eq_ignore_ascii_case(&name))
        else {
            continue;
        };
        let value = String::from_utf8(value)
            .map_err(|_| query_error(format!("{} is not valid UTF-8", NAMES[index])))?;
        if slots[index].replace(value).is_some() {
            return Err(query_error(format!(
                "{} appears more than once",
                NAMES[index]
            )));
        }
    }
    let [algorithm, credential, date, expires, signed, signature] = slots;
    let required = |slot: Option<String>, index: usize| {
        slot.ok_or_else(|| query_error(format!("missing query parameter {}", NAMES[index])))
    };
    check_algorithm(&required(algorithm, 0)?, query_error)?;
    let credential = parse_credential(&required(credential, 1)?, query_error)?;
    let amz_date = required(date, 2)?;
    let date_unix = parse_amz_date(&amz_date).ok_or_else(|| {
        query_error(format!(
            "X-Amz-Date must be YYYYMMDDTHHMMSSZ, found {amz_date:?}"
        ))
    })?;
    check_scope_date(&credential, &amz_date, "X-Amz-Date", query_error)?;
    let expires = parse_expires(&required(expires, 3)?)?;
    Ok(V4Auth {
        credential,
        signed_headers: parse_signed_headers(&required(signed, 4)?, query_error)?,
        signature: parse_signature(&required(signature, 5)?, query_error)?,
        presigned: Some(Presigned {
            amz_date,
            date_unix,
            expires,
        }),
    })
}

fn check_algorithm(algorithm: &str, error: MakeError) -> Result<(), SignatureError> {
    match algorithm {
        ALGORITHM => Ok(()),
        ECDSA_ALGORITHM => Err(not_implemented()),
        other => Err(error(format!(
            "unsupported algorithm {other:?}: only {ALGORITHM} is supported"
        ))),
    }
}

/// Splits `AK/yyyymmdd/region/service/aws4_request` from the right, so the
/// access key id keeps any `/` it may contain.
fn parse_credential(value: &str, error: MakeError) -> Result<Credential, SignatureError> {
    let invalid = || {
        error(format!(
            "Credential must be `<access key id>/<yyyymmdd>/<region>/<service>/aws4_request`, found {value:?}"
        ))
    };
    let mut parts = value.rsplitn(5, '/');
    let terminator = parts.next().ok_or_else(invalid)?;
    let service = parts.next().ok_or_else(invalid)?;
    let region = parts.next().ok_or_else(invalid)?;
    let date = parts.next().ok_or_else(invalid)?;
    let access_key_id = parts.next().ok_or_else(invalid)?;
    let date_ok = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
    if terminator != "aws4_request" || !date_ok || [access_key_id, region, service].contains(&"") {
        return Err(invalid());
    }
    Ok(Credential {
        access_key_id: access_key_id.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
    })
}

/// The scope date must be the date part of the request time.
pub(crate) fn check_scope_date(
    credential: &Credential,
    amz_date: &str,
    source: &str,
    error: MakeError,
) -> Result<(), SignatureError> {
    if amz_date.get(..8) != Some(credential.date.as_str()) {
        return Err(error(format!(
            "the credential date {} is not the date of {source} {amz_date:?}",
            credential.date
        )));
    }
    Ok(())
}

/// `a;b;c`, lower-cased; `host` must be among them (§3.2 step 6).
fn parse_signed_headers(value: &str, error: MakeError) -> Result<Vec<String>, SignatureError> {
    let names: Vec<String> = value
        .split(';')
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    if names.iter().any(String::is_empty) {
        return Err(error(format!(
            "SignedHeaders must be `;`-separated header names, found {value:?}"
        )));
    }
    if !names.iter().any(|n| n == "host") {
        return Err(error(format!(
            "SignedHeaders must include host, found {value:?}"
        )));
    }
    Ok(names)
}

fn parse_signature(value: &str, error: MakeError) -> Result<Vec<u8>, SignatureError> {
    match hex::decode(value) {
        Ok(bytes) if bytes.len() == 32 => Ok(bytes),
        _ => Err(error(format!(
            "Signature must be 64 hex digits, found {value:?}"
        ))),
    }
}

fn parse_expires(value: &str) -> Result<i64, SignatureError> {
    let invalid = || {
        query_error(format!(
            "X-Amz-Expires must be a number of seconds from 0 to {MAX_PRESIGNED_EXPIRES_SECS}, found {value:?}"
        ))
    };
    let secs = value.parse::<i64>().map_err(|_| invalid())?;
    if !(0..=MAX_PRESIGNED_EXPIRES_SECS).contains(&secs) {
        return Err(invalid());
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

    fn header(rest: &str) -> String {
        format!("AWS4-HMAC-SHA256 {rest}")
    }

    fn reason(result: Result<V4Auth, SignatureError>) -> String {
        match result {
            Err(
                SignatureError::AuthorizationHeaderMalformed { reason }
                | SignatureError::AuthorizationQueryParametersError { reason },
            ) => reason,
            other => panic!("expected a malformed-authorization error, got {other:?}"),
        }
    }

    #[test]
    fn parses_the_header_with_or_without_spaces() {
        for sep in [", ", ","] {
            let value = header(&format!(
                "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request{sep}SignedHeaders=host;Range{sep}Signature={SIG}"
            ));
            let auth = parse_header(&value).unwrap();
            assert_eq!(auth.credential.access_key_id, "AKIAIOSFODNN7EXAMPLE");
            assert_eq!(
                auth.credential.scope(),
                "20130524/us-east-1/s3/aws4_request"
            );
            assert_eq!(auth.signed_headers, ["host", "range"]);
            assert_eq!(auth.signature.len(), 32);
            assert!(auth.presigned.is_none());
        }
    }

    #[test]
    fn header_errors_name_the_component() {
        let good = format!(
            "Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={SIG}"
        );
        assert!(reason(parse_header("AWS4-HMAC-SHA1 x")).contains("unsupported algorithm"));
        assert!(reason(parse_header(&header("Credential"))).contains("Name=value"));
        assert!(
            reason(parse_header(&header(&good.replace("Signature", "S")))).contains("Signature=")
        );
        assert!(
            reason(parse_header(&header(&format!("{good}, Signature={SIG}"))))
                .contains("more than once")
        );
        assert!(
            reason(parse_header(&header(
                &good.replace("/s3/aws4_request", "/s3")
            )))
            .contains("Credential")
        );
        assert!(
            reason(parse_header(&header(&good.replace("20130524", "2013")))).contains("Credential")
        );
        assert!(
            reason(parse_header(&header(&good.replace("=host", "=range"))))
                .contains("include host")
        );
        assert!(
            reason(parse_header(&header(&good.replace("=host", "=host;;a"))))
                .contains("SignedHeaders")
        );
        assert!(reason(parse_header(&header(&good.replace(SIG, "abc")))).contains("64 hex"));
        assert!(matches!(
            parse_header("AWS4-ECDSA-P256-SHA256 Credential=x"),
            Err(SignatureError::NotImplemented { .. })
        ));
    }

    const QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

    #[test]
    fn parses_presigned_parameters() {
        let auth = parse_query(Some(QUERY)).unwrap();
        assert_eq!(auth.credential.access_key_id, "AK");
        let presigned = auth.presigned.unwrap();
        assert_eq!(presigned.expires, 86_400);
        assert_eq!(presigned.date_unix, 1_369_353_600);
    }

    #[test]
    fn presigned_errors_name_the_parameter() {
        let q = |from: &str, to: &str| parse_query(Some(&QUERY.replace(from, to)));
        assert!(
            reason(q("X-Amz-Date=", "X-Amz-Dat=")).contains("missing query parameter X-Amz-Date")
        );
        assert!(reason(q("=86400", "=604801")).contains("X-Amz-Expires"));
        assert!(reason(q("=86400", "=-1")).contains("X-Amz-Expires"));
        assert!(reason(q("=20130524T", "=20130525T")).contains("credential date"));
        assert!(reason(q("=20130524T000000Z", "=2013")).contains("X-Amz-Date must be"));
        assert!(
            reason(parse_query(Some(&format!("{QUERY}&x-amz-expires=1"))))
                .contains("more than once")
        );
        assert!(matches!(
            q("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
            Err(SignatureError::NotImplemented { .. })
        ));
    }
}

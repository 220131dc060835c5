//! Verifying a request: parse, look up the key, check time, compare.
//!
//! The only non-obvious step is the `Host` retry. The Python SDK, when it
//! builds the URL from `Domain`/`Endpoint`, signs `urlparse(url).hostname`,
//! i.e. the host without its port (and an IPv6 literal without brackets),
//! while the `Host` header on the wire carries `host:port`. Go signs the
//! header as sent. So when `host` is signed and the first comparison fails,
//! the verifier retries with the port stripped (reference 2.3).

use crate::auth::{Authorization, TimeWindow};
use crate::canonical::canonical_list;
use crate::compute::{http_string, sign_key, signature_matches};
use crate::error::SignatureError;
use crate::request::SignedRequest;

/// Seconds a signature may be used before its `q-sign-time` start.
///
/// Python signs with `start = now - 60` and Go with `start = now`, so a
/// client whose clock runs ahead of ours would otherwise be refused. The end
/// of the window gets no grace: the client chose it, and it is usually
/// hours away. The accepted range is `start - 300 ≤ now ≤ end`.
pub const CLOCK_SKEW_SECS: i64 = 300;

/// The identity a request was verified for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKey {
    /// The SecretId (`q-ak`) whose key produced the signature.
    pub secret_id: String,
}

/// Verifies the COS signature of `req` at time `now_unix`.
///
/// `lookup` maps a SecretId to its SecretKey. Checks run in this order, and
/// the first failure is returned: authorization present and well formed,
/// SecretId known, time window, signature (compared in constant time).
pub fn verify(
    req: &SignedRequest<'_>,
    lookup: impl Fn(&str) -> Option<String>,
    now_unix: i64,
) -> Result<VerifiedKey, SignatureError> {
    let auth = Authorization::from_request(req)?;
    let secret_key = lookup(&auth.secret_id).ok_or_else(|| SignatureError::SecretidNotExist {
        secret_id: auth.secret_id.clone(),
    })?;
    check_time(auth.sign_time, now_unix)?;
    check_signature(req, &auth, &secret_key)?;
    Ok(VerifiedKey {
        secret_id: auth.secret_id,
    })
}

fn check_time(window: TimeWindow, now: i64) -> Result<(), SignatureError> {
    if now > window.end {
        return Err(SignatureError::SignatureExpired {
            end: window.end,
            now,
        });
    }
    if now < window.start.saturating_sub(CLOCK_SKEW_SECS) {
        return Err(SignatureError::RequestTimeTooSkewed {
            start: window.start,
            now,
        });
    }
    Ok(())
}

fn check_signature(
    req: &SignedRequest<'_>,
    auth: &Authorization,
    secret_key: &str,
) -> Result<(), SignatureError> {
    let key = sign_key(secret_key, &auth.key_time);
    let params = canonical_list(req.signed_params(&auth.param_list));
    let mut first_http_string = None;
    for host in host_candidates(req, &auth.header_list) {
        let mut headers = req.signed_headers(&auth.header_list);
        if let Some(host) = host.as_deref() {
            replace_host(&mut headers, host);
        }
        let headers = canonical_list(headers);
        let http = http_string(req.method, req.decoded_path, &params.pairs, &headers.pairs);
        if signature_matches(&key, &auth.key_time, &http, &auth.signature) {
            return Ok(());
        }
        first_http_string.get_or_insert(http);
    }
    Err(SignatureError::SignatureDoesNotMatch {
        http_string: first_http_string.unwrap_or_default(),
    })
}

/// `None` (the host as received) first, then port-less variants when `host`
/// is signed and the received value carries a port.
fn host_candidates(req: &SignedRequest<'_>, header_list: &[String]) -> Vec<Option<String>> {
    let mut candidates = vec![None];
    let host = req
        .header("host")
        .filter(|_| header_list.iter().any(|n| n == "host"));
    if let Some((bare, unbracketed)) = host.and_then(strip_port) {
        candidates.push(Some(bare.to_owned()));
        candidates.extend(unbracketed.map(|h| Some(h.to_owned())));
    }
    candidates
}

/// Splits `host:port` into the host and, for `[v6]:port`, also the
/// bracket-less address Python signs. `None` when there is no port.
fn strip_port(host: &str) -> Option<(&str, Option<&str>)> {
    let (bare, port) = host.rsplit_once(':')?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if bare.starts_with('[') && bare.ends_with(']') {
        return Some((bare, Some(&bare[1..bare.len() - 1])));
    }
    // A colon left in the host part means an unbracketed IPv6 literal, not a port.
    (!bare.contains(':')).then_some((bare, None))
}

fn replace_host<'a>(headers: &mut [(String, &'a str)], host: &'a str) {
    for (name, value) in headers.iter_mut() {
        if name == "host" {
            *value = host;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ports_from_names_and_addresses() {
        assert_eq!(strip_port("127.0.0.1:9000"), Some(("127.0.0.1", None)));
        assert_eq!(strip_port("b.cos.local:80"), Some(("b.cos.local", None)));
        assert_eq!(strip_port("[::1]:9000"), Some(("[::1]", Some("::1"))));
        assert_eq!(strip_port("b.cos.local"), None);
        assert_eq!(strip_port("[::1]"), None);
        assert_eq!(strip_port("::1"), None);
        assert_eq!(strip_port("host:"), None);
    }

    #[test]
    fn time_window_allows_skew_before_start_only() {
        let window = TimeWindow {
            start: 1000,
            end: 2000,
        };
        assert!(check_time(window, 700).is_ok());
        assert!(check_time(window, 2000).is_ok());
        assert!(matches!(
            check_time(window, 699),
            Err(SignatureError::RequestTimeTooSkewed {
                start: 1000,
                now: 699
            })
        ));
        assert!(matches!(
            check_time(window, 2001),
            Err(SignatureError::SignatureExpired {
                end: 2000,
                now: 2001
            })
        ));
    }
}

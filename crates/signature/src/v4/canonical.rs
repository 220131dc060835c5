//! SigV4 canonical request parts (api-reference-2.md §3.2 step 2).
//!
//! Every function takes the request as it arrived on the wire and rebuilds
//! exactly the string an AWS SDK hashed, so a verifier and a signer share
//! one implementation.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, percent_encode};

/// RFC 3986 unreserved characters stay literal; everything else is `%XX`.
const QUERY_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// As [`QUERY_ENCODE_SET`], but `/` separates path segments and stays literal.
const PATH_ENCODE_SET: &AsciiSet = &QUERY_ENCODE_SET.remove(b'/');

/// The query parameter that carries a presigned URL's signature; it is never
/// part of the canonical query (§3.2 step 2, §3.4).
pub(crate) const SIGNATURE_PARAM: &str = "X-Amz-Signature";

/// The canonical URI of a raw (as on the wire) request path.
///
/// S3 flavour: the path is percent-decoded once and every byte outside
/// `A-Za-z0-9-_.~/` re-encoded as upper-case `%XX`; dot segments are kept
/// and nothing is encoded twice. An empty path is `/`.
pub fn canonical_uri(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".to_owned();
    }
    let decoded: Vec<u8> = percent_decode(raw_path.as_bytes()).collect();
    percent_encode(&decoded, PATH_ENCODE_SET).to_string()
}

/// The raw query split into `(name, value)` pairs decoded from the wire.
///
/// `+` decodes to a space as in form encoding (clients that mean `+` send
/// `%2B`); a bare `flag` is `("flag", "")`; empty `&&` pieces are skipped.
/// Values are bytes, since a query may carry any percent-encoded octets.
pub(crate) fn query_pairs(raw_query: Option<&str>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let Some(raw) = raw_query else {
        return Vec::new();
    };
    raw.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            (form_decode(name), form_decode(value))
        })
        .collect()
}

fn form_decode(s: &str) -> Vec<u8> {
    let plus_as_space: Vec<u8> = s
        .bytes()
        .map(|b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&plus_as_space).collect()
}

/// The canonical query string of a raw query.
///
/// All pairs except `X-Amz-Signature`, names and values RFC 3986-encoded
/// (space is `%20`), sorted by encoded name then value, joined with `&`; a
/// flag becomes `name=`.
pub fn canonical_query(raw_query: Option<&str>) -> String {
    let mut encoded: Vec<(String, String)> = query_pairs(raw_query)
        .into_iter()
        .filter(|(name, _)| name != SIGNATURE_PARAM.as_bytes())
        .map(|(name, value)| (rfc3986(&name), rfc3986(&value)))
        .collect();
    encoded.sort();
    let pairs: Vec<String> = encoded
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    pairs.join("&")
}

/// RFC 3986 encoding of arbitrary bytes, upper-case hex.
pub(crate) fn rfc3986(bytes: &[u8]) -> String {
    percent_encode(bytes, QUERY_ENCODE_SET).to_string()
}

/// The canonical headers block: `name:value\n` for each signed header.
///
/// `signed` holds lower-case names in the client's order. Values of
/// repeated headers are joined with `,`; each value is trimmed and inner
/// runs of spaces and tabs collapse to one space. `Host` is used exactly as
/// received. A signed header absent from `headers` is an error naming it.
pub fn canonical_headers(
    headers: &[(String, String)],
    signed: &[String],
) -> Result<String, String> {
    let mut out = String::new();
    for name in signed {
        let values: Vec<String> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| collapse_whitespace(v))
            .collect();
        if values.is_empty() {
            return Err(name.clone());
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    Ok(out)
}

fn collapse_whitespace(value: &str) -> String {
    value
        .split([' ', '\t'])
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The canonical request: method, URI, query, headers, signed-header list
/// and payload hash, joined by `\n` (§3.2 step 2).
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    canonical_headers: &str,
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    format!(
        "{method}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_is_decoded_once_and_re_encoded() {
        assert_eq!(canonical_uri("/test%24file.text"), "/test%24file.text");
        assert_eq!(canonical_uri("/test$file.text"), "/test%24file.text");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/a b/../c+d"), "/a%20b/../c%2Bd");
        assert_eq!(canonical_uri("/%E8%85%BE%2f"), "/%E8%85%BE/");
        assert_eq!(canonical_uri("/%e8%85%be"), "/%E8%85%BE");
        assert_eq!(canonical_uri("/100%"), "/100%25");
    }

    #[test]
    fn query_is_sorted_encoded_and_drops_the_signature() {
        assert_eq!(canonical_query(None), "");
        assert_eq!(canonical_query(Some("lifecycle")), "lifecycle=");
        assert_eq!(
            canonical_query(Some("prefix=J&max-keys=2")),
            "max-keys=2&prefix=J"
        );
        assert_eq!(
            canonical_query(Some("b=2&a=x+y&a=%2B&X-Amz-Signature=ff&&c=%7e")),
            "a=%2B&a=x%20y&b=2&c=~"
        );
    }

    #[test]
    fn headers_are_trimmed_collapsed_and_joined() {
        let headers = vec![
            ("host".to_owned(), "example.com:9000".to_owned()),
            ("x-amz-meta-a".to_owned(), "  one   two\t three ".to_owned()),
            ("x-amz-meta-a".to_owned(), "four".to_owned()),
        ];
        let signed = vec!["host".to_owned(), "x-amz-meta-a".to_owned()];
        assert_eq!(
            canonical_headers(&headers, &signed).unwrap(),
            "host:example.com:9000\nx-amz-meta-a:one two three,four\n"
        );
        let missing = vec!["host".to_owned(), "range".to_owned()];
        assert_eq!(canonical_headers(&headers, &missing).unwrap_err(), "range");
    }
}

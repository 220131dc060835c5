//! Parsing the authorization fields, from the header or a pre-signed URL.
//!
//! Both forms carry the same seven `q-*` fields (reference 2.1). The header
//! form is `k=v&k=v…` with literal values; the pre-signed form puts each
//! field in the query, where the HTTP layer has already decoded it.

use crate::SignedRequest;
use crate::error::SignatureError;

const ALGORITHM: &str = "q-sign-algorithm";
const AK: &str = "q-ak";
const SIGN_TIME: &str = "q-sign-time";
const KEY_TIME: &str = "q-key-time";
const HEADER_LIST: &str = "q-header-list";
const URL_PARAM_LIST: &str = "q-url-param-list";
const SIGNATURE: &str = "q-signature";

const FIELDS: [&str; 7] = [
    ALGORITHM,
    AK,
    SIGN_TIME,
    KEY_TIME,
    HEADER_LIST,
    URL_PARAM_LIST,
    SIGNATURE,
];

/// Whether a query parameter is one of the pre-signed authorization fields.
pub(crate) fn is_auth_param(name: &str) -> bool {
    FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name))
}

/// A `start;end` window in unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeWindow {
    pub(crate) start: i64,
    pub(crate) end: i64,
}

/// The parsed, validated authorization fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authorization {
    pub(crate) secret_id: String,
    pub(crate) sign_time: TimeWindow,
    /// Raw `q-key-time`: it is hashed as sent.
    pub(crate) key_time: String,
    /// Canonical (lowercased) names from `q-header-list`.
    pub(crate) header_list: Vec<String>,
    /// Canonical (lowercased) names from `q-url-param-list`.
    pub(crate) param_list: Vec<String>,
    /// The decoded `q-signature` bytes.
    pub(crate) signature: Vec<u8>,
}

impl Authorization {
    /// Finds the authorization in `req`.
    ///
    /// A non-empty `Authorization` header wins; otherwise the query is used
    /// when it carries `q-sign-algorithm`. An empty header (the Python SDK's
    /// `Anonymous=True`) counts as absent.
    pub(crate) fn from_request(req: &SignedRequest<'_>) -> Result<Self, SignatureError> {
        if let Some(header) = req.header("authorization").filter(|h| !h.trim().is_empty()) {
            return Self::from_header(header);
        }
        if req
            .query
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(ALGORITHM))
        {
            let fields = req.query.iter().filter(|(n, _)| is_auth_param(n));
            return Self::from_fields(fields.map(|(n, v)| (n.as_str(), v.as_str())));
        }
        Err(SignatureError::MissingAuthorization)
    }

    /// Parses the header form `q-sign-algorithm=sha1&q-ak=…&…`.
    pub(crate) fn from_header(value: &str) -> Result<Self, SignatureError> {
        let mut fields = Vec::new();
        for part in value.trim().split('&') {
            let Some(field) = part.split_once('=') else {
                return Err(SignatureError::invalid(format!(
                    "expected `name=value` fields separated by `&`, found {part:?}"
                )));
            };
            fields.push(field);
        }
        Self::from_fields(fields)
    }

    fn from_fields<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, SignatureError> {
        let raw = RawFields::collect(fields)?;
        let algorithm = raw.required(ALGORITHM)?;
        if !algorithm.eq_ignore_ascii_case("sha1") {
            return Err(SignatureError::invalid(format!(
                "unsupported {ALGORITHM} {algorithm:?}: only sha1 is supported"
            )));
        }
        let key_time = raw.required(KEY_TIME)?;
        parse_window(KEY_TIME, key_time)?;
        Ok(Self {
            secret_id: non_empty(AK, raw.required(AK)?)?.to_owned(),
            sign_time: parse_window(SIGN_TIME, raw.required(SIGN_TIME)?)?,
            key_time: key_time.to_owned(),
            header_list: parse_list(raw.optional(HEADER_LIST)),
            param_list: parse_list(raw.optional(URL_PARAM_LIST)),
            signature: parse_signature(raw.required(SIGNATURE)?)?,
        })
    }
}

/// The known fields by name, each at most once; unknown fields are ignored
/// so newer clients can add fields without breaking us.
struct RawFields<'a>([Option<&'a str>; 7]);

impl<'a> RawFields<'a> {
    fn collect(
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, SignatureError> {
        let mut slots = [None; 7];
        for (name, value) in fields {
            let Some(index) = FIELDS
                .iter()
                .position(|f| f.eq_ignore_ascii_case(name.trim()))
            else {
                continue;
            };
            if slots[index].replace(value.trim()).is_some() {
                return Err(SignatureError::invalid(format!(
                    "field {} appears more than once",
                    FIELDS[index]
                )));
            }
        }
        Ok(Self(slots))
    }

    fn optional(&self, name: &str) -> &'a str {
        self.get(name).unwrap_or("")
    }

    fn required(&self, name: &'static str) -> Result<&'a str, SignatureError> {
        self.get(name)
            .ok_or_else(|| SignatureError::invalid(format!("missing field {name}")))
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        let index = FIELDS.iter().position(|f| *f == name)?;
        self.0[index]
    }
}

fn non_empty<'a>(name: &str, value: &'a str) -> Result<&'a str, SignatureError> {
    if value.is_empty() {
        return Err(SignatureError::invalid(format!("field {name} is empty")));
    }
    Ok(value)
}

fn parse_window(name: &str, value: &str) -> Result<TimeWindow, SignatureError> {
    let invalid = || {
        SignatureError::invalid(format!(
            "field {name} must be `<start>;<end>` in unix seconds with start <= end, found {value:?}"
        ))
    };
    let (start, end) = value.split_once(';').ok_or_else(invalid)?;
    let start = start.parse::<i64>().map_err(|_| invalid())?;
    let end = end.parse::<i64>().map_err(|_| invalid())?;
    if start > end {
        return Err(invalid());
    }
    Ok(TimeWindow { start, end })
}

fn parse_list(value: &str) -> Vec<String> {
    value
        .split(';')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

fn parse_signature(value: &str) -> Result<Vec<u8>, SignatureError> {
    match hex::decode(value) {
        Ok(bytes) if bytes.len() == 20 => Ok(bytes),
        _ => Err(SignatureError::invalid(format!(
            "field {SIGNATURE} must be 40 hex digits, found {value:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "q-sign-algorithm=sha1&q-ak=AKIDtest&q-sign-time=10;20&q-key-time=10;20\
        &q-header-list=content-length;Host&q-url-param-list=&q-signature=3b8851a11a569213c17ba8fa7dcf2abec6935172";

    #[test]
    fn parses_the_header_form() {
        let auth = Authorization::from_header(HEADER).unwrap();
        assert_eq!(auth.secret_id, "AKIDtest");
        assert_eq!(auth.sign_time, TimeWindow { start: 10, end: 20 });
        assert_eq!(auth.key_time, "10;20");
        assert_eq!(auth.header_list, ["content-length", "host"]);
        assert!(auth.param_list.is_empty());
        assert_eq!(auth.signature.len(), 20);
    }

    #[test]
    fn ignores_unknown_fields_and_tolerates_missing_lists() {
        let header = "q-sign-algorithm=sha1&q-ak=a&q-sign-time=1;2&q-key-time=1;2&x-extra=1\
            &q-signature=3b8851a11a569213c17ba8fa7dcf2abec6935172";
        let auth = Authorization::from_header(header).unwrap();
        assert!(auth.header_list.is_empty() && auth.param_list.is_empty());
    }

    fn reason(header: &str) -> String {
        match Authorization::from_header(header) {
            Err(SignatureError::InvalidAuthorization { reason }) => reason,
            other => panic!("expected InvalidAuthorization, got {other:?}"),
        }
    }

    #[test]
    fn rejects_malformed_headers_with_a_clear_reason() {
        assert!(reason("garbage").contains("name=value"));
        assert!(reason(&HEADER.replace("sha1&", "sha256&")).contains("only sha1"));
        assert!(reason(&HEADER.replace("q-ak=AKIDtest&", "")).contains("missing field q-ak"));
        assert!(reason(&HEADER.replace("q-ak=AKIDtest", "q-ak=")).contains("q-ak is empty"));
        assert!(
            reason(&HEADER.replace("q-sign-time=10;20", "q-sign-time=20;10"))
                .contains("q-sign-time")
        );
        assert!(reason(&HEADER.replace("q-key-time=10;20", "q-key-time=x")).contains("q-key-time"));
        assert!(reason(&HEADER.replace("3b8851a1", "zz")).contains("40 hex digits"));
        assert!(reason(&format!("{HEADER}&q-ak=other")).contains("more than once"));
    }

    #[test]
    fn recognises_auth_params_case_insensitively() {
        assert!(is_auth_param("q-signature"));
        assert!(is_auth_param("Q-AK"));
        assert!(!is_auth_param("q-other"));
    }
}

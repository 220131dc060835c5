//! Canonical forms: COS percent-encoding and the sorted `name=value` lists.
//!
//! `HttpParameters` and `HttpHeaders` are built the same way (reference 2.2,
//! steps 3–4): encode the name and lowercase it, encode the value, sort by
//! name, join pairs with `&` and names with `;`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything except the RFC 3986 unreserved characters `A–Z a–z 0–9 - _ . ~`.
const COS_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes `s` the way every COS SDK does before signing.
///
/// RFC 3986 unreserved characters stay literal, everything else (including
/// space, `+`, `/`, `!'()*`) becomes `%XX` of its UTF-8 bytes with uppercase
/// hex. This equals Python's `quote(s, safe='-_.~')`.
pub fn cos_encode(s: &str) -> String {
    utf8_percent_encode(s, COS_ENCODE_SET).to_string()
}

/// The canonical name of a header or query parameter: encoded, then lowercased.
///
/// This is the form that appears in `q-header-list` and `q-url-param-list`,
/// so comparing canonical names makes lookups case-insensitive
/// (`workflowId` matches a listed `workflowid`).
pub fn canonical_name(name: &str) -> String {
    cos_encode(name).to_ascii_lowercase()
}

/// One signed list in canonical form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CanonicalList {
    /// The `;`-joined sorted names: `UrlParamList` or `HeaderList`.
    pub names: String,
    /// The `&`-joined sorted `name=value` pairs: `HttpParameters` or `HttpHeaders`.
    pub pairs: String,
}

/// Builds a [`CanonicalList`] from `(canonical name, raw value)` entries.
///
/// Values are encoded here; names must already be canonical (see
/// [`canonical_name`]). Entries are sorted by name, then value, so the
/// result does not depend on the order the request carried them in.
pub fn canonical_list<'v>(entries: impl IntoIterator<Item = (String, &'v str)>) -> CanonicalList {
    let mut encoded: Vec<(String, String)> = entries
        .into_iter()
        .map(|(name, value)| (name, cos_encode(value)))
        .collect();
    encoded.sort();
    let names: Vec<&str> = encoded.iter().map(|(name, _)| name.as_str()).collect();
    let pairs: Vec<String> = encoded
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    CanonicalList {
        names: names.join(";"),
        pairs: pairs.join("&"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_characters_with_uppercase_hex() {
        assert_eq!(
            cos_encode("a b+c/d:e,f;g=h"),
            "a%20b%2Bc%2Fd%3Ae%2Cf%3Bg%3Dh"
        );
        assert_eq!(cos_encode("!'()*"), "%21%27%28%29%2A");
        assert_eq!(cos_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(cos_encode("腾"), "%E8%85%BE");
    }

    #[test]
    fn canonical_names_are_lowercased_after_encoding() {
        assert_eq!(canonical_name("workflowId"), "workflowid");
        assert_eq!(canonical_name("Content-MD5"), "content-md5");
    }

    #[test]
    fn list_is_sorted_and_values_encoded() {
        let list = canonical_list([
            ("b".to_owned(), "x y"),
            ("a".to_owned(), ""),
            ("c".to_owned(), "1+1"),
        ]);
        assert_eq!(list.names, "a;b;c");
        assert_eq!(list.pairs, "a=&b=x%20y&c=1%2B1");
    }

    #[test]
    fn empty_list_is_empty_strings() {
        assert_eq!(canonical_list([]), CanonicalList::default());
    }
}

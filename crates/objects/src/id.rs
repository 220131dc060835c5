//! Blob ids: generated UUIDv7s in simple hex form, validated before use.
//!
//! UUIDv7 ids sort by creation time, which makes garbage collection ("blobs
//! older than an hour that no row references") a range scan. Only ids that
//! look exactly like generated ones are accepted, so an id can never
//! contain `/`, `..` or anything else that would change the path it maps to.
//!
//! Two shapes exist:
//!
//! * a plain blob: 32 lowercase hex digits ([`new_blob_id`]);
//! * a composite blob (a manifest naming the parts it concatenates):
//!   `m` + 32 lowercase hex digits ([`new_composite_id`]). The extra letter
//!   and length mean the two shapes can never be equal, so a composite can
//!   never shadow a plain blob's file.

use crate::BlobError;

const HEX_LEN: usize = 32;

/// The first character of a composite blob id.
const COMPOSITE_MARK: char = 'm';

/// Generates a new blob id: a UUIDv7 as 32 lowercase hex digits.
pub fn new_blob_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Generates a new composite blob id: `m` + a UUIDv7 as 32 lowercase hex.
pub fn new_composite_id() -> String {
    format!("{COMPOSITE_MARK}{}", uuid::Uuid::now_v7().simple())
}

/// Accepts exactly the two forms [`new_blob_id`] and [`new_composite_id`]
/// make: 32 lowercase hex digits, optionally preceded by `m`.
pub fn validate_id(id: &str) -> Result<(), BlobError> {
    let hex = id.strip_prefix(COMPOSITE_MARK).unwrap_or(id);
    let valid = hex.len() == HEX_LEN && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if valid {
        Ok(())
    } else {
        Err(BlobError::InvalidId { id: id.to_owned() })
    }
}

/// Whether `id` is a valid composite blob id (`m` + 32 lowercase hex).
pub fn is_composite_id(id: &str) -> bool {
    id.starts_with(COMPOSITE_MARK) && validate_id(id).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_validate_and_are_unique() {
        let (a, b) = (new_blob_id(), new_blob_id());
        assert!(validate_id(&a).is_ok());
        assert_ne!(a, b);
        assert!(!is_composite_id(&a));
        let m = new_composite_id();
        assert!(validate_id(&m).is_ok());
        assert!(is_composite_id(&m));
        assert_eq!(m.len(), 33);
    }

    #[test]
    fn rejects_anything_else() {
        let bad = [
            "",
            "m",
            "../../etc/passwd",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789ABCDEF0123456789abcdef",
            "0123456789abcdef/123456789abcdef",
            "0123456789abcdeg0123456789abcdef",
            "mm0123456789abcdef0123456789abcdef",
            "M0123456789abcdef0123456789abcdef",
            "m0123456789abcdef0123456789abcde",
            "m0123456789abcdef0123456789abcdef0",
            "x0123456789abcdef0123456789abcdef",
            "m../456789abcdef0123456789abcdef",
        ];
        for id in bad {
            assert!(
                matches!(validate_id(id), Err(BlobError::InvalidId { .. })),
                "{id}"
            );
            assert!(!is_composite_id(id), "{id}");
        }
    }
}

//! Blob ids: generated UUIDv7s in simple hex form, validated before use.
//!
//! UUIDv7 ids sort by creation time, which makes garbage collection ("blobs
//! older than an hour that no row references") a range scan. Only ids that
//! look exactly like generated ones are accepted, so an id can never
//! contain `/`, `..` or anything else that would change the path it maps to.

use crate::BlobError;

const ID_LEN: usize = 32;

/// Generates a new blob id: a UUIDv7 as 32 lowercase hex digits.
pub fn new_blob_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Accepts exactly 32 lowercase hex digits, the form [`new_blob_id`] makes.
pub fn validate_id(id: &str) -> Result<(), BlobError> {
    let valid = id.len() == ID_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if valid {
        Ok(())
    } else {
        Err(BlobError::InvalidId { id: id.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_validate_and_are_unique() {
        let (a, b) = (new_blob_id(), new_blob_id());
        assert!(validate_id(&a).is_ok());
        assert_ne!(a, b);
    }

    #[test]
    fn rejects_anything_else() {
        let bad = [
            "",
            "../../etc/passwd",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789ABCDEF0123456789abcdef",
            "0123456789abcdef/123456789abcdef",
            "0123456789abcdeg0123456789abcdef",
        ];
        for id in bad {
            assert!(
                matches!(validate_id(id), Err(BlobError::InvalidId { .. })),
                "{id}"
            );
        }
    }
}

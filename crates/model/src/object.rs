//! Object records: what the catalog knows about a stored object.

/// Who wrote an object. Objects written by workflows never trigger workflows (no loops).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectOrigin {
    /// Uploaded through the object API.
    Upload,
    /// Written by a workflow task or job.
    Workflow,
}

/// Catalog entry of one object; the body is a blob in the blob store.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectRecord {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Blob id in the blob store.
    pub blob_id: String,
    /// Bytes.
    pub size: u64,
    /// ETag, unquoted: MD5 hex, or `<hex>-<N>` for a multipart object.
    pub etag: String,
    /// CRC-64/XZ of the body (`x-cos-hash-crc64ecma`); `None` for objects stored before CRCs
    /// were recorded.
    pub crc64: Option<u64>,
    /// Content-Type as uploaded.
    pub content_type: String,
    /// Unix milliseconds.
    pub last_modified_ms: i64,
    /// `x-cos-meta-*` headers, lower-cased names, upload order.
    pub user_meta: Vec<(String, String)>,
    /// Who wrote it.
    pub origin: ObjectOrigin,
}

/// A new multipart UploadId: 32 lowercase hex, time-ordered (UUIDv7 bits), so one key's
/// uploads sort in initiation order as S3 lists them. Clients treat it as opaque.
pub fn new_upload_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Why a key is not acceptable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// Empty key.
    #[error("the object key is empty")]
    Empty,
    /// Over 850 bytes.
    #[error("the object key is longer than 850 bytes")]
    TooLong,
    /// NUL or control characters.
    #[error("the object key contains a NUL or control character")]
    ControlChar,
    /// `.` or `..` segments.
    #[error("the object key contains a '.' or '..' path segment")]
    DotSegment,
}

/// Checks an object key: non-empty, ≤ 850 bytes, no control characters, no `.`/`..` segments.
pub fn validate_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > 850 {
        return Err(KeyError::TooLong);
    }
    if key.chars().any(|c| c.is_control()) {
        return Err(KeyError::ControlChar);
    }
    if key.split('/').any(|seg| seg == ".." || seg == ".") {
        return Err(KeyError::DotSegment);
    }
    Ok(())
}

/// Checks a bucket name: 1–63 of lowercase letters, digits and `-`, not starting/ending with `-`.
pub fn valid_bucket_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(validate_key("a/b/c.mp4").is_ok());
        assert_eq!(validate_key("a/../b"), Err(KeyError::DotSegment));
        assert_eq!(validate_key(".."), Err(KeyError::DotSegment));
        assert_eq!(validate_key("a\0b"), Err(KeyError::ControlChar));
        assert_eq!(validate_key(&"x".repeat(851)), Err(KeyError::TooLong));
        assert!(validate_key("a..b/c").is_ok());
    }

    #[test]
    fn buckets() {
        assert!(valid_bucket_name("examplebucket-1250000000"));
        assert!(!valid_bucket_name("Upper"));
        assert!(!valid_bucket_name("_reelflow"));
        assert!(!valid_bucket_name(""));
    }
}

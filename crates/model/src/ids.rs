//! Identifiers in the shapes the CI API uses.
//!
//! WorkflowId `w`, QueueId `p`, RunId `i`, JobId `j` + 32 lowercase hex; TemplateId `t0…`
//! (Official) or `t1…` (Custom) + 32 hex. RunIds and JobIds carry UUIDv7 bits so they sort by
//! creation time, which keeps list pagination and "newest first" orderings index-friendly.

use uuid::Uuid;

/// A new WorkflowId: `w` + 32 hex (random).
pub fn new_workflow_id() -> String {
    format!("w{}", Uuid::new_v4().simple())
}

/// A new custom TemplateId: `t1` + 32 hex (random).
pub fn new_template_id() -> String {
    format!("t1{}", Uuid::new_v4().simple())
}

/// A new QueueId: `p` + 32 hex (random).
pub fn new_queue_id() -> String {
    format!("p{}", Uuid::new_v4().simple())
}

/// A new RunId: `i` + 32 hex, time-ordered.
pub fn new_run_id() -> String {
    format!("i{}", Uuid::now_v7().simple())
}

/// A new JobId: `j` + 32 hex, time-ordered.
pub fn new_job_id() -> String {
    format!("j{}", Uuid::now_v7().simple())
}

/// A new batch (inventory trigger job) id: `b` + 32 hex, time-ordered (api-reference-2.md §4).
pub fn new_batch_id() -> String {
    format!("b{}", Uuid::now_v7().simple())
}

/// True for a well-formed batch id.
pub fn is_batch_id(id: &str) -> bool {
    is_id(id, "b", 32)
}

/// A request id in the observed CI shape: base64 of `<8 hex unix time>_<8 hex>_<4 hex>_<counter>`.
pub fn new_request_id(unix_secs: i64) -> String {
    let random = Uuid::new_v4();
    let bytes = random.as_bytes();
    let raw = format!(
        "{:08x}_{:02x}{:02x}{:02x}{:02x}_{:02x}{:02x}_{:x}",
        unix_secs as u32, bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6]
    );
    base64_std(raw.as_bytes())
}

/// True when `id` is `prefix` followed by exactly `hex_len` lowercase hex digits.
pub fn is_id(id: &str, prefix: &str, hex_len: usize) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == hex_len
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// True for a well-formed TemplateId (`t` + 33 hex).
pub fn is_template_id(id: &str) -> bool {
    is_id(id, "t", 33)
}

/// True for a well-formed WorkflowId.
pub fn is_workflow_id(id: &str) -> bool {
    is_id(id, "w", 32)
}

/// True for a well-formed RunId.
pub fn is_run_id(id: &str) -> bool {
    is_id(id, "i", 32)
}

/// True for a well-formed JobId.
pub fn is_job_id(id: &str) -> bool {
    is_id(id, "j", 32)
}

fn base64_std(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(is_workflow_id(&new_workflow_id()));
        assert!(is_template_id(&new_template_id()));
        assert!(new_template_id().starts_with("t1"));
        assert!(is_run_id(&new_run_id()));
        assert!(is_job_id(&new_job_id()));
        assert!(is_batch_id(&new_batch_id()));
        assert!(is_id(&new_queue_id(), "p", 32));
        assert!(!is_run_id("i123"));
        assert!(!is_run_id("iE4D9187D35DC11EB9CEC525400860000"));
    }

    #[test]
    fn run_ids_sort_by_creation() {
        let a = new_run_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_run_id();
        assert!(a < b);
    }

    #[test]
    fn request_id_is_base64_of_documented_shape() {
        assert_eq!(
            base64_std(b"62f1d1b3_90fa5064_5f2c_1"),
            "NjJmMWQxYjNfOTBmYTUwNjRfNWYyY18x"
        );
        assert!(!new_request_id(1_660_000_000).is_empty());
    }
}

//! The hashing steps of the scheme (reference 2.2, steps 1–2 and 5–7).
//!
//! Each step is its own public function so tests can compare every
//! intermediate value with the documentation.

use hmac::{Hmac, KeyInit, Mac};
use sha1::{Digest, Sha1};

type HmacSha1 = Hmac<Sha1>;

/// `SignKey`: lowercase hex of HMAC-SHA1(SecretKey, KeyTime).
///
/// `key_time` is the raw `"<start>;<end>"` string from `q-key-time`.
pub fn sign_key(secret_key: &str, key_time: &str) -> String {
    hex::encode(
        hmac_sha1(secret_key.as_bytes(), key_time.as_bytes())
            .finalize()
            .into_bytes(),
    )
}

/// `HttpString`: `lower(method) \n path \n HttpParameters \n HttpHeaders \n`.
///
/// `decoded_path` is the percent-decoded URI path exactly as the client saw
/// it, so non-ASCII object keys appear as raw UTF-8.
pub fn http_string(
    method: &str,
    decoded_path: &str,
    http_parameters: &str,
    http_headers: &str,
) -> String {
    format!(
        "{}\n{decoded_path}\n{http_parameters}\n{http_headers}\n",
        method.to_ascii_lowercase()
    )
}

/// Lowercase hex SHA-1 of `data`.
pub fn sha1_hex(data: &str) -> String {
    hex::encode(Sha1::digest(data.as_bytes()))
}

/// `StringToSign`: `"sha1\n" + KeyTime + "\n" + sha1hex(HttpString) + "\n"`.
pub fn string_to_sign(key_time: &str, http_string: &str) -> String {
    format!("sha1\n{key_time}\n{}\n", sha1_hex(http_string))
}

/// The final `q-signature`: lowercase hex of
/// HMAC-SHA1(SignKey as its 40-character hex string, StringToSign).
pub fn signature_hex(secret_key: &str, key_time: &str, http_string: &str) -> String {
    let mac = signature_mac(&sign_key(secret_key, key_time), key_time, http_string);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks `provided` (raw signature bytes) against the expected signature in
/// constant time, so response timing reveals nothing about the right value.
pub(crate) fn signature_matches(
    sign_key_hex: &str,
    key_time: &str,
    http_string: &str,
    provided: &[u8],
) -> bool {
    signature_mac(sign_key_hex, key_time, http_string)
        .verify_slice(provided)
        .is_ok()
}

fn signature_mac(sign_key_hex: &str, key_time: &str, http_string: &str) -> HmacSha1 {
    hmac_sha1(
        sign_key_hex.as_bytes(),
        string_to_sign(key_time, http_string).as_bytes(),
    )
}

fn hmac_sha1(key: &[u8], message: &[u8]) -> HmacSha1 {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = HmacSha1::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac
}

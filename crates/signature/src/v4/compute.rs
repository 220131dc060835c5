//! SigV4 hashing: signing key, strings to sign, signatures, and the
//! aws-chunked signature chain (api-reference-2.md §3.2 steps 3–4, §3.3).

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The SigV4 HMAC-SHA256 algorithm name, first line of every string to sign.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Algorithm line of a chunk string to sign (§3.3, AWS sigv4-streaming).
const CHUNK_ALGORITHM: &str = "AWS4-HMAC-SHA256-PAYLOAD";
/// Algorithm line of a trailer string to sign (§3.3, AWS sigv4-streaming-trailers).
const TRAILER_ALGORITHM: &str = "AWS4-HMAC-SHA256-TRAILER";
/// Hex SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// `kSigning`, the per-day, per-scope key derived from a secret (§3.2 step 4).
///
/// Its `Debug` output is redacted: it unlocks a day of signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// Lower-case hex of the key, for comparison with published vectors.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Hex HMAC-SHA256 of `string_to_sign` under this key: a signature.
    pub fn sign(&self, string_to_sign: &str) -> String {
        hex::encode(self.mac(string_to_sign).finalize().into_bytes())
    }

    /// Whether `provided` (raw signature bytes) is the signature of
    /// `string_to_sign`, compared in constant time.
    pub(crate) fn verify(&self, string_to_sign: &str, provided: &[u8]) -> bool {
        self.mac(string_to_sign).verify_slice(provided).is_ok()
    }

    fn mac(&self, string_to_sign: &str) -> HmacSha256 {
        hmac(&self.0, string_to_sign.as_bytes())
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")`.
///
/// `date` is the `yyyymmdd` of the credential scope. The service is a
/// parameter because the AWS test suite signs for `service`, S3 for `s3`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> SigningKey {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date.finalize().into_bytes(), region.as_bytes());
    let k_service = hmac(&k_region.finalize().into_bytes(), service.as_bytes());
    let k_signing = hmac(&k_service.finalize().into_bytes(), b"aws4_request");
    SigningKey(k_signing.finalize().into_bytes().into())
}

/// The credential scope `yyyymmdd/region/service/aws4_request`.
pub fn scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical request)>` (§3.2 step 3).
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

fn hmac(key: &[u8], message: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac
}

/// What verifying (or producing) aws-chunked signatures needs: the signing
/// key, the request's `x-amz-date`, its credential scope and the seed
/// signature (§3.3).
///
/// Stateless: each call takes the previous signature of the chain, which
/// starts at [`ChunkSigner::seed_signature`]. `Debug` redacts the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSigner {
    key: SigningKey,
    amz_date: String,
    scope: String,
    seed_signature: String,
}

impl ChunkSigner {
    /// A chain for a request signed at `amz_date` (`YYYYMMDDTHHMMSSZ`) with
    /// `scope` whose own signature (lower-case hex) is `seed_signature`.
    pub fn new(key: SigningKey, amz_date: &str, scope: &str, seed_signature: &str) -> Self {
        Self {
            key,
            amz_date: amz_date.to_owned(),
            scope: scope.to_owned(),
            seed_signature: seed_signature.to_ascii_lowercase(),
        }
    }

    /// The request's `x-amz-date` in ISO 8601 basic form.
    pub fn amz_date(&self) -> &str {
        &self.amz_date
    }

    /// The credential scope, `yyyymmdd/region/service/aws4_request`.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The request signature, where the chunk chain starts.
    pub fn seed_signature(&self) -> &str {
        &self.seed_signature
    }

    /// `AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<prev>\n<sha256("")>\n<chunk sha256 hex>`.
    pub fn chunk_string_to_sign(&self, previous_signature: &str, chunk_sha256_hex: &str) -> String {
        format!(
            "{CHUNK_ALGORITHM}\n{}\n{}\n{previous_signature}\n{EMPTY_SHA256}\n{chunk_sha256_hex}",
            self.amz_date, self.scope
        )
    }

    /// `AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n<final chunk sig>\n<hex sha256(trailers)>`,
    /// where `trailers` is the `name:value\n` lines.
    pub fn trailer_string_to_sign(&self, final_chunk_signature: &str, trailers: &[u8]) -> String {
        format!(
            "{TRAILER_ALGORITHM}\n{}\n{}\n{final_chunk_signature}\n{}",
            self.amz_date,
            self.scope,
            sha256_hex(trailers)
        )
    }

    /// The signature of the chunk holding `data`, following `previous_signature`.
    pub fn chunk_signature(&self, previous_signature: &str, data: &[u8]) -> String {
        self.key
            .sign(&self.chunk_string_to_sign(previous_signature, &sha256_hex(data)))
    }

    /// The trailer signature over the `name:value\n` lines in `trailers`.
    pub fn trailer_signature(&self, final_chunk_signature: &str, trailers: &[u8]) -> String {
        self.key
            .sign(&self.trailer_string_to_sign(final_chunk_signature, trailers))
    }

    /// Checks `provided` (raw bytes) against the chunk signature in constant time.
    pub(crate) fn chunk_matches(
        &self,
        previous: &str,
        chunk_sha256_hex: &str,
        provided: &[u8],
    ) -> bool {
        self.key.verify(
            &self.chunk_string_to_sign(previous, chunk_sha256_hex),
            provided,
        )
    }

    /// Checks `provided` (raw bytes) against the trailer signature in constant time.
    pub(crate) fn trailer_matches(
        &self,
        final_chunk: &str,
        trailers: &[u8],
        provided: &[u8],
    ) -> bool {
        self.key.verify(
            &self.trailer_string_to_sign(final_chunk, trailers),
            provided,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sha256_constant_is_right() {
        assert_eq!(sha256_hex(b""), EMPTY_SHA256);
    }

    #[test]
    fn signing_key_debug_is_redacted() {
        let key = signing_key("secret", "20130524", "us-east-1", "s3");
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
        let signer = ChunkSigner::new(key, "20130524T000000Z", "s", "AB");
        assert!(!format!("{signer:?}").contains(&signer.key.to_hex()));
        assert_eq!(signer.seed_signature(), "ab");
    }
}

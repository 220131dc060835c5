//! CRC-64/XZ, the checksum COS clients compare with `x-cos-hash-crc64ecma`.
//!
//! ECMA-182 polynomial, reflected, initial value and final XOR all ones: Go's
//! `crc64.ECMA` table and Python `crcmod` with `rev=True`. The `crc-fast`
//! crate computes it with carry-less multiplication where the CPU has it, and
//! combines the CRCs of two pieces into the CRC of their concatenation
//! without reading the bytes again, which is what makes a composite blob's
//! CRC free.

use crc_fast::CrcAlgorithm;

const ALGORITHM: CrcAlgorithm = CrcAlgorithm::Crc64Xz;

/// A running CRC-64/XZ over streamed chunks.
pub(crate) struct Crc64 {
    digest: crc_fast::Digest,
}

impl Crc64 {
    pub(crate) fn new() -> Self {
        Self {
            digest: crc_fast::Digest::new(ALGORITHM),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.digest.update(data);
    }

    pub(crate) fn finish(&self) -> u64 {
        self.digest.finalize()
    }
}

/// The CRC-64/XZ of `data` in one call.
pub fn crc64(data: &[u8]) -> u64 {
    crc_fast::checksum(ALGORITHM, data)
}

/// The CRC of `a ++ b` from `crc(a)`, `crc(b)` and `b.len()`.
pub(crate) fn combine(crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    if len_b == 0 {
        return crc_a;
    }
    crc_fast::checksum_combine(ALGORITHM, crc_a, crc_b, len_b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cos_vectors() {
        assert_eq!(crc64(b"123456789"), 11_051_210_869_376_104_954);
        assert_eq!(crc64(b""), 0);
        assert_eq!(crc64(b"hello world"), 5_981_764_153_023_615_706);
        let mut running = Crc64::new();
        running.update(b"hello");
        running.update(b" world");
        assert_eq!(running.finish(), 5_981_764_153_023_615_706);
    }

    #[test]
    fn combine_matches_the_concatenation() {
        let (a, b) = (b"hello ".as_slice(), b"world".as_slice());
        assert_eq!(combine(crc64(a), crc64(b), 5), crc64(b"hello world"));
        assert_eq!(combine(crc64(a), crc64(b""), 0), crc64(a));
        assert_eq!(combine(crc64(b""), crc64(b), 5), crc64(b));
    }
}

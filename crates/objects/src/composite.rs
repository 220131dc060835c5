//! Composite blobs: a manifest naming plain blobs whose concatenation is the
//! content. Pure logic only (validation, the manifest's text form, the
//! multipart ETag and CRC, range planning); the files live in
//! [`crate::LocalBlobStore`].
//!
//! Manifest text (UTF-8, `\n`-terminated lines):
//!
//! ```text
//! reelflow-composite v1
//! <part count> <total size>
//! <part id> <size> <md5 hex> <crc64 decimal>      one line per part, in order
//! ```
//!
//! The totals are repeated so a truncated or hand-edited manifest is
//! detected rather than served as a shorter object.

use md5::{Digest, Md5};

use crate::{BlobError, BlobWritten, crc, is_composite_id, validate_id};

const HEADER: &str = "reelflow-composite v1";

/// One part of a composite blob: a plain blob and the facts recorded when it
/// was written (its [`BlobWritten`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRef {
    /// The part's blob id (a plain blob, never a composite).
    pub id: String,
    /// Its size in bytes.
    pub size: u64,
    /// Lowercase hex MD5 of its content (the part's ETag).
    pub md5_hex: String,
    /// CRC-64/XZ of its content.
    pub crc64: u64,
}

impl From<&BlobWritten> for PartRef {
    fn from(w: &BlobWritten) -> Self {
        Self {
            id: w.id.clone(),
            size: w.size,
            md5_hex: w.md5_hex.clone(),
            crc64: w.crc64,
        }
    }
}

impl From<BlobWritten> for PartRef {
    fn from(w: BlobWritten) -> Self {
        Self {
            id: w.id,
            size: w.size,
            md5_hex: w.md5_hex,
            crc64: w.crc64,
        }
    }
}

/// A validated list of parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
    parts: Vec<PartRef>,
}

/// A piece of one part to read: `len` bytes from `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) id: String,
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

fn invalid(reason: impl Into<String>) -> BlobError {
    BlobError::InvalidComposite {
        reason: reason.into(),
    }
}

fn is_md5_hex(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Manifest {
    /// Checks the parts: at least one, each a plain blob id with a
    /// lowercase-hex MD5.
    pub(crate) fn new(parts: &[PartRef]) -> Result<Self, BlobError> {
        if parts.is_empty() {
            return Err(invalid("a composite needs at least one part"));
        }
        for part in parts {
            validate_id(&part.id)?;
            if is_composite_id(&part.id) {
                return Err(invalid(format!(
                    "part {} is itself a composite; composites do not nest",
                    part.id
                )));
            }
            if !is_md5_hex(&part.md5_hex) {
                return Err(invalid(format!(
                    "part {} has an MD5 that is not 32 lowercase hex digits: {:?}",
                    part.id, part.md5_hex
                )));
            }
        }
        Ok(Self {
            parts: parts.to_vec(),
        })
    }

    pub(crate) fn parts(&self) -> &[PartRef] {
        &self.parts
    }

    /// Total size: the sum of the parts.
    pub(crate) fn size(&self) -> u64 {
        self.parts.iter().map(|p| p.size).sum()
    }

    /// The S3 multipart ETag: hex MD5 of the concatenated binary part MD5s,
    /// `-`, the part count.
    pub(crate) fn etag(&self) -> String {
        let mut hasher = Md5::new();
        for part in &self.parts {
            // Validated in `new`/`parse`: always 32 hex digits.
            let bytes = hex::decode(&part.md5_hex).unwrap_or_default();
            hasher.update(&bytes);
        }
        format!("{}-{}", hex::encode(hasher.finalize()), self.parts.len())
    }

    /// CRC-64/XZ of the concatenation, combined from the parts' CRCs.
    pub(crate) fn crc64(&self) -> u64 {
        self.parts
            .iter()
            .fold(0, |acc, p| crc::combine(acc, p.crc64, p.size))
    }

    /// The manifest file's content.
    pub(crate) fn encode(&self) -> String {
        let mut text = format!("{HEADER}\n{} {}\n", self.parts.len(), self.size());
        for p in &self.parts {
            text.push_str(&format!("{} {} {} {}\n", p.id, p.size, p.md5_hex, p.crc64));
        }
        text
    }

    /// Reads a manifest written by [`Manifest::encode`]; `id` names the
    /// composite in errors.
    pub(crate) fn parse(id: &str, text: &str) -> Result<Self, BlobError> {
        let corrupt = |detail: &str| BlobError::Corrupt {
            id: id.to_owned(),
            detail: format!("manifest: {detail}"),
        };
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(corrupt("unknown header"));
        }
        let totals = lines.next().ok_or_else(|| corrupt("no totals line"))?;
        let (count, size) = totals
            .split_once(' ')
            .and_then(|(c, s)| Some((c.parse::<usize>().ok()?, s.parse::<u64>().ok()?)))
            .ok_or_else(|| corrupt("malformed totals line"))?;
        let parts = lines
            .map(|line| parse_part(line).ok_or_else(|| corrupt("malformed part line")))
            .collect::<Result<Vec<_>, _>>()?;
        let manifest = Self::new(&parts).map_err(|e| corrupt(&e.to_string()))?;
        if parts.len() != count || manifest.size() != size {
            return Err(corrupt("part count or total size does not match the parts"));
        }
        Ok(manifest)
    }

    /// The pieces of parts that make up bytes `start..start + len`, skipping
    /// empty parts. `start + len` must not exceed [`Manifest::size`].
    pub(crate) fn segments(&self, start: u64, len: u64) -> Vec<Segment> {
        let end = start + len;
        let mut segments = Vec::new();
        let mut part_start = 0u64;
        for part in &self.parts {
            let part_end = part_start + part.size;
            let (from, to) = (start.max(part_start), end.min(part_end));
            if from < to {
                segments.push(Segment {
                    id: part.id.clone(),
                    offset: from - part_start,
                    len: to - from,
                });
            }
            if part_end >= end {
                break;
            }
            part_start = part_end;
        }
        segments
    }
}

fn parse_part(line: &str) -> Option<PartRef> {
    let mut fields = line.split(' ');
    let part = PartRef {
        id: fields.next()?.to_owned(),
        size: fields.next()?.parse().ok()?,
        md5_hex: fields.next()?.to_owned(),
        crc64: fields.next()?.parse().ok()?,
    };
    fields.next().is_none().then_some(part)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crc::crc64;

    fn part(n: u8, content: &[u8]) -> PartRef {
        PartRef {
            id: format!("{:032x}", u128::from(n) + 1),
            size: content.len() as u64,
            md5_hex: hex::encode(Md5::digest(content)),
            crc64: crc64(content),
        }
    }

    fn manifest() -> Manifest {
        Manifest::new(&[
            part(0, b"abc"),
            part(1, b""),
            part(2, b"defg"),
            part(3, b""),
        ])
        .unwrap()
    }

    #[test]
    fn totals_etag_and_crc() {
        let m = manifest();
        assert_eq!(m.size(), 7);
        assert_eq!(m.crc64(), crc64(b"abcdefg"));
        let mut binary = Vec::new();
        for c in [&b"abc"[..], b"", b"defg", b""] {
            binary.extend_from_slice(&Md5::digest(c));
        }
        assert_eq!(m.etag(), format!("{}-4", hex::encode(Md5::digest(&binary))));
    }

    #[test]
    fn encode_parse_roundtrip_and_corruption() {
        let m = manifest();
        let text = m.encode();
        assert_eq!(Manifest::parse("m1", &text).unwrap(), m);
        let truncated: String = text.lines().take(4).map(|l| format!("{l}\n")).collect();
        let broken = [
            String::new(),
            text.replace(HEADER, "reelflow-composite v9"),
            text.replace("4 7\n", "4 8\n"),
            truncated,
            text.replace(" 3 ", " x "),
            format!("{text}extra\n"),
        ];
        for bad in broken {
            let err = Manifest::parse("m1", &bad).unwrap_err();
            assert!(matches!(err, BlobError::Corrupt { .. }), "{bad:?}: {err}");
        }
    }

    #[test]
    fn refuses_bad_parts() {
        let mut nested = part(0, b"x");
        nested.id = format!("m{}", nested.id);
        let mut upper = part(0, b"x");
        upper.md5_hex = upper.md5_hex.to_uppercase();
        let mut hostile = part(0, b"x");
        hostile.id = "../../etc/passwd".into();
        assert!(matches!(
            Manifest::new(&[]),
            Err(BlobError::InvalidComposite { .. })
        ));
        assert!(matches!(
            Manifest::new(&[nested]),
            Err(BlobError::InvalidComposite { .. })
        ));
        assert!(matches!(
            Manifest::new(&[upper]),
            Err(BlobError::InvalidComposite { .. })
        ));
        assert!(matches!(
            Manifest::new(&[hostile]),
            Err(BlobError::InvalidId { .. })
        ));
    }

    #[test]
    fn segments_cover_exactly_the_range() {
        let m = manifest();
        let seg = |id: u8, offset, len| Segment {
            id: format!("{:032x}", u128::from(id) + 1),
            offset,
            len,
        };
        assert_eq!(m.segments(0, 7), vec![seg(0, 0, 3), seg(2, 0, 4)]);
        assert_eq!(m.segments(2, 2), vec![seg(0, 2, 1), seg(2, 0, 1)]);
        assert_eq!(m.segments(4, 2), vec![seg(2, 1, 2)]);
        assert_eq!(m.segments(6, 1), vec![seg(2, 3, 1)]);
        assert_eq!(m.segments(3, 1), vec![seg(2, 0, 1)]);
        assert_eq!(m.segments(0, 0), Vec::new());
    }
}

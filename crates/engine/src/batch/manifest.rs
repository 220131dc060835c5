//! COS inventory manifests: `manifest.json` names the inventory's CSV files (`files[].key`,
//! plain or gzip-compressed), each row one object: `"<bucket>","<key>",…` with the key
//! URL-encoded. When the manifest carries a `fileSchema` (`"Appid, Bucket, Key, Size, …"`),
//! the Bucket and Key columns are found by name; otherwise they are the first two.

use std::io::Read;

use futures::TryStreamExt;

use crate::{Engine, EngineError};

/// Largest manifest or inventory file read (bytes, after decompression).
const MAX_FILE: u64 = 512 * 1024 * 1024;

/// Why a manifest could not be used (the batch fails with this message).
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The manifest or one of its files is missing.
    #[error("{bucket}/{key} does not exist")]
    Missing {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// Not a manifest.
    #[error("{key} is not a COS inventory manifest: {reason}")]
    Invalid {
        /// Key of the manifest or file.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// A parsed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Keys of the inventory files, in the bucket holding the manifest.
    pub files: Vec<String>,
    /// Column of the bucket name.
    pub bucket_column: usize,
    /// Column of the (URL-encoded) key.
    pub key_column: usize,
}

/// Parses `manifest.json`.
pub fn parse_manifest(key: &str, body: &[u8]) -> Result<Manifest, ManifestError> {
    let invalid = |reason: &str| ManifestError::Invalid {
        key: key.to_owned(),
        reason: reason.to_owned(),
    };
    let doc: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| invalid(&format!("not JSON ({e})")))?;
    let files = doc
        .get("files")
        .and_then(|f| f.as_array())
        .ok_or_else(|| invalid("no files array"))?
        .iter()
        .map(|f| f.get("key").and_then(|k| k.as_str()).map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| invalid("a files entry has no key"))?;
    let schema: Vec<String> = doc
        .get("fileSchema")
        .and_then(|s| s.as_str())
        .map(|s| {
            s.split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let column =
        |name: &str, default: usize| schema.iter().position(|c| c == name).unwrap_or(default);
    Ok(Manifest {
        files,
        bucket_column: column("bucket", 0),
        key_column: column("key", 1),
    })
}

/// The `(bucket, key)` rows of an inventory CSV file (already decompressed).
pub fn parse_rows(manifest: &Manifest, text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|line| {
            let fields = split_csv(line);
            let bucket = fields.get(manifest.bucket_column)?;
            let key = fields.get(manifest.key_column)?;
            let key = percent_encoding::percent_decode_str(&key.replace('+', "%20"))
                .decode_utf8()
                .ok()?
                .into_owned();
            Some((bucket.clone(), key))
        })
        .collect()
}

/// One CSV line's fields (RFC 4180 quoting, `""` for a quote).
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

impl Engine {
    /// The bytes of object `bucket/key` (at most [`MAX_FILE`]), gunzipped when the key ends in
    /// `.gz` or the body starts with the gzip magic.
    pub(crate) async fn read_small_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Vec<u8>, ManifestError> {
        let missing = || ManifestError::Missing {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        };
        let record = self
            .store()
            .get_object(bucket, key)
            .await
            .map_err(EngineError::from)?;
        let record = record.ok_or_else(missing)?;
        if record.size > MAX_FILE {
            return Err(ManifestError::Invalid {
                key: key.to_owned(),
                reason: format!("larger than {MAX_FILE} bytes"),
            });
        }
        let stream = self
            .blobs()
            .get(&record.blob_id, None)
            .await
            .map_err(EngineError::from)?;
        let body = stream
            .try_fold(Vec::new(), |mut acc, chunk| async move {
                acc.extend_from_slice(&chunk);
                Ok(acc)
            })
            .await
            .map_err(|e| ManifestError::Invalid {
                key: key.to_owned(),
                reason: format!("could not be read ({e})"),
            })?;
        if key.ends_with(".gz") || body.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .take(MAX_FILE)
                .read_to_end(&mut out)
                .map_err(|e| ManifestError::Invalid {
                    key: key.to_owned(),
                    reason: format!("not gzip ({e})"),
                })?;
            return Ok(out);
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_name_their_files_and_columns() {
        let m = parse_manifest(
            "m.json",
            br#"{"sourceBucket":"b-1","fileFormat":"CSV","fileSchema":"Appid, Bucket, Key, Size",
                "files":[{"key":"inv/data/1.csv.gz","size":10}]}"#,
        )
        .unwrap();
        assert_eq!(m.files, vec!["inv/data/1.csv.gz".to_owned()]);
        assert_eq!((m.bucket_column, m.key_column), (1, 2));
        let rows = parse_rows(&m, "\"125\",\"b-1\",\"in/a%20b%2Cc.mp4\",\"10\"\n\n");
        assert_eq!(rows, vec![("b-1".to_owned(), "in/a b,c.mp4".to_owned())]);
    }

    #[test]
    fn csv_quotes_are_unescaped() {
        assert_eq!(split_csv(r#""a,b","c""d",e"#), vec!["a,b", "c\"d", "e"]);
    }

    #[test]
    fn bad_manifests_are_refused_by_name() {
        let e = parse_manifest("x/manifest.json", b"{}").unwrap_err();
        assert!(e.to_string().contains("x/manifest.json"), "{e}");
    }
}

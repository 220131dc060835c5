//! GET Bucket (List Objects): `ListBucketResult` with prefix, marker, max-keys, delimiter and
//! `encoding-type=url`.
//!
//! The store lists keys with a prefix after a marker, in byte order. Delimiter grouping is done
//! here: the first key below a common prefix yields the `CommonPrefixes` entry, and the scan
//! then jumps past every other key under that prefix instead of reading them.

use axum::response::Response;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reelflow_model::XmlElement;
use reelflow_model::object::ObjectRecord;

use super::{iso8601_ms, quoted_etag, require_bucket};
use crate::context::query_value;
use crate::state::AppState;
use crate::xml::xml_response;
use crate::{ApiError, Ctx};

/// Default and largest `max-keys`.
const MAX_KEYS: u32 = 1000;

/// What `encoding-type=url` leaves as is: RFC 3986 unreserved characters and `/`. Everything
/// else (including `+` and space) is percent-encoded, so both `unquote` and `unquote_plus`
/// decode the values correctly.
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Appended to a common prefix to jump the scan past the keys under it. No key under the
/// prefix sorts after this unless it continues with four U+10FFFF characters; such keys are
/// still skipped, only one by one.
const JUMP: &str = "\u{10FFFF}\u{10FFFF}\u{10FFFF}\u{10FFFF}";

/// The parsed listing parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ListParams {
    pub prefix: String,
    pub marker: String,
    pub delimiter: String,
    pub max_keys: u32,
    pub url_encoding: bool,
}

impl ListParams {
    pub(super) fn parse(query: &[(String, String)]) -> Result<Self, ApiError> {
        let text = |name: &str| query_value(query, name).unwrap_or("").to_owned();
        let max_keys = match query_value(query, "max-keys").filter(|v| !v.is_empty()) {
            None => u64::from(MAX_KEYS),
            Some(v) => v.trim().parse::<u64>().map_err(|_| {
                ApiError::invalid(format!(
                    "max-keys must be a non-negative integer, got {v:?}"
                ))
            })?,
        };
        let url_encoding = url_encoding(query)?;
        Ok(Self {
            prefix: text("prefix"),
            marker: text("marker"),
            delimiter: text("delimiter"),
            max_keys: u32::try_from(max_keys.min(u64::from(MAX_KEYS))).unwrap_or(MAX_KEYS),
            url_encoding,
        })
    }
}

/// One listing entry, in key order.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Entry {
    /// An object.
    Object(ObjectRecord),
    /// A `CommonPrefixes` group.
    Prefix(String),
}

impl Entry {
    pub(super) fn name(&self) -> &str {
        match self {
            Entry::Object(record) => &record.key,
            Entry::Prefix(prefix) => prefix,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Page {
    pub entries: Vec<Entry>,
    pub truncated: bool,
}

/// `GET /`: lists the bucket (`list-type=2` selects ListObjectsV2, [`super::list_v2`]).
pub(super) async fn list(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    if query_value(&ctx.query, "list-type") == Some("2") {
        return super::list_v2::list(state, ctx).await;
    }
    let params = ListParams::parse(&ctx.query)?;
    let page = fetch_page(state, ctx, &params).await?;
    Ok(xml_response(&render(&ctx.bucket, &params, &page)))
}

/// Checks the bucket and reads one page of it.
pub(super) async fn fetch_page(
    state: &AppState,
    ctx: &Ctx,
    params: &ListParams,
) -> Result<Page, ApiError> {
    require_bucket(state, &ctx.bucket).await?;
    collect_page(params, |after, limit| {
        let store = state.store.clone();
        let bucket = ctx.bucket.clone();
        let prefix = params.prefix.clone();
        async move { store.list_objects(&bucket, &prefix, &after, limit).await }
    })
    .await
    .map_err(ApiError::from)
}

/// Builds one page from `fetch(after, limit)`, which returns keys with the prefix strictly after
/// `after` in byte order.
pub(super) async fn collect_page<F, Fut, E>(params: &ListParams, mut fetch: F) -> Result<Page, E>
where
    F: FnMut(String, u32) -> Fut,
    Fut: Future<Output = Result<Vec<ObjectRecord>, E>>,
{
    let max = params.max_keys as usize;
    if max == 0 {
        return Ok(Page {
            entries: Vec::new(),
            truncated: false,
        });
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut after = params.marker.clone();
    // The latest common prefix; keys under it are skipped (they sort together).
    let mut group: Option<String> = None;
    loop {
        let wanted = max.saturating_sub(entries.len()) + 1;
        let limit = u32::try_from(wanted.min(MAX_KEYS as usize + 1)).unwrap_or(MAX_KEYS + 1);
        let batch = fetch(after.clone(), limit).await?;
        let exhausted = batch.len() < limit as usize;
        for record in batch {
            if record.key > after {
                after.clone_from(&record.key);
            }
            if group.as_deref().is_some_and(|g| record.key.starts_with(g)) {
                continue;
            }
            let entry = match common_prefix(&record.key, &params.prefix, &params.delimiter) {
                Some(prefix) => {
                    // Resume the next query past every key under this prefix.
                    let jump = format!("{prefix}{JUMP}");
                    if jump > after {
                        after = jump;
                    }
                    group = Some(prefix.clone());
                    if prefix.as_str() <= params.marker.as_str() {
                        // The marker is this prefix or lies inside it: already listed.
                        continue;
                    }
                    Entry::Prefix(prefix)
                }
                None => Entry::Object(record),
            };
            if entries.len() == max {
                return Ok(Page {
                    entries,
                    truncated: true,
                });
            }
            entries.push(entry);
        }
        if exhausted {
            return Ok(Page {
                entries,
                truncated: false,
            });
        }
    }
}

/// The common prefix `key` rolls up into: the prefix plus everything up to and including the
/// first delimiter after it.
pub(super) fn common_prefix(key: &str, prefix: &str, delimiter: &str) -> Option<String> {
    if delimiter.is_empty() {
        return None;
    }
    let rest = key.strip_prefix(prefix)?;
    let at = rest.find(delimiter)?;
    Some(key[..prefix.len() + at + delimiter.len()].to_owned())
}

fn render(bucket: &str, params: &ListParams, page: &Page) -> XmlElement {
    let enc = |s: &str| encode_if(params.url_encoding, s);
    let mut doc = XmlElement::new("ListBucketResult").with_leaf("Name", bucket);
    if params.url_encoding {
        doc.push_leaf("EncodingType", "url");
    }
    doc.push_leaf("Prefix", enc(&params.prefix));
    doc.push_leaf("Marker", enc(&params.marker));
    doc.push_leaf("MaxKeys", params.max_keys.to_string());
    doc.push_leaf("Delimiter", enc(&params.delimiter));
    doc.push_leaf("IsTruncated", page.truncated.to_string());
    if page.truncated
        && let Some(last) = page.entries.last()
    {
        doc.push_leaf("NextMarker", enc(last.name()));
    }
    push_entries(&mut doc, bucket, page, true, &enc);
    doc
}

/// Appends `Contents` (with `Owner` when `with_owner`) and `CommonPrefixes` elements.
pub(super) fn push_entries(
    doc: &mut XmlElement,
    bucket: &str,
    page: &Page,
    with_owner: bool,
    enc: &dyn Fn(&str) -> String,
) {
    let owner = owner_id(bucket);
    for entry in &page.entries {
        match entry {
            Entry::Object(record) => {
                let mut contents = XmlElement::new("Contents")
                    .with_leaf("Key", enc(&record.key))
                    .with_leaf("LastModified", iso8601_ms(record.last_modified_ms))
                    .with_leaf("ETag", quoted_etag(&record.etag))
                    .with_leaf("Size", record.size.to_string());
                if with_owner {
                    contents.push(
                        XmlElement::new("Owner")
                            .with_leaf("ID", owner.clone())
                            .with_leaf("DisplayName", owner.clone()),
                    );
                }
                doc.push(contents.with_leaf("StorageClass", "STANDARD"));
            }
            Entry::Prefix(prefix) => {
                doc.push(XmlElement::new("CommonPrefixes").with_leaf("Prefix", enc(prefix)));
            }
        }
    }
}

/// The `encoding-type` parameter: absent or empty → `false`, `url` → `true`, else 400.
pub(super) fn url_encoding(query: &[(String, String)]) -> Result<bool, ApiError> {
    match query_value(query, "encoding-type").unwrap_or("") {
        "" => Ok(false),
        v if v.eq_ignore_ascii_case("url") => Ok(true),
        other => Err(ApiError::invalid(format!(
            "encoding-type must be \"url\", got {other:?}"
        ))),
    }
}

/// `value` percent-encoded for `encoding-type=url`, or as is.
pub(super) fn encode_if(url_encoding: bool, value: &str) -> String {
    if url_encoding {
        utf8_percent_encode(value, URL_ENCODE).to_string()
    } else {
        value.to_owned()
    }
}

/// The owner shown in listings: the bucket's APPID suffix (`name-1250000000`) when it has one.
fn owner_id(bucket: &str) -> String {
    match bucket.rsplit_once('-') {
        Some((_, appid)) if !appid.is_empty() && appid.bytes().all(|b| b.is_ascii_digit()) => {
            appid.to_owned()
        }
        _ => "reelflow".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::convert::Infallible;

    use reelflow_model::object::ObjectOrigin;

    use super::*;

    fn record(key: &str) -> ObjectRecord {
        ObjectRecord {
            bucket: "b".into(),
            key: key.into(),
            blob_id: String::new(),
            size: 1,
            etag: "d41d8cd98f00b204e9800998ecf8427e".into(),
            crc64: None,
            content_type: "application/octet-stream".into(),
            last_modified_ms: 0,
            user_meta: Vec::new(),
            origin: ObjectOrigin::Upload,
        }
    }

    fn params(prefix: &str, marker: &str, delimiter: &str, max_keys: u32) -> ListParams {
        ListParams {
            prefix: prefix.into(),
            marker: marker.into(),
            delimiter: delimiter.into(),
            max_keys,
            url_encoding: false,
        }
    }

    /// Runs [`collect_page`] over an in-memory key set; returns entry names, the truncation flag
    /// and how many records the store returned in total.
    fn run(keys: &[&str], p: &ListParams) -> (Vec<String>, bool, usize) {
        let mut sorted: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        sorted.sort();
        let read = RefCell::new(0usize);
        let fetch = |after: String, limit: u32| {
            let out: Vec<ObjectRecord> = sorted
                .iter()
                .filter(|k| k.starts_with(&p.prefix) && k.as_str() > after.as_str())
                .take(limit as usize)
                .map(|k| record(k))
                .collect();
            *read.borrow_mut() += out.len();
            async move { Ok::<_, Infallible>(out) }
        };
        let page = futures::executor::block_on(collect_page(p, fetch)).unwrap();
        let names = page.entries.iter().map(|e| e.name().to_owned()).collect();
        (names, page.truncated, read.into_inner())
    }

    const KEYS: &[&str] = &[
        "a.mp4",
        "b/1.mp4",
        "b/2.mp4",
        "b/3/x.mp4",
        "c.mp4",
        "d/1",
        "d/2",
        "e",
    ];

    #[test]
    fn plain_listing_and_paging() {
        let (names, truncated, _) = run(KEYS, &params("", "", "", 1000));
        assert_eq!(names.len(), KEYS.len());
        assert!(!truncated);
        let (names, truncated, _) = run(KEYS, &params("", "", "", 3));
        assert_eq!(names, ["a.mp4", "b/1.mp4", "b/2.mp4"]);
        assert!(truncated);
        let (names, truncated, _) = run(KEYS, &params("", "b/2.mp4", "", 3));
        assert_eq!(names, ["b/3/x.mp4", "c.mp4", "d/1"]);
        assert!(truncated);
        let (names, truncated, _) = run(KEYS, &params("", "d/1", "", 3));
        assert_eq!(names, ["d/2", "e"]);
        assert!(!truncated);
        // Exactly max-keys left: not truncated.
        let (names, truncated, _) = run(KEYS, &params("", "d/1", "", 2));
        assert_eq!(names, ["d/2", "e"]);
        assert!(!truncated);
    }

    #[test]
    fn delimiter_groups_and_skips() {
        let (names, truncated, _) = run(KEYS, &params("", "", "/", 1000));
        assert_eq!(names, ["a.mp4", "b/", "c.mp4", "d/", "e"]);
        assert!(!truncated);
        let (names, _, _) = run(KEYS, &params("b/", "", "/", 1000));
        assert_eq!(names, ["b/1.mp4", "b/2.mp4", "b/3/"]);
        // Paging across groups: the marker is the group, which is not repeated.
        let (names, truncated, _) = run(KEYS, &params("", "", "/", 2));
        assert_eq!(names, ["a.mp4", "b/"]);
        assert!(truncated);
        let (names, truncated, _) = run(KEYS, &params("", "b/", "/", 2));
        assert_eq!(names, ["c.mp4", "d/"]);
        assert!(truncated);
        let (names, truncated, _) = run(KEYS, &params("", "d/", "/", 2));
        assert_eq!(names, ["e"]);
        assert!(!truncated);
        // A marker inside a group skips the rest of that group.
        let (names, _, _) = run(KEYS, &params("", "b/1.mp4", "/", 10));
        assert_eq!(names, ["c.mp4", "d/", "e"]);
        // The group is the last entry and exactly fills the page.
        let (names, truncated, _) = run(&["a", "b/1", "b/2"], &params("", "", "/", 2));
        assert_eq!(names, ["a", "b/"]);
        assert!(!truncated);
    }

    #[test]
    fn large_groups_are_jumped_not_read() {
        let mut keys: Vec<String> = (0..5000).map(|i| format!("big/{i:05}")).collect();
        keys.push("z".into());
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let (names, truncated, read) = run(&refs, &params("", "", "/", 1000));
        assert_eq!(names, ["big/", "z"]);
        assert!(!truncated);
        assert!(read < 2100, "read {read} records");
    }

    #[test]
    fn multi_character_delimiter() {
        let (names, _, _) = run(&["a--b", "a--c", "a-b"], &params("", "", "--", 10));
        assert_eq!(names, ["a--", "a-b"]);
    }

    #[test]
    fn params_parse() {
        let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect()
        };
        let p = ListParams::parse(&q(&[])).unwrap();
        assert_eq!(p, params("", "", "", 1000));
        let p = ListParams::parse(&q(&[("max-keys", "5000"), ("encoding-type", "url")])).unwrap();
        assert_eq!((p.max_keys, p.url_encoding), (1000, true));
        assert!(ListParams::parse(&q(&[("max-keys", "-1")])).is_err());
        assert!(ListParams::parse(&q(&[("encoding-type", "base64")])).is_err());
    }

    #[test]
    fn url_encoding_and_owner() {
        let p = ListParams {
            url_encoding: true,
            ..params("dir one/", "", "/", 10)
        };
        let page = Page {
            entries: vec![Entry::Object(record("dir one/a+b&c.mp4"))],
            truncated: false,
        };
        let xml = render("media-1250000000", &p, &page).to_xml();
        assert!(xml.contains("<Key>dir%20one/a%2Bb%26c.mp4</Key>"), "{xml}");
        assert!(xml.contains("<Prefix>dir%20one/</Prefix>"), "{xml}");
        assert!(xml.contains("<ID>1250000000</ID>"), "{xml}");
        assert!(!xml.contains("NextMarker"));
    }
}

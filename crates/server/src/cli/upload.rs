//! `put`: one PUT for small files; above the threshold a multipart upload whose parts go up a
//! few at a time, and which a rerun **resumes** instead of starting over.
//!
//! Resuming needs no local state: the server already knows. A rerun asks for the unfinished
//! uploads of the same key (ListMultipartUploads), takes the newest, lists its parts
//! (ListParts) and keeps each part whose size is the size this file's part of that number must
//! have and whose ETag is the MD5 of those bytes of the file. Only the other parts are sent, so
//! a changed file or a different part size costs a re-upload, never a wrong object; Complete
//! then has the server check every ETag once more.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use futures::{StreamExt, TryStreamExt};
use md5::{Digest, Md5};
use reelflow_model::XmlElement;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::command::{Outcome, Session};
use super::cos::{CosPath, leaf};
use super::output::{byte_bar, human_bytes, print_json};

const MIB: u64 = 1024 * 1024;

/// `put` arguments.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The file to upload.
    pub file: PathBuf,
    /// `cos://bucket/key`; a key ending in `/` (or none) gets the file's name appended.
    pub dest: CosPath,
    /// Files larger than this go up in parts (`16MiB`, `100M`, bytes).
    #[arg(long, default_value = "16MiB", value_parser = parse_size)]
    pub threshold: u64,
    /// Part size of multipart uploads (at least 1 MiB).
    #[arg(long, default_value = "8MiB", value_parser = parse_size)]
    pub part_size: u64,
    /// Parts sent at once.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    /// Upper bound on the upload rate in bytes per second (`20MiB`); none by default.
    #[arg(long, value_parser = parse_size)]
    pub limit_rate: Option<u64>,
    /// Content-Type of the object.
    #[arg(long)]
    pub content_type: Option<String>,
}

/// A size such as `8388608`, `8MiB`, `8M`, `512KiB`, `1G`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => MIB,
        "g" | "gb" | "gib" => 1024 * MIB,
        _ => return Err(format!("{text:?}: unknown unit {unit:?}")),
    };
    Ok(n * factor)
}

/// `put`.
pub async fn put(session: &Session, args: PutArgs) -> Result<Outcome> {
    let mut dest = args.dest.clone();
    if dest.key.is_empty() || dest.key.ends_with('/') {
        let name = args.file.file_name().context("the file has no name")?;
        dest.key.push_str(&name.to_string_lossy());
    }
    let size = tokio::fs::metadata(&args.file)
        .await
        .with_context(|| format!("reading {}", args.file.display()))?
        .len();
    let summary = if size > args.threshold {
        multipart(session, &args, &dest, size).await?
    } else {
        single(session, &args, &dest, size).await?
    };
    if session.json() {
        print_json(&summary);
    } else {
        println!(
            "{} -> {} ({}, ETag {})",
            args.file.display(),
            dest,
            human_bytes(summary["size"].as_u64().unwrap_or(size)),
            summary["etag"].as_str().unwrap_or("")
        );
        if let Some(reused) = summary["parts_reused"].as_u64().filter(|n| *n > 0) {
            println!(
                "resumed upload {}: {reused} part(s) were already there",
                summary["upload_id"]
            );
        }
    }
    Ok(Outcome::Ok)
}

async fn single(
    session: &Session,
    args: &PutArgs,
    dest: &CosPath,
    size: u64,
) -> Result<serde_json::Value> {
    let body = tokio::fs::read(&args.file)
        .await
        .with_context(|| format!("reading {}", args.file.display()))?;
    // A pipe or a device (`/dev/stdin`) reports size 0: what was read is the size.
    let size = size.max(body.len() as u64);
    let bar = byte_bar(session.output, size, &dest.key);
    let mut request = session
        .cos
        .object(Method::PUT, &dest.bucket, &dest.key, &[])?;
    if let Some(ct) = &args.content_type {
        request = request.header("content-type", ct);
    }
    let response = session.cos.client.execute(request.body(body)).await?;
    bar.finish_and_clear();
    Ok(json!({"bucket": dest.bucket, "key": dest.key, "size": size,
        "etag": etag_of(&response), "multipart": false}))
}

fn etag_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim_matches('"')
        .to_owned()
}

/// How a file splits into parts.
#[derive(Debug, Clone, Copy)]
struct Layout {
    size: u64,
    part_size: u64,
}

impl Layout {
    fn count(self) -> u32 {
        self.size.div_ceil(self.part_size) as u32
    }

    /// Offset and length of part `n` (1-based).
    fn part(self, n: u32) -> (u64, u64) {
        let start = u64::from(n - 1) * self.part_size;
        (start, self.part_size.min(self.size - start))
    }
}

async fn multipart(
    session: &Session,
    args: &PutArgs,
    dest: &CosPath,
    size: u64,
) -> Result<serde_json::Value> {
    if args.part_size < MIB {
        bail!("--part-size must be at least 1 MiB");
    }
    let layout = Layout {
        size,
        part_size: args.part_size,
    };
    if layout.count() > 10_000 {
        bail!(
            "{} parts: use a larger --part-size (at most 10000 parts)",
            layout.count()
        );
    }
    let (upload_id, reused) = match existing_upload(session, dest).await? {
        Some(id) => {
            let parts = reusable_parts(session, dest, &id, &args.file, layout).await?;
            (id, parts)
        }
        None => (initiate(session, args, dest).await?, BTreeMap::new()),
    };
    let missing: Vec<u32> = (1..=layout.count())
        .filter(|n| !reused.contains_key(n))
        .collect();
    let bar = byte_bar(session.output, size, &dest.key);
    bar.set_position(reused.keys().map(|n| layout.part(*n).1).sum());
    let sender = PartSender {
        session,
        dest,
        upload_id: &upload_id,
        file: &args.file,
        layout,
        limiter: Limiter::new(args.limit_rate),
    };
    let uploaded: Vec<(u32, String)> = futures::stream::iter(missing.iter().copied())
        .map(|n| {
            let (sender, bar) = (&sender, &bar);
            async move {
                let etag = sender.send(n).await?;
                bar.inc(layout.part(n).1);
                Ok::<_, anyhow::Error>((n, etag))
            }
        })
        .buffer_unordered(args.parallel.max(1))
        .try_collect()
        .await?;
    let mut all = reused.clone();
    all.extend(uploaded);
    let etag = complete(session, dest, &upload_id, &all).await?;
    bar.finish_and_clear();
    Ok(
        json!({"bucket": dest.bucket, "key": dest.key, "size": size, "etag": etag,
        "multipart": true, "upload_id": upload_id, "part_size": layout.part_size,
        "parts_total": layout.count(), "parts_reused": reused.len(),
        "parts_uploaded": missing.len(), "resumed": !reused.is_empty()}),
    )
}

/// The newest unfinished upload of exactly `dest.key`, if any.
async fn existing_upload(session: &Session, dest: &CosPath) -> Result<Option<String>> {
    let query = [("uploads", String::new()), ("prefix", dest.key.clone())];
    let doc = session
        .cos
        .object_xml(Method::GET, &dest.bucket, "", &query)
        .await?
        .context("empty ListMultipartUploads answer")?;
    Ok(doc
        .children_named("Upload")
        .filter(|u| leaf(u, "Key") == dest.key)
        .max_by_key(|u| leaf(u, "Initiated").to_owned())
        .map(|u| leaf(u, "UploadId").to_owned()))
}

/// The parts of upload `id` that hold exactly this file's bytes: part number → ETag.
async fn reusable_parts(
    session: &Session,
    dest: &CosPath,
    id: &str,
    file: &Path,
    layout: Layout,
) -> Result<BTreeMap<u32, String>> {
    let mut kept = BTreeMap::new();
    for (n, etag, size) in list_parts(session, dest, id).await? {
        if n == 0 || n > layout.count() || size != layout.part(n).1 {
            continue;
        }
        let (offset, len) = layout.part(n);
        let bytes = read_part(file, offset, len).await?;
        if hex::encode(Md5::digest(&bytes)) == etag {
            kept.insert(n, etag);
        }
    }
    Ok(kept)
}

/// Every part of upload `id` as (number, ETag without quotes, size), following the markers.
async fn list_parts(
    session: &Session,
    dest: &CosPath,
    id: &str,
) -> Result<Vec<(u32, String, u64)>> {
    let (mut parts, mut marker) = (Vec::new(), String::from("0"));
    loop {
        let query = [
            ("uploadId", id.to_owned()),
            ("max-parts", "1000".to_owned()),
            ("part-number-marker", marker.clone()),
        ];
        let doc: XmlElement = session
            .cos
            .object_xml(Method::GET, &dest.bucket, &dest.key, &query)
            .await?
            .context("empty ListParts answer")?;
        parts.extend(doc.children_named("Part").map(|p| {
            (
                leaf(p, "PartNumber").parse().unwrap_or(0),
                leaf(p, "ETag").trim_matches('"').to_owned(),
                leaf(p, "Size").parse().unwrap_or(0),
            )
        }));
        if leaf(&doc, "IsTruncated") != "true" {
            return Ok(parts);
        }
        marker = leaf(&doc, "NextPartNumberMarker").to_owned();
    }
}

async fn initiate(session: &Session, args: &PutArgs, dest: &CosPath) -> Result<String> {
    let mut request = session.cos.object(
        Method::POST,
        &dest.bucket,
        &dest.key,
        &[("uploads", String::new())],
    )?;
    if let Some(ct) = &args.content_type {
        request = request.header("content-type", ct);
    }
    let body = session.cos.client.execute(request).await?.bytes().await?;
    let doc = XmlElement::parse(&body).context("malformed InitiateMultipartUpload answer")?;
    Ok(leaf(&doc, "UploadId").to_owned())
}

async fn complete(
    session: &Session,
    dest: &CosPath,
    id: &str,
    parts: &BTreeMap<u32, String>,
) -> Result<String> {
    let mut doc = XmlElement::new("CompleteMultipartUpload");
    for (n, etag) in parts {
        doc.push(
            XmlElement::new("Part")
                .with_leaf("PartNumber", n.to_string())
                .with_leaf("ETag", format!("\"{etag}\"")),
        );
    }
    let request = session
        .cos
        .object(
            Method::POST,
            &dest.bucket,
            &dest.key,
            &[("uploadId", id.to_owned())],
        )?
        .header("content-type", "application/xml")
        .body(doc.to_xml());
    let body = session.cos.client.execute(request).await?.bytes().await?;
    let answer = XmlElement::parse(&body).context("malformed CompleteMultipartUpload answer")?;
    Ok(leaf(&answer, "ETag").trim_matches('"').to_owned())
}

async fn read_part(file: &Path, offset: u64, len: u64) -> Result<Vec<u8>> {
    let mut f = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("opening {}", file.display()))?;
    f.seek(std::io::SeekFrom::Start(offset)).await?;
    let mut buf = vec![0; len as usize];
    f.read_exact(&mut buf)
        .await
        .with_context(|| format!("reading {} (did it shrink?)", file.display()))?;
    Ok(buf)
}

/// What sending one part needs.
struct PartSender<'a> {
    session: &'a Session,
    dest: &'a CosPath,
    upload_id: &'a str,
    file: &'a Path,
    layout: Layout,
    limiter: Limiter,
}

impl PartSender<'_> {
    /// Uploads part `n` and returns its ETag.
    async fn send(&self, n: u32) -> Result<String> {
        let (offset, len) = self.layout.part(n);
        self.limiter.wait_for(len).await;
        let bytes = read_part(self.file, offset, len).await?;
        let query = [
            ("partNumber", n.to_string()),
            ("uploadId", self.upload_id.to_owned()),
        ];
        let request = self
            .session
            .cos
            .object(Method::PUT, &self.dest.bucket, &self.dest.key, &query)?
            .body(bytes);
        let response = self
            .session
            .cos
            .client
            .execute(request)
            .await
            .with_context(|| format!("uploading part {n}"))?;
        Ok(etag_of(&response))
    }
}

/// `--limit-rate`: each part waits until the bytes sent before it fit the rate.
struct Limiter {
    rate: Option<u64>,
    start: Instant,
    booked: Arc<AtomicU64>,
}

impl Limiter {
    fn new(rate: Option<u64>) -> Self {
        Self {
            rate: rate.filter(|r| *r > 0),
            start: Instant::now(),
            booked: Arc::default(),
        }
    }

    async fn wait_for(&self, len: u64) {
        let Some(rate) = self.rate else { return };
        let before = self.booked.fetch_add(len, Ordering::SeqCst);
        let due = self.start + Duration::from_secs_f64(before as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8MiB"), Ok(8 * MIB));
        assert_eq!(parse_size("16M"), Ok(16 * MIB));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("8 parsecs").is_err());
    }

    #[test]
    fn layouts_end_with_a_short_part() {
        let l = Layout {
            size: 20 * MIB + 5,
            part_size: 8 * MIB,
        };
        assert_eq!(l.count(), 3);
        assert_eq!(l.part(1), (0, 8 * MIB));
        assert_eq!(l.part(3), (16 * MIB, 4 * MIB + 5));
    }
}

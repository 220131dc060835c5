//! `get`, `ls`, `rm` and `mb`: buckets and objects through the COS object API.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use reelflow_model::XmlElement;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::command::{Outcome, Session};
use super::cos::{CosPath, leaf};
use super::output::{Table, byte_bar, human_bytes, print_json};

/// `get` arguments.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The object.
    pub source: CosPath,
    /// Where to write it (default: the key's last segment in the current directory; a
    /// directory means that name inside it).
    pub dest: Option<PathBuf>,
}

/// `ls` arguments.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// `cos://bucket/prefix`; none lists the buckets.
    pub location: Option<CosPath>,
    /// Every key under the prefix, not only the next level.
    #[arg(short, long)]
    pub recursive: bool,
}

/// `rm` arguments.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Objects to delete.
    #[arg(required = true)]
    pub locations: Vec<CosPath>,
    /// Delete every key under each location (a prefix).
    #[arg(short, long)]
    pub recursive: bool,
}

/// One entry of a listing.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    size: u64,
    modified: String,
    etag: String,
}

/// `ls`.
pub async fn ls(session: &Session, args: LsArgs) -> Result<Outcome> {
    let Some(location) = args.location else {
        return list_buckets(session).await;
    };
    let delimiter = if args.recursive { "" } else { "/" };
    let (entries, prefixes) = list_objects(session, &location, delimiter).await?;
    if session.json() {
        let objects: Vec<Value> = entries
            .iter()
            .map(|e| json!({"key": e.key, "size": e.size, "last_modified": e.modified, "etag": e.etag}))
            .collect();
        print_json(&json!({"bucket": location.bucket, "prefix": location.key,
            "objects": objects, "prefixes": prefixes}));
        return Ok(Outcome::Ok);
    }
    let mut table = Table::new(&["LAST MODIFIED", "SIZE", "KEY"]);
    for p in prefixes {
        table.row(vec![String::new(), "PRE".into(), p]);
    }
    for e in entries {
        table.row(vec![e.modified, human_bytes(e.size), e.key]);
    }
    table.print();
    Ok(Outcome::Ok)
}

async fn list_buckets(session: &Session) -> Result<Outcome> {
    let request =
        session
            .cos
            .client
            .request(Method::GET, &super::client::Target::server("/"), &[], &[])?;
    let body = session.cos.client.execute(request).await?.text().await?;
    let doc = XmlElement::parse(body.as_bytes()).context("malformed ListBuckets answer")?;
    let buckets: Vec<(String, String)> = doc
        .child("Buckets")
        .into_iter()
        .flat_map(|b| b.children_named("Bucket"))
        .map(|b| {
            (
                leaf(b, "Name").to_owned(),
                leaf(b, "CreationDate").to_owned(),
            )
        })
        .collect();
    if session.json() {
        let list: Vec<Value> = buckets
            .iter()
            .map(|(name, created)| json!({"name": name, "created": created}))
            .collect();
        print_json(&json!({ "buckets": list }));
    } else {
        let mut table = Table::new(&["CREATED", "BUCKET"]);
        for (name, created) in buckets {
            table.row(vec![created, name]);
        }
        table.print();
    }
    Ok(Outcome::Ok)
}

/// Every object (and, with a delimiter, common prefix) under `location`, following markers.
async fn list_objects(
    session: &Session,
    location: &CosPath,
    delimiter: &str,
) -> Result<(Vec<Entry>, Vec<String>)> {
    let (mut entries, mut prefixes, mut marker) = (Vec::new(), Vec::new(), String::new());
    loop {
        let query = [
            ("prefix", location.key.clone()),
            ("delimiter", delimiter.to_owned()),
            ("marker", marker.clone()),
            ("max-keys", "1000".to_owned()),
        ];
        let page = session
            .cos
            .object_xml(Method::GET, &location.bucket, "", &query)
            .await?
            .context("empty ListObjects answer")?;
        entries.extend(page.children_named("Contents").map(|c| Entry {
            key: leaf(c, "Key").to_owned(),
            size: leaf(c, "Size").parse().unwrap_or(0),
            modified: leaf(c, "LastModified").to_owned(),
            etag: leaf(c, "ETag").trim_matches('"').to_owned(),
        }));
        prefixes.extend(
            page.children_named("CommonPrefixes")
                .map(|p| leaf(p, "Prefix").to_owned()),
        );
        if leaf(&page, "IsTruncated") != "true" {
            return Ok((entries, prefixes));
        }
        marker = match page.text_of("NextMarker").filter(|m| !m.is_empty()) {
            Some(next) => next.to_owned(),
            None => entries.last().map(|e| e.key.clone()).unwrap_or_default(),
        };
    }
}

/// `rm`.
pub async fn rm(session: &Session, args: RmArgs) -> Result<Outcome> {
    let mut deleted = Vec::new();
    for location in &args.locations {
        let keys = if args.recursive {
            let (entries, _) = list_objects(session, location, "").await?;
            entries.into_iter().map(|e| e.key).collect()
        } else {
            vec![location.key.clone()]
        };
        for key in keys {
            let request = session
                .cos
                .object(Method::DELETE, &location.bucket, &key, &[])?;
            session.cos.client.execute(request).await?;
            if !session.json() {
                println!("deleted cos://{}/{key}", location.bucket);
            }
            deleted.push(format!("cos://{}/{key}", location.bucket));
        }
    }
    if session.json() {
        print_json(&json!({ "deleted": deleted }));
    }
    Ok(Outcome::Ok)
}

/// `mb`.
pub async fn mb(session: &Session, bucket: &str) -> Result<Outcome> {
    let name = bucket.trim_start_matches("cos://").trim_end_matches('/');
    let created = session.cos.create_bucket(name).await?;
    if session.json() {
        print_json(&json!({"bucket": name, "created": created}));
    } else if created {
        println!("created bucket {name}");
    } else {
        println!("bucket {name} already exists");
    }
    Ok(Outcome::Ok)
}

/// `get`: streams the body into a temporary file beside the destination, renamed into place
/// when complete, so an interrupted download never leaves a truncated file under the name.
pub async fn get(session: &Session, args: GetArgs) -> Result<Outcome> {
    let dest = destination(&args.source, args.dest)?;
    let request = session
        .cos
        .object(Method::GET, &args.source.bucket, &args.source.key, &[])?;
    let mut response = session.cos.client.execute(request).await?;
    let total = response.content_length().unwrap_or(0);
    let bar = byte_bar(session.output, total, &args.source.key);
    let mut partial_name = dest.file_name().unwrap_or_default().to_os_string();
    partial_name.push(".reelflow-part");
    let partial = dest.with_file_name(partial_name);
    let written = match stream_to(&mut response, &partial, &bar).await {
        Ok(n) => n,
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
    };
    if total > 0 && written != total {
        let _ = tokio::fs::remove_file(&partial).await;
        bail!("the download ended after {written} of {total} bytes");
    }
    tokio::fs::rename(&partial, &dest)
        .await
        .with_context(|| format!("renaming into {}", dest.display()))?;
    bar.finish_and_clear();
    if session.json() {
        print_json(&json!({"source": args.source.to_string(), "file": dest, "bytes": written}));
    } else {
        println!(
            "{} -> {} ({})",
            args.source,
            dest.display(),
            human_bytes(written)
        );
    }
    Ok(Outcome::Ok)
}

/// Writes the body of `response` to `path`, advancing `bar`; returns the bytes written.
async fn stream_to(
    response: &mut reqwest::Response,
    path: &std::path::Path,
    bar: &indicatif::ProgressBar,
) -> Result<u64> {
    let mut file = tokio::fs::File::create(path)
        .await
        .with_context(|| format!("creating {}", path.display()))?;
    let mut written = 0u64;
    while let Some(chunk) = response.chunk().await.context("reading the object")? {
        file.write_all(&chunk).await.context("writing the file")?;
        written += chunk.len() as u64;
        bar.set_position(written);
    }
    file.flush().await?;
    Ok(written)
}

fn destination(source: &CosPath, dest: Option<PathBuf>) -> Result<PathBuf> {
    let name = source
        .key
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .with_context(|| format!("{source} names no object"))?;
    Ok(match dest {
        Some(d) if d.is_dir() => d.join(name),
        Some(d) => d,
        None => PathBuf::from(name),
    })
}

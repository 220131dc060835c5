//! `get`, `ls`, `rm` and `mb`: buckets and objects through the COS object API.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use reelflow_model::XmlElement;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::command::{Outcome, Session, usage};
use super::cos::{CosPath, leaf, status_of};
use super::output::{Table, byte_bar, human_bytes, print_json};
use super::times::display;

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
    /// Objects to delete (`cos://bucket/key`); with `-r`, prefixes (`cos://bucket/dir/`, or
    /// `cos://bucket/` for every object of the bucket).
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
        table.row(vec![display(&e.modified), human_bytes(e.size), e.key]);
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
            table.row(vec![display(&created), name]);
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

/// `rm`: deletes objects, never a bucket (`rb` does). Without `-r` each location must be an
/// existing key: a missing one (checked with HEAD, since DELETE answers 204 either way) is an
/// error, with a hint when the location is a prefix.
pub async fn rm(session: &Session, args: RmArgs) -> Result<Outcome> {
    if !args.recursive
        && let Some(bucket) = args.locations.iter().find(|l| l.key.is_empty())
    {
        return usage(format!(
            "cos://{}/ is a bucket, and rm deletes objects only: `reelflow rm -r cos://{}/` \
             deletes every object in it, `reelflow rb cos://{}` removes the (empty) bucket",
            bucket.bucket, bucket.bucket, bucket.bucket
        ));
    }
    let mut deleted = Vec::new();
    let mut missing = Vec::new();
    for location in &args.locations {
        let keys = if args.recursive {
            let (entries, _) = list_objects(session, location, "").await?;
            entries.into_iter().map(|e| e.key).collect()
        } else if exists(session, &location.bucket, &location.key).await? {
            vec![location.key.clone()]
        } else {
            missing.push(location);
            Vec::new()
        };
        for key in keys.into_iter().filter(|k| !k.is_empty()) {
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
    if missing.is_empty() {
        return Ok(Outcome::Ok);
    }
    let mut problems = Vec::new();
    for location in missing {
        let prefix = if location.key.ends_with('/') {
            location.clone()
        } else {
            CosPath {
                bucket: location.bucket.clone(),
                key: format!("{}/", location.key),
            }
        };
        let (under, _) = list_objects(session, &prefix, "").await?;
        problems.push(if under.is_empty() {
            format!("no such key: {location}")
        } else {
            format!(
                "no such key: {location} ({prefix} is a prefix: `reelflow rm -r {prefix}` \
                 deletes every key under it)"
            )
        });
    }
    bail!("{}", problems.join("; "))
}

/// Whether `key` exists in `bucket` (HEAD; 404 means no).
async fn exists(session: &Session, bucket: &str, key: &str) -> Result<bool> {
    let request = session.cos.object(Method::HEAD, bucket, key, &[])?;
    match session.cos.client.execute(request).await {
        Ok(_) => Ok(true),
        Err(e) if status_of(&e) == Some(404) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `mb`.
pub async fn mb(session: &Session, name: &str) -> Result<Outcome> {
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

/// `rb`: removes an empty bucket (the server refuses one that still holds objects).
pub async fn rb(session: &Session, name: &str) -> Result<Outcome> {
    let request = session.cos.object(Method::DELETE, name, "", &[])?;
    if let Err(e) = session.cos.client.execute(request).await {
        if status_of(&e) == Some(409) {
            bail!("{e:#}\n(delete its objects first: `reelflow rm -r cos://{name}/`)");
        }
        return Err(e);
    }
    if session.json() {
        print_json(&json!({"bucket": name, "removed": true}));
    } else {
        println!("removed bucket {name}");
    }
    Ok(Outcome::Ok)
}

/// `get`: streams the body into a temporary file beside the destination, renamed into place
/// when complete, so an interrupted download never leaves a truncated file under the name.
/// The destination is settled before anything is downloaded (a `DIR/` that does not exist is
/// created; a missing parent directory is an error), and the temporary file is removed on
/// every error.
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
    let written = async {
        // Ctrl-C is an error like any other: the temporary file goes too.
        let written = tokio::select! {
            written = stream_to(&mut response, &partial, &bar) => written?,
            _ = tokio::signal::ctrl_c() => bail!("interrupted"),
        };
        if total > 0 && written != total {
            bail!("the download ended after {written} of {total} bytes");
        }
        tokio::fs::rename(&partial, &dest)
            .await
            .with_context(|| format!("renaming into {}", dest.display()))?;
        Ok(written)
    }
    .await;
    let written = match written {
        Ok(n) => n,
        Err(e) => {
            bar.finish_and_clear();
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
    };
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

/// Where `get` writes: `dest` itself, or the key's last segment inside `dest` when it is a
/// directory or ends with `/` (created when missing). Fails, before any download, when the
/// file's directory does not exist or the destination is a directory.
fn destination(source: &CosPath, dest: Option<PathBuf>) -> Result<PathBuf> {
    let name = source
        .key
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .with_context(|| format!("{source} names no object"))?;
    let path = match dest {
        Some(d) if d.is_dir() => d.join(name),
        Some(d)
            if d.as_os_str()
                .to_string_lossy()
                .ends_with(['/', std::path::MAIN_SEPARATOR]) =>
        {
            std::fs::create_dir_all(&d)
                .with_context(|| format!("creating the directory {}", d.display()))?;
            d.join(name)
        }
        Some(d) => d,
        None => PathBuf::from(name),
    };
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if !parent.is_dir() {
        bail!(
            "the directory {} does not exist (create it, or end the destination with / to have \
             it created)",
            parent.display()
        );
    }
    if path.is_dir() {
        bail!("{} is a directory", path.display());
    }
    Ok(path)
}

//! Service configuration: compiled-in defaults, overlaid by an optional TOML file
//! (`--config FILE`), then by `REELFLOW_*` environment variables, then by command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use reelflow_engine::{FETCH_ALLOW_SETTING, FetchConfig};
use reelflow_model::clock::DisplayOffset;
use reelflow_notify::{AddressPolicy, RetrySchedule};
use serde::Deserialize;

/// Settings read from the TOML file; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data: Option<PathBuf>,
    workers: Option<usize>,
    timezone: Option<String>,
    callback_allow_cidrs: Option<String>,
    fetch_allow_cidrs: Option<String>,
    fetch_max_size: Option<u64>,
    callback_retry_schedule: Option<String>,
    callback_timeout_secs: Option<u64>,
    callback_concurrency: Option<usize>,
    callback_max_in_flight_per_host: Option<usize>,
    max_object_size: Option<u64>,
    max_xml_body: Option<usize>,
    fuse: Option<bool>,
    domain: Option<String>,
    region: Option<String>,
    multipart_max_age_secs: Option<u64>,
    database_url: Option<String>,
    database_max_connections: Option<u32>,
}

/// The merged configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Data directory (database, blobs, scratch, generated secrets).
    pub data: PathBuf,
    /// Parallel tasks on this node.
    pub workers: usize,
    /// Offset for printed times.
    pub offset: DisplayOffset,
    /// Private networks callbacks may reach.
    pub callback_policy: AddressPolicy,
    /// How jobs' `Input.Url`s are fetched: the private networks they may reach and the largest
    /// download.
    pub fetch: FetchConfig,
    /// Callback retry delays.
    pub retry_schedule: RetrySchedule,
    /// Callback request timeout.
    pub callback_timeout: Duration,
    /// Callback requests in flight over all destinations.
    pub callback_concurrency: usize,
    /// Callback requests in flight per destination host (and idle keep-alive connections).
    pub callback_per_host: usize,
    /// Largest object upload.
    pub max_object_size: u64,
    /// Largest CI XML body.
    pub max_xml_body: usize,
    /// Fuse sibling tasks reading the same input into one ffmpeg process.
    pub fuse: bool,
    /// Host names under which buckets are addressed virtual-host style (`<bucket>.<domain>`).
    pub domains: Vec<String>,
    /// Region name reported in bucket listings and accepted in signatures.
    pub region: String,
    /// Age after which unfinished multipart uploads are aborted and their parts reclaimed.
    pub multipart_max_age: Duration,
    /// `postgres://…` to share a PostgreSQL database with other processes; `None` for SQLite
    /// in the data directory.
    pub database_url: Option<String>,
    /// PostgreSQL connections in this process's pool.
    pub database_max_connections: u32,
}

/// Command-line overrides.
#[derive(Debug, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data`.
    pub data: Option<PathBuf>,
    /// `--config`.
    pub config_file: Option<PathBuf>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Config {
    /// Merges defaults, file, environment and flags.
    pub fn load(overrides: Overrides) -> Result<Self> {
        let file = match &overrides.config_file {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let timezone = env("REELFLOW_TIMEZONE").or(file.timezone);
        let offset = match timezone {
            Some(tz) => DisplayOffset::parse(&tz).context("REELFLOW_TIMEZONE")?,
            None => DisplayOffset::host(),
        };
        let cidrs = env("REELFLOW_CALLBACK_ALLOW_CIDRS")
            .or(file.callback_allow_cidrs)
            .unwrap_or_default();
        // URL inputs may reach what callbacks may reach, unless given their own list.
        let fetch_cidrs = env(FETCH_ALLOW_SETTING)
            .or(file.fetch_allow_cidrs)
            .unwrap_or_else(|| cidrs.clone());
        let max_object_size = file.max_object_size.unwrap_or(50 << 30);
        let fetch_max_size = match env("REELFLOW_FETCH_MAX_SIZE") {
            Some(n) => n
                .trim()
                .parse()
                .context("REELFLOW_FETCH_MAX_SIZE must be a number of bytes")?,
            None => file.fetch_max_size.unwrap_or(max_object_size),
        };
        let schedule =
            match env("REELFLOW_CALLBACK_RETRY_SCHEDULE").or(file.callback_retry_schedule) {
                Some(s) => RetrySchedule::parse(&s).context("REELFLOW_CALLBACK_RETRY_SCHEDULE")?,
                None => RetrySchedule::default(),
            };
        let workers = match env("REELFLOW_WORKERS") {
            Some(w) => w.parse().context("REELFLOW_WORKERS must be a number")?,
            None => file.workers.unwrap_or_else(default_workers),
        };
        let database_url = env("REELFLOW_DATABASE_URL").or(file.database_url);
        let database_max_connections = match env("REELFLOW_DATABASE_MAX_CONNECTIONS") {
            Some(n) => n
                .trim()
                .parse()
                .context("REELFLOW_DATABASE_MAX_CONNECTIONS must be a number")?,
            // Each worker holds one at a time, plus the API, notifier and sweepers.
            None => file
                .database_max_connections
                .unwrap_or_else(|| u32::try_from(workers).unwrap_or(u32::MAX).saturating_add(8)),
        };
        let timeout = match env("REELFLOW_CALLBACK_TIMEOUT_SECS") {
            Some(t) => t
                .parse()
                .context("REELFLOW_CALLBACK_TIMEOUT_SECS must be a number")?,
            None => file.callback_timeout_secs.unwrap_or(15),
        };
        let callback_concurrency = match env("REELFLOW_CALLBACK_CONCURRENCY") {
            Some(n) => n
                .parse()
                .context("REELFLOW_CALLBACK_CONCURRENCY must be a number")?,
            None => file.callback_concurrency.unwrap_or(512),
        };
        let callback_per_host = match env("REELFLOW_CALLBACK_MAX_IN_FLIGHT_PER_HOST") {
            Some(n) => n
                .parse()
                .context("REELFLOW_CALLBACK_MAX_IN_FLIGHT_PER_HOST must be a number")?,
            None => file.callback_max_in_flight_per_host.unwrap_or(64),
        };
        Ok(Config {
            listen: overrides
                .listen
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:9600".parse().expect("valid")),
            data: overrides
                .data
                .or(file.data)
                .unwrap_or_else(|| PathBuf::from("./reelflow-data")),
            workers,
            offset,
            callback_policy: AddressPolicy::parse(&cidrs)
                .context("REELFLOW_CALLBACK_ALLOW_CIDRS")?,
            fetch: FetchConfig {
                policy: AddressPolicy::parse(&fetch_cidrs)
                    .context(FETCH_ALLOW_SETTING)?
                    .named(FETCH_ALLOW_SETTING),
                max_size: fetch_max_size,
                ..FetchConfig::default()
            },
            retry_schedule: schedule,
            callback_timeout: Duration::from_secs(timeout),
            callback_concurrency: callback_concurrency.max(1),
            callback_per_host: callback_per_host.max(1),
            max_object_size,
            max_xml_body: file.max_xml_body.unwrap_or(1 << 20),
            fuse: match env("REELFLOW_FUSE") {
                Some(v) => !matches!(v.as_str(), "0" | "false" | "off"),
                None => file.fuse.unwrap_or(true),
            },
            domains: env("REELFLOW_DOMAIN")
                .or(file.domain)
                .map(|list| parse_domains(&list))
                .unwrap_or_default(),
            region: env("REELFLOW_REGION")
                .or(file.region)
                .unwrap_or_else(|| "ap-guangzhou".to_owned()),
            multipart_max_age: Duration::from_secs(match env("REELFLOW_MULTIPART_MAX_AGE_SECS") {
                Some(v) => v
                    .trim()
                    .parse()
                    .context("REELFLOW_MULTIPART_MAX_AGE_SECS must be a number of seconds")?,
                None => file.multipart_max_age_secs.unwrap_or(7 * 24 * 3600),
            }),
            database_url,
            database_max_connections: database_max_connections.max(1),
        })
    }
}

/// `cos.example.internal, s3.example.internal` → lower-case names without dots at the ends.
fn parse_domains(list: &str) -> Vec<String> {
    list.split(',')
        .map(|d| d.trim().trim_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect()
}

/// One task per core, ffmpeg itself being multi-threaded; at least two so siblings overlap.
fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2)
}

fn read_file(path: &Path) -> Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

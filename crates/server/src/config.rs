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

/// What a process does (`reelflow serve --role`). Every role delivers callbacks (the outbox is
/// claimed with leases, so several processes never send one message twice) and reclaims
/// abandoned multipart uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The HTTP API and the task workers.
    #[default]
    All,
    /// The HTTP API only: uploads, CI calls, triggers; tasks run on worker processes.
    Api,
    /// Task workers only; the listener answers `/_reelflow/health` and the signed metrics.
    Worker,
}

impl Role {
    /// Runs task workers.
    pub fn runs_tasks(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }

    /// Serves the API.
    pub fn serves_api(self) -> bool {
        matches!(self, Role::All | Role::Api)
    }
}

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
    task_max_attempts: Option<u32>,
    task_lease_secs: Option<u64>,
    role: Option<Role>,
    queue_max_concurrent: Option<u32>,
    database_url: Option<String>,
    database_max_connections: Option<u32>,
    blob_url: Option<String>,
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    s3_access_key_id: Option<String>,
    s3_secret_access_key: Option<String>,
    s3_path_style: Option<bool>,
    s3_allow_http: Option<bool>,
    metrics_listen: Option<SocketAddr>,
    log_format: Option<crate::logs::LogFormat>,
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
    /// Benchmarks only (`REELFLOW_BENCH_NOOP_TASKS=1`): tasks succeed without running media.
    pub bench_noop_tasks: bool,
    /// Segmented transcoding (`REELFLOW_SEGMENT_*`, see [`segmented_config`]).
    pub segmented: reelflow_engine::SegmentedConfig,
    /// Host names under which buckets are addressed virtual-host style (`<bucket>.<domain>`).
    pub domains: Vec<String>,
    /// Region name reported in bucket listings and accepted in signatures.
    pub region: String,
    /// Age after which unfinished multipart uploads are aborted and their parts reclaimed.
    pub multipart_max_age: Duration,
    /// Attempts of a task that fails for a transient reason (the first included).
    pub task_max_attempts: u32,
    /// How long a worker's claim on a task lasts without a heartbeat (renewed every third of
    /// it): a lost worker's tasks run elsewhere after this.
    pub task_lease: Duration,
    /// What this process does.
    pub role: Role,
    /// MaxConcurrent of a bucket's default queue when it is created (cluster-wide).
    pub queue_max_concurrent: u32,
    /// `postgres://…` to share a PostgreSQL database with other processes; `None` for SQLite
    /// in the data directory.
    pub database_url: Option<String>,
    /// PostgreSQL connections in this process's pool.
    pub database_max_connections: u32,
    /// `s3://bucket/prefix` (`REELFLOW_BLOB_URL`) and how to reach it, to keep object bodies in
    /// an S3-compatible store shared by several processes; `None` for `DATA/blobs`.
    pub s3: Option<reelflow_objects::S3Config>,
    /// A second listener serving `GET /_reelflow/metrics` without a signature (for a
    /// Prometheus server on a monitoring network); `None`: metrics only on the signed API.
    pub metrics_listen: Option<SocketAddr>,
    /// How log lines are written: human-readable text, or one JSON object per line.
    pub log_format: crate::logs::LogFormat,
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
    /// `--role`.
    pub role: Option<Role>,
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
        let s3 = s3_config(&file)?;
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
        let mut config = Config {
            listen: overrides
                .listen
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:9600".parse().expect("valid")),
            // The flag, the environment (the same REELFLOW_DATA the client commands read),
            // the file: `serve` and `doctor` both resolve it here.
            data: overrides
                .data
                .or_else(|| env("REELFLOW_DATA").map(PathBuf::from))
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
            bench_noop_tasks: env("REELFLOW_BENCH_NOOP_TASKS").is_some_and(|v| v.trim() == "1"),
            segmented: segmented_config()?,
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
            task_max_attempts: match env("REELFLOW_TASK_MAX_ATTEMPTS") {
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .context("REELFLOW_TASK_MAX_ATTEMPTS must be a number")?
                    .max(1),
                None => file.task_max_attempts.unwrap_or(3).max(1),
            },
            task_lease: Duration::from_secs(match env("REELFLOW_TASK_LEASE_SECS") {
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .context("REELFLOW_TASK_LEASE_SECS must be a number of seconds")?
                    .max(3),
                None => file.task_lease_secs.unwrap_or(30).max(3),
            }),
            role: match (overrides.role, env("REELFLOW_ROLE")) {
                (Some(role), _) => role,
                (None, Some(v)) => <Role as clap::ValueEnum>::from_str(v.trim(), true)
                    .map_err(|_| anyhow::anyhow!("REELFLOW_ROLE must be all, api or worker"))?,
                (None, None) => file.role.unwrap_or_default(),
            },
            queue_max_concurrent: 0, // from the role, below
            database_url,
            database_max_connections: database_max_connections.max(1),
            s3,
            metrics_listen: match env("REELFLOW_METRICS_LISTEN") {
                Some(v) => Some(v.trim().parse().context(
                    "REELFLOW_METRICS_LISTEN must be an address and port, e.g. 127.0.0.1:9601",
                )?),
                None => file.metrics_listen,
            },
            log_format: match env(crate::logs::FORMAT_SETTING) {
                Some(v) => crate::logs::LogFormat::parse(&v)?,
                None => file.log_format.unwrap_or_default(),
            },
        };
        // One process: its own worker slots. Several (api/worker roles): the queue limit is
        // cluster-wide, and the process creating a queue does not know the cluster's size.
        config.queue_max_concurrent = match env("REELFLOW_QUEUE_MAX_CONCURRENT") {
            Some(v) => v
                .trim()
                .parse::<u32>()
                .context("REELFLOW_QUEUE_MAX_CONCURRENT must be a number")?,
            None => file.queue_max_concurrent.unwrap_or(match config.role {
                Role::All => config.workers as u32,
                Role::Api | Role::Worker => 64,
            }),
        }
        .max(1);
        Ok(config)
    }
}

/// The S3 blob store settings: `REELFLOW_BLOB_URL` / `blob_url` selects it, the `REELFLOW_S3_*`
/// variables / `s3_*` keys say how to reach it. With an endpoint (anything but AWS), path-style
/// addressing is the default; plain HTTP is allowed when the endpoint is `http://`.
fn s3_config(file: &FileConfig) -> Result<Option<reelflow_objects::S3Config>> {
    let Some(url) = env("REELFLOW_BLOB_URL").or(file.blob_url.clone()) else {
        return Ok(None);
    };
    let mut config =
        reelflow_objects::S3Config::from_url(url.trim()).context("REELFLOW_BLOB_URL")?;
    let flag = |name: &str, file_value: Option<bool>| -> Result<Option<bool>> {
        match env(name) {
            Some(v) => match v.trim() {
                "1" | "true" | "on" | "yes" => Ok(Some(true)),
                "0" | "false" | "off" | "no" => Ok(Some(false)),
                other => anyhow::bail!("{name} must be true or false, not {other:?}"),
            },
            None => Ok(file_value),
        }
    };
    config.endpoint = env("REELFLOW_S3_ENDPOINT").or(file.s3_endpoint.clone());
    config.region = env("REELFLOW_S3_REGION").or(file.s3_region.clone());
    config.access_key_id = env("REELFLOW_S3_ACCESS_KEY_ID").or(file.s3_access_key_id.clone());
    config.secret_access_key =
        env("REELFLOW_S3_SECRET_ACCESS_KEY").or(file.s3_secret_access_key.clone());
    config.path_style =
        flag("REELFLOW_S3_PATH_STYLE", file.s3_path_style)?.unwrap_or(config.endpoint.is_some());
    config.allow_http = flag("REELFLOW_S3_ALLOW_HTTP", file.s3_allow_http)?.unwrap_or_else(|| {
        config
            .endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"))
    });
    Ok(Some(config))
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

/// The log format a `--config` file asks for (`log_format`), read before logging starts;
/// the environment still wins ([`crate::logs::LogFormat::configured`]).
pub(crate) fn file_log_format(path: &Path) -> Result<Option<crate::logs::LogFormat>> {
    Ok(read_file(path)?.log_format)
}

fn read_file(path: &Path) -> Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Segmented transcoding from the environment: `REELFLOW_SEGMENT_MIN_SECONDS` (inputs longer
/// than this are split; 0 or `off`: never; default 300), `REELFLOW_SEGMENT_FORCE=1` (split
/// even with one task slot in the cluster), `REELFLOW_SEGMENT_COUNT` (segments wanted;
/// default three per live task slot), `REELFLOW_SEGMENT_MAX` (default 16) and
/// `REELFLOW_SEGMENT_MIN_LENGTH` (shortest segment in seconds, default 20).
fn segmented_config() -> anyhow::Result<reelflow_engine::SegmentedConfig> {
    let mut config = reelflow_engine::SegmentedConfig::default();
    let number = |name: &str| -> anyhow::Result<Option<f64>> {
        match env(name) {
            None => Ok(None),
            Some(v) if v.trim() == "off" => Ok(Some(0.0)),
            Some(v) => {
                let n: f64 = v
                    .trim()
                    .parse()
                    .with_context(|| format!("{name} must be a number"))?;
                anyhow::ensure!(n.is_finite() && n >= 0.0, "{name} must be a number >= 0");
                Ok(Some(n))
            }
        }
    };
    if let Some(n) = number("REELFLOW_SEGMENT_MIN_SECONDS")? {
        config.min_input_secs = n;
    }
    if let Some(n) = number("REELFLOW_SEGMENT_MIN_LENGTH")? {
        config.min_segment_secs = n.max(1.0);
    }
    if let Some(n) = number("REELFLOW_SEGMENT_COUNT")? {
        config.segments = (n >= 1.0).then_some(n as usize);
    }
    if let Some(n) = number("REELFLOW_SEGMENT_MAX")? {
        config.max_segments = (n as usize).max(2);
    }
    config.force = env("REELFLOW_SEGMENT_FORCE").is_some_and(|v| v.trim() == "1");
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_blob_store_from_toml() {
        let none: FileConfig = toml::from_str("").unwrap();
        if env("REELFLOW_BLOB_URL").is_none() {
            assert_eq!(s3_config(&none).unwrap(), None);
        }
        if std::env::vars().any(|(k, _)| k.starts_with("REELFLOW_S3_") || k == "REELFLOW_BLOB_URL")
        {
            return; // the environment would override the file
        }
        let file: FileConfig = toml::from_str(
            r#"
            blob_url = "s3://media/reelflow/blobs"
            s3_endpoint = "http://127.0.0.1:9000"
            s3_region = "ap-guangzhou"
            s3_access_key_id = "AKID"
            s3_secret_access_key = "secret"
            "#,
        )
        .unwrap();
        let s3 = s3_config(&file).unwrap().unwrap();
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str()),
            ("media", "reelflow/blobs")
        );
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(s3.region.as_deref(), Some("ap-guangzhou"));
        assert_eq!(s3.access_key_id.as_deref(), Some("AKID"));
        assert_eq!(s3.secret_access_key.as_deref(), Some("secret"));
        assert!(
            s3.path_style && s3.allow_http,
            "defaults for an http endpoint"
        );

        let aws: FileConfig =
            toml::from_str("blob_url = \"s3://b\"\ns3_allow_http = false\n").unwrap();
        let s3 = s3_config(&aws).unwrap().unwrap();
        assert!(!s3.path_style && !s3.allow_http && s3.endpoint.is_none());

        let bad: FileConfig = toml::from_str("blob_url = \"/var/blobs\"").unwrap();
        assert!(s3_config(&bad).is_err());
    }
}

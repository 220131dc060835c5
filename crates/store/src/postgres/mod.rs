//! PostgreSQL implementation of the store, for many reelflow processes sharing one database.
//!
//! Same tables and columns as SQLite (migrations in `migrations_pg`, applied at connect), same
//! semantics, both checked by the conformance suite (`tests/conformance`). SQLite gets its
//! guarantees from having one writer at a time; here transactions run at READ COMMITTED and
//! take explicit row locks where a rule depends on what other transactions do:
//!
//! - claims pick rows `FOR UPDATE SKIP LOCKED` (one task, a batch of siblings, a batch of
//!   callbacks), so concurrent claimers neither wait for nor take the same row; a claim in a
//!   queue with a concurrency limit also locks the queue's row while it counts running tasks;
//! - every transaction that ends a task locks its run (the `instances` row) first, so the
//!   engine's decider sees the final states of sibling tasks that ended concurrently;
//! - replacing an object or a part reads the replaced blob id under a row lock, so each
//!   replaced blob is handed back exactly once;
//! - messages born leased to a node get positions from that node's counter row, which the
//!   writing transaction holds until it commits: positions follow commit order per node;
//! - a transaction that makes work ready `NOTIFY`s a wake-up channel, delivered on commit
//!   ([`crate::WakeStore`]; see `listen.rs`).
//!
//! A transaction aborted by a deadlock or serialization failure is retried a few times.

mod batch;
mod catalog;
mod definitions;
mod jobs;
mod listen;
mod multipart;
mod outbox;
mod queues;
mod runs;
mod stats;
mod subtasks;
mod tx;

pub(crate) use stats::schema_status;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};

use crate::{StoreError, StoreResult};

/// How to reach the database.
#[derive(Clone)]
pub struct PgConfig {
    /// `postgres://user:password@host:port/database?…` (libpq URL syntax as sqlx reads it).
    pub url: String,
    /// Connections in the pool (one more is opened for wake-ups).
    pub max_connections: u32,
    /// Keep reelflow's tables in this schema (created if missing) instead of the default search
    /// path: lowercase letters, digits and `_`. Tests give each store its own.
    pub schema: Option<String>,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("schema", &self.schema)
            .finish()
    }
}

/// `url` with its password replaced by `***`, for logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

/// Names of the wake-up channels (per schema, so stores in other schemas stay quiet).
#[derive(Debug)]
pub(crate) struct Channels {
    tasks: String,
    callbacks: String,
}

/// The PostgreSQL-backed store.
#[derive(Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
    options: PgConnectOptions,
    channels: Arc<Channels>,
    listening: Arc<tokio::sync::OnceCell<listen::Listening>>,
}

impl std::fmt::Debug for PgStore {
    // Not the connect options: they hold the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("pool", &self.pool)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects, creating the schema if one is configured, and applies migrations (concurrent
    /// starts serialize on sqlx's migration lock).
    pub async fn connect(config: &PgConfig) -> StoreResult<Self> {
        let mut options = PgConnectOptions::from_str(&config.url)?.application_name("reelflow");
        let suffix = match &config.schema {
            Some(schema) => {
                if !valid_schema(schema) {
                    return Err(StoreError::InvalidConfig(format!(
                        "schema name {schema:?}: use lowercase letters, digits and _"
                    )));
                }
                let mut conn = PgConnection::connect_with(&options).await?;
                let create = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
                sqlx::query(AssertSqlSafe(create))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                options = options.options([("search_path", schema.as_str())]);
                format!("_{schema}")
            }
            None => String::new(),
        };
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations_pg").run(&pool).await?;
        Ok(Self {
            pool,
            options,
            channels: Arc::new(Channels {
                tasks: format!("reelflow_tasks{suffix}"),
                callbacks: format!("reelflow_callbacks{suffix}"),
            }),
            listening: Arc::default(),
        })
    }

    /// Closes the pool (and stops listening once the last clone is dropped).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn valid_schema(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 40
}

/// `NOTIFY channel` (delivered when the surrounding transaction commits).
pub(crate) async fn notify(conn: &mut PgConnection, channel: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(channel)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Transactions retried after a deadlock or serialization failure, at most this many times.
const RETRIES: u32 = 3;

/// Whether the database aborted the transaction for a deadlock (40P01) or a serialization
/// failure (40001): running it again may succeed.
pub(crate) fn retryable(error: &StoreError) -> bool {
    match error {
        StoreError::Database(sqlx::Error::Database(e)) => {
            matches!(e.code().as_deref(), Some("40P01" | "40001"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_logged_urls() {
        assert_eq!(
            redact_url("postgres://u:secret@db:5432/reelflow?sslmode=require"),
            "postgres://u:***@db:5432/reelflow?sslmode=require"
        );
        assert_eq!(redact_url("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(
            redact_url("postgres:///x?host=/run"),
            "postgres:///x?host=/run"
        );
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(valid_schema("rft_12_3"));
        assert!(!valid_schema("Bad"));
        assert!(!valid_schema("1a"));
        assert!(!valid_schema("a;drop"));
    }
}

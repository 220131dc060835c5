//! Choosing and opening a backend from the service's configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::postgres::{PgConfig, PgStore, redact_url};
use crate::sqlite::SqliteStore;
use crate::{Store, StoreError, StoreResult};

/// Which database the service uses.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A SQLite file: the single-machine default.
    Sqlite(PathBuf),
    /// A PostgreSQL database, shared by any number of reelflow processes.
    Postgres(PgConfig),
}

impl Backend {
    /// A `postgres://…` or `postgresql://…` `url` selects PostgreSQL with a pool of
    /// `max_connections`; no URL selects SQLite at `sqlite_path`. Other URLs are refused.
    pub fn select(
        url: Option<&str>,
        sqlite_path: &Path,
        max_connections: u32,
    ) -> StoreResult<Self> {
        let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(Backend::Sqlite(sqlite_path.to_owned()));
        };
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => Ok(Backend::Postgres(PgConfig {
                url: url.to_owned(),
                max_connections: max_connections.max(1),
                schema: None,
            })),
            _ => Err(StoreError::InvalidConfig(format!(
                "database URL {}: only postgres:// and postgresql:// are supported \
                 (leave it unset for SQLite in the data directory)",
                redact_url(url)
            ))),
        }
    }

    /// For logs: the file, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Backend::Sqlite(path) => format!("SQLite at {}", path.display()),
            Backend::Postgres(config) => format!(
                "PostgreSQL at {} (pool of {})",
                redact_url(&config.url),
                config.max_connections
            ),
        }
    }

    /// Opens the database, creating it (SQLite) and applying migrations.
    pub async fn open(&self) -> StoreResult<Arc<dyn Store>> {
        Ok(match self {
            Backend::Sqlite(path) => Arc::new(SqliteStore::open(path).await?),
            Backend::Postgres(config) => Arc::new(PgStore::connect(config).await?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_the_backend() {
        let file = Path::new("/d/reelflow.db");
        assert!(matches!(
            Backend::select(None, file, 4).unwrap(),
            Backend::Sqlite(p) if p == file
        ));
        assert!(matches!(
            Backend::select(Some(" "), file, 4),
            Ok(Backend::Sqlite(_))
        ));
        let Backend::Postgres(pg) =
            Backend::select(Some("postgresql://u:p@h/db"), file, 0).unwrap()
        else {
            panic!("not PostgreSQL");
        };
        assert_eq!(pg.max_connections, 1);
        let err = Backend::select(Some("mysql://u:secret@h/db"), file, 4).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(
            Backend::select(Some("postgres://u:secret@h/db"), file, 4)
                .unwrap()
                .describe()
                .contains("u:***@h/db")
        );
    }
}

//! [`Backend::schema_status`] (what `reelflow doctor` reports): read without migrating, so a
//! missing or empty database says so, and an opened one has every shipped migration.

use reelflow_store::Backend;
use reelflow_store::postgres::{PgConfig, PgStore};
use reelflow_store::sqlite::SqliteStore;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

#[tokio::test]
async fn sqlite_schema_status_is_read_without_creating_or_migrating() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reelflow.db");
    let backend = Backend::Sqlite(path.clone());
    assert!(backend.schema_status().await.is_err(), "no file yet");
    assert!(!path.exists(), "the check does not create the database");
    SqliteStore::open(&path).await.unwrap();
    let status = backend.schema_status().await.unwrap();
    assert!(status.is_current(), "{status:?}");
    assert!(status.expected > 0 && status.applied == status.expected);
}

#[tokio::test]
async fn postgres_schema_status_tells_empty_from_current() {
    let Ok(url) = std::env::var("REELFLOW_TEST_DATABASE_URL") else {
        eprintln!("skipped: set REELFLOW_TEST_DATABASE_URL to run the PostgreSQL case");
        return;
    };
    let schema = format!("rfs_{}", std::process::id());
    let config = PgConfig {
        url: url.clone(),
        max_connections: 2,
        schema: Some(schema.clone()),
    };
    let backend = Backend::Postgres(config.clone());
    let mut admin = PgConnection::connect(&url).await.unwrap();
    let create = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
    sqlx::query(AssertSqlSafe(create))
        .execute(&mut admin)
        .await
        .unwrap();
    let empty = backend.schema_status().await.unwrap_err();
    let chain = anyhow_like(&empty);
    assert!(chain.contains("_sqlx_migrations"), "{chain}");
    let store = PgStore::connect(&config).await.unwrap();
    let status = backend.schema_status().await.unwrap();
    assert!(status.is_current(), "{status:?}");
    store.close().await;
    let drop = format!("DROP SCHEMA {schema} CASCADE");
    sqlx::query(AssertSqlSafe(drop))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// The error and its sources, as one line.
fn anyhow_like(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

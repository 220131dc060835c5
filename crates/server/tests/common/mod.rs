//! The in-process test harness (svix-server's `TestApp` idea): the whole service started through
//! the library entry [`reelflow::run`] on a free port, exactly as `reelflow serve` starts it,
//! with a signed client for the management API. Every server-level test starts its deployment
//! here instead of repeating the wiring.

#![allow(dead_code)] // each test binary uses part of it

use std::path::{Path, PathBuf};

use reelflow::cli::AdminClient;
use reelflow::config::{Config, Overrides, Role};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Where the state lives.
#[derive(Debug, Clone)]
pub enum Db {
    /// SQLite in the data directory.
    Sqlite,
    /// This PostgreSQL database.
    Postgres(String),
}

/// One running reelflow process, in this test process.
pub struct TestApp {
    pub base: String,
    pub data: PathBuf,
    pub client: AdminClient,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    /// Starts a process with `role` on `db`, keeping its state in `data`.
    pub async fn spawn(data: &Path, db: &Db, role: Role) -> Self {
        Self::spawn_with(data, db, role, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with `tweak` applied to the configuration.
    pub async fn spawn_with(
        data: &Path,
        db: &Db,
        role: Role,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::load(Overrides {
            data: Some(data.to_owned()),
            ..Overrides::default()
        })
        .expect("default configuration");
        config.role = role;
        config.workers = 2;
        config.database_url = match db {
            Db::Sqlite => None,
            Db::Postgres(url) => Some(url.clone()),
        };
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(reelflow::run(config, listener, shutdown.clone()));
        wait_ready(&base, &task).await;
        Self {
            // The credentials file exists once the service is up.
            client: AdminClient::from_env(&base, Some(data)).expect("admin client"),
            base,
            data: data.to_owned(),
            shutdown,
            task,
        }
    }

    /// `GET /_reelflow/v1{path}` as JSON.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        serde_json::from_str(&self.get_text(path).await).expect("JSON answer")
    }

    /// `GET /_reelflow/v1{path}` as text.
    pub async fn get_text(&self, path: &str) -> String {
        self.client.get(path, &[]).await.expect("signed GET")
    }

    /// Graceful stop, as SIGTERM does; returns what `run` returned.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await.expect("run task")
    }
}

async fn wait_ready(base: &str, task: &JoinHandle<anyhow::Result<()>>) {
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{base}/_reelflow/health")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(!task.is_finished(), "reelflow::run ended during start-up");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("reelflow at {base} did not become healthy");
}

/// A fresh PostgreSQL database on the test cluster (`REELFLOW_TEST_DATABASE_URL`), or `None`
/// when that is unset outside CI (the caller skips).
pub async fn fresh_postgres() -> Option<String> {
    let Ok(root) = std::env::var("REELFLOW_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "REELFLOW_TEST_DATABASE_URL is unset in CI"
        );
        eprintln!("REELFLOW_TEST_DATABASE_URL unset: skipping the PostgreSQL case");
        return None;
    };
    use sqlx::{AssertSqlSafe, Connection};
    let name = format!("rf_server_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&root)
        .await
        .expect("connect PostgreSQL");
    // The name is ours: "rf_server_" and hex digits.
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    Some(format!("{}/{name}", root.rsplit_once('/').unwrap().0))
}

/// Drops a database made by [`fresh_postgres`] (connections still open are ended).
pub async fn drop_postgres(url: &str) {
    use sqlx::{AssertSqlSafe, Connection};
    let root = std::env::var("REELFLOW_TEST_DATABASE_URL").expect("test database URL");
    let name = url.rsplit_once('/').unwrap().1;
    let mut conn = sqlx::PgConnection::connect(&root)
        .await
        .expect("connect PostgreSQL");
    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
}

//! Where reelflow keeps things: the data directory, the blob store (local or S3) and the
//! database (reachable, and with this build's migrations).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use reelflow_objects::{BlobStore, LocalBlobStore, S3BlobStore};
use reelflow_store::Backend;

use super::Check;
use crate::config::Config;

/// The directories the checks may create (the data directory with its missing parents, and
/// `DATA/blobs` for a local blob store) that did not exist before them, innermost first.
pub(super) struct NewDirs(Vec<PathBuf>);

impl NewDirs {
    /// Notes which of those directories do not exist yet.
    pub(super) fn before(data: &Path) -> Self {
        let mut dirs = vec![data.join("blobs")];
        dirs.extend(data.ancestors().map(Path::to_path_buf));
        dirs.retain(|d| !d.as_os_str().is_empty() && std::fs::symlink_metadata(d).is_err());
        Self(dirs)
    }

    /// Removes each of them that holds no file now (with the empty directories the checks
    /// made inside it): `doctor` leaves nothing behind it created, and never a file.
    pub(super) fn remove_if_empty(&self) {
        for dir in &self.0 {
            remove_empty_tree(dir);
        }
    }
}

/// Removes `dir` and the directories in it when none holds a file.
fn remove_empty_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_tree(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// The data directory exists (or can be made) and takes a file: write, read back, delete.
pub(super) fn data_dir(data: &Path) -> Check {
    let shown = data.display();
    if let Err(e) = std::fs::create_dir_all(data) {
        return Check::fail(
            "data dir",
            format!(
                "cannot create {shown}: {e}: create it, writable by the reelflow user, or pass --data"
            ),
        );
    }
    let probe = data.join(format!(".doctor-{}", uuid::Uuid::new_v4().simple()));
    let result = std::fs::write(&probe, b"reelflow doctor")
        .and_then(|()| std::fs::read(&probe))
        .and_then(|read| {
            std::fs::remove_file(&probe)?;
            Ok(read == b"reelflow doctor")
        });
    match result {
        Ok(true) => Check::ok("data dir", format!("{shown} is writable")),
        Ok(false) => Check::fail("data dir", format!("{shown}: a file read back differently")),
        Err(e) => {
            let _ = std::fs::remove_file(&probe);
            Check::fail(
                "data dir",
                format!(
                    "{shown} is not writable ({e}): fix its owner or permissions (chown/chmod), or pass --data"
                ),
            )
        }
    }
}

/// The blob store takes a probe object, gives it back and deletes it.
pub(super) async fn blob_store(config: &Config, data_writable: bool) -> Check {
    let (store, what): (Arc<dyn BlobStore>, String) = match &config.s3 {
        Some(s3) => match S3BlobStore::new(s3) {
            Ok(store) => (Arc::new(store), s3.describe()),
            Err(e) => {
                return Check::fail(
                    "blobs",
                    format!(
                        "{}: {e}: check REELFLOW_BLOB_URL and REELFLOW_S3_*",
                        s3.describe()
                    ),
                );
            }
        },
        None if !data_writable => {
            return Check::fail("blobs", "not checked: the data directory is not writable");
        }
        None => {
            let root = config.data.join("blobs");
            match LocalBlobStore::open(&root).await {
                Ok(store) => (Arc::new(store), root.display().to_string()),
                Err(e) => return Check::fail("blobs", format!("{}: {e}", root.display())),
            }
        }
    };
    match probe_blobs(store.as_ref(), &config.data).await {
        Ok(()) => Check::ok("blobs", format!("{what}: write, read and delete work")),
        Err(e) => {
            let fix = if config.s3.is_some() {
                "check the endpoint, the credentials (REELFLOW_S3_*), that the bucket exists \
                 and that the key may put, get and delete objects"
            } else {
                "make the directory writable by the reelflow user"
            };
            Check::fail("blobs", format!("{what}: {}: {fix}", super::brief(&e)))
        }
    }
}

async fn probe_blobs(store: &dyn BlobStore, scratch: &Path) -> Result<()> {
    let body = b"reelflow doctor probe";
    let name = uuid::Uuid::new_v4().simple().to_string();
    let source = scratch.join(format!(".doctor-put-{name}"));
    let back = scratch.join(format!(".doctor-get-{name}"));
    std::fs::write(&source, body).context("writing the probe file")?;
    let result = async {
        let written = store.put_file(&source).await.context("write")?;
        let read = async {
            store
                .download_to(&written.id, &back)
                .await
                .context("read")?;
            anyhow::ensure!(
                std::fs::read(&back)? == body,
                "the probe read back differently"
            );
            Ok(())
        }
        .await;
        let deleted = store.delete(&written.id).await.context("delete");
        read.and(deleted)
    }
    .await;
    let _ = std::fs::remove_file(&source);
    let _ = std::fs::remove_file(&back);
    result
}

/// The API key pair `serve` will use: from the environment, or a well-formed
/// `DATA/credentials` (a missing one is generated at the first start).
pub(super) fn credentials(data: &Path) -> Check {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    if set("REELFLOW_SECRET_ID") && set("REELFLOW_SECRET_KEY") {
        return Check::ok("keys", "from REELFLOW_SECRET_ID/REELFLOW_SECRET_KEY");
    }
    let path = data.join("credentials");
    let shown = path.display();
    match std::fs::read_to_string(&path) {
        Ok(text) => match crate::cli::parse_credentials(&text) {
            Ok((id, _)) => Check::ok("keys", format!("{shown}: SecretId {id}")),
            Err(e) => Check::fail("keys", format!("{shown}: {e}")),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Check::ok(
            "keys",
            format!("{shown}: not created yet (the first start generates a key pair)"),
        ),
        Err(e) => Check::fail(
            "keys",
            format!("cannot read {shown}: {e}: fix its owner or permissions"),
        ),
    }
}

/// The database answers and has this build's migrations. With SQLite in a data directory that
/// is not usable, nothing is checked (`data_writable` false).
pub(super) async fn database(config: &Config, data_writable: bool) -> Check {
    let backend = match Backend::select(
        config.database_url.as_deref(),
        &config.data.join("reelflow.db"),
        1,
    ) {
        Ok(backend) => backend,
        Err(e) => return Check::fail("database", format!("{e}: fix REELFLOW_DATABASE_URL")),
    };
    let what = backend.describe();
    if let Backend::Sqlite(_) = &backend
        && !data_writable
    {
        return Check::fail(
            "database",
            format!("{what}: not checked: the data directory is not usable (see above)"),
        );
    }
    if let Backend::Sqlite(path) = &backend
        && !path.exists()
    {
        return Check::ok(
            "database",
            format!("{what}: not created yet (the first start does)"),
        );
    }
    match backend.schema_status().await {
        Ok(status) if status.is_current() => Check::ok(
            "database",
            format!("{what}: all {} migrations applied", status.expected),
        ),
        Ok(status) => Check::warn(
            "database",
            format!(
                "{what}: {} of {} migrations applied, pending {}: the next `reelflow serve` \
                 applies them (back up the database first)",
                status.applied,
                status.expected,
                status.pending.join(", ")
            ),
        ),
        Err(e) => {
            let cause = super::brief(&anyhow::Error::new(e));
            if cause.contains("_sqlx_migrations") {
                Check::warn(
                    "database",
                    format!("{what}: empty (no reelflow tables): the first start creates them"),
                )
            } else if let Backend::Sqlite(path) = &backend {
                Check::fail(
                    "database",
                    format!(
                        "{what}: {cause}: {} is not a readable reelflow SQLite database \
                         (damaged, or another program's file): restore it from a backup, or move \
                         it away to start with an empty one",
                        path.display()
                    ),
                )
            } else {
                Check::fail(
                    "database",
                    format!(
                        "{what}: {cause}: check that the database runs, and the URL, user and \
                         password in REELFLOW_DATABASE_URL"
                    ),
                )
            }
        }
    }
}

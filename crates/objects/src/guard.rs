//! `DeleteOnDrop`: removes a file unless the write that owns it completes.

use std::path::{Path, PathBuf};

/// Deletes its file when dropped, unless [`DeleteOnDrop::disarm`]ed.
///
/// A write holds one of these from creating its temporary file until the
/// blob is durable. Any early return with `?`, a panic, or the caller
/// dropping the future (client disconnect, timeout) runs `Drop`, so no
/// temporary file or half-committed blob outlives a failed write. `Drop` is
/// synchronous, so removal uses blocking `std::fs`; it is one unlink.
#[derive(Debug)]
pub(crate) struct DeleteOnDrop {
    path: Option<PathBuf>,
}

impl DeleteOnDrop {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path: Some(path) }
    }

    /// Points the guard at the file's new name after a rename.
    pub(crate) fn retarget(&mut self, path: PathBuf) {
        self.path = Some(path);
    }

    /// Keeps the file: the write completed.
    pub(crate) fn disarm(mut self) {
        self.path = None;
    }
}

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            remove_quietly(&path);
        }
    }
}

fn remove_quietly(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::debug!(path = %path.display(), "removed unfinished blob file"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "could not remove unfinished blob file")
        }
    }
}

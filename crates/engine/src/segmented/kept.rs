//! The parent's download of its input, kept on its worker for the parts that worker runs.
//!
//! On a blob store without local files (S3) the parent downloads the whole input to plan
//! it (its frame listing reads every packet). Instead of deleting that copy with its
//! scratch directory, the worker keeps a hard link to it under `WORK/inputs/` (named by the
//! blob, which never changes) and the parts it runs afterwards (the audio pass, which reads
//! the whole input, and its share of the segments) read it in place; parts on other
//! workers read their stretch through ranged requests ([`crate::blob_http`]). Each part
//! links the kept file into its own scratch first, so removing it never pulls a file from
//! under a running ffmpeg.
//!
//! A kept file is named by its parent task (`<job id>-in-<blob>.<ext>`); every worker's
//! collector ([`super::collect_loop`]) removes those whose parent ended. At most [`KEEP`] stay
//! in any case (the oldest go first), and a restart clears the work directory.

use std::path::{Path, PathBuf};

use crate::Engine;
use crate::execute::ScratchDir;

/// Inputs kept per worker process at most.
const KEEP: usize = 4;

impl Engine {
    fn kept_dir(&self) -> PathBuf {
        self.inner.config.work_dir.join("inputs")
    }

    /// Keeps `input`, parent `job_id`'s download of blob `blob_id` in `scratch`, for this
    /// worker's parts. Inputs read in place (a local blob) are not copied; failures only
    /// cost the parts their local reads.
    pub(super) async fn keep_input(
        &self,
        input: &Path,
        blob_id: &str,
        job_id: &str,
        scratch: &ScratchDir,
    ) {
        let Some(name) = input.file_name().map(|n| n.to_string_lossy()) else {
            return;
        };
        if !input.starts_with(&scratch.root) || !name.contains(blob_id) {
            return;
        }
        let dir = self.kept_dir();
        let kept = dir.join(format!("{job_id}-{name}"));
        let result = async {
            tokio::fs::create_dir_all(&dir).await?;
            match tokio::fs::hard_link(input, &kept).await {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
                _ => {}
            }
            evict(&dir, KEEP).await
        }
        .await;
        if let Err(error) = result {
            tracing::info!(%error, "could not keep the input for this worker's parts");
        }
    }

    /// This worker's kept download of blob `blob_id`, linked into `scratch`, if it has one.
    pub(crate) async fn kept_input(&self, blob_id: &str, scratch: &ScratchDir) -> Option<PathBuf> {
        let kept = find(&self.kept_dir(), blob_id).await?;
        let local = scratch.root.join(kept.file_name()?);
        tokio::fs::hard_link(&kept, &local).await.ok()?;
        Some(local)
    }

    /// Removes the kept inputs of parents that ended; returns how many.
    pub(super) async fn collect_kept_inputs(&self) -> usize {
        let Ok(mut entries) = tokio::fs::read_dir(self.kept_dir()).await else {
            return 0;
        };
        let mut removed = 0;
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((parent, _)) = name.split_once('-') else {
                continue;
            };
            let ended = match self.store().get_task(parent).await {
                Ok(Some((task, _))) => task.state.is_terminal(),
                Ok(None) => true,
                Err(_) => false,
            };
            if ended && tokio::fs::remove_file(entry.path()).await.is_ok() {
                removed += 1;
            }
        }
        removed
    }
}

/// The file in `dir` holding blob `blob_id`.
async fn find(dir: &Path, blob_id: &str) -> Option<PathBuf> {
    let mut entries = tokio::fs::read_dir(dir).await.ok()?;
    while let Ok(Some(entry)) = entries.next_entry().await {
        if entry.file_name().to_string_lossy().contains(blob_id) {
            return Some(entry.path());
        }
    }
    None
}

/// Removes all but the `keep` newest files of `dir`.
async fn evict(dir: &Path, keep: usize) -> std::io::Result<()> {
    let mut files = Vec::new();
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        let modified = entry.metadata().await?.modified()?;
        files.push((modified, entry.path()));
    }
    files.sort();
    let excess = files.len().saturating_sub(keep);
    for (_, path) in files.into_iter().take(excess) {
        tokio::fs::remove_file(path).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn eviction_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..6 {
            let path = dir.path().join(format!("in-{i}.mp4"));
            std::fs::write(&path, b"x").unwrap();
            let at = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000 + i);
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(at)
                .unwrap();
        }
        evict(dir.path(), 4).await.unwrap();
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["in-2.mp4", "in-3.mp4", "in-4.mp4", "in-5.mp4"]);
        assert_eq!(
            find(dir.path(), "5").await,
            Some(dir.path().join("in-5.mp4"))
        );
        assert_eq!(find(dir.path(), "0").await, None);
    }
}

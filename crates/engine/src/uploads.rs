//! Reclaiming abandoned multipart uploads: an upload neither completed nor aborted within the
//! configured age is aborted and its part blobs deleted, so clients that give up (the Node SDK
//! never aborts, api-reference-2.md §1.5) cannot fill the disk.

use std::time::Duration;

use reelflow_model::clock::now_unix;
use reelflow_store::StoreError;
use tokio_util::sync::CancellationToken;

use crate::{Engine, EngineError};

/// Uploads examined per store call.
const BATCH: u32 = 100;

impl Engine {
    /// Aborts every upload initiated more than `max_age` before `now_ms` (Unix milliseconds)
    /// and deletes its parts; returns how many were aborted.
    pub async fn reclaim_stale_uploads(
        &self,
        max_age: Duration,
        now_ms: i64,
    ) -> Result<usize, EngineError> {
        let age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now_ms.saturating_sub(age_ms);
        let mut aborted = 0;
        loop {
            let stale = self.store().stale_uploads(cutoff, BATCH).await?;
            for upload in &stale {
                let blobs = match self.store().abort_upload(&upload.upload_id).await {
                    Ok(blobs) => blobs,
                    // Completed or aborted meanwhile.
                    Err(StoreError::NoSuchUpload(_)) => continue,
                    Err(e) => return Err(e.into()),
                };
                for blob in blobs {
                    if let Err(error) = self.blobs().delete(&blob).await {
                        tracing::warn!(%error, blob, "could not delete a reclaimed part");
                    }
                }
                tracing::info!(
                    bucket = upload.bucket,
                    key = upload.key,
                    upload_id = upload.upload_id,
                    "aborted an abandoned multipart upload"
                );
                aborted += 1;
            }
            if stale.len() < BATCH as usize {
                return Ok(aborted);
            }
        }
    }

    /// Runs [`Engine::reclaim_stale_uploads`] every `every` until `shutdown`.
    pub fn spawn_upload_reclaimer(
        &self,
        max_age: Duration,
        every: Duration,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                let now_ms = now_unix().saturating_mul(1000);
                if let Err(error) = engine.reclaim_stale_uploads(max_age, now_ms).await {
                    tracing::warn!(%error, "reclaiming abandoned multipart uploads failed");
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
            }
        })
    }
}

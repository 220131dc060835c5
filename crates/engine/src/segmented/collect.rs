//! Removal of the pieces nothing reads any more. A finished part's result names the piece it
//! stored in the blob store; once its parent ended (stitched, failed or cancelled) the piece
//! is garbage. Every worker process runs [`collect_loop`]: it lists those pieces
//! ([`reelflow_store::SubTaskStore::pieces_to_collect`]), deletes each blob (idempotent), then
//! clears the part's result, so a crash between the two only deletes again. A part whose end
//! the store refused (cancelled with its parent, or its lease lost) never had its result
//! stored: it deletes its own piece ([`Engine::drop_refused_piece`]). The same loop removes
//! this worker's kept inputs of ended parents ([`super::kept`]).

use reelflow_model::execution::{Task, TaskState};
use reelflow_model::workflow::NodeType;
use reelflow_store::{StoreError, StoredPiece, TaskOutcome};
use tokio_util::sync::CancellationToken;

use super::PartOutput;
use crate::Engine;

/// Pieces listed per store query.
const BATCH: u32 = 64;
/// Most queries per round; what is left waits for the next round.
const MAX_BATCHES: usize = 16;

/// Until `shutdown`: collects pieces every half lease (the lease sweeper's pace), and soon
/// after a parent ended here or was cancelled through this engine.
pub(crate) async fn collect_loop(engine: Engine, shutdown: CancellationToken) {
    let every = engine.inner.config.lease / 2;
    loop {
        match engine.collect_pieces().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pieces = n, "removed the pieces of ended segmented tasks"),
            Err(error) => tracing::error!(?error, "could not collect segment pieces"),
        }
        let kept = engine.collect_kept_inputs().await;
        if kept > 0 {
            tracing::info!(
                inputs = kept,
                "removed the kept inputs of ended segmented tasks"
            );
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = engine.inner.piece_wake.notified() => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// The blob a part's result names, if any.
fn piece_blob(result: &str) -> Option<String> {
    serde_json::from_str::<PartOutput>(result).ok()?.blob_id
}

/// The blob of `outcome` when `task` is a part that stored a piece: what must go if the
/// store refuses the end.
pub(crate) fn piece_of(task: &Task, outcome: &TaskOutcome) -> Option<String> {
    if task.node_type != NodeType::TranscodePart {
        return None;
    }
    piece_blob(&outcome.result)
}

impl Engine {
    /// One round of collection; returns how many pieces were collected.
    pub(crate) async fn collect_pieces(&self) -> Result<usize, StoreError> {
        let mut collected = 0;
        for _ in 0..MAX_BATCHES {
            let pieces = self.store().pieces_to_collect(BATCH).await?;
            let mut done = 0;
            for piece in &pieces {
                if self.collect_piece(piece).await? {
                    done += 1;
                }
            }
            collected += done;
            // A short batch was the last; one where nothing could be deleted would only
            // come back the same.
            if pieces.len() < BATCH as usize || done == 0 {
                break;
            }
        }
        Ok(collected)
    }

    /// Deletes `piece`'s blob, then clears it from its part; false when the blob could not be
    /// deleted (it is listed again next round) or another collector was first.
    async fn collect_piece(&self, piece: &StoredPiece) -> Result<bool, StoreError> {
        match piece_blob(&piece.result) {
            Some(blob) => {
                if let Err(error) = self.blobs().delete(&blob).await {
                    tracing::warn!(%error, job_id = %piece.job_id, "could not remove a segment piece");
                    return Ok(false);
                }
            }
            None => tracing::debug!(job_id = %piece.job_id, "a part's result names no piece"),
        }
        self.store()
            .mark_piece_collected(&piece.job_id, &piece.result)
            .await
    }

    /// Deletes `blob`, the piece of part `task` whose end the store refused, unless the store
    /// does hold it as the part's result (an end that committed but was retried after a lost
    /// reply is refused by the retry): then the collector removes it in its turn.
    pub(crate) async fn drop_refused_piece(&self, task: &Task, blob: &str) {
        match self.store().get_task(&task.job_id).await {
            Ok(Some((stored, _))) if piece_blob(&stored.result).as_deref() == Some(blob) => return,
            Ok(_) => {}
            Err(error) => {
                // Not knowing, keep it: a leftover is only space, a lost piece fails a task.
                tracing::warn!(?error, "could not read a refused part; its piece is kept");
                return;
            }
        }
        match self.blobs().delete(blob).await {
            Ok(()) => tracing::info!("removed the piece of a part whose end was refused"),
            Err(error) => tracing::warn!(%error, "could not remove the piece of a refused part"),
        }
    }

    /// Wakes the collector when `task`, which ended in `state`, may be a parent whose pieces
    /// are now garbage.
    pub(crate) fn parent_may_have_ended(&self, task: &Task, state: TaskState) {
        let parent = task.node_type == NodeType::Transcode && task.sub.is_none();
        if parent && state.is_terminal() && self.inner.config.segmented.enabled() {
            self.inner.piece_wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests;

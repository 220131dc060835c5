//! Task ends recorded in batches: every task slot of this process hands its task's end to one
//! finisher, which writes all the ends waiting at that moment in one store transaction
//! ([`reelflow_store::RunStore::finish_tasks`]). With one end waiting that is one transaction
//! per end, as before; under load the ends that arrive while a transaction commits share the
//! next one (group commit), which on PostgreSQL is a fixed number of set-based statements.

use std::sync::Arc;
use std::time::Duration;

use reelflow_model::clock::DisplayOffset;
use reelflow_model::execution::{Instance, Task};
use reelflow_store::{FinishResult, Store, TaskEnd, TaskOutcome};
use tokio::sync::{mpsc, oneshot};

use crate::callbacks;
use crate::dag::decide;

/// Most task ends written in one transaction.
const MAX_BATCH: usize = 128;
/// Tries of one batch before giving up on it (the leases then run out and the tasks rerun).
const TRIES: u32 = 5;

/// The handle the task slots send ends to.
#[derive(Debug, Clone)]
pub(crate) struct Finisher {
    queue: mpsc::UnboundedSender<Pending>,
}

#[derive(Debug)]
struct Pending {
    job_id: String,
    outcome: TaskOutcome,
    reply: oneshot::Sender<Option<FinishResult>>,
}

impl Finisher {
    /// Starts the writer task; it ends when the last handle is dropped.
    pub(crate) fn start(store: Arc<dyn Store>, owner: String, offset: DisplayOffset) -> Self {
        let (queue, ends) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(ends, store, owner, offset));
        Self { queue }
    }

    /// Records `task`'s end; `None` when it could not be written (after retries).
    pub(crate) async fn finish(&self, task: &Task, outcome: TaskOutcome) -> Option<FinishResult> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            job_id: task.job_id.clone(),
            outcome,
            reply,
        };
        self.queue.send(pending).ok()?;
        answer.await.ok().flatten()
    }
}

async fn write_loop(
    mut ends: mpsc::UnboundedReceiver<Pending>,
    store: Arc<dyn Store>,
    owner: String,
    offset: DisplayOffset,
) {
    let mut batch = Vec::new();
    while ends.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = match write(&*store, &owner, offset, &batch).await {
            Some(results) => results.into_iter().map(Some).collect(),
            // One bad end must not sink the others: write them one by one.
            None if batch.len() > 1 => {
                let mut results = Vec::with_capacity(batch.len());
                for one in batch.chunks(1) {
                    results.push(
                        write(&*store, &owner, offset, one)
                            .await
                            .and_then(|mut r| r.pop()),
                    );
                }
                results
            }
            None => vec![None],
        };
        for (pending, result) in batch.drain(..).zip(results) {
            let _ = pending.reply.send(result);
        }
    }
}

/// Writes `batch` in one transaction, retrying with backoff; `None` after the last try.
async fn write(
    store: &dyn Store,
    owner: &str,
    offset: DisplayOffset,
    batch: &[Pending],
) -> Option<Vec<FinishResult>> {
    let ends: Vec<TaskEnd<'_>> = batch
        .iter()
        .map(|p| TaskEnd {
            job_id: &p.job_id,
            outcome: &p.outcome,
        })
        .collect();
    let decider = |i: &Instance, t: &[Task], now: i64| decide(i, t, now);
    let builder = move |i: &Instance, t: &[Task], job: &str| callbacks::messages(i, t, job, offset);
    for attempt in 0..TRIES {
        match store.finish_tasks(owner, &ends, &decider, &builder).await {
            Ok(results) => return Some(results),
            Err(error) => {
                tracing::error!(
                    ?error,
                    attempt,
                    ends = ends.len(),
                    "could not record task ends; retrying"
                );
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
        }
    }
    None
}

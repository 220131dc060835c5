//! The batch's `JobsDetail` (api-reference-2.md §4.3), shared by the API and the batch-end
//! callback:
//!
//! ```text
//! JobsDetail{ Code, Message, Name, JobId, Type, State, CreationTime, StartTime, EndTime,
//!             Progress (0–100), QueueId?, Input (echo), Operation (echo),
//!             Statistics{Total, Submitted, Succeeded, Failed, Running} (reelflow),
//!             Result*{Object, WorkflowId?, InstanceId|JobId} (reelflow; get only, first 100) }
//! ```
//! `Total` is the matching objects found so far (final once the listing ended); `Submitted`
//! counts instances/jobs created (one per object and workflow).

use reelflow_model::XmlElement;
use reelflow_model::clock::DisplayOffset;
use reelflow_store::{BatchItem, BatchProgress, BatchRecord};

/// How unset times are shown: `-` in get/list, empty in the create answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsetTime {
    /// `-`.
    Dash,
    /// Empty.
    Empty,
}

/// Builds `JobsDetail` for `batch`.
pub fn batch_detail(
    batch: &BatchRecord,
    progress: &BatchProgress,
    items: &[BatchItem],
    offset: DisplayOffset,
    unset: UnsetTime,
) -> XmlElement {
    let time = |t: Option<i64>| match (t, unset) {
        (Some(s), _) => offset.api_time(s),
        (None, UnsetTime::Dash) => "-".to_owned(),
        (None, UnsetTime::Empty) => String::new(),
    };
    let ended = progress.succeeded + progress.failed;
    let percent = if batch.state.is_terminal() && batch.listing_done {
        100
    } else if progress.submitted == 0 {
        0
    } else {
        ended * 100 / progress.submitted.max(1) * u64::from(batch.listing_done)
    };
    let mut d = XmlElement::new("JobsDetail")
        .with_leaf("Code", &batch.code)
        .with_leaf("Message", &batch.message)
        .with_leaf("Name", &batch.name)
        .with_leaf("JobId", &batch.id)
        .with_leaf("Type", batch.kind.as_str())
        .with_leaf("State", batch.state.as_str())
        .with_leaf("CreationTime", offset.api_time(batch.created))
        .with_leaf("StartTime", time(batch.started))
        .with_leaf("EndTime", time(batch.ended))
        .with_leaf("Progress", percent.to_string());
    for name in ["Input", "Operation"] {
        if let Some(e) = batch.request.child(name) {
            d.push(e.clone());
        }
    }
    d.push(
        XmlElement::new("Statistics")
            .with_leaf("Total", batch.total.to_string())
            .with_leaf("Submitted", progress.submitted.to_string())
            .with_leaf("Succeeded", progress.succeeded.to_string())
            .with_leaf("Failed", progress.failed.to_string())
            .with_leaf("Running", progress.running.to_string()),
    );
    for item in items {
        let mut r = XmlElement::new("Result").with_leaf("Object", &item.key);
        if item.job_id.is_empty() {
            r.push_leaf("WorkflowId", &item.workflow_id);
            r.push_leaf("InstanceId", &item.run_id);
        } else {
            r.push_leaf("JobId", &item.job_id);
        }
        d.push(r);
    }
    d
}

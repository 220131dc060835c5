//! Engine errors surfaced to callers (the API). Task failures are not errors here: they are
//! recorded on the task and reported in the run's callback.

use reelflow_objects::BlobError;
use reelflow_store::StoreError;

/// Why an engine call failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blob store failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// No such workflow.
    #[error("workflow {0} does not exist")]
    WorkflowNotFound(String),
    /// No such object.
    #[error("object {0} does not exist")]
    ObjectNotFound(String),
    /// A stored workflow no longer parses.
    #[error("stored workflow is invalid: {0}")]
    InvalidWorkflow(#[source] reelflow_model::InvalidInput),
}

impl EngineError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Store(e) => e.code(),
            EngineError::Blob(e) => e.code(),
            EngineError::WorkflowNotFound(_) => "ResourceNotFound",
            EngineError::ObjectNotFound(_) => "NoSuchKey",
            EngineError::InvalidWorkflow(_) => "InternalError",
        }
    }
}

//! Starting runs: on upload or multipart completion (every Active workflow of the bucket whose
//! filter matches) and on explicit trigger (any workflow, Active or Paused).

use std::collections::HashMap;

use reelflow_model::clock::now_unix;
use reelflow_model::naming::start_matches;
use reelflow_model::object::{ObjectOrigin, ObjectRecord};
use reelflow_model::template::Template;
use reelflow_model::workflow::{Workflow, WorkflowState};
use reelflow_objects::is_composite_id;
use reelflow_store::{NewRun, UploadPart};

use crate::plan::new_run;
use crate::{Engine, EngineError};

impl Engine {
    /// Records an uploaded (or workflow-written) object and starts the runs it triggers, in one
    /// transaction; returns the new RunIds. A replaced object's old blob is deleted afterwards.
    pub async fn object_uploaded(&self, record: ObjectRecord) -> Result<Vec<String>, EngineError> {
        let runs = if record.origin == ObjectOrigin::Upload {
            self.matching_runs(&record).await?
        } else {
            Vec::new()
        };
        let replaced = self.store().put_object(&record, &runs).await?;
        if let Some(old) = replaced
            && let Err(error) = self.blobs().delete(&old).await
        {
            tracing::warn!(%error, blob = old, "could not delete a replaced blob");
        }
        if !runs.is_empty() {
            self.wake_workers();
        }
        Ok(runs.into_iter().map(|r| r.instance.run_id).collect())
    }

    /// Completes multipart upload `upload_id`: records `record`, whose blob is the composite of
    /// `parts` (as listed from the store and passed to `BlobStore::compose`), and starts the runs
    /// it triggers, in the transaction that ends the upload; returns the new RunIds. Afterwards
    /// the replaced object's blob and the blobs of uploaded parts left out of `parts` are deleted.
    ///
    /// Fails with `StoreError::NoSuchUpload` (inside [`EngineError::Store`]) when the upload was
    /// completed or aborted meanwhile, and `StoreError::InvalidPart` when a part was re-uploaded
    /// since it was listed. On any failure a composite `record.blob_id` is *forgotten* (its
    /// manifest removed, its parts kept): the parts still belong to the upload, which can be
    /// completed again, or to the completion that won a race.
    pub async fn multipart_completed(
        &self,
        upload_id: &str,
        parts: &[UploadPart],
        record: ObjectRecord,
    ) -> Result<Vec<String>, EngineError> {
        let committed = self.commit_multipart(upload_id, parts, &record).await;
        if committed.is_err()
            && is_composite_id(&record.blob_id)
            && let Err(error) = self.blobs().forget_composite(&record.blob_id).await
        {
            tracing::warn!(%error, blob = record.blob_id, "could not forget an unused composite");
        }
        let (runs, done) = committed?;
        for blob in done.replaced_blob.iter().chain(&done.unused_part_blobs) {
            if let Err(error) = self.blobs().delete(blob).await {
                tracing::warn!(%error, blob, "could not delete a replaced or unused blob");
            }
        }
        if !runs.is_empty() {
            self.wake_workers();
        }
        Ok(runs.into_iter().map(|r| r.instance.run_id).collect())
    }

    async fn commit_multipart(
        &self,
        upload_id: &str,
        parts: &[UploadPart],
        record: &ObjectRecord,
    ) -> Result<(Vec<NewRun>, reelflow_store::CompletedUpload), EngineError> {
        let runs = if record.origin == ObjectOrigin::Upload {
            self.matching_runs(record).await?
        } else {
            Vec::new()
        };
        let done = self
            .store()
            .complete_upload(upload_id, parts, record, &runs)
            .await?;
        Ok((runs, done))
    }

    /// Runs `workflow_id` on an existing object regardless of the workflow's state.
    pub async fn trigger(&self, workflow_id: &str, key: &str) -> Result<String, EngineError> {
        let workflow = self
            .store()
            .get_workflow(workflow_id)
            .await?
            .ok_or_else(|| EngineError::WorkflowNotFound(workflow_id.to_owned()))?;
        let object = self
            .store()
            .get_object(&workflow.bucket, key)
            .await?
            .ok_or_else(|| EngineError::ObjectNotFound(key.to_owned()))?;
        let run = self.plan(&workflow, &object).await?;
        self.store().create_run(&run).await?;
        self.wake_workers();
        Ok(run.instance.run_id)
    }

    async fn matching_runs(&self, record: &ObjectRecord) -> Result<Vec<NewRun>, EngineError> {
        let mut runs = Vec::new();
        for workflow in self.store().list_workflows(&record.bucket).await? {
            if workflow.state != WorkflowState::Active {
                continue;
            }
            let topology = workflow.topology().map_err(EngineError::InvalidWorkflow)?;
            let matches = topology
                .start()
                .is_some_and(|s| start_matches(s, &record.key, &record.content_type));
            if matches {
                runs.push(self.plan(&workflow, record).await?);
            }
        }
        Ok(runs)
    }

    async fn plan(
        &self,
        workflow: &Workflow,
        object: &ObjectRecord,
    ) -> Result<NewRun, EngineError> {
        let topology = workflow.topology().map_err(EngineError::InvalidWorkflow)?;
        let mut templates: HashMap<String, Template> = HashMap::new();
        for id in topology
            .nodes
            .iter()
            .filter_map(|n| n.operation.template_id.as_ref())
        {
            if let Some(t) = self.store().get_template(id).await? {
                templates.insert(t.id.clone(), t);
            }
        }
        let requested = topology.start().and_then(|s| s.queue_id.as_deref());
        let queue_id = self.queue_for(&workflow.bucket, requested).await?;
        Ok(new_run(
            workflow,
            &topology,
            object,
            &templates,
            &queue_id,
            now_unix(),
        ))
    }
}

//! One page of a batch's walk: the next objects of its input (a prefix listing, one object, or
//! a manifest's rows), filtered, turned into runs (workflow instances or jobs) and items.
//!
//! Cursor encodings (stored opaque on the batch row): Prefix — the last key listed; Object —
//! `done`; Manifest — `<file index>:<rows consumed>`.

use std::collections::HashMap;

use reelflow_model::batch::{BatchInput, BatchSpec, BatchType, job_request_for};
use reelflow_model::clock::now_unix;
use reelflow_model::job::parse_jobs;
use reelflow_model::naming::start_matches;
use reelflow_model::object::{ObjectOrigin, ObjectRecord};
use reelflow_model::template::Template;
use reelflow_model::workflow::{Topology, Workflow};
use reelflow_store::{BatchItem, BatchPage, BatchRecord, NewRun};

use super::manifest::{Manifest, ManifestError, parse_manifest, parse_rows};
use crate::plan::new_run;
use crate::{Engine, EngineError, JobError};

/// Why a batch cannot go on; it ends Failed with this code and message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BatchFail {
    /// A workflow it names is gone or belongs to another bucket.
    #[error("workflow {0} does not exist")]
    NoWorkflow(String),
    /// The Object input does not exist.
    #[error("object {0} does not exist")]
    NoObject(String),
    /// The manifest cannot be used.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A Job batch's job is refused (template, queue or output bucket missing).
    #[error("job on {key}: {error}")]
    Job {
        /// The object.
        key: String,
        /// Why.
        error: JobError,
    },
    /// Store or blob failure (retried by the next claim, not a batch failure).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl BatchFail {
    /// The batch's `Code`.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            BatchFail::NoWorkflow(_) | BatchFail::Job { .. } => "ResourceNotFound",
            BatchFail::NoObject(_) => "NoSuchKey",
            BatchFail::Manifest(_) => "InvalidManifest",
            BatchFail::Engine(e) => e.code(),
        }
    }
}

/// One workflow of a Workflow batch, resolved once per claim.
#[derive(Debug)]
pub(crate) struct WorkflowPlan {
    workflow: Workflow,
    topology: Topology,
    templates: HashMap<String, Template>,
    /// The queue its instances go to.
    pub(crate) queue_id: String,
}

/// What a batch starts per object.
#[derive(Debug)]
pub(crate) enum Plan {
    /// Instances of these workflows.
    Workflows(Vec<WorkflowPlan>),
    /// One job of the batch Operation, in this queue.
    Job(String),
}

impl Plan {
    /// Queues the batch submits to.
    pub(crate) fn queues(&self) -> Vec<&str> {
        match self {
            Plan::Workflows(w) => w.iter().map(|p| p.queue_id.as_str()).collect(),
            Plan::Job(q) => vec![q.as_str()],
        }
    }
}

/// A manifest being walked: the manifest and the current file's rows.
#[derive(Debug, Default)]
pub(crate) struct ManifestState {
    manifest: Option<Manifest>,
    file: Option<(usize, Vec<(String, String)>)>,
}

impl Engine {
    /// Resolves the batch's workflows (or its job queue).
    pub(crate) async fn batch_plan(
        &self,
        batch: &BatchRecord,
        spec: &BatchSpec,
    ) -> Result<Plan, BatchFail> {
        if spec.kind == BatchType::Job {
            let requested = spec.operation_xml.text_of("QueueId");
            return Ok(Plan::Job(self.queue_for(&batch.bucket, requested).await?));
        }
        let mut plans = Vec::new();
        for id in &spec.workflow_ids {
            let workflow = self
                .store()
                .get_workflow(id)
                .await
                .map_err(EngineError::from)?
                .filter(|w| w.bucket == batch.bucket)
                .ok_or_else(|| BatchFail::NoWorkflow(id.clone()))?;
            let topology = workflow.topology().map_err(EngineError::InvalidWorkflow)?;
            let mut templates = HashMap::new();
            for tid in topology
                .nodes
                .iter()
                .filter_map(|n| n.operation.template_id.as_ref())
            {
                if let Some(t) = self
                    .store()
                    .get_template(tid)
                    .await
                    .map_err(EngineError::from)?
                {
                    templates.insert(t.id.clone(), t);
                }
            }
            let requested = topology.start().and_then(|s| s.queue_id.as_deref());
            let queue_id = self.queue_for(&workflow.bucket, requested).await?;
            plans.push(WorkflowPlan {
                workflow,
                topology,
                templates,
                queue_id,
            });
        }
        Ok(Plan::Workflows(plans))
    }

    /// The next page of at most `limit` objects after `cursor`.
    pub(crate) async fn batch_page(
        &self,
        batch: &BatchRecord,
        spec: &BatchSpec,
        plan: &Plan,
        manifest: &mut ManifestState,
        limit: u32,
    ) -> Result<BatchPage, BatchFail> {
        let (objects, cursor, done, filtered) = match &spec.input {
            BatchInput::Prefix(prefix) => {
                let listed = self
                    .store()
                    .list_objects(&batch.bucket, prefix, &batch.cursor, limit)
                    .await
                    .map_err(EngineError::from)?;
                let done = listed.len() < limit as usize;
                let cursor = listed
                    .last()
                    .map_or(batch.cursor.clone(), |o| o.key.clone());
                (listed, cursor, done, true)
            }
            BatchInput::Object(key) => {
                let object = self
                    .store()
                    .get_object(&batch.bucket, key)
                    .await
                    .map_err(EngineError::from)?
                    .ok_or_else(|| BatchFail::NoObject(key.clone()))?;
                (vec![object], "done".to_owned(), true, false)
            }
            BatchInput::Manifest { bucket, key } => {
                let (objects, cursor, done) = self
                    .manifest_page(batch, bucket, key, manifest, limit)
                    .await?;
                (objects, cursor, done, true)
            }
        };
        let mut page = BatchPage {
            cursor,
            listing_done: done,
            ..BatchPage::default()
        };
        for object in objects {
            if filtered
                && (object.origin != ObjectOrigin::Upload
                    || !spec.window.contains(object.last_modified_ms))
            {
                continue;
            }
            let before = page.runs.len();
            self.object_runs(batch, spec, plan, &object, filtered, &mut page)
                .await?;
            if page.runs.len() > before {
                page.objects += 1;
            }
        }
        Ok(page)
    }

    /// Adds the runs `object` starts to `page`.
    async fn object_runs(
        &self,
        batch: &BatchRecord,
        spec: &BatchSpec,
        plan: &Plan,
        object: &ObjectRecord,
        filtered: bool,
        page: &mut BatchPage,
    ) -> Result<(), BatchFail> {
        match plan {
            Plan::Workflows(plans) => {
                let now = now_unix();
                for p in plans {
                    let matches = !filtered
                        || p.topology
                            .start()
                            .is_some_and(|s| start_matches(s, &object.key, &object.content_type));
                    if !matches {
                        continue;
                    }
                    let run = new_run(
                        &p.workflow,
                        &p.topology,
                        object,
                        &p.templates,
                        &p.queue_id,
                        now,
                    );
                    page.items.push(BatchItem {
                        key: object.key.clone(),
                        workflow_id: p.workflow.id.clone(),
                        run_id: run.instance.run_id.clone(),
                        job_id: String::new(),
                    });
                    page.runs.push(run);
                }
            }
            Plan::Job(_) => {
                let run = self.batch_job(batch, spec, &object.key).await?;
                page.items.push(BatchItem {
                    key: object.key.clone(),
                    workflow_id: String::new(),
                    run_id: run.instance.run_id.clone(),
                    job_id: run.tasks[0].job_id.clone(),
                });
                page.runs.push(run);
            }
        }
        Ok(())
    }

    /// The job run of a Job batch on `key`.
    pub(crate) async fn batch_job(
        &self,
        batch: &BatchRecord,
        spec: &BatchSpec,
        key: &str,
    ) -> Result<NewRun, BatchFail> {
        let fail = |error: JobError| BatchFail::Job {
            key: key.to_owned(),
            error,
        };
        let request = job_request_for(&spec.operation_xml, key, &batch.id);
        let job = parse_jobs(&request)
            .map_err(|e| fail(JobError::NotFound(e.to_string())))?
            .remove(0);
        self.plan_job(&batch.bucket, job).await.map_err(fail)
    }

    async fn manifest_page(
        &self,
        batch: &BatchRecord,
        bucket: &str,
        key: &str,
        state: &mut ManifestState,
        limit: u32,
    ) -> Result<(Vec<ObjectRecord>, String, bool), BatchFail> {
        if state.manifest.is_none() {
            let body = self.read_small_object(bucket, key).await?;
            state.manifest = Some(parse_manifest(key, &body)?);
        }
        let manifest = state.manifest.as_ref().expect("loaded above");
        let (mut file, mut row) = parse_manifest_cursor(&batch.cursor);
        let mut objects = Vec::new();
        while file < manifest.files.len() && objects.len() < limit as usize {
            if state.file.as_ref().is_none_or(|(f, _)| *f != file) {
                let body = self
                    .read_small_object(bucket, &manifest.files[file])
                    .await?;
                let text = String::from_utf8_lossy(&body);
                state.file = Some((file, parse_rows(manifest, &text)));
            }
            let rows = &state.file.as_ref().expect("loaded above").1;
            let take = (limit as usize - objects.len()).min(rows.len().saturating_sub(row));
            for (row_bucket, row_key) in &rows[row..row + take] {
                if row_bucket != &batch.bucket {
                    continue;
                }
                let found = self
                    .store()
                    .get_object(&batch.bucket, row_key)
                    .await
                    .map_err(EngineError::from)?;
                objects.extend(found);
            }
            row += take;
            if row >= rows.len() {
                file += 1;
                row = 0;
            }
        }
        let done = file >= manifest.files.len();
        Ok((objects, format!("{file}:{row}"), done))
    }
}

/// `<file>:<row>`; empty (a new batch) is the start.
fn parse_manifest_cursor(cursor: &str) -> (usize, usize) {
    cursor
        .split_once(':')
        .and_then(|(f, r)| Some((f.parse().ok()?, r.parse().ok()?)))
        .unwrap_or((0, 0))
}

//! Standalone jobs and cancellation. A job is a one-node run (see `reelflow_model::job`), so it
//! is claimed, executed, finished and reported by exactly the same machinery as workflow tasks.
//! Submission checks what can be checked at once: the input object exists, an `Input.Url` is
//! acceptable to the SSRF guard (IP literals; names are checked when fetched) and, when it
//! names an object of this server, that object exists.

use reelflow_model::clock::now_unix;
use reelflow_model::execution::{Instance, RunState, Task, TaskState};
use reelflow_model::ids::{new_job_id, new_run_id};
use reelflow_model::job::{JobCallback, JobInput, JobRequest, job_topology};
use reelflow_model::topology::{check_structure, expected_tag};
use reelflow_model::workflow::Topology;
use reelflow_store::{CancelOutcome, NewRun};

use crate::{Engine, EngineError, callbacks, dag};

/// Why a job request was refused before anything was created.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Invalid content (names the element and rule).
    #[error(transparent)]
    Invalid(#[from] reelflow_model::InvalidInput),
    /// An `Input.Url` that cannot be fetched (bad syntax, or an address the guard refuses).
    #[error("Request.Input.Url: {0}")]
    InputUrl(#[source] crate::FetchError),
    /// The input object does not exist.
    #[error("input object {0} does not exist")]
    NoSuchKey(String),
    /// A referenced template/queue/bucket does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Engine failure.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<reelflow_store::StoreError> for JobError {
    fn from(e: reelflow_store::StoreError) -> Self {
        JobError::Engine(e.into())
    }
}

impl Engine {
    /// The queue a new task of `bucket` goes to: `requested` if it is one of the bucket's
    /// queues, else the bucket's default queue.
    pub async fn queue_for(
        &self,
        bucket: &str,
        requested: Option<&str>,
    ) -> Result<String, EngineError> {
        if let Some(id) = requested
            && let Some(q) = self.store().get_queue(id).await?
            && q.bucket == bucket
        {
            return Ok(q.id);
        }
        let default = self
            .store()
            .default_queue(bucket, self.inner.config.default_max_concurrent, now_unix())
            .await?;
        Ok(default.id)
    }

    /// Validates and creates jobs; returns each created task with its run.
    pub async fn submit_jobs(
        &self,
        bucket: &str,
        jobs: Vec<JobRequest>,
    ) -> Result<Vec<(Task, Instance)>, JobError> {
        let mut runs = Vec::with_capacity(jobs.len());
        for job in jobs {
            self.check_input(bucket, &job.input).await?;
            runs.push(self.plan_job(bucket, job).await?);
        }
        for run in &runs {
            self.store().create_run(run).await?;
        }
        self.wake_workers();
        Ok(runs
            .into_iter()
            .map(|r| (r.tasks[0].clone(), r.instance))
            .collect())
    }

    /// The run of one job (not yet created): its queue checked, the queue's NotifyConfig as
    /// its callback when it names none, its template and output bucket checked.
    pub(crate) async fn plan_job(
        &self,
        bucket: &str,
        mut job: JobRequest,
    ) -> Result<NewRun, JobError> {
        if let Some(q) = &job.queue_id
            && self
                .store()
                .get_queue(q)
                .await?
                .is_none_or(|q| q.bucket != bucket)
        {
            return Err(JobError::NotFound(format!("queue {q} does not exist")));
        }
        if job.callback == JobCallback::Queue
            && let Some(notify) = self.queue_notify(bucket, job.queue_id.as_deref()).await?
        {
            job.callback = JobCallback::Notify(notify);
        }
        self.job_run(bucket, &job).await
    }

    /// Refuses a job whose input object (or `Input.Url`) cannot be read.
    async fn check_input(&self, bucket: &str, input: &JobInput) -> Result<(), JobError> {
        let (bucket, key) = match input {
            JobInput::None => return Ok(()),
            JobInput::Object(key) => (bucket.to_owned(), key.clone()),
            JobInput::Url(url) => {
                crate::check_input_url(self.fetch_config(), url).map_err(JobError::InputUrl)?;
                match self.local_cos_object(url).await? {
                    Some(found) => found,
                    None => return Ok(()),
                }
            }
        };
        if self.store().get_object(&bucket, &key).await?.is_none() {
            return Err(JobError::NoSuchKey(key));
        }
        Ok(())
    }

    /// The queue's NotifyConfig, the fallback callback of jobs that name none.
    async fn queue_notify(
        &self,
        bucket: &str,
        queue: Option<&str>,
    ) -> Result<Option<reelflow_model::XmlElement>, EngineError> {
        let id = self.queue_for(bucket, queue).await?;
        let notify = self
            .store()
            .get_queue(&id)
            .await?
            .map(|q| q.notify)
            .filter(|n| n.text_of("Url").is_some());
        Ok(notify.map(|mut n| {
            n.children.retain(|c| c.name != "Event");
            n.with_leaf("Event", "TaskFinish")
        }))
    }

    async fn job_run(&self, bucket: &str, job: &JobRequest) -> Result<NewRun, JobError> {
        let topology_xml = job_topology(job);
        let topology = Topology::parse(&topology_xml)?;
        check_structure(&topology)?;
        let node = topology
            .node(job.node_type.as_str())
            .expect("the job node exists");
        let op = &node.operation;
        let mut template_name = String::new();
        if let Some(id) = &op.template_id {
            let template = self
                .store()
                .get_template(id)
                .await?
                .filter(|t| t.bucket == bucket || t.bucket.is_empty())
                .ok_or_else(|| JobError::NotFound(format!("template {id} does not exist")))?;
            if expected_tag(job.node_type).is_some_and(|tag| !tag.accepts(template.tag)) {
                return Err(reelflow_model::InvalidInput::rule(
                    "Request.Operation.TemplateId",
                    format!(
                        "template {id} is a {} template, not usable by a {} job",
                        template.tag.as_str(),
                        job.tag
                    ),
                )
                .into());
            }
            template_name = template.name;
        }
        if let Some(out) = &op.output
            && !self.store().bucket_exists(&out.bucket).await?
        {
            return Err(JobError::NotFound(format!(
                "output bucket {} does not exist",
                out.bucket
            )));
        }
        let now = now_unix();
        let run_id = new_run_id();
        let queue_id = self.queue_for(bucket, job.queue_id.as_deref()).await?;
        let task = Task {
            job_id: new_job_id(),
            run_id: run_id.clone(),
            node_name: node.name.clone(),
            node_type: job.node_type,
            tag: job.tag.clone(),
            template_id: op.template_id.clone().unwrap_or_default(),
            template_name,
            queue_id,
            state: TaskState::Submitted,
            code: String::new(),
            message: String::new(),
            progress: 0,
            input_bucket: bucket.to_owned(),
            input_key: job.input.key(),
            outputs: Vec::new(),
            result: String::new(),
            created: now,
            started: None,
            ended: None,
            attempts: 0,
            not_before: 0,
            sub: None,
        };
        let instance = Instance {
            run_id,
            workflow_id: String::new(),
            workflow_name: String::new(),
            bucket: bucket.to_owned(),
            object: job.input.key(),
            cos_headers: Vec::new(),
            topology_xml,
            state: RunState::Running,
            created: now,
            ended: None,
        };
        Ok(NewRun {
            instance,
            tasks: vec![task],
        })
    }

    /// Cancels a task (job): at once if it has not started, else by stopping its ffmpeg.
    pub async fn cancel(&self, job_id: &str) -> Result<CancelOutcome, EngineError> {
        let now = now_unix();
        let offset = self.offset();
        let decider = move |i: &Instance, t: &[Task]| dag::decide(i, t, now);
        let builder =
            move |i: &Instance, t: &[Task], job: &str| callbacks::messages(i, t, job, offset);
        let outcome = self
            .store()
            .cancel_task(job_id, now, &decider, &builder)
            .await?;
        if matches!(outcome, CancelOutcome::Cancelled { .. }) {
            self.inner.callback_wake.notify_one();
            self.inner.piece_wake.notify_one();
            self.wake_workers();
        }
        Ok(outcome)
    }
}

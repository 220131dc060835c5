//! Executing one task: resolve its node and templates, fetch its input, run the node's media
//! operation, and write the outputs back to object storage. Every failure becomes a task
//! Code/Message, never a panic or a lost task; the per-task scratch directory is removed on
//! every exit path. Outputs are named by [`outputs`]; messages name object keys, never the
//! blob ids or scratch paths behind them ([`redact`]).

mod outputs;
mod package;
mod redact;

use std::path::{Path, PathBuf};

use reelflow_media::sniff::InputKind;
use reelflow_media::{MediaError, RunControl};
use reelflow_model::clock::now_unix;
use reelflow_model::execution::{Instance, OutputObject, Task};
use reelflow_model::object::{ObjectOrigin, ObjectRecord};
use reelflow_model::template::Template;
use reelflow_model::workflow::{Node, Topology};

use crate::nodes;
use crate::{Engine, EngineError};

pub(crate) use outputs::{main_file, main_key};
pub(crate) use package::Package;
pub(crate) use redact::redact;

/// Why a task failed: a stable code and a message for the user.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub code: String,
    pub message: String,
    /// A later attempt may pass (a storage hiccup, ffmpeg killed by a signal, a timeout):
    /// the worker retries the task with backoff instead of failing it. Bad input, a bad
    /// spec and deterministic tool errors are not transient.
    pub transient: bool,
}

impl Failure {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            transient: false,
        }
    }
}

/// Whether a media failure may pass on a later attempt: the media crate's classifier, plus
/// a tool killed by a signal (OOM killer, an operator, a dying host), which says nothing
/// about the input. A cancel through the run's token is not a failure to retry.
pub(crate) fn media_transient(e: &MediaError) -> bool {
    if e.is_cancelled() || e.is_client_error() {
        return false;
    }
    e.is_retryable() || killed_by_signal(e)
}

fn killed_by_signal(e: &MediaError) -> bool {
    use std::os::unix::process::ExitStatusExt;
    matches!(
        e,
        MediaError::Process(reelflow_media::ProcessError::Failed { status, .. })
            if status.signal().is_some()
    )
}

impl From<MediaError> for Failure {
    fn from(e: MediaError) -> Self {
        let transient = media_transient(&e);
        Self {
            transient,
            ..Failure::new(e.code(), e.to_string())
        }
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        tracing::error!(error = ?e, "internal error while running a task");
        // The database or the blob store failing under a task is a hiccup of the service,
        // not of the task: worth another attempt.
        let transient = match &e {
            EngineError::Store(_) => true,
            EngineError::Blob(b) => matches!(
                b,
                reelflow_objects::BlobError::Io { .. }
                    | reelflow_objects::BlobError::Remote { .. }
                    | reelflow_objects::BlobError::BodyRead { .. }
            ),
            _ => false,
        };
        Self {
            transient,
            ..Failure::new("InternalError", format!("internal error: {e}"))
        }
    }
}

impl From<reelflow_store::StoreError> for Failure {
    fn from(e: reelflow_store::StoreError) -> Self {
        Failure::from(EngineError::from(e))
    }
}

impl From<reelflow_objects::BlobError> for Failure {
    fn from(e: reelflow_objects::BlobError) -> Self {
        Failure::from(EngineError::from(e))
    }
}

/// What a finished task produced.
#[derive(Debug, Default)]
pub(crate) struct TaskResult {
    pub outputs: Vec<OutputObject>,
    /// Extra result document (XML), e.g. MediaInfo.
    pub result: String,
}

/// A task's scratch directory, removed when dropped whatever happened, and the object keys of
/// the files staged in it (for failure messages).
pub(crate) struct ScratchDir {
    pub root: PathBuf,
    pub names: redact::Names,
    /// (key, blob id) of the stored objects read here whose content was checked as media.
    media: std::sync::Mutex<Vec<(String, String)>>,
}

impl ScratchDir {
    pub(crate) fn create(path: PathBuf) -> Result<Self, Failure> {
        let _ = std::fs::remove_dir_all(&path);
        let names = redact::Names::default();
        names.add_root(&path);
        std::fs::create_dir_all(path.join("out")).map_err(|e| {
            Failure::new(
                "InternalError",
                format!("cannot create a work directory: {e}"),
            )
        })?;
        Ok(Self {
            root: path,
            names,
            media: Default::default(),
        })
    }

    /// Records that the blob `blob_id` read as object `key` is media ([`InputKind::Media`]).
    fn checked_media(&self, key: &str, blob_id: &str) {
        let mut media = self.media.lock().unwrap_or_else(|e| e.into_inner());
        media.push((key.to_owned(), blob_id.to_owned()));
    }

    /// The blob read as object `key` here and checked as media, if one was.
    pub(crate) fn media_blob(&self, key: &str) -> Option<String> {
        let media = self.media.lock().unwrap_or_else(|e| e.into_inner());
        media.iter().find(|(k, _)| k == key).map(|(_, b)| b.clone())
    }

    pub(crate) fn out(&self) -> PathBuf {
        self.root.join("out")
    }

    /// `failure` with its message naming object keys instead of local paths and blob ids
    /// (see [`redact_failure`]).
    pub(crate) fn redact(&self, input_key: &str, failure: Failure) -> Failure {
        redact_failure([self], input_key, failure)
    }
}

/// `failure` rewritten through the staged names of every scratch directory given. A
/// complaint about an input that names no object (tools may call it just "the input") is
/// prefixed with the task's `input_key`, so the user learns which object is unreadable.
pub(crate) fn redact_failure<'a>(
    scratches: impl IntoIterator<Item = &'a ScratchDir> + Clone,
    input_key: &str,
    failure: Failure,
) -> Failure {
    let names = || scratches.clone().into_iter().map(|s| &s.names);
    let mut message = redact(names(), &failure.message);
    let about_input = matches!(failure.code.as_str(), "InvalidInput" | "ProbeFailed");
    let named = message.contains(input_key) || names().any(|n| n.mentioned_in(&message));
    if about_input && !input_key.is_empty() && !named {
        message = format!("input object {input_key}: {message}");
    }
    Failure { message, ..failure }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.root)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%error, dir = %self.root.display(), "could not remove a task directory");
        }
    }
}

/// Everything a node needs to run, resolved from the run's topology snapshot and the store.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub task: Task,
    pub instance: Instance,
    pub run_tasks: Vec<Task>,
    pub topology: Topology,
    pub node: Node,
    pub template: Option<Template>,
    pub watermarks: Vec<Template>,
}

impl Engine {
    /// Runs `task` to completion.
    pub(crate) async fn execute(
        &self,
        task: &Task,
        ctl: &RunControl,
    ) -> Result<TaskResult, Failure> {
        if self.inner.config.noop_tasks {
            return Ok(TaskResult {
                outputs: Vec::new(),
                result: String::new(),
            });
        }
        let started = std::time::Instant::now();
        if let Some(result) = self.execute_segmented(task, ctl).await {
            self.observe_task(task.node_type, result.is_ok(), started.elapsed());
            return result;
        }
        let scratch = ScratchDir::create(self.inner.config.work_dir.join(&task.job_id))?;
        let result: Result<TaskResult, Failure> = async {
            let job = self.resolve(task).await?;
            let input = self.job_input(&job, &scratch, ctl).await?;
            if let Some(input) = &input
                && let Some(split) = self.try_split(&job, input, &scratch, ctl).await
            {
                return Err(split);
            }
            let run = nodes::run_on(self, &job, input, &scratch, ctl).await?;
            let outputs = self.store_outputs(&job, run.produced).await?;
            Ok(TaskResult {
                outputs,
                result: run.result,
            })
        }
        .await;
        if !matches!(&result, Err(f) if f.code == crate::segmented::SPLIT) {
            self.observe_task(task.node_type, result.is_ok(), started.elapsed());
        }
        result.map_err(|f| scratch.redact(&task.input_key, f))
    }

    pub(crate) async fn resolve(&self, task: &Task) -> Result<Job, Failure> {
        let (instance, run_tasks) = self
            .store()
            .get_run(&task.run_id)
            .await?
            .ok_or_else(|| Failure::new("InternalError", "the task's run is missing"))?;
        let topology = Topology::parse(&instance.topology_xml)
            .map_err(|e| Failure::new("InvalidArgument", e.to_string()))?;
        let node = topology
            .node(&task.node_name)
            .cloned()
            .ok_or_else(|| Failure::new("InternalError", "the task's node is missing"))?;
        let template = match (&node.operation.template_id, &node.operation.inline_template) {
            (Some(id), _) => Some(self.template(id).await?),
            (None, Some(inline)) => Some(Template {
                id: String::new(),
                bucket: instance.bucket.clone(),
                name: inline.name.clone(),
                tag: inline.tag,
                category: reelflow_model::template::TemplateCategory::Custom,
                params: inline.params.clone(),
                created: instance.created,
                updated: instance.created,
            }),
            (None, None) => None,
        };
        let mut watermarks = Vec::new();
        for id in &node.operation.watermark_template_ids {
            watermarks.push(self.template(id).await?);
        }
        // Inline `Watermark`s (already empty when a WatermarkTemplateId wins).
        watermarks.extend(node.operation.watermarks.iter().map(|params| Template {
            id: String::new(),
            bucket: instance.bucket.clone(),
            name: "inline".to_owned(),
            tag: reelflow_model::template::TemplateTag::Watermark,
            category: reelflow_model::template::TemplateCategory::Custom,
            params: params.clone(),
            created: instance.created,
            updated: instance.created,
        }));
        if let Some(output) = &node.operation.output
            && !self.store().bucket_exists(&output.bucket).await?
        {
            return Err(Failure::new(
                "NoSuchBucket",
                format!("output bucket {} does not exist", output.bucket),
            ));
        }
        Ok(Job {
            task: task.clone(),
            instance,
            run_tasks,
            topology,
            node,
            template,
            watermarks,
        })
    }

    async fn template(&self, id: &str) -> Result<Template, Failure> {
        self.store().get_template(id).await?.ok_or_else(|| {
            Failure::new("TemplateNotFound", format!("template {id} does not exist"))
        })
    }

    /// A local path to read the object `bucket/key` (in place when the blob store allows,
    /// else downloaded into the scratch directory), recorded so that failure messages
    /// mentioning it name the key. An empty object is refused here, by its key. An HLS or
    /// DASH playlist comes with the objects it references ([`package`]).
    pub(crate) async fn local_object(
        &self,
        bucket: &str,
        key: &str,
        scratch: &ScratchDir,
    ) -> Result<PathBuf, Failure> {
        if let Some(kind) = Package::of(key) {
            return self.stage_package(bucket, key, kind, scratch).await;
        }
        let object = self.input_object(bucket, key, scratch).await?;
        match self.input_kind(&object).await? {
            InputKind::Media => scratch.checked_media(key, &object.blob_id),
            InputKind::Refused(what) => return Err(not_media(key, what)),
            kind => {
                let kind = Package::of_kind(kind).unwrap_or(Package::Hls);
                return self.stage_package(bucket, key, kind, scratch).await;
            }
        }
        if let Some(path) = self.blobs().local_path(&object.blob_id) {
            scratch.names.add(&path, key);
            return Ok(path);
        }
        let name = key.rsplit('/').next().unwrap_or(key);
        let ext: String = name
            .rsplit_once('.')
            .map_or("bin", |(_, e)| e)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(16)
            .collect();
        let ext = if ext.is_empty() { "bin" } else { &ext };
        let dest = scratch.root.join(format!("in-{}.{ext}", object.blob_id));
        scratch.names.add(&dest, key);
        self.blobs().download_to(&object.blob_id, &dest).await?;
        Ok(dest)
    }

    /// The stored object `bucket/key` a task reads, recorded so that failure messages
    /// mentioning its blob name the key. Missing or empty objects are refused by their key.
    pub(crate) async fn input_object(
        &self,
        bucket: &str,
        key: &str,
        scratch: &ScratchDir,
    ) -> Result<ObjectRecord, Failure> {
        let object = self.store().get_object(bucket, key).await?.ok_or_else(|| {
            Failure::new(
                "InputNotFound",
                format!("input object {bucket}/{key} does not exist"),
            )
        })?;
        if object.size == 0 {
            return Err(Failure::new(
                "InvalidInput",
                format!("input object {bucket}/{key} is empty (0 bytes)"),
            ));
        }
        scratch.names.add(Path::new(&object.blob_id), key);
        Ok(object)
    }

    pub(crate) async fn write_output(
        &self,
        bucket: &str,
        key: &str,
        path: &Path,
    ) -> Result<(), Failure> {
        let written = self.blobs().put_file(path).await?;
        let record = ObjectRecord {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            blob_id: written.id,
            size: written.size,
            etag: written.md5_hex,
            crc64: Some(written.crc64),
            content_type: content_type_for(key).to_owned(),
            last_modified_ms: now_unix() * 1000,
            user_meta: Vec::new(),
            origin: ObjectOrigin::Workflow,
        };
        self.object_uploaded(record).await?;
        Ok(())
    }
}

/// Where a node's files go: its own Output, or for StreamPack the StreamPackConfig's.
pub(crate) fn output_of(job: &Job) -> Option<&reelflow_model::workflow::Output> {
    job.node.operation.output.as_ref().or_else(|| {
        (job.node.node_type == reelflow_model::workflow::NodeType::StreamPack)
            .then(|| {
                job.topology
                    .nodes
                    .iter()
                    .find(|n| n.node_type == reelflow_model::workflow::NodeType::StreamPackConfig)
                    .and_then(|n| n.operation.output.as_ref())
            })
            .flatten()
    })
}

/// The directory part of a key ("" at the root).
pub(crate) fn parent(key: &str) -> String {
    key.rsplit_once('/').map_or("", |(d, _)| d).to_owned()
}

/// `dir/name`, or `name` at the root.
pub(crate) fn join_key(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// A Content-Type for an output key, from its extension.
pub(crate) fn content_type_for(key: &str) -> &'static str {
    let ext = key
        .rsplit_once('.')
        .map_or("", |(_, e)| e)
        .to_ascii_lowercase();
    match ext.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "webm" => "video/webm",
        "flv" => "video/x-flv",
        "ts" => "video/mp2t",
        "avi" => "video/x-msvideo",
        "m3u8" => "application/vnd.apple.mpegurl",
        "mpd" => "application/dash+xml",
        "m4s" => "video/iso.segment",
        "mp3" => "audio/mpeg",
        "aac" => "audio/aac",
        "m4a" => "audio/mp4",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => "application/octet-stream",
    }
}

/// The failure of an input whose content names other resources ([`InputKind::Refused`]).
pub(crate) fn not_media(key: &str, what: &str) -> Failure {
    Failure::new(
        "InvalidInput",
        format!("{key} is {what}, which names other files; it is not read as media"),
    )
}

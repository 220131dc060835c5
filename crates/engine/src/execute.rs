//! Executing one task: resolve its node and template, fetch its input, run ffmpeg, and write
//! the outputs back to object storage. Every failure becomes a task Code/Message, never a panic
//! or a lost task; the per-task scratch directory is removed on every exit path.

use std::path::{Path, PathBuf};

use reelflow_media::{MediaError, MediaInfo, RunControl};
use reelflow_model::clock::now_unix;
use reelflow_model::execution::{OutputObject, Task};
use reelflow_model::naming::{OutputVars, expand_output};
use reelflow_model::object::{ObjectOrigin, ObjectRecord};
use reelflow_model::template::{SnapshotParams, Template, TranscodeParams};
use reelflow_model::workflow::{MediaOperation, NodeKind, Topology};

use crate::Engine;
use crate::EngineError;

/// Why a task failed: a stable code and a message for the user.
#[derive(Debug)]
pub(crate) struct Failure {
    pub code: String,
    pub message: String,
}

impl Failure {
    fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl From<MediaError> for Failure {
    fn from(e: MediaError) -> Self {
        Failure::new(e.code(), e.to_string())
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        tracing::error!(error = ?e, "internal error while running a task");
        Failure::new("InternalError", format!("internal error: {e}"))
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

/// Removes the task's scratch directory when dropped, whatever happened.
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.0)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%error, dir = %self.0.display(), "could not remove a task directory");
        }
    }
}

/// What a node asks for, resolved from the run's topology snapshot and the current template.
struct Job {
    kind: NodeKind,
    op: MediaOperation,
    template: Template,
}

impl Engine {
    /// Runs `task` to completion and returns the objects it wrote.
    pub(crate) async fn execute(
        &self,
        task: &Task,
        ctl: &RunControl,
    ) -> Result<Vec<OutputObject>, Failure> {
        let job = self.resolve(task).await?;
        let scratch = ScratchDir(self.inner.config.work_dir.join(&task.job_id));
        let _ = std::fs::remove_dir_all(&scratch.0);
        std::fs::create_dir_all(&scratch.0).map_err(|e| {
            Failure::new(
                "InternalError",
                format!("cannot create a work directory: {e}"),
            )
        })?;
        let input = self.fetch_input(task, &scratch.0).await?;
        let info = reelflow_media::probe(&input, ctl).await?;
        let produced = match &job.kind {
            NodeKind::Transcode(_) => self.transcode(&job, &input, &info, &scratch.0, ctl).await?,
            NodeKind::Snapshot(_) => self.snapshot(&job, &input, &info, &scratch.0, ctl).await?,
            NodeKind::Start(_) => return Err(Failure::new("InternalError", "Start is not a task")),
        };
        self.store_outputs(task, &job, produced).await
    }

    async fn resolve(&self, task: &Task) -> Result<Job, Failure> {
        let (instance, _) = self
            .store()
            .get_run(&task.run_id)
            .await?
            .ok_or_else(|| Failure::new("InternalError", "the task's run is missing"))?;
        let topology = Topology::parse(&instance.topology_xml)
            .map_err(|e| Failure::new("InvalidArgument", e.to_string()))?;
        let node = topology
            .node(&task.node_name)
            .ok_or_else(|| Failure::new("InternalError", "the task's node is missing"))?;
        let op = node
            .kind
            .operation()
            .cloned()
            .ok_or_else(|| Failure::new("InternalError", "the node has no operation"))?;
        let template = self
            .store()
            .get_template(&op.template_id)
            .await?
            .ok_or_else(|| {
                Failure::new(
                    "TemplateNotFound",
                    format!("template {} does not exist", op.template_id),
                )
            })?;
        if !self.store().bucket_exists(&op.output.bucket).await? {
            return Err(Failure::new(
                "NoSuchBucket",
                format!("output bucket {} does not exist", op.output.bucket),
            ));
        }
        Ok(Job {
            kind: node.kind.clone(),
            op,
            template,
        })
    }

    async fn fetch_input(&self, task: &Task, scratch: &Path) -> Result<PathBuf, Failure> {
        let object = self
            .store()
            .get_object(&task.input_bucket, &task.input_key)
            .await?
            .ok_or_else(|| {
                Failure::new(
                    "InputNotFound",
                    format!(
                        "input object {}/{} does not exist",
                        task.input_bucket, task.input_key
                    ),
                )
            })?;
        if let Some(path) = self.blobs().local_path(&object.blob_id) {
            return Ok(path);
        }
        let ext = object.key.rsplit_once('.').map_or("bin", |(_, e)| e);
        let dest = scratch.join(format!("input.{ext}"));
        self.blobs().download_to(&object.blob_id, &dest).await?;
        Ok(dest)
    }

    async fn transcode(
        &self,
        job: &Job,
        input: &Path,
        info: &MediaInfo,
        scratch: &Path,
        ctl: &RunControl,
    ) -> Result<Vec<Produced>, Failure> {
        let params = TranscodeParams::from_container(&job.template.params)
            .map_err(|e| Failure::new("InvalidArgument", e.to_string()))?;
        let spec = crate::specs::transcode_spec(&params);
        let ext = reelflow_media::output_extension(&spec);
        let out_dir = scratch.join("out");
        std::fs::create_dir_all(&out_dir).map_err(|e| {
            Failure::new(
                "InternalError",
                format!("cannot create a work directory: {e}"),
            )
        })?;
        let main = out_dir.join(format!("output.{ext}"));
        let files = reelflow_media::transcode(input, &main, &spec, info, ctl).await?;
        Ok(files
            .into_iter()
            .map(|path| Produced {
                primary: path == main,
                path,
                ext: ext.to_owned(),
                number: None,
            })
            .collect())
    }

    async fn snapshot(
        &self,
        job: &Job,
        input: &Path,
        info: &MediaInfo,
        scratch: &Path,
        ctl: &RunControl,
    ) -> Result<Vec<Produced>, Failure> {
        let params = SnapshotParams::from_container(&job.template.params)
            .map_err(|e| Failure::new("InvalidArgument", e.to_string()))?;
        let spec = crate::specs::snapshot_spec(&params);
        let out_dir = scratch.join("out");
        std::fs::create_dir_all(&out_dir).map_err(|e| {
            Failure::new(
                "InternalError",
                format!("cannot create a work directory: {e}"),
            )
        })?;
        let files = reelflow_media::snapshot(input, &out_dir, &spec, info, ctl).await?;
        if files.is_empty() {
            return Err(Failure::new("SnapshotFailed", "no frame could be captured"));
        }
        Ok(files
            .into_iter()
            .enumerate()
            .map(|(i, path)| Produced {
                path,
                primary: true,
                ext: params.format.clone(),
                number: Some(i),
            })
            .collect())
    }

    async fn store_outputs(
        &self,
        task: &Task,
        job: &Job,
        produced: Vec<Produced>,
    ) -> Result<Vec<OutputObject>, Failure> {
        let mut outputs = Vec::with_capacity(produced.len());
        let main_key = |number| {
            expand_output(
                &job.op.output.object,
                &OutputVars {
                    input_key: &task.input_key,
                    run_id: &task.run_id,
                    job_id: &task.job_id,
                    ext: produced.first().map_or("", |p| p.ext.as_str()),
                    number,
                },
            )
        };
        let base = main_key(None);
        let dir = base.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
        // Primary files first so a downstream node consumes the main output.
        let mut ordered: Vec<&Produced> = produced.iter().filter(|p| p.primary).collect();
        ordered.extend(produced.iter().filter(|p| !p.primary));
        for file in ordered {
            let key = if file.primary {
                main_key(file.number)
            } else {
                let name = file
                    .path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("part");
                if dir.is_empty() {
                    name.to_owned()
                } else {
                    format!("{dir}/{name}")
                }
            };
            reelflow_model::object::validate_key(&key).map_err(|e| {
                Failure::new(
                    "InvalidArgument",
                    format!("output key {key:?} is not valid: {e}"),
                )
            })?;
            self.write_output(&job.op.output.bucket, &key, &file.path)
                .await?;
            outputs.push(OutputObject {
                bucket: job.op.output.bucket.clone(),
                key,
            });
        }
        Ok(outputs)
    }

    async fn write_output(&self, bucket: &str, key: &str, path: &Path) -> Result<(), Failure> {
        let written = self.blobs().put_file(path).await?;
        let record = ObjectRecord {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            blob_id: written.id,
            size: written.size,
            etag: written.md5_hex,
            content_type: content_type_for(key).to_owned(),
            last_modified_ms: now_unix() * 1000,
            user_meta: Vec::new(),
            origin: ObjectOrigin::Workflow,
        };
        self.object_uploaded(record).await?;
        Ok(())
    }
}

/// A file a task produced.
struct Produced {
    path: PathBuf,
    /// The node's main output(s), named by the Output template; others are companions
    /// (e.g. HLS segments) stored beside the main output under their own names.
    primary: bool,
    ext: String,
    number: Option<usize>,
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

//! Naming a task's files into the bucket and writing them, by the rule documented in
//! [`reelflow_model::naming`]: the main object from `Output.Object`, numbered series with
//! `${Number}` (or `-<n>` when the Object has none), sprite sheets by `Output.SpriteObject`,
//! and companions (HLS/DASH segments) beside their playlist or manifest under names derived
//! from *its* object name. The scratch file of a playlist or manifest is named after that
//! object ([`main_file`]) so the tool writes those segment names — and the references to
//! them — itself.

use std::collections::HashSet;
use std::path::PathBuf;

use reelflow_model::execution::OutputObject;
use reelflow_model::naming::{OutputVars, companion_stem, expand_output, series_key, sprite_key};
use reelflow_model::workflow::NodeType;

use super::{Failure, Job, ScratchDir, join_key, output_of, parent};
use crate::Engine;
use crate::nodes::{Produced, Slot};

/// The `${…}` values of `job` for a file with extension `ext`.
fn vars<'a>(job: &'a Job, ext: &'a str, number: Option<usize>) -> OutputVars<'a> {
    OutputVars {
        // The adaptive-stream master is named from the run's input, not a rendition.
        input_key: if job.node.node_type == NodeType::StreamPack {
            &job.instance.object
        } else {
            &job.task.input_key
        },
        run_id: &job.task.run_id,
        job_id: &job.task.job_id,
        ext,
        number,
    }
}

/// The key of the job's main object for a file with extension `ext`, if it has an Output.
pub(crate) fn main_key(job: &Job, ext: &str) -> Option<String> {
    output_of(job).map(|o| expand_output(&o.object, &vars(job, ext, None)))
}

/// Where in the scratch `out` directory the job's main file (extension `ext`) is written:
/// named after the main object's companion stem, so segments a tool names after it carry
/// that object's name. Recorded so failure messages name the object instead.
pub(crate) fn main_file(job: &Job, scratch: &ScratchDir, ext: &str) -> PathBuf {
    let key = main_key(job, ext);
    let stem = key
        .as_deref()
        .map_or_else(|| "output".to_owned(), companion_stem);
    let path = scratch.out().join(format!("{stem}.{ext}"));
    if let Some(key) = key {
        scratch.names.add(&path, &key);
    }
    path
}

impl Engine {
    /// Names every produced file (see the module documentation), checks the keys, and writes
    /// the files: companions and sprites first, main objects last, so a playlist or manifest
    /// is never visible before what it references. Returns the outputs main first, which is
    /// what a downstream node consumes.
    pub(crate) async fn store_outputs(
        &self,
        job: &Job,
        produced: Vec<Produced>,
    ) -> Result<Vec<OutputObject>, Failure> {
        let Some(output) = output_of(job) else {
            return Ok(Vec::new());
        };
        let is_main = |p: &&Produced| matches!(p.slot, Slot::Main { .. });
        let is_sprite = |p: &&Produced| matches!(p.slot, Slot::Sprite { .. });
        let frames = produced.iter().filter(is_main).count();
        let sprites = produced.iter().filter(is_sprite).count();
        let main_ext = produced
            .iter()
            .find(is_main)
            .or(produced.first())
            .map_or("", |p| p.ext.as_str());
        let main_dir = parent(&main_key(job, main_ext).unwrap_or_default());
        let ordered = produced
            .iter()
            .filter(is_main)
            .chain(produced.iter().filter(is_sprite))
            .chain(
                produced
                    .iter()
                    .filter(|p| matches!(p.slot, Slot::Companion)),
            );
        let mut named: Vec<(String, &Produced)> = Vec::with_capacity(produced.len());
        let mut seen = HashSet::new();
        for file in ordered {
            let key = match file.slot {
                Slot::Main { number } => {
                    series_key(&output.object, &vars(job, &file.ext, number), frames > 1)
                }
                Slot::Sprite { number } => sprite_key(
                    output.sprite_object.as_deref(),
                    &output.object,
                    &vars(job, &file.ext, Some(number)),
                    sprites > 1,
                    frames > 0,
                ),
                Slot::Companion => {
                    let name = file
                        .path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or("part");
                    join_key(&main_dir, name)
                }
            };
            reelflow_model::object::validate_key(&key).map_err(|e| {
                Failure::new(
                    "InvalidArgument",
                    format!("output key {key:?} is not valid: {e}"),
                )
            })?;
            if !seen.insert(key.clone()) {
                return Err(Failure::new(
                    "InvalidArgument",
                    format!(
                        "node {} would write two of its files to {key}: its Output names \
                         them alike",
                        job.node.name
                    ),
                ));
            }
            named.push((key, file));
        }
        let mut uploads: Vec<&(String, &Produced)> = named.iter().collect();
        uploads.sort_by_key(|(_, p)| match p.slot {
            Slot::Companion => 0,
            Slot::Sprite { .. } => 1,
            Slot::Main { .. } => 2,
        });
        for (key, file) in uploads {
            self.write_output(&output.bucket, key, &file.path).await?;
        }
        Ok(named
            .into_iter()
            .map(|(key, _)| OutputObject {
                bucket: output.bucket.clone(),
                key,
            })
            .collect())
    }
}

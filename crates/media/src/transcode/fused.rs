//! Fused execution: one ffmpeg process, one decode, many outputs of different kinds.
//!
//! Each [`OutputJob`] becomes an output section of the same command line. Transcodes
//! keep their own filters (crop, rotation, size, watermarks: `-vf`, or a
//! `-filter_complex` graph of their own when an image watermark adds an input);
//! snapshots pick their frames from the shared decode with `select` (see
//! `snapshot::fused_section`). Sprite sheets of snapshot jobs are laid out afterwards,
//! one short run each. A job list without any transcode has no decode worth sharing:
//! its snapshots run one by one with their own plans (input seeks, key frames only).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::args::{Section, build_sections};
use super::extras::TranscodeExtras;
use super::{
    TranscodeSpec, check_distinct_paths, collect_outputs, remove_stale_segments, watermark,
};
use crate::error::MediaError;
use crate::image::ImageFormat;
use crate::limits::MediaTools;
use crate::paths;
use crate::probe::MediaInfo;
use crate::process::RunControl;
use crate::snapshot::{self, SnapshotExtras, SnapshotSpec};

/// One output of a fused run.
// The variants differ in size, but a run holds a handful of jobs: boxing would only
// make them harder to build.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OutputJob {
    /// A transcode writing `path` (plus segments for hls/dash).
    Transcode {
        /// The output file (playlist/manifest for hls/dash).
        path: PathBuf,
        /// Container, codecs and time range.
        spec: TranscodeSpec,
        /// Crop, rotation, size method, source checks and watermarks.
        extras: TranscodeExtras,
    },
    /// Snapshot images (and sprite sheets) written into `dir`.
    Snapshot {
        /// The output directory.
        dir: PathBuf,
        /// Mode, times, count, size and format.
        spec: SnapshotSpec,
        /// Black-frame skipping, `IsCheckCount` and sprites.
        extras: SnapshotExtras,
    },
}

/// The files one job wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFiles {
    /// Transcode: the output, then its segments. Snapshot: the images.
    pub files: Vec<PathBuf>,
    /// Snapshot sprite sheets (empty for transcodes).
    pub sprites: Vec<PathBuf>,
}

fn sections(jobs: &[OutputJob]) -> Vec<Section<'_>> {
    jobs.iter()
        .map(|job| match job {
            OutputJob::Transcode { path, spec, extras } => {
                Section::Transcode { path, spec, extras }
            }
            OutputJob::Snapshot { dir, spec, extras } => Section::Snapshot { dir, spec, extras },
        })
        .collect()
}

/// The argument list of one fused ffmpeg run writing every job. Text watermarks must
/// carry their font file ([`run_fused`] resolves missing ones).
pub fn fused_args(
    input: &Path,
    jobs: &[OutputJob],
    info: &MediaInfo,
) -> Result<Vec<String>, MediaError> {
    Ok(build_sections(input, &sections(jobs), info)?.args)
}

/// Writes every job from one decode of `input` with default tools and limits. Returns
/// the files of each job, in the order given.
pub async fn run_fused(
    input: &Path,
    jobs: &[OutputJob],
    info: &MediaInfo,
    ctl: &RunControl,
) -> Result<Vec<JobFiles>, MediaError> {
    MediaTools::default()
        .run_fused(input, jobs, info, ctl)
        .await
}

impl MediaTools {
    /// [`run_fused`] with these tools and limits.
    pub async fn run_fused(
        &self,
        input: &Path,
        jobs: &[OutputJob],
        info: &MediaInfo,
        ctl: &RunControl,
    ) -> Result<Vec<JobFiles>, MediaError> {
        check_distinct(jobs)?;
        if jobs.iter().all(|j| matches!(j, OutputJob::Snapshot { .. })) {
            return self.snapshots_alone(input, jobs, info, ctl).await;
        }
        let jobs = resolve_fonts(jobs).await?;
        let invocation = build_sections(input, &sections(&jobs), info)?;
        for job in &jobs {
            match job {
                OutputJob::Transcode { path, spec, .. } => {
                    let dir = paths::parent(path)?;
                    tokio::fs::create_dir_all(&dir)
                        .await
                        .map_err(MediaError::io("could not create output directory", &dir))?;
                    remove_stale_segments(path, spec).await?;
                }
                OutputJob::Snapshot { dir, spec, .. } => {
                    snapshot::prepare_dir(dir, ImageFormat::parse(&spec.format)?.ext()).await?;
                }
            }
        }
        let sprite_runs = jobs
            .iter()
            .filter(|j| matches!(j, OutputJob::Snapshot { extras, .. } if extras.out_mode != snapshot::SnapshotOutMode::OnlySnapshot))
            .count();
        let steps = 1 + sprite_runs;
        // Encoding cost grows with the number of outputs; so does the time allowed.
        let budget = invocation.expected_secs.map(|s| s * jobs.len() as f64);
        let cmd = self
            .ffmpeg_command(invocation.args, budget)
            .ffmpeg_progress(invocation.expected_secs);
        cmd.run(&ctl.step(0, steps)).await?;
        let mut written = Vec::with_capacity(jobs.len());
        let mut sprite_step = 1;
        for job in &jobs {
            written.push(match job {
                OutputJob::Transcode { path, spec, .. } => JobFiles {
                    files: collect_outputs(path, spec).await?,
                    sprites: Vec::new(),
                },
                OutputJob::Snapshot { dir, spec, extras } => {
                    let expected = snapshot::fused_expected(spec, extras, info)?;
                    let step_ctl = ctl.step(sprite_step.min(steps - 1), steps);
                    if extras.out_mode.sprites() {
                        sprite_step += 1;
                    }
                    let out = self
                        .finish_snapshot(dir, spec, extras, info, expected, step_ctl)
                        .await?;
                    JobFiles {
                        files: out.images,
                        sprites: out.sprites,
                    }
                }
            });
        }
        Ok(written)
    }
}

impl MediaTools {
    /// Without a transcode there is no decode to share: each snapshot runs with its own
    /// plan (input seeks for sparse captures, key-frame-only decoding), which beats
    /// decoding the whole input for `select`.
    async fn snapshots_alone(
        &self,
        input: &Path,
        jobs: &[OutputJob],
        info: &MediaInfo,
        ctl: &RunControl,
    ) -> Result<Vec<JobFiles>, MediaError> {
        let mut written = Vec::with_capacity(jobs.len());
        for (k, job) in jobs.iter().enumerate() {
            if let OutputJob::Snapshot { dir, spec, extras } = job {
                let step = ctl.step(k, jobs.len());
                let out = self
                    .snapshot_with(input, dir, spec, extras, info, &step)
                    .await?;
                written.push(JobFiles {
                    files: out.images,
                    sprites: out.sprites,
                });
            }
        }
        Ok(written)
    }
}

/// Transcode outputs must not clobber each other, nor snapshots share a directory.
fn check_distinct(jobs: &[OutputJob]) -> Result<(), MediaError> {
    let transcodes: Vec<(&Path, &TranscodeSpec)> = jobs
        .iter()
        .filter_map(|j| match j {
            OutputJob::Transcode { path, spec, .. } => Some((path.as_path(), spec)),
            OutputJob::Snapshot { .. } => None,
        })
        .collect();
    check_distinct_paths(&transcodes)?;
    let mut dirs = HashSet::new();
    for job in jobs {
        if let OutputJob::Snapshot { dir, .. } = job
            && !dirs.insert(paths::absolute(dir)?)
        {
            return Err(MediaError::invalid_spec(format!(
                "two snapshot outputs would write into {}",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Copies of the jobs whose text watermarks all have a font file and whose image
/// watermarks exist.
async fn resolve_fonts(jobs: &[OutputJob]) -> Result<Vec<OutputJob>, MediaError> {
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let mut job = job.clone();
        if let OutputJob::Transcode { extras, .. } = &mut job
            && !extras.watermarks.is_empty()
        {
            extras.watermarks = watermark::resolve(&extras.watermarks).await?;
        }
        out.push(job);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::StreamInfo;
    use crate::snapshot::SnapshotMode;
    use crate::transcode::{ImageWatermark, ImageWatermarkMode, TextWatermark};
    use crate::transcode::{VideoSpec, Watermark, WatermarkPos};

    fn info() -> MediaInfo {
        MediaInfo {
            duration: Some(10.0),
            streams: vec![
                StreamInfo {
                    codec_type: "video".into(),
                    codec_name: "h264".into(),
                    width: Some(320),
                    height: Some(240),
                    ..Default::default()
                },
                StreamInfo {
                    index: 1,
                    codec_type: "audio".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    fn text(font: &str) -> Watermark {
        Watermark::text(
            TextWatermark {
                text: "reelflow".into(),
                font_file: Some(font.into()),
                ..Default::default()
            },
            WatermarkPos::TopLeft,
        )
    }

    fn image() -> Watermark {
        Watermark::image(
            ImageWatermark {
                path: "/marks/logo.png".into(),
                mode: ImageWatermarkMode::Fixed,
                width: Some(32.0),
                height: None,
                transparency: 100,
            },
            WatermarkPos::BottomRight,
        )
    }

    fn transcode(path: &str, height: u32, marks: Vec<Watermark>) -> OutputJob {
        OutputJob::Transcode {
            path: path.into(),
            spec: TranscodeSpec {
                container: "mp4".into(),
                video: Some(VideoSpec {
                    height: Some(height),
                    ..Default::default()
                }),
                ..Default::default()
            },
            extras: TranscodeExtras {
                watermarks: marks,
                ..Default::default()
            },
        }
    }

    fn count(args: &[String], what: &str) -> usize {
        args.iter().filter(|a| *a == what).count()
    }

    #[test]
    fn each_output_has_its_own_filters() {
        let jobs = [
            transcode("/o/a.mp4", 120, vec![text("/f.ttf")]),
            transcode("/o/b.mp4", 180, vec![image(), text("/f.ttf")]),
            transcode("/o/c.mp4", 240, vec![]),
        ];
        let args = fused_args(Path::new("/in.mp4"), &jobs, &info()).unwrap();
        // Main input plus the one watermark image.
        assert_eq!(count(&args, "-i"), 2);
        let image_input = args.iter().position(|a| a == "/marks/logo.png").unwrap();
        let graph_at = args.iter().position(|a| a == "-filter_complex").unwrap();
        assert!(image_input < graph_at, "inputs come before graphs");
        let graph = &args[graph_at + 1];
        assert!(graph.starts_with("[0:V:0]scale=-2:180[o1base1]"), "{graph}");
        assert!(
            graph.contains("[1:v]format=rgba,scale=32:-1[o1mark1]"),
            "{graph}"
        );
        assert!(graph.ends_with("[out1v]"), "{graph}");
        let vfs: Vec<&String> = args
            .iter()
            .enumerate()
            .filter(|(_, a)| *a == "-vf")
            .map(|(i, _)| &args[i + 1])
            .collect();
        assert_eq!(vfs.len(), 2);
        assert!(
            vfs[0].starts_with("scale=-2:120,drawtext=fontfile=/f.ttf"),
            "{}",
            vfs[0]
        );
        assert_eq!(vfs[1], "scale=-2:240");
        assert!(args.windows(2).any(|w| w[0] == "-map" && w[1] == "[out1v]"));
        assert_eq!(count(&args, "-c:v"), 3);
    }

    #[test]
    fn snapshot_shares_the_decode() {
        let jobs = [
            transcode("/o/a.mp4", 120, vec![]),
            OutputJob::Snapshot {
                dir: "/o/snaps".into(),
                spec: SnapshotSpec {
                    mode: SnapshotMode::Average,
                    count: 4,
                    width: Some(160),
                    ..Default::default()
                },
                extras: SnapshotExtras::default(),
            },
        ];
        let args = fused_args(Path::new("/in.mp4"), &jobs, &info()).unwrap();
        assert_eq!(count(&args, "-i"), 1);
        assert!(
            args.iter()
                .any(|a| a == "select='gte(t,selected_n*2.5)',scale=160:-2")
        );
        assert!(args.iter().any(|a| a == "/o/snaps/snap-%05d.jpg"));
        assert!(args.windows(2).any(|w| w[0] == "-frames:v" && w[1] == "4"));
    }

    #[test]
    fn snapshot_with_its_own_start_selects_absolute_times() {
        let mut first = transcode("/o/a.mp4", 120, vec![]);
        if let OutputJob::Transcode { spec, .. } = &mut first {
            spec.start = Some(1.0);
        }
        let jobs = [
            first,
            OutputJob::Snapshot {
                dir: "/o/s".into(),
                spec: SnapshotSpec {
                    mode: SnapshotMode::KeyFrame,
                    start: 2.0,
                    count: 2,
                    ..Default::default()
                },
                extras: SnapshotExtras::default(),
            },
        ];
        let args = fused_args(Path::new("/in.mp4"), &jobs, &info()).unwrap();
        let input = args.iter().position(|a| a == "-i").unwrap();
        assert!(!args[..input].iter().any(|a| a == "-ss"), "no shared seek");
        assert!(args.iter().any(|a| a == "select='key*gte(t,2)'"));
    }

    #[test]
    fn snapshots_may_not_share_a_directory() {
        let snap = OutputJob::Snapshot {
            dir: "/o/s".into(),
            spec: SnapshotSpec::default(),
            extras: SnapshotExtras::default(),
        };
        let err = check_distinct(&[snap.clone(), snap]).unwrap_err();
        assert_eq!(err.code(), "InvalidSpec");
    }
}

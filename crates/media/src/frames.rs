//! Cheap frame sampling through a pipe, for analysis in Rust.
//!
//! Each sample is one input of an ffmpeg run opened with a fast input seek
//! (`-noaccurate_seek -ss T` before `-i`): decoding starts at the key frame at or
//! before `T` and the first frame out *is* that key frame, so a sample costs one
//! key-frame decode (plus `partner` more frames when a second, slightly later frame is
//! wanted), whatever the GOP length or the media duration. `-t` bounds what each input
//! reads, `-threads 1` keeps dozens of decoders cheap.
//!
//! Every input's frames are scaled to a small size, turned into `rgb24`, padded to
//! exactly the same number of frames (`tpad` adds black frames when a sample runs out
//! of media) and concatenated, so stdout is a plain sequence of fixed-size frames.
//! Samples are split into equal batches of at most [`BATCH`] inputs, two running at
//! once (one per core of the target machine).
//!
//! Frames for analysis need not be pristine: with [`SamplePlan::fast`] the decoder
//! skips the deblocking filter (`-skip_loop_filter all`) and, for containers that
//! describe their streams completely (mp4/mov, Matroska/WebM), ffmpeg skips probing
//! the stream by decoding its first frames (`-nofind_stream_info`). Together they
//! halve the cost of a sample.

use std::path::Path;
use std::time::Duration;

use crate::error::MediaError;
use crate::ffmpeg::{num, quiet_prelude};
use crate::limits::MediaTools;
use crate::paths;
use crate::process::RunControl;

/// Most inputs one sampling run opens.
pub(crate) const BATCH: usize = 32;
/// Sampling runs in flight at once.
const PARALLEL: usize = 2;

/// A small decoded frame, `rgb24`, rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rgb {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// What to sample.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SamplePlan {
    /// Seek targets in seconds.
    pub times: Vec<f64>,
    /// Size frames are scaled to.
    pub width: u32,
    pub height: u32,
    /// Also return the frame this many frames after the key frame (0: none).
    pub partner: u32,
    /// Seconds each input may read (must cover `partner` frames).
    pub read_secs: f64,
    /// Trade decoding accuracy for speed (see the module docs); `skip_probe` also
    /// drops `find_stream_info`, only safe for self-describing containers.
    pub fast: Option<FastDecode>,
}

/// Decoder shortcuts for analysis frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FastDecode {
    /// `-nofind_stream_info`.
    pub skip_probe: bool,
}

impl FastDecode {
    /// Shortcuts suited to a container (ffprobe's `format_name`).
    pub(crate) fn for_format(format_name: &str) -> Self {
        let described = format_name
            .split(',')
            .any(|f| matches!(f, "mov" | "mp4" | "matroska" | "webm"));
        Self {
            skip_probe: described,
        }
    }
}

/// One sample: the key frame at or before `time`, and its partner frame.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub time: f64,
    pub frame: Rgb,
    pub partner: Option<Rgb>,
}

impl SamplePlan {
    fn frames_per_sample(&self) -> usize {
        if self.partner > 0 { 2 } else { 1 }
    }

    fn frame_bytes(&self) -> usize {
        self.width as usize * self.height as usize * 3
    }
}

/// The arguments of one sampling run over `times` (one input each).
pub(crate) fn sampler_args(
    input: &Path,
    plan: &SamplePlan,
    times: &[f64],
) -> Result<Vec<String>, MediaError> {
    let input = paths::arg(input)?;
    let per = plan.frames_per_sample();
    let select = if plan.partner > 0 {
        format!("select='eq(n,0)+eq(n,{})'", plan.partner)
    } else {
        "select='eq(n,0)'".to_owned()
    };
    let mut args = quiet_prelude();
    let mut graph = Vec::new();
    for (k, t) in times.iter().enumerate() {
        args.extend(["-threads".into(), "1".into()]);
        if let Some(fast) = plan.fast {
            args.extend(["-skip_loop_filter".into(), "all".into()]);
            if fast.skip_probe {
                args.push("-nofind_stream_info".into());
            }
        }
        args.extend(["-noaccurate_seek", "-ss"].map(String::from));
        args.push(num(*t));
        args.extend(["-t".into(), num(plan.read_secs), "-i".into(), input.clone()]);
        let out = if times.len() == 1 {
            "[out]".to_owned()
        } else {
            format!("[s{k}]")
        };
        graph.push(format!(
            "[{k}:V:0]{select},scale={}:{}:flags=area,format=rgb24,\
             tpad=stop={per}:stop_mode=add:color=black,trim=end_frame={per},setpts=N/(25*TB){out}",
            plan.width, plan.height
        ));
    }
    if times.len() > 1 {
        let labels: String = (0..times.len()).map(|k| format!("[s{k}]")).collect();
        graph.push(format!("{labels}concat=n={}:v=1:a=0[out]", times.len()));
    }
    args.extend([
        "-filter_complex".into(),
        graph.join(";"),
        "-map".into(),
        "[out]".into(),
        "-fps_mode".into(),
        "passthrough".into(),
        "-f".into(),
        "rawvideo".into(),
        "-pix_fmt".into(),
        "rgb24".into(),
        "pipe:1".into(),
    ]);
    Ok(args)
}

/// Splits sampler stdout into samples.
fn split(plan: &SamplePlan, times: &[f64], bytes: Vec<u8>) -> Result<Vec<Sample>, MediaError> {
    let per = plan.frames_per_sample();
    let size = plan.frame_bytes();
    let expected = times.len() * per * size;
    if bytes.len() != expected {
        return Err(MediaError::invalid_input(format!(
            "could not decode the sampled frames: expected {expected} bytes, got {}",
            bytes.len()
        )));
    }
    let frame = |chunk: &[u8]| Rgb {
        width: plan.width,
        height: plan.height,
        data: chunk.to_vec(),
    };
    Ok(bytes
        .chunks_exact(size * per)
        .zip(times)
        .map(|(chunk, t)| Sample {
            time: *t,
            frame: frame(&chunk[..size]),
            partner: (per == 2).then(|| frame(&chunk[size..])),
        })
        .collect())
}

/// The arguments of a *scan*: one decode of the whole input keeping the first frame
/// at or after each of `plan.times` (evenly spaced), for short inputs whose key frames
/// are too sparse to sample by seeking. Partners are not taken.
pub(crate) fn scan_args(input: &Path, plan: &SamplePlan) -> Result<Vec<String>, MediaError> {
    let first = plan.times.first().copied().unwrap_or(0.0);
    let step = match plan.times.as_slice() {
        [a, b, ..] => b - a,
        _ => 1.0,
    };
    let mut args = quiet_prelude();
    args.extend([
        "-i".into(),
        paths::arg(input)?,
        "-map".into(),
        crate::transcode::VIDEO.into(),
    ]);
    args.extend([
        "-vf".into(),
        format!(
            "select='gte(t,{}+selected_n*{})',scale={}:{}:flags=area,format=rgb24",
            num(first),
            num(step),
            plan.width,
            plan.height
        ),
        "-frames:v".into(),
        plan.times.len().to_string(),
    ]);
    args.extend(
        [
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:1",
        ]
        .map(String::from),
    );
    Ok(args)
}

impl MediaTools {
    /// Runs [`scan_args`]: the frames at `plan.times`, fewer if the media ends first.
    pub(crate) async fn scan_frames(
        &self,
        input: &Path,
        plan: &SamplePlan,
        media_secs: f64,
        ctl: &RunControl,
    ) -> Result<Vec<Sample>, MediaError> {
        let args = scan_args(input, plan)?;
        let timeout = self.limits.ffmpeg_timeout(Some(media_secs));
        let output = self.ffmpeg_data_command(args, timeout).run(ctl).await?;
        let size = plan.frame_bytes();
        let frames = output.stdout.len() / size;
        let times = &plan.times[..frames.min(plan.times.len())];
        let plan = SamplePlan {
            partner: 0,
            ..plan.clone()
        };
        let mut bytes = output.stdout;
        bytes.truncate(times.len() * size);
        split(&plan, times, bytes)
    }

    /// Decodes every sample of `plan` from `input`, in order.
    pub(crate) async fn sample_frames(
        &self,
        input: &Path,
        plan: &SamplePlan,
        ctl: &RunControl,
    ) -> Result<Vec<Sample>, MediaError> {
        // Equal batches, a multiple of PARALLEL of them, so every core stays busy.
        let count = plan.times.len().div_ceil(BATCH).next_multiple_of(PARALLEL);
        let size = plan.times.len().div_ceil(count).max(1);
        let batches: Vec<&[f64]> = plan.times.chunks(size).collect();
        let mut samples = Vec::with_capacity(plan.times.len());
        let rounds = batches.len().div_ceil(PARALLEL);
        for (round, group) in batches.chunks(PARALLEL).enumerate() {
            let runs = group
                .iter()
                .map(|times| self.sample_batch(input, plan, times, ctl));
            let results = join_all(runs).await;
            for result in results {
                samples.extend(result?);
            }
            if let Some(report) = &ctl.progress {
                report(((round + 1) * 100 / rounds).min(99) as u8);
            }
        }
        Ok(samples)
    }

    async fn sample_batch(
        &self,
        input: &Path,
        plan: &SamplePlan,
        times: &[f64],
        ctl: &RunControl,
    ) -> Result<Vec<Sample>, MediaError> {
        let args = sampler_args(input, plan, times)?;
        let timeout = self.limits.base_timeout + Duration::from_secs(2 * times.len() as u64);
        let output = self.ffmpeg_data_command(args, timeout).run(ctl).await?;
        split(plan, times, output.stdout)
    }
}

/// Awaits futures concurrently, keeping their order (a tiny `join_all`).
async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut done: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (slot, fut) in pending.iter_mut().enumerate() {
            if let Some(f) = fut {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        done[slot] = Some(v);
                        *fut = None;
                    }
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(partner: u32) -> SamplePlan {
        SamplePlan {
            times: vec![1.0, 2.5],
            width: 4,
            height: 2,
            partner,
            read_secs: 0.5,
            fast: Some(FastDecode { skip_probe: true }),
        }
    }

    #[test]
    fn one_input_per_sample_concatenated() {
        let p = plan(5);
        let args = sampler_args(Path::new("/in/v.mp4"), &p, &p.times).unwrap();
        let seeks: Vec<_> = args
            .iter()
            .enumerate()
            .filter(|(_, a)| *a == "-ss")
            .map(|(i, _)| args[i + 1].as_str())
            .collect();
        assert_eq!(seeks, ["1", "2.5"]);
        assert_eq!(args.iter().filter(|a| *a == "-noaccurate_seek").count(), 2);
        assert_eq!(
            args.iter().filter(|a| *a == "-nofind_stream_info").count(),
            2
        );
        assert_eq!(args.iter().filter(|a| *a == "-skip_loop_filter").count(), 2);
        assert!(
            !args.iter().any(|a| a == "-progress"),
            "stdout carries frames"
        );
        let graph = &args[args.iter().position(|a| a == "-filter_complex").unwrap() + 1];
        assert!(
            graph.starts_with(
                "[0:V:0]select='eq(n,0)+eq(n,5)',scale=4:2:flags=area,format=rgb24,\
             tpad=stop=2:stop_mode=add:color=black,trim=end_frame=2,setpts=N/(25*TB)[s0];"
            ),
            "{graph}"
        );
        assert!(
            graph.ends_with("[s0][s1]concat=n=2:v=1:a=0[out]"),
            "{graph}"
        );
        assert_eq!(args.last().map(String::as_str), Some("pipe:1"));
    }

    #[test]
    fn a_single_sample_needs_no_concat() {
        let p = plan(0);
        let args = sampler_args(Path::new("/v.mp4"), &p, &[3.0]).unwrap();
        let graph = &args[args.iter().position(|a| a == "-filter_complex").unwrap() + 1];
        assert!(graph.ends_with("setpts=N/(25*TB)[out]"), "{graph}");
        assert!(graph.contains("select='eq(n,0)'"));
    }

    #[test]
    fn stdout_splits_into_frames_and_partners() {
        let p = plan(5);
        let size = 4 * 2 * 3;
        let bytes: Vec<u8> = (0..4 * size).map(|i| (i / size) as u8).collect();
        let samples = split(&p, &p.times, bytes).unwrap();
        assert_eq!(samples.len(), 2);
        assert!(samples[0].frame.data.iter().all(|b| *b == 0));
        assert!(
            samples[0]
                .partner
                .as_ref()
                .unwrap()
                .data
                .iter()
                .all(|b| *b == 1)
        );
        assert!(samples[1].frame.data.iter().all(|b| *b == 2));
        assert_eq!(samples[1].time, 2.5);
        assert!(split(&p, &p.times, vec![0; 10]).is_err());
    }

    #[test]
    fn scan_selects_evenly_spaced_frames_in_one_decode() {
        let p = SamplePlan {
            times: vec![0.1, 0.3, 0.5],
            ..plan(0)
        };
        let args = scan_args(Path::new("/v.mp4"), &p).unwrap();
        assert_eq!(args.iter().filter(|a| *a == "-i").count(), 1);
        assert!(!args.iter().any(|a| a == "-ss"));
        let vf = &args[args.iter().position(|a| a == "-vf").unwrap() + 1];
        assert_eq!(
            vf,
            "select='gte(t,0.1+selected_n*0.2)',scale=4:2:flags=area,format=rgb24"
        );
        assert!(args.windows(2).any(|w| w[0] == "-frames:v" && w[1] == "3"));
    }

    #[test]
    fn probing_is_skipped_only_for_self_describing_containers() {
        assert!(FastDecode::for_format("mov,mp4,m4a,3gp,3g2,mj2").skip_probe);
        assert!(FastDecode::for_format("matroska,webm").skip_probe);
        assert!(!FastDecode::for_format("mpegts").skip_probe);
        assert!(!FastDecode::for_format("flv").skip_probe);
    }

    #[tokio::test]
    async fn join_all_keeps_order() {
        let futs = (0..3u64).map(|i| async move {
            tokio::time::sleep(Duration::from_millis(30 - i * 10)).await;
            i
        });
        assert_eq!(join_all(futs).await, [0, 1, 2]);
    }
}

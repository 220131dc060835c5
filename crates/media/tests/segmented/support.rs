//! Media generation and measurement for the segmented-transcoding tests, all through
//! the real ffmpeg/ffprobe.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
/// Runs a tool and returns its output; panics when it fails.
fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// How a test clip is made.
pub struct Clip<'a> {
    pub secs: u32,
    pub size: &'a str,
    pub audio: bool,
    pub pix_fmt: &'a str,
    /// Frame rate (`25`, `30000/1001`).
    pub rate: &'a str,
    /// Video encoder of the source (`libx264`; `libx265` makes open GOPs).
    pub encoder: &'a str,
    /// Key frame interval of the source (frames).
    pub gop: u32,
}

impl Default for Clip<'_> {
    fn default() -> Self {
        Self {
            secs: 60,
            size: "320x240",
            audio: true,
            pix_fmt: "yuv420p",
            rate: "25",
            encoder: "libx264",
            gop: 50,
        }
    }
}

/// Makes an H.264 (x264, B-frames) + AAC file (container from the name) from `testsrc2`, with a white
/// frame at 1, 6, 11 … s and, when it has audio, a quiet 440 Hz tone with a loud 1 kHz
/// beep starting on the same instants.
pub fn make_clip(dir: &Path, name: &str, clip: &Clip<'_>) -> PathBuf {
    let path = dir.join(name);
    let flash = "drawbox=c=white:t=fill:enable='between(mod(t\\,5)\\,1\\,1.039)'";
    let video = format!(
        "testsrc2=size={}:rate={}:duration={},{flash}",
        clip.size, clip.rate, clip.secs
    );
    let audio = format!(
        "aevalsrc=exprs='0.05*sin(2*PI*440*t)+if(between(mod(t\\,5)\\,1\\,1.04)\\,0.8*sin(2*PI*1000*t)\\,0)':s=44100:d={}",
        clip.secs
    );
    let gop = clip.gop.to_string();
    let mut args = vec![
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        &video,
    ];
    if clip.audio {
        args.extend(["-f", "lavfi", "-i", &audio, "-c:a", "aac"]);
    }
    args.extend(["-c:v", clip.encoder, "-preset", "veryfast", "-g", &gop]);
    if clip.encoder == "libx265" {
        args.extend(["-x265-params", "log-level=error:open-gop=1"]);
    }
    args.extend([
        "-pix_fmt",
        clip.pix_fmt,
        "-threads",
        "2",
        path.to_str().unwrap(),
    ]);
    run("ffmpeg", &args);
    path
}

/// Per-frame `(pts, md5)` of the first video stream, decoded (ffmpeg `framemd5`).
pub fn frame_hashes(path: &Path) -> Vec<(i64, String)> {
    let out = run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-loglevel",
            "error",
            "-threads",
            "2",
            "-i",
            path.to_str().unwrap(),
            "-map",
            "0:v:0",
            "-f",
            "framemd5",
            "-",
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            Some((f.get(2)?.parse().ok()?, f.get(5)?.to_string()))
        })
        .collect()
}

/// Presentation times (s) of the white frames (luma average above 200), on the
/// container's clock (`-copyts`: streams that start apart keep their distance).
pub fn flash_times(path: &Path) -> Vec<f64> {
    let out = run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-loglevel",
            "error",
            "-threads",
            "2",
            "-copyts",
            "-i",
            path.to_str().unwrap(),
            "-an",
            "-vf",
            "signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-",
            "-f",
            "null",
            "-",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut times = Vec::new();
    let mut current = None;
    for line in text.lines() {
        if let Some(t) = line.split("pts_time:").nth(1) {
            current = t.trim().parse::<f64>().ok();
        } else if let Some(y) = line.strip_prefix("lavfi.signalstats.YAVG=")
            && y.trim().parse::<f64>().is_ok_and(|y| y > 200.0)
        {
            times.extend(current);
        }
    }
    times
}

/// Onsets (s) of the beeps: where `silencedetect` (-20 dB) says silence ends, on the
/// container's clock.
pub fn beep_onsets(path: &Path) -> Vec<f64> {
    let out = run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-loglevel",
            "info",
            "-copyts",
            "-i",
            path.to_str().unwrap(),
            "-vn",
            "-af",
            "silencedetect=noise=-20dB:d=0.01",
            "-f",
            "null",
            "-",
        ],
    );
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.split("silence_end: ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Beep onset minus flash time (s) for the marks nearest to each of `at`.
pub fn av_offsets(path: &Path, at: &[f64]) -> Vec<f64> {
    let flashes = flash_times(path);
    let beeps = beep_onsets(path);
    let nearest = |list: &[f64], t: f64| {
        list.iter()
            .copied()
            .min_by(|a, b| (a - t).abs().total_cmp(&(b - t).abs()))
            .unwrap_or(f64::NAN)
    };
    at.iter()
        .map(|&t| nearest(&beeps, t) - nearest(&flashes, t))
        .collect()
}

/// `true` when the mp4's `moov` box comes before `mdat` (`+faststart`).
pub fn moov_first(path: &Path) -> bool {
    let bytes = std::fs::read(path).unwrap();
    let find = |tag: &[u8]| bytes.windows(4).position(|w| w == tag);
    matches!((find(b"moov"), find(b"mdat")), (Some(m), Some(d)) if m < d)
}

/// `(frames, seconds)` of the first video stream from its packets: the packet count,
/// and from the first presentation time to the end of the last frame.
pub fn video_span(path: &Path) -> (usize, f64) {
    let out = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "V:0",
            "-show_entries",
            "packet=pts_time,duration_time",
            "-of",
            "csv=p=0",
            path.to_str().unwrap(),
        ],
    );
    let packets: Vec<(f64, Option<f64>)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split(',');
            let pts = f.next()?.trim().parse().ok()?;
            Some((pts, f.next().and_then(|d| d.trim().parse().ok())))
        })
        .collect();
    let first = packets.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let end = packets
        .iter()
        .map(|(pts, d)| pts + d.unwrap_or(0.0))
        .fold(f64::NEG_INFINITY, f64::max);
    (packets.len(), end - first)
}

/// A copy of `input` with its audio `secs` later (stream copy): a known sync error.
pub fn shift_audio(input: &Path, output: &Path, secs: f64) {
    let (input, output, secs) = (
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        secs.to_string(),
    );
    run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-i",
            input,
            "-itsoffset",
            &secs,
            "-i",
            input,
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-c",
            "copy",
            output,
        ],
    );
}

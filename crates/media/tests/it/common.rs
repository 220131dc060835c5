//! Test media generation and process inspection helpers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Runs ffmpeg synchronously to make a test input; panics on failure.
fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .expect("ffmpeg must be installed (apt-get install -y ffmpeg)");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

/// A 320x240 25 fps H.264 + AAC mp4 of `secs` seconds, key frame every `gop` frames.
pub fn make_av(dir: &Path, name: &str, secs: u32, gop: u32) -> PathBuf {
    let path = dir.join(name);
    let video = format!("testsrc2=size=320x240:rate=25:duration={secs}");
    let audio = format!("sine=frequency=440:sample_rate=44100:duration={secs}");
    let gop = gop.to_string();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &video,
        "-f",
        "lavfi",
        "-i",
        &audio,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        &gop,
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        path.to_str().unwrap(),
    ]);
    path
}

/// A tiny (64x48, 5 fps) video-only mp4, for tests that need a long duration cheaply.
pub fn make_long_video(dir: &Path, name: &str, secs: u32) -> PathBuf {
    let path = dir.join(name);
    let video = format!("testsrc2=size=64x48:rate=5:duration={secs}");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &video,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        path.to_str().unwrap(),
    ]);
    path
}

/// A mono sine mp3 of `secs` seconds.
pub fn make_audio(dir: &Path, name: &str, secs: u32) -> PathBuf {
    let path = dir.join(name);
    let audio = format!("sine=frequency=440:duration={secs}");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &audio,
        "-c:a",
        "libmp3lame",
        path.to_str().unwrap(),
    ]);
    path
}

/// A file of deterministic pseudo-random bytes (xorshift), which no demuxer accepts.
pub fn make_junk(dir: &Path, name: &str, len: usize) -> PathBuf {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A string unique to this test run, to find our children in /proc.
pub fn marker(tag: &str) -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "reelflow-{tag}-{}-{nanos}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Pids of live (non-zombie) processes whose command line contains `needle`.
pub fn pids_with(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // Zombies have an empty cmdline, so they never match.
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

/// Waits up to `within` for every process matching `needle` to be gone.
pub async fn assert_gone(needle: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = pids_with(needle);
        if left.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "processes left running: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs ffmpeg to make a test input from raw arguments (after the common prefix).
pub fn ffmpeg_make(args: &[&str]) {
    ffmpeg(args);
}

/// Encodes a lavfi filtergraph (video only) to an H.264 mp4 with key frames every
/// `gop` frames.
pub fn make_lavfi(dir: &Path, name: &str, graph: &str, gop: u32) -> PathBuf {
    let path = dir.join(name);
    let gop = gop.to_string();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        graph,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        &gop,
        "-pix_fmt",
        "yuv420p",
        path.to_str().unwrap(),
    ]);
    path
}

/// A still PNG of `color` (`w`×`h`).
pub fn make_png(dir: &Path, name: &str, color: &str, w: u32, h: u32) -> PathBuf {
    let path = dir.join(name);
    let src = format!("color=c={color}:s={w}x{h}:d=1");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &src,
        "-frames:v",
        "1",
        path.to_str().unwrap(),
    ]);
    path
}

/// The decoded pixels of one frame (at `at` seconds, or the first) as rgb24, after an
/// optional filter such as `crop=…`.
pub fn rgb(path: &Path, at: Option<f64>, filter: Option<&str>) -> Vec<u8> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error"]);
    if let Some(t) = at {
        cmd.args(["-ss", &t.to_string()]);
    }
    cmd.arg("-i").arg(path);
    if let Some(f) = filter {
        cmd.args(["-vf", f]);
    }
    cmd.args(["-frames:v", "1", "-pix_fmt", "rgb24", "-f", "rawvideo", "-"]);
    let out = cmd.output().expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The mean R, G, B of rgb24 bytes.
pub fn mean_rgb(bytes: &[u8]) -> [f64; 3] {
    let mut sum = [0f64; 3];
    for px in bytes.chunks_exact(3) {
        for c in 0..3 {
            sum[c] += f64::from(px[c]);
        }
    }
    let n = (bytes.len() / 3).max(1) as f64;
    sum.map(|s| s / n)
}

/// The mean luma (0–255) of a picture's first frame.
pub fn mean_luma(path: &Path) -> f64 {
    let [r, g, b] = mean_rgb(&rgb(path, None, None));
    0.299 * r + 0.587 * g + 0.114 * b
}

/// `(width, height)` of the first video stream, via ffprobe.
pub fn dims(path: &Path) -> (u32, u32) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=width,height", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    // MPEG-TS lists the stream twice (its program, then the streams).
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    // A display matrix adds its side data after the size.
    let mut fields = line.trim().split(',');
    let (w, h) = (fields.next().unwrap(), fields.next().unwrap());
    (w.parse().unwrap(), h.parse().unwrap())
}

/// The number of video frames, counted by decoding.
pub fn frame_count(path: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    line.trim().parse().unwrap()
}

//! SmartCover benchmark (run with `bash bench/media/smartcover.sh`).
//!
//! Goals (issue #4):
//! - SmartCover (Count 3) on a 5-minute 720p source is at least 10× faster than
//!   ffmpeg's `thumbnail` filter run over the whole file;
//! - on a 20-minute source it takes at most 1.5× its 5-minute time (cost follows the
//!   number of samples, not the duration).
//!
//! Sources are made with lavfi: a 60 s 1280x720 25 fps `testsrc2` with temporal
//! noise, encoded with x264 `fast` (key frame interval 250, x264's default), then
//! stream-copied 5 and 20 times over (`-stream_loop`) into the 5- and 20-minute files,
//! so both have identical per-frame decode cost and a real index of their length.
//! Everything is written under `bench/out/media` (git-ignored) and reused by later runs.
//!
//! Usage: `smartcover_bench [OUT_DIR] [--runs N]`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reelflow_media::{MediaTools, RunControl, SmartCoverSpec, probe};

fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .expect("ffmpeg must be installed");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

/// Makes `path` unless it exists; returns how long that took.
fn ensure(path: &Path, make: impl FnOnce(&str)) -> Option<Duration> {
    if path.exists() {
        return None;
    }
    let started = Instant::now();
    let tmp = path.with_extension("part.mp4");
    make(tmp.to_str().unwrap());
    std::fs::rename(&tmp, path).unwrap();
    Some(started.elapsed())
}

fn sources(dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let chunk = dir.join("chunk-60s-720p.mp4");
    if let Some(took) = ensure(&chunk, |out| {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=25:duration=60,noise=alls=12:allf=t",
            "-c:v",
            "libx264",
            "-preset",
            "fast",
            "-crf",
            "26",
            "-pix_fmt",
            "yuv420p",
            out,
        ])
    }) {
        println!("generated the 60 s chunk in {:.1} s", took.as_secs_f64());
    }
    let looped = |minutes: u32| {
        let path = dir.join(format!("source-{minutes}min-720p.mp4"));
        let loops = (minutes - 1).to_string();
        ensure(&path, |out| {
            ffmpeg(&[
                "-stream_loop",
                &loops,
                "-i",
                chunk.to_str().unwrap(),
                "-c",
                "copy",
                "-movflags",
                "+faststart",
                out,
            ])
        });
        path
    };
    (looped(5), looped(20))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One SmartCover (Count 3) run, probe included (it is part of what a node costs).
async fn smart_cover_once(input: &Path, out: &Path) -> f64 {
    let ctl = RunControl::new();
    let spec = SmartCoverSpec {
        count: 3,
        ..Default::default()
    };
    let started = Instant::now();
    let info = probe(input, &ctl).await.unwrap();
    let covers = MediaTools::default()
        .smart_cover(input, out, &spec, &info, &ctl)
        .await
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(covers.len(), 3);
    let picks: Vec<String> = covers.iter().map(|c| format!("{:.1}s", c.time)).collect();
    println!(
        "  smart cover {}: {secs:.2} s, picks at {}",
        input.file_name().unwrap().to_string_lossy(),
        picks.join(", ")
    );
    secs
}

fn thumbnail_secs(input: &Path, out: &Path) -> f64 {
    std::fs::create_dir_all(out).unwrap();
    let pattern = out.join("thumb-%03d.jpg");
    let started = Instant::now();
    // The `thumbnail` filter keeps the most representative frame of every 100: run over
    // the whole file, this decodes and analyses every frame.
    ffmpeg(&[
        "-i",
        input.to_str().unwrap(),
        "-vf",
        "thumbnail",
        "-fps_mode",
        "vfr",
        "-q:v",
        "2",
        pattern.to_str().unwrap(),
    ]);
    started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir = PathBuf::from("bench/out/media");
    let mut runs = 3;
    while let Some(arg) = args.next() {
        if arg == "--runs" {
            runs = args.next().and_then(|n| n.parse().ok()).unwrap_or(3);
        } else {
            dir = PathBuf::from(arg);
        }
    }
    let (five, twenty) = sources(&dir);
    println!("sources: {} and {}", five.display(), twenty.display());

    // Interleaved, so background load on a shared machine hits both sizes alike.
    let (mut t5, mut t20) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        t5.push(smart_cover_once(&five, &dir.join("covers-5")).await);
        t20.push(smart_cover_once(&twenty, &dir.join("covers-20")).await);
    }
    let (cover5, cover20) = (median(t5), median(t20));
    println!("  thumbnail filter over the whole 5-minute file…");
    let thumb5 = thumbnail_secs(&five, &dir.join("thumbnail-5"));

    let speedup = thumb5 / cover5;
    let growth = cover20 / cover5;
    println!();
    println!("SmartCover count 3, 5 min 720p  : {cover5:.2} s (median of {runs})");
    println!("SmartCover count 3, 20 min 720p : {cover20:.2} s (median of {runs})");
    println!("thumbnail filter, 5 min 720p    : {thumb5:.2} s");
    println!(
        "speed-up vs thumbnail           : {speedup:.1}x  (goal >= 10x: {})",
        verdict(speedup >= 10.0)
    );
    println!(
        "20 min / 5 min                  : {growth:.2}x  (goal <= 1.5x: {})",
        verdict(growth <= 1.5)
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

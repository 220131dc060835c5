//! Inputs with awkward properties (odd sizes, display matrices, cover art) and ffprobe
//! readings of what players look at (sample-entry tags, atom order, side data).

use std::path::{Path, PathBuf};
use std::process::Command;

use reelflow_media::{MediaInfo, RunControl, probe};

use crate::common::ffmpeg_make;

/// Probes through the crate (panics on failure).
pub async fn probed(path: &Path) -> MediaInfo {
    probe(path, &RunControl::new()).await.unwrap()
}

/// A `w`×`h` video of `secs` seconds (any size, odd included: `testsrc` keeps it) in
/// `codec` with `pixfmt`, plus a sine track in `audio` unless `None`.
pub fn make_sized(
    dir: &Path,
    name: &str,
    (w, h): (u32, u32),
    secs: f64,
    (codec, pixfmt): (&str, &str),
    audio: Option<&str>,
) -> PathBuf {
    let path = dir.join(name);
    let video = format!("testsrc=size={w}x{h}:rate=25:duration={secs}");
    let sine = format!("sine=frequency=440:sample_rate=48000:duration={secs}");
    let mut args = vec!["-f", "lavfi", "-i", &video];
    if audio.is_some() {
        args.extend(["-f", "lavfi", "-i", &sine]);
    }
    args.extend(["-c:v", codec, "-pix_fmt", pixfmt]);
    match codec {
        "libx264" | "libx265" => args.extend(["-preset", "ultrafast"]),
        "libvpx" | "libvpx-vp9" => args.extend(["-deadline", "realtime", "-cpu-used", "8"]),
        _ => {}
    }
    if codec == "libx265" {
        args.extend(["-x265-params", "log-level=error"]);
    }
    if let Some(a) = audio {
        args.extend(["-c:a", a, "-shortest"]);
    }
    args.push(path.to_str().unwrap());
    ffmpeg_make(&args);
    path
}

/// `source` remuxed with a display matrix turning it by `degrees` (what phones write).
/// ffmpeg 5.1 only turns the `rotate` tag into a matrix on a stream copy.
pub fn make_rotated(dir: &Path, name: &str, source: &Path, degrees: u32) -> PathBuf {
    let path = dir.join(name);
    let tag = format!("rotate={degrees}");
    ffmpeg_make(&[
        "-i",
        source.to_str().unwrap(),
        "-map",
        "0",
        "-c",
        "copy",
        "-metadata:s:v:0",
        &tag,
        path.to_str().unwrap(),
    ]);
    path
}

/// A JPEG of `color`, 64x64, for cover art.
pub fn make_jpeg(dir: &Path, name: &str, color: &str) -> PathBuf {
    let path = dir.join(name);
    let src = format!("color=c={color}:s=64x64:d=1");
    ffmpeg_make(&[
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

/// `media` with `cover` attached as cover art (copied streams, `attached_pic`).
pub fn with_cover(dir: &Path, name: &str, media: &Path, cover: &Path) -> PathBuf {
    let path = dir.join(name);
    let media_info = ffprobe(media, &["-show_entries", "stream=codec_type"]);
    let pic = media_info
        .lines()
        .filter(|l| l.contains("codec_type"))
        .count();
    let disposition = format!("-disposition:{pic}");
    ffmpeg_make(&[
        "-i",
        media.to_str().unwrap(),
        "-i",
        cover.to_str().unwrap(),
        "-map",
        "0",
        "-map",
        "1",
        "-c",
        "copy",
        &disposition,
        "attached_pic",
        path.to_str().unwrap(),
    ]);
    path
}

/// ffprobe's flat output (`key=value` lines) for `args`.
pub fn ffprobe(path: &Path, args: &[&str]) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "flat"])
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One stream field of the stream selected by `select` (`v:0`, `a:0`), e.g.
/// `codec_tag_string`, `pix_fmt`, `profile`.
pub fn field(path: &Path, select: &str, name: &str) -> String {
    let entries = format!("stream={name}");
    let text = ffprobe(
        path,
        &["-select_streams", select, "-show_entries", &entries],
    );
    let suffix = format!(".{name}=");
    text.lines()
        .find_map(|l| {
            l.split_once(&suffix)
                .map(|(_, v)| v.trim_matches('"').to_owned())
        })
        .unwrap_or_default()
}

/// The display-matrix rotation of the first video stream, `None` without one.
pub fn rotation(path: &Path) -> Option<i64> {
    let text = ffprobe(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream_side_data=rotation",
        ],
    );
    text.lines()
        .find_map(|l| l.split_once(".rotation=").map(|(_, v)| v.parse().unwrap()))
        .filter(|r| *r != 0)
}

/// How many attached pictures (cover art) the file holds.
pub fn attached_pics(path: &Path) -> usize {
    let text = ffprobe(path, &["-show_entries", "stream_disposition=attached_pic"]);
    text.lines()
        .filter(|l| l.ends_with("attached_pic=1"))
        .count()
}

/// The top-level ISO BMFF boxes of an mp4/mov/m4a file, in order.
pub fn top_level_boxes(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        boxes.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        let size = match size {
            1 => u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap()) as usize,
            0 => bytes.len() - at,
            n => n,
        };
        at += size.max(8);
    }
    boxes
}

/// `moov` comes before `mdat` (faststart).
pub fn assert_faststart(path: &Path) {
    let boxes = top_level_boxes(path);
    let pos = |name: &str| boxes.iter().position(|b| b == name);
    let (moov, mdat) = (pos("moov"), pos("mdat"));
    assert!(
        moov.is_some() && mdat.is_some() && moov < mdat,
        "{}: {boxes:?}",
        path.display()
    );
}

/// Checks an encoded video stream's size and the player-facing fields at once.
pub fn assert_video(path: &Path, size: (u32, u32), codec: &str, pix_fmt: &str) {
    let shown = crate::common::dims(path);
    assert_eq!(shown, size, "{}", path.display());
    assert_eq!(
        field(path, "v:0", "codec_name"),
        codec,
        "{}",
        path.display()
    );
    assert_eq!(field(path, "v:0", "pix_fmt"), pix_fmt, "{}", path.display());
}

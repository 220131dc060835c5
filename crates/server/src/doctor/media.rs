//! ffmpeg and ffprobe: present, their version, and the encoders templates need.

use super::Check;

/// Encoders the official templates use (H.264/AAC video, JPEG snapshots, PNG and GIF
/// images): without them common workflows fail.
const REQUIRED_ENCODERS: [&str; 5] = ["libx264", "aac", "mjpeg", "png", "gif"];

/// Encoders that only some template settings need (H.265, VP8/VP9, AV1, MP3, Opus, Vorbis,
/// FLAC, WebP).
const OPTIONAL_ENCODERS: [&str; 9] = [
    "libx265",
    "libvpx",
    "libvpx-vp9",
    "libsvtav1",
    "libmp3lame",
    "libopus",
    "libvorbis",
    "flac",
    "libwebp",
];

/// Runs `program args…` and returns its standard output, or why it could not run.
async fn output(program: &str, args: &[&str]) -> Result<String, String> {
    match tokio::process::Command::new(program)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
    {
        Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => Err(format!(
            "`{program} {}` exited with {}",
            args.join(" "),
            out.status
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("{program} is not on PATH"))
        }
        Err(e) => Err(format!("cannot run {program}: {e}")),
    }
}

/// `ffmpeg`/`ffprobe` present and its version.
pub(super) async fn tool_version(program: &'static str) -> Check {
    match output(program, &["-hide_banner", "-version"]).await {
        Ok(text) => {
            let first = text.lines().next().unwrap_or("").trim();
            let version = first
                .split_whitespace()
                .nth(2)
                .unwrap_or("(unknown version)");
            Check::ok(program, format!("{program} {version}"))
        }
        Err(why) => Check::fail(
            program,
            format!(
                "{why}: install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg), or put the \
                 directory holding {program} on the PATH of the reelflow process"
            ),
        ),
    }
}

/// The encoders templates need, from `ffmpeg -encoders`.
pub(super) async fn encoders() -> Vec<Check> {
    let listing = match output("ffmpeg", &["-hide_banner", "-encoders"]).await {
        Ok(listing) => listing,
        Err(why) => return vec![Check::fail("encoders", format!("cannot list them: {why}"))],
    };
    // Lines look like ` V....D libx264   libx264 H.264 / AVC …`: the name is the 2nd word.
    let available: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    let missing = |names: &[&str]| -> Vec<String> {
        names
            .iter()
            .filter(|n| !available.contains(n))
            .map(|n| (*n).to_owned())
            .collect()
    };
    let required = missing(&REQUIRED_ENCODERS);
    let optional = missing(&OPTIONAL_ENCODERS);
    let mut checks = vec![if required.is_empty() {
        Check::ok("encoders", REQUIRED_ENCODERS.join(", "))
    } else {
        Check::fail(
            "encoders",
            format!(
                "missing {}: the official templates need them; install a full ffmpeg build \
                 (Debian's `ffmpeg` package has them)",
                required.join(", ")
            ),
        )
    }];
    if !optional.is_empty() {
        checks.push(Check::warn(
            "encoders",
            format!(
                "missing {}: templates asking for these codecs will fail",
                optional.join(", ")
            ),
        ));
    }
    checks
}

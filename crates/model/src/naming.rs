//! Trigger filters and output-name expansion: the pure rules that decide *whether* an object
//! starts a workflow and *where* its results are written.
//!
//! # Naming the objects of a node that writes several
//!
//! A node's objects must never take a name that another run, or another node, can also
//! write — unless the user's `Output` itself names them alike (then the user decides, and the
//! later write wins). Every object is therefore named from the node's own expanded `Output`:
//!
//! - **The main object** (a file, a playlist, a manifest, a master playlist) is
//!   `Output.Object` expanded ([`expand_output`]). This is the user's decision: a fixed name
//!   such as `out/index.m3u8` is shared by every run on purpose, `${InputName}` or `${RunId}`
//!   separate them.
//! - **Numbered series** (Snapshot frames, SmartCover covers, Segment pieces) are
//!   `Output.Object` with `${Number}` = 0, 1, …; when the Object has no `${Number}` and the
//!   node wrote more than one file, `-<n>` is inserted before the extension
//!   (`s.jpg` → `s-0.jpg`, `s-1.jpg`) so the series cannot overwrite itself ([`series_key`]).
//! - **Sprite sheets** follow `Output.SpriteObject` by the same rule. Without one they take
//!   the Object: as it is when the node writes only sprites, and otherwise with `sprite-`
//!   before `${Number}` (`s-${Number}.jpg` → `s-sprite-0.jpg`) or, lacking it, `-sprite-<n>`
//!   before the extension, so sprites never take a frame's name ([`sprite_key`]).
//! - **Companions** — HLS segments, DASH init and media segments — sit beside the
//!   playlist/manifest that references them and are named from *its* object name: for
//!   `out/a.m3u8`, `out/a-00000.ts`, …; for `out/a.mpd`, `out/a-init-0.m4s` and
//!   `out/a-chunk-0-00001.m4s`. The stem is the object's file name without its extension,
//!   kept as it is when made only of `A–Z a–z 0–9 . _ -`; otherwise (or when empty or longer
//!   than [`MAX_COMPANION_STEM`] bytes) other characters become `_` and `~` plus a 64-bit hash
//!   of the whole name is appended ([`companion_stem`]). A plain stem never holds `~`, so
//!   this is one-to-one: two playlists in one folder share segment names only if they are the
//!   same object, i.e. only if the user's Outputs name them the same.

use crate::workflow::{ExtFilter, StartInput};

/// Extensions behind `ExtFilter/Video` (decisions.md).
pub const VIDEO_EXTS: &[&str] = &[
    "mp4", "mov", "m4v", "mkv", "webm", "flv", "f4v", "avi", "wmv", "asf", "mpg", "mpeg", "ts",
    "mts", "m2ts", "3gp", "3g2", "ogv", "rm", "rmvb", "vob", "mxf", "dv",
];
/// Extensions behind `ExtFilter/Audio`.
pub const AUDIO_EXTS: &[&str] = &[
    "mp3", "aac", "m4a", "flac", "wav", "ogg", "oga", "opus", "amr", "wma", "ape", "ac3", "aiff",
    "alac",
];
/// Extensions behind `ExtFilter/Image`.
pub const IMAGE_EXTS: &[&str] = &[
    "jpg", "jpeg", "png", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif", "avif", "ico",
];

/// Whether an uploaded object with `key` and `content_type` starts a workflow with this input.
pub fn start_matches(start: &StartInput, key: &str, content_type: &str) -> bool {
    key.starts_with(&start.object_prefix)
        && start
            .ext_filter
            .as_ref()
            .is_none_or(|f| ext_filter_matches(f, key, content_type))
}

fn ext_filter_matches(filter: &ExtFilter, key: &str, content_type: &str) -> bool {
    if !filter.enabled || filter.all_file {
        return true;
    }
    let ext = extension(file_name(key)).to_ascii_lowercase();
    let major = content_type
        .split('/')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let class = |on: bool, exts: &[&str], mime: &str| {
        on && (exts.contains(&ext.as_str()) || (filter.content_type && major == mime))
    };
    class(filter.video, VIDEO_EXTS, "video")
        || class(filter.audio, AUDIO_EXTS, "audio")
        || class(filter.image, IMAGE_EXTS, "image")
        || filter.custom_exts.contains(&ext)
}

fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

fn extension(name: &str) -> &str {
    name.rsplit_once('.').map_or("", |(_, ext)| ext)
}

/// Values for the `${…}` variables of an output key.
#[derive(Debug, Clone, Default)]
pub struct OutputVars<'a> {
    /// The input object key.
    pub input_key: &'a str,
    /// Instance id.
    pub run_id: &'a str,
    /// Job id.
    pub job_id: &'a str,
    /// Extension of the produced file.
    pub ext: &'a str,
    /// Index for nodes writing several files.
    pub number: Option<usize>,
}

/// Expands `${InputPath}`, `${InputName}`, `${InputNameAndExt}`, `${RunId}`, `${JobId}`,
/// `${Ext}` and `${Number}` (names case-insensitive; `{Ext}` without `$` is accepted too, as
/// Tencent's own examples use it). Unknown variables are left as written.
pub fn expand_output(template: &str, vars: &OutputVars<'_>) -> String {
    let name_and_ext = file_name(vars.input_key);
    let input_path = vars.input_key.rsplit_once('/').map_or("", |(dir, _)| dir);
    let input_name = name_and_ext
        .rsplit_once('.')
        .map_or(name_and_ext, |(stem, _)| stem);
    let number = vars.number.unwrap_or(0).to_string();
    let mut out = String::with_capacity(template.len() + 40);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let dollar = open > 0 && rest.as_bytes()[open - 1] == b'$';
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = &rest[open + 1..open + close];
        let value = match name.to_ascii_lowercase().as_str() {
            "inputpath" => Some(input_path),
            "inputname" => Some(input_name),
            "inputnameandext" => Some(name_and_ext),
            "runid" => Some(vars.run_id),
            "jobid" => Some(vars.job_id),
            "ext" => Some(vars.ext),
            "number" => Some(number.as_str()),
            _ => None,
        };
        match value {
            Some(v) if dollar || name.eq_ignore_ascii_case("ext") => {
                out.push_str(&rest[..if dollar { open - 1 } else { open }]);
                out.push_str(v);
            }
            _ => out.push_str(&rest[..open + close + 1]),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out.trim_start_matches('/').to_owned()
}

/// Longest companion stem kept as written (a file name holds at most 255 bytes, and the
/// segment suffix needs room).
pub const MAX_COMPANION_STEM: usize = 160;

/// The stem the companions (segments) of the object `key` are named from: see the
/// [module documentation](self). `companion_stem("out/a.m3u8") == "a"`.
pub fn companion_stem(key: &str) -> String {
    let name = file_name(key);
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !stem.is_empty() && stem.len() <= MAX_COMPANION_STEM && stem.chars().all(plain) {
        return stem.to_owned();
    }
    let mut safe: String = stem
        .chars()
        .map(|c| if plain(c) { c } else { '_' })
        .take(MAX_COMPANION_STEM - 17)
        .collect();
    safe.push_str(&format!("~{:016x}", fnv1a(stem.as_bytes())));
    safe
}

/// FNV-1a, 64 bits: a hash that stays the same across releases and platforms.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether an output template uses `${Number}` (any case).
pub fn has_number(template: &str) -> bool {
    template.to_ascii_lowercase().contains("${number}")
}

/// `key` with `tag` inserted before the extension of its file name (at the end without one).
fn insert_before_ext(key: &str, tag: &str) -> String {
    let dir_len = key.len() - file_name(key).len();
    match key[dir_len..].rfind('.').filter(|&i| i > 0) {
        Some(dot) => format!("{}{tag}{}", &key[..dir_len + dot], &key[dir_len + dot..]),
        None => format!("{key}{tag}"),
    }
}

/// The key of file `vars.number` of a numbered series written by `template`; `several` says
/// whether the node wrote more than one. See the [module documentation](self).
pub fn series_key(template: &str, vars: &OutputVars<'_>, several: bool) -> String {
    let key = expand_output(template, vars);
    match vars.number {
        Some(n) if several && !has_number(template) => insert_before_ext(&key, &format!("-{n}")),
        _ => key,
    }
}

/// The key of sprite sheet `vars.number`: by `sprite_template` when given, else derived from
/// the Object `template` so that it cannot take a frame's name (`with_frames`: the node also
/// writes frames by `template`). See the [module documentation](self).
pub fn sprite_key(
    sprite_template: Option<&str>,
    template: &str,
    vars: &OutputVars<'_>,
    several: bool,
    with_frames: bool,
) -> String {
    match sprite_template {
        Some(t) => series_key(t, vars, several),
        None if !with_frames => series_key(template, vars, several),
        None if has_number(template) => {
            let mut marked = String::with_capacity(template.len() + 8);
            let mut rest = template;
            while let Some(at) = rest.to_ascii_lowercase().find("${number}") {
                marked.push_str(&rest[..at]);
                marked.push_str("sprite-${Number}");
                rest = &rest[at + "${number}".len()..];
            }
            marked.push_str(rest);
            expand_output(&marked, vars)
        }
        None => insert_before_ext(
            &expand_output(template, vars),
            &format!("-sprite-{}", vars.number.unwrap_or(0)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(key: &str) -> OutputVars<'_> {
        OutputVars {
            input_key: key,
            run_id: "i1",
            job_id: "j1",
            ext: "flv",
            number: Some(3),
        }
    }

    #[test]
    fn expands_documented_variables() {
        let v = vars("dir/sub/test1.mp4");
        assert_eq!(expand_output("${InputName}.${Ext}", &v), "test1.flv");
        assert_eq!(
            expand_output("${InputNameAndExt}_${RunId}.${Ext}", &v),
            "test1.mp4_i1.flv"
        );
        assert_eq!(
            expand_output("${InputPath}/${inputname}-${number}.${ext}", &v),
            "dir/sub/test1-3.flv"
        );
        assert_eq!(
            expand_output("bcd/${RunId}/trans.{Ext}", &v),
            "bcd/i1/trans.flv"
        );
        assert_eq!(
            expand_output("x/${Unknown}/${JobId}", &v),
            "x/${Unknown}/j1"
        );
        assert_eq!(
            expand_output("${InputPath}/a.${Ext}", &vars("top.mp4")),
            "a.flv"
        );
    }

    #[test]
    fn filters_by_prefix_and_extension() {
        let mut start = StartInput {
            object_prefix: "in/".into(),
            ..Default::default()
        };
        assert!(start_matches(&start, "in/a.mp4", ""));
        assert!(!start_matches(&start, "out/a.mp4", ""));
        start.ext_filter = Some(ExtFilter {
            enabled: true,
            video: true,
            ..Default::default()
        });
        assert!(start_matches(&start, "in/a.MP4", ""));
        assert!(!start_matches(&start, "in/a.txt", ""));
        start.ext_filter.as_mut().unwrap().content_type = true;
        assert!(start_matches(&start, "in/a.bin", "video/mp4"));
        start.ext_filter.as_mut().unwrap().custom_exts = vec!["txt".into()];
        assert!(start_matches(&start, "in/a.txt", ""));
    }

    #[test]
    fn companion_stems_are_the_plain_stem_or_marked() {
        assert_eq!(companion_stem("out/hls/a.m3u8"), "a");
        assert_eq!(companion_stem("a.b-c_d.mpd"), "a.b-c_d");
        assert_eq!(companion_stem("out/play"), "play");
        let spaced = companion_stem("out/my video.m3u8");
        assert!(spaced.starts_with("my_video~"), "{spaced}");
        assert_eq!(spaced.len(), "my_video~".len() + 16);
        // One-to-one: the replaced form never equals a plain stem or another marked one.
        assert_ne!(spaced, companion_stem("out/my_video.m3u8"));
        assert_ne!(spaced, companion_stem("out/my#video.m3u8"));
        assert_eq!(spaced, companion_stem("elsewhere/my video.m3u8"));
        let cjk = companion_stem("视频.m3u8");
        assert!(cjk.starts_with("__~"), "{cjk}");
        assert!(companion_stem("d/.m3u8").starts_with('~'));
        let long = companion_stem(&format!("{}.m3u8", "x".repeat(300)));
        assert!(long.len() <= MAX_COMPANION_STEM, "{}", long.len());
        assert_ne!(long, companion_stem(&format!("{}.m3u8", "x".repeat(301))));
        for odd in ["a$b.mpd", "50%.m3u8", "a~b.m3u8"] {
            let s = companion_stem(odd);
            assert!(!s.contains(['$', '%', '/']), "{s}");
        }
    }

    #[test]
    fn series_keys_never_collide_within_a_node() {
        let mut v = vars("in/a.mp4");
        v.ext = "jpg";
        v.number = Some(2);
        assert_eq!(
            series_key("s/${InputName}-${Number}.jpg", &v, true),
            "s/a-2.jpg"
        );
        assert_eq!(series_key("s/${InputName}.${Ext}", &v, true), "s/a-2.jpg");
        assert_eq!(series_key("s/${InputName}.${Ext}", &v, false), "s/a.jpg");
        assert_eq!(series_key("s/x.y/${InputName}", &v, true), "s/x.y/a-2");
        assert_eq!(
            sprite_key(Some("sp/${Number}.jpg"), "s/${Number}.jpg", &v, true, true),
            "sp/2.jpg"
        );
        assert_eq!(
            sprite_key(None, "s/f-${number}.jpg", &v, true, true),
            "s/f-sprite-2.jpg"
        );
        assert_eq!(
            sprite_key(None, "s/f.jpg", &v, false, true),
            "s/f-sprite-2.jpg"
        );
        assert_eq!(sprite_key(None, "s/f.jpg", &v, false, false), "s/f.jpg");
    }
}

//! Trigger filters and output-name expansion: the pure rules that decide *whether* an object
//! starts a workflow and *where* its results are written.

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
}

//! ffprobe's full report: every field as the text ffprobe printed it, next to the typed
//! [`MediaInfo`] that operations use.
//!
//! CI's `MediaInfo` document (the MediaInfo node and `GET /<key>?ci-process=videoinfo`)
//! shows ffprobe's values as text, unconverted: `<Duration>10.125000</Duration>`,
//! `<AvgFps>24/1</AvgFps>`, `<CodecTag>0x31637661</CodecTag>`. [`MediaInfo`] keeps only
//! parsed numbers, so this report keeps the raw sections too. It runs the same ffprobe
//! command as [`fn@crate::probe`] and applies the same checks (non-media and stream-less
//! inputs are [`MediaError::InvalidInput`]).

use serde_json::{Map, Value};

use crate::error::MediaError;
use crate::limits::MediaTools;
use crate::probe::{MediaInfo, parse_ffprobe_json};
use crate::process::{ProcessError, RunControl};
use crate::source::MediaSource;

/// What ffprobe reported about an input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaReport {
    /// The typed view (the same as [`fn@crate::probe`] returns).
    pub info: MediaInfo,
    /// ffprobe's `format` section.
    pub format: ProbeSection,
    /// ffprobe's `streams`, in file order (`streams[i]` is `info.streams[i]`).
    pub streams: Vec<ProbeSection>,
}

/// One ffprobe JSON section (`format` or a stream), read as text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeSection(Map<String, Value>);

impl ProbeSection {
    /// The field as ffprobe printed it: strings as they are (`"2.000000"`, `"25/1"`),
    /// numbers in their JSON form (`320`). `None` when absent, empty or `N/A`.
    pub fn text(&self, field: &str) -> Option<String> {
        let text = match self.0.get(field)? {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        (!text.is_empty() && text != "N/A").then_some(text)
    }

    /// A tag (`language`, `rotate`), looked up case-insensitively.
    pub fn tag(&self, name: &str) -> Option<String> {
        let Some(Value::Object(tags)) = self.0.get("tags") else {
            return None;
        };
        tags.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// The `rotation` of the stream's display matrix side data, as ffprobe printed it
    /// (degrees, e.g. `-90`); `None` without a display matrix.
    pub fn rotation(&self) -> Option<String> {
        let Some(Value::Array(list)) = self.0.get("side_data_list") else {
            return None;
        };
        list.iter()
            .filter_map(Value::as_object)
            .find(|sd| sd.get("side_data_type").and_then(Value::as_str) == Some("Display Matrix"))
            .and_then(|sd| sd.get("rotation"))
            .map(|r| match r {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
    }
}

/// Parses `ffprobe -print_format json -show_format -show_streams` output into a report;
/// the same errors as [`parse_ffprobe_json`].
pub fn parse_report_json(json: &[u8]) -> Result<MediaReport, MediaError> {
    let info = parse_ffprobe_json(json)?;
    let raw: Value = serde_json::from_slice(json).map_err(MediaError::ProbeOutput)?;
    let section = |v: &Value| ProbeSection(v.as_object().cloned().unwrap_or_default());
    let format = raw.get("format").map(section).unwrap_or_default();
    let streams = match raw.get("streams") {
        Some(Value::Array(list)) => list.iter().map(section).collect(),
        _ => Vec::new(),
    };
    Ok(MediaReport {
        info,
        format,
        streams,
    })
}

/// Probes `source` with default tools and limits.
pub async fn probe_report(
    source: &MediaSource,
    ctl: &RunControl,
) -> Result<MediaReport, MediaError> {
    MediaTools::default().probe_report(source, ctl).await
}

impl MediaTools {
    /// Probes `source` into a [`MediaReport`]. Unreadable inputs and inputs without an
    /// audio or video stream are [`MediaError::InvalidInput`]; messages never contain the
    /// input's path or URL.
    pub async fn probe_report(
        &self,
        source: &MediaSource,
        ctl: &RunControl,
    ) -> Result<MediaReport, MediaError> {
        let mut args: Vec<String> = ["-v", "error", "-print_format", "json"]
            .map(String::from)
            .to_vec();
        args.extend(["-show_format".into(), "-show_streams".into()]);
        args.extend(source.input_args()?);
        let output = match self.ffprobe_command(args).run(ctl).await {
            Ok(output) => output,
            Err(ProcessError::Failed { stderr_tail, .. }) => {
                return Err(MediaError::invalid_input(format!(
                    "ffprobe could not read the input: {}",
                    source.scrub(&stderr_tail)
                )));
            }
            Err(other) => return Err(other.into()),
        };
        let report = parse_report_json(&output.stdout)?;
        if !report.info.has_video() && !report.info.has_audio() {
            return Err(MediaError::invalid_input(format!(
                "the input has no audio or video stream (format {})",
                report.info.format_name
            )));
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MP4: &str = include_str!("../tests/fixtures/ffprobe_5_1_mp4_h264_aac.json");

    #[test]
    fn keeps_ffprobe_text() {
        let report = parse_report_json(MP4.as_bytes()).unwrap();
        assert_eq!(report.streams.len(), report.info.streams.len());
        assert_eq!(report.format.text("duration").as_deref(), Some("2.000000"));
        assert_eq!(
            report.format.text("format_name").as_deref(),
            Some("mov,mp4,m4a,3gp,3g2,mj2")
        );
        let video = &report.streams[0];
        assert_eq!(video.text("avg_frame_rate").as_deref(), Some("25/1"));
        assert_eq!(video.text("width").as_deref(), Some("320"));
        assert_eq!(video.text("codec_tag").as_deref(), Some("0x31637661"));
        assert_eq!(video.tag("LANGUAGE").as_deref(), Some("und"));
        assert_eq!(video.text("missing"), None);
        assert_eq!(video.rotation(), None);
    }

    #[test]
    fn display_matrix_rotation() {
        let json = br#"{"format":{"format_name":"mov"},"streams":[{"index":0,"codec_type":"video",
            "side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]}]}"#;
        let report = parse_report_json(json).unwrap();
        assert_eq!(report.streams[0].rotation().as_deref(), Some("-90"));
    }

    #[test]
    fn non_media_is_invalid_input() {
        assert_eq!(
            parse_report_json(b"{\n\n}\n").unwrap_err().code(),
            "InvalidInput"
        );
    }
}

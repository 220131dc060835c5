//! Typed view of Concat templates.

use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::xml::XmlElement;

use super::transcode::{AudioParams, VideoParams, parse_audio, parse_video};

/// One fragment joined around the input.
#[derive(Debug, Clone, PartialEq)]
pub struct ConcatFragment {
    /// Object URL or key in the same bucket.
    pub url: String,
    /// Placed before (`Mode=Start`) or after (`Mode=End`, the default) the input.
    pub at_start: bool,
    /// Trim start (seconds).
    pub start_time: Option<f64>,
    /// Trim end (seconds).
    pub end_time: Option<f64>,
}

impl ConcatFragment {
    /// The object key the URL names: the path of an `http(s)://host/key` URL (percent-decoded
    /// by the caller if needed), or the value itself when it is a bare key.
    pub fn object_key(&self) -> String {
        let without_scheme = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, rest)| {
                rest.split_once('/').map_or("", |(_, path)| path)
            });
        without_scheme
            .split('?')
            .next()
            .unwrap_or("")
            .trim_start_matches('/')
            .to_owned()
    }
}

/// Typed view of a Concat template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConcatParams {
    /// Fragments in template order.
    pub fragments: Vec<ConcatFragment>,
    /// Target container (`mp4`, `flv`, `hls`, `ts`, `mp3`, `aac`).
    pub container: String,
    /// Video target.
    pub video: Option<VideoParams>,
    /// Audio target.
    pub audio: Option<AudioParams>,
    /// Stream copy when compatible.
    pub direct: bool,
}

impl ConcatParams {
    /// Reads a validated `ConcatTemplate`.
    pub fn from_container(c: &XmlElement) -> Result<Self, InvalidInput> {
        let container = c
            .child("Container")
            .ok_or_else(|| InvalidInput::rule("Request.ConcatTemplate.Container", "is required"))?;
        let format = Fields::new(container, "Request.ConcatTemplate.Container")
            .required("Format")?
            .to_ascii_lowercase();
        // Fragments in FragmentIndex order (document order among equal or missing indexes).
        let mut indexed = c
            .children_named("ConcatFragment")
            .map(|f| {
                let fields = Fields::new(f, "Request.ConcatTemplate.ConcatFragment");
                let fragment = ConcatFragment {
                    url: fields.required("Url")?.to_owned(),
                    at_start: fields
                        .str("Mode")
                        .is_some_and(|m| m.eq_ignore_ascii_case("Start")),
                    start_time: fields.f64_in("StartTime", 0.0, 86_400.0)?,
                    end_time: fields.f64_in("EndTime", 0.0, 86_400.0)?,
                };
                Ok((
                    fields.u32_in("FragmentIndex", 0, 1000)?.unwrap_or(0),
                    fragment,
                ))
            })
            .collect::<Result<Vec<_>, InvalidInput>>()?;
        indexed.sort_by_key(|(index, _)| *index);
        let fragments = indexed.into_iter().map(|(_, f)| f).collect();
        let video = c
            .child("Video")
            .map(|v| parse_video(v, "Request.ConcatTemplate.Video"))
            .transpose()?;
        let audio = c
            .child("Audio")
            .map(|a| parse_audio(a, "Request.ConcatTemplate.Audio"))
            .transpose()?;
        Ok(ConcatParams {
            fragments,
            container: format,
            video,
            audio,
            direct: Fields::new(c, "Request.ConcatTemplate")
                .bool("DirectConcat")?
                .unwrap_or(false),
        })
    }

    /// Extension of the produced file.
    pub fn extension(&self) -> &str {
        if self.container == "hls" {
            "m3u8"
        } else {
            &self.container
        }
    }
}

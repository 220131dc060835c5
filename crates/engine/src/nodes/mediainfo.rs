//! MediaInfo nodes: the input's ffprobe report, stored on the task in CI's `MediaInfo` shape.

use std::path::Path;

use reelflow_media::{MediaInfo, RunControl, StreamInfo};
use reelflow_model::XmlElement;

use super::NodeRun;
use crate::execute::Failure;

pub(super) async fn run(input: &Path, ctl: &RunControl) -> Result<NodeRun, Failure> {
    let info = reelflow_media::probe(input, ctl).await?;
    Ok(NodeRun {
        produced: Vec::new(),
        result: media_info_xml(&info).to_xml(),
    })
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// `MediaInfo{Format{…}, Stream{Video*, Audio*, Subtitle}}`.
pub(crate) fn media_info_xml(info: &MediaInfo) -> XmlElement {
    let format = XmlElement::new("Format")
        .with_leaf("Bitrate", opt(info.bit_rate.map(|b| b as f64 / 1000.0)))
        .with_leaf("Duration", opt(info.duration))
        .with_leaf("FormatName", &info.format_name)
        .with_leaf("NumStream", info.streams.len().to_string())
        .with_leaf("Size", opt(info.size));
    let mut stream = XmlElement::new("Stream");
    for s in info.streams.iter().filter(|s| s.codec_type == "video") {
        stream.push(video(s));
    }
    for s in info.streams.iter().filter(|s| s.codec_type == "audio") {
        stream.push(audio(s));
    }
    stream.push(XmlElement::new("Subtitle"));
    XmlElement::new("MediaInfo").with(format).with(stream)
}

fn video(s: &StreamInfo) -> XmlElement {
    XmlElement::new("Video")
        .with_leaf("Index", s.index.to_string())
        .with_leaf("CodecName", &s.codec_name)
        .with_leaf("Width", opt(s.width))
        .with_leaf("Height", opt(s.height))
        .with_leaf("Fps", opt(s.fps))
        .with_leaf("Bitrate", opt(s.bit_rate.map(|b| b as f64 / 1000.0)))
        .with_leaf("Duration", opt(s.duration))
        .with_leaf("NumFrames", opt(s.nb_frames))
}

fn audio(s: &StreamInfo) -> XmlElement {
    XmlElement::new("Audio")
        .with_leaf("Index", s.index.to_string())
        .with_leaf("CodecName", &s.codec_name)
        .with_leaf("SampleRate", opt(s.sample_rate))
        .with_leaf("Channel", opt(s.channels))
        .with_leaf("Bitrate", opt(s.bit_rate.map(|b| b as f64 / 1000.0)))
        .with_leaf("Duration", opt(s.duration))
}

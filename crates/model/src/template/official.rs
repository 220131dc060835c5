//! Built-in Official templates (category `Official`, ids `t0…`): common renditions every bucket
//! can use and nobody can change or delete. Their ids are fixed so workflows can name them.

use crate::xml::XmlElement;

use super::{Template, TemplateCategory, TemplateSpec};

/// (id, request body) of each official template.
const OFFICIAL: &[(&str, &str)] = &[
    (
        "t00000000000000000000000000000f360",
        "<Request><Tag>Transcode</Tag><Name>MP4-H264-360P</Name><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Height>360</Height><Crf>26</Crf><Profile>high</Profile></Video><Audio><Codec>aac</Codec><Samplerate>44100</Samplerate><Bitrate>96</Bitrate><Channels>2</Channels></Audio></Request>",
    ),
    (
        "t00000000000000000000000000000f720",
        "<Request><Tag>Transcode</Tag><Name>MP4-H264-720P</Name><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Height>720</Height><Crf>25</Crf><Profile>high</Profile></Video><Audio><Codec>aac</Codec><Samplerate>44100</Samplerate><Bitrate>128</Bitrate><Channels>2</Channels></Audio></Request>",
    ),
    (
        "t0000000000000000000000000000f1080",
        "<Request><Tag>Transcode</Tag><Name>MP4-H264-1080P</Name><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Height>1080</Height><Crf>24</Crf><Profile>high</Profile></Video><Audio><Codec>aac</Codec><Samplerate>48000</Samplerate><Bitrate>160</Bitrate><Channels>2</Channels></Audio></Request>",
    ),
    (
        "t00000000000000000000000000000a720",
        "<Request><Tag>Transcode</Tag><Name>HLS-H264-720P</Name><Container><Format>hls</Format><ClipConfig><Duration>6</Duration></ClipConfig></Container><Video><Codec>H.264</Codec><Height>720</Height><Crf>25</Crf></Video><Audio><Codec>aac</Codec><Bitrate>128</Bitrate></Audio></Request>",
    ),
    (
        "t000000000000000000000000000000aa0",
        "<Request><Tag>Transcode</Tag><Name>AUDIO-MP3-128K</Name><Container><Format>mp3</Format></Container><Audio><Codec>mp3</Codec><Samplerate>44100</Samplerate><Bitrate>128</Bitrate><Channels>2</Channels></Audio></Request>",
    ),
    (
        "t000000000000000000000000000000c01",
        "<Request><Tag>Snapshot</Tag><Name>SNAPSHOT-JPG-AVERAGE-10</Name><Snapshot><Mode>Average</Mode><Count>10</Count><Width>640</Width></Snapshot></Request>",
    ),
    (
        "t000000000000000000000000000000d01",
        "<Request><Tag>Animation</Tag><Name>GIF-480W-10FPS</Name><Container><Format>gif</Format></Container><Video><Codec>gif</Codec><Width>480</Width><Fps>10</Fps></Video><TimeInterval><Start>0</Start><Duration>5</Duration></TimeInterval></Request>",
    ),
    (
        "t000000000000000000000000000000e01",
        "<Request><Tag>SmartCover</Tag><Name>SMARTCOVER-JPG-3</Name><SmartCover><Format>jpg</Format><Count>3</Count></SmartCover></Request>",
    ),
];

/// Every official template.
pub fn official_templates() -> Vec<Template> {
    OFFICIAL
        .iter()
        .map(|(id, body)| {
            let request =
                XmlElement::parse(body.as_bytes()).expect("built-in template XML is well-formed");
            let spec = TemplateSpec::from_request(&request).expect("built-in templates are valid");
            Template {
                id: (*id).to_owned(),
                bucket: String::new(),
                name: spec.name,
                tag: spec.tag,
                category: TemplateCategory::Official,
                params: spec.params,
                created: 1_767_225_600, // 2026-01-01T00:00:00Z
                updated: 1_767_225_600,
            }
        })
        .collect()
}

//! The Start node's `Input`: prefix, queue, callback (`NotifyConfig`) and extension filter.

use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::schema::{self, Field, Kind, opt};
use crate::xml::XmlElement;

/// `Nodes > Start > Input`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StartInput {
    /// Keys must start with this (a lone `/` means the bucket root).
    pub object_prefix: String,
    /// Media queue id, if given.
    pub queue_id: Option<String>,
    /// Where results are posted.
    pub notify: Option<NotifyConfig>,
    /// Extension filter.
    pub ext_filter: Option<ExtFilter>,
}

/// `NotifyConfig`.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyConfig {
    /// Callback URL.
    pub url: String,
    /// `Event`: which messages to send; empty means WorkflowFinish.
    pub events: Vec<String>,
    /// Body format.
    pub format: ResultFormat,
    /// `State` On/Off (Off disables the callback).
    pub enabled: bool,
}

/// Callback body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResultFormat {
    /// `application/xml` (default).
    #[default]
    Xml,
    /// `application/json`.
    Json,
}

/// `ExtFilter`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExtFilter {
    /// `State=On`; when off every object passes.
    pub enabled: bool,
    /// Common video extensions pass.
    pub video: bool,
    /// Common audio extensions pass.
    pub audio: bool,
    /// Common image extensions pass.
    pub image: bool,
    /// Also match on the Content-Type major type.
    pub content_type: bool,
    /// Extensions from `CustomExts` pass.
    pub custom_exts: Vec<String>,
    /// Every file passes.
    pub all_file: bool,
}

const NOTIFY_FIELDS: &[Field] = &[
    opt("Url", Kind::Text(2048)),
    opt("Type", Kind::Text(16)),
    opt("Event", Kind::Text(256)),
    opt("ResultFormat", Kind::Text(8)),
    opt("State", Kind::Text(8)),
    opt("MqMode", Kind::Text(32)),
    opt("MqRegion", Kind::Text(32)),
    opt("MqName", Kind::Text(128)),
];
const EXT_FILTER_FIELDS: &[Field] = &[
    opt("State", Kind::Text(8)),
    opt("Video", Kind::Text(8)),
    opt("Audio", Kind::Text(8)),
    opt("Image", Kind::Text(8)),
    opt("ContentType", Kind::Text(8)),
    opt("Custom", Kind::Text(8)),
    opt("CustomExts", Kind::Text(256)),
    opt("AllFile", Kind::Text(8)),
    opt("AutoContentType", Kind::List(&[], 16)),
];
/// `Start > Input`: unknown elements are refused; values are checked by the typed parsers.
const START_INPUT_FIELDS: &[Field] = &[
    opt("ObjectPrefix", Kind::Text(850)),
    opt("QueueId", Kind::Text(64)),
    opt("PicProcessQueueId", Kind::Text(64)),
    opt("SpeechRecognitionQueueId", Kind::Text(64)),
    opt("AIProcessQueueId", Kind::Text(64)),
    opt("NotifyConfig", Kind::Group(NOTIFY_FIELDS)),
    opt("ExtFilter", Kind::Group(EXT_FILTER_FIELDS)),
];

pub(super) fn parse_start(node: &XmlElement, path: &str) -> Result<StartInput, InvalidInput> {
    let input_path = format!("{path}.Input");
    for child in &node.children {
        if !matches!(child.name.as_str(), "Type" | "Input") {
            return Err(InvalidInput::rule(
                format!("{path}.{}", child.name),
                "is not a known element of the Start node",
            ));
        }
    }
    let input = node
        .child("Input")
        .ok_or_else(|| InvalidInput::rule(&input_path, "is required"))?;
    schema::check(input, &input_path, START_INPUT_FIELDS)?;
    let fields = Fields::new(input, &input_path);
    let prefix = fields.required("ObjectPrefix")?;
    let object_prefix = prefix.trim_start_matches('/').to_owned();
    let notify = input
        .child("NotifyConfig")
        .filter(|n| !n.is_empty())
        .map(|n| parse_notify(n, &format!("{input_path}.NotifyConfig")))
        .transpose()?;
    let ext_filter = input
        .child("ExtFilter")
        .filter(|n| !n.is_empty())
        .map(|n| parse_ext_filter(n, &format!("{input_path}.ExtFilter")))
        .transpose()?;
    Ok(StartInput {
        object_prefix,
        queue_id: fields.str("QueueId").map(str::to_owned),
        notify,
        ext_filter,
    })
}

fn on_off(fields: &Fields<'_>, name: &str, default: bool) -> Result<bool, InvalidInput> {
    Ok(fields
        .one_of(name, &["On", "Off"])?
        .map_or(default, |v| v == "On"))
}

/// Parses a `NotifyConfig` element found at `path` (e.g. `Request.NotifyConfig`).
pub fn parse_notify_config(notify: &XmlElement, path: &str) -> Result<NotifyConfig, InvalidInput> {
    parse_notify(notify, path)
}

fn parse_notify(notify: &XmlElement, path: &str) -> Result<NotifyConfig, InvalidInput> {
    let f = Fields::new(notify, path);
    let url = f.str("Url").unwrap_or_default().to_owned();
    if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
        return Err(InvalidInput::rule(
            format!("{path}.Url"),
            "must be an http:// or https:// URL",
        ));
    }
    let events = f
        .str("Event")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect();
    let format = match f.one_of("ResultFormat", &["XML", "JSON"])? {
        Some("JSON") => ResultFormat::Json,
        _ => ResultFormat::Xml,
    };
    f.one_of("Type", &["Url", "TDMQ", "Kafka"])?
        .filter(|t| *t != "Url")
        .map_or(Ok(()), |t| {
            Err(InvalidInput::rule(
                format!("{path}.Type"),
                format!("callback type {t} is not supported (supported: Url)"),
            ))
        })?;
    Ok(NotifyConfig {
        url,
        events,
        format,
        enabled: on_off(&f, "State", true)?,
    })
}

fn parse_ext_filter(filter: &XmlElement, path: &str) -> Result<ExtFilter, InvalidInput> {
    let f = Fields::new(filter, path);
    let custom = f.bool("Custom")?.unwrap_or(false);
    let custom_exts: Vec<String> = if custom {
        f.required("CustomExts")?
            .split('/')
            .map(|e| e.trim().trim_start_matches('.').to_ascii_lowercase())
            .filter(|e| !e.is_empty())
            .collect()
    } else {
        Vec::new()
    };
    if custom_exts.len() > 10 {
        return Err(InvalidInput::rule(
            format!("{path}.CustomExts"),
            "at most 10 extensions",
        ));
    }
    Ok(ExtFilter {
        enabled: on_off(&f, "State", false)?,
        video: f.bool("Video")?.unwrap_or(false),
        audio: f.bool("Audio")?.unwrap_or(false),
        image: f.bool("Image")?.unwrap_or(false),
        content_type: f.bool("ContentType")?.unwrap_or(false),
        custom_exts,
        all_file: f.bool("AllFile")?.unwrap_or(false),
    })
}

//! MediaInfo nodes: the input's ffprobe report, stored on the task in CI's `MediaInfo` shape.
//!
//! [`media_info_xml`] is the one builder of that document: the API's synchronous
//! `GET /<key>?ci-process=videoinfo` answers with it too.

use std::path::Path;

use reelflow_media::{MediaReport, MediaSource, ProbeSection, RunControl};
use reelflow_model::XmlElement;

use super::NodeRun;
use crate::execute::Failure;

pub(super) async fn run(input: &Path, ctl: &RunControl) -> Result<NodeRun, Failure> {
    let source = MediaSource::File(input.to_path_buf());
    let report = reelflow_media::probe_report(&source, ctl).await?;
    Ok(NodeRun {
        produced: Vec::new(),
        result: media_info_xml(&report).to_xml(),
    })
}

/// CI's `MediaInfo{Stream{Video*, Audio*, Subtitle*}, Format}` (api-reference-2.md §5), every
/// value the text ffprobe printed: durations and times as `10.125000`, rates as `24/1`,
/// bit rates in kbit/s as `1014.950000`. Unknown values are empty; languages default to
/// `und` and colour properties to `unknown`, as CI prints them. Without subtitle streams
/// the document has one empty `<Subtitle/>`, as in CI's examples.
pub fn media_info_xml(report: &MediaReport) -> XmlElement {
    let mut stream = XmlElement::new("Stream");
    let of_type = |kind: &'static str| {
        report
            .info
            .streams
            .iter()
            .zip(&report.streams)
            .filter(move |(info, _)| info.codec_type == kind)
            .map(|(_, raw)| raw)
    };
    for raw in of_type("video") {
        stream.push(video(raw));
    }
    for raw in of_type("audio") {
        stream.push(audio(raw));
    }
    let mut subtitles = of_type("subtitle").peekable();
    if subtitles.peek().is_none() {
        stream.push(XmlElement::new("Subtitle"));
    }
    for raw in subtitles {
        stream.push(
            XmlElement::new("Subtitle")
                .with_leaf("Index", text(raw, "index"))
                .with_leaf("Language", language(raw)),
        );
    }
    XmlElement::new("MediaInfo")
        .with(stream)
        .with(format(&report.format))
}

fn format(raw: &ProbeSection) -> XmlElement {
    XmlElement::new("Format")
        .with_leaf("NumStream", text(raw, "nb_streams"))
        .with_leaf("NumProgram", text(raw, "nb_programs"))
        .with_leaf("FormatName", text(raw, "format_name"))
        .with_leaf("FormatLongName", text(raw, "format_long_name"))
        .with_leaf("StartTime", text(raw, "start_time"))
        .with_leaf("Duration", text(raw, "duration"))
        .with_leaf("Bitrate", kbps(raw))
        .with_leaf("Size", text(raw, "size"))
}

fn video(raw: &ProbeSection) -> XmlElement {
    XmlElement::new("Video")
        .with_leaf("Index", text(raw, "index"))
        .with_leaf("CodecName", text(raw, "codec_name"))
        .with_leaf("CodecLongName", text(raw, "codec_long_name"))
        .with_leaf("CodecTimeBase", codec_time_base(raw))
        .with_leaf("CodecTagString", text(raw, "codec_tag_string"))
        .with_leaf("CodecTag", text(raw, "codec_tag"))
        .with_leaf("ColorPrimaries", or_unknown(raw, "color_primaries"))
        .with_leaf("ColorRange", or_unknown(raw, "color_range"))
        .with_leaf("ColorTransfer", or_unknown(raw, "color_transfer"))
        .with_leaf("Profile", text(raw, "profile"))
        .with_leaf("Width", text(raw, "width"))
        .with_leaf("Height", text(raw, "height"))
        .with_leaf("HasBFrame", text(raw, "has_b_frames"))
        .with_leaf("RefFrames", text(raw, "refs"))
        .with_leaf("Sar", text(raw, "sample_aspect_ratio"))
        .with_leaf("Dar", text(raw, "display_aspect_ratio"))
        .with_leaf("PixFormat", text(raw, "pix_fmt"))
        .with_leaf("FieldOrder", text(raw, "field_order"))
        .with_leaf("Level", text(raw, "level"))
        .with_leaf("Fps", fps(raw))
        .with_leaf("AvgFps", text(raw, "avg_frame_rate"))
        .with_leaf("Timebase", text(raw, "time_base"))
        .with_leaf("StartTime", text(raw, "start_time"))
        .with_leaf("Duration", duration(raw))
        .with_leaf("Bitrate", kbps(raw))
        .with_leaf("NumFrames", text(raw, "nb_frames"))
        .with_leaf("Language", language(raw))
        .with_leaf("Rotation", raw.rotation().unwrap_or_else(|| "0".into()))
}

fn audio(raw: &ProbeSection) -> XmlElement {
    XmlElement::new("Audio")
        .with_leaf("Index", text(raw, "index"))
        .with_leaf("CodecName", text(raw, "codec_name"))
        .with_leaf("CodecLongName", text(raw, "codec_long_name"))
        .with_leaf("CodecTimeBase", codec_time_base(raw))
        .with_leaf("CodecTagString", text(raw, "codec_tag_string"))
        .with_leaf("CodecTag", text(raw, "codec_tag"))
        .with_leaf("SampleFmt", text(raw, "sample_fmt"))
        .with_leaf("SampleRate", text(raw, "sample_rate"))
        .with_leaf("Channel", text(raw, "channels"))
        .with_leaf("ChannelLayout", text(raw, "channel_layout"))
        .with_leaf("Timebase", text(raw, "time_base"))
        .with_leaf("StartTime", text(raw, "start_time"))
        .with_leaf("Duration", duration(raw))
        .with_leaf("Bitrate", kbps(raw))
        .with_leaf("Language", language(raw))
}

fn text(raw: &ProbeSection, field: &str) -> String {
    raw.text(field).unwrap_or_default()
}

fn or_unknown(raw: &ProbeSection, field: &str) -> String {
    raw.text(field).unwrap_or_else(|| "unknown".into())
}

fn language(raw: &ProbeSection) -> String {
    raw.tag("language").unwrap_or_else(|| "und".into())
}

/// ffprobe ≥ 5 no longer prints `codec_time_base`; CI shows the stream time base there.
fn codec_time_base(raw: &ProbeSection) -> String {
    raw.text("codec_time_base")
        .filter(|t| t != "0/0")
        .unwrap_or_else(|| text(raw, "time_base"))
}

/// The stream duration; Matroska keeps it only in a `DURATION` tag (`00:00:02.000000000`).
fn duration(raw: &ProbeSection) -> String {
    raw.text("duration")
        .or_else(|| raw.tag("duration").and_then(|t| clock_secs(&t)))
        .unwrap_or_default()
}

fn clock_secs(clock: &str) -> Option<String> {
    let mut parts = clock.trim().split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    let secs =
        h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?;
    (parts.next().is_none() && secs.is_finite()).then(|| format!("{secs:.6}"))
}

/// `bit_rate` (bit/s) in kbit/s with six decimals, as CI prints it.
fn kbps(raw: &ProbeSection) -> String {
    raw.text("bit_rate")
        .and_then(|b| b.parse::<f64>().ok())
        .map(|b| format!("{:.6}", b / 1000.0))
        .unwrap_or_default()
}

/// `r_frame_rate` as a decimal with six places (`24.500000`), as CI prints `Fps`.
fn fps(raw: &ProbeSection) -> String {
    let rate = raw.text("r_frame_rate").and_then(|r| {
        let (num, den) = r.split_once('/')?;
        let value = num.parse::<f64>().ok()? / den.parse::<f64>().ok()?;
        (value.is_finite() && value > 0.0).then_some(value)
    });
    rate.map(|r| format!("{r:.6}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(json: &str) -> MediaReport {
        reelflow_media::parse_report_json(json.as_bytes()).unwrap()
    }

    #[test]
    fn shape_and_ffprobe_text() {
        let doc = media_info_xml(&report(
            r#"{"format":{"nb_streams":2,"nb_programs":0,"format_name":"mov,mp4,m4a,3gp,3g2,mj2",
                "format_long_name":"QuickTime / MOV","start_time":"0.000000","duration":"10.125000",
                "size":"1284547","bit_rate":"1014950"},
               "streams":[
                {"index":0,"codec_type":"video","codec_name":"h264","codec_tag":"0x31637661",
                 "width":966,"height":1280,"r_frame_rate":"49/2","avg_frame_rate":"24/1",
                 "time_base":"1/12288","bit_rate":"938164","tags":{"language":"eng"}},
                {"index":1,"codec_type":"audio","codec_name":"aac","sample_rate":"44100",
                 "channels":1,"channel_layout":"mono","time_base":"1/44100"}]}"#,
        ));
        let names: Vec<&str> = doc.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Stream", "Format"]);
        let format = doc.child("Format").unwrap();
        assert_eq!(format.text_of("Bitrate"), Some("1014.950000"));
        assert_eq!(format.text_of("Duration"), Some("10.125000"));
        assert_eq!(format.text_of("NumStream"), Some("2"));
        assert_eq!(format.text_of("NumProgram"), Some("0"));
        let stream = doc.child("Stream").unwrap();
        let kinds: Vec<&str> = stream.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(kinds, ["Video", "Audio", "Subtitle"]);
        let video = stream.child("Video").unwrap();
        assert_eq!(video.text_of("Fps"), Some("24.500000"));
        assert_eq!(video.text_of("AvgFps"), Some("24/1"));
        assert_eq!(video.text_of("CodecTimeBase"), Some("1/12288"));
        assert_eq!(video.text_of("Bitrate"), Some("938.164000"));
        assert_eq!(video.text_of("Language"), Some("eng"));
        assert_eq!(video.text_of("ColorRange"), Some("unknown"));
        assert_eq!(video.text_of("Rotation"), Some("0"));
        let audio = stream.child("Audio").unwrap();
        assert_eq!(audio.text_of("Channel"), Some("1"));
        assert_eq!(audio.text_of("SampleRate"), Some("44100"));
        assert_eq!(audio.text_of("Language"), Some("und"));
        assert!(stream.child("Subtitle").unwrap().children.is_empty());
    }

    #[test]
    fn subtitles_and_matroska_durations() {
        let doc = media_info_xml(&report(
            r#"{"format":{"format_name":"matroska,webm"},"streams":[
                {"index":0,"codec_type":"video","tags":{"DURATION":"00:00:02.500000000"}},
                {"index":2,"codec_type":"subtitle","tags":{"language":"chi"}}]}"#,
        ));
        let stream = doc.child("Stream").unwrap();
        assert_eq!(
            stream.child("Video").unwrap().text_of("Duration"),
            Some("2.500000")
        );
        let subtitle = stream.child("Subtitle").unwrap();
        assert_eq!(subtitle.text_of("Index"), Some("2"));
        assert_eq!(subtitle.text_of("Language"), Some("chi"));
    }
}

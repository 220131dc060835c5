use super::*;
use crate::ids::is_template_id;

fn request(body: &str) -> XmlElement {
    XmlElement::parse(body.as_bytes()).unwrap()
}

fn err(body: &str) -> String {
    TemplateSpec::from_request(&request(body))
        .unwrap_err()
        .to_string()
}

const TC: &str = "<Tag>Transcode</Tag><Name>x</Name><Container><Format>mp4</Format></Container>";

#[test]
fn transcode_template_parses_and_keeps_containers() {
    let spec = TemplateSpec::from_request(&request(
        "<Request><Tag>Transcode</Tag><Name>t-1</Name><Container><Format>MP4</Format></Container>\
         <Video><Codec>H.264</Codec><Width>1280</Width><Crf>23</Crf><Crop>640:360:0:0</Crop></Video>\
         <Audio><Codec>aac</Codec><Samplerate>44100</Samplerate></Audio>\
         <TransConfig><IsCheckReso>true</IsCheckReso><ResoAdjMethod>1</ResoAdjMethod></TransConfig></Request>",
    ))
    .unwrap();
    assert_eq!(spec.tag, TemplateTag::Transcode);
    assert_eq!(spec.params.name, "TransTpl");
    let params = TranscodeParams::from_container(&spec.params).unwrap();
    assert_eq!(params.container, "mp4");
    let video = params.video.unwrap();
    assert_eq!(
        (video.width, video.crop),
        (Some(1280), Some((640, 360, 0, 0)))
    );
    assert_eq!(params.audio.unwrap().samplerate, Some(44100));
    assert!(params.trans_config.is_check_reso && params.trans_config.reso_fail);
}

#[test]
fn one_range_violation_per_numeric_family() {
    for (body, needle) in [
        (
            "<Video><Width>127</Width></Video>",
            "Request.Video.Width: must be between 128 and 4096",
        ),
        (
            "<Video><Width>641</Width></Video>",
            "Request.Video.Width: must be an even number",
        ),
        ("<Video><Fps>61</Fps></Video>", "Request.Video.Fps"),
        ("<Video><Crf>52</Crf></Video>", "Request.Video.Crf"),
        ("<Video><Gop>0</Gop></Video>", "Request.Video.Gop"),
        (
            "<Video><Bitrate>9</Bitrate></Video>",
            "Request.Video.Bitrate",
        ),
        (
            "<Video><Bufsize>999</Bufsize></Video>",
            "Request.Video.Bufsize",
        ),
        (
            "<Video><Rotate>360</Rotate></Video>",
            "Request.Video.Rotate",
        ),
        (
            "<Audio><Bitrate>1001</Bitrate></Audio>",
            "Request.Audio.Bitrate",
        ),
        (
            "<Audio><Samplerate>12345</Samplerate></Audio>",
            "Request.Audio.Samplerate",
        ),
        (
            "<Audio><Codec>mp3</Codec><Channels>6</Channels></Audio>",
            "Request.Audio.Channels",
        ),
        (
            "<TimeInterval><Start>-1</Start></TimeInterval>",
            "Request.TimeInterval.Start",
        ),
        (
            "<Video><Codec>VP9</Codec></Video>",
            "VP9 cannot be stored in a mp4 container",
        ),
        (
            "<Video><Bogus>1</Bogus></Video>",
            "Request.Video.Bogus: is not a known element",
        ),
        ("<Surprise>1</Surprise>", "Request.Surprise"),
    ] {
        let msg = err(&format!("<Request>{TC}{body}</Request>"));
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    assert!(err("<Request><Tag>Transcode</Tag><Name>x</Name><Container><Format>avi2</Format></Container></Request>").contains("Request.Container.Format"));
    assert!(err("<Request><Tag>Snapshot</Tag><Name>s</Name><Snapshot><Count>0</Count></Snapshot></Request>").contains("Request.Snapshot.Count"));
    // Fields of a container are named under it, as the client wrote them.
    assert!(err("<Request><Tag>Snapshot</Tag><Name>s</Name><Snapshot><Mode>Interval</Mode><Foo>1</Foo></Snapshot></Request>").contains("Request.Snapshot.Foo: is not a known element"));
    assert!(err("<Request><Tag>Snapshot</Tag><Name>s</Name><Snapshot><Width>96</Width></Snapshot></Request>").contains("Request.Snapshot.Width"));
    assert!(err("<Request><Tag>SmartCover</Tag><Name>s</Name><SmartCover><Count>11</Count></SmartCover></Request>").contains("Count"));
    assert!(err("<Request><Tag>Watermark</Tag><Name>w</Name><Watermark><Type>Text</Type><Text><Text>hi</Text><FontSize>101</FontSize></Text></Watermark></Request>").contains("FontSize"));
    assert!(err("<Request><Tag>Animation</Tag><Name>a</Name><Container><Format>gif</Format></Container><Video><Codec>gif</Codec><Fps>0</Fps></Video></Request>").contains("Fps"));
}

#[test]
fn every_tag_round_trips() {
    let bodies = [
        ("Transcode", "TransTpl", format!("<Request>{TC}</Request>")),
        ("HighSpeedHd", "TransTpl", "<Request><Tag>HighSpeedHd</Tag><Name>h</Name><Container><Format>mp4</Format></Container><Video><Codec>H.265</Codec></Video></Request>".to_owned()),
        ("Snapshot", "Snapshot", "<Request><Tag>Snapshot</Tag><Name>s</Name><Snapshot><Mode>Average</Mode><Count>4</Count><Width>320</Width><CIParam>imageMogr2/format/png</CIParam><SnapshotOutMode>SnapshotAndSprite</SnapshotOutMode><SpriteSnapshotConfig><Color>black</Color><Columns>2</Columns><Lines>2</Lines></SpriteSnapshotConfig></Snapshot></Request>".to_owned()),
        ("Animation", "TransTpl", "<Request><Tag>Animation</Tag><Name>a</Name><Container><Format>webp</Format></Container><Video><Codec>webp</Codec><Width>320</Width><Quality>80</Quality></Video></Request>".to_owned()),
        ("Concat", "ConcatTemplate", "<Request><Tag>Concat</Tag><Name>c</Name><ConcatTemplate><ConcatFragment><Url>http://b.cos.x.myqcloud.com/intro.mp4</Url><Mode>Start</Mode></ConcatFragment><Container><Format>mp4</Format></Container><DirectConcat>true</DirectConcat></ConcatTemplate></Request>".to_owned()),
        ("SmartCover", "SmartCover", "<Request><Tag>SmartCover</Tag><Name>sc</Name><SmartCover><Format>png</Format><Count>2</Count></SmartCover></Request>".to_owned()),
        ("Watermark", "Watermark", "<Request><Tag>Watermark</Tag><Name>w</Name><Watermark><Type>Text</Type><Pos>TopLeft</Pos><LocMode>Absolute</LocMode><Dx>10</Dx><Dy>10</Dy><Text><Text>reelflow</Text><FontSize>24</FontSize><FontColor>0xFF0000</FontColor><Transparency>80</Transparency></Text></Watermark></Request>".to_owned()),
        ("PicProcess", "PicProcess", "<Request><Tag>PicProcess</Tag><Name>p</Name><PicProcess><ProcessRule>imageMogr2/thumbnail/320x</ProcessRule></PicProcess></Request>".to_owned()),
    ];
    for (tag, container, body) in bodies {
        let spec =
            TemplateSpec::from_request(&request(&body)).unwrap_or_else(|e| panic!("{tag}: {e}"));
        assert_eq!(spec.tag.as_str(), tag);
        assert_eq!(spec.params.name, container);
        // Echo → request again is stable.
        let echoed = XmlElement::new("Request")
            .with_leaf("Tag", tag)
            .with_leaf("Name", "n")
            .with(spec.params.clone());
        let again = TemplateSpec::from_request(&echoed).unwrap();
        assert_eq!(again.params, spec.params, "{tag}");
    }
    let concat = ConcatParams::from_container(&TemplateSpec::from_request(&request("<Request><Tag>Concat</Tag><Name>c</Name><ConcatTemplate><ConcatFragment><Url>http://b.cos.x.myqcloud.com/dir/intro.mp4</Url><Mode>Start</Mode></ConcatFragment><Container><Format>mp4</Format></Container></ConcatTemplate></Request>")).unwrap().params).unwrap();
    assert_eq!(concat.fragments[0].object_key(), "dir/intro.mp4");
}

#[test]
fn unknown_tag_is_refused_by_name() {
    assert!(err("<Request><Tag>Teleport</Tag><Name>x</Name></Request>").contains("Teleport"));
}

#[test]
fn official_templates_are_valid_and_fixed() {
    let all = official_templates();
    assert!(all.len() >= 7);
    for t in &all {
        assert!(is_template_id(&t.id) && t.id.starts_with("t0"), "{}", t.id);
        assert_eq!(t.category, TemplateCategory::Official);
    }
}

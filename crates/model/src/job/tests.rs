use super::*;
use crate::workflow::{Operation, Topology};

fn parse(xml: &str) -> Result<Vec<JobRequest>, JobRequestError> {
    parse_jobs(&XmlElement::parse(xml.as_bytes()).unwrap())
}

fn one(xml: &str) -> JobRequest {
    let mut jobs = parse(xml).unwrap();
    assert_eq!(jobs.len(), 1);
    jobs.remove(0)
}

/// The job's node Operation after the topology round trip the engine makes.
fn node_op(job: &JobRequest) -> Operation {
    let topology = Topology::parse(&job_topology(job)).unwrap();
    crate::topology::check_structure(&topology).unwrap();
    topology
        .node(job.node_type.as_str())
        .unwrap()
        .operation
        .clone()
}

fn err(xml: &str) -> (String, String) {
    let e = parse(xml).unwrap_err();
    (e.code().to_owned(), e.to_string())
}

const OUT: &str = "<Output><Region>r</Region><Bucket>b</Bucket><Object>o.mp4</Object></Output>";
const INLINE: &str = "<Transcode><Container><Format>mp4</Format></Container></Transcode>";

fn transcode(op: &str) -> String {
    format!(
        "<Request><Tag>Transcode</Tag><Input><Object>a.mp4</Object></Input><Operation>{op}{OUT}</Operation></Request>"
    )
}

#[test]
fn single_job_with_inline_parameters_becomes_a_valid_topology() {
    let job = one(
        "<Request><Tag>Transcode</Tag><Input><Object>in/a.mp4</Object></Input><Operation><Transcode><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Width>320</Width></Video></Transcode><Output><Region>r</Region><Bucket>b</Bucket><Object>o.mp4</Object></Output><UserData>u</UserData></Operation><CallBack>http://127.0.0.1/cb</CallBack><CallBackFormat>JSON</CallBackFormat></Request>",
    );
    assert_eq!(job.input, JobInput::Object("in/a.mp4".into()));
    assert_eq!(job.queue_id, None, "QueueId is optional");
    let op = node_op(&job);
    assert!(op.inline_template.is_some());
    assert_eq!(op.user_data.as_deref(), Some("u"));
    let topology = Topology::parse(&job_topology(&job)).unwrap();
    let notify = topology.start().unwrap().notify.clone().unwrap();
    assert_eq!(notify.url, "http://127.0.0.1/cb");
    assert_eq!(notify.format, crate::workflow::ResultFormat::Json);
}

#[test]
fn several_operations_and_errors() {
    let jobs = parse("<Request><Input><Object>a.mp4</Object></Input><Operation><Tag>Snapshot</Tag><TemplateId>t1</TemplateId><Output><Bucket>b</Bucket><Object>s-${Number}.jpg</Object></Output></Operation><Operation><Tag>MediaInfo</Tag></Operation></Request>").unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.tag.as_str()).collect::<Vec<_>>(),
        ["Snapshot", "MediaInfo"]
    );
    let msg = |x: &str| err(x).1;
    assert!(msg("<Request><Tag>Transcode</Tag><Operation/></Request>").contains("Request.Input"));
    assert!(
        msg(&transcode(
            "<Transcode><Container><Format>nope</Format></Container></Transcode>"
        ))
        .contains("Request.Container.Format")
    );
    assert!(msg("<Request><Tag>Transcode</Tag><Input><Object>a</Object></Input><Operation/><CallBack>ftp://x</CallBack></Request>").contains("CallBack"));
    assert!(msg("<Request><Tag>Transcode</Tag><Input><Object>a</Object></Input><Operation/><Bogus/></Request>").contains("Request.Bogus"));
    assert!(
        msg(&transcode(&format!("{INLINE}<Bogus>1</Bogus>"))).contains("Request.Operation.Bogus")
    );
}

#[test]
fn unknown_tags_are_invalid_and_documented_ones_not_implemented() {
    let (code, msg) =
        err("<Request><Tag>Teleport</Tag><Input><Object>a</Object></Input><Operation/></Request>");
    assert_eq!(code, "InvalidArgument");
    assert!(
        msg.contains("Teleport") && msg.contains("supported: Transcode"),
        "{msg}"
    );
    for tag in [
        "VoiceSeparate",
        "SDRtoHDR",
        "DigitalWatermark",
        "QualityEstimate",
    ] {
        let (code, msg) = err(&format!(
            "<Request><Tag>{tag}</Tag><Input><Object>a</Object></Input><Operation/></Request>"
        ));
        assert_eq!(code, "NotImplemented", "{tag}: {msg}");
        assert!(msg.contains(tag), "{msg}");
    }
    let (code, msg) = err(&transcode(&format!(
        "{INLINE}<DigitalWatermark><Type>Text</Type><Message>m</Message><Version>V1</Version></DigitalWatermark>"
    )));
    assert_eq!(
        (code.as_str(), msg.contains("DigitalWatermark")),
        ("NotImplemented", true)
    );
    let aigc = err(&format!(
        "<Request><Tag>Segment</Tag><Input><Object>a</Object></Input><Operation><Segment><Format>mp4</Format><AIGCMetadata><Label>l</Label></AIGCMetadata></Segment>{OUT}</Operation></Request>"
    ));
    assert_eq!(aigc.0, "NotImplemented", "{}", aigc.1);
    assert!(aigc.1.contains("Segment.AIGCMetadata"), "{}", aigc.1);
    let live = err(
        "<Request><Tag>Transcode</Tag><Input><Url>http://h/l.m3u8</Url><SourceType>LiveStream</SourceType></Input><Operation/></Request>",
    );
    assert_eq!(live.0, "NotImplemented");
}

#[test]
fn media_info_needs_no_operation() {
    let job =
        one("<Request><Input><Object>demo.mp4</Object></Input><Tag>MediaInfo</Tag></Request>");
    assert_eq!(job.node_type, NodeType::MediaInfo);
    assert!(job.operation.children.is_empty());
    node_op(&job);
    let (code, msg) =
        err("<Request><Input><Object>a.mp4</Object></Input><Tag>Transcode</Tag></Request>");
    assert_eq!(code, "InvalidArgument");
    assert!(msg.contains("Request.Operation"), "{msg}");
}

#[test]
fn url_inputs_travel_in_the_node_operation() {
    let job = one(&format!(
        "<Request><Tag>Transcode</Tag><Input><Url>http://127.0.0.1:8000/media/clip.mp4?sig=1</Url></Input><Operation>{INLINE}{OUT}</Operation></Request>"
    ));
    assert_eq!(job.input.key(), "media/clip.mp4");
    let op = node_op(&job);
    assert_eq!(
        op.input_url.as_deref(),
        Some("http://127.0.0.1:8000/media/clip.mp4?sig=1")
    );
    let (code, _) =
        err("<Request><Tag>MediaInfo</Tag><Input><Url>gopher://h/a</Url></Input></Request>");
    assert_eq!(code, "InvalidArgument");
}

#[test]
fn concat_jobs_may_have_only_fragments() {
    let frag = |i: u32, key: &str| {
        format!(
            "<ConcatFragment><Url>http://b-1.cos.r.myqcloud.com/{key}</Url><FragmentIndex>{i}</FragmentIndex></ConcatFragment>"
        )
    };
    let job = one(&format!(
        "<Request><Tag>Concat</Tag><Operation><ConcatTemplate>{}{}<Container><Format>mp4</Format></Container><SceneChangeInfo><Mode>Default</Mode><Time>3</Time></SceneChangeInfo><DirectConcat>false</DirectConcat></ConcatTemplate>{OUT}</Operation></Request>",
        frag(1, "2.mp4"),
        frag(0, "1.mp4")
    ));
    assert_eq!(job.input, JobInput::None);
    assert_eq!(job.input.key(), "");
    let spec = node_op(&job).inline_template.unwrap();
    let params = crate::template::ConcatParams::from_container(&spec.params).unwrap();
    let keys: Vec<String> = params.fragments.iter().map(|f| f.object_key()).collect();
    assert_eq!(keys, ["1.mp4", "2.mp4"], "ordered by FragmentIndex");
    assert!(params.fragments.iter().all(|f| !f.at_start));
    let (_, msg) = err(&format!(
        "<Request><Tag>Concat</Tag><Operation><ConcatTemplate><Container><Format>mp4</Format></Container></ConcatTemplate>{OUT}</Operation></Request>"
    ));
    assert!(msg.contains("at least one fragment"), "{msg}");
    let (_, msg) = err(&format!(
        "<Request><Tag>Transcode</Tag><Operation>{INLINE}{OUT}</Operation></Request>"
    ));
    assert!(msg.contains("Request.Input"), "{msg}");
}

const TEXT_WM: &str = "<Watermark><Type>Text</Type><Pos>TopRight</Pos><LocMode>Absolute</LocMode><Dx>64</Dx><Dy>64</Dy><StartTime>0</StartTime><EndTime>1000.5</EndTime><Text><Text>水印内容</Text><FontSize>90</FontSize><FontType>simfang.ttf</FontType><FontColor>0xFFEEFF</FontColor><Transparency>100</Transparency></Text></Watermark>";
const IMAGE_WM: &str = "<Watermark><Type>Image</Type><Pos>TopLeft</Pos><LocMode>Absolute</LocMode><Dx>100</Dx><Dy>100</Dy><Image><Url>http://b.cos.r.myqcloud.com/watermark.png</Url><Mode>Fixed</Mode><Width>128</Width><Height>128</Height><Transparency>100</Transparency></Image></Watermark>";

#[test]
fn inline_watermarks_unless_a_watermark_template_wins() {
    let op = node_op(&one(&transcode(&format!(
        "<TemplateId>t1</TemplateId>{TEXT_WM}{IMAGE_WM}"
    ))));
    assert_eq!(op.watermarks.len(), 2);
    assert!(op.watermark_template_ids.is_empty());
    let op = node_op(&one(&transcode(&format!(
        "{INLINE}<WatermarkTemplateId>t1w</WatermarkTemplateId>{TEXT_WM}"
    ))));
    assert_eq!(op.watermark_template_ids, ["t1w"]);
    assert!(op.watermarks.is_empty(), "WatermarkTemplateId wins");
    let empty_ids = node_op(&one(&transcode(&format!(
        "{INLINE}<WatermarkTemplateId></WatermarkTemplateId><WatermarkTemplateId/>{TEXT_WM}"
    ))));
    assert_eq!(
        empty_ids.watermarks.len(),
        1,
        "empty template ids do not win"
    );
    let four = format!("{INLINE}{TEXT_WM}{TEXT_WM}{TEXT_WM}{TEXT_WM}");
    assert!(err(&transcode(&four)).1.contains("at most 3"));
    let bad = TEXT_WM.replace("0xFFEEFF", "red");
    assert!(
        err(&transcode(&format!("{INLINE}{bad}")))
            .1
            .contains("FontColor")
    );
    let snapshot = "<Request><Tag>Snapshot</Tag><Input><Object>a</Object></Input><Operation><TemplateId>t</TemplateId>";
    let (code, msg) = err(&format!("{snapshot}{TEXT_WM}{OUT}</Operation></Request>"));
    assert_eq!(code, "InvalidArgument");
    assert!(msg.contains("Watermark"), "{msg}");
}

#[test]
fn remove_watermark_region() {
    let op = node_op(&one(&transcode(&format!(
        "{INLINE}<RemoveWatermark><Dx>10</Dx><Dy>20</Dy><Width>64</Width><Height>32</Height></RemoveWatermark>"
    ))));
    let r = op.remove_watermark.unwrap();
    assert_eq!((r.dx, r.dy, r.width, r.height), (10, 20, 64, 32));
    let (code, msg) = err(&transcode(&format!(
        "{INLINE}<RemoveWatermark><Dx>0</Dx><Dy>20</Dy><Width>64</Width><Height>32</Height></RemoveWatermark>"
    )));
    assert_eq!(code, "InvalidArgument");
    assert!(msg.contains("RemoveWatermark.Dx"), "{msg}");
    let (_, msg) = err(&transcode(&format!(
        "{INLINE}<RemoveWatermark><Dx>1</Dx></RemoveWatermark>"
    )));
    assert!(msg.contains("RemoveWatermark.Dy: is required"), "{msg}");
}

#[test]
fn template_id_wins_over_inline_transcode() {
    let job = one(&transcode(&format!("<TemplateId>t1x</TemplateId>{INLINE}")));
    let op = node_op(&job);
    assert_eq!(op.template_id.as_deref(), Some("t1x"));
    assert!(op.inline_template.is_none());
}

#[test]
fn free_transcode_job_level_and_user_data() {
    let op = node_op(&one(&transcode(&format!(
        "{INLINE}<FreeTranscode>true</FreeTranscode><JobLevel>2</JobLevel><UserData>This is my data</UserData>"
    ))));
    assert_eq!(op.job_level.as_deref(), Some("2"));
    assert_eq!(op.user_data.as_deref(), Some("This is my data"));
    let job = one(&transcode(&format!(
        "{INLINE}<FreeTranscode>false</FreeTranscode>"
    )));
    assert!(
        job.operation.child("FreeTranscode").is_none(),
        "accepted and ignored"
    );
    assert!(
        err(&transcode(&format!(
            "{INLINE}<FreeTranscode>maybe</FreeTranscode>"
        )))
        .1
        .contains("FreeTranscode")
    );
    assert!(
        err(&transcode(&format!("{INLINE}<JobLevel>3</JobLevel>")))
            .1
            .contains("JobLevel")
    );
    let long = "x".repeat(1025);
    assert!(
        err(&transcode(&format!("{INLINE}<UserData>{long}</UserData>")))
            .1
            .contains("UserData")
    );
    let ok = "~".repeat(1024);
    node_op(&one(&transcode(&format!(
        "{INLINE}<UserData>{ok}</UserData>"
    ))));
    let (code, msg) = err(&transcode(&format!("{INLINE}<UserData>数据</UserData>")));
    assert_eq!(code, "InvalidArgument");
    assert!(msg.contains("printable ASCII"), "{msg}");
}

#[test]
fn callbacks_can_be_switched_off() {
    let with = |cb: &str| {
        format!("<Request><Tag>MediaInfo</Tag><Input><Object>a</Object></Input>{cb}</Request>")
    };
    assert_eq!(one(&with("")).callback, JobCallback::Queue);
    let off = one(&with("<CallBack>no</CallBack>"));
    assert_eq!(off.callback, JobCallback::Off);
    let topology = Topology::parse(&job_topology(&off)).unwrap();
    assert!(topology.start().unwrap().notify.is_none());
    let tdmq = err(&with(
        "<CallBack>http://h/cb</CallBack><CallBackType>TDMQ</CallBackType>",
    ));
    assert_eq!(tdmq.0, "NotImplemented");
    assert!(matches!(
        one(&with("<CallBack>https://h/cb</CallBack>")).callback,
        JobCallback::Notify(_)
    ));
}

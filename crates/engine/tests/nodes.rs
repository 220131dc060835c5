//! Every node type through one workflow run, outputs checked with ffprobe.

mod common;

use std::path::PathBuf;

use common::*;
use reelflow_model::execution::RunState;
use reelflow_objects::BlobStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_type_produces_what_it_promises() {
    let h = harness().await;
    let hls_low = h.template("<Request><Tag>Transcode</Tag><Name>low</Name><Container><Format>hls</Format><ClipConfig><Duration>1</Duration></ClipConfig></Container><Video><Codec>H.264</Codec><Height>128</Height></Video><Audio><Codec>aac</Codec><Bitrate>64</Bitrate></Audio></Request>").await;
    let hls_high = h.template("<Request><Tag>Transcode</Tag><Name>high</Name><Container><Format>hls</Format><ClipConfig><Duration>1</Duration></ClipConfig></Container><Video><Codec>H.264</Codec><Height>240</Height></Video><Audio><Codec>aac</Codec></Audio></Request>").await;
    let snap = h.template("<Request><Tag>Snapshot</Tag><Name>one</Name><Snapshot><Start>1</Start><Count>1</Count><CIParam>imageMogr2/thumbnail/200x</CIParam></Snapshot></Request>").await;
    let pic = h.template("<Request><Tag>PicProcess</Tag><Name>thumb</Name><PicProcess><ProcessRule>imageMogr2/thumbnail/128x/format/png</ProcessRule></PicProcess></Request>").await;
    let gif = h.template("<Request><Tag>Animation</Tag><Name>gif</Name><Container><Format>gif</Format></Container><Video><Codec>gif</Codec><Width>128</Width><Fps>5</Fps></Video><TimeInterval><Start>0</Start><Duration>1</Duration></TimeInterval></Request>").await;
    let intro = h.dir.path().join("intro.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "smptebars=size=320x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine",
        "-t",
        "1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        intro.to_str().unwrap(),
    ]);
    h.upload("frag/intro.mp4", &intro).await; // outside the watched prefix: starts nothing
    let concat = h.template(&format!("<Request><Tag>Concat</Tag><Name>c</Name><ConcatTemplate><ConcatFragment><Url>http://{BUCKET}.cos.ap-guangzhou.myqcloud.com/frag/intro.mp4</Url><Mode>Start</Mode></ConcatFragment><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Width>320</Width><Height>240</Height></Video><Audio><Codec>aac</Codec></Audio></ConcatTemplate></Request>")).await;
    let nodes = [
        op("P", "StreamPackConfig", &out("abr/${InputName}.m3u8")),
        op("V1", "VideoStream", &format!("<TemplateId>{hls_low}</TemplateId>{}", out("abr/low/index.${Ext}"))),
        op("V2", "VideoStream", &format!("<TemplateId>{hls_high}</TemplateId>{}", out("abr/high/index.${Ext}"))),
        op("K", "StreamPack", "<StreamPackInfo><VideoStreamConfig><VideoStreamName>V1</VideoStreamName><BandWidth>300000</BandWidth></VideoStreamConfig><VideoStreamConfig><VideoStreamName>V2</VideoStreamName><BandWidth>0</BandWidth></VideoStreamConfig></StreamPackInfo>"),
        op("S", "Snapshot", &format!("<TemplateId>{snap}</TemplateId>{}", out("snap/s.jpg"))),
        op("X", "PicProcess", &format!("<TemplateId>{pic}</TemplateId>{}", out("snap/thumb.${Ext}"))),
        op("A", "Animation", &format!("<TemplateId>{gif}</TemplateId>{}", out("anim/a.${Ext}"))),
        op("G", "Segment", &format!("<Segment><Format>hls</Format><Duration>5</Duration></Segment>{}", out("seg/play.${Ext}"))),
        op("C", "Concat", &format!("<TemplateId>{concat}</TemplateId>{}", out("cat/c.${Ext}"))),
        op("R", "SmartCover", &format!("<SmartCover><Count>2</Count><Format>png</Format><Width>160</Width></SmartCover>{}", out("cover/c-${Number}.${Ext}"))),
        op("M", "MediaInfo", ""),
    ]
    .concat();
    h.workflow(
        "<Start>P,S,A,G,C,R,M</Start><P>V1,V2</P><V1>K</V1><V2>K</V2><K>End</K><S>X</S><X>End</X><A>End</A><G>End</G><C>End</C><R>End</R><M>End</M>",
        &nodes,
    )
    .await;
    let runs = h.upload("in/clip.mp4", &h.clip(3)).await;
    let (instance, tasks) = h.wait_run(&runs[0]).await;
    let failures: Vec<_> = tasks
        .iter()
        .filter(|t| t.code != "Success")
        .map(|t| (&t.node_name, &t.code, &t.message))
        .collect();
    assert_eq!(instance.state, RunState::Success, "{failures:?}");
    let local = |key: &str| -> PathBuf {
        let store = h.store.clone();
        let blobs = h.blobs.clone();
        let key = key.to_owned();
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async move {
                let record = store
                    .get_object(BUCKET, &key)
                    .await
                    .unwrap()
                    .unwrap_or_else(|| panic!("{key} missing"));
                blobs.local_path(&record.blob_id).unwrap()
            })
        })
    };
    let task = |name: &str| tasks.iter().find(|t| t.node_name == name).unwrap();

    // Adaptive HLS: the master lists both renditions with their bandwidths and resolvable URIs.
    let master = std::fs::read_to_string(local("abr/clip.m3u8")).unwrap();
    assert_eq!(master.matches("#EXT-X-STREAM-INF").count(), 2, "{master}");
    assert!(master.contains("BANDWIDTH=300000"), "{master}");
    assert!(
        master.contains("low/index.m3u8") && master.contains("high/index.m3u8"),
        "{master}"
    );
    assert!(
        task("V2").outputs.len() >= 3,
        "playlist plus segments: {:?}",
        task("V2").outputs
    );
    // (the playlist's blob has no segments beside it; probe a segment)
    let segment = task("V1")
        .outputs
        .iter()
        .find(|o| o.key.ends_with(".ts"))
        .unwrap();
    let low = probe(&local(&segment.key));
    let video = low["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == "video")
        .unwrap()
        .clone();
    assert_eq!(video["height"], 128);

    // Snapshot with a CIParam: the capture was processed (200 px wide).
    let snapshot = probe(&local("snap/s.jpg"));
    assert_eq!(snapshot["streams"][0]["width"], 200);

    // Snapshot → PicProcess: a png thumbnail 128 px wide from the snapshot.
    assert_eq!(task("X").input_key, "snap/s.jpg");
    let thumb = probe(&local("snap/thumb.png"));
    assert_eq!(
        (
            thumb["streams"][0]["codec_name"].as_str(),
            thumb["streams"][0]["width"].as_i64()
        ),
        (Some("png"), Some(128))
    );

    // Animation: a 128 px gif of about 5 frames.
    let anim = probe(&local("anim/a.gif"));
    assert_eq!(anim["streams"][0]["codec_name"], "gif");
    assert_eq!(anim["streams"][0]["width"], 128);
    let frames: i64 = anim["streams"][0]["nb_read_frames"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((4..=6).contains(&frames), "{frames} frames");

    // Segment: an HLS remux (playlist + ts).
    let playlist = std::fs::read_to_string(local("seg/play.m3u8")).unwrap();
    assert!(playlist.contains("#EXTINF"), "{playlist}");

    // Concat: the 1 s intro plus the 3 s input.
    let cat = probe(&local("cat/c.mp4"));
    let secs: f64 = cat["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((3.7..4.4).contains(&secs), "{secs}");

    // SmartCover: two png covers 160 px wide.
    assert_eq!(task("R").outputs.len(), 2);
    for o in &task("R").outputs {
        let c = probe(&local(&o.key));
        assert_eq!(
            (
                c["streams"][0]["codec_name"].as_str(),
                c["streams"][0]["width"].as_i64()
            ),
            (Some("png"), Some(160))
        );
    }

    // MediaInfo: the report lives on the task.
    let info = &task("M").result;
    assert!(
        info.contains("<CodecName>h264</CodecName>") && info.contains("<Width>320</Width>"),
        "{info}"
    );
}

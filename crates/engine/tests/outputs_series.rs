//! Nodes writing several objects per run — adaptive packages (VideoStream + StreamPack, HLS
//! and DASH), Snapshot series with sprite sheets, SmartCover — run for two inputs into shared
//! Output patterns and folders: every object is referenced by the playlist/manifest that wrote
//! it, and no run or sibling node overwrites another's objects.

mod common;

use common::outputs::*;
use common::*;

async fn rendition(h: &Harness, height: u32) -> String {
    h.template(&format!(
        "<Request><Tag>Transcode</Tag><Name>h{height}</Name><Container><Format>hls</Format>\
         <ClipConfig><Duration>1</Duration></ClipConfig></Container><Video><Codec>H.264</Codec>\
         <Height>{height}</Height></Video><Audio><Codec>aac</Codec></Audio></Request>"
    ))
    .await
}

fn video_stream(name: &str, template: &str, object: &str) -> String {
    op(
        name,
        "VideoStream",
        &format!("<TemplateId>{template}</TemplateId>{}", out(object)),
    )
}

fn pack(name: &str, streams: &[&str]) -> String {
    let configs: String = streams
        .iter()
        .map(|s| {
            format!(
                "<VideoStreamConfig><VideoStreamName>{s}</VideoStreamName>\
                 <BandWidth>0</BandWidth></VideoStreamConfig>"
            )
        })
        .collect();
    op(
        name,
        "StreamPack",
        &format!("<StreamPackInfo>{configs}</StreamPackInfo>"),
    )
}

/// Two adaptive packages (HLS master, DASH manifest), each with two renditions, all written
/// into one folder for two inputs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_packages_of_two_inputs_share_a_folder() {
    let h = harness().await;
    let low = rendition(&h, 144).await;
    let high = rendition(&h, 216).await;
    let hls = [
        op("P", "StreamPackConfig", &out("abr/${InputName}.m3u8")),
        video_stream("V1", &low, "abr/${InputName}_low.${Ext}"),
        video_stream("V2", &high, "abr/${InputName}_high.${Ext}"),
        pack("K", &["V1", "V2"]),
    ]
    .concat();
    h.workflow(
        "<Start>P</Start><P>V1,V2</P><V1>K</V1><V2>K</V2><K>End</K>",
        &hls,
    )
    .await;
    let dash = [
        op(
            "P",
            "StreamPackConfig",
            &format!(
                "<StreamPackConfig><PackType>DASH</PackType></StreamPackConfig>{}",
                out("abr/${InputName}.mpd")
            ),
        ),
        video_stream("D1", &low, "abr/${InputName}_d1.${Ext}"),
        video_stream("D2", &high, "abr/${InputName}_d2.${Ext}"),
        pack("K", &["D1", "D2"]),
    ]
    .concat();
    h.workflow(
        "<Start>P</Start><P>D1,D2</P><D1>K</D1><D2>K</D2><K>End</K>",
        &dash,
    )
    .await;
    let a = h
        .run_ok("in/a.mp4", &h.clip_sized("a.mp4", "640x360", 2))
        .await;
    let b = h
        .run_ok("in/b.mp4", &h.clip_sized("b.mp4", "320x240", 3))
        .await;
    assert_eq!(distinct_outputs(a.iter().chain(&b)), h.keys("abr/").await);

    let root = h.materialize("abr/").await;
    let owned = assert_owned(&root, "abr");
    for (stem, secs) in [("a", 2.0), ("b", 3.0)] {
        let master = &owned[&format!("abr/{stem}.m3u8")];
        let variants: Vec<&str> = master.iter().map(|k| name(k)).collect();
        assert_eq!(
            variants,
            [format!("{stem}_high.m3u8"), format!("{stem}_low.m3u8")]
        );
        for (variant, height) in [("low", 144), ("high", 216), ("d1", 144), ("d2", 216)] {
            let key = format!("abr/{stem}_{variant}.m3u8");
            for segment in &owned[&key] {
                assert!(
                    name(segment).starts_with(&format!("{stem}_{variant}-")),
                    "{key} owns {segment}"
                );
            }
            let (_, h, d) = picture(&root.join(&key));
            assert_eq!(h, height, "{key}");
            assert!((d - secs).abs() < 0.35, "{key} lasts {d}");
        }
        let manifest = format!("abr/{stem}.mpd");
        for part in &owned[&manifest] {
            assert!(
                name(part).starts_with(&format!("{stem}-")),
                "{manifest} owns {part}"
            );
        }
        let (_, _, d) = picture(&root.join(&manifest));
        assert!((d - secs).abs() < 0.35, "{manifest} lasts {d}");
    }
}

/// Snapshot series with sprite sheets (no SpriteObject), a Snapshot whose Output has no
/// `${Number}`, and SmartCover, all into one folder for two inputs of different sizes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_series_of_two_inputs_share_a_folder() {
    let h = harness().await;
    let sprites = h
        .template(
            "<Request><Tag>Snapshot</Tag><Name>sprites</Name><Snapshot><Mode>Interval</Mode>\
             <Start>0</Start><TimeInterval>0.5</TimeInterval><Count>3</Count>\
             <SnapshotOutMode>SnapshotAndSprite</SnapshotOutMode><SpriteSnapshotConfig>\
             <CellWidth>64</CellWidth><CellHeight>36</CellHeight><Color>White</Color>\
             <Columns>2</Columns><Lines>1</Lines></SpriteSnapshotConfig></Snapshot></Request>",
        )
        .await;
    let frames = h
        .template(
            "<Request><Tag>Snapshot</Tag><Name>frames</Name><Snapshot><Mode>Interval</Mode>\
             <Start>0</Start><TimeInterval>0.5</TimeInterval><Count>3</Count></Snapshot>\
             </Request>",
        )
        .await;
    let nodes = [
        node("S", "Snapshot", &sprites, "snap/${InputName}-${Number}.jpg"),
        node("N", "Snapshot", &frames, "snap/${InputName}_n.jpg"),
        op(
            "R",
            "SmartCover",
            &format!(
                "<SmartCover><Count>2</Count><Format>jpg</Format></SmartCover>{}",
                out("snap/${InputName}_cover-${Number}.${Ext}")
            ),
        ),
    ]
    .concat();
    h.workflow("<Start>S,N,R</Start><S>End</S><N>End</N><R>End</R>", &nodes)
        .await;
    let a = h
        .run_ok("in/a.mp4", &h.clip_sized("a.mp4", "640x360", 2))
        .await;
    let b = h
        .run_ok("in/b.mp4", &h.clip_sized("b.mp4", "320x240", 3))
        .await;
    let written = distinct_outputs(a.iter().chain(&b));
    assert_eq!(written, h.keys("snap/").await);

    let root = h.materialize("snap/").await;
    for (stem, size, tasks) in [("a", (640, 360), &a), ("b", (320, 240), &b)] {
        let keys = |node: &str| -> Vec<String> {
            let t = tasks.iter().find(|t| t.node_name == node).unwrap();
            t.outputs.iter().map(|o| o.key.clone()).collect()
        };
        let s = keys("S");
        let (shots, sheets): (Vec<String>, Vec<String>) =
            s.iter().cloned().partition(|k| !k.contains("sprite"));
        assert_eq!(
            shots,
            (0..3)
                .map(|n| format!("snap/{stem}-{n}.jpg"))
                .collect::<Vec<_>>()
        );
        assert!(!sheets.is_empty(), "{s:?}");
        for (n, k) in sheets.iter().enumerate() {
            assert_eq!(*k, format!("snap/{stem}-sprite-{n}.jpg"));
        }
        assert_eq!(
            keys("N"),
            (0..3)
                .map(|n| format!("snap/{stem}_n-{n}.jpg"))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            keys("R"),
            (0..2)
                .map(|n| format!("snap/{stem}_cover-{n}.jpg"))
                .collect::<Vec<_>>()
        );
        // Each frame still shows its own input: nothing was overwritten by the other run.
        for k in shots.iter().chain(&keys("N")) {
            let (w, h, _) = picture(&root.join(k));
            assert_eq!((w, h), size, "{k}");
        }
    }
}

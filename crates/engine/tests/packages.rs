//! Nodes reading HLS and DASH outputs of earlier nodes (or uploaded playlists): the playlist
//! comes with the objects it references, so a Snapshot after an HLS/DASH Transcode reads
//! any point of the stream; references outside the bucket and missing segments
//! fail the task naming the playlist's and the segment's keys.

mod common;

use common::outputs::*;
use common::*;
use reelflow_model::execution::{RunState, Task};

async fn package_template(h: &Harness, format: &str) -> String {
    h.template(&format!(
        "<Request><Tag>Transcode</Tag><Name>{format}</Name><Container><Format>{format}</Format>\
         <ClipConfig><Duration>1</Duration></ClipConfig></Container><Video><Codec>H.264</Codec>\
         <Height>144</Height></Video><Audio><Codec>aac</Codec></Audio></Request>"
    ))
    .await
}

async fn snapshot_template(h: &Harness) -> String {
    h.template(
        "<Request><Tag>Snapshot</Tag><Name>s</Name><Snapshot><Start>3</Start><Count>1</Count>\
         </Snapshot></Request>",
    )
    .await
}

/// A workflow taking a snapshot at 3 s of every upload.
async fn snapshot_workflow(h: &Harness) {
    let snap = snapshot_template(h).await;
    let nodes = op(
        "S",
        "Snapshot",
        &format!(
            "<TemplateId>{snap}</TemplateId>{}",
            out("snap/${InputName}.jpg")
        ),
    );
    h.workflow("<Start>S</Start><S>End</S>", &nodes).await;
}

/// Uploads `text` as `key`: the task of the failed run it starts.
async fn failed_task(h: &Harness, key: &str, text: &str) -> Task {
    let file = h.dir.path().join("input");
    std::fs::write(&file, text).unwrap();
    let runs = h.upload(key, &file).await;
    let (instance, mut tasks) = h.wait_run(runs.last().unwrap()).await;
    assert_eq!(instance.state, RunState::Failed, "{key}");
    tasks.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_after_hls_and_dash_transcodes_read_the_whole_stream() {
    let h = harness().await;
    let hls = package_template(&h, "hls").await;
    let dash = package_template(&h, "dash").await;
    let snap = snapshot_template(&h).await;
    let nodes = [
        op(
            "H",
            "Transcode",
            &format!(
                "<TemplateId>{hls}</TemplateId>{}",
                out("hls/${InputName}.${Ext}")
            ),
        ),
        op(
            "D",
            "Transcode",
            &format!(
                "<TemplateId>{dash}</TemplateId>{}",
                out("dash/${InputName}.${Ext}")
            ),
        ),
        op(
            "HS",
            "Snapshot",
            &format!("<TemplateId>{snap}</TemplateId>{}", out("snap/hls.jpg")),
        ),
        op(
            "DS",
            "Snapshot",
            &format!("<TemplateId>{snap}</TemplateId>{}", out("snap/dash.jpg")),
        ),
    ]
    .concat();
    h.workflow(
        "<Start>H,D</Start><H>HS</H><D>DS</D><HS>End</HS><DS>End</DS>",
        &nodes,
    )
    .await;
    h.run_ok("in/clip.mp4", &h.clip(4)).await;

    // Both shots are at 3 s, in the fourth of the 1 s segments: read through the playlist.
    let root = h.materialize("").await;
    for shot in ["snap/hls.jpg", "snap/dash.jpg"] {
        let (w, height, _) = picture(&root.join(shot));
        assert_eq!((w > 0, height), (true, 144), "{shot}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlists_reading_outside_the_bucket_or_missing_segments_fail_by_key() {
    let h = harness().await;
    snapshot_workflow(&h).await;
    let cases = [
        (
            "in/abs.m3u8",
            "/etc/passwd",
            "InvalidInput",
            "not relative to it",
        ),
        (
            "in/url.m3u8",
            "http://10.0.0.1/x.ts",
            "InvalidInput",
            "not relative to it",
        ),
        (
            "in/up.m3u8",
            "../../x.ts",
            "InvalidInput",
            "above the bucket",
        ),
        (
            "in/gone.m3u8",
            "seg/missing-00000.ts",
            "InputNotFound",
            "in/seg/missing-00000.ts",
        ),
    ];
    for (key, reference, code, says) in cases {
        let playlist = format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n{reference}\n#EXT-X-ENDLIST\n"
        );
        let task = failed_task(&h, key, &playlist).await;
        assert_eq!(task.code, code, "{key}: {}", task.message);
        assert!(
            task.message.contains(key) || code == "InputNotFound",
            "{}",
            task.message
        );
        assert!(task.message.contains(says), "{key}: {}", task.message);
        assert!(!task.message.contains("/tmp/"), "{}", task.message);
    }
}

/// ffmpeg picks its demuxer by content: a playlist or ffconcat script stored under any other
/// name is still checked (it must not read files of the server's disk into the bucket).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlists_under_other_names_are_checked_by_content() {
    let h = harness().await;
    snapshot_workflow(&h).await;
    // A real media file outside the bucket, which a playlist names by its absolute path.
    let secret = h.dir.path().join("secret.ts");
    ffmpeg(&[
        "-i",
        h.clip(1).to_str().unwrap(),
        "-c",
        "copy",
        "-f",
        "mpegts",
        secret.to_str().unwrap(),
    ]);
    let secret = secret.to_str().unwrap();
    let cases = [
        (
            "in/leak.txt",
            format!("#EXTM3U\n#EXTINF:1.0,\n{secret}\n#EXT-X-ENDLIST\n"),
            "not relative to it",
        ),
        (
            "in/leak.mp4",
            format!("\u{feff}\n#EXTM3U\n#EXTINF:1.0,\nfile:{secret}\n"),
            "not relative to it",
        ),
        (
            "in/cat.mp4",
            format!("ffconcat version 1.0\nfile '{secret}'\n"),
            "an ffconcat script",
        ),
        (
            "in/seg.m3u8",
            "#EXTM3U\n#EXTINF:1.0,\ninner.ts\n#EXT-X-ENDLIST\n".into(),
            "not a media file",
        ),
    ];
    // The segment named by in/seg.m3u8 is itself a playlist reaching outside.
    let inner = h.dir.path().join("inner.ts");
    std::fs::write(&inner, format!("#EXTM3U\n#EXTINF:1.0,\n{secret}\n")).unwrap();
    for (key, text, says) in cases {
        if key == "in/seg.m3u8" {
            h.upload("in/inner.ts", &inner).await;
        }
        let task = failed_task(&h, key, &text).await;
        assert_eq!(task.code, "InvalidInput", "{key}: {}", task.message);
        assert!(
            task.message.contains(key) && task.message.contains(says),
            "{key}: {}",
            task.message
        );
        assert!(h.keys("snap/").await.is_empty(), "{key} wrote a snapshot");
    }
}

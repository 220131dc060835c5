//! Nodes writing a playlist or manifest plus segments, run for two inputs into one Output
//! pattern: every playlist owns segment names derived from its own object name, plays its own
//! input, and no run or sibling node overwrites another's objects. Also: failure messages
//! name object keys, never blob ids or scratch paths.

mod common;

use common::outputs::*;
use common::*;
use reelflow_model::execution::{RunState, TaskState};

async fn stream_template(h: &Harness, format: &str) -> String {
    h.template(&format!(
        "<Request><Tag>Transcode</Tag><Name>{format}</Name><Container><Format>{format}</Format>\
         <ClipConfig><Duration>1</Duration></ClipConfig></Container><Video><Codec>H.264</Codec>\
         </Video><Audio><Codec>aac</Codec></Audio></Request>"
    ))
    .await
}

fn close(secs: f64, expected: f64) -> bool {
    (secs - expected).abs() < 0.35
}

/// The case: a.mp4 (2 s, 640x360) then b.mp4 (3 s, 320x240) through one
/// Transcode-to-HLS node with Output `out/hls/${InputName}.${Ext}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_runs_into_one_pattern_keep_their_own_segments() {
    let h = harness().await;
    let hls = stream_template(&h, "hls").await;
    h.workflow(
        "<Start>T</Start><T>End</T>",
        &node("T", "Transcode", &hls, "out/hls/${InputName}.${Ext}"),
    )
    .await;
    let a = h
        .run_ok("in/a.mp4", &h.clip_sized("a.mp4", "640x360", 2))
        .await;
    let b = h
        .run_ok("in/b.mp4", &h.clip_sized("b.mp4", "320x240", 3))
        .await;

    let root = h.materialize("out/").await;
    let owned = assert_owned(&root, "out/hls");
    assert_eq!(owned.len(), 2, "{owned:?}");
    let (wa, ha, sa) = picture(&root.join("out/hls/a.m3u8"));
    assert_eq!((wa, ha), (640, 360));
    assert!(close(sa, 2.0), "a.m3u8 lasts {sa}");
    let (wb, hb, sb) = picture(&root.join("out/hls/b.m3u8"));
    assert_eq!((wb, hb), (320, 240));
    assert!(close(sb, 3.0), "b.m3u8 lasts {sb}");

    let segs_a = references(&root.join("out/hls/a.m3u8"));
    let segs_b = references(&root.join("out/hls/b.m3u8"));
    assert!(
        segs_a.len() >= 2 && segs_b.len() >= 3,
        "{segs_a:?} {segs_b:?}"
    );
    for (segs, stem) in [(&segs_a, "a-"), (&segs_b, "b-")] {
        for s in segs {
            let digits = s.strip_prefix(stem).and_then(|r| r.strip_suffix(".ts"));
            assert!(
                digits.is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())),
                "{s} is not named after its playlist"
            );
        }
    }
    assert!(segs_a.iter().all(|s| !segs_b.contains(s)));
    // Each task reports exactly its playlist and the segments that playlist references.
    for (tasks, stem, segs) in [(&a, "a", &segs_a), (&b, "b", &segs_b)] {
        let keys: Vec<&str> = tasks[0].outputs.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys[0], format!("out/hls/{stem}.m3u8"));
        let mut rest: Vec<&str> = keys[1..].iter().map(|k| name(k)).collect();
        rest.sort_unstable();
        assert_eq!(rest, segs.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

/// Sibling nodes of one workflow writing into one folder — Transcode to HLS, Transcode to
/// DASH, Segment to HLS — for two inputs: each playlist/manifest owns its segments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sibling_nodes_share_a_folder_without_sharing_names() {
    let h = harness().await;
    let hls = stream_template(&h, "hls").await;
    let dash = stream_template(&h, "dash").await;
    let nodes = [
        node("H", "Transcode", &hls, "mix/${InputName}.${Ext}"),
        node("D", "Transcode", &dash, "mix/${InputName}.${Ext}"),
        op(
            "G",
            "Segment",
            &format!(
                "<Segment><Format>hls</Format></Segment>{}",
                out("mix/${InputName}_copy.${Ext}")
            ),
        ),
    ]
    .concat();
    h.workflow("<Start>H,D,G</Start><H>End</H><D>End</D><G>End</G>", &nodes)
        .await;
    let a = h
        .run_ok("in/a.mp4", &h.clip_sized("a.mp4", "640x360", 2))
        .await;
    let b = h
        .run_ok("in/b.mp4", &h.clip_sized("b.mp4", "320x240", 3))
        .await;

    let root = h.materialize("mix/").await;
    let owned = assert_owned(&root, "mix");
    let tops: Vec<&str> = owned.keys().map(String::as_str).collect();
    assert_eq!(
        tops,
        [
            "mix/a.m3u8",
            "mix/a.mpd",
            "mix/a_copy.m3u8",
            "mix/b.m3u8",
            "mix/b.mpd",
            "mix/b_copy.m3u8"
        ]
    );
    for (top, refs) in &owned {
        let stem = name(top).rsplit_once('.').unwrap().0;
        for r in refs {
            assert!(name(r).starts_with(&format!("{stem}-")), "{top} owns {r}");
        }
    }
    for (stem, size, secs) in [("a", (640, 360), 2.0), ("b", (320, 240), 3.0)] {
        for file in [format!("mix/{stem}.m3u8"), format!("mix/{stem}_copy.m3u8")] {
            let (w, h, d) = picture(&root.join(&file));
            assert_eq!((w, h), size, "{file}");
            assert!(close(d, secs), "{file} lasts {d}");
        }
        let (w, h, d) = picture(&root.join(format!("mix/{stem}.mpd")));
        assert_eq!((w, h), size, "{stem}.mpd");
        assert!(close(d, secs), "{stem}.mpd lasts {d}");
    }
    // No key was written by two tasks, and every object was written by one.
    assert_eq!(distinct_outputs(a.iter().chain(&b)), h.keys("mix/").await);
}

/// A failing task's message names the object key, not the blob or the scratch directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_messages_name_object_keys() {
    let h = harness().await;
    let hls = stream_template(&h, "hls").await;
    h.workflow(
        "<Start>T,M</Start><T>End</T><M>End</M>",
        &[
            node("T", "Transcode", &hls, "out/${InputName}.${Ext}"),
            op("M", "MediaInfo", ""),
        ]
        .concat(),
    )
    .await;
    let empty = h.dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let junk = h.dir.path().join("junk.mp4");
    std::fs::write(&junk, vec![0x5a_u8; 4096]).unwrap();
    for (key, file) in [("in/empty.mp4", &empty), ("in/junk.mp4", &junk)] {
        let runs = h.upload(key, file).await;
        let (instance, tasks) = h.wait_run(&runs[0]).await;
        assert_eq!(instance.state, RunState::Failed);
        let blob = h
            .store
            .get_object(BUCKET, key)
            .await
            .unwrap()
            .unwrap()
            .blob_id;
        let scratch = h.dir.path().to_string_lossy().into_owned();
        for t in tasks
            .iter()
            .filter(|t| ["T", "M"].contains(&t.node_name.as_str()))
        {
            assert_eq!(t.state, TaskState::Failed, "{}", t.node_name);
            let m = &t.message;
            assert_eq!(m.matches(key).count(), 1, "{}: {m}", t.node_name);
            assert!(
                !m.contains(&blob) && !m.contains(&scratch),
                "{}: {m}",
                t.node_name
            );
            assert!(
                !m.contains("/work/") && !m.contains("in-"),
                "{}: {m}",
                t.node_name
            );
        }
        if key == "in/empty.mp4" {
            let t = tasks.iter().find(|t| t.node_name == "T").unwrap();
            assert!(t.message.contains("is empty"), "{}", t.message);
        }
    }
}

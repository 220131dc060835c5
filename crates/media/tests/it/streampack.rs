//! Adaptive streaming: an HLS master playlist over measured variants, and a DASH
//! manifest packed from the same variants.

use reelflow_media::{
    RunControl, TranscodeSpec, VideoSpec, hls_variant, master_playlist, pack_dash, probe,
    relative_uri, transcode,
};

use crate::common::{dims, make_av};

#[tokio::test]
async fn master_playlist_and_dash_from_two_variants() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 2, 25);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    let mut playlists = Vec::new();
    for (name, height) in [("hi", 240), ("lo", 120)] {
        let spec = TranscodeSpec {
            container: "hls".into(),
            segment_duration: Some(1.0),
            video: Some(VideoSpec {
                height: Some(height),
                preset: Some("ultrafast".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let playlist = dir.path().join(format!("run_{name}/video.m3u8"));
        transcode(&input, &playlist, &spec, &info, &RunControl::new())
            .await
            .unwrap();
        playlists.push(playlist);
    }
    let master_key = "out/run/master.m3u8";
    let mut variants = Vec::new();
    for (i, playlist) in playlists.iter().enumerate() {
        let key = format!("out/run_{}/video.m3u8", ["hi", "lo"][i]);
        let template_bandwidth = (i == 1).then_some(300_000);
        let v = hls_variant(
            playlist,
            relative_uri(master_key, &key),
            template_bandwidth,
            &RunControl::new(),
        )
        .await
        .unwrap();
        variants.push(v);
    }
    assert_eq!(variants[0].resolution, Some((320, 240)));
    assert_eq!(variants[1].resolution, Some((160, 120)));
    assert_eq!(
        variants[1].bandwidth, 300_000,
        "the template's BandWidth wins"
    );
    assert!(variants[0].bandwidth > variants[0].average_bandwidth.unwrap() / 2);
    let codecs = variants[0].codecs.as_deref().unwrap();
    // x264 ultrafast signals Constrained Baseline (avc1.42e0..) whatever was asked.
    assert!(
        codecs.starts_with("avc1.42e0") && codecs.ends_with(",mp4a.40.2"),
        "{codecs}"
    );
    let text = master_playlist(&variants);
    assert!(text.starts_with("#EXTM3U\n"));
    assert_eq!(text.matches("#EXT-X-STREAM-INF:").count(), 2);
    assert!(
        text.contains("RESOLUTION=320x240") && text.contains("RESOLUTION=160x120"),
        "{text}"
    );
    assert!(text.contains("\n../run_hi/video.m3u8\n"), "{text}");
    assert!(text.contains("BANDWIDTH=300000"), "{text}");

    let mpd = dir.path().join("dash/stream.mpd");
    let files = pack_dash(&playlists, &mpd, Some(1.0), &RunControl::new())
        .await
        .unwrap();
    assert_eq!(files[0], mpd);
    let manifest = std::fs::read_to_string(&mpd).unwrap();
    assert_eq!(manifest.matches("<AdaptationSet").count(), 2, "{manifest}");
    assert_eq!(
        manifest.matches("<Representation ").count(),
        3,
        "{manifest}"
    );
    assert!(manifest.contains("width=\"320\"") && manifest.contains("width=\"160\""));
    let init = |rep: u32| dir.path().join(format!("dash/stream-init-{rep}.m4s"));
    assert!(
        files.contains(&init(0)) && files.contains(&init(2)),
        "{files:?}"
    );
    assert_eq!(dims(&init(1)), (160, 120));
    assert!(
        files
            .iter()
            .any(|f| f.to_str().unwrap().contains("stream-chunk-2-"))
    );
}

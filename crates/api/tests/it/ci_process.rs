//! Synchronous media calls over HTTP (api-reference-2.md §5): `?ci-process=videoinfo` and
//! `?ci-process=snapshot` on generated clips, their errors, and objects without a local file
//! (multipart uploads, read through the loopback server). `pm3u8` is in `ci_pm3u8.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use reelflow_model::XmlElement;
use reqwest::{Method, StatusCode};

use crate::harness::*;

/// Clips made once per test binary.
pub(crate) struct Clips {
    _dir: tempfile::TempDir,
    /// 2 s, 320x240 @ 25 fps, H.264 + AAC 44.1 kHz stereo, index at the front.
    pub(crate) clip: PathBuf,
    /// `clip` with a 90° display matrix.
    pub(crate) rotated: PathBuf,
    /// 2 s, 640x480, about 2 MB, index at the end (seeks are needed to read it).
    pub(crate) big: PathBuf,
    /// `clip`'s audio alone (m4a).
    pub(crate) audio: PathBuf,
    /// `clip` cut into 1 s HLS segments: `hls/index.m3u8`, `hls/seg-N.ts`.
    pub(crate) hls: PathBuf,
}

pub(crate) fn clips() -> &'static Clips {
    static CLIPS: OnceLock<Clips> = OnceLock::new();
    CLIPS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let clip = dir.path().join("clip.mp4");
        ffmpeg(
            &[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=320x240:rate=25",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:sample_rate=44100",
                "-t",
                "2",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-g",
                "25",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-ac",
                "2",
                "-movflags",
                "+faststart",
            ],
            &clip,
        ); // fmt: skip
        let rotated = dir.path().join("rotated.mp4");
        let input = clip.to_str().unwrap();
        ffmpeg(
            &["-i", input, "-c", "copy", "-metadata:s:v:0", "rotate=90"],
            &rotated,
        );
        let audio = dir.path().join("audio.m4a");
        ffmpeg(&["-i", input, "-vn", "-c", "copy"], &audio);
        let big = dir.path().join("big.mp4");
        ffmpeg(
            &[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=640x480:rate=25",
                "-t",
                "2",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-b:v",
                "8M",
                "-pix_fmt",
                "yuv420p",
            ],
            &big,
        ); // fmt: skip
        let hls = dir.path().join("hls");
        std::fs::create_dir(&hls).unwrap();
        let segments = hls.join("seg-%d.ts");
        ffmpeg(
            &[
                "-i",
                input,
                "-c",
                "copy",
                "-f",
                "hls",
                "-hls_time",
                "1",
                "-hls_playlist_type",
                "vod",
                "-hls_segment_filename",
                segments.to_str().unwrap(),
            ],
            &hls.join("index.m3u8"),
        ); // fmt: skip
        Clips {
            _dir: dir,
            clip,
            rotated,
            audio,
            big,
            hls,
        }
    })
}

fn ffmpeg(args: &[&str], out: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .arg(out)
        .status()
        .expect("ffmpeg is installed");
    assert!(status.success(), "ffmpeg failed for {}", out.display());
}

/// Width and height of a PNG or JPEG.
pub(crate) fn image_size(bytes: &[u8]) -> (u32, u32) {
    let be16 = |i: usize| u32::from(u16::from_be_bytes([bytes[i], bytes[i + 1]]));
    if bytes.starts_with(b"\x89PNG") {
        let be32 = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
        return (be32(16), be32(20));
    }
    assert!(bytes.starts_with(&[0xFF, 0xD8]), "neither PNG nor JPEG");
    let mut i = 2;
    while i + 9 < bytes.len() {
        let marker = bytes[i + 1];
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            return (be16(i + 7), be16(i + 5));
        }
        i += 2 + be16(i + 2) as usize;
    }
    panic!("no JPEG frame header");
}

async fn put_file(s: &Server, key: &str, path: &Path) {
    let body = std::fs::read(path).unwrap();
    let resp = s.send(Req::new(Method::PUT, key).body(body)).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

/// `GET /<key>?ci-process=snapshot&…`.
async fn snapshot(s: &Server, key: &str, params: &[(&str, &str)]) -> reqwest::Response {
    let mut req = Req::new(Method::GET, key).query("ci-process", "snapshot");
    for (k, v) in params {
        req = req.query(k, v);
    }
    s.send(req).await
}

/// A 200 image of the expected type; its size.
async fn image(resp: reqwest::Response, content_type: &str) -> (u32, u32) {
    let status = resp.status();
    assert_eq!(header(&resp, "content-type"), content_type);
    let length: usize = header(&resp, "content-length").parse().unwrap();
    let body = resp.bytes().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body.len(), length);
    image_size(&body)
}

/// A CI error with `code` whose message contains `needle` and no internal path.
async fn expect_error(resp: reqwest::Response, status: StatusCode, code: &str, needle: &str) {
    assert_eq!(resp.status(), status);
    let body = resp.bytes().await.unwrap();
    let doc = XmlElement::parse(&body).unwrap();
    assert_eq!(doc.text_of("Code"), Some(code), "{doc:?}");
    let message = doc.text_of("Message").unwrap_or_default();
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    for leak in ["/blobs", "/work", "ci-process/", "127.0.0.1"] {
        assert!(!message.contains(leak), "{message:?} leaks {leak:?}");
    }
}

async fn media_server() -> Server {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    put_file(&s, "in/clip.mp4", &clips().clip).await;
    s
}

#[tokio::test]
async fn videoinfo_reports_streams_and_format() {
    let s = media_server().await;
    let resp = s
        .send(Req::new(Method::GET, "in/clip.mp4").query("ci-process", "videoinfo"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), "application/xml");
    let doc = XmlElement::parse(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(doc.name, "Response");
    let info = doc.child("MediaInfo").unwrap();
    let format = info.child("Format").unwrap();
    assert_eq!(format.text_of("NumStream"), Some("2"));
    assert_eq!(
        format.text_of("FormatName"),
        Some("mov,mp4,m4a,3gp,3g2,mj2")
    );
    let duration = format.text_of("Duration").unwrap();
    assert!(
        duration.starts_with("2.0") && duration.len() == 8,
        "{duration}"
    );
    let bitrate = format.text_of("Bitrate").unwrap();
    assert!(
        bitrate.split_once('.').unwrap().1.len() == 6,
        "kbit/s, 6 places: {bitrate}"
    );
    let stream = info.child("Stream").unwrap();
    let video = stream.child("Video").unwrap();
    for (field, want) in [
        ("Index", "0"),
        ("CodecName", "h264"),
        ("CodecTagString", "avc1"),
        ("CodecTag", "0x31637661"),
        ("Width", "320"),
        ("Height", "240"),
        ("Sar", "1:1"),
        ("Dar", "4:3"),
        ("PixFormat", "yuv420p"),
        ("Fps", "25.000000"),
        ("AvgFps", "25/1"),
        ("NumFrames", "50"),
        ("Language", "und"),
    ] {
        assert_eq!(video.text_of(field), Some(want), "Video>{field}");
    }
    let audio = stream.child("Audio").unwrap();
    for (field, want) in [
        ("Index", "1"),
        ("CodecName", "aac"),
        ("SampleFmt", "fltp"),
        ("SampleRate", "44100"),
        ("Channel", "2"),
        ("ChannelLayout", "stereo"),
        ("Timebase", "1/44100"),
    ] {
        assert_eq!(audio.text_of(field), Some(want), "Audio>{field}");
    }
    assert!(stream.child("Subtitle").is_some());

    // HEAD: the same headers, no body.
    let resp = s
        .send(Req::new(Method::HEAD, "in/clip.mp4").query("ci-process", "videoinfo"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(header(&resp, "content-length").parse::<u64>().unwrap() > 100);
    assert!(resp.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn snapshot_formats_and_sizes() {
    let s = media_server().await;
    let key = "in/clip.mp4";
    let sdk = [
        ("format", "jpg"),
        ("rotate", "auto"),
        ("mode", "exactframe"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all: Vec<(&str, &str)> = sdk.to_vec();
        all.extend_from_slice(extra);
        all
    };
    let jpg = "image/jpeg";
    let resp = snapshot(&s, key, &with(&[("time", "1")])).await;
    assert_eq!(image(resp, jpg).await, (320, 240));
    let resp = snapshot(&s, key, &[("time", "0.5"), ("format", "png")]).await;
    assert_eq!(image(resp, "image/png").await, (320, 240));
    let resp = snapshot(&s, key, &with(&[("time", "1"), ("width", "160")])).await;
    assert_eq!(
        image(resp, jpg).await,
        (160, 120),
        "width only keeps the aspect"
    );
    let resp = snapshot(
        &s,
        key,
        &with(&[("time", "1"), ("width", "0"), ("height", "60")]),
    )
    .await;
    assert_eq!(
        image(resp, jpg).await,
        (80, 60),
        "height only keeps the aspect"
    );
    let resp = snapshot(
        &s,
        key,
        &with(&[("time", "1"), ("width", "100"), ("height", "50")]),
    )
    .await;
    assert_eq!(image(resp, jpg).await, (100, 50));
    let resp = snapshot(&s, key, &[("time", "1.7"), ("mode", "keyframe")]).await;
    assert_eq!(image(resp, jpg).await, (320, 240));
    // Past the last frame (1.96 s) but within the duration: the last frame.
    let resp = snapshot(&s, key, &with(&[("time", "1.99")])).await;
    assert_eq!(image(resp, jpg).await, (320, 240));
}

#[tokio::test]
async fn snapshot_rotation_follows_the_display_matrix_unless_off() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    put_file(&s, "rotated.mp4", &clips().rotated).await;
    let resp = snapshot(&s, "rotated.mp4", &[("time", "1"), ("rotate", "auto")]).await;
    assert_eq!(image(resp, "image/jpeg").await, (240, 320));
    let resp = snapshot(&s, "rotated.mp4", &[("time", "1"), ("rotate", "off")]).await;
    assert_eq!(image(resp, "image/jpeg").await, (320, 240));
    let resp = snapshot(&s, "rotated.mp4", &[("time", "1"), ("width", "120")]).await;
    assert_eq!(
        image(resp, "image/jpeg").await,
        (120, 160),
        "scaled after rotation"
    );
    let resp = s
        .send(Req::new(Method::GET, "rotated.mp4").query("ci-process", "videoinfo"))
        .await;
    let doc = XmlElement::parse(&resp.bytes().await.unwrap()).unwrap();
    let video = doc
        .child("MediaInfo")
        .unwrap()
        .child("Stream")
        .unwrap()
        .child("Video");
    let rotation = video.unwrap().text_of("Rotation").unwrap().to_owned();
    assert!(rotation == "90" || rotation == "-90", "{rotation}");
}

#[tokio::test]
async fn errors_name_the_problem() {
    let s = media_server().await;
    let bad = StatusCode::BAD_REQUEST;
    let inv = "InvalidArgument";
    let key = "in/clip.mp4";
    expect_error(snapshot(&s, key, &[]).await, bad, inv, "time").await;
    expect_error(
        snapshot(&s, key, &[("time", "abc")]).await,
        bad,
        inv,
        "time",
    )
    .await;
    expect_error(snapshot(&s, key, &[("time", "-1")]).await, bad, inv, "time").await;
    let beyond = snapshot(&s, key, &[("time", "5")]).await;
    expect_error(beyond, bad, inv, "beyond the duration").await;
    let beyond = snapshot(&s, key, &[("time", "60"), ("mode", "keyframe")]).await;
    expect_error(beyond, bad, inv, "time").await;
    for (name, value) in [
        ("width", "-4"),
        ("height", "x"),
        ("width", "100000"),
        ("format", "gif"),
        ("rotate", "90"),
        ("mode", "fast"),
    ] {
        let resp = snapshot(&s, key, &[("time", "1"), (name, value)]).await;
        expect_error(resp, bad, inv, name).await;
    }

    let missing = snapshot(&s, "in/none.mp4", &[("time", "1")]).await;
    expect_error(missing, StatusCode::NOT_FOUND, "NoSuchKey", "in/none.mp4").await;
    let missing = s
        .send(Req::new(Method::GET, "in/none.mp4").query("ci-process", "videoinfo"))
        .await;
    expect_error(missing, StatusCode::NOT_FOUND, "NoSuchKey", "in/none.mp4").await;

    assert_eq!(
        s.put("notes.txt", b"just some text\n").await.status(),
        StatusCode::OK
    );
    let text = snapshot(&s, "notes.txt", &[("time", "1")]).await;
    expect_error(text, bad, inv, "\"notes.txt\" is not a media file").await;
    let text = s
        .send(Req::new(Method::GET, "notes.txt").query("ci-process", "videoinfo"))
        .await;
    expect_error(text, bad, inv, "\"notes.txt\" is not a media file").await;

    // Content that makes ffmpeg open other files is refused whatever the key: an HLS
    // playlist naming a file of the server's disk, an ffconcat script.
    // The named file is real media (ffmpeg would read it), outside every bucket.
    let outside = clips().clip.display().to_string();
    let playlist = format!("#EXTM3U\n#EXTINF:2.0,\n{outside}\n#EXT-X-ENDLIST\n").leak();
    let script = format!("ffconcat version 1.0\nfile '{outside}'\n").leak();
    for (key, body) in [
        ("leak.mp4", playlist.as_bytes()),
        ("cat.jpg", script.as_bytes()),
    ] {
        assert_eq!(s.put(key, body).await.status(), StatusCode::OK);
        for process in ["snapshot", "videoinfo"] {
            let answer = s
                .send(
                    Req::new(Method::GET, key)
                        .query("ci-process", process)
                        .query("time", "1"),
                )
                .await;
            expect_error(answer, bad, inv, &format!("\"{key}\" is not a media file")).await;
        }
    }

    put_file(&s, "audio.m4a", &clips().audio).await;
    let audio = snapshot(&s, "audio.m4a", &[("time", "1")]).await;
    expect_error(audio, bad, inv, "has no video stream").await;

    let unknown = s
        .send(Req::new(Method::GET, key).query("ci-process", "doc-preview"))
        .await;
    expect_error(
        unknown,
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        "doc-preview",
    )
    .await;
    let put = s
        .send(
            Req::new(Method::PUT, key)
                .query("ci-process", "snapshot")
                .body("x"),
        )
        .await;
    assert_eq!(put.status(), StatusCode::NOT_IMPLEMENTED);
    let bucket = s
        .send(Req::new(Method::GET, "").query("ci-process", "videoinfo"))
        .await;
    assert_eq!(bucket.status(), StatusCode::NOT_IMPLEMENTED);
    let unsigned = s
        .send(
            Req::new(Method::GET, key)
                .query("ci-process", "videoinfo")
                .unsigned(),
        )
        .await;
    assert_eq!(unsigned.status(), StatusCode::FORBIDDEN);
    // The object is untouched by all of the above.
    let resp = s.send(Req::new(Method::GET, key)).await;
    let original = std::fs::read(&clips().clip).unwrap();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), original.as_slice());
}

/// A multipart upload is a composite blob with no local file: ffmpeg reads it through the
/// loopback server, seeking to the index at the end of the file.
#[tokio::test]
async fn multipart_objects_are_read_through_the_loopback_server() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let body = std::fs::read(&clips().big).unwrap();
    assert!(body.len() > 1 << 20, "two parts need more than 1 MiB");
    let key = "up/big.mp4";
    let upload = s
        .send(Req::new(Method::POST, key).query("uploads", ""))
        .await;
    let doc = XmlElement::parse(&upload.bytes().await.unwrap()).unwrap();
    let id = doc.text_of("UploadId").unwrap().to_owned();
    let mut parts = String::new();
    for (n, chunk) in [(1, &body[..1 << 20]), (2, &body[1 << 20..])] {
        let number = n.to_string();
        let req = Req::new(Method::PUT, key)
            .query("partNumber", &number)
            .query("uploadId", &id)
            .body(chunk.to_vec());
        let etag = header(&s.send(req).await, "etag");
        parts += &format!("<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>");
    }
    let complete = Req::new(Method::POST, key)
        .query("uploadId", &id)
        .body(format!(
            "<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>"
        ));
    assert_eq!(s.send(complete).await.status(), StatusCode::OK);

    let resp = snapshot(&s, key, &[("time", "1.5"), ("width", "320")]).await;
    assert_eq!(image(resp, "image/jpeg").await, (320, 240));
    let resp = s
        .send(Req::new(Method::GET, key).query("ci-process", "videoinfo"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let doc = XmlElement::parse(&resp.bytes().await.unwrap()).unwrap();
    let video = doc
        .child("MediaInfo")
        .unwrap()
        .child("Stream")
        .unwrap()
        .child("Video");
    assert_eq!(video.unwrap().text_of("Width"), Some("640"));
}

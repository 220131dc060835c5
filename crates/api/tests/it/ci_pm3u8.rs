//! `?ci-process=pm3u8` over HTTP: every segment URI comes back pre-signed, and the signed
//! URLs fetch the segments from this server (virtual-host and path style); plus a plain
//! pre-signed q-sign URL for a snapshot.

use reelflow_model::clock::now_unix;
use reelflow_signature::{Credentials, SignedRequest, presign};
use reqwest::{Method, StatusCode};

use crate::ci_process::{clips, image_size};
use crate::harness::*;

const KEY_LINE: &str = "#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example.com/k1\",IV=0x1";

/// Uploads `hls/index.m3u8` (with an `#EXT-X-KEY` line added) and its segments; returns the
/// playlist text and the segment names.
async fn upload_hls(s: &Server) -> (String, Vec<String>) {
    let dir = &clips().hls;
    let original = std::fs::read_to_string(dir.join("index.m3u8")).unwrap();
    let playlist = original.replacen("#EXTINF", &format!("{KEY_LINE}\n#EXTINF"), 1);
    let resp = s
        .send(Req::new(Method::PUT, "hls/index.m3u8").body(playlist.clone()))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let segments: Vec<String> = playlist
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    assert!(segments.len() >= 2, "{playlist}");
    for name in &segments {
        let body = std::fs::read(dir.join(name)).unwrap();
        let resp = s
            .send(Req::new(Method::PUT, &format!("hls/{name}")).body(body))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    (playlist, segments)
}

/// Fetches `url` (a path with query) with `host` and no Authorization header.
async fn fetch(s: &Server, host: &str, path_and_query: &str) -> reqwest::Response {
    s.client
        .get(format!("http://{}{path_and_query}", s.addr))
        .header("host", host)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn segments_are_signed_and_fetchable() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let (playlist, segments) = upload_hls(&s).await;
    let resp = s
        .send(
            Req::new(Method::GET, "hls/index.m3u8")
                .query("ci-process", "pm3u8")
                .query("expires", "3600"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), "application/x-mpegURL");
    let text = resp.text().await.unwrap();
    assert!(text.contains(KEY_LINE), "#EXT-X-KEY is left as is:\n{text}");
    let tags = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(tags(&text), tags(&playlist), "tags are untouched");
    let signed: Vec<&str> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(signed.len(), segments.len());
    let now = now_unix();
    for (line, name) in signed.iter().zip(&segments) {
        let (path, query) = line.split_once('?').unwrap();
        assert_eq!(path, name);
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "q-sign-algorithm",
                "q-ak",
                "q-sign-time",
                "q-key-time",
                "q-header-list",
                "q-url-param-list",
                "q-signature",
            ]
        ); // fmt: skip
        assert_eq!(pairs[1].1, SECRET_ID);
        let (start, end) = pairs[2].1.split_once(';').unwrap();
        let (start, end): (i64, i64) = (start.parse().unwrap(), end.parse().unwrap());
        assert!(
            (now - 5..=now + 5).contains(&start) && end - start == 3600,
            "{start};{end}"
        );
        assert_eq!(pairs[4].1, "host");
    }

    // The signed lines fetch the segments from this server, without any other credentials.
    let host = format!("{BUCKET}.cos.ap-guangzhou.myqcloud.com");
    for (line, name) in signed.iter().zip(&segments) {
        let resp = fetch(&s, &host, &format!("/hls/{line}")).await;
        assert_eq!(resp.status(), StatusCode::OK, "{line}");
        let want = std::fs::read(clips().hls.join(name)).unwrap();
        assert_eq!(resp.bytes().await.unwrap().as_ref(), want.as_slice());
    }
    // A signature is good for its own segment only.
    let other = signed[0].replacen(&segments[0], &segments[1], 1);
    assert_eq!(
        fetch(&s, &host, &format!("/hls/{other}")).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn path_style_signatures_include_the_bucket() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let (_, segments) = upload_hls(&s).await;
    let host = s.addr.to_string();
    let path = format!("{BUCKET}/hls/index.m3u8");
    let resp = s
        .send(
            Req::new(Method::GET, &path)
                .host(host.clone())
                .query("ci-process", "pm3u8")
                .query("expires", "43200"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    let first = text
        .lines()
        .find(|l| l.starts_with(segments[0].as_str()))
        .unwrap();
    let resp = fetch(&s, &host, &format!("/{BUCKET}/hls/{first}")).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn pm3u8_errors() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    upload_hls(&s).await;
    let pm3u8 = |key: &'static str, expires: Option<&'static str>| {
        let mut req = Req::new(Method::GET, key).query("ci-process", "pm3u8");
        if let Some(e) = expires {
            req = req.query("expires", e);
        }
        req
    };
    for expires in [None, Some("10"), Some("43201"), Some("soon")] {
        let resp = s.send(pm3u8("hls/index.m3u8", expires)).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body = resp.text().await.unwrap();
        assert!(
            body.contains("InvalidArgument") && body.contains("expires"),
            "{body}"
        );
    }
    let resp = s.send(pm3u8("hls/none.m3u8", Some("3600"))).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "NoSuchKey");
    let resp = s.send(pm3u8("hls/seg-0.ts", Some("3600"))).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("not an m3u8 playlist"));
}

/// A plain pre-signed URL (q-sign fields in the query, `ci-process` and `time` signed) works
/// with no headers but Host, like `requests.get(url)`.
#[tokio::test]
async fn presigned_snapshot_url() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let body = std::fs::read(&clips().clip).unwrap();
    let resp = s
        .send(Req::new(Method::PUT, "in/clip.mp4").body(body))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let host = s.addr.to_string();
    let path = format!("/{BUCKET}/in/clip.mp4");
    let query = vec![
        ("ci-process".to_owned(), "snapshot".to_owned()),
        ("time".to_owned(), "1".to_owned()),
    ];
    let now = now_unix();
    let fields = presign(
        &SignedRequest {
            method: "GET",
            decoded_path: &path,
            query: &query,
            headers: &[("host".to_owned(), host.clone())],
        },
        &Credentials {
            secret_id: SECRET_ID.into(),
            secret_key: SECRET_KEY.into(),
        },
        now - 60,
        now + 600,
        &["host"],
        &["ci-process", "time"],
    );
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    url.extend_pairs(query.iter().chain(fields.iter()));
    let resp = fetch(&s, &host, &format!("{path}?{}", url.finish())).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), "image/jpeg");
    assert_eq!(image_size(&resp.bytes().await.unwrap()), (320, 240));
    let tampered = fetch(&s, &host, &format!("{path}?ci-process=snapshot&time=1.5")).await;
    assert_eq!(tampered.status(), StatusCode::FORBIDDEN);
}

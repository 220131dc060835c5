//! The COS object API over real HTTP, through the shared harness.

use std::time::Duration;

use reelflow_model::XmlElement;
use reelflow_model::clock::now_unix;
use reelflow_signature::{Credentials, SignedRequest, sign};
use reqwest::{Method, StatusCode};

use crate::harness::*;

#[tokio::test]
async fn bucket_lifecycle() {
    let s = Server::start().await;
    let resp = s.send(Req::new(Method::HEAD, "")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&resp, "x-cos-error-code"), "NoSuchBucket");
    assert!(resp.bytes().await.unwrap().is_empty());

    s.create_bucket(BUCKET).await;
    let resp = s.send(Req::new(Method::PUT, "")).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(resp).await, "BucketAlreadyOwnedByYou");
    let resp = s.send(Req::new(Method::HEAD, "")).await;
    assert_eq!(resp.status(), StatusCode::OK);

    assert_eq!(s.put("k.txt", b"x").await.status(), StatusCode::OK);
    let resp = s.send(Req::new(Method::DELETE, "")).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(resp).await, "BucketNotEmpty");

    let resp = s.send(Req::new(Method::DELETE, "k.txt")).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = s.send(Req::new(Method::DELETE, "")).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = s.send(Req::new(Method::HEAD, "")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = s.send(Req::new(Method::DELETE, "")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "NoSuchBucket");
}

#[tokio::test]
async fn invalid_bucket_name_and_missing_bucket() {
    let s = Server::start().await;
    // Path-style (Host is the IP address), since an invalid name cannot be a virtual host.
    let resp = s
        .client
        .put(format!("http://{}/Bad_Bucket", s.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "unsigned");
    let now = now_unix();
    // Like the SDKs, sign the host without its port.
    let headers = vec![("host".to_owned(), s.addr.ip().to_string())];
    let auth = sign(
        &SignedRequest {
            method: "PUT",
            decoded_path: "/Bad_Bucket",
            query: &[],
            headers: &headers,
        },
        &Credentials {
            secret_id: SECRET_ID.into(),
            secret_key: SECRET_KEY.into(),
        },
        now - 60,
        now + 3600,
        &["host"],
        &[],
    );
    let resp = s
        .client
        .put(format!("http://{}/Bad_Bucket", s.addr))
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "InvalidBucketName");

    let resp = s.put("a.txt", b"x").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "NoSuchBucket");
    let resp = s.send(Req::new(Method::GET, "")).await;
    assert_eq!(error_code(resp).await, "NoSuchBucket");
    let resp = s.send(Req::new(Method::GET, "a.txt")).await;
    assert_eq!(error_code(resp).await, "NoSuchBucket");
}

#[tokio::test]
async fn put_get_head_round_trip() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let body: &'static [u8] = b"hello, reelflow";
    let key = "dir/a b+c (1).mp4";
    let resp = s
        .send(
            Req::new(Method::PUT, key)
                .header("content-type", "video/mp4")
                .header("x-cos-meta-Zeta", "last")
                .header("x-cos-meta-alpha", "Two Words")
                .body(body),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let etag = format!("\"{}\"", md5_hex(body));
    assert_eq!(header(&resp, "etag"), etag);
    assert!(!header(&resp, "x-cos-request-id").is_empty());

    let resp = s.send(Req::new(Method::GET, key)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), "video/mp4");
    assert_eq!(header(&resp, "content-length"), body.len().to_string());
    assert_eq!(header(&resp, "etag"), etag);
    assert_eq!(header(&resp, "accept-ranges"), "bytes");
    assert_eq!(header(&resp, "x-cos-meta-zeta"), "last");
    assert_eq!(header(&resp, "x-cos-meta-alpha"), "Two Words");
    let modified = header(&resp, "last-modified");
    let parsed = httpdate::parse_http_date(&modified).unwrap();
    let age = std::time::SystemTime::now()
        .duration_since(parsed)
        .unwrap_or_default();
    assert!(age < Duration::from_secs(60), "{modified}");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), body);

    let resp = s.send(Req::new(Method::HEAD, key)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-length"), body.len().to_string());
    assert_eq!(header(&resp, "content-type"), "video/mp4");
    assert_eq!(header(&resp, "etag"), etag);
    assert_eq!(header(&resp, "last-modified"), modified);
    assert_eq!(header(&resp, "x-cos-meta-alpha"), "Two Words");
    assert!(resp.bytes().await.unwrap().is_empty());

    // Default Content-Type; overwrite replaces metadata.
    let resp = s.send(Req::new(Method::PUT, key).body(&b"v2"[..])).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = s.send(Req::new(Method::GET, key)).await;
    assert_eq!(header(&resp, "content-type"), "application/octet-stream");
    assert_eq!(header(&resp, "x-cos-meta-alpha"), "");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"v2");

    // Conditional GET.
    let etag = format!("\"{}\"", md5_hex(b"v2"));
    let resp = s
        .send(Req::new(Method::GET, key).header("if-none-match", etag.clone()))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    let resp = s
        .send(Req::new(Method::GET, key).header("if-match", "\"0000\""))
        .await;
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(error_code(resp).await, "PreconditionFailed");

    // Empty object.
    let resp = s.send(Req::new(Method::PUT, "empty").body(&b""[..])).await;
    assert_eq!(header(&resp, "etag"), format!("\"{}\"", md5_hex(b"")));
    let resp = s.send(Req::new(Method::GET, "empty")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-length"), "0");
    assert!(resp.bytes().await.unwrap().is_empty());

    // Delete, then 404 NoSuchKey; deleting again is still 204.
    let resp = s.send(Req::new(Method::DELETE, key)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = s.send(Req::new(Method::GET, key)).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "NoSuchKey");
    let resp = s.send(Req::new(Method::HEAD, key)).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.bytes().await.unwrap().is_empty());
    let resp = s.send(Req::new(Method::DELETE, key)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn content_md5() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let body: &'static [u8] = b"checked body";
    let resp = s
        .send(
            Req::new(Method::PUT, "good")
                .header("content-md5", md5_b64(body))
                .body(body),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    let resp = s
        .send(
            Req::new(Method::PUT, "bad")
                .header("content-md5", md5_b64(b"other"))
                .body(body),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "BadDigest");
    let resp = s.send(Req::new(Method::HEAD, "bad")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let resp = s
        .send(
            Req::new(Method::PUT, "bad")
                .header("content-md5", "not-base64!")
                .body(body),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "InvalidDigest");

    // Only "good" is stored (the rejected bodies left no object behind).
    let doc = s.list(&[]).await;
    assert_eq!(texts(&doc, "Contents", "Key"), ["good"]);
}

#[tokio::test]
async fn ranges() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let body: &'static [u8] = b"0123456789";
    s.put("r", body).await;
    let get = |range: &'static str| s.send(Req::new(Method::GET, "r").header("range", range));

    let resp = get("bytes=2-5").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&resp, "content-range"), "bytes 2-5/10");
    assert_eq!(header(&resp, "content-length"), "4");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"2345");

    let resp = get("bytes=7-").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&resp, "content-range"), "bytes 7-9/10");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"789");

    let resp = get("bytes=-3").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"789");

    let resp = get("bytes=5-100").await;
    assert_eq!(header(&resp, "content-range"), "bytes 5-9/10");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"56789");

    let resp = get("bytes=10-").await;
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&resp, "content-range"), "bytes */10");
    assert_eq!(error_code(resp).await, "InvalidRange");

    // Multi-range is not supported: the whole object.
    let resp = get("bytes=0-1,4-5").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), body);

    // HEAD with a range answers the range's headers without a body.
    let resp = s
        .send(Req::new(Method::HEAD, "r").header("range", "bytes=0-0"))
        .await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&resp, "content-range"), "bytes 0-0/10");
    assert!(resp.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn listing() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    // Uploaded out of order; byte order puts "B" before "a" and "é" last.
    let keys = [
        "photos/2026/b.jpg",
        "a.mp4",
        "videos/x.mp4",
        "B.mp4",
        "photos/2026/a.jpg",
        "photos/top.jpg",
        "videos/y y.mp4",
        "\u{e9}t\u{e9}.mp4",
        "a+b.mp4",
    ];
    for key in keys {
        assert_eq!(s.put(key, b"data").await.status(), StatusCode::OK);
    }
    let mut sorted: Vec<&str> = keys.to_vec();
    sorted.sort();

    let doc = s.list(&[]).await;
    assert_eq!(doc.text_of("Name"), Some(BUCKET));
    assert_eq!(doc.text_of("MaxKeys"), Some("1000"));
    assert_eq!(doc.text_of("IsTruncated"), Some("false"));
    assert!(doc.child("NextMarker").is_none());
    assert!(doc.child("EncodingType").is_none());
    assert_eq!(texts(&doc, "Contents", "Key"), sorted);
    let first = doc.child("Contents").unwrap();
    assert_eq!(first.text_of("Size"), Some("4"));
    assert_eq!(
        first.text_of("ETag").unwrap(),
        format!("\"{}\"", md5_hex(b"data"))
    );
    assert_eq!(first.text_of("StorageClass"), Some("STANDARD"));
    assert!(first.child("Owner").unwrap().text_of("ID").is_some());
    let modified = first.text_of("LastModified").unwrap();
    assert!(
        time::OffsetDateTime::parse(modified, &time::format_description::well_known::Rfc3339)
            .is_ok()
            && modified.ends_with('Z')
            && modified.len() == "2026-11-27T12:00:00.000Z".len(),
        "{modified}"
    );

    // Prefix.
    let doc = s.list(&[("prefix", "photos/")]).await;
    assert_eq!(doc.text_of("Prefix"), Some("photos/"));
    assert_eq!(
        texts(&doc, "Contents", "Key"),
        ["photos/2026/a.jpg", "photos/2026/b.jpg", "photos/top.jpg"]
    );

    // Delimiter.
    let doc = s.list(&[("delimiter", "/")]).await;
    assert_eq!(doc.text_of("Delimiter"), Some("/"));
    assert_eq!(
        texts(&doc, "Contents", "Key"),
        ["B.mp4", "a+b.mp4", "a.mp4", "\u{e9}t\u{e9}.mp4"]
    );
    assert_eq!(
        texts(&doc, "CommonPrefixes", "Prefix"),
        ["photos/", "videos/"]
    );
    let doc = s.list(&[("delimiter", "/"), ("prefix", "photos/")]).await;
    assert_eq!(texts(&doc, "Contents", "Key"), ["photos/top.jpg"]);
    assert_eq!(texts(&doc, "CommonPrefixes", "Prefix"), ["photos/2026/"]);

    // Paging with max-keys and marker covers every key exactly once, in order.
    let mut seen: Vec<String> = Vec::new();
    let mut marker = String::new();
    let mut pages = 0;
    loop {
        let doc = s
            .list(&[("max-keys", "4"), ("marker", marker.as_str())])
            .await;
        pages += 1;
        let page = texts(&doc, "Contents", "Key");
        assert!(page.len() <= 4);
        seen.extend(page);
        if doc.text_of("IsTruncated") == Some("true") {
            marker = doc.text_of("NextMarker").unwrap().to_owned();
            assert_eq!(Some(&marker), seen.last());
        } else {
            assert!(doc.child("NextMarker").is_none());
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, sorted);

    // Paging with a delimiter: the common prefix is the NextMarker and is not repeated.
    let doc = s.list(&[("delimiter", "/"), ("max-keys", "4")]).await;
    assert_eq!(doc.text_of("IsTruncated"), Some("true"));
    assert_eq!(doc.text_of("NextMarker"), Some("photos/"));
    assert_eq!(texts(&doc, "CommonPrefixes", "Prefix"), ["photos/"]);
    let doc = s
        .list(&[("delimiter", "/"), ("max-keys", "4"), ("marker", "photos/")])
        .await;
    assert_eq!(doc.text_of("Marker"), Some("photos/"));
    assert_eq!(doc.text_of("IsTruncated"), Some("false"));
    assert_eq!(texts(&doc, "Contents", "Key"), ["\u{e9}t\u{e9}.mp4"]);
    assert_eq!(texts(&doc, "CommonPrefixes", "Prefix"), ["videos/"]);

    // encoding-type=url.
    let doc = s
        .list(&[("encoding-type", "url"), ("prefix", "videos/y y")])
        .await;
    assert_eq!(doc.text_of("EncodingType"), Some("url"));
    assert_eq!(doc.text_of("Prefix"), Some("videos/y%20y"));
    assert_eq!(texts(&doc, "Contents", "Key"), ["videos/y%20y.mp4"]);
    let doc = s.list(&[("encoding-type", "url"), ("prefix", "a+")]).await;
    assert_eq!(texts(&doc, "Contents", "Key"), ["a%2Bb.mp4"]);

    // max-keys above 1000 is capped; invalid values are refused.
    let doc = s.list(&[("max-keys", "5000")]).await;
    assert_eq!(doc.text_of("MaxKeys"), Some("1000"));
    let resp = s
        .send(Req::new(Method::GET, "").query("max-keys", "many"))
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "InvalidArgument");
}

#[tokio::test]
async fn invalid_key_has_full_error_body() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    // `a%2F..` is not a dot segment on the wire, so no client normalises it; it decodes to `a/..`.
    let resp = s
        .send(
            Req::new(Method::PUT, "a/..")
                .raw_path("/a%2F..")
                .body(&b"x"[..]),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let request_id = header(&resp, "x-ci-request-id");
    assert!(!request_id.is_empty());
    // The code is in the body; the header would stop the Python SDK from reading it.
    assert_eq!(header(&resp, "x-cos-error-code"), "");
    let doc = XmlElement::parse(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(doc.name, "Error");
    assert_eq!(doc.text_of("Code"), Some("InvalidArgument"));
    assert!(doc.text_of("Message").unwrap().contains(".."));
    assert!(doc.text_of("Resource").is_some());
    assert_eq!(doc.text_of("RequestId"), Some(request_id.as_str()));

    let long = "k".repeat(851);
    let resp = s.send(Req::new(Method::PUT, &long).body(&b"x"[..])).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "KeyTooLong");
}

#[tokio::test]
async fn unsigned_and_badly_signed_requests_are_refused() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let resp = s.send(Req::new(Method::GET, "").unsigned()).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    error_code(resp).await;
    let resp = s
        .send(Req::new(Method::PUT, "k").unsigned().body(&b"x"[..]))
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // The signature covers the path: reusing it for another key fails.
    let resp = s
        .send(
            Req::new(Method::PUT, "k")
                .raw_path("/other")
                .body(&b"x"[..]),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let doc = s.list(&[]).await;
    assert!(doc.child("Contents").is_none());
}

#[tokio::test]
async fn large_upload_streams_in_chunks() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let data: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = data
        .chunks(64 * 1024 + 7)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let resp = s
        .send(
            Req::new(Method::PUT, "big/video.mp4")
                .header("content-type", "video/mp4")
                .body(body),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "etag"), format!("\"{}\"", md5_hex(&data)));

    let resp = s.send(Req::new(Method::GET, "big/video.mp4")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-length"), data.len().to_string());
    let got = resp.bytes().await.unwrap();
    assert!(got.as_ref() == data.as_slice(), "downloaded body differs");

    let resp = s
        .send(Req::new(Method::GET, "big/video.mp4").header("range", "bytes=1048570-1048585"))
        .await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        &data[1_048_570..=1_048_585]
    );
}

#[tokio::test]
async fn copy_object() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    s.create_bucket("other-1250000000").await;
    let resp = s
        .send(
            Req::new(Method::PUT, "src/a b.mp4")
                .header("content-type", "video/mp4")
                .header("x-cos-meta-origin", "camera")
                .body(&b"source body"[..]),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    // Virtual-host source form, metadata copied.
    let source = format!("{BUCKET}.cos.ap-guangzhou.myqcloud.com/src/a%20b.mp4");
    let resp = s
        .send(
            Req::new(Method::PUT, "dst/copy.mp4")
                .bucket("other-1250000000")
                .header("x-cos-copy-source", source),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let doc = XmlElement::parse(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(doc.name, "CopyObjectResult");
    assert_eq!(
        doc.text_of("ETag").unwrap(),
        format!("\"{}\"", md5_hex(b"source body"))
    );
    assert!(doc.text_of("LastModified").unwrap().ends_with('Z'));
    let resp = s
        .send(Req::new(Method::GET, "dst/copy.mp4").bucket("other-1250000000"))
        .await;
    assert_eq!(header(&resp, "content-type"), "video/mp4");
    assert_eq!(header(&resp, "x-cos-meta-origin"), "camera");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"source body");

    // Path source form, metadata replaced.
    let resp = s
        .send(
            Req::new(Method::PUT, "replaced")
                .header("x-cos-copy-source", format!("/{BUCKET}/src/a%20b.mp4"))
                .header("x-cos-metadata-directive", "Replaced")
                .header("content-type", "text/plain")
                .header("x-cos-meta-new", "yes"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = s.send(Req::new(Method::HEAD, "replaced")).await;
    assert_eq!(header(&resp, "content-type"), "text/plain");
    assert_eq!(header(&resp, "x-cos-meta-new"), "yes");
    assert_eq!(header(&resp, "x-cos-meta-origin"), "");

    // The copies are independent of the source.
    s.send(Req::new(Method::DELETE, "src/a b.mp4")).await;
    let resp = s.send(Req::new(Method::GET, "replaced")).await;
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"source body");

    // Missing source; copy onto itself without Replaced.
    let resp = s
        .send(Req::new(Method::PUT, "x").header("x-cos-copy-source", format!("/{BUCKET}/nope")))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "NoSuchKey");
    let resp = s
        .send(
            Req::new(Method::PUT, "replaced")
                .header("x-cos-copy-source", format!("/{BUCKET}/replaced")),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "InvalidRequest");
}

#[tokio::test]
async fn unsupported_subresources_are_refused() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let resp = s.send(Req::new(Method::GET, "").query("acl", "")).await;
    assert_eq!(resp.status(), StatusCode::NOT_IMPLEMENTED);
    assert_eq!(error_code(resp).await, "NotImplemented");
    let resp = s
        .send(
            Req::new(Method::PUT, "k")
                .query("tagging", "")
                .body("<Tagging/>"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_IMPLEMENTED);
    assert!(texts(&s.list(&[]).await, "Contents", "Key").is_empty());
}

#[tokio::test]
async fn uploads_and_copies_trigger_active_workflows() {
    use reelflow_model::workflow::{Workflow, WorkflowState};
    use reelflow_store::RunQuery;

    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let topology = "<Topology><Dependencies><Start>T</Start><T>End</T></Dependencies><Nodes>\
        <Start><Type>Start</Type><Input><ObjectPrefix>in/</ObjectPrefix></Input></Start>\
        <T><Type>Transcode</Type><Operation><TemplateId>t1x</TemplateId>\
        <Output><Bucket>media-1250000000</Bucket><Object>out/${InputName}.mp4</Object></Output>\
        </Operation></T></Nodes></Topology>";
    let workflow = Workflow {
        id: format!("w{}", "0".repeat(32)),
        bucket: BUCKET.into(),
        name: "on-upload".into(),
        state: WorkflowState::Active,
        topology_xml: XmlElement::parse(topology.as_bytes()).unwrap(),
        created: now_unix(),
        updated: now_unix(),
    };
    workflow.topology().expect("test topology is valid");
    s.store.save_workflow(&workflow).await.unwrap();
    let runs = || async {
        s.store
            .list_runs(&RunQuery {
                workflow_id: workflow.id.clone(),
                limit: 100,
                ..RunQuery::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.object)
            .collect::<Vec<String>>()
    };

    assert_eq!(s.put("other/a.mp4", b"x").await.status(), StatusCode::OK);
    assert!(runs().await.is_empty());
    assert_eq!(s.put("in/a.mp4", b"x").await.status(), StatusCode::OK);
    assert_eq!(runs().await, ["in/a.mp4"]);
    let resp = s
        .send(
            Req::new(Method::PUT, "in/b.mp4")
                .header("x-cos-copy-source", format!("/{BUCKET}/other/a.mp4")),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut objects = runs().await;
    objects.sort();
    assert_eq!(objects, ["in/a.mp4", "in/b.mp4"]);
}

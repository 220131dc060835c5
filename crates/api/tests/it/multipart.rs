//! Multipart upload over HTTP (api-reference-2.md §1): the whole life of an upload, the
//! documented errors, and UploadPart-Copy.

use md5::{Digest, Md5};
use reelflow_model::XmlElement;
use reqwest::{Method, StatusCode};

use crate::harness::*;

const MIB: usize = 1024 * 1024;

async fn xml(resp: reqwest::Response) -> XmlElement {
    let status = resp.status();
    let body = resp.bytes().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    XmlElement::parse(&body).unwrap()
}

impl Server {
    async fn initiate(&self, key: &str) -> String {
        let doc = xml(self
            .send(
                Req::new(Method::POST, key)
                    .query("uploads", "")
                    .header("content-type", "video/mp4")
                    .header("x-cos-meta-origin", "camera 1"),
            )
            .await)
        .await;
        assert_eq!(doc.text_of("Key"), Some(key));
        doc.text_of("UploadId").unwrap().to_owned()
    }

    async fn upload_part(&self, key: &str, upload: &str, number: &str, body: Vec<u8>) -> String {
        let resp = self
            .send(
                Req::new(Method::PUT, key)
                    .query("partNumber", number)
                    .query("uploadId", upload)
                    .body(body.clone()),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let etag = header(&resp, "etag");
        assert_eq!(etag, format!("\"{}\"", md5_hex(&body)));
        assert_eq!(
            header(&resp, "x-cos-hash-crc64ecma"),
            reelflow_objects::crc64(&body).to_string()
        );
        etag
    }

    async fn complete(&self, key: &str, upload: &str, parts: &[(u32, &str)]) -> reqwest::Response {
        let body: String = parts
            .iter()
            .map(|(n, etag)| {
                format!(
                    "<Part><PartNumber>{n}</PartNumber><ETag>{}</ETag></Part>",
                    etag.replace('"', "&quot;")
                )
            })
            .collect();
        self.send(
            Req::new(Method::POST, key)
                .query("uploadId", upload)
                .body(format!(
                    "<CompleteMultipartUpload>{body}</CompleteMultipartUpload>"
                )),
        )
        .await
    }
}

#[tokio::test]
async fn upload_list_complete_read() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let key = "in/big video.mp4";
    let upload = s.initiate(key).await;
    let (a, b, c) = (vec![b'a'; MIB + 1], vec![b'b'; MIB], b"tail bytes".to_vec());
    let e1 = s.upload_part(key, &upload, "1", a.clone()).await;
    s.upload_part(key, &upload, "2", vec![b'x'; MIB]).await;
    let e2 = s.upload_part(key, &upload, "2", b.clone()).await; // replaces the first part 2
    let e3 = s.upload_part(key, &upload, "3", c.clone()).await;

    let doc = xml(s
        .send(
            Req::new(Method::GET, key)
                .query("uploadId", &upload)
                .query("max-parts", "2"),
        )
        .await)
    .await;
    assert_eq!(texts(&doc, "Part", "PartNumber"), ["1", "2"]);
    assert_eq!(texts(&doc, "Part", "ETag"), [e1.clone(), e2.clone()]);
    assert_eq!(doc.text_of("IsTruncated"), Some("true"));
    assert_eq!(doc.text_of("NextPartNumberMarker"), Some("2"));
    let doc = xml(s
        .send(
            Req::new(Method::GET, key)
                .query("uploadId", &upload)
                .query("part-number-marker", "2"),
        )
        .await)
    .await;
    assert_eq!(texts(&doc, "Part", "PartNumber"), ["3"]);
    assert_eq!(doc.text_of("IsTruncated"), Some("false"));

    let doc = xml(s
        .send(
            Req::new(Method::GET, "")
                .query("uploads", "")
                .query("encoding-type", "url"),
        )
        .await)
    .await;
    assert_eq!(texts(&doc, "Upload", "Key"), ["in/big%20video.mp4"]);
    assert_eq!(
        texts(&doc, "Upload", "UploadId"),
        std::slice::from_ref(&upload)
    );

    let resp = s
        .complete(key, &upload, &[(1, &e1), (2, &e2), (3, &e3)])
        .await;
    let crc_header = header(&resp, "x-cos-hash-crc64ecma");
    let doc = xml(resp).await;
    let mut digests = Vec::new();
    for part in [&a, &b, &c] {
        digests.extend_from_slice(&Md5::digest(part));
    }
    let want_etag = format!("\"{}-3\"", hex::encode(Md5::digest(&digests)));
    assert_eq!(doc.text_of("ETag"), Some(want_etag.as_str()));
    let whole: Vec<u8> = [a.clone(), b.clone(), c.clone()].concat();
    assert_eq!(crc_header, reelflow_objects::crc64(&whole).to_string());

    let resp = s.send(Req::new(Method::GET, key)).await;
    assert_eq!(header(&resp, "etag"), want_etag);
    assert_eq!(header(&resp, "content-type"), "video/mp4");
    assert_eq!(header(&resp, "x-cos-meta-origin"), "camera 1");
    assert_eq!(header(&resp, "x-cos-hash-crc64ecma"), crc_header);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), whole.as_slice());
    // A range across the boundary of parts 1 and 2.
    let resp = s
        .send(Req::new(Method::GET, key).header("range", format!("bytes={}-{}", MIB - 2, MIB + 3)))
        .await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        &whole[MIB - 2..=MIB + 3]
    );

    // The upload is gone.
    let resp = s.complete(key, &upload, &[(1, &e1)]).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "NoSuchUpload");
    let doc = xml(s.send(Req::new(Method::GET, "").query("uploads", "")).await).await;
    assert!(texts(&doc, "Upload", "Key").is_empty());
}

#[tokio::test]
async fn completion_errors_and_abort() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let key = "k.bin";
    let upload = s.initiate(key).await;
    let e1 = s.upload_part(key, &upload, "1", vec![1; 100]).await;
    let e2 = s.upload_part(key, &upload, "2", vec![2; 100]).await;
    for (parts, code) in [
        (vec![(1, e1.as_str()), (2, e2.as_str())], "EntityTooSmall"),
        (vec![(2, e2.as_str()), (1, e1.as_str())], "InvalidPartOrder"),
        (vec![(1, e2.as_str())], "InvalidPart"),
        (vec![(3, e1.as_str())], "InvalidPart"),
    ] {
        let resp = s.complete(key, &upload, &parts).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{code}");
        assert_eq!(error_code(resp).await, code);
    }
    let resp = s
        .send(
            Req::new(Method::PUT, key)
                .query("partNumber", "10001")
                .query("uploadId", &upload)
                .body("x"),
        )
        .await;
    assert_eq!(error_code(resp).await, "InvalidArgument");
    // A single small part is fine: the last part may be smaller.
    let resp = s.complete(key, &upload, &[(2, &e2)]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        s.send(Req::new(Method::GET, key))
            .await
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        &[2; 100]
    );

    let upload = s.initiate(key).await;
    s.upload_part(key, &upload, "1", vec![3; 10]).await;
    let resp = s
        .send(Req::new(Method::DELETE, key).query("uploadId", &upload))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    for method in [Method::DELETE, Method::GET] {
        let resp = s
            .send(Req::new(method, key).query("uploadId", &upload))
            .await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(resp).await, "NoSuchUpload");
    }
    let resp = s
        .send(
            Req::new(Method::PUT, key)
                .query("partNumber", "1")
                .query("uploadId", &upload)
                .body("x"),
        )
        .await;
    assert_eq!(error_code(resp).await, "NoSuchUpload");
    // The aborted upload left the completed object alone.
    assert_eq!(
        s.send(Req::new(Method::GET, key))
            .await
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        &[2; 100]
    );
}

#[tokio::test]
async fn upload_part_copy_with_range() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let source: Vec<u8> = (0..=255u8).cycle().take(3 * MIB).collect();
    let resp = s
        .send(Req::new(Method::PUT, "src.bin").body(source.clone()))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let upload = s.initiate("dst.bin").await;
    let copy_source = format!("{BUCKET}.cos.ap-guangzhou.myqcloud.com/src.bin");
    let mut etags = Vec::new();
    for (n, range) in [
        ("1", format!("bytes=0-{}", 2 * MIB - 1)),
        ("2", format!("bytes={}-{}", 2 * MIB, 3 * MIB - 1)),
    ] {
        let doc = xml(s
            .send(
                Req::new(Method::PUT, "dst.bin")
                    .query("partNumber", n)
                    .query("uploadId", &upload)
                    .header("x-cos-copy-source", copy_source.clone())
                    .header("x-cos-copy-source-range", range),
            )
            .await)
        .await;
        assert_eq!(doc.name, "CopyPartResult");
        etags.push(doc.text_of("ETag").unwrap().to_owned());
    }
    let resp = s
        .complete("dst.bin", &upload, &[(1, &etags[0]), (2, &etags[1])])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let copied = s
        .send(Req::new(Method::GET, "dst.bin"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(copied.as_ref(), source.as_slice());
    let resp = s
        .send(
            Req::new(Method::PUT, "dst.bin")
                .query("partNumber", "1")
                .query("uploadId", &upload)
                .header("x-cos-copy-source", copy_source)
                .header("x-cos-copy-source-range", format!("bytes=0-{}", 3 * MIB)),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::NOT_FOUND,
        "the upload is completed"
    );
}

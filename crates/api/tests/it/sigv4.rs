//! S3 clients' AWS SigV4 on the same routes as q-sign (api-reference-2.md §3): signed and
//! unsigned payloads, aws-chunked with a checksum trailer, presigned URLs, and S3-shaped errors.

use reelflow_model::XmlElement;
use reelflow_signature::v4::{EMPTY_SHA256, sha256_hex};
use reelflow_signature::{Credentials, V4Request, V4Scope, presign_v4, sign_v4};
use reqwest::{Method, StatusCode};

use crate::harness::*;

fn amz_now() -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::now_utc().format(&format).unwrap()
}

/// Sends a path-style request signed with SigV4 header auth; `payload_hash` is the
/// `x-amz-content-sha256` value, `extra` more (signed) headers.
pub(crate) async fn send_v4(
    s: &Server,
    method: Method,
    path: &str,
    secret: &str,
    payload_hash: &str,
    extra: &[(&str, String)],
    body: Vec<u8>,
) -> reqwest::Response {
    let host = s.addr.to_string();
    let date = amz_now();
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), host.clone()),
        ("x-amz-date".into(), date.clone()),
        ("x-amz-content-sha256".into(), payload_hash.into()),
    ];
    headers.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = sign_v4(
        &V4Request {
            method: method.as_str(),
            raw_path: path,
            raw_query: None,
            headers: &headers,
        },
        &Credentials {
            secret_id: SECRET_ID.into(),
            secret_key: secret.into(),
        },
        &V4Scope {
            region: "ap-guangzhou",
            service: "s3",
            amz_date: &date,
        },
        &names,
        payload_hash,
    )
    .unwrap();
    let mut builder = s.client.request(method, format!("http://{host}{path}"));
    for (name, value) in &headers {
        if name != "host" {
            builder = builder.header(name, value);
        }
    }
    builder
        .header("authorization", signed.authorization)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn signed_and_unsigned_payloads() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let path = format!("/{BUCKET}/dir/a b.txt").replace(' ', "%20");
    let body = b"hello world".to_vec();
    let resp = send_v4(
        &s,
        Method::PUT,
        &path,
        SECRET_KEY,
        &sha256_hex(&body),
        &[],
        body.clone(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = send_v4(
        &s,
        Method::GET,
        &path,
        SECRET_KEY,
        EMPTY_SHA256,
        &[],
        vec![],
    )
    .await;
    assert_eq!(resp.bytes().await.unwrap().as_ref(), body.as_slice());
    let resp = send_v4(
        &s,
        Method::PUT,
        &path,
        SECRET_KEY,
        "UNSIGNED-PAYLOAD",
        &[("x-amz-meta-camera", "b".into())],
        b"v2".to_vec(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = send_v4(
        &s,
        Method::HEAD,
        &path,
        SECRET_KEY,
        EMPTY_SHA256,
        &[],
        vec![],
    )
    .await;
    assert_eq!(header(&resp, "x-amz-meta-camera"), "b");

    // A body that does not match its signed hash is refused and stores nothing.
    let resp = send_v4(
        &s,
        Method::PUT,
        &path,
        SECRET_KEY,
        &sha256_hex(b"other"),
        &[],
        b"v3".to_vec(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let doc = XmlElement::parse(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(doc.text_of("Code"), Some("XAmzContentSHA256Mismatch"));
    let resp = send_v4(
        &s,
        Method::GET,
        &path,
        SECRET_KEY,
        EMPTY_SHA256,
        &[],
        vec![],
    )
    .await;
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"v2");
}

#[tokio::test]
async fn wrong_secret_gets_an_s3_error() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let path = format!("/{BUCKET}/k");
    let resp = send_v4(
        &s,
        Method::PUT,
        &path,
        "not the secret",
        "UNSIGNED-PAYLOAD",
        &[],
        b"x".to_vec(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(!header(&resp, "x-amz-request-id").is_empty());
    let doc = XmlElement::parse(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(doc.text_of("Code"), Some("SignatureDoesNotMatch"));
    assert!(doc.text_of("HostId").is_some() && doc.text_of("RequestId").is_some());
    assert!(texts(&s.list(&[]).await, "Contents", "Key").is_empty());
}

#[tokio::test]
async fn aws_chunked_with_unsigned_trailer_stores_the_payload() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let path = format!("/{BUCKET}/chunked.txt");
    let framed = b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n".to_vec();
    let extra = [
        ("content-encoding", "aws-chunked".to_owned()),
        ("x-amz-decoded-content-length", "11".to_owned()),
        ("x-amz-trailer", "x-amz-checksum-crc32".to_owned()),
    ];
    let resp = send_v4(
        &s,
        Method::PUT,
        &path,
        SECRET_KEY,
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        &extra,
        framed,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = send_v4(
        &s,
        Method::GET,
        &path,
        SECRET_KEY,
        EMPTY_SHA256,
        &[],
        vec![],
    )
    .await;
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"hello world");

    let bad = b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n".to_vec();
    let resp = send_v4(
        &s,
        Method::PUT,
        &path,
        SECRET_KEY,
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        &extra,
        bad,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let doc = XmlElement::parse(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(doc.text_of("Code"), Some("BadDigest"));
}

#[tokio::test]
async fn presigned_get() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    assert_eq!(
        s.put("shared.txt", b"shared").await.status(),
        StatusCode::OK
    );
    let host = s.addr.to_string();
    let path = format!("/{BUCKET}/shared.txt");
    let headers = vec![("host".to_owned(), host.clone())];
    let query = presign_v4(
        &V4Request {
            method: "GET",
            raw_path: &path,
            raw_query: None,
            headers: &headers,
        },
        &Credentials {
            secret_id: SECRET_ID.into(),
            secret_key: SECRET_KEY.into(),
        },
        &V4Scope {
            region: "ap-guangzhou",
            service: "s3",
            amz_date: &amz_now(),
        },
        600,
        &["host"],
    )
    .unwrap();
    let url = format!("http://{host}{path}?{query}");
    let resp = s.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"shared");
    let tampered = url.replace("shared.txt", "other.txt");
    let resp = s.client.get(&tampered).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

//! What goes over the wire, byte for byte: response header names spelled as COS spells them
//! (api-reference-2.md §1.6), on success and error responses, with keep-alive.

use std::time::Duration;

use reelflow_signature::{Credentials, SignedRequest, sign};
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::*;

/// Sends raw HTTP/1.1 requests on one connection and returns each response head as text.
async fn raw_heads(server: &Server, requests: &[String]) -> Vec<String> {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut heads = Vec::new();
    for request in requests {
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let head_end = loop {
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "connection closed");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
        };
        let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .map_or(0, |v| v.trim().parse().unwrap());
        let mut have = buf.len() - head_end;
        while have < length {
            let mut chunk = [0u8; 4096];
            have += stream.read(&mut chunk).await.unwrap();
        }
        heads.push(head);
    }
    heads
}

fn signed_request(method: &Method, key: &str, body: &str) -> String {
    let host = format!("{BUCKET}.cos.ap-guangzhou.myqcloud.com");
    let now = reelflow_model::clock::now_unix();
    let auth = sign(
        &SignedRequest {
            method: method.as_str(),
            decoded_path: &format!("/{key}"),
            query: &[],
            headers: &[("host".into(), host.clone())],
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
    format!(
        "{method} /{key} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn header_names(head: &str) -> Vec<&str> {
    head.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':').map(|(name, _)| name))
        .collect()
}

#[tokio::test]
async fn header_names_are_spelled_as_cos_spells_them() {
    let server = Server::start().await;
    server.create_bucket(BUCKET).await;
    let heads = raw_heads(
        &server,
        &[
            signed_request(&Method::PUT, "a.txt", "hello"),
            signed_request(&Method::GET, "a.txt", ""),
            signed_request(&Method::GET, "missing.txt", ""),
        ],
    )
    .await;
    let put = header_names(&heads[0]);
    assert!(put.contains(&"ETag"), "{put:?}");
    assert!(put.contains(&"x-cos-request-id"), "{put:?}");
    assert!(put.contains(&"Content-Length"), "{put:?}");
    let get = header_names(&heads[1]);
    for name in [
        "ETag",
        "Content-Length",
        "Content-Type",
        "Last-Modified",
        "Accept-Ranges",
        "x-cos-request-id",
        "x-cos-hash-crc64ecma",
        "Date",
        "Server",
    ] {
        assert!(get.contains(&name), "{name} missing from {get:?}");
    }
    assert!(heads[2].starts_with("HTTP/1.1 404"), "{}", heads[2]);
    let error = header_names(&heads[2]);
    assert!(error.contains(&"Content-Type"), "{error:?}");
    assert!(error.contains(&"x-cos-request-id"), "{error:?}");
}

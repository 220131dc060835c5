//! Arbitrary bytes where the API parses untrusted input (multipart and DeleteObjects bodies,
//! aws-chunked framing, Range headers, keys) never write anything and never fail with a 5xx.

use reqwest::{Method, StatusCode};

use crate::harness::*;
use crate::sigv4::send_v4;

/// A small deterministic generator (xorshift), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = (self.next() % max as u64) as usize;
        let alphabet = b"<>/\r\n0123456789abcdef;=:-&\"PartNumberETagDeleteObjectKey chunk";
        (0..len)
            .map(|_| {
                let r = self.next();
                if r.is_multiple_of(4) {
                    (r >> 8) as u8
                } else {
                    alphabet[(r >> 8) as usize % alphabet.len()]
                }
            })
            .collect()
    }
}

fn client_error(status: StatusCode) -> bool {
    status.is_client_error() || status == StatusCode::NOT_IMPLEMENTED
}

#[tokio::test]
async fn garbage_never_writes() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    assert_eq!(s.put("keep", b"kept").await.status(), StatusCode::OK);
    let upload = {
        let resp = s
            .send(Req::new(Method::POST, "target").query("uploads", ""))
            .await;
        let doc = reelflow_model::XmlElement::parse(&resp.bytes().await.unwrap()).unwrap();
        doc.text_of("UploadId").unwrap().to_owned()
    };
    let resp = s
        .send(
            Req::new(Method::PUT, "target")
                .query("partNumber", "1")
                .query("uploadId", &upload)
                .body("part"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..64 {
        let body = rng.bytes(300);
        let resp = s
            .send(
                Req::new(Method::POST, "target")
                    .query("uploadId", &upload)
                    .body(body.clone()),
            )
            .await;
        assert!(
            client_error(resp.status()),
            "complete, round {round}: {}",
            resp.status()
        );
        let resp = s
            .send(
                Req::new(Method::POST, "")
                    .query("delete", "")
                    .body(body.clone()),
            )
            .await;
        assert!(
            client_error(resp.status()),
            "delete, round {round}: {}",
            resp.status()
        );
        let resp = send_v4(
            &s,
            Method::PUT,
            &format!("/{BUCKET}/chunked"),
            SECRET_KEY,
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            &[("content-encoding", "aws-chunked".to_owned())],
            body.clone(),
        )
        .await;
        assert!(
            client_error(resp.status()),
            "aws-chunked, round {round}: {}",
            resp.status()
        );
        let range = String::from_utf8_lossy(&body[..body.len().min(20)]).into_owned();
        if let Ok(value) = reqwest::header::HeaderValue::from_str(&format!("bytes={range}")) {
            let resp = s
                .send(Req::new(Method::GET, "keep").header("range", value.to_str().unwrap_or("")))
                .await;
            assert!(!resp.status().is_server_error(), "range {range:?}");
        }
        let key = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
        let resp = s.send(Req::new(Method::HEAD, &key)).await;
        assert!(!resp.status().is_server_error(), "key {key:?}");
    }
    let listing = texts(&s.list(&[]).await, "Contents", "Key");
    assert_eq!(listing, ["keep"]);
    let resp = s.send(Req::new(Method::GET, "keep")).await;
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"kept");
}

//! Bucket-level calls S3 tools rely on (ListBuckets, DeleteObjects, ListObjectsV2, location),
//! addressing under a configured domain, and CI routing safety.

use reelflow_model::XmlElement;
use reqwest::{Method, StatusCode};

use crate::harness::*;

async fn xml(resp: reqwest::Response) -> XmlElement {
    assert_eq!(resp.status(), StatusCode::OK);
    XmlElement::parse(&resp.bytes().await.unwrap()).unwrap()
}

#[tokio::test]
async fn list_buckets_on_service_hosts() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    s.create_bucket("other-1250000000").await;
    for host in [
        "service.cos.myqcloud.com".to_owned(),
        s.addr.to_string(),
        "cos.example.internal".to_owned(),
    ] {
        let doc = xml(s.send(Req::new(Method::GET, "").host(host)).await).await;
        assert_eq!(doc.name, "ListAllMyBucketsResult");
        let names: Vec<String> = doc
            .child("Buckets")
            .unwrap()
            .children_named("Bucket")
            .map(|b| b.text_of("Name").unwrap().to_owned())
            .collect();
        assert_eq!(names, [BUCKET, "other-1250000000"]);
    }
}

#[tokio::test]
async fn virtual_host_under_the_configured_domain() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let host = format!("{BUCKET}.cos.example.internal:9000");
    let resp = s
        .send(
            Req::new(Method::PUT, "d/k.txt")
                .host(host.clone())
                .body("v1"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = s.send(Req::new(Method::GET, "d/k.txt").host(host)).await;
    assert_eq!(resp.bytes().await.unwrap(), "v1");
    let path_style = format!("{BUCKET}/d/k.txt");
    let resp = s
        .send(Req::new(Method::GET, &path_style).host("cos.example.internal"))
        .await;
    assert_eq!(resp.bytes().await.unwrap(), "v1");
}

#[tokio::test]
async fn delete_objects_quiet_and_verbose() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    for key in ["a", "b c", "d/e"] {
        assert_eq!(s.put(key, b"x").await.status(), StatusCode::OK);
    }
    let body = "<Delete><Object><Key>a</Key></Object><Object><Key>missing</Key></Object>\
                <Object><Key>x/../y</Key></Object></Delete>";
    let doc = xml(s
        .send(
            Req::new(Method::POST, "")
                .query("delete", "")
                .header("content-md5", md5_b64(body.as_bytes()))
                .body(body),
        )
        .await)
    .await;
    assert_eq!(texts(&doc, "Deleted", "Key"), ["a", "missing"]);
    assert_eq!(texts(&doc, "Error", "Key"), ["x/../y"]);
    assert_eq!(texts(&doc, "Error", "Code"), ["InvalidArgument"]);
    let body = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>\
                <Object><Key>b c</Key></Object><Object><Key>d/e</Key></Object></Delete>";
    let doc = xml(s
        .send(Req::new(Method::POST, "").query("delete", "").body(body))
        .await)
    .await;
    assert!(doc.children.is_empty(), "{doc:?}");
    assert!(texts(&s.list(&[]).await, "Contents", "Key").is_empty());
    let resp = s
        .send(
            Req::new(Method::POST, "")
                .query("delete", "")
                .header("content-md5", md5_b64(b"other"))
                .body(body),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "BadDigest");
}

#[tokio::test]
async fn list_objects_v2_pages_with_tokens() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    let keys = ["a/1", "a/2", "b", "c d", "e+f"];
    for key in keys {
        s.put(key, b"x").await;
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = vec![
            ("list-type", "2"),
            ("max-keys", "2"),
            ("encoding-type", "url"),
        ];
        if let Some(t) = &token {
            q.push(("continuation-token", t.as_str()));
        }
        let doc = s.list(&q).await;
        let count: usize = doc.text_of("KeyCount").unwrap().parse().unwrap();
        let page = texts(&doc, "Contents", "Key");
        assert_eq!(page.len(), count);
        assert!(doc.child("Marker").is_none());
        seen.extend(page);
        match doc.text_of("NextContinuationToken") {
            Some(t) => token = Some(t.to_owned()),
            None => {
                assert_eq!(doc.text_of("IsTruncated"), Some("false"));
                break;
            }
        }
    }
    assert_eq!(seen, ["a/1", "a/2", "b", "c%20d", "e%2Bf"]);
    let doc = s
        .list(&[
            ("list-type", "2"),
            ("delimiter", "/"),
            ("start-after", "a/1"),
        ])
        .await;
    // The group `a/` sorts before the start key: listed on an earlier page, as in v1.
    assert!(texts(&doc, "CommonPrefixes", "Prefix").is_empty());
    assert_eq!(texts(&doc, "Contents", "Key"), ["b", "c d", "e+f"]);
    assert_eq!(doc.text_of("StartAfter"), Some("a/1"));
    let doc = s.list(&[("list-type", "2"), ("delimiter", "/")]).await;
    assert_eq!(texts(&doc, "CommonPrefixes", "Prefix"), ["a/"]);
    let doc = s.list(&[("location", "")]).await;
    assert_eq!(doc.name, "LocationConstraint");
    assert_eq!(doc.text, "ap-guangzhou");
}

#[tokio::test]
async fn ci_resources_never_create_objects() {
    let s = Server::start().await;
    s.create_bucket(BUCKET).await;
    for (method, path) in [
        (Method::PUT, "playKey"),
        (Method::PUT, "picqueue/p0123456789abcdef0123456789abcdef"),
        (Method::POST, "asrqueue"),
        (Method::POST, "video/auditing"),
        // A batch trigger method reelflow does not serve (PUT is a cancel: 404 for `abc`).
        (Method::DELETE, "inventorytriggerjob/abc"),
    ] {
        let resp = s
            .send(
                Req::new(method.clone(), path)
                    .header("content-type", "application/xml")
                    .body("<Request/>"),
            )
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::NOT_IMPLEMENTED,
            "{method} {path}"
        );
        assert_eq!(error_code(resp).await, "NotImplemented");
    }
    let resp = s
        .send(Req::new(Method::GET, "mediabucket").host("ci.ap-guangzhou.myqcloud.com"))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_IMPLEMENTED);
    assert!(texts(&s.list(&[]).await, "Contents", "Key").is_empty());
}

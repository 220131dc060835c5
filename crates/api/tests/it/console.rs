//! The web console's server side: session tokens (mint, accept, expiry, tampering), pre-signed
//! media URLs, and the embedded assets.

use reelflow_api::console::session;
use reelflow_model::clock::now_unix;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::harness::{BUCKET, Req, SECRET_ID, SECRET_KEY, Server, header};

fn host(server: &Server) -> String {
    server.addr.to_string()
}

/// Mints a token with a request signed by the key pair.
async fn mint(server: &Server, body: &'static str) -> reqwest::Response {
    server
        .send(
            Req::new(Method::POST, "_reelflow/v1/sessions")
                .host(host(server))
                .body(body),
        )
        .await
}

async fn token(server: &Server) -> String {
    let resp = mint(server, r#"{"ttl_secs": 600}"#).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let value: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(value["token_type"], "Bearer");
    assert_eq!(value["secret_id"], SECRET_ID);
    assert_eq!(value["expires_in"], 600);
    value["token"].as_str().unwrap().to_owned()
}

/// A path-style request authorized by `Authorization: Bearer <token>`.
async fn bearer(
    server: &Server,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&'static str>,
) -> reqwest::Response {
    let mut req = server
        .client
        .request(method, format!("http://{}{path}", server.addr))
        .header("authorization", format!("Bearer {token}"));
    if let Some(body) = body {
        req = req.body(body);
    }
    req.send().await.unwrap()
}

async fn error_message(resp: reqwest::Response) -> String {
    let text = resp.text().await.unwrap();
    let start = text.find("<Message>").map(|i| i + 9).unwrap_or(0);
    let end = text.find("</Message>").unwrap_or(text.len());
    text[start..end].to_owned()
}

#[tokio::test]
async fn minted_token_authorizes_object_and_ci_requests() {
    let server = Server::start().await;
    let token = token(&server).await;
    let resp = bearer(&server, Method::PUT, &format!("/{BUCKET}"), &token, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = bearer(
        &server,
        Method::PUT,
        &format!("/{BUCKET}/in/a.txt"),
        &token,
        Some("hello"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = bearer(
        &server,
        Method::GET,
        &format!("/{BUCKET}/in/a.txt"),
        &token,
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), "hello");
    let resp = bearer(
        &server,
        Method::GET,
        &format!("/{BUCKET}/queue"),
        &token,
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("<QueueList>"));
    let resp = bearer(
        &server,
        Method::GET,
        "/_reelflow/v1/callbacks",
        &token,
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_session_cannot_mint_sessions() {
    let server = Server::start().await;
    let token = token(&server).await;
    let resp = bearer(
        &server,
        Method::POST,
        "/_reelflow/v1/sessions",
        &token,
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Nor can an unsigned request.
    let resp = server
        .send(
            Req::new(Method::POST, "_reelflow/v1/sessions")
                .host(host(&server))
                .unsigned(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn lifetimes_out_of_range_are_refused() {
    let server = Server::start().await;
    for body in [r#"{"ttl_secs": 5}"#, r#"{"ttl_secs": 86400}"#, "not json"] {
        let resp = mint(&server, body).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    // No body: the default hour.
    let resp = mint(&server, "").await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let value: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(value["expires_in"], session::DEFAULT_TTL_SECS);
}

#[tokio::test]
async fn expired_tampered_and_foreign_tokens_are_refused() {
    let server = Server::start().await;
    let path = format!("/{BUCKET}");
    let expired = session::mint(SECRET_ID, SECRET_KEY, now_unix() - 1);
    let resp = bearer(&server, Method::PUT, &path, &expired, None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(error_message(resp).await.contains("expired"));

    let good = token(&server).await;
    let parts: Vec<&str> = good.split('.').collect();
    let later = format!(
        "{}.{}.{}.{}.{}",
        parts[0],
        parts[1],
        now_unix() + 40_000,
        parts[3],
        parts[4]
    );
    let resp = bearer(&server, Method::PUT, &path, &later, None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(error_message(resp).await.contains("signature"));

    let foreign = session::mint(SECRET_ID, "another key", now_unix() + 600);
    let resp = bearer(&server, Method::PUT, &path, &foreign, None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    let unknown = session::mint("AKIDnobody", SECRET_KEY, now_unix() + 600);
    let resp = bearer(&server, Method::PUT, &path, &unknown, None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    let resp = bearer(&server, Method::PUT, &path, "garbage", None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&resp, "content-type"), "application/xml");

    // The good one still works, and nothing above created the bucket.
    let resp = bearer(&server, Method::GET, &path, &good, None).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn presigned_urls_work_without_credentials_and_break_when_changed() {
    let server = Server::start().await;
    let token = token(&server).await;
    bearer(&server, Method::PUT, &format!("/{BUCKET}"), &token, None).await;
    let resp = bearer(
        &server,
        Method::PUT,
        &format!("/{BUCKET}/out/a%20b.jpg"),
        &token,
        Some("jpeg!"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = bearer(
        &server,
        Method::POST,
        "/_reelflow/v1/presign",
        &token,
        Some(
            r#"{"bucket": "media-1250000000", "key": "out/a b.jpg", "expires_secs": 60,
                "query": [["response-content-disposition", "attachment"]]}"#,
        ),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let value: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    let url = value["url"].as_str().unwrap();
    assert!(url.starts_with("/media-1250000000/out/a%20b.jpg?"), "{url}");
    let get = |url: String| {
        let client = server.client.clone();
        let addr = server.addr;
        async move {
            client
                .get(format!("http://{addr}{url}"))
                .send()
                .await
                .unwrap()
        }
    };
    let resp = get(url.to_owned()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-disposition"), "attachment");
    assert_eq!(resp.text().await.unwrap(), "jpeg!");
    let changed = url.replace("attachment", "inline");
    assert_eq!(get(changed).await.status(), StatusCode::FORBIDDEN);
    // Without a session or signature: refused.
    let resp = server
        .client
        .post(format!("http://{}/_reelflow/v1/presign", server.addr))
        .body(r#"{"bucket": "media-1250000000", "key": "out/a b.jpg"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn console_assets_are_served_without_credentials() {
    let server = Server::start().await;
    let get = |path: &'static str| {
        let client = server.client.clone();
        let addr = server.addr;
        async move {
            client
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap()
        }
    };
    let resp = get("/_reelflow/console/").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), "text/html; charset=utf-8");
    assert!(header(&resp, "content-security-policy").contains("script-src 'self'"));
    assert!(resp.text().await.unwrap().contains("js/app.js"));
    let resp = get("/_reelflow/console/js/app.js").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(header(&resp, "content-type").starts_with("text/javascript"));
    assert_eq!(
        get("/_reelflow/console/nothing.js").await.status(),
        StatusCode::NOT_FOUND
    );
}

//! The shared harness: the app is built in-process on an in-memory store and a temporary blob
//! directory, served on 127.0.0.1, and driven with signed reqwest requests.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use md5::{Digest, Md5};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reelflow_api::{ApiConfig, AppState, router};
use reelflow_engine::{Engine, EngineConfig};
use reelflow_model::XmlElement;
use reelflow_model::clock::{DisplayOffset, now_unix};
use reelflow_objects::LocalBlobStore;
use reelflow_signature::{Credentials, SignedRequest, sign};
use reelflow_store::sqlite::SqliteStore;
use reqwest::{Method, StatusCode};
use tempfile::TempDir;
use tokio::sync::Notify;

pub(crate) const BUCKET: &str = "media-1250000000";
pub(crate) const SECRET_ID: &str = "AKIDtest";
pub(crate) const SECRET_KEY: &str = "secret";

/// Path characters sent as is: unreserved and `/`.
pub(crate) const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

pub(crate) struct Server {
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) store: Arc<dyn reelflow_store::Store>,
    pub(crate) client: reqwest::Client,
    pub(crate) _dir: TempDir,
}

/// One request to send; `key` is percent-encoded into the path (with `/` kept) unless
/// `raw_path` is given.
pub(crate) struct Req<'a> {
    pub(crate) method: Method,
    pub(crate) bucket: &'a str,
    pub(crate) key: &'a str,
    pub(crate) raw_path: Option<&'a str>,
    pub(crate) query: Vec<(&'a str, &'a str)>,
    pub(crate) headers: Vec<(&'a str, String)>,
    pub(crate) body: Option<reqwest::Body>,
    pub(crate) signed: bool,
    /// Host header instead of `<bucket>.cos.ap-guangzhou.myqcloud.com`.
    pub(crate) host: Option<String>,
}

impl<'a> Req<'a> {
    pub(crate) fn new(method: Method, key: &'a str) -> Self {
        Self {
            method,
            bucket: BUCKET,
            key,
            raw_path: None,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            signed: true,
            host: None,
        }
    }
    /// Sends with this Host header; `key` is then the whole path (path style).
    pub(crate) fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }
    pub(crate) fn bucket(mut self, bucket: &'a str) -> Self {
        self.bucket = bucket;
        self
    }
    pub(crate) fn query(mut self, name: &'a str, value: &'a str) -> Self {
        self.query.push((name, value));
        self
    }
    pub(crate) fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    pub(crate) fn body(mut self, body: impl Into<reqwest::Body>) -> Self {
        self.body = Some(body.into());
        self
    }
    pub(crate) fn raw_path(mut self, path: &'a str) -> Self {
        self.raw_path = Some(path);
        self
    }
    pub(crate) fn unsigned(mut self) -> Self {
        self.signed = false;
        self
    }
}

impl Server {
    pub(crate) async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn reelflow_store::Store> =
            Arc::new(SqliteStore::in_memory().await.unwrap());
        let blobs: Arc<dyn reelflow_objects::BlobStore> = Arc::new(
            LocalBlobStore::open(dir.path().join("blobs"))
                .await
                .unwrap(),
        );
        let engine = Engine::new(
            store.clone(),
            blobs.clone(),
            EngineConfig {
                offset: DisplayOffset::UTC,
                node_id: "test-node".into(),
                work_dir: dir.path().join("work"),
                workers: 1,
                lease: Duration::from_secs(60),
                poll_interval: Duration::from_secs(1),
                default_max_concurrent: 1,
                fuse_siblings: true,
                noop_tasks: false,
                segmented: Default::default(),
                fetch: reelflow_engine::FetchConfig::default(),
            },
            Arc::new(Notify::new()),
        );
        let state = AppState {
            store: store.clone(),
            blobs,
            engine,
            config: Arc::new(ApiConfig {
                credentials: vec![(SECRET_ID.into(), SECRET_KEY.into())],
                offset: DisplayOffset::UTC,
                max_xml_body: 1 << 20,
                max_object_size: 1 << 30,
                domains: vec!["cos.example.internal".into()],
                region: "ap-guangzhou".into(),
            }),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, router(state)).await.unwrap();
        });
        Server {
            addr,
            store,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// Sends `req` virtual-host style (`Host: <bucket>.cos.ap-guangzhou.myqcloud.com`), signing
    /// the host, every given header and every query parameter.
    pub(crate) async fn send(&self, req: Req<'_>) -> reqwest::Response {
        let host = req
            .host
            .clone()
            .unwrap_or_else(|| format!("{}.cos.ap-guangzhou.myqcloud.com", req.bucket));
        let decoded_path = format!("/{}", req.key);
        let raw_path = match req.raw_path {
            Some(p) => p.to_owned(),
            None => format!("/{}", utf8_percent_encode(req.key, PATH)),
        };
        let mut url = format!("http://{}{raw_path}", self.addr);
        if !req.query.is_empty() {
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &req.query {
                ser.append_pair(k, v);
            }
            url = format!("{url}?{}", ser.finish());
        }
        let mut builder = self
            .client
            .request(req.method.clone(), &url)
            .header("host", &host);
        for (name, value) in &req.headers {
            builder = builder.header(*name, value);
        }
        if req.signed {
            let mut headers: Vec<(String, String)> = vec![("host".into(), host.clone())];
            headers.extend(
                req.headers
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone())),
            );
            let query: Vec<(String, String)> = req
                .query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let header_names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
            let param_names: Vec<&str> = query.iter().map(|(k, _)| k.as_str()).collect();
            let now = now_unix();
            let auth = sign(
                &SignedRequest {
                    method: req.method.as_str(),
                    decoded_path: &decoded_path,
                    query: &query,
                    headers: &headers,
                },
                &Credentials {
                    secret_id: SECRET_ID.into(),
                    secret_key: SECRET_KEY.into(),
                },
                now - 60,
                now + 3600,
                &header_names,
                &param_names,
            );
            builder = builder.header("authorization", auth);
        }
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        builder.send().await.unwrap()
    }

    pub(crate) async fn create_bucket(&self, bucket: &str) {
        let resp = self.send(Req::new(Method::PUT, "").bucket(bucket)).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }

    pub(crate) async fn put(&self, key: &str, body: &'static [u8]) -> reqwest::Response {
        self.send(Req::new(Method::PUT, key).body(body)).await
    }

    pub(crate) async fn list(&self, query: &[(&str, &str)]) -> XmlElement {
        let mut req = Req::new(Method::GET, "");
        for (k, v) in query {
            req = req.query(k, v);
        }
        let resp = self.send(req).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header(&resp, "content-type"), "application/xml");
        XmlElement::parse(&resp.bytes().await.unwrap()).unwrap()
    }
}

pub(crate) fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

pub(crate) fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

pub(crate) fn md5_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(data))
}

/// Parses an `<Error>` body and checks the four fields the SDKs need; returns the code.
pub(crate) async fn error_code(resp: reqwest::Response) -> String {
    let request_id = header(&resp, "x-ci-request-id");
    let body = resp.bytes().await.unwrap();
    let doc = XmlElement::parse(&body).unwrap();
    assert_eq!(doc.name, "Error");
    for field in ["Code", "Message", "Resource", "RequestId"] {
        assert!(doc.text_of(field).is_some(), "empty {field} in {doc:?}");
    }
    assert_eq!(doc.text_of("RequestId"), Some(request_id.as_str()));
    doc.text_of("Code").unwrap().to_owned()
}

pub(crate) fn texts(doc: &XmlElement, container: &str, leaf: &str) -> Vec<String> {
    doc.children_named(container)
        .map(|c| c.text_of(leaf).unwrap_or("").to_owned())
        .collect()
}

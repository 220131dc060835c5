//! A small client for the management API: signs each request with the COS scheme, exactly as
//! the server's middleware verifies it (`host` and every query parameter signed).

use std::path::Path;

use anyhow::{Context, Result};
use reelflow_signature::{Credentials, SignedRequest, sign};
use serde_json::Value;

/// Signed requests to one server.
#[derive(Debug)]
pub struct AdminClient {
    base: url::Url,
    credentials: Credentials,
    http: reqwest::Client,
}

impl AdminClient {
    /// Credentials from `REELFLOW_SECRET_ID`/`REELFLOW_SECRET_KEY`, else `DATA/credentials`.
    pub fn from_env(server: &str, data: &Path) -> Result<Self> {
        let base = url::Url::parse(server).with_context(|| format!("--server {server}"))?;
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (secret_id, secret_key) = match (env("REELFLOW_SECRET_ID"), env("REELFLOW_SECRET_KEY"))
        {
            (Some(id), Some(key)) => (id, key),
            _ => read_credentials(&data.join("credentials"))?,
        };
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            base,
            credentials: Credentials {
                secret_id,
                secret_key,
            },
            http,
        })
    }

    /// GETs `path` (below `/_reelflow/v1`) and returns the body.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<String> {
        self.send(reqwest::Method::GET, path, query, None).await
    }

    /// POSTs to `path` with an optional JSON body and returns the answer.
    pub async fn post(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<String> {
        self.send(reqwest::Method::POST, path, query, body).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<String> {
        let target = Target::server(format!("/_reelflow/v1{path}"));
        let mut request = self.request(method, &target, query, &[])?;
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = self.execute(request).await?;
        response.text().await.context("reading the answer")
    }

    /// A request to `target`, signed for its Host, path, every query parameter and the extra
    /// `headers` (which are also sent). The same signer serves the management API, the object
    /// API and the CI API: they differ only in the Host and path ([`Target`]).
    pub fn request(
        &self,
        method: reqwest::Method,
        target: &Target,
        query: &[(&str, String)],
        headers: &[(&str, String)],
    ) -> Result<reqwest::RequestBuilder> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| anyhow::anyhow!("--server {} cannot be a base URL", self.base))?
            .clear()
            .extend(target.path.trim_start_matches('/').split('/'));
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let host = match &target.host {
            Some(host) => host.clone(),
            None => host_header(&url)?,
        };
        let mut signed = vec![("host".to_owned(), host.clone())];
        signed.extend(headers.iter().map(|(n, v)| ((*n).to_owned(), v.clone())));
        let authorization = self.authorization(method.as_str(), &target.path, query, &signed);
        let mut request = self
            .http
            .request(method, url)
            .header("host", host)
            .header("authorization", authorization);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        Ok(request)
    }

    /// Sends `request`; an answer other than 2xx becomes an error naming the server's
    /// `Code: Message`.
    pub async fn execute(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let request = request.build().context("building the request")?;
        let url = request.url().clone();
        let response = self
            .http
            .execute(request)
            .await
            .with_context(|| format!("requesting {url}"))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        Err(HttpError {
            status: status.as_u16(),
            message: format!(
                "{url} answered HTTP {}: {}",
                status.as_u16(),
                explain(&text)
            ),
        }
        .into())
    }

    fn authorization(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        headers: &[(String, String)],
    ) -> String {
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let names: Vec<&str> = query.iter().map(|(k, _)| *k).collect();
        let header_names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        let request = SignedRequest {
            method,
            decoded_path: path,
            query: &pairs,
            headers,
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        sign(
            &request,
            &self.credentials,
            now - 60,
            now + 600,
            &header_names,
            &names,
        )
    }
}

/// Where a request goes on the server: a decoded path (signed as it is, sent percent-encoded)
/// and, for bucket-addressed calls, the Host that names the bucket.
#[derive(Debug, Clone)]
pub struct Target {
    /// The Host header to send and sign; `None` for the server's own host (path style).
    pub host: Option<String>,
    /// The decoded path, starting with `/`.
    pub path: String,
}

impl Target {
    /// A path on the server itself (`/_reelflow/v1/…`, or path-style `/<bucket>/<key>`).
    pub fn server(path: impl Into<String>) -> Self {
        Self {
            host: None,
            path: path.into(),
        }
    }
}

/// A non-2xx answer: its status (so callers can tell 404 from the rest) and a readable message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    /// The HTTP status.
    pub status: u16,
    /// `URL answered HTTP n: Code: Message`.
    pub message: String,
}

/// `Code: message` from a JSON or XML error body, else the body itself.
fn explain(body: &str) -> String {
    if let Ok(value) = serde_json::from_str::<Value>(body)
        && let (Some(code), Some(message)) = (value["code"].as_str(), value["message"].as_str())
    {
        return format!("{code}: {message}");
    }
    let tag = |name: &str| {
        let start = body.find(&format!("<{name}>"))? + name.len() + 2;
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].to_owned())
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => body.trim().to_owned(),
    }
}

fn host_header(url: &url::Url) -> Result<String> {
    let host = url.host_str().context("the server URL has no host")?;
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

fn read_credentials(path: &Path) -> Result<(String, String)> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "no REELFLOW_SECRET_ID/REELFLOW_SECRET_KEY and no {} (pass --data)",
            path.display()
        )
    })?;
    let (id, key) = text
        .trim()
        .split_once(' ')
        .context("malformed credentials file")?;
    Ok((id.to_owned(), key.to_owned()))
}

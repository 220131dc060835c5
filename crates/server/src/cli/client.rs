//! A small client for the management API: signs each request with the COS scheme, exactly as
//! the server's middleware verifies it (`host` and every query parameter signed).

use std::path::Path;

use anyhow::{Context, Result, bail};
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
        let full_path = format!("/_reelflow/v1{path}");
        let mut url = self
            .base
            .join(&full_path)
            .context("building the request URL")?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let host = host_header(&url)?;
        let authorization = self.authorization(method.as_str(), &full_path, query, &host);
        let mut request = self
            .http
            .request(method, url.clone())
            .header("host", host)
            .header("authorization", authorization);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("requesting {url}"))?;
        let status = response.status();
        let text = response.text().await.context("reading the answer")?;
        if !status.is_success() {
            bail!(
                "{url} answered HTTP {}: {}",
                status.as_u16(),
                explain(&text)
            );
        }
        Ok(text)
    }

    fn authorization(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        host: &str,
    ) -> String {
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let names: Vec<&str> = query.iter().map(|(k, _)| *k).collect();
        let headers = vec![("host".to_owned(), host.to_owned())];
        let request = SignedRequest {
            method,
            decoded_path: path,
            query: &pairs,
            headers: &headers,
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        sign(
            &request,
            &self.credentials,
            now - 60,
            now + 600,
            &["host"],
            &names,
        )
    }
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

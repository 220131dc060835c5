//! A small client for the management API: signs each request with the COS scheme, exactly as
//! the server's middleware verifies it (`host` and every query parameter signed).

use std::path::Path;

use anyhow::{Context, Result, bail};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
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
    /// Credentials from `REELFLOW_SECRET_ID`/`REELFLOW_SECRET_KEY`, else the `credentials`
    /// file of the data directory ([`credentials_file`]). `server` may leave out the scheme
    /// (`127.0.0.1:9600` means `http://127.0.0.1:9600`).
    pub fn from_env(server: &str, data: Option<&Path>) -> Result<Self> {
        let base = server_url(server)?;
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (secret_id, secret_key) = match (env("REELFLOW_SECRET_ID"), env("REELFLOW_SECRET_KEY"))
        {
            (Some(id), Some(key)) => (id, key),
            _ => read_credentials(&credentials_file(data))?,
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
        if url.cannot_be_a_base() {
            bail!("--server {} cannot be a base URL", self.base);
        }
        // Every byte outside the unreserved set is percent-encoded here, so the URL parser has
        // nothing left to normalise (it would drop tabs and newlines, resolve `.`/`..`).
        let encoded: String = target
            .path
            .split('/')
            .map(|segment| utf8_percent_encode(segment, PATH_SEGMENT).to_string())
            .collect::<Vec<_>>()
            .join("/");
        url.set_path(&encoded);
        // Sign exactly the path that goes out: if the URL still differs from the path asked
        // for (a `.`/`..` segment, which URLs always resolve), refuse instead of sending a
        // request for another path, or one whose signature cannot match.
        let sent = percent_decode_str(url.path())
            .decode_utf8()
            .context("the request path is not UTF-8")?
            .into_owned();
        if sent != target.path {
            bail!(
                "{:?} cannot be sent as a URL path (a '.' or '..' segment is resolved by every \
                 HTTP client): rename it",
                target.path
            );
        }
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

/// Characters sent as they are in a path segment; every other byte is percent-encoded.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The `--server` URL; without a scheme (`127.0.0.1:9600`, `host:port`) it is `http://…`.
pub fn server_url(server: &str) -> Result<url::Url> {
    let text = server.trim();
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("http://{text}")
    };
    let url = url::Url::parse(&with_scheme).with_context(|| {
        format!("--server {server:?} is not a URL (e.g. http://127.0.0.1:9600)")
    })?;
    if url.host_str().is_none() {
        bail!("--server {server:?} names no host (e.g. http://127.0.0.1:9600)");
    }
    Ok(url)
}

/// Text with the five XML escapes (and numeric character references) resolved.
pub fn xml_unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let resolved = match entity {
            "quot" => Some('"'),
            "apos" => Some('\''),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match resolved {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `Code: message` from a JSON or XML error body, else the body itself (XML escapes resolved).
fn explain(body: &str) -> String {
    if let Ok(value) = serde_json::from_str::<Value>(body)
        && let (Some(code), Some(message)) = (value["code"].as_str(), value["message"].as_str())
    {
        return format!("{code}: {message}");
    }
    let tag = |name: &str| {
        let start = body.find(&format!("<{name}>"))? + name.len() + 2;
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(xml_unescape(&body[start..end]))
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

/// The `credentials` file the CLI reads: `DATA/credentials` for `--data DATA` (or
/// `REELFLOW_DATA`); by default `./reelflow-data/credentials`, else — so that a binary run
/// from anywhere finds what `scripts/serve.sh` generated in `<repo>/reelflow-data` — the one in
/// `reelflow-data` of the checkout the binary was built in (`<repo>/target/release/reelflow`).
pub fn credentials_file(data: Option<&Path>) -> std::path::PathBuf {
    if let Some(data) = data {
        return data.join("credentials");
    }
    let here = Path::new("reelflow-data").join("credentials");
    if here.exists() {
        return here;
    }
    let beside_checkout = std::env::current_exe().ok().and_then(|exe| {
        let repo = exe.parent()?.parent()?.parent()?;
        let file = repo.join("reelflow-data").join("credentials");
        file.exists().then_some(file)
    });
    beside_checkout.unwrap_or(here)
}

fn read_credentials(path: &Path) -> Result<(String, String)> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "no REELFLOW_SECRET_ID/REELFLOW_SECRET_KEY and no {} (set them, or pass --data DIR \
             / REELFLOW_DATA=DIR naming the server's data directory)",
            path.display()
        )
    })?;
    parse_credentials(&text).with_context(|| format!("reading {}", path.display()))
}

/// `SECRET_ID SECRET_KEY` (one line, one space): the format of `DATA/credentials`.
pub fn parse_credentials(text: &str) -> Result<(String, String)> {
    let malformed = || {
        anyhow::anyhow!(
            "malformed credentials file: expected one line `SECRET_ID SECRET_KEY` (fix it, or \
             delete it to have `reelflow serve` generate a new pair)"
        )
    };
    let (id, key) = text.trim().split_once(' ').ok_or_else(malformed)?;
    let (id, key) = (id.trim(), key.trim());
    if id.is_empty() || key.is_empty() {
        return Err(malformed());
    }
    Ok((id.to_owned(), key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_are_unescaped() {
        let body = "<Error><Code>InvalidArgument</Code><Message>name &quot;a&apos;b&quot; &lt;&gt; &amp; &#233;&#x41;</Message></Error>";
        assert_eq!(explain(body), "InvalidArgument: name \"a'b\" <> & éA");
        assert_eq!(xml_unescape("a & b &unknown; c"), "a & b &unknown; c");
    }

    #[test]
    fn server_urls_default_to_http() {
        assert_eq!(
            server_url("127.0.0.1:19655").unwrap().as_str(),
            "http://127.0.0.1:19655/"
        );
        assert_eq!(
            server_url("https://h.example/").unwrap().as_str(),
            "https://h.example/"
        );
        assert!(server_url("http://").is_err());
    }
}

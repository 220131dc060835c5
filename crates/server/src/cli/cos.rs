//! The object and CI APIs as the CLI calls them, over the one signer of [`AdminClient`].
//!
//! Object calls are path style (`/<bucket>/<key>` on the server's own host), which works on any
//! deployment without DNS. CI calls go to the same address with the Host a CI endpoint has
//! (`<bucket>.ci.<region>.myqcloud.com`): on a `.ci.` host every path is a CI call, so no object
//! key can be mistaken for one, and the server reads the bucket from the Host as Tencent's does.

use anyhow::{Context, Result, bail};
use reelflow_model::XmlElement;
use reqwest::Method;

use super::client::{AdminClient, HttpError, Target};

/// A `cos://bucket/key` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosPath {
    /// The bucket.
    pub bucket: String,
    /// The key or prefix ("" for the whole bucket).
    pub key: String,
}

impl std::str::FromStr for CosPath {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix("cos://")
            .ok_or_else(|| format!("{s:?} is not a cos://bucket/key location"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("{s:?} names no bucket (cos://BUCKET/KEY)"));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }
}

impl std::fmt::Display for CosPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cos://{}/{}", self.bucket, self.key)
    }
}

/// The object and CI calls of one server.
#[derive(Debug)]
pub struct Cos {
    /// The signing client.
    pub client: AdminClient,
}

/// The region named in CI Host headers (the server accepts any).
const REGION: &str = "ap-guangzhou";

impl Cos {
    /// A signed object request: `/<bucket>/<key>` path style.
    pub fn object(
        &self,
        method: Method,
        bucket: &str,
        key: &str,
        query: &[(&str, String)],
    ) -> Result<reqwest::RequestBuilder> {
        if key.split('/').any(|s| s == "." || s == "..") {
            return super::command::usage(format!(
                "cos://{bucket}/{key}: {} (the server refuses such keys, and no URL can carry \
                 one)",
                reelflow_model::object::KeyError::DotSegment
            ));
        }
        let path = if key.is_empty() {
            format!("/{bucket}")
        } else {
            format!("/{bucket}/{key}")
        };
        self.client
            .request(method, &Target::server(path), query, &[])
    }

    /// Sends an object request and returns the answer's XML document (or `None` when empty).
    pub async fn object_xml(
        &self,
        method: Method,
        bucket: &str,
        key: &str,
        query: &[(&str, String)],
    ) -> Result<Option<XmlElement>> {
        let request = self.object(method, bucket, key, query)?;
        read_xml(self.client.execute(request).await?).await
    }

    /// A CI call: `path` (`/workflow`, `/jobs/<id>`, …) on the bucket's CI host, with an
    /// optional XML body. Returns the answer document (`None` when the body is empty).
    pub async fn ci(
        &self,
        method: Method,
        bucket: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<String>,
    ) -> Result<Option<XmlElement>> {
        let target = Target {
            host: Some(format!("{bucket}.ci.{REGION}.myqcloud.com")),
            path: path.to_owned(),
        };
        let mut request = self.client.request(method, &target, query, &[])?;
        if let Some(body) = body {
            request = request.header("content-type", "application/xml").body(body);
        }
        read_xml(self.client.execute(request).await?).await
    }

    /// A CI GET that must answer a document.
    pub async fn ci_get(
        &self,
        bucket: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<XmlElement> {
        self.ci(Method::GET, bucket, path, query, None)
            .await?
            .with_context(|| format!("GET {path} answered an empty body"))
    }

    /// `PUT /<bucket>`: creates the bucket (an existing one of ours is fine).
    pub async fn create_bucket(&self, bucket: &str) -> Result<bool> {
        let request = self.object(Method::PUT, bucket, "", &[])?;
        match self.client.execute(request).await {
            Ok(_) => Ok(true),
            Err(e) if status_of(&e) == Some(409) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// The HTTP status of a failed call, if it got an answer.
pub fn status_of(error: &anyhow::Error) -> Option<u16> {
    error.downcast_ref::<HttpError>().map(|e| e.status)
}

async fn read_xml(response: reqwest::Response) -> Result<Option<XmlElement>> {
    let body = response.bytes().await.context("reading the answer")?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match XmlElement::parse(&body) {
        Ok(doc) => Ok(Some(doc)),
        Err(e) => bail!("the server answered malformed XML: {e}"),
    }
}

/// The text of `name` below `el`, or "".
pub fn leaf<'a>(el: &'a XmlElement, name: &str) -> &'a str {
    el.text_of(name).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cos_paths() {
        let p: CosPath = "cos://b-1/in/a.mp4".parse().unwrap();
        assert_eq!((p.bucket.as_str(), p.key.as_str()), ("b-1", "in/a.mp4"));
        let p: CosPath = "cos://b-1".parse().unwrap();
        assert_eq!(p.key, "");
        assert!("s3://b/k".parse::<CosPath>().is_err());
        assert!("cos:///k".parse::<CosPath>().is_err());
    }
}

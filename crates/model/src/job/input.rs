//! What a standalone job reads: an object of its bucket, an `http(s)` URL, or nothing (a Concat
//! job whose fragments are all its inputs). URLs in the COS object form
//! (`http(s)://<bucket>.cos.<region>.myqcloud.com/<key>`) can name an object of this server.

use super::JobRequestError;
use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::xml::XmlElement;

/// Longest accepted `Input.Url`.
pub const MAX_URL_LEN: usize = 4096;

/// A job's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobInput {
    /// A key in the job's bucket.
    Object(String),
    /// An `http(s)` URL, fetched when the job runs (or read in place when it names an object
    /// of this server, see [`cos_object_of`]).
    Url(String),
    /// No input: a Concat job joining only its `ConcatFragment`s.
    None,
}

impl JobInput {
    /// The key the job's task records as its input and names outputs from (`${InputName}`,
    /// `${InputPath}`): the object key, the URL's path (see [`key_of_url`]), or empty.
    pub fn key(&self) -> String {
        match self {
            JobInput::Object(key) => key.clone(),
            JobInput::Url(url) => key_of_url(url),
            JobInput::None => String::new(),
        }
    }

    /// The URL, for URL inputs.
    pub fn url(&self) -> Option<&str> {
        match self {
            JobInput::Url(url) => Some(url),
            _ => None,
        }
    }
}

/// Elements of `Request.Input` that CI documents but reelflow does not implement.
const UNSUPPORTED_INPUT: &[&str] = &["SourceType", "Lang", "Type", "BasicType", "Vod", "Region"];

/// Parses `Request.Input` (absent → [`JobInput::None`]).
pub(super) fn parse_input(input: Option<&XmlElement>) -> Result<JobInput, JobRequestError> {
    let Some(input) = input else {
        return Ok(JobInput::None);
    };
    for child in &input.children {
        let name = child.name.as_str();
        let at = format!("Request.Input.{name}");
        if UNSUPPORTED_INPUT.contains(&name) {
            if !child.is_empty() {
                return Err(JobRequestError::not_implemented(
                    at,
                    "is not supported by reelflow",
                ));
            }
        } else if !matches!(name, "Object" | "Url" | "BucketId") {
            return Err(InvalidInput::rule(at, "is not a known element of a job input").into());
        }
    }
    let f = Fields::new(input, "Request.Input");
    let input = match (f.str("Object"), f.str("Url")) {
        (Some(_), Some(_)) => {
            return Err(
                InvalidInput::rule("Request.Input", "give either Object or Url, not both").into(),
            );
        }
        (Some(key), None) => JobInput::Object(key.trim_start_matches('/').to_owned()),
        (None, Some(url)) => JobInput::Url(validate_url(url)?),
        (None, None) => {
            return Err(InvalidInput::rule(
                "Request.Input",
                "needs an Object (a key in this bucket) or a Url",
            )
            .into());
        }
    };
    Ok(input)
}

fn validate_url(url: &str) -> Result<String, InvalidInput> {
    let url = url.trim();
    let bad = |reason: &str| Err(InvalidInput::rule("Request.Input.Url", reason));
    if url.len() > MAX_URL_LEN {
        return bad("must be at most 4096 characters");
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return bad("must be an http:// or https:// URL");
    };
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return bad("must be an http:// or https:// URL");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains(char::is_whitespace) {
        return bad("must name a host");
    }
    if url.chars().any(char::is_control) {
        return bad("must not contain control characters");
    }
    Ok(url.to_owned())
}

/// `(host, path)` of an `http(s)` URL: the host lower-cased without user info or port, the path
/// percent-decoded without its leading `/`, query and fragment.
fn host_and_path(url: &str) -> Option<(String, String)> {
    let (_, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port
            .split_once(']')
            .map_or(host_port, |(h, _)| h)
            .trim_start_matches('[')
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let path = rest[end..].split(['?', '#']).next().unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(path.trim_start_matches('/'))
        .decode_utf8_lossy()
        .into_owned();
    Some((host.to_ascii_lowercase(), decoded))
}

/// The `(bucket, key)` a COS object URL names: `<bucket>.cos.<region>.myqcloud.com/<key>` (or
/// `.tencentcos.cn`). Whether that bucket lives on this server is for the caller to check.
pub fn cos_object_of(url: &str) -> Option<(String, String)> {
    let (host, key) = host_and_path(url)?;
    let (bucket, rest) = host.split_once(".cos.")?;
    let region_ok = rest
        .strip_suffix(".myqcloud.com")
        .or_else(|| rest.strip_suffix(".tencentcos.cn"))
        .is_some_and(|region| !region.is_empty() && !region.contains('.'));
    (region_ok && !bucket.is_empty() && !key.is_empty()).then(|| (bucket.to_owned(), key))
}

/// A key-like name for a URL input: its decoded path without `.`/`..` segments, or `input`.
pub fn key_of_url(url: &str) -> String {
    let path = host_and_path(url).map(|(_, p)| p).unwrap_or_default();
    let clean: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .collect();
    if clean.is_empty() {
        "input".to_owned()
    } else {
        clean.join("/")
    }
}

/// `url` without user info and with any query shortened, for messages (a presigned URL's
/// signature is not repeated in job details or logs).
pub fn display_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest[..end]
        .rsplit_once('@')
        .map_or(&rest[..end], |(_, h)| h);
    let tail = &rest[end..];
    let tail = match tail.split_once('?') {
        Some((path, _)) => format!("{path}?…"),
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cos_object_urls_name_a_bucket_and_key() {
        assert_eq!(
            cos_object_of("http://demo-1250000000.cos.ap-chongqing.myqcloud.com/dir/a%20b.mp4?x=1"),
            Some(("demo-1250000000".into(), "dir/a b.mp4".into()))
        );
        assert_eq!(
            cos_object_of("https://b-1.cos.ap-guangzhou.tencentcos.cn/k.mp4"),
            Some(("b-1".into(), "k.mp4".into()))
        );
        assert_eq!(cos_object_of("http://example.com/a.mp4"), None);
        assert_eq!(cos_object_of("http://b.cos.x.y.myqcloud.com/a"), None);
        assert_eq!(cos_object_of("http://b.cos.r.myqcloud.com/"), None);
    }

    #[test]
    fn url_keys_and_display() {
        assert_eq!(
            key_of_url("http://h:8/v/../a/./clip.mp4?sig=1"),
            "v/a/clip.mp4"
        );
        assert_eq!(key_of_url("http://h/"), "input");
        assert_eq!(
            display_url("https://user:pw@h.example/a.mp4?q-signature=abc"),
            "https://h.example/a.mp4?…"
        );
        assert_eq!(display_url("http://h/a.mp4"), "http://h/a.mp4");
    }

    #[test]
    fn inputs_parse() {
        let parse = |xml: &str| parse_input(Some(&XmlElement::parse(xml.as_bytes()).unwrap()));
        assert_eq!(
            parse("<Input><Object>/a.mp4</Object></Input>").unwrap(),
            JobInput::Object("a.mp4".into())
        );
        assert_eq!(
            parse("<Input><Url>http://h/a.mp4</Url></Input>").unwrap(),
            JobInput::Url("http://h/a.mp4".into())
        );
        assert_eq!(parse_input(None).unwrap(), JobInput::None);
        let invalid = |xml: &str| match parse(xml).unwrap_err() {
            JobRequestError::Invalid(e) => e.to_string(),
            other => panic!("{other}"),
        };
        assert!(invalid("<Input><Url>ftp://h/a</Url></Input>").contains("http://"));
        assert!(
            invalid("<Input><Object>a</Object><Url>http://h/a</Url></Input>").contains("not both")
        );
        assert!(invalid("<Input/>").contains("Object"));
        assert!(invalid("<Input><Bogus>1</Bogus></Input>").contains("Request.Input.Bogus"));
        let live =
            parse("<Input><Url>http://h/a.m3u8</Url><SourceType>LiveStream</SourceType></Input>");
        assert_eq!(live.unwrap_err().code(), "NotImplemented");
    }
}

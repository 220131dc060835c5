//! `GET /<key>?ci-process=pm3u8&expires=<3600..43200>`: a private HLS playlist made playable.
//!
//! The stored playlist comes back with every segment URI pre-signed for `expires` seconds
//! (DOC-CI 1045/49542): `seg-0.ts` becomes
//! `seg-0.ts?q-sign-algorithm=sha1&q-ak=…&q-sign-time=…&q-key-time=…&q-header-list=host&q-url-param-list=&q-signature=…`.
//! A player resolves the relative URI against the playlist's URL, so each signature covers
//! the path the player will request: the playlist's request path (with the bucket in it for
//! path-style requests) joined with the URI, and the `Host` the playlist was fetched with.
//! It is signed with the key pair that signed the request (the server's first pair when that
//! cannot be told), so it verifies on this server like any pre-signed URL.
//!
//! Media segment lines and `#EXT-X-MAP` `URI`s are signed; absolute URLs (`https://…`)
//! point elsewhere and stay as they are, as do `#EXT-X-KEY` and every other tag.

use futures::TryStreamExt;
use percent_encoding::percent_decode_str;
use reelflow_model::clock::now_unix;
use reelflow_signature::{Credentials, SignedRequest, presign};

use super::{body_response, invalid, object};
use crate::context::query_value;
use crate::state::AppState;
use crate::{ApiError, Ctx};
use axum::http::{HeaderMap, header};
use axum::response::Response;

/// Accepted `expires` range, in seconds (CI's).
const EXPIRES: std::ops::RangeInclusive<i64> = 3600..=43200;
/// Largest playlist rewritten.
const MAX_PLAYLIST_BYTES: u64 = 8 << 20;

/// Serves the pm3u8 call; `raw_path` is the request's path as sent.
pub(super) async fn pm3u8(
    state: &AppState,
    ctx: &Ctx,
    key: &str,
    raw_path: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let expires = parse_expires(query_value(&ctx.query, "expires"))?;
    let record = object(state, ctx, key).await?;
    let not_playlist = || invalid(format!("object {key:?} is not an m3u8 playlist"));
    if record.size > MAX_PLAYLIST_BYTES {
        return Err(not_playlist());
    }
    let bytes: Vec<u8> = state
        .blobs
        .get(&record.blob_id, None)
        .await?
        .try_fold(Vec::new(), |mut all, chunk| async move {
            all.extend_from_slice(&chunk);
            Ok(all)
        })
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let text = String::from_utf8(bytes).map_err(|_| not_playlist())?;
    if !text.trim_start_matches('\u{feff}').starts_with("#EXTM3U") {
        return Err(not_playlist());
    }
    let signer = Signer {
        credentials: credentials(state, ctx, headers)?,
        host: headers
            .get(header::HOST)
            .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
            .unwrap_or_default(),
        base: base_url(raw_path)?,
        start: now_unix(),
        expires,
    };
    let body = rewrite(&text, |uri| signer.sign(uri));
    Ok(body_response("application/x-mpegURL", body.into_bytes()))
}

/// `expires`: required, whole seconds in [`EXPIRES`].
fn parse_expires(text: Option<&str>) -> Result<i64, ApiError> {
    let text = text.map(str::trim).unwrap_or_default();
    text.parse::<i64>()
        .ok()
        .filter(|e| EXPIRES.contains(e))
        .ok_or_else(|| {
            invalid(format!(
                "expires {text:?} must be a number of seconds from {} to {}",
                EXPIRES.start(),
                EXPIRES.end()
            ))
        })
}

/// The key pair that signed this request, else the server's first.
fn credentials(state: &AppState, ctx: &Ctx, headers: &HeaderMap) -> Result<Credentials, ApiError> {
    let pairs = &state.config.credentials;
    let id = requester_id(ctx, headers);
    let (secret_id, secret_key) = id
        .and_then(|id| pairs.iter().find(|(sid, _)| *sid == id))
        .or_else(|| pairs.first())
        .ok_or_else(|| ApiError::internal(&std::io::Error::other("no credentials to sign with")))?;
    Ok(Credentials {
        secret_id: secret_id.clone(),
        secret_key: secret_key.clone(),
    })
}

/// The SecretId of the request's COS signature (`q-ak`, header or query) or SigV4 credential.
fn requester_id(ctx: &Ctx, headers: &HeaderMap) -> Option<String> {
    if let Some(id) = query_value(&ctx.query, "q-ak") {
        return Some(id.to_owned());
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if let Some(rest) = auth.split("Credential=").nth(1) {
        return rest.split('/').next().map(str::to_owned);
    }
    auth.split('&')
        .find_map(|field| field.trim().strip_prefix("q-ak="))
        .map(str::to_owned)
}

/// The playlist's URL on a placeholder origin: relative URIs are resolved against it.
fn base_url(raw_path: &str) -> Result<url::Url, ApiError> {
    url::Url::parse("http://playlist.invalid")
        .and_then(|origin| origin.join(raw_path))
        .map_err(|_| invalid("the request path cannot be resolved"))
}

/// Signs segment URIs relative to the playlist.
struct Signer {
    credentials: Credentials,
    host: String,
    base: url::Url,
    start: i64,
    expires: i64,
}

impl Signer {
    /// `uri` with the signature appended, or `None` to leave it (absolute URLs elsewhere).
    fn sign(&self, uri: &str) -> Option<String> {
        if has_scheme(uri) {
            return None;
        }
        let resolved = self.base.join(uri).ok()?;
        let path = percent_decode_str(resolved.path())
            .decode_utf8_lossy()
            .into_owned();
        let headers = [("host".to_owned(), self.host.clone())];
        let request = SignedRequest {
            method: "GET",
            decoded_path: &path,
            query: &[],
            headers: &headers,
        };
        let end = self.start + self.expires;
        let fields = presign(&request, &self.credentials, self.start, end, &["host"], &[]);
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &fields {
            query.append_pair(name, value);
        }
        let joiner = if uri.contains('?') { '&' } else { '?' };
        Some(format!("{uri}{joiner}{}", query.finish()))
    }
}

/// `scheme:` at the start (RFC 3986): an absolute URL.
fn has_scheme(uri: &str) -> bool {
    let Some((scheme, _)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Rewrites each URI line and each `#EXT-X-MAP` `URI` with `sign`; everything else, line
/// endings included, is kept byte for byte.
fn rewrite(text: &str, sign: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let ending = &line[body.len()..];
        let uri = body.trim();
        let rewritten = if uri.is_empty() {
            None
        } else if let Some(attrs) = body.strip_prefix("#EXT-X-MAP:") {
            map_uri(attrs, &sign).map(|attrs| format!("#EXT-X-MAP:{attrs}"))
        } else if uri.starts_with('#') {
            None
        } else {
            sign(uri)
        };
        out.push_str(rewritten.as_deref().unwrap_or(body));
        out.push_str(ending);
    }
    out
}

/// The `URI="…"` attribute of an `#EXT-X-MAP` tag, signed.
fn map_uri(attrs: &str, sign: impl Fn(&str) -> Option<String>) -> Option<String> {
    let start = attrs.find("URI=\"")? + "URI=\"".len();
    let len = attrs[start..].find('"')?;
    let signed = sign(&attrs[start..start + len])?;
    Some(format!(
        "{}{signed}{}",
        &attrs[..start],
        &attrs[start + len..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAYLIST: &str = "#EXTM3U\r\n#EXT-X-VERSION:3\r\n#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\"\r\n#EXT-X-MAP:URI=\"init.mp4\"\r\n#EXTINF:2.0,\r\nseg-0.ts\r\n\r\n#EXTINF:2.0,\r\nhttps://cdn.example.com/seg-1.ts\r\n#EXT-X-ENDLIST\r\n";

    #[test]
    fn only_uris_change() {
        let out = rewrite(PLAYLIST, |uri| Some(format!("{uri}?S")));
        assert_eq!(
            out,
            PLAYLIST
                .replace("seg-0.ts", "seg-0.ts?S")
                .replace("init.mp4", "init.mp4?S")
                .replace("seg-1.ts", "seg-1.ts?S")
        );
        assert!(
            out.contains("URI=\"key.bin\"\r\n"),
            "EXT-X-KEY is untouched"
        );
    }

    #[test]
    fn signatures_cover_the_resolved_path() {
        let signer = Signer {
            credentials: Credentials {
                secret_id: "AKIDx".into(),
                secret_key: "k".into(),
            },
            host: "b-1.cos.ap-guangzhou.myqcloud.com".into(),
            base: base_url("/hls/a%20b/index.m3u8").unwrap(),
            start: 1000,
            expires: 3600,
        };
        let signed = signer.sign("seg-0.ts").unwrap();
        assert!(
            signed.starts_with("seg-0.ts?q-sign-algorithm=sha1&q-ak=AKIDx"),
            "{signed}"
        );
        assert!(
            signed.contains("&q-sign-time=1000%3B4600&q-key-time=1000%3B4600"),
            "{signed}"
        );
        assert!(
            signed.contains("&q-header-list=host&q-url-param-list=&q-signature="),
            "{signed}"
        );
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(signed.split_once('?').unwrap().1.as_bytes())
                .into_owned()
                .collect();
        let headers = [("host".to_owned(), signer.host.clone())];
        let request = SignedRequest {
            method: "GET",
            decoded_path: "/hls/a b/seg-0.ts",
            query: &query,
            headers: &headers,
        };
        let key = |_: &str| Some("k".to_owned());
        assert!(reelflow_signature::verify(&request, key, 2000).is_ok());
        assert!(
            reelflow_signature::verify(&request, key, 4601).is_err(),
            "expired"
        );
        assert_eq!(signer.sign("https://cdn.example.com/x.ts"), None);
        assert!(
            signer
                .sign("x.ts?v=1")
                .unwrap()
                .starts_with("x.ts?v=1&q-sign-algorithm")
        );
    }

    #[test]
    fn expires_range() {
        assert_eq!(parse_expires(Some("3600")).unwrap(), 3600);
        assert_eq!(parse_expires(Some("43200")).unwrap(), 43200);
        for bad in [None, Some(""), Some("3599"), Some("43201"), Some("1h")] {
            let err = parse_expires(bad).unwrap_err();
            assert!(err.message.contains("expires"), "{}", err.message);
        }
    }
}

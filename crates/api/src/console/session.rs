//! Web console sessions: short-lived, stateless bearer tokens.
//!
//! A token is minted by a request signed with a key pair (`POST /_reelflow/v1/sessions`, what
//! the console's login form and `reelflow login` send) and then stands in for that key pair in
//! `Authorization: Bearer <token>` until it expires. Nothing is stored: the token carries its
//! SecretId and expiry and is authenticated by an HMAC keyed by that SecretId's SecretKey, so it
//! is accepted by every process that has the same key pair, and changing the key pair revokes
//! every token minted with it.
//!
//! Format: `rfs1.<hex SecretId>.<expiry, Unix seconds>.<nonce>.<mac>` where `mac` is the hex
//! HMAC-SHA1 (keyed by the SecretKey) of `"reelflow-session-v1\n<SecretId>\n<expiry>\n<nonce>"`.
//! The message can never look like a q-sign `KeyTime` (`<digits>;<digits>`), so a session MAC is
//! never a valid q-sign `SignKey`, nor the other way round.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use reelflow_model::clock::now_unix;

use crate::error::ApiError;
use crate::state::AppState;

/// Token prefix and format version.
const PREFIX: &str = "rfs1";
/// Domain separation of the MAC.
const CONTEXT: &str = "reelflow-session-v1";
/// Lifetime when the mint request names none.
pub const DEFAULT_TTL_SECS: i64 = 3600;
/// Shortest lifetime a mint request may ask for.
pub const MIN_TTL_SECS: i64 = 60;
/// Longest lifetime a mint request may ask for (12 h).
pub const MAX_TTL_SECS: i64 = 12 * 3600;

/// The identity of a request authenticated by a session token (a request extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The SecretId the token was minted for.
    pub secret_id: String,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of this format.
    #[error("malformed session token")]
    Malformed,
    /// Its SecretId is not (or no longer) configured.
    #[error("the session token's SecretId is unknown")]
    UnknownKey,
    /// The MAC does not match: tampered with, or minted with another SecretKey.
    #[error("the session token's signature does not match")]
    BadSignature,
    /// Past its expiry (Unix seconds).
    #[error(
        "the session expired at {}: sign in again with a new token (`reelflow login`)",
        utc_time(*.0)
    )]
    Expired(i64),
}

/// `2026-11-30 20:00:00 UTC` for Unix seconds `secs`.
fn utc_time(secs: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("{secs} (Unix seconds)"))
}

/// Mints a token for `secret_id` (whose key is `secret_key`) valid until `expires_at`.
pub fn mint(secret_id: &str, secret_key: &str, expires_at: i64) -> String {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let mac = mac(secret_id, secret_key, expires_at, &nonce);
    format!(
        "{PREFIX}.{}.{expires_at}.{nonce}.{mac}",
        hex::encode(secret_id)
    )
}

/// Checks `token` at `now` (Unix seconds); `lookup` maps a SecretId to its SecretKey.
pub fn verify(
    token: &str,
    lookup: impl Fn(&str) -> Option<String>,
    now: i64,
) -> Result<Session, TokenError> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [prefix, id_hex, expiry, nonce, given] = parts.as_slice() else {
        return Err(TokenError::Malformed);
    };
    if *prefix != PREFIX
        || nonce.is_empty()
        || nonce.len() > 64
        || !nonce.bytes().all(|b| b.is_ascii_alphanumeric())
        || expiry.is_empty()
        || !expiry.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(TokenError::Malformed);
    }
    let secret_id = hex::decode(id_hex)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(TokenError::Malformed)?;
    let expires_at: i64 = expiry.parse().map_err(|_| TokenError::Malformed)?;
    let secret_key = lookup(&secret_id).ok_or(TokenError::UnknownKey)?;
    let expected = mac(&secret_id, &secret_key, expires_at, nonce);
    if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        return Err(TokenError::BadSignature);
    }
    if now >= expires_at {
        return Err(TokenError::Expired(expires_at));
    }
    Ok(Session {
        secret_id,
        expires_at,
    })
}

fn mac(secret_id: &str, secret_key: &str, expires_at: i64, nonce: &str) -> String {
    reelflow_signature::sign_key(
        secret_key,
        &format!("{CONTEXT}\n{secret_id}\n{expires_at}\n{nonce}"),
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The bearer token of a request, when its `Authorization` is `Bearer …`.
pub fn bearer_token(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// For the auth middleware: `None` when the request carries no bearer token (check its
/// signature instead), else the session or the refusal (403 `AccessDenied`).
pub fn authenticate_bearer(
    state: &AppState,
    request: &Request,
) -> Option<Result<Session, ApiError>> {
    let token = bearer_token(request)?;
    let lookup = |id: &str| state.config.secret_of(id);
    Some(
        verify(token, lookup, now_unix())
            .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, "AccessDenied", e.to_string())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "AKIDexample";
    const KEY: &str = "secret-key";

    fn lookup(id: &str) -> Option<String> {
        (id == ID).then(|| KEY.to_owned())
    }

    #[test]
    fn minted_token_is_accepted_until_it_expires() {
        let token = mint(ID, KEY, 1_000);
        let session = verify(&token, lookup, 999).unwrap();
        assert_eq!(session.secret_id, ID);
        assert_eq!(session.expires_at, 1_000);
        assert_eq!(
            verify(&token, lookup, 1_000),
            Err(TokenError::Expired(1_000))
        );
        assert_eq!(
            TokenError::Expired(1_796_066_868).to_string(),
            "the session expired at 2026-11-30 19:27:48 UTC: sign in again with a new token \
             (`reelflow login`)"
        );
    }

    #[test]
    fn tokens_are_unique() {
        assert_ne!(mint(ID, KEY, 1_000), mint(ID, KEY, 1_000));
    }

    #[test]
    fn tampering_is_refused() {
        let token = mint(ID, KEY, 1_000);
        let parts: Vec<&str> = token.split('.').collect();
        // A later expiry.
        let later = format!("{}.{}.2000.{}.{}", parts[0], parts[1], parts[3], parts[4]);
        assert_eq!(verify(&later, lookup, 500), Err(TokenError::BadSignature));
        // Another nonce.
        let nonce = format!("{}.{}.{}.abc.{}", parts[0], parts[1], parts[2], parts[4]);
        assert_eq!(verify(&nonce, lookup, 500), Err(TokenError::BadSignature));
        // A flipped MAC digit.
        let mut mac = parts[4].to_owned();
        let flipped = if mac.ends_with('0') { '1' } else { '0' };
        mac.pop();
        mac.push(flipped);
        let bad = format!("{}.{}.{}.{}.{mac}", parts[0], parts[1], parts[2], parts[3]);
        assert_eq!(verify(&bad, lookup, 500), Err(TokenError::BadSignature));
        // Minted with another key.
        let forged = mint(ID, "another-key", 1_000);
        assert_eq!(verify(&forged, lookup, 500), Err(TokenError::BadSignature));
    }

    #[test]
    fn unknown_keys_and_garbage_are_refused() {
        let token = mint("AKIDother", KEY, 1_000);
        assert_eq!(verify(&token, lookup, 500), Err(TokenError::UnknownKey));
        for garbage in [
            "",
            "rfs1",
            "rfs1.zz.1.a.b",
            "rfs2.414b4944.1000.abc.def",
            "rfs1.414b4944.-5.abc.def",
            "rfs1.414b4944.1000.a-b.def",
            "rfs1.414b4944.1000.abc.def.extra",
        ] {
            assert_eq!(
                verify(garbage, lookup, 500),
                Err(TokenError::Malformed),
                "{garbage}"
            );
        }
    }

    #[test]
    fn a_session_mac_is_never_a_qsign_key() {
        // q-sign derives SignKey = HMAC-SHA1(SecretKey, "<start>;<end>"); the session message
        // always starts with the context string, so the two can never coincide.
        let token = mint(ID, KEY, 1_000);
        let mac = token.rsplit('.').next().unwrap();
        assert_ne!(mac, reelflow_signature::sign_key(KEY, "0;1000"));
    }
}

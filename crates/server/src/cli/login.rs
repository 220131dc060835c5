//! `reelflow login`: mints a short-lived web console session token on a running server.
//!
//! One request signed with the key pair (`POST /_reelflow/v1/sessions`); the server answers a
//! stateless token valid for `--ttl`. Printed are the token and the console URL with the token
//! in its fragment (`#token=…`, never sent to the server or kept in logs; the console moves it
//! into `sessionStorage` and clears the address bar). The key pair never reaches the browser.

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{Value, json};

use reelflow::cli::{AdminClient, Connection};

/// `reelflow login` options.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Token lifetime: seconds, or a number with s, m or h (60 s – 12 h).
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    pub ttl: i64,
    /// Print only the token (for scripts).
    #[arg(long)]
    pub token_only: bool,
}

/// Runs `reelflow login`.
pub async fn run(connection: &Connection, args: LoginArgs) -> Result<()> {
    let ttl = args.ttl;
    let client = AdminClient::from_env(&connection.server, connection.data.as_deref())?;
    let answer = client
        .post("/sessions", &[], Some(&json!({ "ttl_secs": ttl })))
        .await?;
    let value: Value = serde_json::from_str(&answer).context("reading the server's answer")?;
    let token = value["token"]
        .as_str()
        .context("the server's answer has no token")?;
    let base = reelflow::cli::server_url(&connection.server)?;
    let base = base.as_str().trim_end_matches('/');
    let console = format!("{base}/_reelflow/console/#token={token}");
    if connection.json_output() {
        let mut value = value.clone();
        value["console_url"] = Value::String(console);
        reelflow::cli::print_json(&value);
    } else if args.token_only {
        println!("{token}");
    } else {
        println!("token:   {token}");
        println!(
            "expires: {}",
            value["expires_at"].as_str().unwrap_or_default()
        );
        println!("console: {console}");
    }
    Ok(())
}

/// The lifetimes the server mints tokens for, in seconds (60 s – 12 h).
const TTL_RANGE: std::ops::RangeInclusive<i64> = 60..=43_200;

/// `3600`, `90s`, `30m`, `2h`, within [`TTL_RANGE`]; anything else is refused by clap as a
/// usage error (exit status 2) before any request.
fn parse_ttl(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 's'),
    };
    let n: i64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: expected e.g. 3600, 30m or 2h"))?;
    let secs = match unit {
        's' => n,
        'm' => n.saturating_mul(60),
        'h' => n.saturating_mul(3600),
        _ => return Err(format!("{text:?}: unit must be s, m or h")),
    };
    if !TTL_RANGE.contains(&secs) {
        return Err(format!(
            "{text:?} is {secs} s: a token lives from 60 s (1m) to 43200 s (12h)"
        ));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("3600").unwrap(), 3600);
        assert_eq!(parse_ttl("90s").unwrap(), 90);
        assert_eq!(parse_ttl("30m").unwrap(), 1800);
        assert_eq!(parse_ttl("2H").unwrap(), 7200);
        assert!(parse_ttl("2d").is_err());
        assert_eq!(parse_ttl("60").unwrap(), 60);
        assert_eq!(parse_ttl("12h").unwrap(), 43_200);
        for out_of_range in ["30", "59s", "13h", "0", "-5m", "43201"] {
            let error = parse_ttl(out_of_range).unwrap_err();
            assert!(error.contains("60 s") && error.contains("12h"), "{error}");
        }
        assert!(parse_ttl("soon").is_err());
    }
}

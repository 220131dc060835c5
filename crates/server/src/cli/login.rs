//! `reelflow login`: mints a short-lived web console session token on a running server.
//!
//! One request signed with the key pair (`POST /_reelflow/v1/sessions`); the server answers a
//! stateless token valid for `--ttl`. Printed are the token and the console URL with the token
//! in its fragment (`#token=…`, never sent to the server or kept in logs; the console moves it
//! into `sessionStorage` and clears the address bar). The key pair never reaches the browser.

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

use reelflow::cli::{AdminClient, Connection};

/// `reelflow login` options.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Token lifetime: seconds, or a number with s, m or h (60 s – 12 h).
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    /// Print only the token (for scripts).
    #[arg(long)]
    pub token_only: bool,
}

/// Runs `reelflow login`.
pub async fn run(connection: &Connection, args: LoginArgs) -> Result<()> {
    let ttl = parse_ttl(&args.ttl)?;
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

/// `3600`, `90s`, `30m`, `2h`.
fn parse_ttl(text: &str) -> Result<i64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 's'),
    };
    let n: i64 = number
        .trim()
        .parse()
        .with_context(|| format!("--ttl {text:?}: expected e.g. 3600, 30m or 2h"))?;
    let secs = match unit {
        's' => n,
        'm' => n.saturating_mul(60),
        'h' => n.saturating_mul(3600),
        _ => bail!("--ttl {text:?}: unit must be s, m or h"),
    };
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
        assert!(parse_ttl("soon").is_err());
    }
}

//! Secrets and identities kept in the data directory: the API key pair (unless given by the
//! environment), this node's lease-owner id, and the callback signing secret.

use std::path::Path;

use anyhow::{Context, Result};
use reelflow_notify::WebhookSecret;

/// Reads `name` from the data dir, or creates it with `make()` (mode 0600).
fn read_or_create(dir: &Path, name: &str, make: impl FnOnce() -> String) -> Result<(String, bool)> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((text.trim().to_owned(), false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let value = make();
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, format!("{value}\n"))
                .with_context(|| format!("writing {}", tmp.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
            }
            std::fs::rename(&tmp, &path)?;
            Ok((value, true))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn random_hex(bytes: usize) -> String {
    let mut out = String::new();
    while out.len() < bytes * 2 {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(bytes * 2);
    out
}

/// The API key pair: from `REELFLOW_SECRET_ID`/`REELFLOW_SECRET_KEY`, or generated once into
/// the data dir and printed at first start.
pub fn credentials(dir: &Path) -> Result<(String, String)> {
    let id = std::env::var("REELFLOW_SECRET_ID")
        .ok()
        .filter(|v| !v.is_empty());
    let key = std::env::var("REELFLOW_SECRET_KEY")
        .ok()
        .filter(|v| !v.is_empty());
    if let (Some(id), Some(key)) = (id, key) {
        return Ok((id, key));
    }
    let (text, created) = read_or_create(dir, "credentials", || {
        format!("AKID{} {}", random_hex(16).to_uppercase(), random_hex(16))
    })?;
    let path = dir.join("credentials");
    let (id, key) = crate::cli::parse_credentials(&text)
        .with_context(|| format!("reading {}", path.display()))?;
    let (id, key) = (id.as_str(), key.as_str());
    if created {
        println!(
            "Generated API credentials (stored in {}):",
            dir.join("credentials").display()
        );
        println!("  SecretId:  {id}");
        println!("  SecretKey: {key}");
    }
    Ok((id.to_owned(), key.to_owned()))
}

/// This node's stable id, so a restart can reclaim the tasks it held.
pub fn node_id(dir: &Path) -> Result<String> {
    Ok(read_or_create(dir, "node-id", || format!("node-{}", random_hex(8)))?.0)
}

/// The server-wide callback signing secret: `REELFLOW_CALLBACK_SECRET`, or a
/// `DATA/callback-secret` file left by an earlier version (so its receivers keep verifying).
/// `None` means every bucket gets its own generated secret.
pub fn callback_secret(dir: &Path) -> Result<Option<WebhookSecret>> {
    if let Some(text) = std::env::var("REELFLOW_CALLBACK_SECRET")
        .ok()
        .filter(|v| !v.is_empty())
    {
        return WebhookSecret::parse(&text)
            .map(Some)
            .context("REELFLOW_CALLBACK_SECRET");
    }
    match std::fs::read_to_string(dir.join("callback-secret")) {
        Ok(text) => WebhookSecret::parse(text.trim())
            .map(Some)
            .context("callback-secret file"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).context("reading the callback-secret file"),
    }
}

//! The listen address (free, or already a reelflow server) and a running server's health.

use std::net::SocketAddr;

use super::{Check, Status};

/// `GET {server}/_reelflow/health` answers 200.
pub(super) async fn server_health(server: &str) -> Check {
    let url = format!("{}/_reelflow/health", server.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build();
    let answer = match client {
        Ok(client) => client.get(&url).send().await,
        Err(e) => return Check::fail("server", format!("{e}")),
    };
    match answer {
        Ok(r) if r.status().is_success() => Check::ok("server", format!("{url} answers 200")),
        Ok(r) => Check::fail(
            "server",
            format!(
                "{url} answers {}: see the server's log (it is not ready)",
                r.status()
            ),
        ),
        Err(e) => Check::fail(
            "server",
            format!("{url}: {e}: is `reelflow serve` running there, and is the address right?"),
        ),
    }
}

/// `addr` can be bound, or a reelflow server already answers there.
pub(super) async fn listen_address(name: &'static str, addr: SocketAddr) -> Check {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => {
            drop(listener);
            Check::ok(name, format!("{addr} is free"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let running = server_health(&format!("http://{addr}")).await;
            if running.status == Status::Ok {
                Check::ok(name, format!("{addr}: a reelflow server is running there"))
            } else {
                let setting = if name == "metrics" {
                    "metrics_listen in the config file / REELFLOW_METRICS_LISTEN"
                } else {
                    "--listen / listen in the config file"
                };
                Check::fail(
                    name,
                    format!(
                        "{addr} is in use by another program: stop it, or pick another address ({setting})"
                    ),
                )
            }
        }
        Err(e) => Check::fail(
            name,
            format!("cannot listen on {addr}: {e}: pick an address of this machine"),
        ),
    }
}

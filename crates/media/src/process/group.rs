//! Process-group signalling and the guard that kills a group when a run is dropped.
//!
//! Every tool is spawned as the leader of its own process group (`process_group(0)`),
//! so one `killpg` reaches ffmpeg and anything it started. Stopping is graceful first
//! (SIGTERM lets ffmpeg finish its current packet and exit), then forceful (SIGKILL)
//! after a short grace. If the future driving a run is dropped (the caller's task was
//! aborted, a `select!` lost), [`GroupGuard`] SIGKILLs the group from `Drop`, on top of
//! tokio's `kill_on_drop`, which only reaches the leader.

use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Child;

/// Sends `signal` to the process group `pgid`. A group that is already gone is fine.
fn signal_group(pgid: u32, signal: Signal) {
    let Ok(raw) = i32::try_from(pgid) else {
        return;
    };
    if raw <= 1 {
        // Never signal group 0 (our own) or 1; a leader's pid is always > 1.
        return;
    }
    if let Err(err) = killpg(Pid::from_raw(raw), signal)
        && err != nix::errno::Errno::ESRCH
    {
        tracing::warn!(pgid, ?signal, %err, "could not signal process group");
    }
}

/// Kills the group with SIGKILL when dropped while still armed.
#[derive(Debug)]
pub(crate) struct GroupGuard {
    pgid: Option<u32>,
}

impl GroupGuard {
    /// Arms a guard for the group led by the freshly spawned `child`.
    pub(crate) fn new(child: &Child) -> Self {
        Self { pgid: child.id() }
    }

    /// The group id, while the guard is armed.
    pub(crate) fn pgid(&self) -> Option<u32> {
        self.pgid
    }

    /// The tool exited on its own: nothing is left to kill.
    pub(crate) fn disarm(&mut self) {
        self.pgid = None;
    }

    /// Stops the group: SIGTERM, up to `grace` for the leader to exit, then SIGKILL to
    /// the whole group (stragglers included). The leader is reaped before returning.
    pub(crate) async fn terminate(&mut self, child: &mut Child, grace: Duration) {
        let Some(pgid) = self.pgid else {
            return;
        };
        signal_group(pgid, Signal::SIGTERM);
        let exited = tokio::time::timeout(grace, child.wait()).await.is_ok();
        // SIGKILL even when the leader exited in time: helpers it started may linger,
        // and while any member lives the group id cannot be reused by another process.
        signal_group(pgid, Signal::SIGKILL);
        if !exited {
            let _ = child.wait().await;
        }
        self.pgid = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            signal_group(pgid, Signal::SIGKILL);
        }
    }
}

//! Reaping tool processes left behind by a previous run of this service.
//!
//! Children are killed with their process group when the service stops or drops a run, but a
//! SIGKILL of the service itself leaves them running (reparented to init), still writing into
//! task directories that the restarted service reuses. At start-up the service calls
//! [`kill_orphans`] with its work directory: every process whose command line mentions that
//! directory is killed with its process group. Linux-only (`/proc`); elsewhere it does nothing.

use std::path::Path;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, getpgid};

/// Kills every process (and its process group) whose command line contains `marker`, except
/// this process. Returns how many were found.
pub fn kill_orphans(marker: &Path) -> usize {
    let Some(marker) = marker.to_str().filter(|m| !m.is_empty()) else {
        return 0;
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let me = std::process::id();
    let mut found = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !text.contains(marker) {
            continue;
        }
        found += 1;
        let pid = Pid::from_raw(pid as i32);
        match getpgid(Some(pid)) {
            Ok(group) if group != getpgid(None).unwrap_or(group) => {
                let _ = killpg(group, Signal::SIGKILL);
            }
            _ => {
                let _ = kill(pid, Signal::SIGKILL);
            }
        }
        tracing::warn!(pid = pid.as_raw(), command = %text.trim(), "killed a tool process left by a previous run");
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kills_processes_mentioning_the_marker_and_their_groups() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("work-orphans-test");
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("sleep 30 # {}", marker.display()))
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(kill_orphans(&marker) >= 1);
        let status = child.wait().unwrap();
        assert!(!status.success(), "the process was killed");
        assert_eq!(kill_orphans(&marker), 0);
    }
}

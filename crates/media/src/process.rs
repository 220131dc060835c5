//! The one wrapper every external tool goes through.
//!
//! [`ToolCommand`] runs a program with an argument vector (never a shell) and
//! supervises it until it exits or must be stopped:
//!
//! - stdin is `/dev/null`; the child leads its own process group, so stopping it
//!   reaches anything it spawned;
//! - a wall-clock timeout, an optional stall timeout (reset whenever ffmpeg's
//!   `out_time` or frame count advances) and the caller's [`CancellationToken`] all stop the run the
//!   same way: SIGTERM to the group, a short grace, SIGKILL to the group;
//! - dropping the future mid-run SIGKILLs the group (see `group.rs`);
//! - stderr is kept in a 32 KiB ring and its tail goes into every error;
//! - in ffmpeg progress mode stdout is parsed as `-progress` blocks and turned into
//!   0–100 percentages for [`RunControl::progress`]; otherwise stdout is collected.
//!
//! Spawn failures are classified like pict-rs does: a missing binary is
//! [`ProcessError::ToolMissing`] with an actionable message.

mod error;
mod group;
mod orphans;
mod reporter;
mod tail;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use self::error::ProcessError;
use self::group::GroupGuard;
pub use self::orphans::kill_orphans;
use self::reporter::Reporter;
use self::tail::capture_tail;
use crate::progress::{ProgressBlock, ProgressParser, ProgressTarget};

/// Most stdout bytes collected from a tool (ffprobe JSON is a few KiB).
const STDOUT_LIMIT: u64 = 16 * 1024 * 1024;
/// How long to wait for the stderr/stdout readers once the child is gone.
const READER_GRACE: Duration = Duration::from_secs(2);

/// Callback receiving progress percentages (0..=100, never decreasing).
pub type ProgressFn = Arc<dyn Fn(u8) + Send + Sync>;

/// How the caller steers a run: cancel it, and hear how far it got.
#[derive(Clone, Default)]
pub struct RunControl {
    /// Cancelling this token stops the run with [`ProcessError::Cancelled`].
    pub cancel: CancellationToken,
    /// Called with 0..=100 as an ffmpeg run advances, and 100 when it succeeds.
    pub progress: Option<ProgressFn>,
}

impl RunControl {
    /// A control with a fresh token and no progress callback.
    pub fn new() -> Self {
        Self::default()
    }

    /// A control stopped by `cancel`.
    pub fn with_cancel(cancel: CancellationToken) -> Self {
        Self {
            cancel,
            progress: None,
        }
    }

    /// Adds a progress callback.
    pub fn on_progress(mut self, f: impl Fn(u8) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// A control for step `index` of `steps` sequential steps: same token, progress
    /// mapped into that step's share of 0..=100 so the caller sees one rising curve.
    pub fn step(&self, index: usize, steps: usize) -> Self {
        let steps = steps.max(1);
        let progress = self.progress.clone().map(|inner| -> ProgressFn {
            let lo = index.min(steps) * 100 / steps;
            let hi = (index + 1).min(steps) * 100 / steps;
            Arc::new(move |p: u8| {
                let mapped = lo + (hi - lo) * usize::from(p.min(100)) / 100;
                inner(mapped as u8);
            })
        });
        Self {
            cancel: self.cancel.clone(),
            progress,
        }
    }
}

impl fmt::Debug for RunControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunControl")
            .field("cancelled", &self.cancel.is_cancelled())
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// What a successful run produced.
#[derive(Debug, Clone, Default)]
pub struct ToolOutput {
    /// Collected stdout (empty in ffmpeg progress mode, where stdout is progress).
    pub stdout: Vec<u8>,
    /// The last 32 KiB of stderr, trimmed (warnings are kept for diagnostics).
    pub stderr_tail: String,
}

/// A program, its arguments and the limits of one run.
#[derive(Debug, Clone)]
pub struct ToolCommand {
    program: OsString,
    args: Vec<OsString>,
    timeout: Duration,
    stall_timeout: Option<Duration>,
    kill_grace: Duration,
    /// `Some` in ffmpeg progress mode: what the run is expected to produce.
    progress: Option<ProgressTarget>,
}

impl ToolCommand {
    /// A command with a 60 s timeout, no stall timeout and a 2 s kill grace.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            timeout: Duration::from_secs(60),
            stall_timeout: None,
            kill_grace: Duration::from_secs(2),
            progress: None,
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets the wall-clock timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the stall timeout (only enforced in ffmpeg progress mode).
    pub fn stall_timeout(mut self, stall: Duration) -> Self {
        self.stall_timeout = Some(stall);
        self
    }

    /// Sets the time between SIGTERM and SIGKILL.
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// Treats stdout as ffmpeg `-progress pipe:1` output (the caller adds that flag).
    /// `total_secs` is the expected output duration, used for percentages.
    pub fn ffmpeg_progress(mut self, total_secs: Option<f64>) -> Self {
        self.progress.get_or_insert_default().secs = total_secs;
        self
    }

    /// Like [`ToolCommand::ffmpeg_progress`], also counting the frames written against
    /// `total_frames` (snapshots, where output time says little).
    pub fn progress_frames(mut self, total_frames: u64) -> Self {
        self.progress.get_or_insert_default().frames = Some(total_frames);
        self
    }

    /// The program.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments.
    pub fn get_args(&self) -> &[OsString] {
        &self.args
    }

    /// The wall-clock timeout.
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    fn program_name(&self) -> String {
        Path::new(&self.program)
            .file_name()
            .unwrap_or(&self.program)
            .to_string_lossy()
            .into_owned()
    }

    /// Runs the command to completion under `ctl`.
    pub async fn run(&self, ctl: &RunControl) -> Result<ToolOutput, ProcessError> {
        let program = self.program_name();
        if ctl.cancel.is_cancelled() {
            return Err(ProcessError::Cancelled { program });
        }
        let started = Instant::now();
        let mut child = self.spawn(&program)?;
        let mut guard = GroupGuard::new(&child);
        tracing::debug!(%program, pgid = ?guard.pgid(), command = %self, "tool started");
        let stderr = child.stderr.take().map(|e| tokio::spawn(capture_tail(e)));
        let (stdout, progress_rx) = self.read_stdout(&mut child);

        let outcome = self.supervise(&mut child, progress_rx, ctl).await;
        match &outcome {
            Ok(_) => guard.disarm(),
            Err(_) => guard.terminate(&mut child, self.kill_grace).await,
        }
        let stderr_tail = join_reader(stderr).await.unwrap_or_default();
        let stdout = join_reader(stdout).await.unwrap_or_default();
        let elapsed = started.elapsed();
        tracing::debug!(%program, ?elapsed, ok = outcome.is_ok(), "tool finished");
        self.finish(program, outcome, stdout, stderr_tail, ctl)
    }

    fn spawn(&self, program: &str) -> Result<Child, ProcessError> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        cmd.spawn().map_err(|source| {
            let program = program.to_owned();
            match source.kind() {
                io::ErrorKind::NotFound => ProcessError::ToolMissing { program, source },
                _ => ProcessError::Spawn { program, source },
            }
        })
    }

    /// Starts the stdout reader: progress parsing or plain collection.
    fn read_stdout(
        &self,
        child: &mut Child,
    ) -> (
        Option<JoinHandle<Vec<u8>>>,
        Option<mpsc::UnboundedReceiver<ProgressBlock>>,
    ) {
        let Some(out) = child.stdout.take() else {
            return (None, None);
        };
        if self.progress.is_none() {
            return (Some(tokio::spawn(collect_stdout(out))), None);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        (Some(tokio::spawn(parse_progress_stream(out, tx))), Some(rx))
    }

    /// Waits for exit, cancellation, timeout or stall, reporting progress meanwhile.
    async fn supervise(
        &self,
        child: &mut Child,
        mut progress_rx: Option<mpsc::UnboundedReceiver<ProgressBlock>>,
        ctl: &RunControl,
    ) -> Result<ExitStatus, Stop> {
        let stall = self.stall_timeout.filter(|_| progress_rx.is_some());
        let deadline = tokio::time::sleep(self.timeout);
        let stall_sleep = tokio::time::sleep(stall.unwrap_or(self.timeout));
        tokio::pin!(deadline, stall_sleep);
        let target = self.progress.unwrap_or_default();
        let mut reporter = Reporter::new(ctl.progress.clone(), target);
        loop {
            tokio::select! {
                biased;
                () = ctl.cancel.cancelled() => return Err(Stop::Cancelled),
                status = child.wait() => return status.map_err(Stop::Wait),
                () = &mut deadline => return Err(Stop::Timeout),
                () = &mut stall_sleep, if stall.is_some() => return Err(Stop::Stalled),
                Some(block) = next_block(&mut progress_rx) => {
                    if reporter.observe(&block) && let Some(stall) = stall {
                        stall_sleep.as_mut().reset(tokio::time::Instant::now() + stall);
                    }
                }
            }
        }
    }

    /// Maps the supervision outcome to the run's result.
    fn finish(
        &self,
        program: String,
        outcome: Result<ExitStatus, Stop>,
        stdout: Vec<u8>,
        stderr_tail: String,
        ctl: &RunControl,
    ) -> Result<ToolOutput, ProcessError> {
        let status = match outcome {
            Ok(status) => status,
            Err(Stop::Cancelled) => return Err(ProcessError::Cancelled { program }),
            Err(Stop::Wait(err)) => return Err(ProcessError::Io(err)),
            Err(Stop::Timeout) => {
                let after = self.timeout;
                return Err(ProcessError::Timeout {
                    program,
                    after,
                    stderr_tail,
                });
            }
            Err(Stop::Stalled) => {
                let after = self.stall_timeout.unwrap_or_default();
                return Err(ProcessError::Stalled {
                    program,
                    after,
                    stderr_tail,
                });
            }
        };
        if !status.success() {
            return Err(ProcessError::Failed {
                program,
                status,
                stderr_tail,
            });
        }
        if let (Some(_), Some(report)) = (self.progress, &ctl.progress) {
            report(100);
        }
        Ok(ToolOutput {
            stdout,
            stderr_tail,
        })
    }
}

impl fmt::Display for ToolCommand {
    /// The command line, for logs (arguments quoted when they contain spaces).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.program.to_string_lossy())?;
        for arg in &self.args {
            let arg = arg.to_string_lossy();
            if arg.is_empty() || arg.contains([' ', '\'', '"']) {
                write!(f, " {arg:?}")?;
            } else {
                write!(f, " {arg}")?;
            }
        }
        Ok(())
    }
}

/// Why supervision stopped before a normal exit.
#[derive(Debug)]
enum Stop {
    Cancelled,
    Timeout,
    Stalled,
    Wait(io::Error),
}

async fn next_block(
    rx: &mut Option<mpsc::UnboundedReceiver<ProgressBlock>>,
) -> Option<ProgressBlock> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn collect_stdout<R: AsyncRead + Unpin>(mut out: R) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = (&mut out).take(STDOUT_LIMIT).read_to_end(&mut buf).await;
    // Keep draining so a chatty tool never blocks on a full pipe.
    let _ = tokio::io::copy(&mut out, &mut tokio::io::sink()).await;
    buf
}

async fn parse_progress_stream<R: AsyncRead + Unpin>(
    out: R,
    tx: mpsc::UnboundedSender<ProgressBlock>,
) -> Vec<u8> {
    let mut lines = BufReader::new(out).lines();
    let mut parser = ProgressParser::new();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(block) = parser.feed_line(&line) {
            // A closed receiver means the run is over; keep draining anyway.
            let _ = tx.send(block);
        }
    }
    Vec::new()
}

/// Awaits a reader task briefly: a straggler holding the pipe must not block us.
async fn join_reader<T: Default>(handle: Option<JoinHandle<T>>) -> Option<T> {
    let handle = handle?;
    let abort = handle.abort_handle();
    match tokio::time::timeout(READER_GRACE, handle).await {
        Ok(joined) => joined.ok(),
        Err(_) => {
            abort.abort();
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn steps_share_the_progress_range() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let ctl = RunControl::new().on_progress(move |p| sink.lock().unwrap().push(p));
        let first = ctl.step(0, 2);
        let second = ctl.step(1, 2);
        for p in [0, 50, 100] {
            (first.progress.as_ref().unwrap())(p);
        }
        for p in [0, 50, 100] {
            (second.progress.as_ref().unwrap())(p);
        }
        assert_eq!(*seen.lock().unwrap(), [0, 25, 50, 50, 75, 100]);
        assert!(RunControl::new().step(0, 3).progress.is_none());
    }

    #[test]
    fn display_quotes_arguments_with_spaces() {
        let cmd = ToolCommand::new("ffmpeg").args(["-i", "/a b.mp4"]);
        assert_eq!(cmd.to_string(), "ffmpeg -i \"/a b.mp4\"");
    }
}

//! The client commands (`put`, `get`, `ls`, `rm`, `mb`, `workflow`, `runs`, `jobs`, `batch`,
//! `demo`) and what they end with: exit status 0 when everything went well, 1 for an error
//! (printed by the binary), 2 for a usage mistake ([`UsageError`]: a missing bucket, a
//! malformed argument), 3 when the command worked but the run or job it followed ended
//! `Failed` or `Cancel`.

use anyhow::Result;
use clap::Subcommand;

use super::cos::Cos;
use super::output::Output;
use super::{AdminClient, Connection, batch, demo, jobs, objects, runs, upload, workflow};

/// Exit status of a command whose run or job ended `Failed` or `Cancel`.
pub const EXIT_RUN_FAILED: i32 = 3;

/// Exit status of a usage mistake (the same as clap's own argument errors).
pub const EXIT_USAGE: i32 = 2;

/// A mistake in how the command was called (not a failed request): exit status
/// [`EXIT_USAGE`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `Err(UsageError(message))`.
pub fn usage<T>(message: impl Into<String>) -> Result<T> {
    Err(UsageError(message.into()).into())
}

/// The exit status for `error`: [`EXIT_USAGE`] for a [`UsageError`] anywhere in its chain,
/// else 1.
pub fn exit_status(error: &anyhow::Error) -> i32 {
    if error.chain().any(|e| e.is::<UsageError>()) {
        EXIT_USAGE
    } else {
        1
    }
}

/// What a finished command reports besides errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Ok,
    /// Done, but the run or job it watched failed: exit [`EXIT_RUN_FAILED`].
    RunFailed,
}

/// One server and how to print: what every client command gets.
#[derive(Debug)]
pub struct Session {
    /// The object and CI calls.
    pub cos: Cos,
    /// `--output`.
    pub output: Output,
}

impl Session {
    /// Whether to print JSON.
    pub fn json(&self) -> bool {
        self.output == Output::Json
    }
}

/// The client commands of a running server.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Upload a file: `put FILE cos://bucket/key` (multipart and resumable above 16 MiB).
    Put {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        args: upload::PutArgs,
    },
    /// Download an object to a file (streamed): `get cos://bucket/key [FILE]`.
    Get {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        args: objects::GetArgs,
    },
    /// List buckets (no argument) or the objects under `cos://bucket/prefix`.
    Ls {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        args: objects::LsArgs,
    },
    /// Delete objects: `rm cos://bucket/key…` (`--recursive` for every key under a prefix).
    /// Never deletes a bucket: that is `rb`.
    Rm {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        args: objects::RmArgs,
    },
    /// Create a bucket: `mb cos://bucket`.
    Mb {
        #[command(flatten)]
        connection: Connection,
        /// The bucket (`cos://name` or `name`).
        bucket: String,
    },
    /// Remove an empty bucket: `rb cos://bucket` (delete its objects first: `rm -r cos://bucket/`).
    Rb {
        #[command(flatten)]
        connection: Connection,
        /// The bucket (`cos://name` or `name`).
        bucket: String,
    },
    /// Workflows: create from XML or JSON, list, show, activate, pause, delete.
    Workflow {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        bucket: BucketArg,
        #[command(subcommand)]
        command: workflow::WorkflowCommand,
    },
    /// Workflow executions (runs): list, show, watch live.
    Runs {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        bucket: BucketArg,
        #[command(subcommand)]
        command: runs::RunsCommand,
    },
    /// Media jobs (`/jobs`): submit, list, show, cancel.
    Jobs {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        bucket: BucketArg,
        #[command(subcommand)]
        command: jobs::JobsCommand,
    },
    /// Batch triggers (inventory trigger jobs): create, list, show, cancel.
    Batch {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        bucket: BucketArg,
        #[command(subcommand)]
        command: batch::BatchCommand,
    },
    /// One run end to end on a fresh install, its callback received and printed.
    ///
    /// Creates a bucket and a workflow, starts a callback receiver on 127.0.0.1 in this
    /// process, uploads a clip generated with ffmpeg, shows the run live and prints the
    /// callback XML the server sent.
    Demo {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        args: demo::DemoArgs,
    },
}

/// The bucket CI commands work on.
#[derive(Debug, clap::Args)]
pub struct BucketArg {
    /// The bucket (`name` or `cos://name`).
    #[arg(short, long, env = "REELFLOW_BUCKET", global = true)]
    bucket: Option<String>,
}

impl BucketArg {
    /// The bucket name, or a usage error asking for one.
    fn get(&self) -> Result<&str> {
        match self.bucket.as_deref().filter(|b| !b.trim().is_empty()) {
            Some(text) => bucket_name(text),
            None => {
                usage("which bucket? pass --bucket NAME (or set REELFLOW_BUCKET to a bucket name)")
            }
        }
    }
}

/// The bucket of `name` or `cos://name` (a trailing `/` allowed); a usage error for an empty
/// name or one with a key (`cos://bucket/key`).
pub fn bucket_name(text: &str) -> Result<&str> {
    let name = text.trim();
    let name = name.strip_prefix("cos://").unwrap_or(name);
    let name = name.strip_suffix('/').unwrap_or(name);
    if name.is_empty() {
        return usage(format!(
            "{text:?} names no bucket (give a bucket name, e.g. cos://media-1250000000)"
        ));
    }
    if name.contains('/') {
        return usage(format!(
            "{text:?} is an object location, not a bucket: give cos://BUCKET only"
        ));
    }
    Ok(name)
}

fn session(connection: &Connection) -> Result<Session> {
    let output = if connection.json_output() {
        Output::Json
    } else {
        Output::Table
    };
    Ok(Session {
        cos: Cos {
            client: AdminClient::from_env(&connection.server, connection.data.as_deref())?,
        },
        output,
    })
}

/// Runs one client command and exits with its status (see the module docs); errors are
/// returned for the binary to print.
pub async fn client(command: ClientCommand) -> Result<()> {
    let outcome = match command {
        // The bucket is checked before the credentials: a usage mistake is reported as one.
        ClientCommand::Workflow { bucket, .. }
        | ClientCommand::Runs { bucket, .. }
        | ClientCommand::Jobs { bucket, .. }
        | ClientCommand::Batch { bucket, .. }
            if bucket.get().is_err() =>
        {
            bucket.get().map(|_| Outcome::Ok)
        }
        ClientCommand::Put { connection, args } => upload::put(&session(&connection)?, args).await,
        ClientCommand::Get { connection, args } => objects::get(&session(&connection)?, args).await,
        ClientCommand::Ls { connection, args } => objects::ls(&session(&connection)?, args).await,
        ClientCommand::Rm { connection, args } => objects::rm(&session(&connection)?, args).await,
        ClientCommand::Mb { connection, bucket } => {
            let name = bucket_name(&bucket)?;
            objects::mb(&session(&connection)?, name).await
        }
        ClientCommand::Rb { connection, bucket } => {
            let name = bucket_name(&bucket)?;
            objects::rb(&session(&connection)?, name).await
        }
        ClientCommand::Workflow {
            connection,
            bucket,
            command,
        } => workflow::run(&session(&connection)?, bucket.get()?, command).await,
        ClientCommand::Runs {
            connection,
            bucket,
            command,
        } => runs::run(&session(&connection)?, bucket.get()?, command).await,
        ClientCommand::Jobs {
            connection,
            bucket,
            command,
        } => jobs::run(&session(&connection)?, bucket.get()?, command).await,
        ClientCommand::Batch {
            connection,
            bucket,
            command,
        } => batch::run(&session(&connection)?, bucket.get()?, command).await,
        ClientCommand::Demo { connection, args } => demo::run(&session(&connection)?, args).await,
    }?;
    if outcome == Outcome::RunFailed {
        std::process::exit(EXIT_RUN_FAILED);
    }
    Ok(())
}

/// Prints the completion script of `command` (the whole CLI) for `shell` to stdout.
pub fn completions(shell: clap_complete::Shell, command: &mut clap::Command) {
    let name = command.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(shell, command, name, &mut script);
    // `print!` (not a raw write), so a closed pipe ends quietly like every other command.
    print!("{}", String::from_utf8_lossy(&script));
}

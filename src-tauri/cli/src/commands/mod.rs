//! One file per command group; [`dispatch`] routes a parsed command line to it. Commands that
//! need the core open it here and shut it down after (flushing the Flight Recorder if it was
//! used), whether the command succeeded or not.

mod complete;
mod doctor;
pub mod escalation;
pub mod governance;
pub mod job;
pub mod model;
pub mod profile;
pub mod provider;
mod provider_input;
pub mod recorder;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use handshake_core::Handshake;

use crate::cli::{Cli, Command};
use crate::error::CliError;
use crate::output::Output;

/// Runs the command and returns the process exit code.
pub async fn dispatch(cli: Cli, out: &Output) -> Result<ExitCode, CliError> {
    let data_dir = cli.data_dir;
    match cli.command {
        Command::Complete(args) => complete::run(data_dir, args, out).await,
        Command::Doctor {
            ollama_url,
            integrity,
        } => doctor::run(data_dir, &ollama_url, integrity, out).await,
        Command::Provider { command } => {
            let hs = Handshake::open(data_dir).await?;
            finish(&hs, provider::run(&hs, command, out).await).await
        }
        Command::Recorder { command } => {
            let hs = Handshake::open(data_dir).await?;
            finish(&hs, recorder::run(&hs, command, out).await).await
        }
        Command::Profile { command } => {
            let hs = Handshake::open(data_dir).await?;
            finish(&hs, profile::run(&hs, command, out).await).await
        }
        Command::Job { command } => {
            let hs = Handshake::open(data_dir).await?;
            finish(&hs, job::run(&hs, command, out).await).await
        }
        Command::Escalation { command } => {
            let hs = Handshake::open(data_dir).await?;
            finish(&hs, escalation::run(&hs, command, out).await).await
        }
        Command::Governance { command } => {
            let hs = Handshake::open(data_dir).await?;
            finish(&hs, governance::run(&hs, command, out).await).await
        }
        Command::Model { command } => {
            let hs = Handshake::open(data_dir).await?;
            finish(&hs, model::run(&hs, command, out).await).await
        }
    }
}

/// Closes the core (flushes the recorder's writer, if it was started, and ends the session on the
/// data directory cleanly), then returns the command's result; a failed flush turns a success into
/// an error.
async fn finish(hs: &Handshake, result: Result<ExitCode, CliError>) -> Result<ExitCode, CliError> {
    let shutdown = hs.close().await;
    let code = result?;
    shutdown?;
    Ok(code)
}

/// Reads a UTF-8 text file named on the command line.
pub(crate) fn read_file(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::io("cannot read", path.display(), e))
}

/// Writes `bytes` to `path`, or to stdout when there is none.
pub(crate) fn write_output(path: Option<&Path>, bytes: &[u8]) -> Result<(), CliError> {
    match path {
        Some(path) => {
            std::fs::write(path, bytes).map_err(|e| CliError::io("cannot write", path.display(), e))
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(bytes)
                .and_then(|()| stdout.write_all(b"\n"))
                .map_err(|e| CliError::io("cannot write", "stdout", e))
        }
    }
}

//! One file per command group; [`dispatch`] routes a parsed command line to it.

mod complete;
mod doctor;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::error::CliError;
use crate::output::Output;

/// Runs the command and returns the process exit code.
pub async fn dispatch(cli: Cli, out: &Output) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Complete(args) => complete::run(cli.data_dir, args, out).await,
        Command::Doctor { ollama_url } => doctor::run(cli.data_dir, &ollama_url, out).await,
    }
}

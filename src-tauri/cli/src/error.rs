//! The CLI's errors and their exit codes.

use serde::Serialize;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("could not start the async runtime: {0}")]
    Runtime(String),
    #[error(transparent)]
    Start(#[from] handshake_core::facade::StartError),
    #[error(transparent)]
    Db(#[from] handshake_core::db::DbError),
    #[error("{0}")]
    ChecksFailed(String),
}

impl CliError {
    /// A stable code for `--json` error output.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Runtime(_) => "runtime",
            Self::Start(_) => "startup_failed",
            Self::Db(_) => "database",
            Self::ChecksFailed(_) => "checks_failed",
        }
    }

    /// The process exit code: 1 for failures, 2 is clap's for usage errors.
    pub fn exit_code(&self) -> u8 {
        1
    }
}

/// The JSON shape of an error on stderr with `--json`.
#[derive(Serialize)]
pub struct ErrorJson<'a> {
    pub error: ErrorBody<'a>,
}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub code: &'a str,
    pub message: String,
}

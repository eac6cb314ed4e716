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
    #[error(transparent)]
    Client(#[from] handshake_core::facade::ClientError),
    #[error(transparent)]
    Llm(#[from] handshake_core::llm::LlmError),
    #[error(transparent)]
    Recorder(#[from] handshake_core::recorder::RecorderError),
}

impl CliError {
    /// A stable code for `--json` error output.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Runtime(_) => "runtime",
            Self::Start(_) => "startup_failed",
            Self::Db(_) => "database",
            Self::ChecksFailed(_) => "checks_failed",
            Self::Client(e) => e.code(),
            Self::Llm(e) => e.kind(),
            Self::Recorder(_) => "recorder",
        }
    }

    /// The process exit code: 1 for failures, 2 is clap's for usage errors, 3 when the work
    /// needs a person's consent before anything can be sent to a cloud model.
    pub fn exit_code(&self) -> u8 {
        use handshake_core::facade::ClientError;
        use handshake_core::llm::LlmError;
        match self {
            Self::Llm(LlmError::ConsentRequired { .. })
            | Self::Client(ClientError::Llm(LlmError::ConsentRequired { .. })) => 3,
            _ => 1,
        }
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

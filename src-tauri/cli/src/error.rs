//! The CLI's errors, their stable codes and their exit codes.
//!
//! Messages never hold a secret: the core's errors guarantee it for theirs, and the CLI's own
//! name an argument or a file, never a value read from stdin.

use serde::Serialize;

use handshake_core::facade::FacadeError;
use handshake_core::profiles::{JobError, ProfileError};
use handshake_core::recorder::RecorderError;
use handshake_core::registry::RegistryError;

/// Exit code of `hsk recorder verify` when the chain is broken.
pub const EXIT_CHAIN_BROKEN: u8 = 4;
/// Exit code when the work needs a person's consent before a cloud model may be called.
pub const EXIT_CONSENT_REQUIRED: u8 = 3;

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
    Core(#[from] FacadeError),
    #[error(transparent)]
    Client(#[from] handshake_core::facade::ClientError),
    #[error(transparent)]
    Llm(#[from] handshake_core::llm::LlmError),
    /// A secret was given on the command line, where every process can read it.
    #[error("{what} is never taken from the command line (other processes and the shell history can read it); pipe it on stdin or run `hsk provider set-key ID` in a terminal to be prompted")]
    SecretInArgv { what: &'static str },
    /// A secret was expected on stdin and none came.
    #[error("no {what} on stdin: pipe one line, or run in a terminal to be prompted")]
    NoSecretInput { what: String },
    #[error("invalid {arg}: {reason}")]
    InvalidArg { arg: &'static str, reason: String },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{rejected} provider(s) in the file were rejected (listed above)")]
    ImportRejected { rejected: usize },
    #[error("the Flight Recorder chain is broken at event {sequence} ({kind}): {detail}")]
    ChainBroken {
        sequence: i64,
        kind: String,
        detail: String,
    },
}

impl From<RegistryError> for CliError {
    fn from(e: RegistryError) -> Self {
        Self::Core(e.into())
    }
}

impl From<handshake_core::vocab::UnknownName> for CliError {
    fn from(unknown: handshake_core::vocab::UnknownName) -> Self {
        RegistryError::from(unknown).into()
    }
}

impl From<ProfileError> for CliError {
    fn from(e: ProfileError) -> Self {
        Self::Core(e.into())
    }
}

impl From<JobError> for CliError {
    fn from(e: JobError) -> Self {
        Self::Core(e.into())
    }
}

impl From<RecorderError> for CliError {
    fn from(e: RecorderError) -> Self {
        Self::Core(e.into())
    }
}

impl CliError {
    /// A stable code for `--json` error output.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Runtime(_) => "runtime",
            Self::Start(_) => "startup_failed",
            Self::Db(_) => "database",
            Self::ChecksFailed(_) => "checks_failed",
            Self::Core(e) => e.code(),
            Self::Client(e) => e.code(),
            Self::Llm(e) => e.kind(),
            Self::SecretInArgv { .. } => "secret_in_argv",
            Self::NoSecretInput { .. } => "no_secret_input",
            Self::InvalidArg { .. } => "invalid_argument",
            Self::Io { .. } => "io",
            Self::ImportRejected { .. } => "import_rejected",
            Self::ChainBroken { .. } => "chain_broken",
        }
    }

    /// The input field or argument the error is about, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Core(e) => e.field(),
            Self::InvalidArg { arg, .. } => Some(arg),
            _ => None,
        }
    }

    /// The process exit code: 1 for failures, 2 is clap's for usage errors, 3 when the work needs
    /// a person's consent before anything can be sent to a cloud model, 4 for a broken Flight
    /// Recorder chain.
    pub fn exit_code(&self) -> u8 {
        use handshake_core::facade::ClientError;
        use handshake_core::llm::LlmError;
        match self {
            Self::Llm(LlmError::ConsentRequired { .. })
            | Self::Client(ClientError::Llm(LlmError::ConsentRequired { .. })) => {
                EXIT_CONSENT_REQUIRED
            }
            Self::ChainBroken { .. } => EXIT_CHAIN_BROKEN,
            _ => 1,
        }
    }

    /// An I/O error on a file, naming it.
    pub fn io(action: &'static str, path: impl std::fmt::Display, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_string(),
            source,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
}

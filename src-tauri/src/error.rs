//! Errors as the UI receives them: `{code, message}`, where `code` is an enum the UI branches on and
//! `message` is for people. Never a bare string.

use serde::Serialize;

/// What kind of failure a command met; the UI decides what to show from this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The data directory or database could not be opened at start.
    StartupFailed,
    /// The database failed while serving the command.
    Database,
}

/// A failed command.
#[derive(Clone, Debug, Serialize, ts_rs::TS, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
}

impl CommandError {
    /// An error with the given code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<handshake_core::db::DbError> for CommandError {
    fn from(error: handshake_core::db::DbError) -> Self {
        Self::new(ErrorCode::Database, error.to_string())
    }
}

//! Errors as the UI receives them: `{code, message, field, field_errors}`.
//!
//! `code` is the core's stable, machine-readable name for the failure (`egress_denied`,
//! `profile_not_found`, `keychain_locked`, ...; see docs/desktop.md), which the UI branches on;
//! `message` is for people and never holds a secret or a prompt (the core guarantees it for its
//! errors); `field` names the form input an error belongs to; `field_errors` carries every problem
//! a validation found, each at its dotted path, so an editor can show them beside the fields.

use handshake_core::facade::FacadeError;
use handshake_core::profiles::{ProfileError, ValidationErrors};
use serde::Serialize;

/// Failures of the app shell itself (the core's codes are passed through unchanged).
pub mod codes {
    /// The data directory or database could not be opened at start.
    pub const STARTUP_FAILED: &str = "startup_failed";
    /// The database failed while serving the command.
    pub const DATABASE: &str = "database";
    /// The command's input was malformed before the core saw it.
    pub const INVALID_INPUT: &str = "invalid_input";
    /// A run was cancelled by the user.
    pub const CANCELLED: &str = "cancelled";
    /// Something the shell itself failed at (a background task died).
    pub const INTERNAL: &str = "internal";
}

/// One validation problem, at a dotted path into the submitted document (`roles.worker.primary`,
/// `allowed_models[2]`; empty for the whole document).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct FieldIssue {
    pub path: String,
    pub message: String,
}

/// A failed command.
#[derive(Clone, Debug, Serialize, ts_rs::TS, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    /// The stable name of the failure.
    pub code: String,
    /// What happened, for people.
    pub message: String,
    /// The form field this error belongs to, when there is one.
    pub field: Option<String>,
    /// Every problem a validation found (empty otherwise).
    pub field_errors: Vec<FieldIssue>,
}

impl CommandError {
    /// An error with the given code and message.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            field: None,
            field_errors: Vec::new(),
        }
    }

    /// The same error, marked as belonging to form field `field`.
    pub fn at_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

fn issues(errors: &ValidationErrors) -> Vec<FieldIssue> {
    errors
        .errors
        .iter()
        .map(|e| FieldIssue {
            path: e.path.clone(),
            message: e.problem.to_string(),
        })
        .collect()
}

impl From<FacadeError> for CommandError {
    fn from(error: FacadeError) -> Self {
        let field_errors = match &error {
            FacadeError::Profile(ProfileError::Invalid(errors)) => issues(errors),
            _ => Vec::new(),
        };
        Self {
            code: error.code().to_owned(),
            field: error.field().map(str::to_owned),
            message: error.to_string(),
            field_errors,
        }
    }
}

impl From<handshake_core::registry::RegistryError> for CommandError {
    fn from(error: handshake_core::registry::RegistryError) -> Self {
        FacadeError::from(error).into()
    }
}

impl From<handshake_core::consent::ConsentError> for CommandError {
    fn from(error: handshake_core::consent::ConsentError) -> Self {
        FacadeError::from(error).into()
    }
}

impl From<handshake_core::profiles::ProfileError> for CommandError {
    fn from(error: handshake_core::profiles::ProfileError) -> Self {
        FacadeError::from(error).into()
    }
}

impl From<handshake_core::recorder::RecorderError> for CommandError {
    fn from(error: handshake_core::recorder::RecorderError) -> Self {
        FacadeError::from(error).into()
    }
}

impl From<handshake_core::db::DbError> for CommandError {
    fn from(error: handshake_core::db::DbError) -> Self {
        Self::new(codes::DATABASE, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use handshake_core::registry::RegistryError;

    #[test]
    fn core_errors_keep_their_code_and_field() {
        let error = CommandError::from(FacadeError::InvalidId {
            field: "profile_id",
            value: "a b".into(),
            reason: "whitespace".into(),
        });
        assert_eq!(error.code, "invalid_id");
        assert_eq!(error.field.as_deref(), Some("profile_id"));
        let missing = CommandError::from(RegistryError::NotFound { id: "oll".into() });
        assert_eq!(missing.code, "provider_not_found");
        assert!(missing.message.contains("oll"), "{}", missing.message);
    }

    #[test]
    fn serialises_as_the_ui_expects() {
        let error = CommandError::new(codes::CANCELLED, "stopped").at_field("prompt");
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "cancelled", "message": "stopped", "field": "prompt", "field_errors": []})
        );
    }
}

//! [`FacadeError`]: why a facade operation failed, wrapping the error of the module that did the
//! work, plus the facade's own checks. Every variant has a stable [`FacadeError::code`] for the
//! shells' `{code, message}`; messages never hold a secret (the wrapped modules guarantee it for
//! theirs, and the facade's own name only ids and fields).

use crate::consent::{ConsentError, EscalationStatus};
use crate::llm::LlmError;
use crate::profiles::{JobError, ProfileError, ResolveError, SwapError};
use crate::recorder::{AnchorError, RecorderError};
use crate::registry::RegistryError;
use crate::secrets::SecretsError;

/// Why a facade operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FacadeError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Swap(#[from] SwapError),
    #[error(transparent)]
    Recorder(#[from] RecorderError),
    /// An id that the Flight Recorder could not carry (blank, too long, or with whitespace), so
    /// the operation was refused before it changed anything.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidId {
        field: &'static str,
        value: String,
        reason: String,
    },
    /// A model swap across two providers, or on a provider that is not a local Ollama.
    #[error("cannot swap models: {reason}")]
    SwapRefused { reason: String },
    /// A swap step failed after the swap started; says where the job stands now.
    #[error("{source}; {}", if *.resumed_on_old_model {
        format!("the job resumed on `{}`", .old_model_id)
    } else {
        format!("and reloading `{}` failed too", .old_model_id)
    })]
    SwapStepFailed {
        #[source]
        source: SwapError,
        old_model_id: String,
        resumed_on_old_model: bool,
    },
    /// The operation was done but its Flight Recorder event could not be written: say what was
    /// done so the user can check it, and why recording failed.
    #[error("{done}, but its Flight Recorder event could not be written: {source}")]
    NotRecorded {
        done: String,
        #[source]
        source: RecorderError,
    },
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Consent(#[from] ConsentError),
    #[error(transparent)]
    Client(#[from] super::clients::ClientError),
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// `job resume` found no approved escalation to send for the job.
    #[error("job `{job_id}` has nothing to resume: {}", describe_resume(*.status))]
    NothingToResume {
        job_id: String,
        status: Option<EscalationStatus>,
    },
    /// Input a shell submitted that the core refuses before doing anything, at its field.
    #[error("invalid {field}: {reason}")]
    InvalidInput { field: &'static str, reason: String },
}

fn describe_resume(status: Option<EscalationStatus>) -> &'static str {
    match status {
        None => "it has no cloud escalation",
        Some(EscalationStatus::Denied) => "its cloud escalation was denied; nothing was sent",
        Some(EscalationStatus::Pending) => {
            "its cloud escalation still waits for a decision (`hsk escalation approve`)"
        }
        Some(EscalationStatus::Executed) => {
            "its approved cloud escalation was already sent (a receipt is single-use)"
        }
        Some(EscalationStatus::Blocked) => {
            "its cloud escalation was blocked by the guard; nothing was sent"
        }
        Some(EscalationStatus::Approved) => "its escalation is approved",
    }
}

impl FacadeError {
    /// A stable, machine-readable name: the wrapped module's code, or the facade's own.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Registry(e) => match e {
                RegistryError::NotFound { .. } => "provider_not_found",
                other => other.code(),
            },
            Self::Profile(e) => match e {
                ProfileError::NotFound { .. } => "profile_not_found",
                other => other.code(),
            },
            Self::Job(e) => match e {
                JobError::NotFound { .. } => "job_not_found",
                JobError::Profile(ProfileError::NotFound { .. }) => "profile_not_found",
                other => other.code(),
            },
            Self::Swap(e) => match e {
                SwapError::NotFound { .. } => "swap_not_found",
                other => other.code(),
            },
            Self::SwapStepFailed { source, .. } => source.code(),
            Self::Recorder(RecorderError::Anchor(AnchorError::Key(e)))
            | Self::NotRecorded {
                source: RecorderError::Anchor(AnchorError::Key(e)),
                ..
            } => match e {
                SecretsError::Locked => "keychain_locked",
                SecretsError::Unavailable { .. } => "keychain_unavailable",
                _ => "keychain_error",
            },
            Self::Recorder(_) => "recorder",
            Self::InvalidId { .. } => "invalid_id",
            Self::SwapRefused { .. } => "swap_refused",
            Self::NotRecorded { .. } => "not_recorded",
            Self::Resolve(_) => "no_usable_model",
            Self::Consent(crate::consent::ConsentError::Job(JobError::NotFound { .. })) => {
                "job_not_found"
            }
            Self::Consent(e) => e.code(),
            Self::Client(e) => e.code(),
            Self::Llm(e) => e.kind(),
            Self::NothingToResume { .. } => "nothing_to_resume",
            Self::InvalidInput { .. } => "invalid_input",
        }
    }

    /// The input field the error belongs to, when a form should mark one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Registry(e) => e.field().map(|f| f.as_str()),
            Self::InvalidId { field, .. } | Self::InvalidInput { field, .. } => Some(field),
            Self::Profile(ProfileError::IdTaken { .. }) => Some("profile_id"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_tell_apart_what_was_not_found() {
        let profile = FacadeError::from(ProfileError::NotFound {
            profile_id: "wp-x".into(),
        });
        assert_eq!(profile.code(), "profile_not_found");
        let job = FacadeError::from(JobError::NotFound {
            job_id: "job-x".into(),
        });
        assert_eq!(job.code(), "job_not_found");
        let provider = FacadeError::from(RegistryError::NotFound { id: "oll".into() });
        assert_eq!(provider.code(), "provider_not_found");
        assert_eq!(provider.field(), None);
        let bad = FacadeError::InvalidId {
            field: "profile_id",
            value: "a b".into(),
            reason: "whitespace".into(),
        };
        assert_eq!(bad.field(), Some("profile_id"));
    }
}

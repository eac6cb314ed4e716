//! Cloud escalation consent (spec 11.1.7, RT-CLOUD-001, RT-LEAK-001): the only way bytes reach a
//! cloud-tier model.
//!
//! - [`schema`]: `ProjectionPlan` and `ConsentReceipt`, exactly the spec's JSON.
//! - [`redact`]: the named redactions every payload goes through.
//! - [`projection`]: turns a prompt into the exact bytes to send, their hash and size limit.
//! - [`store`]: plans, receipts and local-only raw payloads in SQLite (migration 0005).
//! - [`mode`]: the workspace GovernanceMode (LOCKED / STANDARD) and the AUTONOMOUS standing rule.
//! - [`guard`]: [`CloudEscalationGuard`], which creates plans, records consent, and alone mints
//!   the single-use [`Approval`] a send needs.
//! - `decide`: approve, deny, the standing rule, and `authorize`.
//! - [`gate`]: [`CloudGate`], the wrapper the registry hands cloud-tier clients out in; its only
//!   send method consumes an [`Approval`] and re-checks LOCKED and the payload hash on the wire.
//!
//! Guarantees (each proven by a test in `tests/consent_*.rs`, see docs/governance.md): no cloud
//! call without an approving, unexpired, unused receipt bound to the plan's payload hash; LOCKED
//! denies at request, approval and send; profile, `local_only` and the per-job cap deny; every
//! request, approval, denial and execution is recorded durably before it takes effect; no event,
//! log or error holds the payload.

mod decide;
pub mod gate;
pub mod guard;
pub mod ledger;
pub mod mode;
pub mod projection;
pub mod redact;
pub mod schema;
mod seal;
mod store;

pub use gate::{CloudGate, GovernedClient};
pub use guard::{
    Approval, Approver, CloudEscalationGuard, EscalationRequest, GuardConfig, PendingEscalation,
};
pub use ledger::{ReceiptLedger, RECEIPT_LEDGER_HANDLE};
pub use mode::{GovernanceMode, GovernanceSettings, StandingRule};
pub use projection::{project, Projection, DEFAULT_MAX_BYTES};
pub use schema::{
    ConsentReceipt, EscalationStatus, PlanBinding, ProjectionPlan, UiSurface,
    CONSENT_RECEIPT_SCHEMA, PROJECTION_PLAN_SCHEMA,
};

use crate::llm::LlmError;
use crate::profiles::{AutomationLevel, JobError};
use crate::recorder::{DenyReason, RecorderError};

/// Why a consent operation failed. Messages never hold a payload, a prompt or a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// The guard refused the escalation; a FR-EVT-CLOUD-003 with this reason was recorded.
    #[error("cloud escalation denied ({})", deny_reason_str(*reason))]
    Denied {
        reason: DenyReason,
        escalation_id: Option<String>,
    },
    #[error("the projected payload is {bytes} bytes, more than the plan's max_bytes {max_bytes}")]
    PayloadTooLarge { bytes: u64, max_bytes: u64 },
    #[error("no cloud escalation `{escalation_id}`")]
    NotFound { escalation_id: String },
    #[error("cloud escalation `{escalation_id}` was already decided ({status:?})")]
    AlreadyDecided {
        escalation_id: String,
        status: EscalationStatus,
    },
    #[error("a {level:?} profile's escalation cannot be approved from {surface:?}; it needs a person in the cloud escalation modal or the operator console")]
    SurfaceNotAllowed {
        level: AutomationLevel,
        surface: UiSurface,
    },
    #[error("no standing rule covers this escalation: {why}")]
    NoStandingRule { why: &'static str },
    #[error("user_id must be 1 to 256 characters without whitespace")]
    InvalidUserId,
    #[error("invalid escalation request: {reason}")]
    InvalidRequest { reason: String },
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Recorder(#[from] RecorderError),
    /// The approved call was made and the provider failed.
    #[error(transparent)]
    Llm(LlmError),
    #[error("stored {what} is unreadable")]
    Corrupt { what: &'static str },
    /// The spent-receipt ledger in the OS keychain could not be read or written: nothing was
    /// sent and the approval is still usable.
    #[error("the spent-receipt ledger: {0}")]
    Keychain(#[from] crate::secrets::SecretsError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl ConsentError {
    /// A stable, machine-readable name for the variant (for the UI's `{code, message}`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Denied { .. } => "escalation_denied",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::NotFound { .. } => "not_found",
            Self::AlreadyDecided { .. } => "already_decided",
            Self::SurfaceNotAllowed { .. } => "surface_not_allowed",
            Self::NoStandingRule { .. } => "no_standing_rule",
            Self::InvalidUserId => "invalid_user_id",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::Job(e) => e.code(),
            Self::Recorder(_) => "recorder",
            Self::Llm(e) => e.kind(),
            Self::Corrupt { .. } => "corrupt",
            Self::Keychain(crate::secrets::SecretsError::Locked) => "keychain_locked",
            Self::Keychain(_) => "keychain_error",
            Self::Db(_) => "database",
        }
    }

    /// The recorded reason, when the guard denied.
    pub fn deny_reason(&self) -> Option<DenyReason> {
        match self {
            Self::Denied { reason, .. } => Some(*reason),
            _ => None,
        }
    }
}

impl From<ConsentError> for LlmError {
    /// For callers that speak `LlmError`: a provider failure stays itself, anything else is
    /// `ConsentRequired` with the (payload-free) message.
    fn from(error: ConsentError) -> Self {
        match error {
            ConsentError::Llm(e) => e,
            other => LlmError::ConsentRequired {
                reason: other.to_string(),
            },
        }
    }
}

/// The snake_case name of a deny reason, as recorded.
pub fn deny_reason_str(reason: DenyReason) -> &'static str {
    match reason {
        DenyReason::Person => "person",
        DenyReason::Locked => "locked",
        DenyReason::Profile => "profile",
        DenyReason::LocalOnly => "local_only",
        DenyReason::Cap => "cap",
        DenyReason::HashMismatch => "hash_mismatch",
        DenyReason::Expired => "expired",
        DenyReason::Replay => "replay",
        DenyReason::NoReceipt => "no_receipt",
        DenyReason::PlanMismatch => "plan_mismatch",
        DenyReason::DestinationChanged => "destination_changed",
        DenyReason::Forged => "forged",
        DenyReason::FutureDated => "future_dated",
    }
}

/// A user id goes into events as an `Ident`: 1 to 256 bytes, no whitespace or control characters.
pub(crate) fn check_user_id(user_id: &str) -> Result<(), ConsentError> {
    crate::recorder::Ident::new(user_id)
        .map(|_| ())
        .map_err(|_| ConsentError::InvalidUserId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_reason_names_match_the_recorded_json() {
        for reason in [
            DenyReason::Person,
            DenyReason::Locked,
            DenyReason::Profile,
            DenyReason::LocalOnly,
            DenyReason::Cap,
            DenyReason::HashMismatch,
            DenyReason::Expired,
            DenyReason::Replay,
            DenyReason::NoReceipt,
            DenyReason::PlanMismatch,
            DenyReason::DestinationChanged,
            DenyReason::Forged,
            DenyReason::FutureDated,
        ] {
            assert_eq!(
                serde_json::to_value(reason).ok(),
                Some(serde_json::json!(deny_reason_str(reason)))
            );
        }
        let e = ConsentError::Denied {
            reason: DenyReason::Locked,
            escalation_id: None,
        };
        assert_eq!(e.code(), "escalation_denied");
        assert_eq!(e.deny_reason(), Some(DenyReason::Locked));
        assert!(matches!(
            LlmError::from(e),
            LlmError::ConsentRequired { .. }
        ));
    }
}

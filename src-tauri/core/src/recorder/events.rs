//! The typed Flight Recorder events: one Rust type per event id (spec README, "Flight Recorder
//! event ids") and the closed enum [`FlightEvent`] of them, the only thing the recorder writes.
//!
//! Guarantee: no field can hold a raw prompt, a response, a payload or a secret. Fields are
//! numbers, enums, [`Sha256Hex`] (only a hashing constructor makes one), [`PayloadRef`] (a UUID of
//! a locally stored payload), [`Ident`] (a short identifier without whitespace) and
//! [`ErrorKind`] (only made from an `LlmError`); see [`super::primitives`]. The types are
//! `Serialize` only: nothing is ever parsed back into them, so there is no deserialising side
//! door either.

use serde::Serialize;
use uuid::Uuid;

pub use super::primitives::{ErrorKind, Ident, InvalidIdent, PayloadRef, Sha256Hex, MAX_IDENT_LEN};
use crate::llm::FinishReason;
use crate::vocab::ProviderTier;

/// The exact event ids of the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize, ts_rs::TS)]
pub enum EventType {
    #[serde(rename = "FR-EVT-LLM-INFERENCE")]
    LlmInference,
    #[serde(rename = "FR-EVT-PROFILE-001")]
    ProfileChanged,
    #[serde(rename = "FR-EVT-PROFILE-002")]
    JobStarted,
    #[serde(rename = "FR-EVT-PROFILE-003")]
    ModelResolved,
    #[serde(rename = "FR-EVT-CLOUD-001")]
    CloudRequested,
    #[serde(rename = "FR-EVT-CLOUD-002")]
    CloudApproved,
    #[serde(rename = "FR-EVT-CLOUD-003")]
    CloudDenied,
    #[serde(rename = "FR-EVT-CLOUD-004")]
    CloudExecuted,
    #[serde(rename = "FR-EVT-MODEL-001")]
    ModelSwapRequested,
    #[serde(rename = "FR-EVT-MODEL-002")]
    ModelSwapPersisted,
    #[serde(rename = "FR-EVT-MODEL-003")]
    ModelSwapOffloaded,
    #[serde(rename = "FR-EVT-MODEL-004")]
    ModelSwapLoaded,
    #[serde(rename = "FR-EVT-MODEL-005")]
    ModelSwapResumed,
}

impl EventType {
    /// Every event type, in id order.
    pub const ALL: [EventType; 13] = [
        Self::LlmInference,
        Self::ProfileChanged,
        Self::JobStarted,
        Self::ModelResolved,
        Self::CloudRequested,
        Self::CloudApproved,
        Self::CloudDenied,
        Self::CloudExecuted,
        Self::ModelSwapRequested,
        Self::ModelSwapPersisted,
        Self::ModelSwapOffloaded,
        Self::ModelSwapLoaded,
        Self::ModelSwapResumed,
    ];

    /// The id as the spec writes it (`FR-EVT-CLOUD-003`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LlmInference => "FR-EVT-LLM-INFERENCE",
            Self::ProfileChanged => "FR-EVT-PROFILE-001",
            Self::JobStarted => "FR-EVT-PROFILE-002",
            Self::ModelResolved => "FR-EVT-PROFILE-003",
            Self::CloudRequested => "FR-EVT-CLOUD-001",
            Self::CloudApproved => "FR-EVT-CLOUD-002",
            Self::CloudDenied => "FR-EVT-CLOUD-003",
            Self::CloudExecuted => "FR-EVT-CLOUD-004",
            Self::ModelSwapRequested => "FR-EVT-MODEL-001",
            Self::ModelSwapPersisted => "FR-EVT-MODEL-002",
            Self::ModelSwapOffloaded => "FR-EVT-MODEL-003",
            Self::ModelSwapLoaded => "FR-EVT-MODEL-004",
            Self::ModelSwapResumed => "FR-EVT-MODEL-005",
        }
    }

    /// Parses an id as the spec writes it.
    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == id)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a completion attempt ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum InferenceOutcome {
    Success,
    Error {
        kind: ErrorKind,
    },
    /// The caller dropped the call or the stream before it finished.
    Cancelled,
    /// The stream ended without a `Finished` event.
    Incomplete,
}

/// FR-EVT-LLM-INFERENCE: one completion attempt, local or cloud, success or error.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct LlmInference {
    #[ts(type = "string")]
    pub trace_id: Uuid,
    pub provider_id: Ident,
    pub model_id: Ident,
    pub tier: ProviderTier,
    pub streamed: bool,
    pub prompt_bytes: u64,
    pub prompt_sha256: Sha256Hex,
    pub max_tokens: Option<u32>,
    pub response_bytes: Option<u64>,
    /// As the provider reported; `None` stays null, never a made-up 0.
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    pub finish_reason: Option<FinishReason>,
    pub prompt_truncated: bool,
    pub latency_ms: u64,
    pub time_to_first_token_ms: Option<u64>,
    pub outcome: InferenceOutcome,
    /// Set by the writer: inference events dropped (queue full) since the previous one written.
    pub dropped_before: Option<u64>,
}

/// What changed about the Work Profile.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ProfileChange {
    /// A profile was created (edits create a new profile_id with the edited one as parent).
    Created {
        profile_id: Ident,
        parent_profile_id: Option<Ident>,
    },
    /// The active profile was switched.
    Activated {
        profile_id: Ident,
        previous_profile_id: Option<Ident>,
    },
}

/// FR-EVT-PROFILE-001.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct ProfileChanged {
    #[serde(flatten)]
    pub change: ProfileChange,
}

/// FR-EVT-PROFILE-002: a job started and pinned its profile.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct JobStarted {
    pub job_id: Ident,
    pub profile_id: Ident,
}

/// The runtime roles of a Work Profile (spec 4.3.7.1 `model_assignments`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ModelRole {
    Frontend,
    Orchestrator,
    Worker,
    Validator,
}

/// Which rule of the profile chose the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum ResolutionRule {
    Primary,
    Fallback,
    FiletypeOverride { key: Ident },
    TaskTypeOverride { key: Ident },
}

/// Why a candidate model was passed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum PassOverReason {
    /// Not in the assignment's `allowed_models`.
    NotAllowed,
    /// A cloud model for a `local_only` assignment.
    LocalOnly,
    /// The profile does not allow cloud escalation.
    CloudEscalationDisabled,
    /// GovernanceMode is LOCKED.
    Locked,
    /// Its provider is not registered or not reachable.
    Unavailable,
    /// An earlier rule already chose a model.
    Superseded,
    /// Reachable but failing its health check.
    Unhealthy,
    /// It was tried and failed with a retryable error; the next candidate was tried.
    FailedRetryable,
}

/// A candidate the resolution did not choose, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PassedOver {
    pub model_id: Ident,
    pub reason: PassOverReason,
}

/// FR-EVT-PROFILE-003: a model assignment was resolved for a role.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct ModelResolved {
    pub role: ModelRole,
    pub chosen_model_id: Ident,
    pub rule: ResolutionRule,
    pub passed_over: Vec<PassedOver>,
}

/// FR-EVT-CLOUD-001: cloud escalation requested (a ProjectionPlan was created).
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct CloudRequested {
    pub projection_plan_id: Ident,
    pub payload_sha256: Sha256Hex,
    pub payload_bytes: u64,
    pub max_bytes: u64,
    pub redactions_applied: Vec<Ident>,
    pub payload_ref: Option<PayloadRef>,
}

/// Who approved a cloud escalation. Also the `ui_surface` of a ConsentReceipt, which is parsed
/// back from storage, hence `Deserialize` (an enum of three names: no room for prose).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum UiSurface {
    CloudEscalationModal,
    OperatorConsole,
    /// A standing rule the person set in settings (AUTONOMOUS profiles).
    Settings,
}

/// FR-EVT-CLOUD-002: approved (a ConsentReceipt was issued).
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct CloudApproved {
    pub projection_plan_id: Ident,
    pub consent_receipt_id: Ident,
    pub payload_sha256: Sha256Hex,
    pub user_id: Ident,
    pub ui_surface: UiSurface,
}

/// Why a cloud escalation was denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    /// The person said no.
    Person,
    /// GovernanceMode is LOCKED.
    Locked,
    /// The profile does not allow cloud escalation.
    Profile,
    /// The role's assignment is local_only.
    LocalOnly,
    /// The per-job cap (`max_cloud_escalations_per_job`) is reached.
    Cap,
    /// The bytes to send do not hash to the plan's payload_sha256.
    HashMismatch,
    /// The receipt expired.
    Expired,
    /// The receipt was already used.
    Replay,
    /// No approving receipt exists for the plan (consent still pending).
    NoReceipt,
    /// The receipt or approval is bound to another plan, provider or model than the call.
    PlanMismatch,
    /// The provider was edited (base URL, tier, kind, headers, key) after the plan was made, so
    /// the bytes would go elsewhere than where consent was given.
    DestinationChanged,
    /// A stored plan or receipt does not match its seal: it was edited outside Handshake.
    Forged,
    /// The approval is dated in the future (approved while the clock was ahead).
    FutureDated,
}

/// FR-EVT-CLOUD-003: denied.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct CloudDenied {
    pub projection_plan_id: Option<Ident>,
    pub consent_receipt_id: Option<Ident>,
    pub reason: DenyReason,
    /// The hash the plan bound.
    pub payload_sha256: Option<Sha256Hex>,
    /// On `hash_mismatch`, the hash of the bytes that were about to be sent.
    pub observed_sha256: Option<Sha256Hex>,
}

/// How a governed action ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CallOutcome {
    /// Recorded before the call is made (record before act); the result is in the
    /// FR-EVT-LLM-INFERENCE event of the same trace_id.
    Dispatched,
    Success,
    Error {
        kind: ErrorKind,
    },
}

/// FR-EVT-CLOUD-004: the cloud call was made.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct CloudExecuted {
    pub projection_plan_id: Ident,
    pub consent_receipt_id: Ident,
    pub payload_sha256: Sha256Hex,
    pub sent_bytes: u64,
    pub outcome: CallOutcome,
}

/// The stages of a ModelSwapRequest, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SwapStage {
    Request,
    Persist,
    Offload,
    Load,
    Resume,
}

/// How a swap stage ended; on failure, where it stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SwapOutcome {
    Success,
    Failed {
        stopped_at: SwapStage,
        error_kind: Option<ErrorKind>,
    },
}

/// FR-EVT-MODEL-001: a model swap was requested.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct ModelSwapRequested {
    #[ts(type = "string")]
    pub swap_id: Uuid,
    pub from_model_id: Option<Ident>,
    pub to_model_id: Ident,
    pub outcome: SwapOutcome,
}

/// FR-EVT-MODEL-002: the running work's state was persisted before the swap.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct ModelSwapPersisted {
    #[ts(type = "string")]
    pub swap_id: Uuid,
    pub state_ref: Option<PayloadRef>,
    pub state_sha256: Option<Sha256Hex>,
    pub outcome: SwapOutcome,
}

/// FR-EVT-MODEL-003: the previous model was offloaded.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct ModelSwapOffloaded {
    #[ts(type = "string")]
    pub swap_id: Uuid,
    pub model_id: Ident,
    pub outcome: SwapOutcome,
}

/// FR-EVT-MODEL-004: the next model was loaded.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct ModelSwapLoaded {
    #[ts(type = "string")]
    pub swap_id: Uuid,
    pub model_id: Ident,
    pub load_ms: Option<u64>,
    pub outcome: SwapOutcome,
}

/// FR-EVT-MODEL-005: the work resumed on the new model.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct ModelSwapResumed {
    #[ts(type = "string")]
    pub swap_id: Uuid,
    pub outcome: SwapOutcome,
}

/// Every event the recorder can write; nothing else can be appended.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
#[serde(untagged)]
pub enum FlightEvent {
    LlmInference(LlmInference),
    ProfileChanged(ProfileChanged),
    JobStarted(JobStarted),
    ModelResolved(ModelResolved),
    CloudRequested(CloudRequested),
    CloudApproved(CloudApproved),
    CloudDenied(CloudDenied),
    CloudExecuted(CloudExecuted),
    ModelSwapRequested(ModelSwapRequested),
    ModelSwapPersisted(ModelSwapPersisted),
    ModelSwapOffloaded(ModelSwapOffloaded),
    ModelSwapLoaded(ModelSwapLoaded),
    ModelSwapResumed(ModelSwapResumed),
}

impl FlightEvent {
    /// The event's id.
    pub fn event_type(&self) -> EventType {
        match self {
            Self::LlmInference(_) => EventType::LlmInference,
            Self::ProfileChanged(_) => EventType::ProfileChanged,
            Self::JobStarted(_) => EventType::JobStarted,
            Self::ModelResolved(_) => EventType::ModelResolved,
            Self::CloudRequested(_) => EventType::CloudRequested,
            Self::CloudApproved(_) => EventType::CloudApproved,
            Self::CloudDenied(_) => EventType::CloudDenied,
            Self::CloudExecuted(_) => EventType::CloudExecuted,
            Self::ModelSwapRequested(_) => EventType::ModelSwapRequested,
            Self::ModelSwapPersisted(_) => EventType::ModelSwapPersisted,
            Self::ModelSwapOffloaded(_) => EventType::ModelSwapOffloaded,
            Self::ModelSwapLoaded(_) => EventType::ModelSwapLoaded,
            Self::ModelSwapResumed(_) => EventType::ModelSwapResumed,
        }
    }

    /// Whether the event is governance (cloud, profile, model): those are written with
    /// `append_durable` (record before act); only inference events may go through the queue.
    pub fn is_governance(&self) -> bool {
        !matches!(self, Self::LlmInference(_))
    }
}

/// The correlation ids of an event, stored in indexed columns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Correlation {
    #[ts(type = "string | null")]
    pub trace_id: Option<Uuid>,
    pub job_id: Option<Ident>,
    pub profile_id: Option<Ident>,
    pub provider_id: Option<Ident>,
    pub model_id: Option<Ident>,
}

impl Correlation {
    /// No ids.
    pub fn none() -> Self {
        Self::default()
    }

    /// With a trace id.
    pub fn trace(mut self, trace_id: Uuid) -> Self {
        self.trace_id = Some(trace_id);
        self
    }

    /// With a job id.
    pub fn job(mut self, job_id: Ident) -> Self {
        self.job_id = Some(job_id);
        self
    }

    /// With a profile id.
    pub fn profile(mut self, profile_id: Ident) -> Self {
        self.profile_id = Some(profile_id);
        self
    }

    /// With a provider id.
    pub fn provider(mut self, provider_id: Ident) -> Self {
        self.provider_id = Some(provider_id);
        self
    }

    /// With a model id.
    pub fn model(mut self, model_id: Ident) -> Self {
        self.model_id = Some(model_id);
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn event_type_ids_are_exact_and_round_trip() {
        let ids: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(ids[0], "FR-EVT-LLM-INFERENCE");
        assert_eq!(ids[3], "FR-EVT-PROFILE-003");
        assert_eq!(ids[6], "FR-EVT-CLOUD-003");
        assert_eq!(ids[12], "FR-EVT-MODEL-005");
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::json!(t.as_str())
            );
        }
        assert_eq!(EventType::parse("FR-EVT-CLOUD-005"), None);
    }

    #[test]
    fn payloads_serialise_as_flat_objects() {
        let denied = FlightEvent::CloudDenied(CloudDenied {
            projection_plan_id: Some(Ident::new("plan-1").unwrap()),
            consent_receipt_id: None,
            reason: DenyReason::HashMismatch,
            payload_sha256: Some(Sha256Hex::digest(b"x")),
            observed_sha256: Some(Sha256Hex::digest(b"y")),
        });
        assert!(denied.is_governance());
        let json = serde_json::to_value(&denied).unwrap();
        assert_eq!(json["reason"], "hash_mismatch");
        assert_eq!(json["projection_plan_id"], "plan-1");
        let created = FlightEvent::ProfileChanged(ProfileChanged {
            change: ProfileChange::Created {
                profile_id: Ident::new("p2").unwrap(),
                parent_profile_id: Some(Ident::new("p1").unwrap()),
            },
        });
        let json = serde_json::to_value(&created).unwrap();
        assert_eq!(json["change"], "created");
        assert_eq!(json["parent_profile_id"], "p1");
        assert_eq!(created.event_type().as_str(), "FR-EVT-PROFILE-001");
    }
}

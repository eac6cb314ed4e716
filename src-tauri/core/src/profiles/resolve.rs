//! Which model serves a role for one call, and why.
//!
//! Precedence: a task-type override rule for the role beats a file-type rule, which beats the
//! role's base assignment. Within the chosen assignment the primary model is tried first, then
//! the fallback. Every candidate is checked against the assignment's `allowed_models` and
//! `local_only`, the profile's `allow_cloud_escalation` and the model's health; a candidate that
//! fails a check is passed over with the reason. A cloud choice is never silent: the resolution
//! says `requires_escalation` (every cloud call needs consent) and `crossed_to_cloud` when a local
//! primary gave way to a cloud fallback. Each resolution holds the facts of FR-EVT-PROFILE-003.

use serde::{Deserialize, Serialize};

use super::catalog::{effective_tier, Availability, ModelCatalog, ModelHealth, ModelId, NoTier};
use super::jobs::{JobError, JobStore};
use super::schema::{ModelAssignment, Role, WorkProfile};
use crate::vocab::ProviderTier;

/// Flight Recorder event id of a model assignment resolved for a role.
pub const FR_EVT_MODEL_RESOLVED: &str = "FR-EVT-PROFILE-003";

/// What a call needs a model for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ResolveRequest {
    pub role: Role,
    /// The file type the call works on (`rs`, `.rs` and `RS` are the same).
    pub file_type: Option<String>,
    /// The task type (e.g. `review`), matched exactly.
    pub task_type: Option<String>,
}

impl ResolveRequest {
    /// A request for `role` with no file or task type.
    pub fn role(role: Role) -> Self {
        Self {
            role,
            file_type: None,
            task_type: None,
        }
    }
}

/// Which model of the assignment a candidate is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum CandidateSlot {
    Primary,
    Fallback,
}

/// Why a candidate was passed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum PassOverReason {
    /// Not in the assignment's `allowed_models`.
    NotAllowed,
    /// A cloud model in a `local_only` assignment.
    LocalOnlyViolation,
    /// A cloud model while the profile has `allow_cloud_escalation: false`.
    CloudEscalationDisabled,
    /// Its provider is not registered.
    UnknownProvider,
    /// Not a `<provider_id>/<model name>` id.
    InvalidModelId,
    Unhealthy,
    Unavailable,
    /// It was chosen, and the call failed with a retryable error.
    FailedRetryable,
}

/// A candidate that was not chosen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct PassedOver {
    pub model_id: String,
    pub slot: CandidateSlot,
    pub reason: PassOverReason,
}

/// Facts of FR-EVT-PROFILE-003: the model chosen for a role, the rule that chose it, and every
/// candidate passed over and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Resolution {
    pub job_id: Option<String>,
    pub profile_id: String,
    pub role: Role,
    pub file_type: Option<String>,
    pub task_type: Option<String>,
    /// `task_type:<key>`, `file_type:<key>` or `base`.
    pub rule: String,
    pub chosen_model_id: String,
    pub chosen_slot: CandidateSlot,
    pub chosen_tier: ProviderTier,
    /// The chosen model is cloud tier: the call needs a consent receipt from the guard.
    pub requires_escalation: bool,
    /// The primary was local and the chosen model is cloud.
    pub crossed_to_cloud: bool,
    pub passed_over: Vec<PassedOver>,
}

/// Why no model could be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no usable model for role `{role}` under rule `{rule}` of Work Profile `{profile_id}`: {}", describe(.passed_over))]
    NoUsableModel {
        profile_id: String,
        job_id: Option<String>,
        role: Role,
        rule: String,
        passed_over: Vec<PassedOver>,
    },
    #[error("`{model_id}` failed with an error that retrying another model cannot fix")]
    NotRetryable { model_id: String },
    #[error("the resolution belongs to Work Profile `{expected}`, not `{given}`")]
    ProfileMismatch { expected: String, given: String },
    #[error(transparent)]
    Job(#[from] JobError),
}

impl ResolveError {
    /// A stable, machine-readable name for the variant (for the UI's `{code, message}`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoUsableModel { .. } => "no_usable_model",
            Self::NotRetryable { .. } => "not_retryable",
            Self::ProfileMismatch { .. } => "profile_mismatch",
            Self::Job(e) => e.code(),
        }
    }
}

fn describe(passed_over: &[PassedOver]) -> String {
    let parts: Vec<String> = passed_over
        .iter()
        .map(|p| format!("{} ({:?})", p.model_id, p.reason))
        .collect();
    parts.join(", ")
}

fn normalize_file_type(file_type: &str) -> String {
    file_type
        .trim()
        .trim_start_matches('.')
        .to_ascii_lowercase()
}

/// The assignment that serves the request and the rule that chose it.
fn select<'a>(profile: &'a WorkProfile, req: &ResolveRequest) -> (&'a ModelAssignment, String) {
    if let Some(overrides) = &profile.overrides {
        if let (Some(task), Some(rules)) = (&req.task_type, &overrides.task_type_rules) {
            if let Some(assignment) = rules.get(task).and_then(|rule| rule.get(req.role)) {
                return (assignment, format!("task_type:{task}"));
            }
        }
        if let (Some(file_type), Some(rules)) = (&req.file_type, &overrides.filetype_rules) {
            let wanted = normalize_file_type(file_type);
            let found = rules
                .iter()
                .find(|(key, _)| normalize_file_type(key) == wanted);
            if let Some((key, assignment)) =
                found.and_then(|(key, rule)| rule.get(req.role).map(|a| (key, a)))
            {
                return (assignment, format!("file_type:{key}"));
            }
        }
    }
    (profile.model_assignments.get(req.role), "base".to_owned())
}

fn check(
    profile: &WorkProfile,
    assignment: &ModelAssignment,
    model_id: &str,
    catalog: &dyn ModelCatalog,
    health: &dyn ModelHealth,
) -> Result<ProviderTier, PassOverReason> {
    let id = ModelId::parse(model_id).map_err(|_| PassOverReason::InvalidModelId)?;
    if let Some(allowed) = &assignment.allowed_models {
        if !allowed.iter().any(|a| a == model_id) {
            return Err(PassOverReason::NotAllowed);
        }
    }
    let tier = effective_tier(catalog, &id).map_err(|no_tier| match no_tier {
        NoTier::UnknownProvider => PassOverReason::UnknownProvider,
        NoTier::Undecidable(_) => PassOverReason::InvalidModelId,
    })?;
    if tier == ProviderTier::Cloud {
        if assignment.local_only {
            return Err(PassOverReason::LocalOnlyViolation);
        }
        if !profile.governance.allow_cloud_escalation {
            return Err(PassOverReason::CloudEscalationDisabled);
        }
    }
    match health.availability(model_id) {
        Availability::Available => Ok(tier),
        Availability::Unhealthy => Err(PassOverReason::Unhealthy),
        Availability::Unavailable => Err(PassOverReason::Unavailable),
    }
}

fn resolve_from(
    profile: &WorkProfile,
    req: &ResolveRequest,
    job_id: Option<String>,
    first_slot: CandidateSlot,
    mut passed_over: Vec<PassedOver>,
    catalog: &dyn ModelCatalog,
    health: &dyn ModelHealth,
) -> Result<Resolution, ResolveError> {
    let (assignment, rule) = select(profile, req);
    let primary_tier = ModelId::parse(&assignment.primary_model_id)
        .ok()
        .and_then(|id| effective_tier(catalog, &id).ok());
    let mut candidates = vec![(CandidateSlot::Primary, &assignment.primary_model_id)];
    if let Some(fallback) = &assignment.fallback_model_id {
        candidates.push((CandidateSlot::Fallback, fallback));
    }
    let skip = usize::from(first_slot == CandidateSlot::Fallback);
    for (slot, model_id) in candidates.into_iter().skip(skip) {
        match check(profile, assignment, model_id, catalog, health) {
            Ok(tier) => {
                let cloud = tier == ProviderTier::Cloud;
                return Ok(Resolution {
                    job_id,
                    profile_id: profile.profile_id.clone(),
                    role: req.role,
                    file_type: req.file_type.clone(),
                    task_type: req.task_type.clone(),
                    rule,
                    chosen_model_id: model_id.clone(),
                    chosen_slot: slot,
                    chosen_tier: tier,
                    requires_escalation: cloud,
                    crossed_to_cloud: cloud && primary_tier == Some(ProviderTier::Local),
                    passed_over,
                });
            }
            Err(reason) => passed_over.push(PassedOver {
                model_id: model_id.clone(),
                slot,
                reason,
            }),
        }
    }
    Err(ResolveError::NoUsableModel {
        profile_id: profile.profile_id.clone(),
        job_id,
        role: req.role,
        rule,
        passed_over,
    })
}

/// Resolves the model for `req` under `profile` (see the module docs for the precedence).
pub fn resolve(
    profile: &WorkProfile,
    req: &ResolveRequest,
    catalog: &dyn ModelCatalog,
    health: &dyn ModelHealth,
) -> Result<Resolution, ResolveError> {
    resolve_from(
        profile,
        req,
        None,
        CandidateSlot::Primary,
        Vec::new(),
        catalog,
        health,
    )
}

/// Resolves the model for `req` under the profile `job_id` pinned when it started, whatever
/// profile is active now.
pub async fn resolve_for_job(
    jobs: &JobStore,
    job_id: &str,
    req: &ResolveRequest,
    catalog: &dyn ModelCatalog,
    health: &dyn ModelHealth,
) -> Result<Resolution, ResolveError> {
    let profile = jobs.pinned_profile(job_id).await?;
    let job_id = Some(job_id.to_owned());
    resolve_from(
        &profile,
        req,
        job_id,
        CandidateSlot::Primary,
        Vec::new(),
        catalog,
        health,
    )
}

/// After the chosen model failed: with a retryable error, moves on to the next candidate (the
/// failed one is passed over as `failed_retryable`); with any other error, stops.
pub fn next_after_failure(
    profile: &WorkProfile,
    previous: &Resolution,
    error_is_retryable: bool,
    catalog: &dyn ModelCatalog,
    health: &dyn ModelHealth,
) -> Result<Resolution, ResolveError> {
    if previous.profile_id != profile.profile_id {
        return Err(ResolveError::ProfileMismatch {
            expected: previous.profile_id.clone(),
            given: profile.profile_id.clone(),
        });
    }
    if !error_is_retryable {
        return Err(ResolveError::NotRetryable {
            model_id: previous.chosen_model_id.clone(),
        });
    }
    let mut passed_over = previous.passed_over.clone();
    passed_over.push(PassedOver {
        model_id: previous.chosen_model_id.clone(),
        slot: previous.chosen_slot,
        reason: PassOverReason::FailedRetryable,
    });
    let req = ResolveRequest {
        role: previous.role,
        file_type: previous.file_type.clone(),
        task_type: previous.task_type.clone(),
    };
    if previous.chosen_slot == CandidateSlot::Fallback {
        let (_, rule) = select(profile, &req);
        return Err(ResolveError::NoUsableModel {
            profile_id: profile.profile_id.clone(),
            job_id: previous.job_id.clone(),
            role: req.role,
            rule,
            passed_over,
        });
    }
    let job_id = previous.job_id.clone();
    resolve_from(
        profile,
        &req,
        job_id,
        CandidateSlot::Fallback,
        passed_over,
        catalog,
        health,
    )
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;

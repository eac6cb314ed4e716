//! Work Profiles (spec 4.3.7): which model serves each runtime role, the governance knobs, the
//! jobs that pin a profile, how a role's model is resolved, and local model swaps.
//!
//! Owns the tables `work_profiles`, `jobs` and `model_swaps` (migration 0004) and the workspace
//! setting `active_profile_id`. Guarantees: a stored profile never changes (an edit is a new
//! `profile_id` whose parent is the old one); a job keeps the profile that was active when it
//! started; resolution never silently turns a local call into a cloud call. This module writes
//! no Flight Recorder events: every operation returns the facts of its event (ids in the
//! `FR_EVT_*` constants) and the caller records them.
//!
//! Independent of the provider registry and adapters through small traits:
//! [`ModelCatalog`] (tiers and known models), [`ModelHealth`] (can a model serve now) and
//! [`ModelLoader`] (unload and load a local model; [`OllamaLoader`] implements it over Ollama's
//! `/api/generate`).

mod catalog;
mod jobs;
mod ollama_loader;
mod resolve;
mod schema;
mod store;
mod swap;
mod validate;

#[cfg(test)]
mod test_support;

pub use catalog::{
    effective_tier, Availability, ModelCatalog, ModelHealth, ModelId, ModelIdProblem, NoTier,
    StaticCatalog,
};
pub use jobs::{JobError, JobRecord, JobStarted, JobStatus, JobStore, FR_EVT_JOB_PINNED_PROFILE};
pub use ollama_loader::OllamaLoader;
pub use resolve::{
    next_after_failure, resolve, resolve_for_job, CandidateSlot, PassOverReason, PassedOver,
    Resolution, ResolveError, ResolveRequest, FR_EVT_MODEL_RESOLVED,
};
pub use schema::{
    AutomationLevel, Governance, ModelAssignment, ModelAssignments, Overrides,
    PartialModelAssignments, Role, WorkProfile, WORK_PROFILE_SCHEMA_VERSION,
};
pub use store::{
    new_profile_id, ProfileActivated, ProfileCreated, ProfileError, ProfileStore, ProfileSummary,
    StoredProfile, ACTIVE_PROFILE_SETTING, FR_EVT_PROFILE_CHANGED,
};
pub use swap::{
    ModelLoader, ModelSwap, ModelSwapRequest, StepOutcome, SwapError, SwapState, SwapStep,
    SwapStepRecord,
};
pub use validate::{
    parse_profile_json, validate_profile, FieldError, FieldProblem, ValidationErrors,
};

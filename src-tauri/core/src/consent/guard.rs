//! [`CloudEscalationGuard`]: creates ProjectionPlans, records consent, and alone mints the
//! [`Approval`] that [`super::CloudGate::send`] consumes.
//!
//! Flow: `request_escalation` (policy checks, projection, FR-EVT-CLOUD-001, plan stored as
//! pending) -> `approve` / `approve_by_standing_rule` (FR-EVT-CLOUD-002, receipt stored) or
//! `deny` (FR-EVT-CLOUD-003 `person`) -> `authorize` (every check again, receipt consumed, job cap
//! reserved: an `Approval`) -> `CloudGate::send` (LOCKED and the wire hash checked again,
//! FR-EVT-CLOUD-004, then the call). Every event is appended durably before the step proceeds.
//! Ids and times are minted here, never taken from a caller.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

use super::ledger::ReceiptLedger;
use super::mode::{GovernanceMode, GovernanceSettings};
use super::projection::{project, DEFAULT_MAX_BYTES};
use super::schema::{
    ConsentReceipt, EscalationStatus, PlanBinding, ProjectionPlan, UiSurface,
    PROJECTION_PLAN_SCHEMA,
};
use super::seal::{plan_seal, seals_match};
use super::store::{ConsentStore, PlanRow};
use super::ConsentError;
use crate::db::Database;
use crate::llm::CompletionRequest;
use crate::profiles::{AutomationLevel, JobStore, Resolution, WorkProfile};
use crate::recorder::{
    CloudDenied, CloudRequested, Correlation, DenyReason, FlightEvent, FlightRecorder, Ident,
    PayloadRef, Sha256Hex,
};
use crate::vocab::{Destination, ModelId};

/// Tuning of the guard.
#[derive(Clone, Debug)]
pub struct GuardConfig {
    /// How long an approving receipt stays usable (default 15 minutes).
    pub receipt_ttl: Duration,
    /// `max_bytes` of a plan when the request sets none (default 64 KiB).
    pub default_max_bytes: u64,
    /// Added to the system clock for every time the guard reads (0 in the product). Tests set it
    /// to act as a machine whose clock is wrong.
    pub clock_offset_ms: i64,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            receipt_ttl: Duration::from_secs(15 * 60),
            default_max_bytes: DEFAULT_MAX_BYTES,
            clock_offset_ms: 0,
        }
    }
}

/// How far in the future a receipt's issue time may be (clock steps between processes) before
/// it counts as dated in the future and is refused.
pub(super) const MAX_FUTURE_SKEW_MS: i64 = 60_000;

/// What a caller asks to send to a cloud model.
#[derive(Clone, Debug)]
pub struct EscalationRequest {
    pub job_id: String,
    /// `<provider_id>/<model name>`.
    pub model_id: String,
    /// The role's assignment is `local_only` (the escalation is then denied).
    pub local_only: bool,
    /// The prompt before redaction; kept only locally.
    pub prompt: String,
    pub max_tokens: Option<u32>,
    pub temperature: f32,
    pub stop_sequences: Vec<String>,
    /// The trace to correlate with; a fresh one when `None`.
    pub trace_id: Option<Uuid>,
    pub include_artifact_refs: Vec<String>,
    pub include_fields: Option<Vec<String>>,
    pub wp_id: Option<String>,
    pub mt_id: Option<String>,
    /// The plan's `max_bytes`; [`GuardConfig::default_max_bytes`] when `None`.
    pub max_bytes: Option<u64>,
    /// Where the bytes would go (from the registry's endpoint for the model's provider).
    pub destination: Destination,
}

impl EscalationRequest {
    /// A request for the model a resolution chose, under the profile that resolved it (the
    /// job's pinned profile). `local_only` comes from the assignment the resolution's rule
    /// names; when that assignment cannot be found the request counts as `local_only` (denied).
    pub fn for_resolution(
        resolution: &Resolution,
        profile: &WorkProfile,
        destination: Destination,
        prompt: impl Into<String>,
    ) -> Result<Self, ConsentError> {
        let job_id = resolution
            .job_id
            .clone()
            .ok_or_else(|| ConsentError::InvalidRequest {
                reason: "a cloud escalation belongs to a job; resolve with resolve_for_job".into(),
            })?;
        Ok(Self {
            job_id,
            model_id: resolution.chosen_model_id.clone(),
            local_only: assignment_local_only(profile, resolution),
            prompt: prompt.into(),
            max_tokens: None,
            temperature: 0.0,
            stop_sequences: Vec::new(),
            trace_id: None,
            include_artifact_refs: Vec::new(),
            include_fields: None,
            wp_id: None,
            mt_id: None,
            max_bytes: None,
            destination,
        })
    }
}

fn assignment_local_only(profile: &WorkProfile, resolution: &Resolution) -> bool {
    let role = resolution.role;
    let overrides = profile.overrides.as_ref();
    let found = if let Some(key) = resolution.rule.strip_prefix("task_type:") {
        overrides
            .and_then(|o| o.task_type_rules.as_ref())
            .and_then(|rules| rules.get(key))
            .and_then(|partial| partial.get(role))
    } else if let Some(key) = resolution.rule.strip_prefix("file_type:") {
        overrides
            .and_then(|o| o.filetype_rules.as_ref())
            .and_then(|rules| rules.get(key))
            .and_then(|partial| partial.get(role))
    } else {
        Some(profile.model_assignments.get(role))
    };
    found.map(|a| a.local_only).unwrap_or(true)
}

/// Who answers an escalation, from which surface.
#[derive(Clone, Debug)]
pub struct Approver {
    pub user_id: String,
    pub ui_surface: UiSurface,
    /// Shown with the receipt; never recorded in an event.
    pub notes: Option<String>,
}

/// One escalation as the CLI (`hsk escalation show`) and the desktop modal show it.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct PendingEscalation {
    /// The plan's id.
    pub escalation_id: String,
    pub status: EscalationStatus,
    pub plan: ProjectionPlan,
    /// Destination and owner of the call.
    pub binding: PlanBinding,
    /// Exactly what will be sent (the redacted prompt).
    pub preview: String,
    #[ts(type = "number")]
    pub payload_bytes: u64,
    /// Cloud escalations the job already used, and its cap (`None`: no cap).
    pub job_escalations_used: u32,
    pub job_escalations_cap: Option<u32>,
    /// Cloud escalations the job may still make: cap minus used (`None`: no cap).
    pub remaining_escalations: Option<u32>,
    /// FULL_HUMAN and HYBRID need a person's click; AUTONOMOUS may use the standing rule.
    pub requires_person: bool,
    /// Set when the guard blocked it.
    pub blocked_reason: Option<DenyReason>,
}

/// Permission for exactly one cloud call: made only by [`CloudEscalationGuard::authorize`], not
/// `Clone`, consumed by [`super::CloudGate::send`]. Its receipt is already marked used.
#[must_use = "an Approval is single-use; pass it to CloudGate::send"]
pub struct Approval {
    pub(super) plan_id: String,
    pub(super) receipt_id: String,
    pub(super) payload_sha256: Sha256Hex,
    pub(super) binding: PlanBinding,
}

impl Approval {
    /// The escalation (plan) it approves.
    pub fn escalation_id(&self) -> &str {
        &self.plan_id
    }

    /// The consumed receipt.
    pub fn receipt_id(&self) -> &str {
        &self.receipt_id
    }
}

impl std::fmt::Debug for Approval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approval")
            .field("plan_id", &self.plan_id)
            .field("receipt_id", &self.receipt_id)
            .finish_non_exhaustive()
    }
}

/// The cloud escalation guard. Cheap to clone.
#[derive(Clone, Debug)]
pub struct CloudEscalationGuard {
    pub(super) store: ConsentStore,
    pub(super) settings: GovernanceSettings,
    pub(super) jobs: JobStore,
    pub(super) recorder: FlightRecorder,
    pub(super) config: GuardConfig,
    /// Receipts spent from any copy of this data directory (the OS keychain).
    pub(super) ledger: ReceiptLedger,
    /// Serialises decisions in this process so no approval event is written for a receipt that
    /// loses a race (across processes the database's atomic transition still decides once).
    pub(super) decide: Arc<tokio::sync::Mutex<()>>,
}

pub(super) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `ms` (milliseconds since the epoch) as RFC 3339, UTC, to the millisecond.
pub(super) fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl CloudEscalationGuard {
    /// A guard over `db`, recording to `recorder`, spending receipts in `ledger`.
    pub fn new(
        db: &Database,
        recorder: FlightRecorder,
        config: GuardConfig,
        ledger: ReceiptLedger,
    ) -> Self {
        Self {
            ledger,
            store: ConsentStore::new(db.pool().clone()),
            settings: GovernanceSettings::new(db),
            jobs: JobStore::new(db),
            recorder,
            config,
            decide: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The governance settings (mode, standing rule).
    pub fn settings(&self) -> &GovernanceSettings {
        &self.settings
    }

    /// Now, in milliseconds, as the guard reads the clock (see [`GuardConfig::clock_offset_ms`]).
    pub(super) fn now(&self) -> i64 {
        now_ms().saturating_add(self.config.clock_offset_ms)
    }

    /// Refuses (and records, blocking the plan) a plan row whose seal does not match: it was
    /// written outside Handshake, or before seals existed.
    pub(super) async fn check_plan_seal(
        &self,
        escalation_id: &str,
        row: &PlanRow,
    ) -> Result<(), ConsentError> {
        let expected = plan_seal(&self.recorder, row)?;
        if seals_match(&expected, row.seal.as_deref())
            && row.plan.projection_plan_id == escalation_id
        {
            return Ok(());
        }
        let id = row.plan.projection_plan_id.as_str();
        let hash = Sha256Hex::digest(row.payload_text.as_bytes());
        Err(self
            .deny_with(
                DenyReason::Forged,
                Some((id, hash, &row.binding)),
                None,
                None,
                true,
            )
            .await)
    }

    pub(super) fn correlation(binding: &PlanBinding) -> Correlation {
        Correlation::none()
            .trace(binding.trace_id)
            .job(Ident::sanitized(&binding.job_id))
            .profile(Ident::sanitized(&binding.profile_id))
            .provider(Ident::sanitized(&binding.provider_id))
            .model(Ident::sanitized(&binding.model_id))
    }

    /// Records FR-EVT-CLOUD-003 durably, blocks the plan when `block` is set, and returns the
    /// denial to hand the caller.
    pub(super) async fn deny_with(
        &self,
        reason: DenyReason,
        plan: Option<(&str, Sha256Hex, &PlanBinding)>,
        receipt_id: Option<&str>,
        observed: Option<Sha256Hex>,
        block: bool,
    ) -> ConsentError {
        let correlation = plan
            .as_ref()
            .map(|(_, _, b)| Self::correlation(b))
            .unwrap_or_default();
        let event = FlightEvent::CloudDenied(CloudDenied {
            projection_plan_id: plan.as_ref().map(|(id, _, _)| Ident::sanitized(id)),
            consent_receipt_id: receipt_id.map(Ident::sanitized),
            reason,
            payload_sha256: plan.as_ref().map(|(_, h, _)| h.clone()),
            observed_sha256: observed,
        });
        if let Err(e) = self.recorder.append_durable(event, correlation).await {
            return e.into();
        }
        let escalation_id = plan.as_ref().map(|(id, _, _)| (*id).to_owned());
        if let (true, Some(id)) = (block, &escalation_id) {
            let from = [EscalationStatus::Pending, EscalationStatus::Approved];
            let blocked = EscalationStatus::Blocked;
            if let Err(e) = self
                .store
                .transition(id, &from, blocked, Some(reason))
                .await
            {
                return e;
            }
        }
        ConsentError::Denied {
            reason,
            escalation_id,
        }
    }

    /// Records a denial of a request that got no plan (FR-EVT-CLOUD-003 without plan ids).
    async fn refuse(&self, reason: DenyReason, correlation: &Correlation) -> ConsentError {
        let event = FlightEvent::CloudDenied(CloudDenied {
            projection_plan_id: None,
            consent_receipt_id: None,
            reason,
            payload_sha256: None,
            observed_sha256: None,
        });
        match self
            .recorder
            .append_durable(event, correlation.clone())
            .await
        {
            Ok(_) => ConsentError::Denied {
                reason,
                escalation_id: None,
            },
            Err(e) => e.into(),
        }
    }

    /// Records why resuming `job_id` sends nothing (FR-EVT-CLOUD-003), before the caller says
    /// so: no escalation at all or one still pending (`no_receipt`), denied (`person`), already
    /// sent (`replay`), or blocked (its blocked reason). The plan's state is left as it is (a
    /// pending plan can still be approved). `escalation` is the job's latest, if any.
    pub async fn record_refused_resume(
        &self,
        job_id: &str,
        escalation: Option<&PendingEscalation>,
    ) -> Result<(), ConsentError> {
        self.jobs.get(job_id).await?;
        let outcome = match escalation {
            None => {
                let correlation = Correlation::none().job(Ident::sanitized(job_id));
                self.refuse(DenyReason::NoReceipt, &correlation).await
            }
            Some(e) => {
                let reason = match e.status {
                    EscalationStatus::Pending | EscalationStatus::Approved => DenyReason::NoReceipt,
                    EscalationStatus::Denied => DenyReason::Person,
                    EscalationStatus::Executed => DenyReason::Replay,
                    EscalationStatus::Blocked => e.blocked_reason.unwrap_or(DenyReason::Replay),
                };
                let hash = Sha256Hex::digest(e.preview.as_bytes());
                let plan = Some((e.escalation_id.as_str(), hash, &e.binding));
                self.deny_with(reason, plan, None, None, false).await
            }
        };
        match outcome {
            ConsentError::Denied { .. } => Ok(()),
            not_recorded => Err(not_recorded),
        }
    }

    /// Records that an approved escalation cannot be sent because its provider is gone or its
    /// model id no longer stands (FR-EVT-CLOUD-003 `destination_changed`), and blocks the plan.
    pub async fn refuse_lost_destination(&self, escalation: &PendingEscalation) -> ConsentError {
        let hash = Sha256Hex::digest(escalation.preview.as_bytes());
        let plan = Some((escalation.escalation_id.as_str(), hash, &escalation.binding));
        self.deny_with(DenyReason::DestinationChanged, plan, None, None, true)
            .await
    }

    /// Checks policy, projects the prompt, records FR-EVT-CLOUD-001 and stores the plan as
    /// pending. Denied (and recorded) when LOCKED, when the profile disallows cloud escalation,
    /// for a `local_only` assignment, or when the job has used its cap.
    pub async fn request_escalation(
        &self,
        req: EscalationRequest,
    ) -> Result<PendingEscalation, ConsentError> {
        let model_id =
            ModelId::parse(&req.model_id).map_err(|problem| ConsentError::InvalidRequest {
                reason: format!("model_id: {problem}"),
            })?;
        if req.destination.provider_id != model_id.provider_id() {
            return Err(ConsentError::InvalidRequest {
                reason: "the destination is another provider than the model's".into(),
            });
        }
        let job = self.jobs.get(&req.job_id).await?;
        let profile = self.jobs.pinned_profile(&req.job_id).await?;
        let binding = PlanBinding {
            provider_id: model_id.provider_id().to_owned(),
            model_id: model_id.to_string(),
            job_id: job.job_id.clone(),
            profile_id: profile.profile_id.clone(),
            trace_id: req
                .trace_id
                .filter(|t| !t.is_nil())
                .unwrap_or_else(Uuid::now_v7),
            automation_level: profile.governance.automation_level,
            local_only: req.local_only,
            destination: req.destination,
        };
        let correlation = Self::correlation(&binding);
        if self.settings.mode().await? == GovernanceMode::Locked {
            return Err(self.refuse(DenyReason::Locked, &correlation).await);
        }
        if !profile.governance.allow_cloud_escalation {
            return Err(self.refuse(DenyReason::Profile, &correlation).await);
        }
        if req.local_only {
            return Err(self.refuse(DenyReason::LocalOnly, &correlation).await);
        }
        if let Some(cap) = profile.governance.max_cloud_escalations_per_job {
            if job.cloud_escalations >= cap {
                return Err(self.refuse(DenyReason::Cap, &correlation).await);
            }
        }
        let max_bytes = req.max_bytes.unwrap_or(self.config.default_max_bytes);
        let projection = project(&req.prompt, max_bytes)?;
        let plan = ProjectionPlan {
            schema_version: PROJECTION_PLAN_SCHEMA.to_owned(),
            projection_plan_id: format!("pp-{}", Uuid::now_v7()),
            include_artifact_refs: req.include_artifact_refs,
            include_fields: req.include_fields,
            redactions_applied: projection.redactions_applied.clone(),
            max_bytes,
            payload_sha256: projection.payload_sha256.as_str().to_owned(),
            created_at: rfc3339_ms(self.now()),
            job_id: Some(job.job_id.clone()),
            wp_id: req.wp_id,
            mt_id: req.mt_id,
        };
        let raw_ref = Uuid::new_v4();
        let row = PlanRow {
            plan,
            binding,
            payload_text: projection.payload,
            payload_bytes: projection.payload_bytes,
            raw_payload_ref: Some(raw_ref),
            max_tokens: req.max_tokens,
            temperature: req.temperature,
            stop_sequences: req.stop_sequences,
            status: EscalationStatus::Pending,
            blocked_reason: None,
            created_at_ms: self.now(),
            seal: None,
        };
        let row = PlanRow {
            seal: Some(plan_seal(&self.recorder, &row)?),
            ..row
        };
        let event = FlightEvent::CloudRequested(CloudRequested {
            projection_plan_id: Ident::sanitized(&row.plan.projection_plan_id),
            payload_sha256: projection.payload_sha256,
            payload_bytes: projection.payload_bytes,
            max_bytes,
            redactions_applied: projection
                .redactions_applied
                .iter()
                .map(|r| Ident::sanitized(r))
                .collect(),
            payload_ref: Some(PayloadRef::new(raw_ref)),
        });
        self.recorder.append_durable(event, correlation).await?;
        self.store.insert_plan(&row, Some(&req.prompt)).await?;
        self.detail(row).await
    }

    /// Escalations waiting for an answer, oldest first.
    pub async fn list_pending(&self) -> Result<Vec<PendingEscalation>, ConsentError> {
        self.list(Some(EscalationStatus::Pending)).await
    }

    /// Escalations in `status` (all when `None`), oldest first.
    pub async fn list(
        &self,
        status: Option<EscalationStatus>,
    ) -> Result<Vec<PendingEscalation>, ConsentError> {
        let mut out = Vec::new();
        for row in self.store.plans(status).await? {
            out.push(self.detail(row).await?);
        }
        Ok(out)
    }

    /// One escalation: its plan, exactly what will be sent, where, and the job's budget.
    pub async fn show(&self, escalation_id: &str) -> Result<PendingEscalation, ConsentError> {
        let row = self.plan(escalation_id).await?;
        self.detail(row).await
    }

    pub(super) async fn plan(&self, escalation_id: &str) -> Result<PlanRow, ConsentError> {
        self.store
            .plan(escalation_id)
            .await?
            .ok_or_else(|| ConsentError::NotFound {
                escalation_id: escalation_id.to_owned(),
            })
    }

    async fn detail(&self, row: PlanRow) -> Result<PendingEscalation, ConsentError> {
        let job = self.jobs.get(&row.binding.job_id).await?;
        let profile = self.jobs.pinned_profile(&row.binding.job_id).await?;
        let cap = profile.governance.max_cloud_escalations_per_job;
        Ok(PendingEscalation {
            escalation_id: row.plan.projection_plan_id.clone(),
            status: row.status,
            requires_person: row.binding.automation_level != AutomationLevel::Autonomous,
            plan: row.plan,
            binding: row.binding,
            preview: row.payload_text,
            payload_bytes: row.payload_bytes,
            job_escalations_used: job.cloud_escalations,
            job_escalations_cap: cap,
            remaining_escalations: cap.map(|c| c.saturating_sub(job.cloud_escalations)),
            blocked_reason: row.blocked_reason,
        })
    }

    /// The request the approved plan stands for: its redacted payload as the prompt, its model,
    /// trace and parameters. What `execute_approved` sends.
    pub async fn approved_request(
        &self,
        escalation_id: &str,
    ) -> Result<CompletionRequest, ConsentError> {
        let row = self.plan(escalation_id).await?;
        self.check_plan_seal(escalation_id, &row).await?;
        Ok(CompletionRequest {
            trace_id: row.binding.trace_id,
            prompt: row.payload_text,
            model_id: row.binding.model_id,
            max_tokens: row.max_tokens,
            temperature: row.temperature,
            stop_sequences: row.stop_sequences,
        })
    }

    /// The receipt issued for an escalation, if any (the newest).
    pub async fn receipt_for(
        &self,
        escalation_id: &str,
    ) -> Result<Option<ConsentReceipt>, ConsentError> {
        Ok(self
            .store
            .receipt_for_plan(escalation_id)
            .await?
            .map(|r| r.receipt))
    }
}

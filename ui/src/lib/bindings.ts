// Generated from the Rust types by src-tauri/src/bindings.rs. Do not edit by hand:
// run `UPDATE_BINDINGS=1 cargo test -p handshake bindings` instead.

export type AppInfo = { version: string, data_dir: string, database_path: string, schema_version: number, };

export type AutomationLevel = "FULL_HUMAN" | "HYBRID" | "AUTONOMOUS";

export type CandidateSlot = "primary" | "fallback";

export type Check = { name: string, state: CheckState, required: boolean, detail: string, };

export type CheckState = "ok" | "failed" | "absent";

export type CommandError = { 
/**
 * The stable name of the failure.
 */
code: string, 
/**
 * What happened, for people.
 */
message: string, 
/**
 * The form field this error belongs to, when there is one.
 */
field: string | null, 
/**
 * Every problem a validation found (empty otherwise).
 */
field_errors: Array<FieldIssue>, };

export type ConsentReceipt = { schema_version: string, consent_receipt_id: string, projection_plan_id: string, payload_sha256: string, approved: boolean, 
/**
 * RFC 3339, UTC.
 */
approved_at: string, user_id: string, ui_surface?: UiSurface, notes?: string, };

export type DecisionSurface = "modal" | "console";

export type DenyReason = "person" | "locked" | "profile" | "local_only" | "cap" | "hash_mismatch" | "expired" | "replay" | "no_receipt" | "plan_mismatch";

export type DoctorReport = { version: string, data_dir: string, schema_version: number | null, supported_schema_version: number, checks: Array<Check>, ok: boolean, };

export type EscalationStatus = "pending" | "approved" | "denied" | "executed" | "blocked";

export type FieldIssue = { path: string, message: string, };

export type FinishReason = "stop" | "length" | "content_filter" | "tool_calls" | "load" | "unload";

export type Governance = { mode: GovernanceMode, standing_rule: StandingRule | null, };

export type GovernanceMode = "LOCKED" | "STANDARD";

export type PassOverReason = "not_allowed" | "local_only_violation" | "cloud_escalation_disabled" | "unknown_provider" | "invalid_model_id" | "unhealthy" | "unavailable" | "failed_retryable";

export type PassedOver = { model_id: string, slot: CandidateSlot, reason: PassOverReason, };

export type PendingEscalation = { 
/**
 * The plan's id.
 */
escalation_id: string, status: EscalationStatus, plan: ProjectionPlan, 
/**
 * Destination and owner of the call.
 */
binding: PlanBinding, 
/**
 * Exactly what will be sent (the redacted prompt).
 */
preview: string, payload_bytes: number, 
/**
 * Cloud escalations the job already used, and its cap (`None`: no cap).
 */
job_escalations_used: number, job_escalations_cap: number | null, 
/**
 * Cloud escalations the job may still make: cap minus used (`None`: no cap).
 */
remaining_escalations: number | null, 
/**
 * FULL_HUMAN and HYBRID need a person's click; AUTONOMOUS may use the standing rule.
 */
requires_person: boolean, 
/**
 * Set when the guard blocked it.
 */
blocked_reason: DenyReason | null, };

export type PlanBinding = { provider_id: string, 
/**
 * `<provider_id>/<model name>`.
 */
model_id: string, job_id: string, profile_id: string, trace_id: string, 
/**
 * Of the job's pinned profile: decides who may approve.
 */
automation_level: AutomationLevel, 
/**
 * The role's assignment is `local_only` (then no cloud call is allowed at all).
 */
local_only: boolean, };

export type ProjectionPlan = { schema_version: string, projection_plan_id: string, 
/**
 * Artifact handles or paths the payload was projected from.
 */
include_artifact_refs: Array<string>, include_fields?: Array<string>, 
/**
 * The named redactions that replaced at least one span (see [`super::redact`]).
 */
redactions_applied: Array<string>, max_bytes: number, 
/**
 * SHA-256 (lowercase hex) of exactly the bytes that will be sent.
 */
payload_sha256: string, 
/**
 * RFC 3339, UTC.
 */
created_at: string, job_id?: string, wp_id?: string, mt_id?: string, };

export type ProviderTier = "local" | "cloud";

export type Resolution = { job_id: string | null, profile_id: string, role: Role, file_type: string | null, task_type: string | null, 
/**
 * `task_type:<key>`, `file_type:<key>` or `base`.
 */
rule: string, chosen_model_id: string, chosen_slot: CandidateSlot, chosen_tier: ProviderTier, 
/**
 * The chosen model is cloud tier: the call needs a consent receipt from the guard.
 */
requires_escalation: boolean, 
/**
 * The primary was local and the chosen model is cloud.
 */
crossed_to_cloud: boolean, passed_over: Array<PassedOver>, };

export type Role = "frontend" | "orchestrator" | "worker" | "validator";

export type RoleChoice = { role: Role, primary_model_id: string, };

export type RunChoices = { profiles: Array<RunProfileChoice>, mode: GovernanceMode, };

export type RunEvent = { "type": "resolved", resolution: Resolution, } | { "type": "needs_consent", escalation: PendingEscalation, } | { "type": "started", model_id: string, trace_id: string, cloud: boolean, } | { "type": "text", delta: string, } | { "type": "usage", usage: TokenUsage, max_tokens: number | null, } | { "type": "finished", model_id: string, finish_reason: FinishReason, latency_ms: number, time_to_first_token_ms: number | null, prompt_truncated: boolean, };

export type RunMessage = { "type": "event", event: RunEvent, } | { "type": "failed", error: CommandError, deny_reason: string | null, };

export type RunProfileChoice = { profile_id: string, name: string, active: boolean, roles: Array<RoleChoice>, 
/**
 * Keys of the profile's `filetype_rules`.
 */
file_types: Array<string>, 
/**
 * Keys of the profile's `task_type_rules`.
 */
task_types: Array<string>, allow_cloud_escalation: boolean, };

export type RunStarted = { run_id: string, job_id: string, };

export type StandingRule = { 
/**
 * Who set the rule (becomes the receipt's `user_id`).
 */
set_by_user_id: string, 
/**
 * Providers the rule covers; an escalation to any other one needs a person.
 */
provider_ids: Array<string>, 
/**
 * Largest payload the rule approves, in bytes.
 */
max_payload_bytes: number, };

export type StartRun = { 
/**
 * The profile to start a job on; the active profile when `null`.
 */
profile_id: string | null, 
/**
 * Continue this job instead of starting one.
 */
job_id: string | null, role: Role, file_type: string | null, task_type: string | null, prompt: string, max_tokens: number | null, };

export type TokenUsage = { prompt_tokens: number | null, completion_tokens: number | null, };

export type UiSurface = "cloud_escalation_modal" | "operator_console" | "settings";

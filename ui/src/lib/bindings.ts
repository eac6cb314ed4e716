// Generated from the Rust types by src-tauri/src/bindings.rs. Do not edit by hand:
// run `UPDATE_BINDINGS=1 cargo test -p handshake bindings` instead.

export type AppInfo = { version: string, data_dir: string, database_path: string, schema_version: number, };

export type AutomationLevel = "FULL_HUMAN" | "HYBRID" | "AUTONOMOUS";

export type BreakKind = "edited" | "deleted" | "reordered" | "truncated_tail" | "anchor_mismatch" | "rolled_back";

export type CandidateSlot = "primary" | "fallback";

export type CatalogModel = { 
/**
 * `<provider_id>/<name>`, as profiles name it.
 */
model_id: string, name: string, 
/**
 * Where its bytes go: the provider's tier, or cloud for an Ollama cloud tag.
 */
tier: ProviderTier, };

export type CatalogProvider = { provider_id: string, display_name: string, kind: ProviderKind, tier: ProviderTier, 
/**
 * The provider's default model, as a full model id.
 */
default_model_id: string | null, models: Array<CatalogModel>, 
/**
 * Why the models could not be listed (the provider is still usable by typing a model id).
 */
models_error: string | null, };

export type ChainHead = { seq: number, hash: string, };

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

export type ConnectionReport = { provider_id: string, 
/**
 * The URL called (without its query).
 */
url: string, status: number, 
/**
 * From sending the request to the response headers.
 */
latency_ms: number, 
/**
 * Until the whole model list was read.
 */
total_ms: number, 
/**
 * Whether the API key was sent.
 */
authenticated: boolean, models: Array<ProviderModel>, };

export type ConsentReceipt = { schema_version: string, consent_receipt_id: string, projection_plan_id: string, payload_sha256: string, approved: boolean, 
/**
 * RFC 3339, UTC.
 */
approved_at: string, user_id: string, ui_surface?: UiSurface, notes?: string, };

export type ConsoleExport = { path: string, events: number, };

export type ConsoleFilter = { 
/**
 * An event id such as `FR-EVT-CLOUD-001`.
 */
event_type: string | null, trace_id: string | null, job_id: string | null, provider_id: string | null, from: string | null, until: string | null, };

export type ConsolePage = { events: Array<StoredEvent>, 
/**
 * The newest event in the log (filters aside); 0 when it is empty. The live feed starts here.
 */
head_seq: number, 
/**
 * Older events match too: ask again with `before_seq` = the last event's `seq`.
 */
has_more: boolean, };

export type ConsoleTimeline = { 
/**
 * Oldest first.
 */
completions: Array<TimelineCompletion>, 
/**
 * Oldest first.
 */
escalations: Array<TimelineEscalation>, local: TierTotals, cloud: TierTotals, 
/**
 * Bytes the executed cloud calls sent (FR-EVT-CLOUD-004 `sent_bytes`).
 */
cloud_bytes_sent: number, 
/**
 * Only the newest [`TIMELINE_MAX`] of either kind are shown; narrow the time range.
 */
truncated: boolean, };

export type DecisionSurface = "modal" | "console";

export type DenyReason = "person" | "locked" | "profile" | "local_only" | "cap" | "hash_mismatch" | "expired" | "replay" | "no_receipt" | "plan_mismatch" | "destination_changed" | "forged" | "future_dated";

export type Destination = { provider_id: string, 
/**
 * `scheme://host:port`, with the port always written.
 */
origin: string, tier: ProviderTier, 
/**
 * The provider record's revision (milliseconds of its last change; strictly increasing).
 */
revision: number, };

export type DoctorReport = { version: string, data_dir: string, schema_version: number | null, supported_schema_version: number, checks: Array<Check>, ok: boolean, };

export type EscalationStatus = "pending" | "approved" | "denied" | "executed" | "blocked";

export type EscalationStep = "requested" | "approved" | "denied" | "executed";

export type EventType = "FR-EVT-LLM-INFERENCE" | "FR-EVT-PROFILE-001" | "FR-EVT-PROFILE-002" | "FR-EVT-PROFILE-003" | "FR-EVT-CLOUD-001" | "FR-EVT-CLOUD-002" | "FR-EVT-CLOUD-003" | "FR-EVT-CLOUD-004" | "FR-EVT-MODEL-001" | "FR-EVT-MODEL-002" | "FR-EVT-MODEL-003" | "FR-EVT-MODEL-004" | "FR-EVT-MODEL-005";

export type FieldIssue = { path: string, message: string, };

export type FinishReason = "stop" | "length" | "content_filter" | "tool_calls" | "load" | "unload" | "other";

export type Governance = { mode: GovernanceMode, standing_rule: StandingRule | null, };

export type GovernanceMode = "LOCKED" | "STANDARD";

export type LiveUpdate = { "kind": "event", event: StoredEvent, } | { "kind": "resync", head_seq: number, };

export type LocalOllamaOffer = { 
/**
 * The id it would be registered under.
 */
provider_id: string, base_url: string, latency_ms: number, models: Array<ProviderModel>, };

export type MaxTokensField = "max_tokens" | "max_completion_tokens";

export type ModelAssignment = { primary_model_id: string, fallback_model_id?: string, local_only: boolean, 
/**
 * A whitelist: when present, no other model may serve the role.
 */
allowed_models?: Array<string>, };

export type ModelAssignments = { frontend: ModelAssignment, orchestrator: ModelAssignment, worker: ModelAssignment, validator: ModelAssignment, };

export type ModelIdProblem = "no_slash" | "empty_provider" | "empty_model" | "surrounding_whitespace" | "hidden_character" | "digest" | "several_tags" | "colon_outside_tag" | "trailing_slash" | "outside_ascii" | "tag_character";

export type ModelTierView = { "status": "empty" } | { "status": "local" } | { "status": "cloud" } | { "status": "unknown_provider", provider_id: string, } | { "status": "malformed", problem: ModelIdProblem, message: string, };

export type OpenAiCompatOptions = { max_tokens_field: MaxTokensField, 
/**
 * Send `stream_options: {include_usage: true}` (some servers reject it).
 */
stream_include_usage: boolean, };

export type Overrides = { filetype_rules?: { [key in string]?: PartialModelAssignments }, task_type_rules?: { [key in string]?: PartialModelAssignments }, };

export type PartialModelAssignments = { frontend?: ModelAssignment, orchestrator?: ModelAssignment, worker?: ModelAssignment, validator?: ModelAssignment, };

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
local_only: boolean, 
/**
 * Where the bytes go, as the provider stood when the plan was made; the gate refuses to
 * send when the provider no longer matches it.
 */
destination: Destination, };

export type ProfileActivated = { profile_id: string, previous: string | null, };

export type ProfileCreated = { profile_id: string, 
/**
 * The profile this one is a new version of.
 */
parent_profile_id: string | null, name: string, 
/**
 * SHA-256 of the stored canonical JSON.
 */
body_sha256: string, };

export type ProfileGovernance = { automation_level: AutomationLevel, allow_cloud_escalation: boolean, max_cloud_escalations_per_job?: number, };

export type ProfileSaved = { 
/**
 * The new version (its id, parent and name).
 */
created: ProfileCreated, 
/**
 * True when the edited profile was used by jobs, so it could not change and the edit became
 * a new version for that reason.
 */
new_version_because_used: boolean, 
/**
 * Jobs that used the edited profile (they keep it).
 */
parent_job_count: number, 
/**
 * True when the edited profile was active and the new version was activated in its place.
 */
activated: boolean, };

export type ProfileVersionEntry = { profile_id: string, name: string, 
/**
 * The profile this one is a new version of.
 */
parent_profile_id: string | null, 
/**
 * The versions made from this one, oldest first.
 */
child_profile_ids: Array<string>, created_at: string, active: boolean, 
/**
 * Jobs that pinned this profile, in the order they started. A used profile never changes.
 */
used_by_jobs: Array<string>, };

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

export type ProviderDraft = { provider_id: string, display_name: string, kind: ProviderKind, tier: ProviderTier, base_url: string, 
/**
 * Blank or absent for none.
 */
default_model: string | null, 
/**
 * The preset the form started from (its server options are used when adding).
 */
preset_id: string | null, };

export type ProviderKind = "ollama" | "openai_compat";

export type ProviderModel = { 
/**
 * The name as the provider knows it (`gemma3:270m`).
 */
name: string, 
/**
 * `<provider_id>/<name>`, as Work Profiles name it.
 */
model_id: string, size_bytes: number | null, };

export type ProviderPreset = { 
/**
 * Also the suggested provider id.
 */
preset_id: string, display_name: string, kind: ProviderKind, tier: ProviderTier, base_url: string, 
/**
 * Whether the provider needs an API key.
 */
needs_key: boolean, openai: OpenAiCompatOptions, };

export type ProviderRow = { provider_id: string, display_name: string, kind: ProviderKind, tier: ProviderTier, base_url: string, default_model: string | null, 
/**
 * `not_set` (keyless), `stored` (in the OS keychain) or `missing` (to be entered again).
 */
api_key: SecretState, };

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

export type SecretState = "not_set" | "stored" | "missing";

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

export type StandingRuleInput = { 
/**
 * Providers the rule covers.
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
job_id: string | null, role: Role, file_type: string | null, task_type: string | null, prompt: string, max_tokens: number | null, 
/**
 * Sampling temperature; 0 (the most repeatable) when absent.
 */
temperature?: number, 
/**
 * Stop sequences; none when absent.
 */
stop_sequences?: Array<string>, };

export type StoredEvent = { seq: number, event_id: string, event_type: string, occurred_at: string, trace_id: string | null, job_id: string | null, profile_id: string | null, provider_id: string | null, model_id: string | null, 
/**
 * The typed event's fields (see `events.rs`).
 */
payload: Record<string, unknown>, prev_hash: string, hash: string, };

export type StoredProfile = { profile: WorkProfile, parent_profile_id: string | null, created_at: string, body_sha256: string, active: boolean, 
/**
 * Jobs that pinned this profile, in the order they started.
 */
used_by_jobs: Array<string>, };

export type TierTotals = { completions: number, 
/**
 * Attempts that did not end in success.
 */
failed: number, prompt_tokens: number, completion_tokens: number, };

export type TimelineCompletion = { seq: number, at: string, tier: ProviderTier, provider_id: string | null, model_id: string | null, latency_ms: number, prompt_tokens: number | null, completion_tokens: number | null, 
/**
 * `success`, `error`, `cancelled` or `incomplete`.
 */
status: string, };

export type TimelineEscalation = { seq: number, at: string, step: EscalationStep, 
/**
 * Bytes planned (requested) or sent (executed).
 */
bytes: number | null, provider_id: string | null, model_id: string | null, 
/**
 * Why it was denied.
 */
reason: string | null, };

export type TokenUsage = { prompt_tokens: number | null, completion_tokens: number | null, };

export type UiSurface = "cloud_escalation_modal" | "operator_console" | "settings";

export type VerifyReport = { "status": "ok", count: number, from_seq: number, head: ChainHead, anchored_seq: number | null, } | { "status": "broken", sequence: number, kind: BreakKind, detail: string, };

export type WorkProfile = { schema_version: "hsk.work_profile@0.5", profile_id: string, name: string, description?: string, model_assignments: ModelAssignments, governance: ProfileGovernance, overrides?: Overrides, };

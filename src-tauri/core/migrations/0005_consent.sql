-- Cloud escalation consent (spec 11.1.7): ProjectionPlans, ConsentReceipts and the local-only
-- payloads behind them. The spec JSON of a plan or receipt is stored exactly (plan_json,
-- receipt_json); the binding context (provider, model, job, profile, trace) and the state of the
-- escalation live in typed columns beside it, never in the spec JSON.

-- Unredacted payloads, referenced by PayloadRef from FR-EVT-CLOUD-001. Local only: never sent,
-- never exported, never in an event.
CREATE TABLE consent_local_payloads (
    payload_ref TEXT PRIMARY KEY NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;

CREATE TABLE consent_plans (
    projection_plan_id TEXT PRIMARY KEY NOT NULL,
    plan_json          TEXT NOT NULL,
    payload_sha256     TEXT NOT NULL,
    -- The projected (redacted) prompt: exactly the bytes that will be sent once approved.
    payload_text       TEXT NOT NULL,
    payload_bytes      INTEGER NOT NULL,
    raw_payload_ref    TEXT REFERENCES consent_local_payloads(payload_ref),
    provider_id        TEXT NOT NULL,
    model_id           TEXT NOT NULL,
    job_id             TEXT NOT NULL,
    profile_id         TEXT NOT NULL,
    trace_id           TEXT NOT NULL,
    automation_level   TEXT NOT NULL,
    local_only         INTEGER NOT NULL CHECK (local_only IN (0, 1)),
    max_tokens         INTEGER,
    temperature        REAL NOT NULL,
    stop_sequences     TEXT NOT NULL,
    status             TEXT NOT NULL
        CHECK (status IN ('pending', 'approved', 'denied', 'executed', 'blocked')),
    -- Why the guard blocked it (a FR-EVT-CLOUD-003 reason), when status is 'blocked'.
    blocked_reason     TEXT,
    created_at_ms      INTEGER NOT NULL
) STRICT;

CREATE INDEX consent_plans_status ON consent_plans(status, created_at_ms);
CREATE INDEX consent_plans_job ON consent_plans(job_id);

CREATE TABLE consent_receipts (
    consent_receipt_id TEXT PRIMARY KEY NOT NULL,
    projection_plan_id TEXT NOT NULL REFERENCES consent_plans(projection_plan_id),
    payload_sha256     TEXT NOT NULL,
    approved           INTEGER NOT NULL CHECK (approved IN (0, 1)),
    receipt_json       TEXT NOT NULL,
    issued_at_ms       INTEGER NOT NULL,
    expires_at_ms      INTEGER NOT NULL,
    consumed_at_ms     INTEGER
) STRICT;

CREATE INDEX consent_receipts_plan ON consent_receipts(projection_plan_id);

-- A receipt's binding never changes; only its consumption is recorded, once.
CREATE TRIGGER consent_receipts_bound BEFORE UPDATE ON consent_receipts
WHEN NEW.consent_receipt_id IS NOT OLD.consent_receipt_id
  OR NEW.projection_plan_id IS NOT OLD.projection_plan_id
  OR NEW.payload_sha256 IS NOT OLD.payload_sha256
  OR NEW.approved IS NOT OLD.approved
  OR NEW.receipt_json IS NOT OLD.receipt_json
  OR NEW.issued_at_ms IS NOT OLD.issued_at_ms
  OR NEW.expires_at_ms IS NOT OLD.expires_at_ms
  OR OLD.consumed_at_ms IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'consent receipts are immutable and single-use');
END;

-- A plan's payload and binding never change; only its status moves.
CREATE TRIGGER consent_plans_bound BEFORE UPDATE ON consent_plans
WHEN NEW.plan_json IS NOT OLD.plan_json
  OR NEW.payload_sha256 IS NOT OLD.payload_sha256
  OR NEW.payload_text IS NOT OLD.payload_text
  OR NEW.provider_id IS NOT OLD.provider_id
  OR NEW.model_id IS NOT OLD.model_id
  OR NEW.job_id IS NOT OLD.job_id
  OR NEW.profile_id IS NOT OLD.profile_id
BEGIN
    SELECT RAISE(ABORT, 'a projection plan is immutable once created');
END;

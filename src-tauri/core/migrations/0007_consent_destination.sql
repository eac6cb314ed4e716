-- Consent bound to where the bytes go, and sealed against edits.
--
-- A plan is bound to where its bytes go: the provider's destination origin (scheme://host:port of
-- the base URL), the model's effective tier and the provider record's revision when the plan was
-- made. The gate refuses to send when the provider no longer matches (docs/governance.md). Plans
-- made before this migration carry revision 0 and origin 'unrecorded', which no provider has: they
-- are refused and must be escalated again.
ALTER TABLE consent_plans ADD COLUMN destination_origin TEXT NOT NULL DEFAULT 'unrecorded';
ALTER TABLE consent_plans ADD COLUMN destination_tier TEXT NOT NULL DEFAULT 'cloud'
    CHECK (destination_tier IN ('local', 'cloud'));
ALTER TABLE consent_plans ADD COLUMN provider_revision INTEGER NOT NULL DEFAULT 0;

-- Plans and receipts are sealed: an HMAC under the Flight Recorder's anchor key (kept in the OS
-- keychain) over every field that decides what is sent, where and until when. A row edited
-- outside Handshake (even with the triggers dropped) no longer matches its seal and is refused as
-- `forged`. Rows from before this migration have no seal and are refused the same way.
ALTER TABLE consent_plans ADD COLUMN seal TEXT;
ALTER TABLE consent_receipts ADD COLUMN seal TEXT;

DROP TRIGGER consent_plans_bound;
CREATE TRIGGER consent_plans_bound BEFORE UPDATE ON consent_plans
WHEN NEW.plan_json IS NOT OLD.plan_json
  OR NEW.payload_sha256 IS NOT OLD.payload_sha256
  OR NEW.payload_text IS NOT OLD.payload_text
  OR NEW.provider_id IS NOT OLD.provider_id
  OR NEW.model_id IS NOT OLD.model_id
  OR NEW.job_id IS NOT OLD.job_id
  OR NEW.profile_id IS NOT OLD.profile_id
  OR NEW.destination_origin IS NOT OLD.destination_origin
  OR NEW.destination_tier IS NOT OLD.destination_tier
  OR NEW.provider_revision IS NOT OLD.provider_revision
  OR NEW.seal IS NOT OLD.seal
BEGIN
    SELECT RAISE(ABORT, 'a projection plan is immutable once created');
END;

DROP TRIGGER consent_receipts_bound;
CREATE TRIGGER consent_receipts_bound BEFORE UPDATE ON consent_receipts
WHEN NEW.consent_receipt_id IS NOT OLD.consent_receipt_id
  OR NEW.projection_plan_id IS NOT OLD.projection_plan_id
  OR NEW.payload_sha256 IS NOT OLD.payload_sha256
  OR NEW.approved IS NOT OLD.approved
  OR NEW.receipt_json IS NOT OLD.receipt_json
  OR NEW.issued_at_ms IS NOT OLD.issued_at_ms
  OR NEW.expires_at_ms IS NOT OLD.expires_at_ms
  OR NEW.seal IS NOT OLD.seal
  OR OLD.consumed_at_ms IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'consent receipts are immutable and single-use');
END;

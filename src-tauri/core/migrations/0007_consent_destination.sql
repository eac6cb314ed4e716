-- A plan is bound to where its bytes go: the provider's destination origin (scheme://host:port of
-- the base URL), the model's effective tier and the provider record's revision when the plan was
-- made. The gate refuses to send when the provider no longer matches (docs/governance.md). Plans
-- made before this migration carry revision 0 and origin 'unrecorded', which no provider has: they
-- are refused and must be escalated again.
ALTER TABLE consent_plans ADD COLUMN destination_origin TEXT NOT NULL DEFAULT 'unrecorded';
ALTER TABLE consent_plans ADD COLUMN destination_tier TEXT NOT NULL DEFAULT 'cloud'
    CHECK (destination_tier IN ('local', 'cloud'));
ALTER TABLE consent_plans ADD COLUMN provider_revision INTEGER NOT NULL DEFAULT 0;

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
BEGIN
    SELECT RAISE(ABORT, 'a projection plan is immutable once created');
END;

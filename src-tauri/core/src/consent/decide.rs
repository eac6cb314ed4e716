//! Decisions on an escalation: a person's approval or denial, the AUTONOMOUS standing rule, and
//! [`CloudEscalationGuard::authorize`], the only place an [`Approval`] is made.
//!
//! Guarantees: a plan is decided once (FR-EVT-CLOUD-002 or -003 `person` committed before the
//! receipt exists); FULL_HUMAN and HYBRID need a person's surface; `authorize` re-checks every
//! rule, consumes the receipt atomically and reserves the job's cap atomically, recording each
//! refusal as FR-EVT-CLOUD-003.

use uuid::Uuid;

use super::guard::{rfc3339_ms, Approval, Approver, CloudEscalationGuard, MAX_FUTURE_SKEW_MS};
use super::mode::GovernanceMode;
use super::schema::{ConsentReceipt, EscalationStatus, UiSurface, CONSENT_RECEIPT_SCHEMA};
use super::seal::{receipt_seal, seals_match};
use super::store::PlanRow;
use super::{check_user_id, ConsentError};
use crate::profiles::{AutomationLevel, JobError};
use crate::recorder::{CloudApproved, CloudDenied, DenyReason, FlightEvent, Ident, Sha256Hex};

impl CloudEscalationGuard {
    /// A person approves: FULL_HUMAN and HYBRID profiles need the cloud escalation modal or the
    /// operator console. Records FR-EVT-CLOUD-002 before the receipt exists.
    pub async fn approve(
        &self,
        escalation_id: &str,
        approver: Approver,
    ) -> Result<ConsentReceipt, ConsentError> {
        let row = self.plan(escalation_id).await?;
        let level = row.binding.automation_level;
        if level != AutomationLevel::Autonomous && approver.ui_surface == UiSurface::Settings {
            return Err(ConsentError::SurfaceNotAllowed {
                level,
                surface: approver.ui_surface,
            });
        }
        self.decide_plan(row, approver, true).await
    }

    /// A person denies: a receipt with `approved: false`, and FR-EVT-CLOUD-003 `person`.
    pub async fn deny(
        &self,
        escalation_id: &str,
        approver: Approver,
    ) -> Result<ConsentReceipt, ConsentError> {
        let row = self.plan(escalation_id).await?;
        self.decide_plan(row, approver, false).await
    }

    /// Approves an AUTONOMOUS job's escalation under the standing rule in settings (receipt with
    /// `ui_surface: settings`, `user_id` = who set the rule), still for this one payload.
    pub async fn approve_by_standing_rule(
        &self,
        escalation_id: &str,
    ) -> Result<ConsentReceipt, ConsentError> {
        let row = self.plan(escalation_id).await?;
        let level = row.binding.automation_level;
        if level != AutomationLevel::Autonomous {
            return Err(ConsentError::SurfaceNotAllowed {
                level,
                surface: UiSurface::Settings,
            });
        }
        let rule = self
            .settings
            .standing_rule()
            .await?
            .ok_or(ConsentError::NoStandingRule {
                why: "no standing rule is set",
            })?;
        if !rule.provider_ids.contains(&row.binding.provider_id) {
            return Err(ConsentError::NoStandingRule {
                why: "the rule does not cover this provider",
            });
        }
        if row.payload_bytes > rule.max_payload_bytes {
            return Err(ConsentError::NoStandingRule {
                why: "the payload is larger than the rule allows",
            });
        }
        let approver = Approver {
            user_id: rule.set_by_user_id,
            ui_surface: UiSurface::Settings,
            notes: Some("approved by the standing rule for AUTONOMOUS profiles".into()),
        };
        self.decide_plan(row, approver, true).await
    }

    async fn decide_plan(
        &self,
        row: PlanRow,
        approver: Approver,
        approved: bool,
    ) -> Result<ConsentReceipt, ConsentError> {
        check_user_id(&approver.user_id)?;
        let _decide = self.decide.lock().await;
        let id = row.plan.projection_plan_id.clone();
        let current = self.plan(&id).await?;
        // Nobody is asked to approve text that was edited outside Handshake.
        self.check_plan_seal(&id, &current).await?;
        if current.status != EscalationStatus::Pending {
            return Err(ConsentError::AlreadyDecided {
                escalation_id: id,
                status: current.status,
            });
        }
        let hash = Sha256Hex::digest(row.payload_text.as_bytes());
        if approved && self.settings.mode().await? == GovernanceMode::Locked {
            let plan = Some((id.as_str(), hash, &row.binding));
            return Err(self
                .deny_with(DenyReason::Locked, plan, None, None, true)
                .await);
        }
        let issued = self.now();
        let ttl = i64::try_from(self.config.receipt_ttl.as_millis()).unwrap_or(i64::MAX);
        let receipt = ConsentReceipt {
            schema_version: CONSENT_RECEIPT_SCHEMA.to_owned(),
            consent_receipt_id: format!("cr-{}", Uuid::now_v7()),
            projection_plan_id: id.clone(),
            payload_sha256: row.plan.payload_sha256.clone(),
            approved,
            approved_at: rfc3339_ms(issued),
            user_id: approver.user_id.clone(),
            ui_surface: Some(approver.ui_surface),
            notes: approver.notes,
        };
        let correlation = Self::correlation(&row.binding);
        let event = if approved {
            FlightEvent::CloudApproved(CloudApproved {
                projection_plan_id: Ident::sanitized(&id),
                consent_receipt_id: Ident::sanitized(&receipt.consent_receipt_id),
                payload_sha256: hash,
                user_id: Ident::sanitized(&approver.user_id),
                ui_surface: approver.ui_surface,
            })
        } else {
            FlightEvent::CloudDenied(CloudDenied {
                projection_plan_id: Some(Ident::sanitized(&id)),
                consent_receipt_id: Some(Ident::sanitized(&receipt.consent_receipt_id)),
                reason: DenyReason::Person,
                payload_sha256: Some(hash),
                observed_sha256: None,
            })
        };
        self.recorder.append_durable(event, correlation).await?;
        let json = serde_json::to_string(&receipt)
            .map_err(|_| ConsentError::Corrupt { what: "receipt" })?;
        let expires = issued.saturating_add(ttl);
        let seal = receipt_seal(&self.recorder, &json, issued, expires)?;
        self.store
            .insert_receipt(&receipt, &json, issued, expires, &seal)
            .await?;
        Ok(receipt)
    }

    /// Checks everything once more and turns an approving receipt into the single-use
    /// [`Approval`] a send needs: the plan is approved (not pending, denied, executed or
    /// blocked), the receipt is this plan's and binds its hash, approves, is unexpired and
    /// unused, the mode is not LOCKED, the profile still allows it, and the job's cap admits one
    /// more (reserved atomically). Each refusal is recorded as FR-EVT-CLOUD-003.
    pub async fn authorize(
        &self,
        escalation_id: &str,
        receipt_id: &str,
    ) -> Result<Approval, ConsentError> {
        let row = self.plan(escalation_id).await?;
        self.check_plan_seal(escalation_id, &row).await?;
        let hash = Sha256Hex::digest(row.payload_text.as_bytes());
        if hash.as_str() != row.plan.payload_sha256 {
            // The stored payload no longer hashes to the plan (the table's trigger forbids it).
            let plan = Some((escalation_id, hash.clone(), &row.binding));
            return Err(self
                .deny_with(DenyReason::HashMismatch, plan, None, Some(hash), true)
                .await);
        }
        let plan = || Some((escalation_id, hash.clone(), &row.binding));
        let Some(receipt) = self.store.receipt(receipt_id).await? else {
            return Err(self
                .deny_with(DenyReason::NoReceipt, plan(), None, None, false)
                .await);
        };
        let expected = receipt_seal(
            &self.recorder,
            &receipt.receipt_json,
            receipt.issued_at_ms,
            receipt.expires_at_ms,
        )?;
        if !seals_match(&expected, receipt.seal.as_deref())
            || receipt.receipt.consent_receipt_id != receipt_id
        {
            return Err(self
                .deny_with(DenyReason::Forged, plan(), Some(receipt_id), None, true)
                .await);
        }
        let r = &receipt.receipt;
        if r.projection_plan_id != escalation_id || r.payload_sha256 != row.plan.payload_sha256 {
            return Err(self
                .deny_with(
                    DenyReason::PlanMismatch,
                    plan(),
                    Some(receipt_id),
                    None,
                    false,
                )
                .await);
        }
        if !r.approved {
            return Err(self
                .deny_with(DenyReason::Person, plan(), Some(receipt_id), None, false)
                .await);
        }
        match row.status {
            EscalationStatus::Approved => {}
            EscalationStatus::Executed => {
                return Err(self
                    .deny_with(DenyReason::Replay, plan(), Some(receipt_id), None, false)
                    .await)
            }
            EscalationStatus::Blocked => {
                let reason = row.blocked_reason.unwrap_or(DenyReason::Replay);
                return Err(self
                    .deny_with(reason, plan(), Some(receipt_id), None, false)
                    .await);
            }
            EscalationStatus::Pending | EscalationStatus::Denied => {
                return Err(self
                    .deny_with(DenyReason::NoReceipt, plan(), Some(receipt_id), None, false)
                    .await)
            }
        }
        if self.settings.mode().await? == GovernanceMode::Locked {
            return Err(self
                .deny_with(DenyReason::Locked, plan(), Some(receipt_id), None, true)
                .await);
        }
        let profile = self.jobs.pinned_profile(&row.binding.job_id).await?;
        if !profile.governance.allow_cloud_escalation {
            return Err(self
                .deny_with(DenyReason::Profile, plan(), Some(receipt_id), None, true)
                .await);
        }
        if row.binding.local_only {
            return Err(self
                .deny_with(DenyReason::LocalOnly, plan(), Some(receipt_id), None, true)
                .await);
        }
        let now = self.now();
        if receipt.issued_at_ms > now.saturating_add(MAX_FUTURE_SKEW_MS) {
            return Err(self
                .deny_with(
                    DenyReason::FutureDated,
                    plan(),
                    Some(receipt_id),
                    None,
                    true,
                )
                .await);
        }
        if now > receipt.expires_at_ms {
            return Err(self
                .deny_with(DenyReason::Expired, plan(), Some(receipt_id), None, true)
                .await);
        }
        if receipt.consumed {
            return Err(self
                .deny_with(DenyReason::Replay, plan(), Some(receipt_id), None, false)
                .await);
        }
        // Spent outside the data directory first: a copy of it (or a restored backup) that
        // still shows this receipt unused is refused here.
        if !self
            .ledger
            .spend(receipt_id, receipt.expires_at_ms, now)
            .await?
        {
            return Err(self
                .deny_with(DenyReason::Replay, plan(), Some(receipt_id), None, true)
                .await);
        }
        if !self.store.consume_receipt(receipt_id, now).await? {
            return Err(self
                .deny_with(DenyReason::Replay, plan(), Some(receipt_id), None, false)
                .await);
        }
        match self
            .jobs
            .reserve_cloud_escalation(&row.binding.job_id)
            .await
        {
            Ok(_) => {}
            Err(JobError::CapReached { .. }) => {
                return Err(self
                    .deny_with(DenyReason::Cap, plan(), Some(receipt_id), None, true)
                    .await)
            }
            Err(JobError::CloudEscalationDisabled { .. }) => {
                return Err(self
                    .deny_with(DenyReason::Profile, plan(), Some(receipt_id), None, true)
                    .await)
            }
            Err(other) => return Err(other.into()),
        }
        Ok(Approval {
            plan_id: escalation_id.to_owned(),
            receipt_id: receipt_id.to_owned(),
            payload_sha256: hash,
            binding: row.binding,
        })
    }
}

//! SQLite storage of plans, receipts and local-only raw payloads (migration `0005_consent.sql`).
//!
//! Guarantees: a plan's payload and binding never change (trigger); a receipt is immutable and
//! can be consumed once, by one atomic `UPDATE ... WHERE consumed_at_ms IS NULL`, so two sends
//! racing with the same receipt cannot both pass; a plan is decided (approved or denied) once,
//! by one atomic status transition from `pending`.

use crate::vocab::Destination;
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use super::schema::{
    automation_str, parse_automation, ConsentReceipt, EscalationStatus, PlanBinding, ProjectionPlan,
};
use super::{deny_reason_str, ConsentError};
use crate::recorder::DenyReason;

/// A stored plan with its binding and the request parameters of the call it projects.
#[derive(Clone, Debug)]
pub(super) struct PlanRow {
    pub plan: ProjectionPlan,
    pub binding: PlanBinding,
    /// The projected payload: exactly the text that will be sent.
    pub payload_text: String,
    pub payload_bytes: u64,
    pub raw_payload_ref: Option<Uuid>,
    pub max_tokens: Option<u32>,
    pub temperature: f32,
    pub stop_sequences: Vec<String>,
    pub status: EscalationStatus,
    /// Why the guard blocked it, when `status` is blocked.
    pub blocked_reason: Option<DenyReason>,
    pub created_at_ms: i64,
    /// The row's seal (see [`super::seal`]); `None` for a row from before seals.
    pub seal: Option<String>,
}

/// A stored receipt and its life.
#[derive(Clone, Debug)]
pub(super) struct ReceiptRow {
    pub receipt: ConsentReceipt,
    /// The receipt's JSON exactly as stored (what its seal covers).
    pub receipt_json: String,
    pub issued_at_ms: i64,
    pub expires_at_ms: i64,
    pub consumed: bool,
    /// The row's seal (see [`super::seal`]); `None` for a row from before seals.
    pub seal: Option<String>,
}

#[derive(Clone, Debug)]
pub(super) struct ConsentStore {
    pool: SqlitePool,
}

macro_rules! plan_columns {
    () => {
        "projection_plan_id, plan_json, payload_text, payload_bytes, raw_payload_ref, \
         provider_id, model_id, job_id, profile_id, trace_id, automation_level, local_only, \
         max_tokens, temperature, stop_sequences, status, blocked_reason, created_at_ms, \
         destination_origin, destination_tier, provider_revision, seal"
    };
}

impl ConsentStore {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// Stores the raw payload (local only) and the plan, in one transaction.
    pub async fn insert_plan(&self, row: &PlanRow, raw: Option<&str>) -> Result<(), ConsentError> {
        let plan_json =
            serde_json::to_string(&row.plan).map_err(|_| ConsentError::Corrupt { what: "plan" })?;
        let stops = serde_json::to_string(&row.stop_sequences)
            .map_err(|_| ConsentError::Corrupt { what: "plan" })?;
        let mut tx = self.pool.begin().await?;
        if let (Some(reference), Some(body)) = (row.raw_payload_ref, raw) {
            sqlx::query(
                "INSERT INTO consent_local_payloads (payload_ref, body, created_at) VALUES (?, ?, ?)",
            )
            .bind(reference.to_string())
            .bind(body)
            .bind(&row.plan.created_at)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO consent_plans (projection_plan_id, plan_json, payload_sha256, payload_text, \
             payload_bytes, raw_payload_ref, provider_id, model_id, job_id, profile_id, trace_id, \
             automation_level, local_only, max_tokens, temperature, stop_sequences, status, \
             created_at_ms, destination_origin, destination_tier, provider_revision, seal) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&row.plan.projection_plan_id)
        .bind(plan_json)
        .bind(&row.plan.payload_sha256)
        .bind(&row.payload_text)
        .bind(i64::try_from(row.payload_bytes).unwrap_or(i64::MAX))
        .bind(row.raw_payload_ref.map(|r| r.to_string()))
        .bind(&row.binding.provider_id)
        .bind(&row.binding.model_id)
        .bind(&row.binding.job_id)
        .bind(&row.binding.profile_id)
        .bind(row.binding.trace_id.to_string())
        .bind(automation_str(row.binding.automation_level))
        .bind(i64::from(row.binding.local_only))
        .bind(row.max_tokens.map(i64::from))
        .bind(f64::from(row.temperature))
        .bind(stops)
        .bind(row.status.as_str())
        .bind(row.created_at_ms)
        .bind(&row.binding.destination.origin)
        .bind(row.binding.destination.tier.as_str())
        .bind(row.binding.destination.revision)
        .bind(row.seal.as_deref())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn plan(&self, plan_id: &str) -> Result<Option<PlanRow>, ConsentError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            plan_columns!(),
            " FROM consent_plans WHERE projection_plan_id = ?"
        ))
        .bind(plan_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| plan_from_row(&r)).transpose()
    }

    /// Plans in `status` (all when `None`), oldest first.
    pub async fn plans(
        &self,
        status: Option<EscalationStatus>,
    ) -> Result<Vec<PlanRow>, ConsentError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            plan_columns!(),
            " FROM consent_plans WHERE (?1 IS NULL OR status = ?1) \
             ORDER BY created_at_ms, projection_plan_id"
        ))
        .bind(status.map(EscalationStatus::as_str))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(plan_from_row).collect()
    }

    /// Moves a plan from one of `from` to `to` (with the deny reason when blocking); false when
    /// it was in no state of `from`.
    pub async fn transition(
        &self,
        plan_id: &str,
        from: &[EscalationStatus],
        to: EscalationStatus,
        reason: Option<DenyReason>,
    ) -> Result<bool, ConsentError> {
        let current = self.plan(plan_id).await?;
        let Some(current) = current else {
            return Ok(false);
        };
        if !from.contains(&current.status) {
            return Ok(false);
        }
        let done = sqlx::query(
            "UPDATE consent_plans SET status = ?, blocked_reason = ? \
             WHERE projection_plan_id = ? AND status = ?",
        )
        .bind(to.as_str())
        .bind(reason.map(deny_reason_str))
        .bind(plan_id)
        .bind(current.status.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores a receipt and decides its plan (`pending` -> approved or denied) in one
    /// transaction; `AlreadyDecided` when the plan was no longer pending.
    pub async fn insert_receipt(
        &self,
        receipt: &ConsentReceipt,
        json: &str,
        issued_at_ms: i64,
        expires_at_ms: i64,
        seal: &str,
    ) -> Result<(), ConsentError> {
        let to = if receipt.approved {
            EscalationStatus::Approved
        } else {
            EscalationStatus::Denied
        };
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(
            "UPDATE consent_plans SET status = ? WHERE projection_plan_id = ? AND status = 'pending'",
        )
        .bind(to.as_str())
        .bind(&receipt.projection_plan_id)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            tx.rollback().await?;
            let status = self
                .plan(&receipt.projection_plan_id)
                .await?
                .map(|p| p.status)
                .ok_or_else(|| ConsentError::NotFound {
                    escalation_id: receipt.projection_plan_id.clone(),
                })?;
            return Err(ConsentError::AlreadyDecided {
                escalation_id: receipt.projection_plan_id.clone(),
                status,
            });
        }
        sqlx::query(
            "INSERT INTO consent_receipts (consent_receipt_id, projection_plan_id, payload_sha256, \
             approved, receipt_json, issued_at_ms, expires_at_ms, seal) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&receipt.consent_receipt_id)
        .bind(&receipt.projection_plan_id)
        .bind(&receipt.payload_sha256)
        .bind(i64::from(receipt.approved))
        .bind(json)
        .bind(issued_at_ms)
        .bind(expires_at_ms)
        .bind(seal)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn receipt(&self, receipt_id: &str) -> Result<Option<ReceiptRow>, ConsentError> {
        let row = sqlx::query(
            "SELECT receipt_json, issued_at_ms, expires_at_ms, consumed_at_ms, seal FROM consent_receipts \
             WHERE consent_receipt_id = ?",
        )
        .bind(receipt_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| receipt_from_row(&r)).transpose()
    }

    /// The newest receipt issued for a plan.
    pub async fn receipt_for_plan(
        &self,
        plan_id: &str,
    ) -> Result<Option<ReceiptRow>, ConsentError> {
        let row = sqlx::query(
            "SELECT receipt_json, issued_at_ms, expires_at_ms, consumed_at_ms, seal FROM consent_receipts \
             WHERE projection_plan_id = ? ORDER BY issued_at_ms DESC LIMIT 1",
        )
        .bind(plan_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| receipt_from_row(&r)).transpose()
    }

    /// Marks an approving receipt used; false when it was already used (or is a denial).
    pub async fn consume_receipt(
        &self,
        receipt_id: &str,
        now_ms: i64,
    ) -> Result<bool, ConsentError> {
        let done = sqlx::query(
            "UPDATE consent_receipts SET consumed_at_ms = ? \
             WHERE consent_receipt_id = ? AND consumed_at_ms IS NULL AND approved = 1",
        )
        .bind(now_ms)
        .bind(receipt_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

fn plan_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<PlanRow, ConsentError> {
    let corrupt = |_| ConsentError::Corrupt { what: "plan" };
    let plan_json: String = row.try_get("plan_json")?;
    let plan: ProjectionPlan = serde_json::from_str(&plan_json).map_err(corrupt)?;
    let stops: String = row.try_get("stop_sequences")?;
    let stop_sequences: Vec<String> = serde_json::from_str(&stops).map_err(corrupt)?;
    let trace: String = row.try_get("trace_id")?;
    let level: String = row.try_get("automation_level")?;
    let status: String = row.try_get("status")?;
    let raw_ref: Option<String> = row.try_get("raw_payload_ref")?;
    let bytes: i64 = row.try_get("payload_bytes")?;
    let max_tokens: Option<i64> = row.try_get("max_tokens")?;
    let temperature: f64 = row.try_get("temperature")?;
    let blocked: Option<String> = row.try_get("blocked_reason")?;
    let destination_tier: String = row.try_get("destination_tier")?;
    let bad = || ConsentError::Corrupt { what: "plan" };
    Ok(PlanRow {
        binding: PlanBinding {
            provider_id: row.try_get("provider_id")?,
            model_id: row.try_get("model_id")?,
            job_id: row.try_get("job_id")?,
            profile_id: row.try_get("profile_id")?,
            trace_id: Uuid::parse_str(&trace).map_err(|_| bad())?,
            automation_level: parse_automation(&level).ok_or_else(bad)?,
            local_only: row.try_get::<i64, _>("local_only")? != 0,
            destination: Destination {
                provider_id: row.try_get("provider_id")?,
                origin: row.try_get("destination_origin")?,
                tier: destination_tier.parse().map_err(|_| bad())?,
                revision: row.try_get("provider_revision")?,
            },
        },
        plan,
        payload_text: row.try_get("payload_text")?,
        payload_bytes: u64::try_from(bytes).map_err(|_| bad())?,
        raw_payload_ref: raw_ref
            .map(|r| Uuid::parse_str(&r).map_err(|_| bad()))
            .transpose()?,
        max_tokens: max_tokens
            .map(|m| u32::try_from(m).map_err(|_| bad()))
            .transpose()?,
        temperature: temperature as f32,
        stop_sequences,
        status: EscalationStatus::parse(&status).ok_or_else(bad)?,
        seal: row.try_get("seal")?,
        blocked_reason: blocked
            .map(|b| parse_deny_reason(&b).ok_or_else(bad))
            .transpose()?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

fn receipt_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<ReceiptRow, ConsentError> {
    let json: String = row.try_get("receipt_json")?;
    let consumed: Option<i64> = row.try_get("consumed_at_ms")?;
    Ok(ReceiptRow {
        receipt: serde_json::from_str(&json)
            .map_err(|_| ConsentError::Corrupt { what: "receipt" })?,
        receipt_json: json,
        issued_at_ms: row.try_get("issued_at_ms")?,
        expires_at_ms: row.try_get("expires_at_ms")?,
        consumed: consumed.is_some(),
        seal: row.try_get("seal")?,
    })
}

fn parse_deny_reason(text: &str) -> Option<DenyReason> {
    [
        DenyReason::Person,
        DenyReason::Locked,
        DenyReason::Profile,
        DenyReason::LocalOnly,
        DenyReason::Cap,
        DenyReason::HashMismatch,
        DenyReason::Expired,
        DenyReason::Replay,
        DenyReason::NoReceipt,
        DenyReason::PlanMismatch,
        DenyReason::DestinationChanged,
        DenyReason::Forged,
        DenyReason::FutureDated,
    ]
    .into_iter()
    .find(|r| deny_reason_str(*r) == text)
}

//! The consent artifacts of spec 11.1.7, field for field: [`ProjectionPlan`]
//! (`hsk.projection_plan@0.4`) and [`ConsentReceipt`] (`hsk.consent_receipt@0.4`), plus the
//! [`PlanBinding`] Handshake keeps beside a plan (provider, model, job, profile, trace), which is
//! deliberately not part of the spec JSON.
//!
//! Guarantee: the JSON of a plan or receipt has exactly the spec's fields (unknown fields are
//! refused, optional fields are absent rather than `null`), so what is stored and shown is the
//! normative shape.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::profiles::AutomationLevel;
pub use crate::recorder::UiSurface;
use crate::vocab::Destination;

/// `ProjectionPlan.schema_version`.
pub const PROJECTION_PLAN_SCHEMA: &str = "hsk.projection_plan@0.4";
/// `ConsentReceipt.schema_version`.
pub const CONSENT_RECEIPT_SCHEMA: &str = "hsk.consent_receipt@0.4";

/// Exactly what will be transmitted to a cloud model, after redaction (spec 11.1.7.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct ProjectionPlan {
    pub schema_version: String,
    pub projection_plan_id: String,
    /// Artifact handles or paths the payload was projected from.
    pub include_artifact_refs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub include_fields: Option<Vec<String>>,
    /// The named redactions that replaced at least one span (see [`super::redact`]).
    pub redactions_applied: Vec<String>,
    #[ts(type = "number")]
    pub max_bytes: u64,
    /// SHA-256 (lowercase hex) of exactly the bytes that will be sent.
    pub payload_sha256: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub wp_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub mt_id: Option<String>,
}

/// A person's (or a standing rule's) answer to one plan (spec 11.1.7.2). `approved: false` is a
/// denial. Ids and times are minted by Handshake, never taken from a caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct ConsentReceipt {
    pub schema_version: String,
    pub consent_receipt_id: String,
    pub projection_plan_id: String,
    pub payload_sha256: String,
    pub approved: bool,
    /// RFC 3339, UTC.
    pub approved_at: String,
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub ui_surface: Option<UiSurface>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub notes: Option<String>,
}

/// Where a plan's bytes may go and on whose behalf: stored in columns beside the plan, checked
/// again at send time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct PlanBinding {
    pub provider_id: String,
    /// `<provider_id>/<model name>`.
    pub model_id: String,
    pub job_id: String,
    pub profile_id: String,
    #[ts(type = "string")]
    pub trace_id: Uuid,
    /// Of the job's pinned profile: decides who may approve.
    pub automation_level: AutomationLevel,
    /// The role's assignment is `local_only` (then no cloud call is allowed at all).
    pub local_only: bool,
    /// Where the bytes go, as the provider stood when the plan was made; the gate refuses to
    /// send when the provider no longer matches it.
    pub destination: Destination,
}

/// The state of one escalation (one plan).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum EscalationStatus {
    /// Waiting for a person (or a standing rule).
    Pending,
    /// An approving receipt was issued and not yet used.
    Approved,
    /// A person denied it.
    Denied,
    /// The approved bytes were sent.
    Executed,
    /// The guard refused it after approval (LOCKED, cap, hash mismatch, expiry, ...).
    Blocked,
}

impl EscalationStatus {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Executed => "executed",
            Self::Blocked => "blocked",
        }
    }

    pub(super) fn parse(text: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Approved,
            Self::Denied,
            Self::Executed,
            Self::Blocked,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

#[cfg(test)]
fn ui_surface_str(surface: UiSurface) -> &'static str {
    match surface {
        UiSurface::CloudEscalationModal => "cloud_escalation_modal",
        UiSurface::OperatorConsole => "operator_console",
        UiSurface::Settings => "settings",
    }
}

pub(super) fn automation_str(level: AutomationLevel) -> &'static str {
    match level {
        AutomationLevel::FullHuman => "FULL_HUMAN",
        AutomationLevel::Hybrid => "HYBRID",
        AutomationLevel::Autonomous => "AUTONOMOUS",
    }
}

pub(super) fn parse_automation(text: &str) -> Option<AutomationLevel> {
    [
        AutomationLevel::FullHuman,
        AutomationLevel::Hybrid,
        AutomationLevel::Autonomous,
    ]
    .into_iter()
    .find(|l| automation_str(*l) == text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plan_round_trips_the_spec_shape_exactly() {
        let spec = json!({
            "schema_version": "hsk.projection_plan@0.4",
            "projection_plan_id": "pp-1",
            "include_artifact_refs": ["artifact://a"],
            "include_fields": ["prompt"],
            "redactions_applied": ["email", "api_key"],
            "max_bytes": 65536,
            "payload_sha256": "ab".repeat(32),
            "created_at": "2026-11-28T00:00:00Z",
            "job_id": "job-1",
            "wp_id": "WP-1",
            "mt_id": "MT-7"
        });
        let plan: ProjectionPlan = serde_json::from_value(spec.clone()).unwrap();
        assert_eq!(serde_json::to_value(&plan).unwrap(), spec);
        // Optional fields are absent, never null.
        let minimal = json!({
            "schema_version": "hsk.projection_plan@0.4",
            "projection_plan_id": "pp-2",
            "include_artifact_refs": [],
            "redactions_applied": [],
            "max_bytes": 1,
            "payload_sha256": "00".repeat(32),
            "created_at": "2026-11-28T00:00:00Z"
        });
        let plan: ProjectionPlan = serde_json::from_value(minimal.clone()).unwrap();
        assert_eq!(serde_json::to_value(&plan).unwrap(), minimal);
        let mut extra = minimal;
        extra["provider_id"] = json!("open");
        assert!(serde_json::from_value::<ProjectionPlan>(extra).is_err());
    }

    #[test]
    fn receipt_round_trips_the_spec_shape_exactly() {
        let spec = json!({
            "schema_version": "hsk.consent_receipt@0.4",
            "consent_receipt_id": "cr-1",
            "projection_plan_id": "pp-1",
            "payload_sha256": "ab".repeat(32),
            "approved": true,
            "approved_at": "2026-11-28T00:00:00Z",
            "user_id": "alice",
            "ui_surface": "cloud_escalation_modal",
            "notes": "ok"
        });
        let receipt: ConsentReceipt = serde_json::from_value(spec.clone()).unwrap();
        assert_eq!(receipt.ui_surface, Some(UiSurface::CloudEscalationModal));
        assert_eq!(serde_json::to_value(&receipt).unwrap(), spec);
        for surface in ["settings", "operator_console"] {
            let mut s = spec.clone();
            s["ui_surface"] = json!(surface);
            let r: ConsentReceipt = serde_json::from_value(s.clone()).unwrap();
            assert_eq!(ui_surface_str(r.ui_surface.unwrap()), surface);
        }
        let mut bad = spec;
        bad["ui_surface"] = json!("email");
        assert!(serde_json::from_value::<ConsentReceipt>(bad).is_err());
    }

    #[test]
    fn status_and_automation_names_round_trip() {
        for s in ["pending", "approved", "denied", "executed", "blocked"] {
            assert_eq!(EscalationStatus::parse(s).unwrap().as_str(), s);
        }
        for l in ["FULL_HUMAN", "HYBRID", "AUTONOMOUS"] {
            assert_eq!(automation_str(parse_automation(l).unwrap()), l);
        }
        assert!(parse_automation("hybrid").is_none());
    }
}

//! The Work Profile JSON shape of spec 4.3.7.1, exactly: field names, optional fields and
//! `schema_version: "hsk.work_profile@0.5"`. Unknown fields are rejected at every level.
//!
//! The shape is normative, so nothing Handshake adds (version lineage, creation time, which jobs
//! used a profile) lives here: the store keeps those in its own columns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::vocab::Role;

/// The only `schema_version` this build reads and writes.
pub const WORK_PROFILE_SCHEMA_VERSION: &str = "hsk.work_profile@0.5";

/// Which model serves a role (spec `ModelAssignment`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct ModelAssignment {
    pub primary_model_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub fallback_model_id: Option<String>,
    pub local_only: bool,
    /// A whitelist: when present, no other model may serve the role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub allowed_models: Option<Vec<String>>,
}

/// One assignment per role; every role is required.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct ModelAssignments {
    pub frontend: ModelAssignment,
    pub orchestrator: ModelAssignment,
    pub worker: ModelAssignment,
    pub validator: ModelAssignment,
}

impl ModelAssignments {
    /// The assignment of `role`.
    pub fn get(&self, role: Role) -> &ModelAssignment {
        match role {
            Role::Frontend => &self.frontend,
            Role::Orchestrator => &self.orchestrator,
            Role::Worker => &self.worker,
            Role::Validator => &self.validator,
        }
    }
}

/// `Partial<model_assignments>`: an override rule names only the roles it changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct PartialModelAssignments {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub frontend: Option<ModelAssignment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub orchestrator: Option<ModelAssignment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub worker: Option<ModelAssignment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub validator: Option<ModelAssignment>,
}

impl PartialModelAssignments {
    /// The assignment of `role`, when this rule changes it.
    pub fn get(&self, role: Role) -> Option<&ModelAssignment> {
        match role {
            Role::Frontend => self.frontend.as_ref(),
            Role::Orchestrator => self.orchestrator.as_ref(),
            Role::Worker => self.worker.as_ref(),
            Role::Validator => self.validator.as_ref(),
        }
    }
}

/// Who may approve what a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AutomationLevel {
    FullHuman,
    Hybrid,
    Autonomous,
}

/// The governance knobs of a profile. Named `ProfileGovernance` in TypeScript, apart from the
/// workspace's governance mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(rename = "ProfileGovernance")]
#[serde(deny_unknown_fields)]
pub struct Governance {
    pub automation_level: AutomationLevel,
    pub allow_cloud_escalation: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub max_cloud_escalations_per_job: Option<u32>,
}

/// Override rules keyed by file type (e.g. `rs`) or task type (e.g. `review`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub filetype_rules: Option<BTreeMap<String, PartialModelAssignments>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub task_type_rules: Option<BTreeMap<String, PartialModelAssignments>>,
}

/// A Work Profile (spec 4.3.7.1). `schema_version` is kept as read so that validation can name a
/// wrong one instead of failing to parse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct WorkProfile {
    #[ts(type = "\"hsk.work_profile@0.5\"")]
    pub schema_version: String,
    pub profile_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub description: Option<String>,
    pub model_assignments: ModelAssignments,
    pub governance: Governance,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub overrides: Option<Overrides>,
}

impl WorkProfile {
    /// The canonical JSON text (pretty-printed), as exported and stored.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::{json, Value};

    fn full() -> Value {
        json!({
            "schema_version": "hsk.work_profile@0.5",
            "profile_id": "wp-dev",
            "name": "Dev",
            "description": "Local first, one cloud escalation",
            "model_assignments": {
                "frontend": {"primary_model_id": "oll/gemma3:270m", "local_only": true},
                "orchestrator": {
                    "primary_model_id": "oll/qwen3:8b",
                    "fallback_model_id": "oll/gemma3:270m",
                    "local_only": true,
                    "allowed_models": ["oll/qwen3:8b", "oll/gemma3:270m"]
                },
                "worker": {
                    "primary_model_id": "lan/hf.co/org/model:Q4_K_M",
                    "fallback_model_id": "open/gpt-4o-mini",
                    "local_only": false
                },
                "validator": {"primary_model_id": "oll/qwen3:8b", "local_only": false}
            },
            "governance": {
                "automation_level": "HYBRID",
                "allow_cloud_escalation": true,
                "max_cloud_escalations_per_job": 2
            },
            "overrides": {
                "filetype_rules": {
                    "rs": {"worker": {"primary_model_id": "oll/qwen3-coder:30b", "local_only": true}}
                },
                "task_type_rules": {
                    "review": {"validator": {"primary_model_id": "open/gpt-4o", "local_only": false}}
                }
            }
        })
    }

    #[test]
    fn round_trips_the_canonical_json_with_every_optional_field() {
        let value = full();
        let profile: WorkProfile = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(profile.governance.automation_level, AutomationLevel::Hybrid);
        assert_eq!(profile.governance.max_cloud_escalations_per_job, Some(2));
        assert_eq!(
            profile.model_assignments.get(Role::Worker).primary_model_id,
            "lan/hf.co/org/model:Q4_K_M"
        );
        let rs = &profile
            .overrides
            .as_ref()
            .unwrap()
            .filetype_rules
            .as_ref()
            .unwrap()["rs"];
        assert!(rs.get(Role::Worker).is_some() && rs.get(Role::Frontend).is_none());
        assert_eq!(serde_json::to_value(&profile).unwrap(), value);
    }

    #[test]
    fn round_trips_with_optional_fields_absent_and_writes_none_as_absent() {
        let mut value = full();
        let obj = value.as_object_mut().unwrap();
        obj.remove("description");
        obj.remove("overrides");
        obj["governance"]
            .as_object_mut()
            .unwrap()
            .remove("max_cloud_escalations_per_job");
        let profile: WorkProfile = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(profile.description, None);
        assert_eq!(profile.overrides, None);
        let back = serde_json::to_value(&profile).unwrap();
        assert_eq!(back, value);
        assert!(
            back.get("overrides").is_none(),
            "None must be absent, not null"
        );
        let text = profile.to_json().unwrap();
        assert_eq!(serde_json::from_str::<WorkProfile>(&text).unwrap(), profile);
    }

    #[test]
    fn rejects_unknown_fields_at_every_level() {
        let mut top = full();
        top["parent_profile_id"] = json!("wp-old");
        let err = serde_json::from_value::<WorkProfile>(top)
            .unwrap_err()
            .to_string();
        assert!(err.contains("parent_profile_id"), "{err}");

        let mut nested = full();
        nested["model_assignments"]["worker"]["temperature"] = json!(0.2);
        assert!(serde_json::from_value::<WorkProfile>(nested).is_err());

        let mut gov = full();
        gov["governance"]["mode"] = json!("LOCKED");
        assert!(serde_json::from_value::<WorkProfile>(gov).is_err());

        let mut level = full();
        level["governance"]["automation_level"] = json!("hybrid");
        assert!(serde_json::from_value::<WorkProfile>(level).is_err());
    }

    #[test]
    fn roles_have_their_json_keys() {
        for role in Role::ALL {
            assert_eq!(Role::from_key(role.as_str()), Some(role));
            assert_eq!(serde_json::to_value(role).unwrap(), json!(role.as_str()));
        }
        assert_eq!(Role::from_key("reviewer"), None);
    }

    #[test]
    fn typescript_bindings_follow_the_spec_shape() {
        use ts_rs::TS;
        let profile = WorkProfile::decl();
        assert!(
            profile.contains("schema_version: \"hsk.work_profile@0.5\""),
            "{profile}"
        );
        assert!(profile.contains("description?: string"), "{profile}");
        assert!(profile.contains("overrides?: Overrides"), "{profile}");
        let assignment = ModelAssignment::decl();
        assert!(
            assignment.contains("fallback_model_id?: string"),
            "{assignment}"
        );
        assert!(
            assignment.contains("allowed_models?: Array<string>"),
            "{assignment}"
        );
        assert!(assignment.contains("local_only: boolean"), "{assignment}");
        let level = AutomationLevel::decl();
        assert!(
            level.contains("\"FULL_HUMAN\" | \"HYBRID\" | \"AUTONOMOUS\""),
            "{level}"
        );
        let partial = PartialModelAssignments::decl();
        assert!(partial.contains("worker?: ModelAssignment"), "{partial}");
    }
}

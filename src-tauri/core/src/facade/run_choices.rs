//! [`RunChoices`]: what the Run view offers before a run: every Work Profile (the active one
//! marked), the model each role would use under its base rule, the file types and task types
//! its overrides name, and the workspace's governance mode (LOCKED sends nothing to the cloud).

use serde::Serialize;

use crate::consent::{GovernanceMode, GovernanceSettings};
use crate::profiles::{Role, WorkProfile};

use super::error::FacadeError;
use super::Handshake;

/// One role of a profile and its base primary model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RoleChoice {
    pub role: Role,
    pub primary_model_id: String,
}

/// One profile as the Run view lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RunProfileChoice {
    pub profile_id: String,
    pub name: String,
    pub active: bool,
    pub roles: Vec<RoleChoice>,
    /// Keys of the profile's `filetype_rules`.
    pub file_types: Vec<String>,
    /// Keys of the profile's `task_type_rules`.
    pub task_types: Vec<String>,
    pub allow_cloud_escalation: bool,
}

/// Everything the Run view's form needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RunChoices {
    pub profiles: Vec<RunProfileChoice>,
    pub mode: GovernanceMode,
}

fn choice(profile: &WorkProfile, active: bool) -> RunProfileChoice {
    let overrides = profile.overrides.as_ref();
    let keys = |rules: Option<&std::collections::BTreeMap<String, _>>| {
        rules
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default()
    };
    RunProfileChoice {
        profile_id: profile.profile_id.clone(),
        name: profile.name.clone(),
        active,
        roles: Role::ALL
            .into_iter()
            .map(|role| RoleChoice {
                role,
                primary_model_id: profile.model_assignments.get(role).primary_model_id.clone(),
            })
            .collect(),
        file_types: keys(overrides.and_then(|o| o.filetype_rules.as_ref())),
        task_types: keys(overrides.and_then(|o| o.task_type_rules.as_ref())),
        allow_cloud_escalation: profile.governance.allow_cloud_escalation,
    }
}

impl Handshake {
    /// The profiles a run can use, in the order they were stored, and the governance mode.
    pub async fn run_choices(&self) -> Result<RunChoices, FacadeError> {
        let mut profiles = Vec::new();
        for summary in self.profiles().list().await? {
            let stored = self.profiles().get(&summary.profile_id).await?;
            profiles.push(choice(&stored.profile, summary.active));
        }
        let mode = GovernanceSettings::new(self.db()).mode().await?;
        Ok(RunChoices { profiles, mode })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn lists_roles_and_override_keys() {
        let a = serde_json::json!({ "primary_model_id": "oll/a", "local_only": true });
        let c = serde_json::json!({ "primary_model_id": "oai/c", "local_only": false });
        let profile: WorkProfile = serde_json::from_value(serde_json::json!({
            "schema_version": "hsk.work_profile@0.5",
            "profile_id": "wp-1",
            "name": "One",
            "model_assignments": { "frontend": a, "orchestrator": a, "worker": a, "validator": c },
            "governance": { "automation_level": "HYBRID", "allow_cloud_escalation": true },
            "overrides": {
                "filetype_rules": { "rs": { "worker": c } },
                "task_type_rules": { "review": { "validator": a }, "draft": { "worker": a } }
            }
        }))
        .unwrap();
        let choice = choice(&profile, true);
        assert!(choice.active);
        assert_eq!(choice.roles.len(), 4);
        assert_eq!(choice.roles[3].primary_model_id, "oai/c");
        assert_eq!(choice.file_types, ["rs"]);
        assert_eq!(choice.task_types, ["draft", "review"]);
    }
}

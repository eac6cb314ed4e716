//! Commands behind the governance part of Settings: the workspace's mode (LOCKED denies every
//! cloud call) and the standing rule AUTONOMOUS profiles may use instead of a person's click.

use handshake_core::consent::{GovernanceMode, GovernanceSettings, StandingRule};
use serde::{Deserialize, Serialize};

use crate::error::CommandError;
use crate::state::AppState;

/// The workspace's governance settings as Settings shows them.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct Governance {
    pub mode: GovernanceMode,
    pub standing_rule: Option<StandingRule>,
}

async fn read(settings: &GovernanceSettings) -> Result<Governance, CommandError> {
    Ok(Governance {
        mode: settings.mode().await?,
        standing_rule: settings.standing_rule().await?,
    })
}

/// The current mode and standing rule.
#[tauri::command]
#[tracing::instrument(skip_all, err)]
pub async fn governance(state: tauri::State<'_, AppState>) -> Result<Governance, CommandError> {
    read(&GovernanceSettings::new(state.core()?.db())).await
}

/// Switches LOCKED / STANDARD; returns the settings as stored.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn set_governance_mode(
    state: tauri::State<'_, AppState>,
    mode: GovernanceMode,
) -> Result<Governance, CommandError> {
    let settings = GovernanceSettings::new(state.core()?.db());
    settings.set_mode(mode).await?;
    read(&settings).await
}

/// A standing rule as Settings sets it; the person setting it is the desktop's user.
#[derive(Clone, Debug, Deserialize, ts_rs::TS)]
pub struct StandingRuleInput {
    /// Providers the rule covers.
    pub provider_ids: Vec<String>,
    /// Largest payload the rule approves, in bytes.
    #[ts(type = "number")]
    pub max_payload_bytes: u64,
}

impl StandingRuleInput {
    fn by_desktop_user(self) -> StandingRule {
        StandingRule {
            set_by_user_id: super::escalations::desktop_user(),
            provider_ids: self.provider_ids,
            max_payload_bytes: self.max_payload_bytes,
        }
    }
}

/// Sets (or, with `null`, removes) the standing rule, as set by the desktop's user; returns the
/// settings as stored.
#[tauri::command]
#[tracing::instrument(skip_all, err)]
pub async fn set_standing_rule(
    state: tauri::State<'_, AppState>,
    rule: Option<StandingRuleInput>,
) -> Result<Governance, CommandError> {
    let settings = GovernanceSettings::new(state.core()?.db());
    let rule = rule.map(StandingRuleInput::by_desktop_user);
    settings.set_standing_rule(rule.as_ref()).await?;
    read(&settings).await
}

/// Types shared with the UI.
pub fn bindings(b: &mut crate::bindings::Bindings) {
    b.add::<Governance>().add::<StandingRuleInput>();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standing_rule_is_set_by_the_desktop_user() {
        let rule = StandingRuleInput {
            provider_ids: vec!["open".into()],
            max_payload_bytes: 4096,
        }
        .by_desktop_user();
        assert_eq!(
            rule.set_by_user_id,
            super::super::escalations::desktop_user()
        );
        assert_eq!(rule.provider_ids, ["open"]);
        assert_eq!(rule.max_payload_bytes, 4096);
    }
}

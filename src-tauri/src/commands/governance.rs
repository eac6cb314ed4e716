//! Commands behind the governance part of Settings: the workspace's mode (LOCKED denies every
//! cloud call) and the standing rule AUTONOMOUS profiles may use instead of a person's click. The
//! person setting a rule is the desktop's OS user.

use handshake_core::consent::GovernanceMode;
use handshake_core::facade::{GovernanceView, StandingRuleInput};

use crate::error::CommandError;
use crate::state::AppState;

/// The current mode and standing rule.
#[tauri::command]
#[tracing::instrument(skip_all, err)]
pub async fn governance(state: tauri::State<'_, AppState>) -> Result<GovernanceView, CommandError> {
    Ok(state.core()?.governance().await?)
}

/// Switches LOCKED / STANDARD; returns the settings as stored.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn set_governance_mode(
    state: tauri::State<'_, AppState>,
    mode: GovernanceMode,
) -> Result<GovernanceView, CommandError> {
    Ok(state.core()?.set_governance_mode(mode).await?)
}

/// Sets (or, with `null`, removes) the standing rule, as set by the desktop's user; returns the
/// settings as stored.
#[tauri::command]
#[tracing::instrument(skip_all, err)]
pub async fn set_standing_rule(
    state: tauri::State<'_, AppState>,
    rule: Option<StandingRuleInput>,
) -> Result<GovernanceView, CommandError> {
    let user = super::escalations::desktop_user();
    Ok(state.core()?.set_standing_rule(rule, &user).await?)
}

/// Types shared with the UI.
pub fn bindings(b: &mut crate::bindings::Bindings) {
    b.add::<GovernanceView>().add::<StandingRuleInput>();
}

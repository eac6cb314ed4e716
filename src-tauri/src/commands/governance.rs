//! Commands behind the governance part of Settings: the workspace's mode (LOCKED denies every
//! cloud call) and the standing rule AUTONOMOUS profiles may use instead of a person's click.

use handshake_core::consent::{GovernanceMode, GovernanceSettings, StandingRule};
use serde::Serialize;

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

/// Sets (or, with `null`, removes) the standing rule; returns the settings as stored.
#[tauri::command]
#[tracing::instrument(skip_all, err)]
pub async fn set_standing_rule(
    state: tauri::State<'_, AppState>,
    rule: Option<StandingRule>,
) -> Result<Governance, CommandError> {
    let settings = GovernanceSettings::new(state.core()?.db());
    settings.set_standing_rule(rule.as_ref()).await?;
    read(&settings).await
}

/// Types shared with the UI.
pub fn bindings(b: &mut crate::bindings::Bindings) {
    b.add::<Governance>();
}

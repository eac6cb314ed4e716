//! Commands behind the cloud-escalation modal and the operator console's pending list: list and
//! show escalations, and record a person's decision (the core mints the ConsentReceipt).

use handshake_core::consent::{
    Approver, ConsentReceipt, EscalationStatus, PendingEscalation, UiSurface,
};
use serde::Deserialize;

use crate::error::CommandError;
use crate::state::AppState;

/// The person deciding, as the desktop knows them: the OS account running the app.
pub fn desktop_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .ok()
        .filter(|u| !u.trim().is_empty() && !u.contains(char::is_whitespace))
        .unwrap_or_else(|| "desktop-user".to_owned())
}

/// Where a decision was made: the modal that opened for a run, or the operator console.
#[derive(Clone, Copy, Debug, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum DecisionSurface {
    Modal,
    Console,
}

impl From<DecisionSurface> for UiSurface {
    fn from(surface: DecisionSurface) -> Self {
        match surface {
            DecisionSurface::Modal => UiSurface::CloudEscalationModal,
            DecisionSurface::Console => UiSurface::OperatorConsole,
        }
    }
}

/// Escalations, all or in one state, oldest first.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn escalations(
    state: tauri::State<'_, AppState>,
    status: Option<EscalationStatus>,
) -> Result<Vec<PendingEscalation>, CommandError> {
    Ok(state.core()?.escalations(status).await?)
}

/// One escalation: destination, bytes, redactions, the exact payload and its hash.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn escalation(
    state: tauri::State<'_, AppState>,
    escalation_id: String,
) -> Result<PendingEscalation, CommandError> {
    Ok(state.core()?.escalation(&escalation_id).await?)
}

/// Approves or denies an escalation; returns the receipt the core issued.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn decide_escalation(
    state: tauri::State<'_, AppState>,
    escalation_id: String,
    approve: bool,
    surface: DecisionSurface,
) -> Result<ConsentReceipt, CommandError> {
    let approver = Approver {
        user_id: desktop_user(),
        ui_surface: surface.into(),
        notes: None,
    };
    Ok(state
        .core()?
        .decide_escalation(&escalation_id, approve, approver)
        .await?)
}

/// Types shared with the UI.
pub fn bindings(b: &mut crate::bindings::Bindings) {
    b.add::<PendingEscalation>()
        .add::<EscalationStatus>()
        .add::<ConsentReceipt>()
        .add::<DecisionSurface>();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_desktop_user_is_a_valid_user_id() {
        let user = desktop_user();
        assert!(!user.is_empty() && user.len() <= 256);
        assert!(!user.contains(char::is_whitespace));
    }
}

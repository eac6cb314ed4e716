//! Commands behind the Settings view: version, data directory, health checks.

use handshake_core::doctor::{DoctorReport, DEFAULT_OLLAMA_URL};
use handshake_core::facade::AppInfo;

use crate::error::CommandError;
use crate::state::AppState;

/// The app's version, data directory and schema version.
#[tauri::command]
#[tracing::instrument(skip_all, err)]
pub async fn app_info(state: tauri::State<'_, AppState>) -> Result<AppInfo, CommandError> {
    Ok(state.core()?.info().await?)
}

/// Runs the health checks (database, keychain, local Ollama).
#[tauri::command]
#[tracing::instrument(skip_all, err)]
pub async fn doctor(state: tauri::State<'_, AppState>) -> Result<DoctorReport, CommandError> {
    Ok(state.core()?.doctor(DEFAULT_OLLAMA_URL).await)
}

/// Types shared with the UI.
pub fn bindings(b: &mut crate::bindings::Bindings) {
    b.add::<AppInfo>().add::<DoctorReport>();
}

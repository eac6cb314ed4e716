//! Commands behind the Work Profiles screen: the list with versions and usage, one profile, draft
//! validation (problems come back as `field_errors` at their field paths), create/import, saving
//! an edit as a new version, activation, export, and the model catalog for the pickers.

use handshake_core::facade::{
    CatalogModel, CatalogProvider, ModelTierView, ProfileSaved, ProfileVersionEntry,
};
use handshake_core::profiles::{ProfileActivated, ProfileCreated, StoredProfile, WorkProfile};

use crate::error::CommandError;
use crate::state::AppState;

/// Every profile with its parent, its versions, whether it is active and the jobs that used it.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn profiles(
    state: tauri::State<'_, AppState>,
) -> Result<Vec<ProfileVersionEntry>, CommandError> {
    Ok(state.core()?.profile_versions().await?)
}

/// One profile with its body, lineage columns and usage.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn profile(
    state: tauri::State<'_, AppState>,
    profile_id: String,
) -> Result<StoredProfile, CommandError> {
    Ok(state.core()?.profiles().get(&profile_id).await?)
}

/// Validates a draft without saving it; `editing` names the profile being edited. An invalid
/// draft is the normal answer while someone types, so it is logged at debug level only.
#[tauri::command]
#[tracing::instrument(skip(state, json), err(level = "debug"))]
pub async fn check_profile(
    state: tauri::State<'_, AppState>,
    json: String,
    editing: Option<String>,
) -> Result<WorkProfile, CommandError> {
    Ok(state
        .core()?
        .check_profile_draft(&json, editing.as_deref())
        .await?)
}

/// Creates (or imports) a profile from its JSON under the id it names.
#[tauri::command]
#[tracing::instrument(skip(state, json), err)]
pub async fn create_profile(
    state: tauri::State<'_, AppState>,
    json: String,
) -> Result<ProfileCreated, CommandError> {
    Ok(state.core()?.create_profile(&json).await?)
}

/// Saves an edit of `profile_id` as a new version; says whether jobs used the edited one.
#[tauri::command]
#[tracing::instrument(skip(state, json), err)]
pub async fn save_profile(
    state: tauri::State<'_, AppState>,
    profile_id: String,
    json: String,
) -> Result<ProfileSaved, CommandError> {
    Ok(state.core()?.save_profile_edit(&profile_id, &json).await?)
}

/// Makes `profile_id` the active profile.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn activate_profile(
    state: tauri::State<'_, AppState>,
    profile_id: String,
) -> Result<ProfileActivated, CommandError> {
    Ok(state.core()?.activate_profile(&profile_id).await?)
}

/// The stored canonical JSON of a profile (re-importable).
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn export_profile(
    state: tauri::State<'_, AppState>,
    profile_id: String,
) -> Result<String, CommandError> {
    Ok(state.core()?.profiles().export_json(&profile_id).await?)
}

/// Registered providers with their tiers and the models they list now.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn model_catalog(
    state: tauri::State<'_, AppState>,
) -> Result<Vec<CatalogProvider>, CommandError> {
    Ok(state.core()?.model_catalog().await?)
}

/// Where a model id's bytes would go, as the core decides it (the pickers show this).
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn model_tier(
    state: tauri::State<'_, AppState>,
    model_id: String,
) -> Result<ModelTierView, CommandError> {
    Ok(state.core()?.model_tier(&model_id).await?)
}

/// Types shared with the UI.
pub fn bindings(b: &mut crate::bindings::Bindings) {
    b.add::<ProfileVersionEntry>()
        .add::<StoredProfile>()
        .add::<WorkProfile>()
        .add::<ProfileCreated>()
        .add::<ProfileSaved>()
        .add::<ProfileActivated>()
        .add::<CatalogProvider>()
        .add::<CatalogModel>()
        .add::<ModelTierView>();
}

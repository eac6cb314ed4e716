//! Commands behind the Providers view: list, add, edit, remove, API keys (write-only: the UI sends
//! a key once and only ever learns whether one is stored), "Test connection", and the first-start
//! offer of a local Ollama. API keys arrive as `SecretString` (deserialised straight into it) and
//! are skipped by tracing.

use handshake_core::doctor::DEFAULT_OLLAMA_URL;
use handshake_core::facade::{ConnectionReport, LocalOllamaOffer, ProviderDraft, ProviderRow};
use handshake_core::registry::ProviderPreset;
use secrecy::SecretString;

use crate::error::CommandError;
use crate::state::AppState;

/// The providers Handshake knows (Ollama, OpenAI, OpenRouter, Groq, vLLM, LM Studio, ...).
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn provider_presets(
    state: tauri::State<'_, AppState>,
) -> Result<Vec<ProviderPreset>, CommandError> {
    Ok(state.core()?.provider_presets().to_vec())
}

/// Every provider, with whether its API key is stored.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn providers(
    state: tauri::State<'_, AppState>,
) -> Result<Vec<ProviderRow>, CommandError> {
    Ok(state.core()?.provider_rows().await?)
}

/// Registers a provider; its API key (if any) goes to the OS keychain.
#[tauri::command]
#[tracing::instrument(skip(state, draft, api_key), fields(provider_id = %draft.provider_id), err)]
pub async fn add_provider(
    state: tauri::State<'_, AppState>,
    draft: ProviderDraft,
    api_key: Option<SecretString>,
) -> Result<ProviderRow, CommandError> {
    Ok(state.core()?.add_provider(draft, api_key).await?)
}

/// Changes a provider (not its id, not its key).
#[tauri::command]
#[tracing::instrument(skip(state, draft), err)]
pub async fn update_provider(
    state: tauri::State<'_, AppState>,
    provider_id: String,
    draft: ProviderDraft,
) -> Result<ProviderRow, CommandError> {
    Ok(state.core()?.update_provider(&provider_id, draft).await?)
}

/// Stores or replaces a provider's API key in the OS keychain.
#[tauri::command]
#[tracing::instrument(skip(state, api_key), err)]
pub async fn set_provider_key(
    state: tauri::State<'_, AppState>,
    provider_id: String,
    api_key: SecretString,
) -> Result<ProviderRow, CommandError> {
    Ok(state
        .core()?
        .set_provider_key(&provider_id, api_key)
        .await?)
}

/// Deletes a provider's API key from the OS keychain.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn delete_provider_key(
    state: tauri::State<'_, AppState>,
    provider_id: String,
) -> Result<ProviderRow, CommandError> {
    Ok(state.core()?.delete_provider_key(&provider_id).await?)
}

/// Removes a provider and its secrets.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn remove_provider(
    state: tauri::State<'_, AppState>,
    provider_id: String,
) -> Result<(), CommandError> {
    Ok(state.core()?.remove_provider(&provider_id).await?)
}

/// Reaches a provider, lists its models and reports the latency.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn test_provider(
    state: tauri::State<'_, AppState>,
    provider_id: String,
) -> Result<ConnectionReport, CommandError> {
    Ok(state.core()?.test_provider(&provider_id).await?)
}

/// On first start, the Ollama answering at 127.0.0.1:11434 with its models, if any.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn local_ollama_offer(
    state: tauri::State<'_, AppState>,
) -> Result<Option<LocalOllamaOffer>, CommandError> {
    Ok(state.core()?.local_ollama_offer(DEFAULT_OLLAMA_URL).await?)
}

/// Registers the offered local Ollama as a provider.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn accept_local_ollama(
    state: tauri::State<'_, AppState>,
    default_model: Option<String>,
) -> Result<ProviderRow, CommandError> {
    Ok(state
        .core()?
        .accept_local_ollama(DEFAULT_OLLAMA_URL, default_model)
        .await?)
}

/// Types shared with the UI.
pub fn bindings(b: &mut crate::bindings::Bindings) {
    b.add::<ProviderPreset>()
        .add::<ProviderRow>()
        .add::<ProviderDraft>()
        .add::<ConnectionReport>()
        .add::<LocalOllamaOffer>();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_arrives_as_a_secret_and_never_prints() {
        let key: SecretString = serde_json::from_str(r#""sk-shell-test-123""#).unwrap();
        assert!(!format!("{key:?}").contains("sk-shell-test-123"));
        let none: Option<SecretString> = serde_json::from_str("null").unwrap();
        assert!(none.is_none());
    }
}

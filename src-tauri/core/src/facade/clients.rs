//! Building the `LlmClient` for a model id: the one place a shell gets a model client from.
//!
//! Every client handed out is wrapped in the Flight Recorder's recording layer, so no call path
//! can skip FR-EVT-LLM-INFERENCE. Only local-tier models are handed out as a plain
//! `Arc<dyn LlmClient>`: a cloud-tier model (a cloud provider, or an Ollama `:cloud` model on a
//! local daemon) is refused with `ConsentRequired` here and reachable only through the cloud
//! escalation guard.

use std::sync::Arc;

use crate::llm::ollama::is_cloud_model;
use crate::llm::{LlmClient, LlmError, OllamaClient, OpenAiCompatClient};
use crate::recorder::{RecorderError, RecordingClient};
use crate::registry::{ProviderEndpoint, ProviderKind, ProviderTier, RegistryError};

use super::Handshake;

/// Why no client could be built for a model id.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid model id {model_id:?}: expected <provider_id>/<model name>")]
    InvalidModelId { model_id: String },
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Recorder(#[from] RecorderError),
}

impl ClientError {
    /// A stable code for the shells.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidModelId { .. } => "invalid_model_id",
            Self::Registry(e) => e.code(),
            Self::Llm(e) => e.kind(),
            Self::Recorder(_) => "recorder",
        }
    }
}

/// Splits `<provider_id>/<model name>` at the first `/` (Ollama names may hold more slashes).
pub fn split_model_id(model_id: &str) -> Result<(&str, &str), ClientError> {
    match model_id.split_once('/') {
        Some((provider, model)) if !provider.is_empty() && !model.is_empty() => {
            Ok((provider, model))
        }
        _ => Err(ClientError::InvalidModelId {
            model_id: model_id.to_owned(),
        }),
    }
}

/// Where a model's bytes go: a cloud provider, or an Ollama cloud model on a local daemon.
pub fn model_tier(endpoint: &ProviderEndpoint, model_name: &str) -> ProviderTier {
    if endpoint.tier == ProviderTier::Cloud
        || (endpoint.kind == ProviderKind::Ollama && is_cloud_model(model_name))
    {
        ProviderTier::Cloud
    } else {
        ProviderTier::Local
    }
}

impl Handshake {
    /// The recording client for a local-tier model. A cloud-tier model is refused with
    /// [`LlmError::ConsentRequired`]: it is reached only through the escalation guard.
    pub async fn client_for(&self, model_id: &str) -> Result<Arc<dyn LlmClient>, ClientError> {
        let (provider_id, model_name) = split_model_id(model_id)?;
        let endpoint = self.registry().endpoint(provider_id).await?;
        if model_tier(&endpoint, model_name) == ProviderTier::Cloud {
            return Err(LlmError::ConsentRequired {
                reason: format!(
                    "{model_id} is a cloud-tier model; run it through a job so that a projection plan and your consent come first"
                ),
            }
            .into());
        }
        let inner = adapter_for(endpoint, model_name).await?;
        let recorder = self.recorder().await?.clone();
        Ok(RecordingClient::wrap(inner, recorder))
    }
}

/// The adapter for the endpoint's wire protocol, unwrapped (no recording, no guard): callers
/// outside this module get clients only through [`Handshake::client_for`] or the guard.
pub(crate) async fn adapter_for(
    endpoint: ProviderEndpoint,
    model_name: &str,
) -> Result<Arc<dyn LlmClient>, ClientError> {
    Ok(match endpoint.kind {
        ProviderKind::Ollama => {
            // Reading the context window needs the daemon; if it does not answer now, build the
            // client anyway so the completion attempt itself fails and is recorded.
            match OllamaClient::new(endpoint.clone(), model_name).await {
                Ok(client) => Arc::new(client),
                Err(LlmError::EgressDenied(denied)) => {
                    return Err(LlmError::EgressDenied(denied).into())
                }
                Err(error) => {
                    tracing::debug!(
                        kind = error.kind(),
                        "could not read the model's profile from Ollama"
                    );
                    Arc::new(OllamaClient::with_context_length(
                        endpoint, model_name, None,
                    )?)
                }
            }
        }
        ProviderKind::OpenaiCompat => Arc::new(OpenAiCompatClient::new(endpoint, model_name)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_split_at_the_first_slash() {
        assert_eq!(
            split_model_id("oll/gemma3:270m").unwrap(),
            ("oll", "gemma3:270m")
        );
        assert_eq!(
            split_model_id("lan/hf.co/org/model:Q4_K_M").unwrap(),
            ("lan", "hf.co/org/model:Q4_K_M")
        );
        for bad in ["nomodel", "/x", "x/", ""] {
            assert!(
                matches!(split_model_id(bad), Err(ClientError::InvalidModelId { .. })),
                "{bad}"
            );
        }
    }
}

//! [`OllamaLoader`]: the [`ModelLoader`] of a local Ollama, over its native `/api/generate`.
//!
//! Unloading is a generate request with `keep_alive: 0` and no prompt; loading (warming) is a
//! generate request with no prompt. Both answer one JSON object with `done: true`. The HTTP client
//! is the provider's own (egress policy already applied by the registry); model ids are the full
//! `<provider_id>/<model name>` and must name this endpoint's provider.

use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::catalog::ModelId;
use super::swap::ModelLoader;
use crate::llm::WireConfig;
use crate::llm::{LlmError, TimeoutPhase};

/// Longest provider error message kept (Ollama's `error` field).
const MAX_ERROR_CHARS: usize = 200;

#[derive(Serialize)]
struct GenerateRequest<'a> {
    model: &'a str,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    keep_alive: Option<u32>,
}

#[derive(Deserialize)]
struct GenerateResponse {
    done: bool,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// Loads and unloads models on one Ollama provider.
#[derive(Clone, Debug)]
pub struct OllamaLoader {
    endpoint: WireConfig,
}

impl OllamaLoader {
    /// A loader for the provider `endpoint` describes.
    pub fn new(endpoint: WireConfig) -> Self {
        Self { endpoint }
    }

    fn model_name<'a>(&self, id: &'a ModelId) -> Result<&'a str, LlmError> {
        if id.provider_id() == self.endpoint.provider_id {
            Ok(id.model())
        } else {
            Err(LlmError::InvalidRequest {
                reason: format!(
                    "model `{id}` is not served by provider `{}`",
                    self.endpoint.provider_id
                ),
            })
        }
    }

    async fn generate(&self, model_id: &str, keep_alive: Option<u32>) -> Result<(), LlmError> {
        let id = ModelId::parse(model_id).map_err(|problem| LlmError::InvalidModel { problem })?;
        let model = self.model_name(&id)?;
        let url =
            self.endpoint
                .base_url
                .join("api/generate")
                .map_err(|e| LlmError::InvalidRequest {
                    reason: format!("base_url cannot take api/generate: {e}"),
                })?;
        let mut request = self
            .endpoint
            .http
            .post(url)
            .timeout(std::time::Duration::from_millis(
                self.endpoint.timeouts.total_ms,
            ))
            .json(&GenerateRequest {
                model,
                stream: false,
                keep_alive,
            });
        if let Some(key) = &self.endpoint.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        for (name, value) in &self.endpoint.extra_headers {
            let mut value =
                reqwest::header::HeaderValue::from_str(value.expose_secret()).map_err(|_| {
                    LlmError::InvalidRequest {
                        reason: format!("header `{name}` has a value that is not a valid header"),
                    }
                })?;
            value.set_sensitive(true);
            request = request.header(name.as_str(), value);
        }
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(transport_error)?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_slice::<ErrorBody>(&body)
                .map(|b| b.error.chars().take(MAX_ERROR_CHARS).collect())
                .unwrap_or_else(|_| format!("HTTP {status}"));
            return Err(LlmError::from_http_status(status, message, None, model));
        }
        match serde_json::from_slice::<GenerateResponse>(&body) {
            Ok(GenerateResponse { done: true }) => Ok(()),
            Ok(_) => Err(LlmError::MalformedResponse {
                what: "generate answered done: false".into(),
            }),
            Err(e) => Err(LlmError::MalformedResponse {
                what: format!("generate answer: {e}"),
            }),
        }
    }
}

fn transport_error(e: reqwest::Error) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout {
            phase: TimeoutPhase::Total,
        }
    } else {
        LlmError::Unreachable {
            reason: e.without_url().to_string(),
        }
    }
}

#[async_trait]
impl ModelLoader for OllamaLoader {
    async fn unload(&self, model_id: &str) -> Result<(), LlmError> {
        self.generate(model_id, Some(0)).await
    }

    async fn load(&self, model_id: &str) -> Result<(), LlmError> {
        self.generate(model_id, None).await
    }
}

#[cfg(test)]
#[path = "ollama_loader_tests.rs"]
mod tests;

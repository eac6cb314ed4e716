//! Testing a provider and listing its models: `GET /api/tags` (Ollama) or `GET <base>/models`
//! (OpenAI-compatible, whose base_url ends in `/v1`), through the provider's egress-checked
//! client, with the bearer key only when one exists.
//!
//! Failures are [`LlmError`] variants (unauthorized, timeout with its phase, unreachable, egress
//! denied, malformed response, ...). A response body is never put into an error: a server may
//! echo the request, key included.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use url::Url;

use super::{ProviderEndpoint, ProviderKind, ProviderRegistry, ProviderTier, RegistryError};
use crate::egress::find_denial;
use crate::llm::{LlmError, TimeoutPhase};

/// Largest model list accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One model a provider offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ModelInfo {
    /// The name as the provider knows it (`gemma3:270m`, `gpt-4o-mini`).
    pub name: String,
    /// `<provider_id>/<name>`, the id Work Profiles and requests use.
    pub model_id: String,
    pub owned_by: Option<String>,
    pub size_bytes: Option<u64>,
}

/// What a successful connection test found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ConnectionTest {
    pub provider_id: String,
    pub kind: ProviderKind,
    pub tier: ProviderTier,
    /// The URL that was called (without its query).
    pub url: String,
    pub status: u16,
    /// From sending the request to the response headers.
    pub latency_ms: u64,
    /// From sending the request to the end of the model list.
    pub total_ms: u64,
    /// Whether a key was sent (`Authorization: Bearer`); keyless providers send none.
    pub authenticated: bool,
    pub models: Vec<ModelInfo>,
}

impl ProviderRegistry {
    /// Reaches the provider, authenticates (bearer only when a key exists), lists its models and
    /// reports the latency. A failure is [`RegistryError::Call`] with the [`LlmError`].
    pub async fn test_connection(
        &self,
        provider_id: &str,
    ) -> Result<ConnectionTest, RegistryError> {
        let endpoint = self.endpoint(provider_id).await?;
        let result = fetch_models(&endpoint).await;
        match &result {
            Ok(test) => tracing::info!(
                provider_id,
                status = test.status,
                latency_ms = test.latency_ms,
                models = test.models.len(),
                "connection test succeeded"
            ),
            Err(e) => {
                tracing::warn!(provider_id, error = %e, kind = e.kind(), "connection test failed")
            }
        }
        result.map_err(|error| RegistryError::Call {
            provider_id: provider_id.to_owned(),
            error,
        })
    }

    /// The models the provider offers.
    pub async fn list_models(&self, provider_id: &str) -> Result<Vec<ModelInfo>, RegistryError> {
        self.test_connection(provider_id).await.map(|t| t.models)
    }
}

/// Lists the models of `endpoint`'s provider. Usable by any caller holding an endpoint.
pub async fn fetch_models(endpoint: &ProviderEndpoint) -> Result<ConnectionTest, LlmError> {
    let url = endpoint.models_url()?;
    let headers = endpoint.wire.headers()?;
    let first_byte = Duration::from_millis(
        endpoint
            .wire
            .timeouts
            .first_byte_ms
            .min(endpoint.wire.timeouts.total_ms),
    );
    let total = Duration::from_millis(endpoint.wire.timeouts.total_ms);
    let started = Instant::now();
    let request = endpoint
        .wire
        .http
        .get(url.clone())
        .headers(headers)
        .header(reqwest::header::ACCEPT, "application/json");
    let response = tokio::time::timeout(first_byte, request.send())
        .await
        .map_err(|_| LlmError::Timeout {
            phase: TimeoutPhase::FirstByte,
        })?
        .map_err(map_send_error)?;
    let latency = started.elapsed();
    let status = response.status();
    if !status.is_success() {
        return Err(status_error(status, &response, &url));
    }
    let remaining = total.saturating_sub(started.elapsed());
    let body = tokio::time::timeout(remaining, read_capped(response))
        .await
        .map_err(|_| LlmError::Timeout {
            phase: TimeoutPhase::Total,
        })??;
    let models = parse_model_list(&body)?
        .into_iter()
        .map(|m| ModelInfo {
            model_id: format!("{}/{}", endpoint.provider_id(), m.name),
            ..m
        })
        .collect();
    let mut shown = url;
    shown.set_query(None);
    Ok(ConnectionTest {
        provider_id: endpoint.provider_id().to_owned(),
        kind: endpoint.kind,
        tier: endpoint.wire.tier,
        url: shown.to_string(),
        status: status.as_u16(),
        latency_ms: millis(latency),
        total_ms: millis(started.elapsed()),
        authenticated: endpoint.wire.api_key.is_some(),
        models,
    })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Maps a reqwest error from sending: egress refusal first (it sits deep in the source chain),
/// then timeouts and connection failures. Never includes the URL or a body.
pub fn map_send_error(error: reqwest::Error) -> LlmError {
    if let Some(denied) = find_denial(&error) {
        return LlmError::EgressDenied(denied);
    }
    let error = error.without_url();
    if error.is_timeout() {
        let phase = if error.is_connect() {
            TimeoutPhase::Connect
        } else {
            TimeoutPhase::Total
        };
        return LlmError::Timeout { phase };
    }
    LlmError::Unreachable {
        reason: root_cause(&error),
    }
}

/// The innermost error's message ("Connection refused (os error 111)", "dns error: ...").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn status_error(status: reqwest::StatusCode, response: &reqwest::Response, url: &Url) -> LlmError {
    match status.as_u16() {
        401 => LlmError::Unauthorized,
        403 => LlmError::Forbidden,
        429 => LlmError::RateLimited {
            retry_after: response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        404 => LlmError::Provider {
            status: 404,
            message: format!("no model list at {} (check the base_url)", url.path()),
        },
        code => LlmError::Provider {
            status: code,
            message: status.canonical_reason().unwrap_or("error").to_owned(),
        },
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, LlmError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(map_send_error)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(LlmError::MalformedResponse {
                what: "the model list is larger than 16 MiB".into(),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses a model list: Ollama's `{"models": [{"name": ...}]}`, OpenAI's `{"data": [{"id":
/// ...}]}`, a bare array, or `{"models": [...]}`; entries may be objects (`id`, `name` or
/// `model`) or plain strings. `model_id` is left empty for the caller to fill.
pub fn parse_model_list(body: &[u8]) -> Result<Vec<ModelInfo>, LlmError> {
    let malformed = |what: &str| LlmError::MalformedResponse {
        what: what.to_owned(),
    };
    let value: Value =
        serde_json::from_slice(body).map_err(|_| malformed("the model list is not JSON"))?;
    let items = match &value {
        Value::Array(items) => items,
        Value::Object(map) => match (map.get("data"), map.get("models")) {
            (Some(Value::Array(items)), _) | (None, Some(Value::Array(items))) => items,
            _ => {
                return Err(malformed(
                    "the model list has neither a `data` nor a `models` array",
                ))
            }
        },
        _ => {
            return Err(malformed(
                "the model list is neither an array nor an object",
            ))
        }
    };
    items
        .iter()
        .map(|item| {
            let (name, owned_by, size) = match item {
                Value::String(name) => (Some(name.clone()), None, None),
                Value::Object(m) => {
                    let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
                    (
                        text("id")
                            .or_else(|| text("name"))
                            .or_else(|| text("model")),
                        text("owned_by"),
                        m.get("size").and_then(Value::as_u64),
                    )
                }
                _ => (None, None, None),
            };
            let name = name
                .filter(|n| !n.is_empty())
                .ok_or_else(|| malformed("a model entry has no id or name"))?;
            Ok(ModelInfo {
                name,
                model_id: String::new(),
                owned_by,
                size_bytes: size,
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn names(body: &str) -> Vec<String> {
        parse_model_list(body.as_bytes())
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect()
    }

    #[test]
    fn model_list_shapes() {
        assert_eq!(
            names(r#"{"models":[{"name":"gemma3:270m","model":"gemma3:270m","size":291}]}"#),
            vec!["gemma3:270m"]
        );
        assert_eq!(
            names(r#"{"object":"list","data":[{"id":"gpt-4o","owned_by":"openai"},{"id":"o3"}]}"#),
            vec!["gpt-4o", "o3"]
        );
        assert_eq!(names(r#"[{"id":"a"},{"name":"b"}]"#), vec!["a", "b"]);
        assert_eq!(names(r#"{"models":["x","y"]}"#), vec!["x", "y"]);
        assert_eq!(names(r#"{"data":[]}"#), Vec::<String>::new());
        let m = &parse_model_list(br#"{"models":[{"name":"g","size":291}]}"#).unwrap()[0];
        assert_eq!(m.size_bytes, Some(291));
        for bad in ["not json", r#"{"foo":1}"#, r#"{"data":[{"x":1}]}"#, "42"] {
            assert!(
                matches!(
                    parse_model_list(bad.as_bytes()),
                    Err(LlmError::MalformedResponse { .. })
                ),
                "{bad}"
            );
        }
    }
}

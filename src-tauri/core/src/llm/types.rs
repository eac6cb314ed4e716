//! Request, response and streaming types of [`super::LlmClient`], exactly as spec 4.2.3 gives the
//! request, plus what Handshake adds to the response (usage, finish reason, timings).

use std::pin::Pin;

use futures::Stream;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::LlmError;
use crate::vocab::{effective_tier, ModelId, ProviderTier};

/// A completion request (spec 4.2.3.1). `trace_id` must be non-nil: clients reject a nil one with
/// [`LlmError::InvalidRequest`] before any I/O ([`CompletionRequest::validate`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct CompletionRequest {
    #[ts(type = "string")]
    pub trace_id: Uuid,
    pub prompt: String,
    pub model_id: String,
    pub max_tokens: Option<u32>,
    pub temperature: f32,
    pub stop_sequences: Vec<String>,
}

impl CompletionRequest {
    /// Checks what can be checked before any I/O.
    pub fn validate(&self) -> Result<(), LlmError> {
        if self.trace_id.is_nil() {
            return Err(LlmError::InvalidRequest {
                reason: "trace_id must be non-nil".into(),
            });
        }
        if self.max_tokens == Some(0) {
            return Err(LlmError::InvalidRequest {
                reason: "max_tokens must be at least 1".into(),
            });
        }
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(LlmError::InvalidRequest {
                reason: "temperature must be a finite number >= 0".into(),
            });
        }
        if self.model_id.trim().is_empty() {
            return Err(LlmError::InvalidRequest {
                reason: "model_id is empty".into(),
            });
        }
        Ok(())
    }
}

/// Token counts as the provider reported them. `None` means the provider did not say: never a
/// made-up 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct TokenUsage {
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
}

/// Why generation stopped, normalised across providers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model finished, or hit a stop sequence.
    Stop,
    /// The output limit (`max_tokens`) was reached.
    Length,
    /// The provider filtered the content.
    ContentFilter,
    /// The model asked to call a tool.
    ToolCalls,
    /// Ollama loaded the model and generated nothing (`done_reason: "load"`).
    Load,
    /// Ollama unloaded the model (`done_reason: "unload"`).
    Unload,
    /// The provider gave a reason Handshake does not know, or an empty one (`""`, `"null"`): the
    /// answer ended, but why is not known (it is not reported as a clean stop).
    Other,
}

/// A finished completion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct CompletionResponse {
    pub text: String,
    pub usage: TokenUsage,
    pub finish_reason: FinishReason,
    /// The model that answered, as the provider named it.
    pub model_id: String,
    /// From sending the request to the last byte of the answer.
    pub latency_ms: u64,
    /// From sending the request to the first generated text, where there was any.
    pub time_to_first_token_ms: Option<u64>,
    /// True when the provider reports that it cut the prompt to fit its context window.
    pub prompt_truncated: bool,
}

/// What a streaming completion yields, in order: `Started`, any number of `Text`, at most one
/// `Usage`, then exactly one `Finished`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    Started {
        model_id: String,
    },
    Text {
        delta: String,
    },
    Usage {
        usage: TokenUsage,
    },
    Finished {
        finish_reason: FinishReason,
        prompt_truncated: bool,
    },
}

/// A stream of [`StreamEvent`]s; an `Err` item ends it.
pub type CompletionStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, LlmError>> + Send>>;

/// What a client knows of the model it serves (capabilities, token limits, where it runs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ModelProfile {
    /// `<provider_id>/<model name>` (see the spec's README on model ids).
    pub model_id: String,
    pub provider_id: String,
    /// Where this model's bytes go. An Ollama `:cloud` model is `cloud` though the daemon is local.
    pub tier: ProviderTier,
    /// Context window in tokens, where the provider told us.
    pub context_window: Option<u32>,
    /// Most tokens the model may generate in one answer, where known.
    pub max_output_tokens: Option<u32>,
}

impl ModelProfile {
    /// The profile of `model` on the provider `provider_id` of `provider_tier`, its tier decided
    /// by the one rule ([`effective_tier`]); limits unknown. A name that is malformed, or whose
    /// tier cannot be judged with certainty, is refused.
    pub(crate) fn for_model(
        provider_id: &str,
        provider_tier: ProviderTier,
        model: &str,
    ) -> Result<Self, LlmError> {
        let id = ModelId::new(provider_id, model)
            .map_err(|problem| LlmError::InvalidModel { problem })?;
        let tier = effective_tier(provider_tier, model)
            .map_err(|problem| LlmError::InvalidModel { problem })?;
        Ok(Self {
            model_id: id.to_string(),
            provider_id: provider_id.to_owned(),
            tier,
            context_window: None,
            max_output_tokens: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> CompletionRequest {
        CompletionRequest {
            trace_id: Uuid::new_v4(),
            prompt: "hi".into(),
            model_id: "oll/gemma3:270m".into(),
            max_tokens: Some(16),
            temperature: 0.0,
            stop_sequences: vec![],
        }
    }

    #[test]
    fn nil_trace_id_is_rejected() {
        let req = CompletionRequest {
            trace_id: Uuid::nil(),
            ..request()
        };
        assert!(matches!(
            req.validate(),
            Err(LlmError::InvalidRequest { .. })
        ));
        assert!(request().validate().is_ok());
    }

    #[test]
    fn zero_max_tokens_and_bad_temperature_are_rejected() {
        assert!(CompletionRequest {
            max_tokens: Some(0),
            ..request()
        }
        .validate()
        .is_err());
        assert!(CompletionRequest {
            temperature: f32::NAN,
            ..request()
        }
        .validate()
        .is_err());
        assert!(CompletionRequest {
            temperature: -1.0,
            ..request()
        }
        .validate()
        .is_err());
    }

    #[test]
    fn request_serialises_with_the_spec_field_names() {
        let json = serde_json::to_value(request()).unwrap();
        for field in [
            "trace_id",
            "prompt",
            "model_id",
            "max_tokens",
            "temperature",
            "stop_sequences",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
    }
}

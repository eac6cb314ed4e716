//! The protocol options of an OpenAI-compatible server that a provider record carries.

use serde::{Deserialize, Serialize};

/// Which field an OpenAI-compatible server reads the output limit from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    /// `max_tokens` (most servers: vLLM, llama.cpp, Groq, OpenRouter, LM Studio).
    #[default]
    MaxTokens,
    /// `max_completion_tokens` (OpenAI's newer models).
    MaxCompletionTokens,
}

/// Per-provider capabilities of an OpenAI-compatible server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct OpenAiCompatOptions {
    pub max_tokens_field: MaxTokensField,
    /// Send `stream_options: {include_usage: true}` (some servers reject it).
    pub stream_include_usage: bool,
}

impl Default for OpenAiCompatOptions {
    fn default() -> Self {
        Self {
            max_tokens_field: MaxTokensField::MaxTokens,
            stream_include_usage: true,
        }
    }
}

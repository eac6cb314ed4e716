//! OpenAI-compatible JSON (`/v1/chat/completions`, `/v1/models`), mirrored field for field for
//! the subset Handshake uses. Serde types only, no logic.
//!
//! Servers differ (OpenAI, vLLM, llama.cpp, LM Studio, OpenRouter, Groq): everything optional on
//! the way in defaults rather than failing, and everything optional on the way out is skipped.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /chat/completions` body.
#[derive(Debug, Serialize)]
pub(crate) struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<Message<'a>>,
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    pub temperature: f32,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Message<'a> {
    pub role: &'a str,
    pub content: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct StreamOptions {
    pub include_usage: bool,
}

/// One `data:` payload of the SSE stream (`chat.completion.chunk`), or an error object.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChatChunk {
    #[serde(default)]
    pub model: Option<String>,
    /// Empty in the final usage-only chunk.
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChunkChoice {
    #[serde(default)]
    pub delta: Option<Delta>,
    /// Legacy completions-style servers put the text here.
    #[serde(default)]
    pub text: Option<String>,
    /// `null`, a missing field, `""`, `"null"`, `"eos"`, `"stop"`, `"length"`, ...
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Delta {
    #[serde(default)]
    pub content: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub(crate) struct Usage {
    #[serde(default)]
    pub prompt_tokens: Option<u32>,
    #[serde(default)]
    pub completion_tokens: Option<u32>,
}

/// `GET /models`: `{"data": [..]}` (OpenAI), `{"models": [..]}` (some gateways) or a bare array.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum ModelList {
    Data { data: Vec<ModelEntry> },
    Models { models: Vec<ModelEntry> },
    Bare(Vec<ModelEntry>),
}

#[derive(Debug, Deserialize)]
pub(crate) struct ModelEntry {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
}

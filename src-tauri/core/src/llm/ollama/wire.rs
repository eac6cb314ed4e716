//! Ollama's native API JSON, mirrored field for field (the subset Handshake uses): `/api/chat`,
//! `/api/generate` (load and unload), `/api/show`, `/api/tags`. Serde types only, no logic.
//!
//! Reference: Ollama's `docs/api.md`. Optional fields are skipped when unset so the daemon applies
//! its own defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /api/chat` body.
#[derive(Debug, Serialize)]
pub(crate) struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<Message<'a>>,
    pub stream: bool,
    pub options: Options<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<KeepAlive>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Message<'a> {
    pub role: &'a str,
    pub content: &'a str,
}

/// `options` of a chat or generate request (Ollama's Modelfile parameters).
#[derive(Debug, Default, Serialize)]
pub(crate) struct Options<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_predict: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_ctx: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop: &'a [String],
}

/// `keep_alive`: seconds as a number (0 unloads now; negative keeps the model loaded forever).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub(crate) struct KeepAlive(pub i64);

/// `POST /api/generate` body without a prompt: loads (or with keep_alive 0, unloads) a model.
#[derive(Debug, Serialize)]
pub(crate) struct LoadRequest<'a> {
    pub model: &'a str,
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<KeepAlive>,
}

/// One NDJSON line of a chat or generate answer (the last one has `done: true` and the stats),
/// or an `{"error": ..}` line.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChatChunk {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub message: Option<ChunkMessage>,
    /// `/api/generate` puts the text here instead of `message`.
    #[serde(default)]
    pub response: Option<String>,
    #[serde(default)]
    pub done: bool,
    #[serde(default)]
    pub done_reason: Option<String>,
    /// Absent when the whole prompt came from the cache: unknown, not 0.
    #[serde(default)]
    pub prompt_eval_count: Option<u32>,
    #[serde(default)]
    pub eval_count: Option<u32>,
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChunkMessage {
    #[serde(default)]
    pub content: String,
}

/// `POST /api/show` body.
#[derive(Debug, Serialize)]
pub(crate) struct ShowRequest<'a> {
    pub model: &'a str,
}

/// `POST /api/show` answer (the fields we read).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ShowResponse {
    #[serde(default)]
    pub details: Option<ShowDetails>,
    #[serde(default)]
    pub model_info: BTreeMap<String, Value>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Set for a model the daemon forwards elsewhere (Ollama's cloud models, and models created
    /// to point at a remote API), whatever the model is named.
    #[serde(default)]
    pub remote_host: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ShowDetails {
    #[serde(default)]
    pub family: Option<String>,
    #[serde(default)]
    pub parameter_size: Option<String>,
    #[serde(default)]
    pub quantization_level: Option<String>,
}

/// `GET /api/tags` answer.
#[derive(Debug, Deserialize)]
pub(crate) struct TagsResponse {
    #[serde(default)]
    pub models: Vec<TagEntry>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TagEntry {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
}

//! The providers a user registered: kind, tier, base_url, defaults and a handle to the secret.
//!
//! Persisted in SQLite; the secret itself lives only in the OS keychain ([`crate::secrets`]).

use serde::{Deserialize, Serialize};

/// The wire protocol a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Ollama's native `/api/*`.
    Ollama,
    /// OpenAI-compatible `/v1/*` (OpenAI, OpenRouter, Groq, vLLM, llama.cpp, LM Studio, ...).
    OpenaiCompat,
}

/// Where a provider's bytes go: `local` (loopback or private addresses the user registered as
/// local) or `cloud` (anything public; every call is a cloud escalation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ProviderTier {
    Local,
    Cloud,
}

impl std::fmt::Display for ProviderTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Local => "local",
            Self::Cloud => "cloud",
        })
    }
}

/// Timeouts for calls to one provider. Defaults suit a local model that may need to load first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Timeouts {
    /// TCP and TLS connection set-up.
    pub connect_ms: u64,
    /// From sending the request to the first byte of the answer (covers model load).
    pub first_byte_ms: u64,
    /// Longest silence between two chunks of a streaming answer.
    pub idle_ms: u64,
    /// The whole call.
    pub total_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect_ms: 5_000,
            first_byte_ms: 120_000,
            idle_ms: 60_000,
            total_ms: 600_000,
        }
    }
}

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

/// Everything an adapter needs to talk to one provider, built by the registry with the egress
/// policy already applied to `http`. One `http` client per provider, reused for every call.
#[derive(Clone, Debug)]
pub struct ProviderEndpoint {
    pub provider_id: String,
    pub kind: ProviderKind,
    pub tier: ProviderTier,
    pub base_url: url::Url,
    /// The bearer key, read from the keychain; `None` for keyless local servers.
    pub api_key: Option<secrecy::SecretString>,
    /// Extra headers sent with every request (values may be secrets, so they are typed as such).
    pub extra_headers: Vec<(String, secrecy::SecretString)>,
    pub timeouts: Timeouts,
    pub openai: OpenAiCompatOptions,
    /// The provider's HTTP client: egress-checked resolver, no proxy from the environment, no
    /// redirects, TCP_NODELAY, pooled connections.
    pub http: reqwest::Client,
}

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

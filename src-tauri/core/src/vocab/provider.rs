//! [`ProviderKind`], [`ProviderTier`] and [`Timeouts`]: what every module says about a provider.

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

/// A kind or tier name that is not one of ours.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnknownName {
    #[error("unknown provider kind {value:?} (expected ollama or openai_compat)")]
    Kind { value: String },
    #[error("unknown provider tier {value:?} (expected local or cloud)")]
    Tier { value: String },
}

impl ProviderKind {
    /// The stable name (as serialized and stored).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ollama => "ollama",
            Self::OpenaiCompat => "openai_compat",
        }
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ProviderKind {
    type Err = UnknownName;

    /// `ollama`, `openai_compat` (also `openai-compat`), any case.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "ollama" => Ok(Self::Ollama),
            "openai_compat" | "openai-compat" => Ok(Self::OpenaiCompat),
            _ => Err(UnknownName::Kind {
                value: value.to_owned(),
            }),
        }
    }
}

impl ProviderTier {
    /// The stable name (as serialized and stored).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Cloud => "cloud",
        }
    }
}

impl std::str::FromStr for ProviderTier {
    type Err = UnknownName;

    /// `local` or `cloud`, any case.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(Self::Local),
            "cloud" => Ok(Self::Cloud),
            _ => Err(UnknownName::Tier {
                value: value.to_owned(),
            }),
        }
    }
}

impl std::fmt::Display for ProviderTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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

//! The providers Handshake knows, with their documented default base URLs, tiers and the field
//! their servers read the output limit from. A preset only fills in a [`NewProvider`]; the user
//! can change every field before adding it.

use serde::Serialize;

use super::{MaxTokensField, NewProvider, OpenAiCompatOptions, ProviderKind, ProviderTier};

/// A known provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ProviderPreset {
    /// Also the suggested provider id.
    pub preset_id: &'static str,
    pub display_name: &'static str,
    pub kind: ProviderKind,
    pub tier: ProviderTier,
    pub base_url: &'static str,
    /// Whether the provider needs an API key.
    pub needs_key: bool,
    pub openai: OpenAiCompatOptions,
}

const fn opts(max_tokens_field: MaxTokensField, stream_include_usage: bool) -> OpenAiCompatOptions {
    OpenAiCompatOptions {
        max_tokens_field,
        stream_include_usage,
    }
}

const PRESETS: &[ProviderPreset] = &[
    ProviderPreset {
        preset_id: "openai",
        display_name: "OpenAI",
        kind: ProviderKind::OpenaiCompat,
        tier: ProviderTier::Cloud,
        base_url: "https://api.openai.com/v1",
        needs_key: true,
        // Newer OpenAI models refuse `max_tokens`.
        openai: opts(MaxTokensField::MaxCompletionTokens, true),
    },
    ProviderPreset {
        preset_id: "openrouter",
        display_name: "OpenRouter",
        kind: ProviderKind::OpenaiCompat,
        tier: ProviderTier::Cloud,
        base_url: "https://openrouter.ai/api/v1",
        needs_key: true,
        openai: opts(MaxTokensField::MaxTokens, true),
    },
    ProviderPreset {
        preset_id: "groq",
        display_name: "Groq",
        kind: ProviderKind::OpenaiCompat,
        tier: ProviderTier::Cloud,
        base_url: "https://api.groq.com/openai/v1",
        needs_key: true,
        openai: opts(MaxTokensField::MaxTokens, true),
    },
    ProviderPreset {
        preset_id: "together",
        display_name: "Together AI",
        kind: ProviderKind::OpenaiCompat,
        tier: ProviderTier::Cloud,
        base_url: "https://api.together.xyz/v1",
        needs_key: true,
        openai: opts(MaxTokensField::MaxTokens, true),
    },
    ProviderPreset {
        preset_id: "mistral",
        display_name: "Mistral AI",
        kind: ProviderKind::OpenaiCompat,
        tier: ProviderTier::Cloud,
        base_url: "https://api.mistral.ai/v1",
        needs_key: true,
        // Mistral answers 422 "extra inputs are not permitted" to `stream_options`; it sends usage
        // in the last chunk anyway.
        openai: opts(MaxTokensField::MaxTokens, false),
    },
    ProviderPreset {
        preset_id: "vllm",
        display_name: "vLLM",
        kind: ProviderKind::OpenaiCompat,
        tier: ProviderTier::Local,
        base_url: "http://localhost:8000/v1",
        needs_key: false,
        openai: opts(MaxTokensField::MaxTokens, true),
    },
    ProviderPreset {
        preset_id: "lmstudio",
        display_name: "LM Studio",
        kind: ProviderKind::OpenaiCompat,
        tier: ProviderTier::Local,
        base_url: "http://localhost:1234/v1",
        needs_key: false,
        openai: opts(MaxTokensField::MaxTokens, true),
    },
    ProviderPreset {
        preset_id: "llamacpp",
        display_name: "llama.cpp server",
        kind: ProviderKind::OpenaiCompat,
        tier: ProviderTier::Local,
        base_url: "http://localhost:8080/v1",
        needs_key: false,
        openai: opts(MaxTokensField::MaxTokens, true),
    },
    ProviderPreset {
        preset_id: "ollama",
        display_name: "Ollama",
        kind: ProviderKind::Ollama,
        tier: ProviderTier::Local,
        base_url: "http://localhost:11434",
        needs_key: false,
        openai: opts(MaxTokensField::MaxTokens, true),
    },
];

/// Every preset, in display order.
pub fn presets() -> &'static [ProviderPreset] {
    PRESETS
}

/// The preset with this id.
pub fn preset(preset_id: &str) -> Option<&'static ProviderPreset> {
    PRESETS.iter().find(|p| p.preset_id == preset_id)
}

impl ProviderPreset {
    /// A [`NewProvider`] filled from this preset (no key: set `api_key` before adding when
    /// [`ProviderPreset::needs_key`]).
    pub fn new_provider(&self, provider_id: impl Into<String>) -> NewProvider {
        let mut new = NewProvider::new(provider_id, self.kind, self.tier, self.base_url);
        new.display_name = self.display_name.to_owned();
        new.openai = self.openai;
        new
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::egress::policy::check_url_literal;
    use crate::registry::validate;

    #[test]
    fn presets_are_valid_and_consistent() {
        assert_eq!(presets().len(), 9);
        for p in presets() {
            validate::provider_id(p.preset_id).unwrap();
            let url = validate::url(crate::registry::ProviderField::BaseUrl, p.base_url).unwrap();
            check_url_literal(p.tier, &url).unwrap();
            assert_eq!(
                p.tier == ProviderTier::Cloud,
                url.scheme() == "https",
                "{}",
                p.preset_id
            );
            assert_eq!(p.needs_key, p.tier == ProviderTier::Cloud);
        }
        assert_eq!(
            preset("openai").unwrap().openai.max_tokens_field,
            MaxTokensField::MaxCompletionTokens
        );
        assert_eq!(preset("ollama").unwrap().kind, ProviderKind::Ollama);
        assert!(preset("nope").is_none());
    }
}

//! What profiles need to know about models, without depending on the provider registry.
//!
//! Owns [`ModelId`] (a `<provider_id>/<model name>` id split at the first `/`), the
//! [`ModelCatalog`] trait that validation and resolution ask about providers and models, the
//! [`ModelHealth`] trait resolution asks whether a model can serve right now, and the tier rule
//! [`effective_tier`]: a model's tier is its provider's tier, except that a model whose Ollama tag
//! is `cloud` or ends with `-cloud` runs on Ollama's servers and is `cloud` whatever its provider
//! says. The lead implements [`ModelCatalog`] over the registry; [`StaticCatalog`] is an
//! in-memory implementation for tests and offline tools.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::registry::ProviderTier;

/// Why a model id is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ModelIdProblem {
    /// No `/` separating the provider id from the model name.
    NoSlash,
    /// Nothing before the first `/`.
    EmptyProvider,
    /// Nothing after the first `/`.
    EmptyModel,
}

impl std::fmt::Display for ModelIdProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NoSlash => "expected `<provider_id>/<model name>` but there is no `/`",
            Self::EmptyProvider => "the provider id before the first `/` is empty",
            Self::EmptyModel => "the model name after the first `/` is empty",
        })
    }
}

/// A model id split at the first `/`: `lan/hf.co/org/model:Q4_K_M` is provider `lan`, model
/// `hf.co/org/model:Q4_K_M`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelId {
    provider_id: String,
    model: String,
}

impl ModelId {
    /// Parses `<provider_id>/<model name>`, splitting at the first `/`.
    pub fn parse(id: &str) -> Result<Self, ModelIdProblem> {
        let Some((provider, model)) = id.split_once('/') else {
            return Err(ModelIdProblem::NoSlash);
        };
        if provider.trim().is_empty() {
            return Err(ModelIdProblem::EmptyProvider);
        }
        if model.trim().is_empty() {
            return Err(ModelIdProblem::EmptyModel);
        }
        Ok(Self {
            provider_id: provider.to_owned(),
            model: model.to_owned(),
        })
    }

    /// The provider id (before the first `/`).
    pub fn provider_id(&self) -> &str {
        &self.provider_id
    }

    /// The model name as the provider knows it (after the first `/`).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// True when the model's tag (after the last `:`) is `cloud` or ends with `-cloud`: Ollama
    /// runs such models on its own servers even when asked through a local daemon (natively or
    /// through its OpenAI-compatible `/v1`), so the rule applies to every provider kind.
    pub fn has_cloud_tag(&self) -> bool {
        match self.model.rsplit_once(':') {
            Some((_, tag)) => {
                let tag = tag.to_ascii_lowercase();
                tag == "cloud" || tag.ends_with("-cloud")
            }
            None => false,
        }
    }
}

impl std::fmt::Display for ModelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.provider_id, self.model)
    }
}

/// What validation and resolution ask about providers and models. Implemented by the lead over
/// the provider registry.
pub trait ModelCatalog: Send + Sync {
    /// The tier of a registered provider; `None` when no such provider is registered.
    fn provider_tier(&self, provider_id: &str) -> Option<ProviderTier>;

    /// Whether the provider serves this model: `Some(false)` when it is known not to, `None` when
    /// that cannot be told (offline, or the provider lists no models).
    fn knows_model(&self, model_id: &ModelId) -> Option<bool>;
}

/// Where a model's bytes go: its provider's tier, raised to `cloud` for an Ollama cloud tag.
/// `None` when the provider is not registered.
pub fn effective_tier(catalog: &dyn ModelCatalog, model_id: &ModelId) -> Option<ProviderTier> {
    let tier = catalog.provider_tier(model_id.provider_id())?;
    if model_id.has_cloud_tag() {
        Some(ProviderTier::Cloud)
    } else {
        Some(tier)
    }
}

/// Whether a model can serve right now, as far as the caller knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Reachable and healthy, or not known to be otherwise.
    Available,
    /// Reachable but failing its health check.
    Unhealthy,
    /// Not reachable, or the provider does not have the model.
    Unavailable,
}

/// Health of models, asked by resolution for each candidate. Implemented by the lead over the
/// adapters' health checks.
pub trait ModelHealth: Send + Sync {
    /// The availability of `model_id` (the full `<provider_id>/<model name>`).
    fn availability(&self, model_id: &str) -> Availability;
}

/// An in-memory [`ModelCatalog`]: providers with tiers, and optionally the models each serves.
#[derive(Clone, Debug, Default)]
pub struct StaticCatalog {
    providers: BTreeMap<String, (ProviderTier, Option<BTreeSet<String>>)>,
}

impl StaticCatalog {
    /// An empty catalog (every provider unknown).
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a provider whose model list is unknown (`knows_model` answers `None`).
    pub fn with_provider(mut self, provider_id: &str, tier: ProviderTier) -> Self {
        self.providers.insert(provider_id.to_owned(), (tier, None));
        self
    }

    /// Registers a provider that serves exactly `models` (names without the provider prefix).
    pub fn with_models(mut self, provider_id: &str, tier: ProviderTier, models: &[&str]) -> Self {
        let set = models.iter().map(|m| (*m).to_owned()).collect();
        self.providers
            .insert(provider_id.to_owned(), (tier, Some(set)));
        self
    }
}

impl ModelCatalog for StaticCatalog {
    fn provider_tier(&self, provider_id: &str) -> Option<ProviderTier> {
        self.providers.get(provider_id).map(|(tier, _)| *tier)
    }

    fn knows_model(&self, model_id: &ModelId) -> Option<bool> {
        let (_, models) = self.providers.get(model_id.provider_id())?;
        models.as_ref().map(|set| set.contains(model_id.model()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn splits_at_the_first_slash_only() {
        let id = ModelId::parse("lan/hf.co/org/model:Q4_K_M").unwrap();
        assert_eq!(id.provider_id(), "lan");
        assert_eq!(id.model(), "hf.co/org/model:Q4_K_M");
        assert_eq!(id.to_string(), "lan/hf.co/org/model:Q4_K_M");
        assert_eq!(ModelId::parse("gemma3"), Err(ModelIdProblem::NoSlash));
        assert_eq!(
            ModelId::parse("/gemma3"),
            Err(ModelIdProblem::EmptyProvider)
        );
        assert_eq!(ModelId::parse("oll/"), Err(ModelIdProblem::EmptyModel));
    }

    #[test]
    fn ollama_cloud_tags_are_cloud_even_on_a_local_provider() {
        let catalog = StaticCatalog::new().with_provider("oll", ProviderTier::Local);
        let tier = |id: &str| effective_tier(&catalog, &ModelId::parse(id).unwrap());
        assert_eq!(tier("oll/gemma3:270m"), Some(ProviderTier::Local));
        assert_eq!(tier("oll/gpt-oss:120b-cloud"), Some(ProviderTier::Cloud));
        assert_eq!(tier("oll/kimi:cloud"), Some(ProviderTier::Cloud));
        // "cloud" in the name but not the tag is not a cloud model.
        assert_eq!(tier("oll/cloud-helper:7b"), Some(ProviderTier::Local));
        assert_eq!(tier("oll/my-cloud"), Some(ProviderTier::Local));
        assert_eq!(tier("nope/gemma3:270m"), None);
    }

    #[test]
    fn static_catalog_answers_none_when_it_cannot_tell() {
        let catalog = StaticCatalog::new()
            .with_provider("open", ProviderTier::Cloud)
            .with_models("oll", ProviderTier::Local, &["gemma3:270m"]);
        let knows = |id: &str| catalog.knows_model(&ModelId::parse(id).unwrap());
        assert_eq!(knows("oll/gemma3:270m"), Some(true));
        assert_eq!(knows("oll/llama3:8b"), Some(false));
        assert_eq!(knows("open/gpt-4o"), None);
        assert_eq!(knows("ghost/x"), None);
    }
}

//! What profiles need to know about models, without depending on the provider registry.
//!
//! Owns the [`ModelCatalog`] trait that validation and resolution ask about providers and models,
//! the [`ModelHealth`] trait resolution asks whether a model can serve right now, and
//! [`effective_tier`], which applies the one tier rule ([`crate::vocab::effective_tier`]) to a
//! provider looked up in a catalog. The facade implements [`ModelCatalog`] over the registry;
//! [`StaticCatalog`] is an in-memory implementation for tests and offline tools.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::vocab::ProviderTier;
pub use crate::vocab::{ModelId, ModelIdProblem};

/// What validation and resolution ask about providers and models. Implemented by the lead over
/// the provider registry.
pub trait ModelCatalog: Send + Sync {
    /// The tier of a registered provider; `None` when no such provider is registered.
    fn provider_tier(&self, provider_id: &str) -> Option<ProviderTier>;

    /// Whether the provider serves this model: `Some(false)` when it is known not to, `None` when
    /// that cannot be told (offline, or the provider lists no models).
    fn knows_model(&self, model_id: &ModelId) -> Option<bool>;
}

/// Why a model id has no tier in a catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoTier {
    /// The provider is not registered.
    #[error("the provider is not registered")]
    UnknownProvider,
    /// The name cannot be judged with certainty on the provider's tier (see
    /// [`crate::vocab::effective_tier`]).
    #[error(transparent)]
    Undecidable(ModelIdProblem),
}

/// Where a model's bytes go: [`crate::vocab::effective_tier`] on its provider's tier as the
/// catalog has it. The one rule; this only looks the provider up.
pub fn effective_tier(
    catalog: &dyn ModelCatalog,
    model_id: &ModelId,
) -> Result<ProviderTier, NoTier> {
    let tier = catalog
        .provider_tier(model_id.provider_id())
        .ok_or(NoTier::UnknownProvider)?;
    crate::vocab::effective_tier(tier, model_id.model()).map_err(NoTier::Undecidable)
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
    fn ollama_cloud_tags_are_cloud_even_on_a_local_provider() {
        let catalog = StaticCatalog::new().with_provider("oll", ProviderTier::Local);
        let tier = |id: &str| effective_tier(&catalog, &ModelId::parse(id).unwrap());
        assert_eq!(tier("oll/gemma3:270m"), Ok(ProviderTier::Local));
        assert_eq!(tier("oll/gpt-oss:120b-cloud"), Ok(ProviderTier::Cloud));
        assert_eq!(tier("oll/kimi:cloud"), Ok(ProviderTier::Cloud));
        // "cloud" in the name but not the tag is not a cloud model.
        assert_eq!(tier("oll/cloud-helper:7b"), Ok(ProviderTier::Local));
        assert_eq!(tier("oll/my-cloud"), Ok(ProviderTier::Local));
        assert_eq!(tier("nope/gemma3:270m"), Err(NoTier::UnknownProvider));
        assert_eq!(
            tier("oll/x:cloud:latest"),
            Err(NoTier::Undecidable(ModelIdProblem::SeveralTags))
        );
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

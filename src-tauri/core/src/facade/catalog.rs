//! [`RegistryCatalog`]: the [`ModelCatalog`] profiles are validated and resolved against, taken
//! from the provider registry.
//!
//! A snapshot: the registered providers and their tiers as [`ProviderRegistry::list`] returned
//! them when it was built (the catalog trait is synchronous, the registry is not). Which models a
//! provider serves is not asked over the network here, so [`ModelCatalog::knows_model`] answers
//! `None` ("can't tell offline") for a registered provider: validation accepts the model and a
//! call to it fails later, typed, if the provider lacks it.

use std::collections::BTreeMap;

use crate::profiles::{ModelCatalog, ModelId};
use crate::registry::{ProviderKind, ProviderRegistry, ProviderTier, RegistryError};

/// The registered providers' tiers (and kinds), as of [`RegistryCatalog::snapshot`].
#[derive(Clone, Debug, Default)]
pub struct RegistryCatalog {
    providers: BTreeMap<String, (ProviderKind, ProviderTier)>,
}

impl RegistryCatalog {
    /// Reads every registered provider now.
    pub async fn snapshot(registry: &ProviderRegistry) -> Result<Self, RegistryError> {
        let providers = registry
            .list()
            .await?
            .into_iter()
            .map(|p| (p.provider_id, (p.kind, p.tier)))
            .collect();
        Ok(Self { providers })
    }

    /// The kind of a registered provider.
    pub fn provider_kind(&self, provider_id: &str) -> Option<ProviderKind> {
        self.providers.get(provider_id).map(|(kind, _)| *kind)
    }
}

impl ModelCatalog for RegistryCatalog {
    fn provider_tier(&self, provider_id: &str) -> Option<ProviderTier> {
        self.providers.get(provider_id).map(|(_, tier)| *tier)
    }

    fn knows_model(&self, _model_id: &ModelId) -> Option<bool> {
        // Unknown offline; a registered provider's models are not listed here.
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn answers_tiers_and_never_claims_to_know_models() {
        let mut providers = BTreeMap::new();
        providers.insert(
            "oll".to_owned(),
            (ProviderKind::Ollama, ProviderTier::Local),
        );
        let catalog = RegistryCatalog { providers };
        assert_eq!(catalog.provider_tier("oll"), Some(ProviderTier::Local));
        assert_eq!(catalog.provider_tier("ghost"), None);
        assert_eq!(catalog.provider_kind("oll"), Some(ProviderKind::Ollama));
        let id = ModelId::parse("oll/gemma3:270m").unwrap();
        assert_eq!(catalog.knows_model(&id), None);
    }
}

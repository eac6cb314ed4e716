//! [`ProviderEndpoint`]: a registered provider ready for the wire: its kind, its revision and the
//! [`WireConfig`] an adapter is built from (egress-checked client, key and headers from the
//! keychain). The only place a provider record becomes wire configuration.

use url::Url;

use super::ProviderKind;
use crate::egress::EgressDenied;
use crate::llm::WireConfig;
use crate::vocab::{effective_tier, Destination, ModelIdProblem};

/// A provider ready for the wire.
#[derive(Clone, Debug)]
pub struct ProviderEndpoint {
    pub kind: ProviderKind,
    /// The record's revision: milliseconds of its last change, strictly increasing per edit.
    pub revision: i64,
    pub wire: WireConfig,
}

impl ProviderEndpoint {
    /// The provider's id.
    pub fn provider_id(&self) -> &str {
        &self.wire.provider_id
    }

    /// The URL that lists models: `<base>/api/tags` for Ollama, `<base>/models` for an
    /// OpenAI-compatible server (whose base_url ends in `/v1` or its equivalent).
    pub fn models_url(&self) -> Result<Url, EgressDenied> {
        match self.kind {
            ProviderKind::Ollama => self.wire.url("api/tags"),
            ProviderKind::OpenaiCompat => self.wire.url("models"),
        }
    }

    /// Where a call to `model` on this provider sends its bytes, as a plan binds it.
    pub fn destination(&self, model: &str) -> Result<Destination, ModelIdProblem> {
        Ok(Destination {
            provider_id: self.wire.provider_id.clone(),
            origin: self.wire.origin(),
            tier: effective_tier(self.wire.tier, model)?,
            revision: self.revision,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::llm::OpenAiCompatOptions;
    use crate::vocab::{ProviderTier, Timeouts};

    fn endpoint(base: &str, kind: ProviderKind, tier: ProviderTier) -> ProviderEndpoint {
        ProviderEndpoint {
            kind,
            revision: 7,
            wire: WireConfig {
                provider_id: "p".into(),
                tier,
                base_url: Url::parse(base).unwrap(),
                api_key: None,
                extra_headers: Vec::new(),
                timeouts: Timeouts::default(),
                openai: OpenAiCompatOptions::default(),
                http: reqwest::Client::new(),
            },
        }
    }

    #[test]
    fn model_lists_are_under_the_base() {
        let e = endpoint(
            "http://127.0.0.1:8000/v1",
            ProviderKind::OpenaiCompat,
            ProviderTier::Local,
        );
        assert_eq!(
            e.models_url().unwrap().as_str(),
            "http://127.0.0.1:8000/v1/models"
        );
        let o = endpoint(
            "http://127.0.0.1:11434",
            ProviderKind::Ollama,
            ProviderTier::Local,
        );
        assert_eq!(
            o.models_url().unwrap().as_str(),
            "http://127.0.0.1:11434/api/tags"
        );
    }

    #[test]
    fn a_destination_names_origin_effective_tier_and_revision() {
        let e = endpoint(
            "http://127.0.0.1:8000/v1",
            ProviderKind::OpenaiCompat,
            ProviderTier::Local,
        );
        let d = e.destination("gpt-oss:120b-cloud").unwrap();
        assert_eq!(d.origin, "http://127.0.0.1:8000");
        assert_eq!(d.tier, ProviderTier::Cloud);
        assert_eq!(d.revision, 7);
        assert_eq!(
            e.destination("gemma3:270m").unwrap().tier,
            ProviderTier::Local
        );
        assert_eq!(
            e.destination("x:cloud:latest").unwrap_err(),
            ModelIdProblem::SeveralTags
        );
    }
}

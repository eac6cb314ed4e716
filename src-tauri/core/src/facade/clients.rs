//! The one client path: [`Handshake::model_client`] turns a [`ModelId`] into a ready client,
//! and every caller that talks to a model (`hsk complete`, the Run view, the resume after an
//! approval) gets its client there.
//!
//! The hops, in order: the registry's endpoint for the provider (its record mapped into wire
//! configuration, the egress-checked HTTP client, key and headers from the keychain), the model's
//! destination and effective tier by the one rule ([`crate::vocab::effective_tier`]), the adapter
//! for the provider's protocol, and the Flight Recorder's recording wrapper, so no call path can
//! skip FR-EVT-LLM-INFERENCE. Clients are cached per model id and rebuilt when the provider's
//! record changes (its revision moves on every edit and key change) or is removed, so Ollama's
//! `/api/show` is not fetched on every run.
//!
//! A cloud-tier model is never handed out as a plain client: [`Handshake::client_for`] refuses it
//! with `ConsentRequired`, and the run and resume paths put it behind the consent gate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::llm::{LlmClient, LlmError, OllamaClient, OpenAiCompatClient, TimeoutPhase};
use crate::recorder::{RecorderError, RecordingClient};
use crate::registry::{ProviderEndpoint, ProviderKind, RegistryError};
use crate::vocab::{Destination, ModelId, ModelIdProblem, ProviderTier};

use super::Handshake;

/// Why no client could be built for a model id.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid model id {model_id:?}: {problem}")]
    InvalidModelId {
        model_id: String,
        problem: ModelIdProblem,
    },
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Recorder(#[from] RecorderError),
}

impl ClientError {
    /// A stable code for the shells.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidModelId { .. } => "invalid_model_id",
            Self::Registry(e) => e.code(),
            Self::Llm(e) => e.kind(),
            Self::Recorder(_) => "recorder",
        }
    }
}

/// Parses a model id, or says why it is refused.
pub(crate) fn parse_model_id(model_id: &str) -> Result<ModelId, ClientError> {
    ModelId::parse(model_id).map_err(|problem| ClientError::InvalidModelId {
        model_id: model_id.to_owned(),
        problem,
    })
}

/// A ready client and where it sends.
#[derive(Clone)]
pub(crate) struct ModelClient {
    /// The adapter inside the recording wrapper.
    pub client: Arc<dyn LlmClient>,
    /// The provider as it stood when the client was built (origin, effective tier, revision).
    pub destination: Destination,
}

/// How long a ready client is reused before it is built again (and Ollama's `/api/show` asked
/// again: a model re-created under the same name to forward to a remote host is noticed).
const CLIENT_TTL: Duration = Duration::from_secs(60);

/// Ready clients by model id; an entry is used only while its provider's revision is current and
/// for [`CLIENT_TTL`] at most.
pub(crate) struct ClientCache {
    entries: Mutex<HashMap<ModelId, (Instant, ModelClient)>>,
    ttl: Duration,
}

impl Default for ClientCache {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
            ttl: CLIENT_TTL,
        }
    }
}

impl ClientCache {
    fn get(&self, id: &ModelId, revision: i64) -> Option<ModelClient> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(id)
            .filter(|(built, hit)| {
                hit.destination.revision == revision && built.elapsed() < self.ttl
            })
            .map(|(_, hit)| hit.clone())
    }

    /// Keeps `client`, unless a client of a newer revision of its provider is already held (a
    /// slow build finishing after a newer one); entries of older revisions are dropped.
    fn put(&self, id: ModelId, client: ModelClient) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let revision = client.destination.revision;
        let provider = id.provider_id().to_owned();
        let newer_held = entries
            .iter()
            .any(|(k, (_, v))| k.provider_id() == provider && v.destination.revision > revision);
        if newer_held {
            return;
        }
        entries
            .retain(|k, (_, v)| k.provider_id() != provider || v.destination.revision == revision);
        entries.insert(id, (Instant::now(), client));
    }

    /// Drops every client of `provider_id` (it was removed: its keys must not linger here).
    fn forget(&self, provider_id: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|k, _| k.provider_id() != provider_id);
    }

    /// How many clients are held (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Handshake {
    /// The one client path (see the module docs): the recording client for `id` and its
    /// destination, from the cache while the provider is unchanged. Any tier: callers put a
    /// cloud-tier client behind the consent gate.
    pub(crate) async fn model_client(&self, id: &ModelId) -> Result<ModelClient, ClientError> {
        let revision = match self.registry().revision(id.provider_id()).await {
            Ok(revision) => revision,
            Err(error) => {
                self.clients.forget(id.provider_id());
                return Err(error.into());
            }
        };
        if let Some(hit) = self.clients.get(id, revision) {
            return Ok(hit);
        }
        let endpoint = self.registry().endpoint(id.provider_id()).await?;
        let destination =
            endpoint
                .destination(id.model())
                .map_err(|problem| ClientError::InvalidModelId {
                    model_id: id.to_string(),
                    problem,
                })?;
        let (adapter, complete) = adapter_for(endpoint, id.model(), destination.tier).await?;
        // The adapter may know more than the name: Ollama's `/api/show` names a remote host for
        // a model it forwards, whatever the model is called.
        let destination = Destination {
            tier: adapter.profile().tier,
            ..destination
        };
        let recorder = self.recorder().await?.clone();
        let ready = ModelClient {
            client: RecordingClient::wrap(adapter, recorder),
            destination,
        };
        if complete {
            self.clients.put(id.clone(), ready.clone());
        }
        Ok(ready)
    }

    /// The recording client for a local-tier model (`hsk complete`). A cloud-tier model is
    /// refused with [`LlmError::ConsentRequired`] before anything is sent: it is reached only
    /// through a job, a projection plan and consent.
    pub async fn client_for(&self, model_id: &str) -> Result<Arc<dyn LlmClient>, ClientError> {
        let id = parse_model_id(model_id)?;
        let ready = self.model_client(&id).await?;
        if ready.destination.tier == ProviderTier::Cloud {
            return Err(LlmError::ConsentRequired {
                reason: format!(
                    "{id} is a cloud-tier model; run it through a job so that a projection plan and your consent come first"
                ),
            }
            .into());
        }
        Ok(ready.client)
    }
}

/// The adapter for the endpoint's wire protocol, unwrapped (no recording, no guard), and whether
/// it is complete enough to cache (an Ollama client whose `/api/show` did not answer is not).
/// A cloud-tier Ollama model is built without `/api/show`: nothing, not even a model name, goes
/// toward a cloud before consent.
async fn adapter_for(
    endpoint: ProviderEndpoint,
    model_name: &str,
    tier: ProviderTier,
) -> Result<(Arc<dyn LlmClient>, bool), ClientError> {
    Ok(match endpoint.kind {
        ProviderKind::Ollama if tier == ProviderTier::Cloud => {
            let client = OllamaClient::with_context_length(endpoint.wire, model_name, None)?;
            (Arc::new(client), true)
        }
        ProviderKind::Ollama => {
            // `/api/show` gives the context window and says whether the daemon forwards the model
            // to a remote host (then it is cloud tier, whatever its name).
            match OllamaClient::new(endpoint.wire.clone(), model_name).await {
                Ok(client) => (Arc::new(client), true),
                // The daemon could not be reached (or does not have the model): the completion
                // attempt will fail the same way, and is recorded. Not cached.
                Err(
                    error @ (LlmError::Unreachable { .. }
                    | LlmError::Timeout {
                        phase: TimeoutPhase::Connect,
                    }
                    | LlmError::ModelNotFound { .. }),
                ) => {
                    tracing::debug!(
                        kind = error.kind(),
                        "could not read the model's profile from Ollama"
                    );
                    let client =
                        OllamaClient::with_context_length(endpoint.wire, model_name, None)?;
                    (Arc::new(client), false)
                }
                // A daemon that answers but does not say what the model is could be hiding a
                // model it forwards to a remote host: nothing is sent (fails closed).
                Err(error) => return Err(error.into()),
            }
        }
        ProviderKind::OpenaiCompat => (
            Arc::new(OpenAiCompatClient::new(endpoint.wire, model_name)?),
            true,
        ),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A ready client (a real adapter, built without I/O) of `revision`.
    fn ready(revision: i64) -> ModelClient {
        let wire = crate::llm::WireConfig {
            provider_id: "p".into(),
            tier: ProviderTier::Local,
            base_url: url::Url::parse("http://127.0.0.1:1/v1").unwrap(),
            api_key: None,
            extra_headers: Vec::new(),
            timeouts: crate::vocab::Timeouts::default(),
            openai: crate::llm::OpenAiCompatOptions::default(),
            http: reqwest::Client::new(),
        };
        ModelClient {
            client: Arc::new(OpenAiCompatClient::new(wire, "m").unwrap()),
            destination: Destination {
                provider_id: "p".into(),
                origin: "http://127.0.0.1:1".into(),
                tier: ProviderTier::Local,
                revision,
            },
        }
    }

    #[test]
    fn a_client_is_rebuilt_after_its_time_to_live() {
        let expired = ClientCache {
            ttl: Duration::ZERO,
            ..ClientCache::default()
        };
        let a = ModelId::parse("p/a").unwrap();
        expired.put(a.clone(), ready(1));
        assert!(expired.get(&a, 1).is_none());
        let fresh = ClientCache::default();
        fresh.put(a.clone(), ready(1));
        assert!(fresh.get(&a, 1).is_some());
    }

    #[test]
    fn a_late_build_of_an_older_revision_does_not_replace_a_newer_one() {
        let cache = ClientCache::default();
        let a = ModelId::parse("p/a").unwrap();
        cache.put(a.clone(), ready(2));
        cache.put(ModelId::parse("p/b").unwrap(), ready(1));
        assert!(cache.get(&a, 2).is_some());
        assert_eq!(cache.len(), 1);
        cache.forget("p");
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn the_cache_serves_only_the_current_revision_and_drops_older_ones() {
        let cache = ClientCache::default();
        let a = ModelId::parse("p/a").unwrap();
        let b = ModelId::parse("p/b").unwrap();
        cache.put(a.clone(), ready(1));
        assert!(cache.get(&a, 1).is_some());
        assert!(cache.get(&a, 2).is_none(), "an edited provider is rebuilt");
        cache.put(b.clone(), ready(2));
        assert_eq!(cache.len(), 1, "p/a of revision 1 is dropped");
        assert!(cache.get(&b, 2).is_some());
    }

    #[test]
    fn malformed_ids_are_refused_with_their_problem() {
        for (bad, problem) in [
            ("nomodel", ModelIdProblem::NoSlash),
            ("/x", ModelIdProblem::EmptyProvider),
            ("x/", ModelIdProblem::EmptyModel),
            ("x/y ", ModelIdProblem::SurroundingWhitespace),
        ] {
            match parse_model_id(bad) {
                Err(ClientError::InvalidModelId { problem: p, .. }) => assert_eq!(p, problem),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}

//! Provider settings as a desktop screen needs them: list rows with the keychain status of each
//! API key (never the key), add and edit from a form draft, key replace and remove, a connection
//! test reporting latency and models, and the first-start offer of a local Ollama.
//!
//! Everything here delegates to the registry ([`crate::registry`]); this file only shapes its
//! records into what a form and a list show, and holds the first-start detection (a short,
//! egress-checked `GET /api/tags` against a local address).

use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{FacadeError, Handshake};
use crate::egress::{self, ClientSpec};
use crate::registry::probe::{map_send_error, parse_model_list};
use crate::registry::{
    preset, ConnectionTest, ModelInfo, NewProvider, ProviderKind, ProviderPreset, ProviderRecord,
    ProviderTier, ProviderUpdate, RegistryError, SecretState,
};

/// The id the first-start offer registers a local Ollama under.
pub const LOCAL_OLLAMA_ID: &str = "ollama";

/// How long the first-start detection waits for a local Ollama.
const DETECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Largest model list the first-start detection reads.
const MAX_TAGS_BODY: usize = 4 * 1024 * 1024;

/// One provider as a list shows it: what it is, where it points, and whether its API key is in
/// the keychain. Holds no secret and no keychain handle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ProviderRow {
    pub provider_id: String,
    pub display_name: String,
    pub kind: ProviderKind,
    pub tier: ProviderTier,
    pub base_url: String,
    pub default_model: Option<String>,
    /// `not_set` (keyless), `stored` (in the OS keychain) or `missing` (to be entered again).
    pub api_key: SecretState,
}

/// What a person enters in the add or edit form (the API key travels separately, as a secret).
#[derive(Clone, Debug, Deserialize, ts_rs::TS)]
pub struct ProviderDraft {
    pub provider_id: String,
    pub display_name: String,
    pub kind: ProviderKind,
    pub tier: ProviderTier,
    pub base_url: String,
    /// Blank or absent for none.
    pub default_model: Option<String>,
    /// The preset the form started from (its server options are used when adding).
    pub preset_id: Option<String>,
}

/// One model a provider offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ProviderModel {
    /// The name as the provider knows it (`gemma3:270m`).
    pub name: String,
    /// `<provider_id>/<name>`, as Work Profiles name it.
    pub model_id: String,
    #[ts(type = "number | null")]
    pub size_bytes: Option<u64>,
}

/// The outcome of "Test connection".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ConnectionReport {
    pub provider_id: String,
    /// The URL called (without its query).
    pub url: String,
    pub status: u16,
    /// From sending the request to the response headers.
    #[ts(type = "number")]
    pub latency_ms: u64,
    /// Until the whole model list was read.
    #[ts(type = "number")]
    pub total_ms: u64,
    /// Whether the API key was sent.
    pub authenticated: bool,
    pub models: Vec<ProviderModel>,
}

/// A local Ollama found on first start, offered as a provider in one click.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct LocalOllamaOffer {
    /// The id it would be registered under.
    pub provider_id: String,
    pub base_url: String,
    #[ts(type = "number")]
    pub latency_ms: u64,
    pub models: Vec<ProviderModel>,
}

impl From<ModelInfo> for ProviderModel {
    fn from(m: ModelInfo) -> Self {
        Self {
            name: m.name,
            model_id: m.model_id,
            size_bytes: m.size_bytes,
        }
    }
}

impl From<ConnectionTest> for ConnectionReport {
    fn from(t: ConnectionTest) -> Self {
        Self {
            provider_id: t.provider_id,
            url: t.url,
            status: t.status,
            latency_ms: t.latency_ms,
            total_ms: t.total_ms,
            authenticated: t.authenticated,
            models: t.models.into_iter().map(ProviderModel::from).collect(),
        }
    }
}

fn row(record: ProviderRecord, api_key: SecretState) -> ProviderRow {
    ProviderRow {
        provider_id: record.provider_id,
        display_name: record.display_name,
        kind: record.kind,
        tier: record.tier,
        base_url: record.base_url,
        default_model: record.default_model,
        api_key,
    }
}

/// A blank default model means none.
fn blank_to_none(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

impl Handshake {
    /// The providers Handshake knows, for the form's kind picker.
    pub fn provider_presets(&self) -> &'static [ProviderPreset] {
        crate::registry::presets()
    }

    /// Every registered provider with the keychain status of its API key, ordered by id.
    pub async fn provider_rows(&self) -> Result<Vec<ProviderRow>, FacadeError> {
        let mut rows = Vec::new();
        for record in self.registry().list().await? {
            let status = self.registry().secret_status(&record.provider_id).await?;
            rows.push(row(record, status.api_key));
        }
        Ok(rows)
    }

    /// One provider's row.
    pub async fn provider_row(&self, provider_id: &str) -> Result<ProviderRow, FacadeError> {
        let record = self.registry().get(provider_id).await?;
        let status = self.registry().secret_status(provider_id).await?;
        Ok(row(record, status.api_key))
    }

    /// Registers a provider from the form, with its API key (stored in the keychain only).
    pub async fn add_provider(
        &self,
        draft: ProviderDraft,
        api_key: Option<SecretString>,
    ) -> Result<ProviderRow, FacadeError> {
        let mut new = NewProvider::new(draft.provider_id, draft.kind, draft.tier, draft.base_url);
        new.display_name = draft.display_name;
        new.default_model = blank_to_none(draft.default_model);
        if let Some(p) = draft.preset_id.as_deref().and_then(preset) {
            new.openai = p.openai;
        }
        new.api_key = api_key;
        let record = self.registry().add(new).await?;
        self.provider_row(&record.provider_id).await
    }

    /// Changes a provider from the edit form (the id never changes; the key is changed with
    /// [`Handshake::set_provider_key`]).
    pub async fn update_provider(
        &self,
        provider_id: &str,
        draft: ProviderDraft,
    ) -> Result<ProviderRow, FacadeError> {
        let update = ProviderUpdate {
            display_name: Some(draft.display_name),
            kind: Some(draft.kind),
            tier: Some(draft.tier),
            base_url: Some(draft.base_url),
            default_model: Some(blank_to_none(draft.default_model)),
            ..ProviderUpdate::default()
        };
        self.registry().update(provider_id, update).await?;
        self.provider_row(provider_id).await
    }

    /// Stores or replaces the provider's API key in the keychain.
    pub async fn set_provider_key(
        &self,
        provider_id: &str,
        api_key: SecretString,
    ) -> Result<ProviderRow, FacadeError> {
        self.registry().set_key(provider_id, api_key).await?;
        self.provider_row(provider_id).await
    }

    /// Deletes the provider's API key from the keychain.
    pub async fn delete_provider_key(&self, provider_id: &str) -> Result<ProviderRow, FacadeError> {
        self.registry().delete_key(provider_id).await?;
        self.provider_row(provider_id).await
    }

    /// Removes a provider and its secrets.
    pub async fn remove_provider(&self, provider_id: &str) -> Result<(), FacadeError> {
        Ok(self.registry().remove(provider_id).await?)
    }

    /// Reaches the provider, lists its models and reports the latency.
    pub async fn test_provider(&self, provider_id: &str) -> Result<ConnectionReport, FacadeError> {
        Ok(self.registry().test_connection(provider_id).await?.into())
    }

    /// On first start (no provider registered), the Ollama answering at `base_url` with its
    /// models; `None` when a provider exists or nothing answers there within a short timeout.
    pub async fn local_ollama_offer(
        &self,
        base_url: &str,
    ) -> Result<Option<LocalOllamaOffer>, FacadeError> {
        if !self.registry().list().await?.is_empty() {
            return Ok(None);
        }
        match probe_ollama(self, base_url).await {
            Ok(offer) => Ok(Some(offer)),
            Err(reason) => {
                tracing::debug!(%reason, "no local Ollama to offer");
                Ok(None)
            }
        }
    }

    /// Registers the Ollama at `base_url` as the local provider [`LOCAL_OLLAMA_ID`], with
    /// `default_model` (one of its models) when given.
    pub async fn accept_local_ollama(
        &self,
        base_url: &str,
        default_model: Option<String>,
    ) -> Result<ProviderRow, FacadeError> {
        let ollama = preset("ollama").ok_or_else(|| RegistryError::UnknownKind {
            value: "ollama".into(),
        })?;
        let mut new = ollama.new_provider(LOCAL_OLLAMA_ID);
        new.base_url = base_url.to_owned();
        new.default_model = blank_to_none(default_model);
        let record = self.registry().add(new).await?;
        self.provider_row(&record.provider_id).await
    }
}

/// `GET <base_url>/api/tags` through a local-tier, egress-checked client, within
/// [`DETECT_TIMEOUT`]. The error is a reason for the log, never shown as a failure.
async fn probe_ollama(hs: &Handshake, base_url: &str) -> Result<LocalOllamaOffer, String> {
    let base = crate::registry::validate::url(crate::registry::ProviderField::BaseUrl, base_url)
        .map_err(|e| e.to_string())?;
    let client = egress::build_client(&ClientSpec {
        tier: ProviderTier::Local,
        base_url: base.clone(),
        proxy_url: None,
        connect_timeout: DETECT_TIMEOUT,
        resolver: hs.registry().resolver(),
    })
    .map_err(|e| e.to_string())?;
    let url = base.join("api/tags").map_err(|e| e.to_string())?;
    let started = Instant::now();
    let fetch = async {
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|e| map_send_error(e).to_string())?;
        let latency = started.elapsed();
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| map_send_error(e).to_string())?
        {
            if body.len() + chunk.len() > MAX_TAGS_BODY {
                return Err("the model list is too large".to_owned());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((latency, body))
    };
    let (latency, body) = tokio::time::timeout(DETECT_TIMEOUT, fetch)
        .await
        .map_err(|_| "timed out".to_owned())??;
    let models = parse_model_list(&body)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|m| ProviderModel {
            model_id: format!("{LOCAL_OLLAMA_ID}/{}", m.name),
            name: m.name,
            size_bytes: m.size_bytes,
        })
        .collect();
    Ok(LocalOllamaOffer {
        provider_id: LOCAL_OLLAMA_ID.to_owned(),
        base_url: base.to_string(),
        latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        models,
    })
}

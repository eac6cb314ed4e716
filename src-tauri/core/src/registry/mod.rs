//! The providers a user registered: kind, tier, base_url, defaults and a handle to the secret.
//!
//! Persisted in SQLite (migration `0002_providers.sql`); the secret itself lives only in the OS
//! keychain ([`crate::secrets`]), under handles derived from the provider id ([`api_key_handle`],
//! [`header_handle`]).
//!
//! - [`ProviderRegistry`] ([`provider_registry`]): add, update, remove, list, get, keys, and
//!   [`ProviderRegistry::endpoint`], which hands adapters a [`ProviderEndpoint`] whose client
//!   enforces the egress policy ([`crate::egress`]).
//! - [`validate`]: every check on user input, each failing with a [`RegistryError`] that names the
//!   field ([`ProviderField`]) so a UI can show it next to that field.
//! - [`presets`]: the providers Handshake knows (OpenAI, OpenRouter, Groq, ..., Ollama).
//! - [`probe`]: testing a provider and listing its models.
//! - [`transfer`]: export (secrets replaced by handle markers) and import.

mod endpoint;
mod error;
pub mod presets;
pub mod probe;
mod provider_registry;
mod store;
pub mod transfer;
pub mod validate;

pub use endpoint::ProviderEndpoint;
pub use error::{ProviderField, RegistryError};
pub use presets::{preset, presets, ProviderPreset};
pub use probe::{ConnectionTest, ModelInfo};
pub use provider_registry::{ProviderRegistry, SecretState, SecretStatus};
pub use transfer::{
    ExportedProvider, ImportRejection, ImportReport, ImportedProvider, ProvidersExport,
    SecretMarker, EXPORT_FORMAT,
};

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub use crate::llm::{MaxTokensField, OpenAiCompatOptions};
use crate::secrets::SecretHandle;
pub use crate::vocab::{ProviderKind, ProviderTier, Timeouts};

/// The keychain handle of a provider's API key. `namespace` is the database's own (see
/// `provider_keychain_namespace`), so databases sharing the OS keychain never share handles.
pub fn api_key_handle(namespace: &str, provider_id: &str) -> SecretHandle {
    SecretHandle::new(format!("{namespace}/provider/{provider_id}/api_key"))
}

/// The keychain handle of a provider's secret header `name` (lowercase).
pub fn header_handle(namespace: &str, provider_id: &str, name: &str) -> SecretHandle {
    SecretHandle::new(format!(
        "{namespace}/provider/{provider_id}/header/{}",
        name.to_ascii_lowercase()
    ))
}

/// A registered provider, as stored. Holds handles to secrets, never a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ProviderRecord {
    /// `[a-z0-9_-]`, 1 to 64 characters; model ids are `<provider_id>/<model>`.
    pub provider_id: String,
    pub display_name: String,
    pub kind: ProviderKind,
    pub tier: ProviderTier,
    /// Normalised URL (for `openai_compat`, usually ending in `/v1`).
    pub base_url: String,
    /// Where the API key is kept in the OS keychain; `None` for a keyless provider.
    pub secret_handle: Option<SecretHandle>,
    /// The model to use when a request names only the provider.
    pub default_model: Option<String>,
    /// Headers sent with every request, in order.
    pub extra_headers: Vec<ExtraHeader>,
    pub timeouts: Timeouts,
    pub openai: OpenAiCompatOptions,
    /// A proxy the user configured for this provider (http or https, no credentials); by default
    /// Handshake connects directly and ignores proxy environment variables.
    pub proxy_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProviderRecord {
    /// Every keychain handle this provider owns (API key and secret headers).
    pub fn secret_handles(&self) -> Vec<SecretHandle> {
        let headers = self.extra_headers.iter().filter_map(|h| match &h.value {
            ExtraHeaderValue::Secret { handle } => Some(handle.clone()),
            ExtraHeaderValue::Plain { .. } => None,
        });
        self.secret_handle.iter().cloned().chain(headers).collect()
    }
}

/// An extra header of a provider (name lowercase).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ExtraHeader {
    pub name: String,
    pub value: ExtraHeaderValue,
}

/// A header's value as stored: plain text, or a handle to the keychain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ExtraHeaderValue {
    Plain { value: String },
    Secret { handle: SecretHandle },
}

/// A header as the user enters it.
#[derive(Clone, Debug)]
pub struct HeaderInput {
    pub name: String,
    pub value: HeaderValueInput,
}

impl HeaderInput {
    /// A header stored as plain text.
    pub fn plain(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: HeaderValueInput::Plain(value.into()),
        }
    }

    /// A header whose value goes to the keychain.
    pub fn secret(name: impl Into<String>, value: SecretString) -> Self {
        Self {
            name: name.into(),
            value: HeaderValueInput::Secret(value),
        }
    }
}

/// A header value as the user enters it.
#[derive(Clone, Debug)]
pub enum HeaderValueInput {
    Plain(String),
    /// Stored in the keychain; the record keeps only its handle.
    Secret(SecretString),
    /// On update: keep the secret value already stored for this header name.
    KeepSecret,
}

/// What the user enters to add a provider.
#[derive(Clone, Debug)]
pub struct NewProvider {
    pub provider_id: String,
    pub display_name: String,
    pub kind: ProviderKind,
    pub tier: ProviderTier,
    pub base_url: String,
    pub api_key: Option<SecretString>,
    pub default_model: Option<String>,
    pub extra_headers: Vec<HeaderInput>,
    pub timeouts: Timeouts,
    pub openai: OpenAiCompatOptions,
    pub proxy_url: Option<String>,
}

impl NewProvider {
    /// A provider with default timeouts and options, no key, no headers, no proxy.
    pub fn new(
        provider_id: impl Into<String>,
        kind: ProviderKind,
        tier: ProviderTier,
        base_url: impl Into<String>,
    ) -> Self {
        let provider_id = provider_id.into();
        Self {
            display_name: provider_id.clone(),
            provider_id,
            kind,
            tier,
            base_url: base_url.into(),
            api_key: None,
            default_model: None,
            extra_headers: Vec::new(),
            timeouts: Timeouts::default(),
            openai: OpenAiCompatOptions::default(),
            proxy_url: None,
        }
    }
}

/// Changes to a provider; `None` leaves a field as it is. The id never changes. Keys are changed
/// with [`ProviderRegistry::set_key`] / [`ProviderRegistry::rotate_key`] /
/// [`ProviderRegistry::delete_key`].
#[derive(Clone, Debug, Default)]
pub struct ProviderUpdate {
    pub display_name: Option<String>,
    pub kind: Option<ProviderKind>,
    pub tier: Option<ProviderTier>,
    pub base_url: Option<String>,
    /// `Some(None)` clears the default model.
    pub default_model: Option<Option<String>>,
    /// Replaces every extra header; secret headers no longer listed are deleted from the keychain.
    pub extra_headers: Option<Vec<HeaderInput>>,
    pub timeouts: Option<Timeouts>,
    pub openai: Option<OpenAiCompatOptions>,
    /// `Some(None)` removes the proxy.
    pub proxy_url: Option<Option<String>>,
}

//! Export and import of providers as JSON.
//!
//! An export holds no secret: each one is replaced by a marker naming its handle,
//! `{"$secret_handle": "provider/openai/api_key", "stored": true}`. An import treats the file as
//! untrusted input: every provider goes through the same validation and egress checks as
//! [`ProviderRegistry::add`], and handle names in the file are ignored: handles are derived from
//! this database's keychain namespace and the provider id, so a crafted file cannot point a
//! provider at another provider's secret, and no secret left in the keychain by another database
//! is ever attached to a record whose base_url came from a file. The keychain is not touched.
//! The report lists the secrets to enter again. An imported record's `updated_at` (its revision)
//! is the time of the import, whatever the file says.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::validate::{self, CheckedHeaders};
use super::{
    api_key_handle, store, ExtraHeaderValue, HeaderInput, OpenAiCompatOptions, ProviderField,
    ProviderKind, ProviderRecord, ProviderRegistry, ProviderTier, RegistryError, Timeouts,
};

/// The `format` of an export file this build writes and reads.
pub const EXPORT_FORMAT: &str = "handshake.providers@1";

/// A providers export file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvidersExport {
    pub format: String,
    pub exported_at: DateTime<Utc>,
    pub providers: Vec<ExportedProvider>,
}

/// One provider in an export; kind and tier are strings so an unknown value is reported as
/// [`RegistryError::UnknownKind`] / [`RegistryError::UnknownTier`] rather than a parse failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedProvider {
    pub provider_id: String,
    pub display_name: String,
    pub kind: String,
    pub tier: String,
    pub base_url: String,
    pub api_key: Option<SecretMarker>,
    pub default_model: Option<String>,
    #[serde(default)]
    pub extra_headers: Vec<ExportedHeader>,
    pub timeouts: Timeouts,
    pub openai: OpenAiCompatOptions,
    pub proxy_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Stands where a secret would be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretMarker {
    #[serde(rename = "$secret_handle")]
    pub secret_handle: String,
    /// The exporting registry had a secret under this handle (not included in the file).
    pub stored: bool,
}

/// A header in an export: a plain value, or a secret marker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedHeader {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretMarker>,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ImportReport {
    pub imported: Vec<ImportedProvider>,
    pub rejected: Vec<ImportRejection>,
}

/// A provider that was imported, and the secrets to enter again before it can be used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ImportedProvider {
    pub provider_id: String,
    /// `api_key` and/or `header:<name>`.
    pub needs_secrets: Vec<String>,
}

/// A provider that was not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ImportRejection {
    pub provider_id: String,
    /// [`RegistryError::code`].
    pub code: String,
    pub field: Option<ProviderField>,
    pub message: String,
}

impl ProviderRegistry {
    /// Every provider, secrets replaced by handle markers.
    pub async fn export(&self) -> Result<ProvidersExport, RegistryError> {
        let providers = self.list().await?.into_iter().map(export_record).collect();
        Ok(ProvidersExport {
            format: EXPORT_FORMAT.to_owned(),
            exported_at: store::now(),
            providers,
        })
    }

    /// [`ProviderRegistry::export`] as pretty JSON.
    pub async fn export_json(&self) -> Result<String, RegistryError> {
        let export = self.export().await?;
        serde_json::to_string_pretty(&export).map_err(|e| RegistryError::InvalidExport {
            reason: e.to_string(),
        })
    }

    /// Imports an export file given as JSON.
    pub async fn import_json(&self, json: &str) -> Result<ImportReport, RegistryError> {
        // serde_json's messages give line and column, never the offending text.
        let export: ProvidersExport =
            serde_json::from_str(json).map_err(|e| RegistryError::InvalidExport {
                reason: e.to_string(),
            })?;
        self.import(export).await
    }

    /// Imports providers: each is validated like an add; one that fails (or whose id is taken)
    /// is reported in `rejected` and the others go on.
    pub async fn import(&self, export: ProvidersExport) -> Result<ImportReport, RegistryError> {
        if export.format != EXPORT_FORMAT {
            return Err(RegistryError::InvalidExport {
                reason: format!("format {:?} is not {EXPORT_FORMAT:?}", export.format),
            });
        }
        let mut report = ImportReport::default();
        for provider in export.providers {
            let provider_id = provider.provider_id.clone();
            match self.import_one(provider).await {
                Ok(imported) => report.imported.push(imported),
                Err(e) => {
                    tracing::warn!(provider_id = %provider_id, code = e.code(), "provider not imported");
                    report.rejected.push(ImportRejection {
                        provider_id,
                        code: e.code().to_owned(),
                        field: e.field(),
                        message: e.to_string(),
                    });
                }
            }
        }
        tracing::info!(
            imported = report.imported.len(),
            rejected = report.rejected.len(),
            "providers imported"
        );
        Ok(report)
    }

    async fn import_one(&self, p: ExportedProvider) -> Result<ImportedProvider, RegistryError> {
        let record = self.check_imported(p).await?;
        let _writes = self.lock_writes().await;
        if store::exists(self.db().pool(), &record.provider_id).await? {
            return Err(RegistryError::DuplicateId {
                id: record.provider_id,
            });
        }
        self.insert(&record).await?;
        self.invalidate(&record.provider_id);
        let mut needs_secrets = Vec::new();
        if record.secret_handle.is_some() {
            needs_secrets.push("api_key".to_owned());
        }
        for header in &record.extra_headers {
            if matches!(header.value, ExtraHeaderValue::Secret { .. }) {
                needs_secrets.push(format!("header:{}", header.name));
            }
        }
        Ok(ImportedProvider {
            provider_id: record.provider_id,
            needs_secrets,
        })
    }

    async fn check_imported(&self, p: ExportedProvider) -> Result<ProviderRecord, RegistryError> {
        validate::provider_id(&p.provider_id)?;
        let kind: ProviderKind = p.kind.parse()?;
        let tier: ProviderTier = p.tier.parse()?;
        let display_name = validate::display_name(&p.display_name)?;
        let default_model = validate::default_model(p.default_model.as_deref())?;
        validate::timeouts(&p.timeouts)?;
        let base_url = validate::url(ProviderField::BaseUrl, &p.base_url)?;
        let proxy_url = p
            .proxy_url
            .as_deref()
            .map(|u| validate::url(ProviderField::ProxyUrl, u))
            .transpose()?;
        // Secret headers have no value in the file: a placeholder lets them go through the same
        // checks (name, reserved names, duplicates); the placeholder is never stored.
        let inputs: Vec<HeaderInput> = p
            .extra_headers
            .iter()
            .map(|h| match &h.secret {
                Some(_) => HeaderInput::secret(
                    h.name.clone(),
                    SecretString::from(String::from("placeholder")),
                ),
                None => HeaderInput::plain(h.name.clone(), h.value.clone().unwrap_or_default()),
            })
            .collect();
        let namespace = self.keychain_namespace().await?;
        let CheckedHeaders {
            headers: extra_headers,
            ..
        } = validate::headers(&namespace, &p.provider_id, &inputs, &[])?;
        self.check_egress(tier, &base_url, proxy_url.as_ref(), &p.timeouts)
            .await?;
        Ok(ProviderRecord {
            secret_handle: p
                .api_key
                .filter(|m| m.stored)
                .map(|_| api_key_handle(&namespace, &p.provider_id)),
            provider_id: p.provider_id,
            display_name,
            kind,
            tier,
            base_url: base_url.to_string(),
            default_model,
            extra_headers,
            timeouts: p.timeouts,
            openai: p.openai,
            proxy_url: proxy_url.map(|u| u.to_string()),
            created_at: p.created_at,
            // Stamped now, never taken from the file: the revision that caches and consent
            // plans compare must be new for a record new to this database (a provider removed and
            // imported again with its old `updated_at` would otherwise look unchanged).
            updated_at: super::store::now(),
        })
    }
}

fn export_record(r: ProviderRecord) -> ExportedProvider {
    let marker = |handle: &crate::secrets::SecretHandle| SecretMarker {
        secret_handle: handle.as_str().to_owned(),
        stored: true,
    };
    ExportedProvider {
        api_key: r.secret_handle.as_ref().map(marker),
        extra_headers: r
            .extra_headers
            .iter()
            .map(|h| match &h.value {
                ExtraHeaderValue::Plain { value } => ExportedHeader {
                    name: h.name.clone(),
                    value: Some(value.clone()),
                    secret: None,
                },
                ExtraHeaderValue::Secret { handle } => ExportedHeader {
                    name: h.name.clone(),
                    value: None,
                    secret: Some(marker(handle)),
                },
            })
            .collect(),
        provider_id: r.provider_id,
        display_name: r.display_name,
        kind: r.kind.as_str().to_owned(),
        tier: r.tier.as_str().to_owned(),
        base_url: r.base_url,
        default_model: r.default_model,
        timeouts: r.timeouts,
        openai: r.openai,
        proxy_url: r.proxy_url,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

//! [`ProviderRegistry`]: the registered providers (SQLite) and their secrets (OS keychain), and
//! the egress-checked [`ProviderEndpoint`] adapters are built from.
//!
//! Guarantees:
//! - A secret goes to the keychain and nowhere else; the database holds its handle. When the
//!   keychain is unavailable the operation fails ([`crate::secrets::SecretsError`]), with no
//!   plaintext fallback, and nothing is half-stored: secrets written for a provider that then
//!   fails to insert are deleted again.
//! - Every input is validated ([`super::validate`]) and the base_url is checked against the tier
//!   before anything is stored ([`crate::egress::preflight`]).
//! - Writes are serialised, so two adds of one id cannot overwrite each other's keychain entry.
//! - One `reqwest::Client` per provider, cached and rebuilt when the provider changes; the key is
//!   read from the keychain on every [`ProviderRegistry::endpoint`] call, so a rotation applies
//!   to the next call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use url::Url;

use super::validate::{self, CheckedHeaders};
use super::{
    api_key_handle, store, ExtraHeaderValue, NewProvider, ProviderEndpoint, ProviderField,
    ProviderRecord, ProviderTier, ProviderUpdate, RegistryError, Timeouts,
};
use crate::db::Database;
use crate::egress::{self, EgressError, NameResolver, SystemResolver};
use crate::llm::WireConfig;
use crate::secrets::{Keychain, SecretHandle, SecretsError};

/// The registered providers. Cheap to clone (shared state).
#[derive(Clone)]
pub struct ProviderRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    keychain: Keychain,
    resolver: Arc<dyn NameResolver>,
    writes: tokio::sync::Mutex<()>,
    clients: Mutex<HashMap<String, CachedClient>>,
    namespace: tokio::sync::OnceCell<String>,
}

struct CachedClient {
    /// The record version the client was built from.
    updated_at: DateTime<Utc>,
    client: reqwest::Client,
}

impl std::fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderRegistry")
            .field("db", &self.inner.db.path())
            .field("keychain", &self.inner.keychain)
            .field("resolver", &self.inner.resolver)
            .finish_non_exhaustive()
    }
}

/// Whether a provider's secrets are in the keychain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SecretState {
    /// The provider has no such secret.
    NotSet,
    /// The keychain holds it.
    Stored,
    /// The record names it but the keychain does not hold it (after an import, or a keychain
    /// reset): it must be entered again.
    Missing,
}

/// The state of each secret of a provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SecretStatus {
    pub api_key: SecretState,
    /// Secret headers by name.
    pub headers: Vec<(String, SecretState)>,
}

impl ProviderRegistry {
    /// A registry over `db` and `keychain`, resolving names with the system resolver.
    pub fn new(db: Database, keychain: Keychain) -> Self {
        Self::with_resolver(db, keychain, Arc::new(SystemResolver))
    }

    /// A registry with another resolver (tests make names resolve where they need).
    pub fn with_resolver(
        db: Database,
        keychain: Keychain,
        resolver: Arc<dyn NameResolver>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                keychain,
                resolver,
                writes: tokio::sync::Mutex::new(()),
                clients: Mutex::new(HashMap::new()),
                namespace: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// The database.
    pub fn db(&self) -> &Database {
        &self.inner.db
    }

    /// The keychain secrets go to.
    pub fn keychain(&self) -> &Keychain {
        &self.inner.keychain
    }

    /// The resolver names are checked with.
    pub fn resolver(&self) -> Arc<dyn NameResolver> {
        self.inner.resolver.clone()
    }

    /// The namespace of this database's keychain handles (read once).
    pub async fn keychain_namespace(&self) -> Result<String, RegistryError> {
        self.inner
            .namespace
            .get_or_try_init(|| store::keychain_namespace(self.inner.db.pool()))
            .await
            .cloned()
    }

    /// Every provider, ordered by id.
    pub async fn list(&self) -> Result<Vec<ProviderRecord>, RegistryError> {
        store::list(self.inner.db.pool()).await
    }

    /// The provider's revision: milliseconds of its last change, which every edit and key change
    /// moves forward. What caches of anything built from the record compare.
    pub async fn revision(&self, provider_id: &str) -> Result<i64, RegistryError> {
        store::revision(self.inner.db.pool(), provider_id)
            .await?
            .ok_or_else(|| RegistryError::NotFound {
                id: provider_id.to_owned(),
            })
    }

    /// One provider.
    pub async fn get(&self, provider_id: &str) -> Result<ProviderRecord, RegistryError> {
        store::get(self.inner.db.pool(), provider_id)
            .await?
            .ok_or_else(|| RegistryError::NotFound {
                id: provider_id.to_owned(),
            })
    }

    /// Registers a provider: validates every field, checks the base_url against the tier,
    /// stores the key and secret headers in the keychain, then the record in the database.
    pub async fn add(&self, new: NewProvider) -> Result<ProviderRecord, RegistryError> {
        validate::provider_id(&new.provider_id)?;
        let display_name = validate::display_name(&new.display_name)?;
        let default_model = validate::default_model(new.default_model.as_deref())?;
        validate::timeouts(&new.timeouts)?;
        let base_url = validate::url(ProviderField::BaseUrl, &new.base_url)?;
        let proxy_url = new
            .proxy_url
            .as_deref()
            .map(|p| validate::url(ProviderField::ProxyUrl, p))
            .transpose()?;
        let api_key = new.api_key.as_ref().map(validate::api_key).transpose()?;
        let namespace = self.keychain_namespace().await?;
        let CheckedHeaders {
            headers,
            secrets: header_secrets,
        } = validate::headers(&namespace, &new.provider_id, &new.extra_headers, &[])?;
        self.check_egress(new.tier, &base_url, proxy_url.as_ref(), &new.timeouts)
            .await?;

        let _writes = self.inner.writes.lock().await;
        // Checked before touching the keychain, or a duplicate would overwrite the existing
        // provider's key. The insert below re-checks (unique constraint).
        if store::exists(self.inner.db.pool(), &new.provider_id).await? {
            return Err(RegistryError::DuplicateId {
                id: new.provider_id,
            });
        }
        let mut secrets = header_secrets;
        let secret_handle = api_key.map(|key| {
            let handle = api_key_handle(&namespace, &new.provider_id);
            secrets.push((handle.clone(), key));
            handle
        });
        let now = store::now();
        let record = ProviderRecord {
            provider_id: new.provider_id,
            display_name,
            kind: new.kind,
            tier: new.tier,
            base_url: base_url.to_string(),
            secret_handle,
            default_model,
            extra_headers: headers,
            timeouts: new.timeouts,
            openai: new.openai,
            proxy_url: proxy_url.map(|u| u.to_string()),
            created_at: now,
            updated_at: now,
        };
        let written = self.store_secrets(secrets).await?;
        if let Err(e) = self.insert(&record).await {
            self.forget_secrets(written).await;
            return Err(e);
        }
        tracing::info!(provider_id = %record.provider_id, kind = %record.kind, tier = %record.tier, "provider added");
        Ok(record)
    }

    /// Changes a provider. The base_url (and proxy) are re-checked against the (new) tier; secret
    /// headers no longer listed are deleted from the keychain.
    pub async fn update(
        &self,
        provider_id: &str,
        update: ProviderUpdate,
    ) -> Result<ProviderRecord, RegistryError> {
        let _writes = self.inner.writes.lock().await;
        let current = self.get(provider_id).await?;
        let mut next = current.clone();
        if let Some(name) = &update.display_name {
            next.display_name = validate::display_name(name)?;
        }
        if let Some(kind) = update.kind {
            next.kind = kind;
        }
        if let Some(tier) = update.tier {
            next.tier = tier;
        }
        if let Some(model) = &update.default_model {
            next.default_model = validate::default_model(model.as_deref())?;
        }
        if let Some(timeouts) = update.timeouts {
            validate::timeouts(&timeouts)?;
            next.timeouts = timeouts;
        }
        if let Some(openai) = update.openai {
            next.openai = openai;
        }
        let base_url = match &update.base_url {
            Some(raw) => validate::url(ProviderField::BaseUrl, raw)?,
            None => stored_url(&current, &current.base_url)?,
        };
        next.base_url = base_url.to_string();
        let proxy_url = match &update.proxy_url {
            Some(Some(raw)) => Some(validate::url(ProviderField::ProxyUrl, raw)?),
            Some(None) => None,
            None => current
                .proxy_url
                .as_deref()
                .map(|p| stored_url(&current, p))
                .transpose()?,
        };
        next.proxy_url = proxy_url.as_ref().map(Url::to_string);
        let mut new_secrets = Vec::new();
        if let Some(inputs) = &update.extra_headers {
            let namespace = self.keychain_namespace().await?;
            let checked =
                validate::headers(&namespace, provider_id, inputs, &current.extra_headers)?;
            next.extra_headers = checked.headers;
            new_secrets = checked.secrets;
        }
        self.check_egress(next.tier, &base_url, proxy_url.as_ref(), &next.timeouts)
            .await?;

        let kept: Vec<SecretHandle> = next.secret_handles();
        let dropped: Vec<SecretHandle> = current
            .secret_handles()
            .into_iter()
            .filter(|h| !kept.contains(h))
            .collect();
        next.updated_at = store::now().max(current.updated_at + chrono::Duration::milliseconds(1));
        self.store_secrets(new_secrets).await?;
        let mut tx = self.inner.db.pool().begin().await?;
        store::update(&mut tx, &next).await?;
        tx.commit().await?;
        self.invalidate(provider_id);
        for handle in dropped {
            if let Err(e) = self.keychain_delete(handle.clone()).await {
                tracing::warn!(provider_id, handle = %handle, error = %e, "could not delete a secret no longer used");
            }
        }
        tracing::info!(provider_id, tier = %next.tier, "provider updated");
        Ok(next)
    }

    /// Removes a provider and deletes its secrets from the keychain (first: if the keychain
    /// refuses, the provider stays, so no secret is left without an owner).
    pub async fn remove(&self, provider_id: &str) -> Result<(), RegistryError> {
        let _writes = self.inner.writes.lock().await;
        let current = self.get(provider_id).await?;
        for handle in current.secret_handles() {
            self.keychain_delete(handle).await?;
        }
        if !store::delete(self.inner.db.pool(), provider_id).await? {
            return Err(RegistryError::NotFound {
                id: provider_id.to_owned(),
            });
        }
        self.invalidate(provider_id);
        tracing::info!(provider_id, "provider removed");
        Ok(())
    }

    /// Stores (or replaces) the provider's API key in the keychain.
    pub async fn set_key(
        &self,
        provider_id: &str,
        key: SecretString,
    ) -> Result<ProviderRecord, RegistryError> {
        self.put_key(provider_id, key, false).await
    }

    /// Replaces the provider's API key; fails with [`RegistryError::NoKeyToRotate`] when it has
    /// none.
    pub async fn rotate_key(
        &self,
        provider_id: &str,
        key: SecretString,
    ) -> Result<ProviderRecord, RegistryError> {
        self.put_key(provider_id, key, true).await
    }

    async fn put_key(
        &self,
        provider_id: &str,
        key: SecretString,
        rotate: bool,
    ) -> Result<ProviderRecord, RegistryError> {
        let key = validate::api_key(&key)?;
        let _writes = self.inner.writes.lock().await;
        let mut record = self.get(provider_id).await?;
        if rotate && record.secret_handle.is_none() {
            return Err(RegistryError::NoKeyToRotate {
                provider_id: provider_id.to_owned(),
            });
        }
        let handle = api_key_handle(&self.keychain_namespace().await?, provider_id);
        self.keychain_set(handle.clone(), key).await?;
        record.secret_handle = Some(handle);
        record.updated_at = store::now().max(record.updated_at + chrono::Duration::milliseconds(1));
        let mut tx = self.inner.db.pool().begin().await?;
        store::update(&mut tx, &record).await?;
        tx.commit().await?;
        tracing::info!(
            provider_id,
            rotated = rotate,
            "api key stored in the keychain"
        );
        Ok(record)
    }

    /// Deletes the provider's API key from the keychain; the provider becomes keyless.
    pub async fn delete_key(&self, provider_id: &str) -> Result<ProviderRecord, RegistryError> {
        let _writes = self.inner.writes.lock().await;
        let mut record = self.get(provider_id).await?;
        let Some(handle) = record.secret_handle.take() else {
            return Ok(record);
        };
        self.keychain_delete(handle).await?;
        record.updated_at = store::now().max(record.updated_at + chrono::Duration::milliseconds(1));
        let mut tx = self.inner.db.pool().begin().await?;
        store::update(&mut tx, &record).await?;
        tx.commit().await?;
        tracing::info!(provider_id, "api key deleted from the keychain");
        Ok(record)
    }

    /// Whether each secret the provider names is in the keychain.
    pub async fn secret_status(&self, provider_id: &str) -> Result<SecretStatus, RegistryError> {
        let record = self.get(provider_id).await?;
        let api_key = match &record.secret_handle {
            None => SecretState::NotSet,
            Some(handle) => self.secret_state(handle.clone()).await?,
        };
        let mut headers = Vec::new();
        for header in &record.extra_headers {
            if let ExtraHeaderValue::Secret { handle } = &header.value {
                headers.push((
                    header.name.clone(),
                    self.secret_state(handle.clone()).await?,
                ));
            }
        }
        Ok(SecretStatus { api_key, headers })
    }

    /// Everything an adapter needs to call the provider: its egress-checked client (cached per
    /// provider), base_url, options, and its key and headers read from the keychain now.
    pub async fn endpoint(&self, provider_id: &str) -> Result<ProviderEndpoint, RegistryError> {
        let record = self.get(provider_id).await?;
        let base_url = stored_url(&record, &record.base_url)?;
        let http = self.client_for(&record, &base_url)?;
        let api_key = match &record.secret_handle {
            Some(handle) => Some(self.read_secret(provider_id, handle).await?),
            None => None,
        };
        let mut extra_headers = Vec::with_capacity(record.extra_headers.len());
        for header in &record.extra_headers {
            let value = match &header.value {
                ExtraHeaderValue::Plain { value } => SecretString::from(value.clone()),
                ExtraHeaderValue::Secret { handle } => {
                    self.read_secret(provider_id, handle).await?
                }
            };
            extra_headers.push((header.name.clone(), value));
        }
        Ok(ProviderEndpoint {
            kind: record.kind,
            revision: record.updated_at.timestamp_millis(),
            wire: WireConfig {
                provider_id: record.provider_id,
                tier: record.tier,
                base_url,
                api_key,
                extra_headers,
                timeouts: record.timeouts,
                openai: record.openai,
                http,
            },
        })
    }

    fn client_for(
        &self,
        record: &ProviderRecord,
        base_url: &Url,
    ) -> Result<reqwest::Client, RegistryError> {
        let mut clients = self
            .inner
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(cached) = clients.get(&record.provider_id) {
            if cached.updated_at == record.updated_at {
                return Ok(cached.client.clone());
            }
        }
        let spec = egress::ClientSpec {
            tier: record.tier,
            base_url: base_url.clone(),
            proxy_url: record
                .proxy_url
                .as_deref()
                .map(|p| stored_url(record, p))
                .transpose()?,
            connect_timeout: Duration::from_millis(record.timeouts.connect_ms),
            resolver: self.inner.resolver.clone(),
        };
        let client = egress::build_client(&spec)
            .map_err(|e| RegistryError::from_egress(ProviderField::BaseUrl, e))?;
        clients.insert(
            record.provider_id.clone(),
            CachedClient {
                updated_at: record.updated_at,
                client: client.clone(),
            },
        );
        Ok(client)
    }

    /// Serialises writes (adds, updates, removals, key changes, imports).
    pub(super) async fn lock_writes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.inner.writes.lock().await
    }

    pub(super) fn invalidate(&self, provider_id: &str) {
        let mut clients = self
            .inner
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        clients.remove(provider_id);
    }

    /// Checks the base_url (and proxy) against the tier the way the client will at connect
    /// time. A name that does not resolve now (offline, a LAN server that is off) is accepted:
    /// the client checks it again on every connection.
    pub(super) async fn check_egress(
        &self,
        tier: ProviderTier,
        base_url: &Url,
        proxy_url: Option<&Url>,
        timeouts: &Timeouts,
    ) -> Result<(), RegistryError> {
        let timeout = Duration::from_millis(timeouts.connect_ms);
        let resolver = self.inner.resolver.as_ref();
        if let Some(proxy) = proxy_url {
            match egress::preflight_proxy(proxy, resolver, timeout).await {
                Ok(_) => {}
                Err(EgressError::Resolve { host, .. }) => {
                    tracing::warn!(host = %host, "proxy host does not resolve now; it is checked again on connect");
                }
                Err(e) => return Err(RegistryError::from_egress(ProviderField::ProxyUrl, e)),
            }
        }
        match egress::preflight(tier, base_url, resolver, timeout).await {
            Ok(_) => Ok(()),
            Err(EgressError::Resolve { host, .. }) => {
                tracing::warn!(host = %host, "base_url host does not resolve now; it is checked again on connect");
                Ok(())
            }
            Err(e) => Err(RegistryError::from_egress(ProviderField::BaseUrl, e)),
        }
    }

    pub(super) async fn insert(&self, record: &ProviderRecord) -> Result<(), RegistryError> {
        let mut tx = self.inner.db.pool().begin().await?;
        store::insert(&mut tx, record).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes secrets; on failure deletes those already written. Returns the handles written.
    async fn store_secrets(
        &self,
        secrets: Vec<(SecretHandle, SecretString)>,
    ) -> Result<Vec<SecretHandle>, RegistryError> {
        let mut written = Vec::new();
        for (handle, secret) in secrets {
            if let Err(e) = self.keychain_set(handle.clone(), secret).await {
                self.forget_secrets(written).await;
                return Err(e.into());
            }
            written.push(handle);
        }
        Ok(written)
    }

    /// Best-effort deletion (rolling back a failed write).
    pub(super) async fn forget_secrets(&self, handles: Vec<SecretHandle>) {
        for handle in handles {
            if let Err(e) = self.keychain_delete(handle.clone()).await {
                tracing::warn!(handle = %handle, error = %e, "could not roll back a keychain entry");
            }
        }
    }

    async fn read_secret(
        &self,
        provider_id: &str,
        handle: &SecretHandle,
    ) -> Result<SecretString, RegistryError> {
        let keychain = self.inner.keychain.clone();
        let h = handle.clone();
        match run_blocking(move || keychain.get(&h)).await {
            Ok(secret) => Ok(secret),
            Err(SecretsError::NotFound { .. }) => Err(RegistryError::MissingSecret {
                provider_id: provider_id.to_owned(),
                handle: handle.clone(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    async fn secret_state(&self, handle: SecretHandle) -> Result<SecretState, RegistryError> {
        let keychain = self.inner.keychain.clone();
        let present = run_blocking(move || keychain.contains(&handle)).await?;
        Ok(if present {
            SecretState::Stored
        } else {
            SecretState::Missing
        })
    }

    async fn keychain_set(
        &self,
        handle: SecretHandle,
        secret: SecretString,
    ) -> Result<(), SecretsError> {
        let keychain = self.inner.keychain.clone();
        run_blocking(move || keychain.set(&handle, &secret)).await
    }

    pub(super) async fn keychain_delete(&self, handle: SecretHandle) -> Result<(), SecretsError> {
        let keychain = self.inner.keychain.clone();
        run_blocking(move || keychain.delete(&handle)).await
    }
}

/// Runs a blocking keychain call off the async executor.
async fn run_blocking<T, F>(f: F) -> Result<T, SecretsError>
where
    F: FnOnce() -> Result<T, SecretsError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SecretsError::Unavailable {
            detail: format!("keychain task failed: {e}"),
        })?
}

fn stored_url(record: &ProviderRecord, raw: &str) -> Result<Url, RegistryError> {
    Url::parse(raw).map_err(|e| RegistryError::Corrupt {
        provider_id: record.provider_id.clone(),
        reason: format!("stored URL does not parse: {e}"),
    })
}

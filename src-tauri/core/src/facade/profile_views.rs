//! What the Work Profiles screen reads and how it saves, on top of [`super::profiles`]:
//!
//! - [`Handshake::profile_versions`]: every profile with its parent, its children (the versions
//!   made from it), whether it is active and which jobs used it.
//! - [`Handshake::check_profile_draft`]: validates a draft against the registered providers
//!   without saving it (every problem at its field path), for messages as the user types.
//! - [`Handshake::save_profile_edit`]: saves an edit as a new version (always; stored profiles
//!   never change), says whether it was because jobs used the edited profile, and moves the active
//!   profile to the new version when the edited one was active.
//! - [`Handshake::model_catalog`]: per registered provider its tier and the models it lists now
//!   (each with its effective tier), for the model pickers; a provider that cannot be reached is
//!   listed with the reason and no models.

use std::time::Duration;

use serde::Serialize;

use crate::profiles::{
    effective_tier, parse_profile_json, ModelId, ProfileCreated, ProfileError, WorkProfile,
};
use crate::registry::{ProviderKind, ProviderRecord, ProviderTier};

use super::catalog::RegistryCatalog;
use super::error::FacadeError;
use super::recording::checked_ident;
use super::Handshake;

/// How long the catalog waits for one provider's model list.
const MODEL_LIST_TIMEOUT: Duration = Duration::from_secs(5);

/// A profile in the list, with its version links and usage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ProfileVersionEntry {
    pub profile_id: String,
    pub name: String,
    /// The profile this one is a new version of.
    pub parent_profile_id: Option<String>,
    /// The versions made from this one, oldest first.
    pub child_profile_ids: Vec<String>,
    pub created_at: String,
    pub active: bool,
    /// Jobs that pinned this profile, in the order they started. A used profile never changes.
    pub used_by_jobs: Vec<String>,
}

/// What saving an edit did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ProfileSaved {
    /// The new version (its id, parent and name).
    pub created: ProfileCreated,
    /// True when the edited profile was used by jobs, so it could not change and the edit became
    /// a new version for that reason.
    pub new_version_because_used: bool,
    /// Jobs that used the edited profile (they keep it).
    #[ts(type = "number")]
    pub parent_job_count: u64,
    /// True when the edited profile was active and the new version was activated in its place.
    pub activated: bool,
}

/// One model a provider lists now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct CatalogModel {
    /// `<provider_id>/<name>`, as profiles name it.
    pub model_id: String,
    pub name: String,
    /// Where its bytes go: the provider's tier, or cloud for an Ollama cloud tag.
    pub tier: ProviderTier,
}

/// A registered provider and the models it lists, for the model pickers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct CatalogProvider {
    pub provider_id: String,
    pub display_name: String,
    pub kind: ProviderKind,
    pub tier: ProviderTier,
    /// The provider's default model, as a full model id.
    pub default_model_id: Option<String>,
    pub models: Vec<CatalogModel>,
    /// Why the models could not be listed (the provider is still usable by typing a model id).
    pub models_error: Option<String>,
}

/// Adds each profile's children from the parent links of `profiles` (in list order).
fn with_children(profiles: Vec<crate::profiles::ProfileSummary>) -> Vec<ProfileVersionEntry> {
    let links: Vec<(String, Option<String>)> = profiles
        .iter()
        .map(|p| (p.profile_id.clone(), p.parent_profile_id.clone()))
        .collect();
    profiles
        .into_iter()
        .map(|p| ProfileVersionEntry {
            child_profile_ids: links
                .iter()
                .filter(|(_, parent)| parent.as_deref() == Some(p.profile_id.as_str()))
                .map(|(id, _)| id.clone())
                .collect(),
            profile_id: p.profile_id,
            name: p.name,
            parent_profile_id: p.parent_profile_id,
            created_at: p.created_at,
            active: p.active,
            used_by_jobs: p.used_by_jobs,
        })
        .collect()
}

fn catalog_models(
    catalog: &RegistryCatalog,
    provider_id: &str,
    names: Vec<String>,
) -> Vec<CatalogModel> {
    names
        .into_iter()
        .filter_map(|name| {
            let model_id = format!("{provider_id}/{name}");
            let tier = effective_tier(catalog, &ModelId::parse(&model_id).ok()?).ok()?;
            Some(CatalogModel {
                model_id,
                name,
                tier,
            })
        })
        .collect()
}

impl Handshake {
    /// Every profile in the order it was stored, with parents, children, the active flag and the
    /// jobs that used it.
    pub async fn profile_versions(&self) -> Result<Vec<ProfileVersionEntry>, FacadeError> {
        Ok(with_children(self.profiles().list().await?))
    }

    /// Validates a draft without saving it. `editing` names the profile being edited (its id may
    /// repeat in the draft: the saved version gets a fresh one); for a new profile the id must
    /// be free and usable as an id.
    pub async fn check_profile_draft(
        &self,
        json: &str,
        editing: Option<&str>,
    ) -> Result<WorkProfile, FacadeError> {
        let catalog = self.catalog().await?;
        let profile = parse_profile_json(json, &catalog).map_err(ProfileError::from)?;
        if editing != Some(profile.profile_id.as_str()) {
            checked_ident("profile_id", &profile.profile_id)?;
            match self.profiles().get(&profile.profile_id).await {
                Ok(_) => {
                    return Err(ProfileError::IdTaken {
                        profile_id: profile.profile_id,
                    }
                    .into())
                }
                Err(ProfileError::NotFound { .. }) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Ok(profile)
    }

    /// Saves an edited body of `profile_id` as a new version (FR-EVT-PROFILE-001), whether or not
    /// jobs used it, and activates the new version when `profile_id` was active.
    pub async fn save_profile_edit(
        &self,
        profile_id: &str,
        json: &str,
    ) -> Result<ProfileSaved, FacadeError> {
        let parent = self.profiles().get(profile_id).await?;
        let created = self.edit_profile(profile_id, json, true).await?;
        let activated = if parent.active {
            self.activate_profile(&created.profile_id).await?;
            true
        } else {
            false
        };
        let parent_job_count = u64::try_from(parent.used_by_jobs.len()).unwrap_or(u64::MAX);
        Ok(ProfileSaved {
            created,
            new_version_because_used: parent_job_count > 0,
            parent_job_count,
            activated,
        })
    }

    /// Every registered provider with its tier and the models it lists now (asked concurrently,
    /// each within a few seconds), for the profile editor's model pickers.
    pub async fn model_catalog(&self) -> Result<Vec<CatalogProvider>, FacadeError> {
        let catalog = self.catalog().await?;
        let providers = self.registry().list().await?;
        let lists = futures::future::join_all(providers.iter().map(|p| async move {
            let listed = tokio::time::timeout(
                MODEL_LIST_TIMEOUT,
                self.registry().list_models(&p.provider_id),
            )
            .await;
            match listed {
                Ok(Ok(models)) => Ok(models.into_iter().map(|m| m.name).collect::<Vec<_>>()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!(
                    "the model list did not arrive within {} s",
                    MODEL_LIST_TIMEOUT.as_secs()
                )),
            }
        }))
        .await;
        Ok(providers
            .into_iter()
            .zip(lists)
            .map(|(p, listed)| catalog_provider(&catalog, p, listed))
            .collect())
    }
}

fn catalog_provider(
    catalog: &RegistryCatalog,
    p: ProviderRecord,
    listed: Result<Vec<String>, String>,
) -> CatalogProvider {
    let (models, models_error) = match listed {
        Ok(names) => (catalog_models(catalog, &p.provider_id, names), None),
        Err(e) => (Vec::new(), Some(e)),
    };
    CatalogProvider {
        default_model_id: p
            .default_model
            .as_deref()
            .map(|m| format!("{}/{m}", p.provider_id)),
        provider_id: p.provider_id,
        display_name: p.display_name,
        kind: p.kind,
        tier: p.tier,
        models,
        models_error,
    }
}

#[cfg(test)]
#[path = "profile_views_tests.rs"]
mod tests;

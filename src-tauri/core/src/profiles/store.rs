//! Stored Work Profiles: create, import, edit (always as a new version), list, get, export and
//! the workspace's active profile (setting `active_profile_id`).
//!
//! Guarantees: a stored profile never changes (the table refuses UPDATE, and no method offers one);
//! an edit creates a new `profile_id` whose parent is the edited one; editing a profile a job
//! already used is refused with [`ProfileError::InUse`] so the UI can ask before saving a new
//! version ([`ProfileStore::save_as_new_version`]). Every body is validated before it is stored.
//! Each change returns the facts of its Flight Recorder event (FR-EVT-PROFILE-001).

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Row, SqlitePool};

use super::catalog::ModelCatalog;
use super::schema::WorkProfile;
use super::validate::{parse_profile_json, validate_profile, ValidationErrors};
use crate::db::Database;

/// Flight Recorder event id of a profile change (created, or the active one switched).
pub const FR_EVT_PROFILE_CHANGED: &str = "FR-EVT-PROFILE-001";

/// The settings key holding the active profile's id.
pub const ACTIVE_PROFILE_SETTING: &str = "active_profile_id";

/// Why a profile operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("no Work Profile `{profile_id}`")]
    NotFound { profile_id: String },
    #[error("a Work Profile `{profile_id}` already exists; import it under another profile_id or save it as a new version")]
    IdTaken { profile_id: String },
    #[error("Work Profile `{profile_id}` was used by {job_count} job(s) and can no longer change; save the edit as a new version instead")]
    InUse { profile_id: String, job_count: u64 },
    #[error("the stored body of Work Profile `{profile_id}` cannot be read: {message}")]
    CorruptBody { profile_id: String, message: String },
    #[error("cannot serialize the Work Profile: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl ProfileError {
    /// A stable, machine-readable name for the variant (for the UI's `{code, message}`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid",
            Self::NotFound { .. } => "not_found",
            Self::IdTaken { .. } => "id_taken",
            Self::InUse { .. } => "in_use",
            Self::CorruptBody { .. } => "corrupt_body",
            Self::Serialize(_) => "serialize",
            Self::Db(_) => "database",
        }
    }
}

/// Facts of FR-EVT-PROFILE-001 when a profile was created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ProfileCreated {
    pub profile_id: String,
    /// The profile this one is a new version of.
    pub parent_profile_id: Option<String>,
    pub name: String,
    /// SHA-256 of the stored canonical JSON.
    pub body_sha256: String,
}

/// Facts of FR-EVT-PROFILE-001 when the active profile was switched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ProfileActivated {
    pub profile_id: String,
    pub previous: Option<String>,
}

/// One stored profile with what the store keeps beside the spec body.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct StoredProfile {
    pub profile: WorkProfile,
    pub parent_profile_id: Option<String>,
    pub created_at: String,
    pub body_sha256: String,
    pub active: bool,
    /// Jobs that pinned this profile, in the order they started.
    pub used_by_jobs: Vec<String>,
}

/// A row of the profile list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ProfileSummary {
    pub profile_id: String,
    pub name: String,
    pub parent_profile_id: Option<String>,
    pub created_at: String,
    pub active: bool,
    pub used_by_jobs: Vec<String>,
}

/// A fresh profile id (`wp-` and a time-ordered UUID).
pub fn new_profile_id() -> String {
    format!("wp-{}", uuid::Uuid::now_v7())
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The Work Profiles of one database.
#[derive(Clone, Debug)]
pub struct ProfileStore {
    pool: SqlitePool,
}

impl ProfileStore {
    /// The profiles of `db`.
    pub fn new(db: &Database) -> Self {
        Self {
            pool: db.pool().clone(),
        }
    }

    /// Stores a new profile under its own `profile_id`, with no parent.
    pub async fn create(
        &self,
        profile: WorkProfile,
        catalog: &dyn ModelCatalog,
    ) -> Result<ProfileCreated, ProfileError> {
        validate_profile(&profile, catalog)?;
        self.insert(&profile, None).await
    }

    /// Imports a profile from its JSON text under the `profile_id` it names. An existing id is
    /// refused ([`ProfileError::InUse`] when a job used it, else [`ProfileError::IdTaken`]).
    pub async fn import_json(
        &self,
        text: &str,
        catalog: &dyn ModelCatalog,
    ) -> Result<ProfileCreated, ProfileError> {
        let profile = parse_profile_json(text, catalog)?;
        match self.insert(&profile, None).await {
            // Importing over a used profile is an in-place edit of it: say so.
            Err(ProfileError::IdTaken { profile_id }) => {
                let job_count = self.job_count(&profile_id).await?;
                if job_count > 0 {
                    Err(ProfileError::InUse {
                        profile_id,
                        job_count,
                    })
                } else {
                    Err(ProfileError::IdTaken { profile_id })
                }
            }
            other => other,
        }
    }

    /// Edits a profile that no job used yet: the edit becomes a new version (a new `profile_id`,
    /// parent `profile_id`). A profile a job used is refused with [`ProfileError::InUse`].
    pub async fn edit(
        &self,
        profile_id: &str,
        edited: WorkProfile,
        catalog: &dyn ModelCatalog,
    ) -> Result<ProfileCreated, ProfileError> {
        self.require(profile_id).await?;
        let job_count = self.job_count(profile_id).await?;
        if job_count > 0 {
            return Err(ProfileError::InUse {
                profile_id: profile_id.to_owned(),
                job_count,
            });
        }
        self.save_as_new_version(profile_id, edited, catalog).await
    }

    /// Saves `edited` as a new version of `parent_id`, used or not. The new version takes the
    /// `profile_id` written in `edited` when it is a new id, else a fresh one.
    pub async fn save_as_new_version(
        &self,
        parent_id: &str,
        mut edited: WorkProfile,
        catalog: &dyn ModelCatalog,
    ) -> Result<ProfileCreated, ProfileError> {
        self.require(parent_id).await?;
        if edited.profile_id.trim().is_empty() || edited.profile_id == parent_id {
            edited.profile_id = new_profile_id();
        }
        validate_profile(&edited, catalog)?;
        self.insert(&edited, Some(parent_id)).await
    }

    async fn insert(
        &self,
        profile: &WorkProfile,
        parent: Option<&str>,
    ) -> Result<ProfileCreated, ProfileError> {
        let body = profile.to_json()?;
        let body_sha256 = sha256_hex(body.as_bytes());
        let inserted = sqlx::query(
            "INSERT INTO work_profiles (profile_id, parent_profile_id, name, body, body_sha256, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&profile.profile_id)
        .bind(parent)
        .bind(&profile.name)
        .bind(&body)
        .bind(&body_sha256)
        .bind(now())
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(ProfileCreated {
                profile_id: profile.profile_id.clone(),
                parent_profile_id: parent.map(str::to_owned),
                name: profile.name.clone(),
                body_sha256,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(ProfileError::IdTaken {
                    profile_id: profile.profile_id.clone(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn require(&self, profile_id: &str) -> Result<(), ProfileError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM work_profiles WHERE profile_id = ?")
                .bind(profile_id)
                .fetch_optional(&self.pool)
                .await?;
        match found {
            Some(_) => Ok(()),
            None => Err(ProfileError::NotFound {
                profile_id: profile_id.to_owned(),
            }),
        }
    }

    async fn job_count(&self, profile_id: &str) -> Result<u64, ProfileError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE profile_id = ?")
            .bind(profile_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn jobs_of(&self, profile_id: &str) -> Result<Vec<String>, ProfileError> {
        Ok(
            sqlx::query_scalar("SELECT job_id FROM jobs WHERE profile_id = ? ORDER BY rowid")
                .bind(profile_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// One profile, its lineage columns and the jobs that used it.
    pub async fn get(&self, profile_id: &str) -> Result<StoredProfile, ProfileError> {
        let row = sqlx::query(
            "SELECT body, parent_profile_id, created_at, body_sha256 FROM work_profiles WHERE profile_id = ?",
        )
        .bind(profile_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| ProfileError::NotFound { profile_id: profile_id.to_owned() })?;
        let body: String = row.try_get("body")?;
        let profile = serde_json::from_str(&body).map_err(|e| ProfileError::CorruptBody {
            profile_id: profile_id.to_owned(),
            message: e.to_string(),
        })?;
        let active = self.active_profile_id().await?.as_deref() == Some(profile_id);
        Ok(StoredProfile {
            profile,
            parent_profile_id: row.try_get("parent_profile_id")?,
            created_at: row.try_get("created_at")?,
            body_sha256: row.try_get("body_sha256")?,
            active,
            used_by_jobs: self.jobs_of(profile_id).await?,
        })
    }

    /// The canonical JSON of a profile, exactly as stored (re-importable elsewhere).
    pub async fn export_json(&self, profile_id: &str) -> Result<String, ProfileError> {
        sqlx::query_scalar("SELECT body FROM work_profiles WHERE profile_id = ?")
            .bind(profile_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| ProfileError::NotFound {
                profile_id: profile_id.to_owned(),
            })
    }

    /// Every profile in the order it was stored, with parents, the active flag and the jobs that used it.
    pub async fn list(&self) -> Result<Vec<ProfileSummary>, ProfileError> {
        let active = self.active_profile_id().await?;
        let rows = sqlx::query(
            "SELECT profile_id, name, parent_profile_id, created_at FROM work_profiles \
             ORDER BY rowid",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let profile_id: String = row.try_get("profile_id")?;
            out.push(ProfileSummary {
                active: active.as_deref() == Some(profile_id.as_str()),
                used_by_jobs: self.jobs_of(&profile_id).await?,
                name: row.try_get("name")?,
                parent_profile_id: row.try_get("parent_profile_id")?,
                created_at: row.try_get("created_at")?,
                profile_id,
            });
        }
        Ok(out)
    }

    /// The versions a profile descends from: itself, its parent, its grandparent, ...
    pub async fn lineage(&self, profile_id: &str) -> Result<Vec<String>, ProfileError> {
        self.require(profile_id).await?;
        Ok(sqlx::query_scalar(
            "WITH RECURSIVE up(id, parent, depth) AS ( \
               SELECT profile_id, parent_profile_id, 0 FROM work_profiles WHERE profile_id = ? \
               UNION ALL \
               SELECT p.profile_id, p.parent_profile_id, up.depth + 1 \
               FROM work_profiles p JOIN up ON p.profile_id = up.parent) \
             SELECT id FROM up ORDER BY depth",
        )
        .bind(profile_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Makes `profile_id` the workspace's active profile. Jobs already started keep theirs.
    pub async fn activate(&self, profile_id: &str) -> Result<ProfileActivated, ProfileError> {
        // IMMEDIATE: two concurrent switches each report the previous value they replaced.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM work_profiles WHERE profile_id = ?")
                .bind(profile_id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(ProfileError::NotFound {
                profile_id: profile_id.to_owned(),
            });
        }
        let previous: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
                .bind(ACTIVE_PROFILE_SETTING)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(ACTIVE_PROFILE_SETTING)
        .bind(profile_id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ProfileActivated {
            profile_id: profile_id.to_owned(),
            previous,
        })
    }

    /// The active profile's id, if one was ever activated.
    pub async fn active_profile_id(&self) -> Result<Option<String>, ProfileError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
                .bind(ACTIVE_PROFILE_SETTING)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;

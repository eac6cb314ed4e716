//! Jobs and the profile each one pinned.
//!
//! Guarantees: a job records the profile active at the instant it started (read and written in
//! one SQL statement, so a concurrent switch lands either before or after, never half-way); the
//! pinned profile never changes (the table refuses it), so switching the active profile later
//! never alters a started job. A job counts its cloud escalations with an atomic reservation
//! ([`JobStore::try_reserve_cloud_escalation`]) that concurrent callers cannot push past the cap.

use serde::{Deserialize, Serialize};
use sqlx::{Row, SqlitePool};

use super::schema::WorkProfile;
use super::store::{now, ProfileError, ProfileStore, ACTIVE_PROFILE_SETTING};
use crate::db::Database;

/// Flight Recorder event id of a job pinning its profile.
pub const FR_EVT_JOB_PINNED_PROFILE: &str = "FR-EVT-PROFILE-002";

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::Running,
            Self::Succeeded,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// Why a job operation failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("no Work Profile is active; activate one before starting a job")]
    NoActiveProfile,
    #[error("no job `{job_id}`")]
    NotFound { job_id: String },
    #[error("job `{job_id}` is {status:?}, not running")]
    NotRunning { job_id: String, status: JobStatus },
    #[error("job `{job_id}` reached its cap of {cap} cloud escalation(s)")]
    CapReached { job_id: String, cap: u32 },
    #[error("Work Profile `{profile_id}` of job `{job_id}` does not allow cloud escalation")]
    CloudEscalationDisabled { job_id: String, profile_id: String },
    #[error("job `{job_id}` has an unknown status `{status}` in the database")]
    CorruptStatus { job_id: String, status: String },
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl JobError {
    /// A stable, machine-readable name for the variant (for the UI's `{code, message}`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoActiveProfile => "no_active_profile",
            Self::NotFound { .. } => "not_found",
            Self::NotRunning { .. } => "not_running",
            Self::CapReached { .. } => "cap_reached",
            Self::CloudEscalationDisabled { .. } => "cloud_escalation_disabled",
            Self::CorruptStatus { .. } => "corrupt_status",
            Self::Profile(e) => e.code(),
            Self::Db(_) => "database",
        }
    }
}

/// Facts of FR-EVT-PROFILE-002: a job started and pinned its profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct JobStarted {
    pub job_id: String,
    pub profile_id: String,
    pub started_at: String,
}

/// A stored job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct JobRecord {
    pub job_id: String,
    pub profile_id: String,
    pub started_at: String,
    pub status: JobStatus,
    pub finished_at: Option<String>,
    pub cloud_escalations: u32,
}

/// The jobs of one database.
#[derive(Clone, Debug)]
pub struct JobStore {
    pool: SqlitePool,
    profiles: ProfileStore,
}

impl JobStore {
    /// The jobs of `db`.
    pub fn new(db: &Database) -> Self {
        Self {
            pool: db.pool().clone(),
            profiles: ProfileStore::new(db),
        }
    }

    /// Starts a job pinned to the profile active right now.
    pub async fn start_job(&self) -> Result<JobStarted, JobError> {
        const FROM_ACTIVE: &str = "INSERT INTO jobs (job_id, profile_id, started_at, status, \
             cloud_escalations) SELECT ?, value, ?, 'running', 0 FROM settings WHERE key = ? \
             RETURNING profile_id";
        self.insert_job(FROM_ACTIVE, ACTIVE_PROFILE_SETTING)
            .await?
            .ok_or(JobError::NoActiveProfile)
    }

    /// Starts a job pinned to `profile_id`, leaving the active profile as it is: a run on a chosen
    /// profile never activates it behind the person's back. `ProfileError::NotFound` when no such
    /// profile is stored.
    pub async fn start_job_on(&self, profile_id: &str) -> Result<JobStarted, JobError> {
        const FROM_CHOSEN: &str = "INSERT INTO jobs (job_id, profile_id, started_at, status, \
             cloud_escalations) SELECT ?, profile_id, ?, 'running', 0 FROM work_profiles \
             WHERE profile_id = ? RETURNING profile_id";
        self.insert_job(FROM_CHOSEN, profile_id)
            .await?
            .ok_or_else(|| {
                JobError::from(ProfileError::NotFound {
                    profile_id: profile_id.to_owned(),
                })
            })
    }

    /// Inserts a job with `insert` (one statement, so the profile it pins is read in the same
    /// step), binding a new job id, the start time and `key`; `None` when it selected no profile.
    async fn insert_job(&self, insert: &str, key: &str) -> Result<Option<JobStarted>, JobError> {
        let job_id = format!("job-{}", uuid::Uuid::now_v7());
        let started_at = now();
        let pinned: Option<String> = sqlx::query_scalar(insert)
            .bind(&job_id)
            .bind(&started_at)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(pinned.map(|profile_id| JobStarted {
            job_id,
            profile_id,
            started_at,
        }))
    }

    /// One job.
    pub async fn get(&self, job_id: &str) -> Result<JobRecord, JobError> {
        let row = sqlx::query(
            "SELECT profile_id, started_at, status, finished_at, cloud_escalations FROM jobs WHERE job_id = ?",
        )
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| JobError::NotFound { job_id: job_id.to_owned() })?;
        let status: String = row.try_get("status")?;
        let escalations: i64 = row.try_get("cloud_escalations")?;
        Ok(JobRecord {
            job_id: job_id.to_owned(),
            profile_id: row.try_get("profile_id")?,
            started_at: row.try_get("started_at")?,
            status: JobStatus::parse(&status).ok_or_else(|| JobError::CorruptStatus {
                job_id: job_id.to_owned(),
                status,
            })?,
            finished_at: row.try_get("finished_at")?,
            cloud_escalations: u32::try_from(escalations).unwrap_or(u32::MAX),
        })
    }

    /// The profile the job pinned when it started.
    pub async fn pinned_profile(&self, job_id: &str) -> Result<WorkProfile, JobError> {
        let job = self.get(job_id).await?;
        Ok(self.profiles.get(&job.profile_id).await?.profile)
    }

    /// Ends a running job with `status` (succeeded, failed or cancelled).
    pub async fn finish(&self, job_id: &str, status: JobStatus) -> Result<JobRecord, JobError> {
        let updated = sqlx::query(
            "UPDATE jobs SET status = ?, finished_at = ? WHERE job_id = ? AND status = 'running'",
        )
        .bind(status.as_str())
        .bind(now())
        .bind(job_id)
        .execute(&self.pool)
        .await?;
        let job = self.get(job_id).await?;
        if updated.rows_affected() == 0 {
            return Err(JobError::NotRunning {
                job_id: job_id.to_owned(),
                status: job.status,
            });
        }
        Ok(job)
    }

    /// Reserves one cloud escalation for a running job if fewer than `cap` were used; returns the
    /// new count. One SQL statement, so concurrent callers never exceed the cap together.
    pub async fn try_reserve_cloud_escalation(
        &self,
        job_id: &str,
        cap: u32,
    ) -> Result<u32, JobError> {
        let count: Option<i64> = sqlx::query_scalar(
            "UPDATE jobs SET cloud_escalations = cloud_escalations + 1 \
             WHERE job_id = ? AND status = 'running' AND cloud_escalations < ? \
             RETURNING cloud_escalations",
        )
        .bind(job_id)
        .bind(i64::from(cap))
        .fetch_optional(&self.pool)
        .await?;
        if let Some(count) = count {
            return Ok(u32::try_from(count).unwrap_or(u32::MAX));
        }
        let job = self.get(job_id).await?;
        if job.status != JobStatus::Running {
            return Err(JobError::NotRunning {
                job_id: job_id.to_owned(),
                status: job.status,
            });
        }
        Err(JobError::CapReached {
            job_id: job_id.to_owned(),
            cap,
        })
    }

    /// Reserves one cloud escalation under the job's pinned profile: refused when the profile
    /// disallows cloud escalation, capped by `max_cloud_escalations_per_job` when it sets one.
    pub async fn reserve_cloud_escalation(&self, job_id: &str) -> Result<u32, JobError> {
        let job = self.get(job_id).await?;
        let profile = self.profiles.get(&job.profile_id).await?.profile;
        if !profile.governance.allow_cloud_escalation {
            return Err(JobError::CloudEscalationDisabled {
                job_id: job_id.to_owned(),
                profile_id: job.profile_id,
            });
        }
        let cap = profile
            .governance
            .max_cloud_escalations_per_job
            .unwrap_or(u32::MAX);
        self.try_reserve_cloud_escalation(job_id, cap).await
    }
}

#[cfg(test)]
#[path = "jobs_tests.rs"]
mod tests;

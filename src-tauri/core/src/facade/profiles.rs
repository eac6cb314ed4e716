//! Work Profiles and jobs through the facade: each change is made in the profile store and its
//! Flight Recorder event is written durably before the call returns.
//!
//! - [`Handshake::create_profile`]: a profile from its JSON, validated against the registered
//!   providers ([`RegistryCatalog`]) -> FR-EVT-PROFILE-001 (`created`, no parent).
//! - [`Handshake::edit_profile`]: an edited body saved as a new version whose parent is the
//!   edited profile -> FR-EVT-PROFILE-001 (`created`, with the parent). Without
//!   `new_version_if_used` a profile that a job used is refused ([`ProfileError::InUse`]), as the
//!   store's rules say; with it the new version is saved anyway.
//! - [`Handshake::activate_profile`] -> FR-EVT-PROFILE-001 (`activated`, with the previous one).
//! - [`Handshake::start_job`] -> FR-EVT-PROFILE-002 (the job and the profile it pinned).
//!
//! [`ProfileError::InUse`]: crate::profiles::ProfileError::InUse

use crate::profiles::{parse_profile_json, JobStarted, ProfileActivated, ProfileCreated};
use crate::recorder::{
    Correlation, FlightEvent, JobStarted as JobStartedEvent, ProfileChange, ProfileChanged,
};

use super::catalog::RegistryCatalog;
use super::error::FacadeError;
use super::recording::{checked_ident, ident};
use super::Handshake;

impl Handshake {
    /// The registered providers as the catalog profiles are validated against.
    pub async fn catalog(&self) -> Result<RegistryCatalog, FacadeError> {
        Ok(RegistryCatalog::snapshot(self.registry()).await?)
    }

    /// Creates a profile from its JSON under the `profile_id` it names (FR-EVT-PROFILE-001).
    pub async fn create_profile(&self, json: &str) -> Result<ProfileCreated, FacadeError> {
        self.ready_to_record().await?;
        let catalog = self.catalog().await?;
        let profile =
            parse_profile_json(json, &catalog).map_err(crate::profiles::ProfileError::from)?;
        checked_ident("profile_id", &profile.profile_id)?;
        let created = self.profiles().import_json(json, &catalog).await?;
        self.record_created(&created).await?;
        Ok(created)
    }

    /// Saves an edited body of `profile_id` as a new version (FR-EVT-PROFILE-001 with the
    /// parent). A profile a job used is refused unless `new_version_if_used`.
    pub async fn edit_profile(
        &self,
        profile_id: &str,
        json: &str,
        new_version_if_used: bool,
    ) -> Result<ProfileCreated, FacadeError> {
        self.ready_to_record().await?;
        let catalog = self.catalog().await?;
        let edited =
            parse_profile_json(json, &catalog).map_err(crate::profiles::ProfileError::from)?;
        // The store gives the new version a fresh id when the body repeats the parent's.
        if !edited.profile_id.trim().is_empty() && edited.profile_id != profile_id {
            checked_ident("profile_id", &edited.profile_id)?;
        }
        let created = if new_version_if_used {
            self.profiles()
                .save_as_new_version(profile_id, edited, &catalog)
                .await?
        } else {
            self.profiles().edit(profile_id, edited, &catalog).await?
        };
        self.record_created(&created).await?;
        Ok(created)
    }

    async fn record_created(&self, created: &ProfileCreated) -> Result<(), FacadeError> {
        let event = FlightEvent::ProfileChanged(ProfileChanged {
            change: ProfileChange::Created {
                profile_id: ident(&created.profile_id),
                parent_profile_id: created.parent_profile_id.as_deref().map(ident),
            },
        });
        let correlation = Correlation::none().profile(ident(&created.profile_id));
        self.record(event, correlation, || {
            format!("Work Profile `{}` was created", created.profile_id)
        })
        .await?;
        Ok(())
    }

    /// Makes `profile_id` the active profile (FR-EVT-PROFILE-001 with the previous one). Jobs
    /// already started keep the profile they pinned.
    pub async fn activate_profile(
        &self,
        profile_id: &str,
    ) -> Result<ProfileActivated, FacadeError> {
        self.ready_to_record().await?;
        let activated = self.profiles().activate(profile_id).await?;
        let event = FlightEvent::ProfileChanged(ProfileChanged {
            change: ProfileChange::Activated {
                profile_id: ident(&activated.profile_id),
                previous_profile_id: activated.previous.as_deref().map(ident),
            },
        });
        let correlation = Correlation::none().profile(ident(&activated.profile_id));
        self.record(event, correlation, || {
            format!("Work Profile `{profile_id}` was activated")
        })
        .await?;
        Ok(activated)
    }

    /// Starts a job (FR-EVT-PROFILE-002) pinned to `profile_id`, or to the active profile when
    /// `None`. Choosing a profile does not activate it: the active profile changes only through
    /// [`Handshake::activate_profile`], an explicit step recorded as FR-EVT-PROFILE-001.
    pub async fn start_job(&self, profile_id: Option<&str>) -> Result<JobStarted, FacadeError> {
        self.ready_to_record().await?;
        let started = match profile_id {
            Some(chosen) => self.jobs().start_job_on(chosen).await?,
            None => self.jobs().start_job().await?,
        };
        let event = FlightEvent::JobStarted(JobStartedEvent {
            job_id: ident(&started.job_id),
            profile_id: ident(&started.profile_id),
        });
        let correlation = Correlation::none()
            .job(ident(&started.job_id))
            .profile(ident(&started.profile_id));
        self.record(event, correlation, || {
            format!(
                "job `{}` was started with Work Profile `{}`",
                started.job_id, started.profile_id
            )
        })
        .await?;
        Ok(started)
    }
}

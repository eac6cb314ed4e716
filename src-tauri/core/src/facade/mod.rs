//! [`Handshake`]: the one object a shell (desktop app or CLI) holds. It opens the data directory,
//! runs migrations and wires the modules together; shells call it and hold no domain logic.
//!
//! Operations that change governance state (profiles, jobs, model swaps) are methods here that
//! do the work and write its Flight Recorder event durably (`profiles.rs`, `swaps.rs`); reading
//! the recorder never starts its writer (`events.rs`, `console/`). Their errors are [`FacadeError`].

mod catalog;
pub mod console;
mod error;
mod events;
mod governance;
mod model_tier;
mod profile_views;
mod profiles;
mod providers;
mod recording;
mod run;
mod run_choices;
mod run_events;
mod run_start;
mod swaps;

pub use catalog::RegistryCatalog;
pub use error::FacadeError;
pub use governance::{GovernanceView, StandingRuleInput};
pub use model_tier::ModelTierView;
pub use profile_views::{CatalogModel, CatalogProvider, ProfileSaved, ProfileVersionEntry};
pub use providers::{
    ConnectionReport, LocalOllamaOffer, ProviderDraft, ProviderModel, ProviderRow, LOCAL_OLLAMA_ID,
};
pub use run::{RunOutcome, RunRequest};
pub use run_choices::{RoleChoice, RunChoices, RunProfileChoice};
pub use run_events::RunEvent;
pub use run_start::StartRun;
pub use swaps::{SwapInput, SwapReport};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::OnceCell;

use crate::db::{Database, DbError};
use crate::doctor::{self, DoctorReport};
use crate::paths::{resolve_data_dir, PathsError};
use crate::profiles::{JobStore, ProfileStore};
use crate::recorder::{FlightRecorder, KeySource, RecorderConfig, RecorderError};
use crate::registry::ProviderRegistry;
use crate::secrets::Keychain;

mod clients;
use clients::ClientCache;
pub use clients::ClientError;

/// Why Handshake could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Paths(#[from] PathsError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What the app tells about itself (Settings view, `hsk --version`).
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct AppInfo {
    pub version: String,
    pub data_dir: String,
    pub database_path: String,
    #[ts(type = "number")]
    pub schema_version: i64,
}

/// The running core: the database, the keychain, the registry, profiles, jobs and the Flight
/// Recorder, wired for the shells. Cheap to clone.
#[derive(Clone)]
pub struct Handshake {
    data_dir: PathBuf,
    db: Database,
    keychain: Keychain,
    registry: ProviderRegistry,
    profiles: ProfileStore,
    jobs: JobStore,
    /// Opened on first use: it needs the anchor key from the keychain, which commands that only
    /// read the registry should not depend on.
    recorder: Arc<OnceCell<FlightRecorder>>,
    /// Ready model clients (the one client path, `clients.rs`).
    clients: Arc<ClientCache>,
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshake")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Handshake {
    /// Opens the data directory (explicit, else `HANDSHAKE_DATA_DIR`, else the platform's) and
    /// migrates its database.
    pub async fn open(data_dir: Option<PathBuf>) -> Result<Self, StartError> {
        let data_dir = resolve_data_dir(data_dir)?;
        let db = Database::open(&data_dir).await?;
        let keychain = Keychain::new();
        Ok(Self {
            registry: ProviderRegistry::new(db.clone(), keychain.clone()),
            profiles: ProfileStore::new(&db),
            jobs: JobStore::new(&db),
            recorder: Arc::new(OnceCell::new()),
            clients: Arc::new(ClientCache::default()),
            data_dir,
            db,
            keychain,
        })
    }

    /// The provider registry.
    pub fn registry(&self) -> &ProviderRegistry {
        &self.registry
    }

    /// Work Profiles.
    pub fn profiles(&self) -> &ProfileStore {
        &self.profiles
    }

    /// Jobs and the profiles they pinned.
    pub fn jobs(&self) -> &JobStore {
        &self.jobs
    }

    /// The Flight Recorder, opened (and its writer started) on first use.
    pub async fn recorder(&self) -> Result<&FlightRecorder, RecorderError> {
        self.recorder
            .get_or_try_init(|| async {
                FlightRecorder::open(
                    &self.db,
                    &self.data_dir,
                    KeySource::Keychain(self.keychain.clone()),
                    RecorderConfig::default(),
                )
                .await
            })
            .await
    }

    /// Flushes and stops the Flight Recorder's writer, if it was opened.
    pub async fn shutdown(&self) -> Result<(), RecorderError> {
        if let Some(recorder) = self.recorder.get() {
            recorder.shutdown().await?;
        }
        Ok(())
    }

    /// Flushes the Flight Recorder and ends this session on the data directory cleanly, so the
    /// next open does not take it for a crash (and run the full integrity check). The shells call
    /// it once, as they exit; the core is not used after it.
    pub async fn close(&self) -> Result<(), RecorderError> {
        let flushed = self.shutdown().await;
        self.db.close().await;
        flushed
    }

    /// SQLite's full integrity check of the database (every page): the app runs it in the
    /// background once its window is up; `hsk doctor --integrity` and Settings on request.
    pub async fn check_integrity(&self) -> Result<(), crate::db::DbError> {
        self.db.check_integrity().await
    }

    /// The data directory in use.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The OS keychain.
    pub fn keychain(&self) -> &Keychain {
        &self.keychain
    }

    /// Version, data directory and schema version.
    pub async fn info(&self) -> Result<AppInfo, DbError> {
        Ok(AppInfo {
            version: crate::VERSION.to_owned(),
            data_dir: self.data_dir.display().to_string(),
            database_path: self.db.path().display().to_string(),
            schema_version: self.db.schema_version().await?,
        })
    }

    /// Runs the health checks against this data directory.
    pub async fn doctor(&self, ollama_url: &str) -> DoctorReport {
        doctor::run(
            self.data_dir.clone(),
            &self.keychain,
            ollama_url,
            doctor::Integrity::Full,
        )
        .await
    }
}

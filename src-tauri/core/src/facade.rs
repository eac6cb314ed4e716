//! [`Handshake`]: the one object a shell (desktop app or CLI) holds. It opens the data directory,
//! runs migrations and wires the modules together; shells call it and hold no domain logic.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::db::{Database, DbError};
use crate::doctor::{self, DoctorReport};
use crate::paths::{resolve_data_dir, PathsError};
use crate::secrets::Keychain;

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
    pub schema_version: i64,
}

/// The running core: the database and the keychain, wired for the shells.
#[derive(Clone, Debug)]
pub struct Handshake {
    data_dir: PathBuf,
    db: Database,
    keychain: Keychain,
}

impl Handshake {
    /// Opens the data directory (explicit, else `HANDSHAKE_DATA_DIR`, else the platform's) and
    /// migrates its database.
    pub async fn open(data_dir: Option<PathBuf>) -> Result<Self, StartError> {
        let data_dir = resolve_data_dir(data_dir)?;
        let db = Database::open(&data_dir).await?;
        Ok(Self { data_dir, db, keychain: Keychain::new() })
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
        doctor::run(self.data_dir.clone(), &self.keychain, ollama_url).await
    }
}

//! The state the app holds: the core, or why it could not start (shown by the UI, never a panic).

use handshake_core::Handshake;

use crate::error::{codes, CommandError};

/// The opened core, or the reason it failed to open.
pub struct AppState {
    core: Result<Handshake, String>,
}

impl AppState {
    /// Opens the data directory named by `HANDSHAKE_DATA_DIR`, or the platform's.
    pub async fn open() -> Self {
        Self {
            core: Handshake::open(None).await.map_err(|e| e.to_string()),
        }
    }

    /// The core, or a typed error the UI shows in place of every view.
    pub fn core(&self) -> Result<&Handshake, CommandError> {
        self.core
            .as_ref()
            .map_err(|message| CommandError::new(codes::STARTUP_FAILED, message.clone()))
    }
}

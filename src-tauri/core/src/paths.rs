//! Where Handshake keeps its data.
//!
//! The data directory holds the SQLite database. It is the platform data directory unless the
//! `HANDSHAKE_DATA_DIR` environment variable (both shells) or the CLI's `--data-dir` names another,
//! so that tests and experiments never touch a real profile.

use std::path::PathBuf;

/// Environment variable that points both shells at another data directory.
pub const DATA_DIR_ENV: &str = "HANDSHAKE_DATA_DIR";

/// Why no data directory could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error("no home directory is known for this user, so there is no platform data directory; set {DATA_DIR_ENV} or pass --data-dir")]
    NoPlatformDataDir,
}

/// Picks the data directory: an explicit choice first, then `HANDSHAKE_DATA_DIR`, then the
/// platform's data directory (for example `~/.local/share/handshake` on Linux).
pub fn resolve_data_dir(explicit: Option<PathBuf>) -> Result<PathBuf, PathsError> {
    if let Some(dir) = explicit {
        return Ok(dir);
    }
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("dev", "handshake", "handshake")
        .map(|dirs| dirs.data_dir().to_path_buf())
        .ok_or(PathsError::NoPlatformDataDir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_choice_wins() {
        let dir = resolve_data_dir(Some(PathBuf::from("/tmp/explicit"))).unwrap();
        assert_eq!(dir, PathBuf::from("/tmp/explicit"));
    }

    #[test]
    fn platform_dir_names_handshake() {
        // With no explicit choice the result is either the env override or the platform dir;
        // both must be absolute.
        let dir = resolve_data_dir(None).unwrap();
        assert!(dir.is_absolute(), "{dir:?}");
    }
}

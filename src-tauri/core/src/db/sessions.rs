//! Which sessions on a data directory ended cleanly: how opening tells a crash (or a power cut, or
//! a `kill -9`) from an ordinary exit without reading the whole database.
//!
//! Every open [`Database`](super::Database) holds a marker file in `sessions/` of the data
//! directory, locked (an advisory lock) for as long as the process holds the database, and removed
//! when the last handle is dropped. The operating system drops the lock when a process dies,
//! however it dies; so a marker nobody holds locked belongs to a session that did not end cleanly.
//! Several processes (the app and `hsk`) may hold markers at once; each one's lock tells it is
//! alive. A marker is created under a hidden name, locked, and only then renamed into place, so a
//! process that is starting is never mistaken for one that died.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// The folder of session markers inside the data directory.
pub const SESSIONS_DIR_NAME: &str = "sessions";

/// Why the session markers could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot use the session markers in {path}: {source}")]
pub struct SessionError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// This process's marker: locked while it lives, removed when dropped.
#[derive(Debug)]
pub struct SessionMarker {
    path: PathBuf,
    _file: File,
}

impl Drop for SessionMarker {
    fn drop(&mut self) {
        // The lock goes with the file handle; a marker that cannot be removed stays unlocked and
        // costs the next open one integrity check, nothing more.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Markers left by sessions that ended without closing (their owner is gone: nobody holds their
/// lock). Hidden names (markers being created) are skipped.
pub fn unclean_sessions(data_dir: &Path) -> Result<Vec<PathBuf>, SessionError> {
    let dir = data_dir.join(SESSIONS_DIR_NAME);
    let err = |source| SessionError {
        path: dir.clone(),
        source,
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(err(source)),
    };
    let mut left = Vec::new();
    for entry in entries {
        let path = entry.map_err(err)?.path();
        if path
            .file_name()
            .is_none_or(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let file = match File::open(&path) {
            Ok(file) => file,
            // Removed meanwhile: its owner closed cleanly.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(err(source)),
        };
        match file.try_lock() {
            Ok(()) => left.push(path),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(source)) => return Err(err(source)),
        }
    }
    Ok(left)
}

/// Removes the markers [`unclean_sessions`] found, once the database they left behind is checked.
pub fn clear(markers: &[PathBuf]) {
    for marker in markers {
        let _ = std::fs::remove_file(marker);
    }
}

/// Creates and locks this process's marker.
pub fn begin(data_dir: &Path) -> Result<SessionMarker, SessionError> {
    let dir = data_dir.join(SESSIONS_DIR_NAME);
    let err = |source| SessionError {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(err)?;
    let name = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4());
    let hidden = dir.join(format!(".{name}"));
    let path = dir.join(name);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&hidden)
        .map_err(err)?;
    file.lock().map_err(err)?;
    std::fs::rename(&hidden, &path).map_err(err)?;
    Ok(SessionMarker { path, _file: file })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_live_marker_is_not_unclean_and_a_dropped_one_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let marker = begin(dir.path()).unwrap();
        assert!(unclean_sessions(dir.path()).unwrap().is_empty());
        drop(marker);
        assert!(unclean_sessions(dir.path()).unwrap().is_empty());
        assert_eq!(
            std::fs::read_dir(dir.path().join(SESSIONS_DIR_NAME))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn a_marker_nobody_holds_is_an_unclean_session_until_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let marker = begin(dir.path()).unwrap();
        // What a process that died leaves: the file, without its lock.
        let left = marker.path.clone();
        std::mem::forget(marker);
        // (The forgotten handle still holds the lock in this process; a dead one would not.)
        let copy = dir.path().join(SESSIONS_DIR_NAME).join("4242-dead");
        std::fs::copy(&left, &copy).unwrap();
        assert_eq!(unclean_sessions(dir.path()).unwrap(), vec![copy.clone()]);
        clear(&[copy]);
        assert!(unclean_sessions(dir.path()).unwrap().is_empty());
    }
}

//! The Flight Recorder's background checkpointer: a thread with its own SQLite connection that
//! copies the WAL's committed pages into the database file (`PRAGMA wal_checkpoint(PASSIVE)`)
//! while the writer goes on appending, so a flood of events does not stop for checkpoints.
//!
//! The database stage nudges it after every [`CHECKPOINT_EVERY_ROWS`] appended rows; a nudge
//! that arrives while a checkpoint runs is merged into the next one. A PASSIVE checkpoint never
//! waits for the writer or readers and never blocks them; what it could not copy is copied by
//! the next one, or by the writer connection's own automatic checkpoint (the bound on the WAL
//! whatever happens here). A trickle of events (one per commit, whole pages each) fills the WAL
//! long before it reaches the row count, so for a trickle the writer's own checkpoint does the
//! work, as before this thread existed.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::RecorderError;

/// Appended rows after which the stage nudges the checkpointer: at about a kilobyte of WAL per
/// row in a batch (docs/benchmarks.md), some 8 MiB per checkpoint.
pub(crate) const CHECKPOINT_EVERY_ROWS: u64 = 8_192;

/// The stage's handle on the checkpointer thread.
pub(crate) struct Checkpointer {
    nudges: SyncSender<()>,
    thread: JoinHandle<()>,
    rows_since_nudge: u64,
}

impl Checkpointer {
    /// Opens a connection to the (existing) database at `path` and starts the thread. Blocking.
    pub fn spawn(path: &Path) -> Result<Self, RecorderError> {
        // Never creates the file: a missing database is an error, not a new empty one.
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // A PASSIVE checkpoint never calls the busy handler (if the writer's own checkpoint is
        // running, it reports `busy` instead); this only bounds the schema read before it.
        conn.busy_timeout(Duration::from_secs(1))?;
        let (nudges, rx) = sync_channel(1);
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("flight-recorder-checkpoint".into())
            .spawn(move || run(conn, rx, path))
            .map_err(RecorderError::Thread)?;
        Ok(Self {
            nudges,
            thread,
            rows_since_nudge: 0,
        })
    }

    /// Counts `rows` appended; nudges the thread once [`CHECKPOINT_EVERY_ROWS`] have been.
    /// Never blocks.
    pub fn appended(&mut self, rows: usize) {
        self.rows_since_nudge += rows as u64;
        if self.rows_since_nudge < CHECKPOINT_EVERY_ROWS {
            return;
        }
        self.rows_since_nudge = 0;
        match self.nudges.try_send(()) {
            // Full: a nudge is already waiting; the checkpoint it starts covers these rows too.
            Ok(()) | Err(TrySendError::Full(())) => {}
            Err(TrySendError::Disconnected(())) => {
                tracing::warn!("flight recorder: the checkpointer thread is gone");
            }
        }
    }

    /// Stops the thread after the checkpoint it may be running.
    pub fn close(self) {
        drop(self.nudges);
        if self.thread.join().is_err() {
            tracing::error!("flight recorder: the checkpointer thread panicked");
        }
    }
}

fn run(conn: Connection, nudges: Receiver<()>, path: PathBuf) {
    // A skipped or partial checkpoint is not a loss: the frames stay in the WAL, readable and
    // durable, for the next one.
    while nudges.recv().is_ok() {
        match checkpoint(&conn) {
            Ok(done) if done.busy => tracing::trace!(
                path = %path.display(),
                "flight recorder: background checkpoint skipped, another one is running"
            ),
            Ok(done) => tracing::trace!(
                frames = done.wal_frames,
                copied = done.copied_frames,
                "flight recorder: background checkpoint"
            ),
            Err(e) => tracing::debug!(
                error = %e,
                path = %path.display(),
                "flight recorder: background checkpoint failed"
            ),
        }
    }
}

/// What one checkpoint did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpointed {
    /// Another checkpoint held SQLite's checkpointer lock; nothing was copied.
    pub busy: bool,
    pub wal_frames: i64,
    /// Frames of the WAL now in the database file.
    pub copied_frames: i64,
}

/// One PASSIVE checkpoint.
pub(crate) fn checkpoint(conn: &Connection) -> Result<Checkpointed, rusqlite::Error> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok(Checkpointed {
            busy: r.get::<_, i64>(0)? != 0,
            wal_frames: r.get(1)?,
            copied_frames: r.get(2)?,
        })
    })
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// A WAL database whose writer never checkpoints by itself, holding about `bytes` of rows
    /// in the WAL only.
    fn wal_with_uncheckpointed_rows(path: &Path, bytes: usize) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute("CREATE TABLE t (v BLOB)", []).unwrap();
        for _ in 0..bytes / 4096 {
            conn.execute("INSERT INTO t VALUES (randomblob(4096))", [])
                .unwrap();
        }
        conn
    }

    fn db_file_len(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    #[test]
    fn a_nudge_after_enough_rows_copies_the_wal_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let _writer = wal_with_uncheckpointed_rows(&path, 1 << 20);
        let before = db_file_len(&path);
        let mut checkpointer = Checkpointer::spawn(&path).unwrap();

        checkpointer.appended(usize::try_from(CHECKPOINT_EVERY_ROWS).unwrap() - 1);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            db_file_len(&path),
            before,
            "no checkpoint before the row count"
        );

        checkpointer.appended(1);
        let deadline = Instant::now() + Duration::from_secs(10);
        while db_file_len(&path) < before + (1 << 20) {
            assert!(Instant::now() < deadline, "the WAL was never checkpointed");
            std::thread::sleep(Duration::from_millis(10));
        }
        checkpointer.close();
    }

    #[test]
    fn a_database_that_cannot_be_opened_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no such directory").join("db.sqlite");
        assert!(matches!(
            Checkpointer::spawn(&missing),
            Err(RecorderError::WriterDb(_))
        ));
    }
}

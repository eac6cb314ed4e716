//! The one SQLite database of a Handshake data directory.
//!
//! Owns opening (WAL, foreign keys, busy timeout, set on the connection options and never inside a
//! migration), migrating from `migrations/`, and refusing what it must not touch: a file that is
//! not a SQLite database, a corrupt database, or one written by a newer Handshake. None of those is
//! ever overwritten or migrated; the caller gets a typed error naming the file.
//!
//! Opening costs the same whatever the size of the file: it reads the header and the schema, not
//! every page. SQLite's full `quick_check` (every page of every table) runs before anything is
//! written when the last session on the directory did not end cleanly ([`sessions`]: a crash, a
//! power cut, a `kill -9`), and whenever it is asked for ([`Database::check_integrity`]: `hsk
//! doctor --integrity`, and the app in the background once its window is shown).

pub mod sessions;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;

/// The migrations compiled into this build.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// File name of the database inside the data directory.
pub const DB_FILE_NAME: &str = "handshake.db";

const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the data directory {path}: {source}")]
    CreateDataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a Handshake database (not SQLite, or corrupt); it was left untouched. Move it away or point HANDSHAKE_DATA_DIR elsewhere")]
    NotADatabase { path: PathBuf },
    #[error("{path} failed SQLite's integrity check ({detail}); it was left untouched")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{path} was written by a newer Handshake (schema version {found}, this build knows up to {supported}); it was left untouched. Upgrade Handshake to open it")]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("migrating {path} failed: {source}")]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },
    #[error(transparent)]
    Sessions(#[from] sessions::SessionError),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
}

/// Page size of a new database file (an existing file keeps the size it was created with).
/// 32 KiB rather than SQLite's 4 KiB: the Flight Recorder appends to six B-trees per event, and
/// larger pages split less often and carry less per-page overhead to the WAL (1.5x the recorder's
/// throughput and 0.6x the bytes written per event, docs/benchmarks.md). The price, a larger WAL
/// write for a one-row commit, is paid by rare governance events.
pub const PAGE_SIZE: u32 = 32 * 1024;

/// An open, migrated database.
#[derive(Clone, Debug)]
pub struct Database {
    pool: SqlitePool,
    path: PathBuf,
    /// This process's session marker, released by [`Database::close`] or when the last handle is
    /// dropped.
    session: Arc<Mutex<Option<sessions::SessionMarker>>>,
}

impl Database {
    /// Opens (creating if missing) and migrates the database in `data_dir`.
    pub async fn open(data_dir: &Path) -> Result<Self, DbError> {
        std::fs::create_dir_all(data_dir).map_err(|source| DbError::CreateDataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DB_FILE_NAME);
        check_header(&path)?;
        // Sessions that did not end cleanly, found before this one's marker exists.
        let unclean = sessions::unclean_sessions(data_dir)?;
        let session = sessions::begin(data_dir)?;

        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(&path)
            .create_if_missing(true)
            .page_size(PAGE_SIZE)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|e| classify_open_error(&path, e))?;

        if unclean.is_empty() {
            read_schema(&pool, &path).await?;
        } else {
            tracing::warn!(
                sessions = unclean.len(),
                "an earlier session on this data directory did not end cleanly; checking the database"
            );
            integrity_check(&pool, &path).await?;
        }
        refuse_newer_schema(&pool, &path).await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| DbError::Migrate {
                path: path.clone(),
                source,
            })?;
        sessions::clear(&unclean);
        Ok(Self {
            pool,
            path,
            session: Arc::new(Mutex::new(Some(session))),
        })
    }

    /// SQLite's `quick_check` over every page: `Corrupt` (or `NotADatabase`) when it finds a
    /// problem. Its cost grows with the file (about a second at a million Flight Recorder events).
    pub async fn check_integrity(&self) -> Result<(), DbError> {
        integrity_check(&self.pool, &self.path).await
    }

    /// The connection pool, for the modules that own tables.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The newest migration applied to this database.
    pub async fn schema_version(&self) -> Result<i64, DbError> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(version), 0) AS v FROM _sqlx_migrations WHERE success = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("v")?)
    }

    /// Checkpoints the WAL into the main file, closes every connection, so that the file on disk
    /// is complete on its own, and ends this process's session cleanly (see [`sessions`]).
    pub async fn close(&self) {
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!(%error, "could not checkpoint the WAL before closing");
        }
        self.pool.close().await;
        if let Ok(mut session) = self.session.lock() {
            session.take();
        }
    }
}

/// The newest schema version this build can migrate to.
pub fn supported_schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

fn check_header(path: &Path) -> Result<(), DbError> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(DbError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let mut header = [0u8; 16];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(source) => {
                return Err(DbError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    // An empty file is what SQLite itself creates before the first write: accept it.
    if read == 0 || (read == header.len() && &header == SQLITE_HEADER) {
        Ok(())
    } else {
        Err(DbError::NotADatabase {
            path: path.to_path_buf(),
        })
    }
}

fn classify_open_error(path: &Path, error: sqlx::Error) -> DbError {
    if let sqlx::Error::Database(db) = &error {
        // SQLITE_NOTADB (26) and SQLITE_CORRUPT (11).
        if matches!(db.code().as_deref(), Some("26") | Some("11")) {
            return DbError::NotADatabase {
                path: path.to_path_buf(),
            };
        }
    }
    DbError::Sqlx(error)
}

async fn integrity_check(pool: &SqlitePool, path: &Path) -> Result<(), DbError> {
    let rows = sqlx::query("PRAGMA quick_check")
        .fetch_all(pool)
        .await
        .map_err(|e| unreadable(path, e))?;
    let first: String = match rows.first() {
        Some(row) => row.try_get(0)?,
        None => String::from("no answer"),
    };
    if first == "ok" {
        Ok(())
    } else {
        Err(DbError::Corrupt {
            path: path.to_path_buf(),
            detail: first,
        })
    }
}

/// A database error met while checking the file: not SQLite, or corrupt.
fn unreadable(path: &Path, error: sqlx::Error) -> DbError {
    match classify_open_error(path, error) {
        DbError::Sqlx(e) => DbError::Corrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
        },
        other => other,
    }
}

/// The cheap check of every open: the header was read already; this reads the schema (a file whose
/// first pages are damaged fails here, typed, before anything is written).
async fn read_schema(pool: &SqlitePool, path: &Path) -> Result<(), DbError> {
    sqlx::query("SELECT COUNT(*) FROM sqlite_master")
        .fetch_one(pool)
        .await
        .map_err(|e| unreadable(path, e))?;
    Ok(())
}

async fn refuse_newer_schema(pool: &SqlitePool, path: &Path) -> Result<(), DbError> {
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(pool)
    .await?;
    if exists == 0 {
        return Ok(());
    }
    let found: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
        .fetch_one(pool)
        .await?;
    let supported = supported_schema_version();
    if found > supported {
        return Err(DbError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn creates_and_migrates_on_first_open() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).await.unwrap();
        assert_eq!(
            db.schema_version().await.unwrap(),
            supported_schema_version()
        );
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(fk, 1);
        db.close().await;
        // Reopening is idempotent.
        let db = Database::open(dir.path()).await.unwrap();
        assert_eq!(
            db.schema_version().await.unwrap(),
            supported_schema_version()
        );
    }

    #[tokio::test]
    async fn refuses_a_file_that_is_not_sqlite_and_leaves_it_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE_NAME);
        std::fs::write(&path, b"this is a text file, not a database at all").unwrap();
        let err = Database::open(dir.path()).await.unwrap_err();
        assert!(matches!(err, DbError::NotADatabase { .. }), "{err:?}");
        assert!(err.to_string().contains("left untouched"));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"this is a text file, not a database at all"
        );
    }

    #[tokio::test]
    async fn refuses_a_corrupt_database_and_leaves_it_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).await.unwrap();
        sqlx::query("INSERT INTO settings (key, value, updated_at) VALUES ('k', 'v', 'now')")
            .execute(db.pool())
            .await
            .unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(db.pool())
            .await
            .unwrap();
        db.close().await;
        let path = dir.path().join(DB_FILE_NAME);
        let _ = std::fs::remove_file(dir.path().join(format!("{DB_FILE_NAME}-wal")));
        let _ = std::fs::remove_file(dir.path().join(format!("{DB_FILE_NAME}-shm")));
        let mut bytes = std::fs::read(&path).unwrap();
        // Keep the 100-byte header, scribble over every page after it.
        for b in bytes.iter_mut().skip(100) {
            *b = 0xA5;
        }
        std::fs::write(&path, &bytes).unwrap();
        let err = Database::open(dir.path()).await.unwrap_err();
        assert!(
            matches!(err, DbError::NotADatabase { .. } | DbError::Corrupt { .. }),
            "{err:?}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    /// A database whose last page (a table's leaf, far from the schema) is scribbled over, closed
    /// cleanly; returns its bytes.
    async fn with_a_damaged_last_page(dir: &Path) -> Vec<u8> {
        let db = Database::open(dir).await.unwrap();
        sqlx::query("CREATE TABLE bulk (b BLOB)")
            .execute(db.pool())
            .await
            .unwrap();
        for _ in 0..64 {
            sqlx::query("INSERT INTO bulk VALUES (randomblob(3000))")
                .execute(db.pool())
                .await
                .unwrap();
        }
        db.close().await;
        let path = dir.join(DB_FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - PAGE_SIZE as usize;
        for b in bytes.iter_mut().skip(last) {
            *b = 0xA5;
        }
        std::fs::write(&path, &bytes).unwrap();
        bytes
    }

    #[tokio::test]
    async fn a_clean_open_does_not_read_every_page_but_the_full_check_does() {
        let dir = tempfile::tempdir().unwrap();
        with_a_damaged_last_page(dir.path()).await;
        // The last session ended cleanly: opening reads the header and the schema only.
        let db = Database::open(dir.path()).await.unwrap();
        let err = db.check_integrity().await.unwrap_err();
        assert!(
            matches!(err, DbError::Corrupt { .. } | DbError::NotADatabase { .. }),
            "{err:?}"
        );
        db.close().await;
    }

    #[tokio::test]
    async fn after_an_unclean_session_a_damaged_database_is_refused_before_any_write() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = with_a_damaged_last_page(dir.path()).await;
        // What a process that died leaves: its marker, which nobody holds locked any more.
        let marker = dir
            .path()
            .join(sessions::SESSIONS_DIR_NAME)
            .join("4242-gone");
        std::fs::write(&marker, b"").unwrap();
        let err = Database::open(dir.path()).await.unwrap_err();
        assert!(
            matches!(err, DbError::Corrupt { .. } | DbError::NotADatabase { .. }),
            "{err:?}"
        );
        assert_eq!(std::fs::read(dir.path().join(DB_FILE_NAME)).unwrap(), bytes);
        assert!(marker.exists(), "the next open checks again");
    }

    #[tokio::test]
    async fn an_unclean_session_on_a_sound_database_is_checked_once_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        Database::open(dir.path()).await.unwrap().close().await;
        let marker = dir
            .path()
            .join(sessions::SESSIONS_DIR_NAME)
            .join("4242-gone");
        std::fs::write(&marker, b"").unwrap();
        let db = Database::open(dir.path()).await.unwrap();
        assert!(!marker.exists());
        // This session's own marker is held while it is open, and gone once it is closed.
        assert!(sessions::unclean_sessions(dir.path()).unwrap().is_empty());
        let markers = || {
            std::fs::read_dir(dir.path().join(sessions::SESSIONS_DIR_NAME))
                .unwrap()
                .count()
        };
        assert_eq!(markers(), 1);
        db.close().await;
        assert_eq!(markers(), 0);
    }

    #[tokio::test]
    async fn refuses_a_database_from_a_newer_version() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).await.unwrap();
        let future = supported_schema_version() + 1000;
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
             VALUES (?, 'from the future', CURRENT_TIMESTAMP, 1, x'00', 0)",
        )
        .bind(future)
        .execute(db.pool())
        .await
        .unwrap();
        db.close().await;
        let before = std::fs::read(dir.path().join(DB_FILE_NAME)).unwrap();
        let err = Database::open(dir.path()).await.unwrap_err();
        match err {
            DbError::NewerSchema {
                found, supported, ..
            } => {
                assert_eq!(found, future);
                assert_eq!(supported, supported_schema_version());
            }
            other => panic!("expected NewerSchema, got {other:?}"),
        }
        assert_eq!(
            std::fs::read(dir.path().join(DB_FILE_NAME)).unwrap(),
            before
        );
    }
}

//! The Flight Recorder: an append-only, tamper-evident event log in SQLite, and its query surface.
//!
//! Owns table `flight_events` (migration `0003_flight_recorder.sql`) and the anchor file
//! `recorder.anchor`. Guarantees:
//! - only typed [`FlightEvent`]s are written, and they cannot hold a prompt, a response, a payload
//!   or a secret ([`events`]);
//! - rows are hash-chained ([`chain`]); triggers refuse UPDATE and DELETE, except deletion below a
//!   recorded retention checkpoint ([`FlightRecorder::apply_retention`]);
//! - the head is anchored in an HMAC-signed file outside the database after durable commits
//!   ([`anchor`]), so [`verify()`] detects edits, deletions, reordering, tail truncation and a
//!   forged anchor;
//! - governance events are written with [`FlightRecorder::append_durable`], which returns only
//!   after commit (record before act); inference events go through a bounded queue to the writer
//!   task ([`writer`]), and drops are counted and recorded, never silent;
//! - every completion through a [`RecordingClient`] is recorded, success, error or cancellation.
//!
//! See docs/recorder.md.

pub mod anchor;
mod anchor_keeper;
mod appender;
pub mod chain;
mod checkpointer;
pub mod events;
mod export;
pub mod primitives;
mod recording_client;
pub mod store;
pub mod verified_mark;
pub mod verify;
pub mod witness;
mod writer;
mod writer_db;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sqlx::SqlitePool;
use tokio::sync::{broadcast, mpsc, oneshot};
use uuid::Uuid;

pub use anchor::{Anchor, AnchorError, AnchorKey, AnchorState, KeySource};
pub use events::*;
pub use export::export_jsonl;
pub use recording_client::RecordingClient;
pub use store::{ChainHead, EventQuery, RetentionCheckpoint, StoredEvent};
pub use verify::{BreakKind, VerifyDepth, VerifyReport};
pub use witness::HeadWitness;

use crate::db::Database;
use appender::Appender;
use checkpointer::Checkpointer;
use store::PendingEvent;
use writer::{Command, Shared, Writer};
use writer_db::WriterDb;

/// Why a recorder operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error("Flight Recorder database error: {0}")]
    Db(#[from] sqlx::Error),
    /// An error on the writer's own connection (see `writer_db.rs`).
    #[error("Flight Recorder database error: {0}")]
    WriterDb(#[from] rusqlite::Error),
    #[error(transparent)]
    Anchor(#[from] AnchorError),
    #[error("an event could not be encoded: {0}")]
    Encode(serde_json::Error),
    #[error("event {seq} in the Flight Recorder is unreadable: {what}; run `hsk recorder verify`")]
    CorruptRow { seq: i64, what: String },
    #[error("the Flight Recorder has shut down; no more events can be written")]
    WriterGone,
    /// The operating system refused a thread the recorder needs (its database stage or its
    /// checkpointer); the recorder does not start.
    #[error("the Flight Recorder could not start a thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("inference events go through `record_inference`; {event_type} is a governance event and must use `append_durable`")]
    NotGovernance { event_type: EventType },
    #[error("writing the export failed: {0}")]
    Export(std::io::Error),
}

/// Tuning of the recorder. The defaults suit the desktop app.
#[derive(Clone, Debug)]
pub struct RecorderConfig {
    /// Inference events that may wait for the writer; beyond that they are dropped and counted.
    pub queue_capacity: usize,
    /// Most events committed in one transaction.
    pub max_batch: usize,
    /// How long a batch of inference events that is not full waits for more before it is
    /// committed (group commit). Zero commits at once. Governance events, flushes and shutdown
    /// never wait for it.
    pub batch_linger: Duration,
    /// Events kept in the live broadcast for slow subscribers.
    pub live_capacity: usize,
    /// Drop events older than this many days when the recorder opens. Off (`None`) by default.
    pub retention_days: Option<u32>,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 16_384,
            max_batch: 4_096,
            batch_linger: Duration::from_millis(5),
            live_capacity: 1_024,
            retention_days: None,
        }
    }
}

/// Counters for the console and `hsk recorder` (`stats`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RecorderStats {
    pub committed: u64,
    pub batches: u64,
    /// Inference events dropped because the queue was full or the writer had stopped.
    pub dropped_total: u64,
    pub queued: u64,
    pub anchor_failures: u64,
    /// The anchor did not match the database when the recorder opened (see `verify`).
    pub anchor_conflict: bool,
}

struct Inner {
    pool: SqlitePool,
    db_path: std::path::PathBuf,
    anchor: Anchor,
    queue: mpsc::Sender<PendingEvent>,
    queue_capacity: usize,
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

/// The running Flight Recorder: a cheap, cloneable handle to the writer task.
#[derive(Clone)]
pub struct FlightRecorder {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FlightRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlightRecorder")
            .field("anchor", &self.inner.anchor.path())
            .finish()
    }
}

impl FlightRecorder {
    /// A seal (HMAC-SHA256, hex) of `message` under the anchor key, separated by `domain`; see
    /// [`Anchor::seal`].
    pub fn seal(&self, domain: &str, message: &[u8]) -> Result<String, RecorderError> {
        Ok(self.inner.anchor.seal(domain, message)?)
    }

    /// Opens the recorder on `db` with its anchor in `data_dir`, and starts the writer task.
    pub async fn open(
        db: &Database,
        data_dir: &Path,
        keys: KeySource,
        config: RecorderConfig,
    ) -> Result<Self, RecorderError> {
        let anchor = keys.anchor(data_dir).await?;
        let path = db.path().to_path_buf();
        let (mut writer_db, checkpointer) = on_blocking_thread(move || {
            let writer_db = WriterDb::open(&path)?;
            Ok((writer_db, Checkpointer::spawn(&path)?))
        })
        .await?;
        let shared = Arc::new(Shared::new(config.live_capacity));
        // Under the anchor's lock, the anchor is read before the database: another process's
        // anchor only ever certifies what it committed first, so the head read next cannot be
        // behind it unless events were removed.
        let lock = anchor.lock_async().await?;
        let a = anchor.clone();
        let (anchored, witnessed) =
            on_blocking_thread(move || Ok((a.read(), a.witnessed()?))).await?;
        let current = anchored.as_ref().ok().cloned().flatten();
        let (writer_db, (head, base)) = on_blocking_thread(move || {
            let state = writer_db.read_state()?;
            Ok((writer_db, state))
        })
        .await?;
        match anchor_conflict(db.pool(), anchored, witnessed, &head, &base).await? {
            // Already certified (or a later point: another process's retention that is pending
            // or just committed must keep its pending base).
            None if current
                .as_ref()
                .is_some_and(|c| !state_at(&head, &base).supersedes(c)) => {}
            None => {
                let a = anchor.clone();
                let state = state_at(&head, &base);
                tokio::task::spawn_blocking(move || a.write(&state))
                    .await
                    .map_err(|e| AnchorError::Write {
                        path: anchor.path().to_path_buf(),
                        source: std::io::Error::other(e),
                    })??;
            }
            Some(detail) => {
                tracing::error!(%detail, "flight recorder: the anchor does not match the database; leaving it as evidence, run `hsk recorder verify`");
                shared.anchor_frozen.store(true, Ordering::Relaxed);
            }
        }
        drop(lock);
        let (queue_tx, queue_rx) = mpsc::channel(config.queue_capacity.max(1));
        let (cmd_tx, cmd_rx) = mpsc::channel(256);
        let appender = Appender::spawn(writer_db, checkpointer, anchor.clone(), shared.clone())?;
        let writer = Writer::new(
            anchor.clone(),
            appender,
            shared.clone(),
            queue_rx,
            cmd_rx,
            &config,
            head,
        );
        tokio::spawn(writer.run());
        let recorder = Self {
            inner: Arc::new(Inner {
                pool: db.pool().clone(),
                db_path: db.path().to_path_buf(),
                anchor,
                queue: queue_tx,
                queue_capacity: config.queue_capacity.max(1),
                commands: cmd_tx,
                shared,
            }),
        };
        if let Some(days) = config.retention_days {
            recorder.apply_retention(days).await?;
        }
        Ok(recorder)
    }

    /// Queues an inference event for the batch writer; never waits. When the queue is full the
    /// event is dropped and counted (see [`RecorderStats::dropped_total`] and `dropped_before`).
    /// The correlation's trace, provider and model default to the event's own.
    pub fn record_inference(&self, event: LlmInference, correlation: Correlation) {
        let pending = PendingEvent {
            event_id: None,
            occurred_at_ms: unix_now_ms(),
            event: FlightEvent::LlmInference(event),
            correlation,
        };
        if self.inner.queue.try_send(pending).is_err() && self.inner.shared.count_drops(1) == 0 {
            // One line per run of drops; the count goes into the next event's `dropped_before`.
            tracing::warn!("flight recorder: inference events are being dropped (queue full or writer stopped); counting them");
        }
    }

    /// Writes a governance event and returns once it is committed durably (record before act).
    pub async fn append_durable(
        &self,
        event: FlightEvent,
        correlation: Correlation,
    ) -> Result<StoredEvent, RecorderError> {
        if !event.is_governance() {
            return Err(RecorderError::NotGovernance {
                event_type: event.event_type(),
            });
        }
        let pending = PendingEvent {
            event_id: Some(Uuid::now_v7()),
            occurred_at_ms: chrono::Utc::now().timestamp_millis(),
            event,
            correlation,
        };
        let (reply, rx) = oneshot::channel();
        self.send(Command::Durable {
            event: Box::new(pending),
            reply,
        })
        .await?;
        rx.await.map_err(|_| RecorderError::WriterGone)?
    }

    /// Returns once every inference event queued before the call is committed and anchored.
    pub async fn flush(&self) -> Result<(), RecorderError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Flush { reply }).await?;
        rx.await.map_err(|_| RecorderError::WriterGone)?
    }

    /// Commits what is queued and stops the writer. Later writes fail with `WriterGone` (inference
    /// events are counted as dropped).
    pub async fn shutdown(&self) -> Result<(), RecorderError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Shutdown { reply }).await?;
        rx.await.map_err(|_| RecorderError::WriterGone)?
    }

    /// Drops events older than `days` days through a recorded retention checkpoint.
    pub async fn apply_retention(
        &self,
        days: u32,
    ) -> Result<Option<RetentionCheckpoint>, RecorderError> {
        let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
        self.apply_retention_before(cutoff).await
    }

    /// Drops events that occurred before `cutoff` (a prefix of the chain) through a checkpoint.
    pub async fn apply_retention_before(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<RetentionCheckpoint>, RecorderError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Retention {
            cutoff_ms: cutoff.timestamp_millis(),
            reply,
        })
        .await?;
        rx.await.map_err(|_| RecorderError::WriterGone)?
    }

    async fn send(&self, cmd: Command) -> Result<(), RecorderError> {
        self.inner
            .commands
            .send(cmd)
            .await
            .map_err(|_| RecorderError::WriterGone)
    }

    /// Events matching `query`, in sequence order (paginate with `after_seq`).
    pub async fn query(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, RecorderError> {
        store::query(&self.inner.pool, query).await
    }

    /// The newest `n` events, oldest first.
    pub async fn tail(&self, n: u32) -> Result<Vec<StoredEvent>, RecorderError> {
        store::tail(&self.inner.pool, n).await
    }

    /// Every event committed from now on, in order (for the console). A subscriber that falls
    /// more than `live_capacity` behind gets `RecvError::Lagged` and can catch up with `query`.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.inner.shared.live.subscribe()
    }

    /// Walks the whole chain and checks the anchor and the witness ([`VerifyDepth::Full`]).
    pub async fn verify(&self) -> Result<VerifyReport, RecorderError> {
        self.verify_to(VerifyDepth::Full).await
    }

    /// [`FlightRecorder::verify`] at the given depth (incremental: from the verified mark).
    pub async fn verify_to(&self, depth: VerifyDepth) -> Result<VerifyReport, RecorderError> {
        verify::verify(&self.inner.db_path, &self.inner.anchor, depth).await
    }

    /// Writes the events matching `query` (all pages, from `after_seq`) as JSON Lines.
    pub async fn export_jsonl<W: tokio::io::AsyncWrite + Unpin>(
        &self,
        query: &EventQuery,
        out: &mut W,
    ) -> Result<u64, RecorderError> {
        export::export_jsonl(&self.inner.pool, query, out).await
    }

    /// Counters.
    pub fn stats(&self) -> RecorderStats {
        let s = &self.inner.shared;
        RecorderStats {
            committed: s.committed.load(Ordering::Relaxed),
            batches: s.batches.load(Ordering::Relaxed),
            dropped_total: s.dropped_total.load(Ordering::Relaxed),
            queued: (self.inner.queue_capacity - self.inner.queue.capacity()) as u64,
            anchor_failures: s.anchor_failures.load(Ordering::Relaxed),
            anchor_conflict: s.anchor_frozen.load(Ordering::Relaxed),
        }
    }
}

fn state_at(head: &ChainHead, base: &ChainHead) -> AnchorState {
    AnchorState {
        head: head.clone(),
        base: base.clone(),
        pending_base: None,
    }
}

/// Verifies a data directory without starting a writer (for `hsk recorder verify` while the app
/// may be running: it writes no event and never the anchor, only the verified mark), walking the
/// whole chain.
pub async fn verify_data_dir(
    db: &Database,
    data_dir: &Path,
    keys: KeySource,
) -> Result<VerifyReport, RecorderError> {
    verify_data_dir_to(db, data_dir, keys, VerifyDepth::Full).await
}

/// [`verify_data_dir`] at the given depth.
pub async fn verify_data_dir_to(
    db: &Database,
    data_dir: &Path,
    keys: KeySource,
    depth: VerifyDepth,
) -> Result<VerifyReport, RecorderError> {
    let anchor = keys.anchor(data_dir).await?;
    verify::verify(db.path(), &anchor, depth).await
}

/// Why the anchor (as just read) cannot be trusted to be extended, or `None` when it can (or is
/// absent on an empty log): the anchor's own checks, then the keychain's head witness (a log
/// behind it was rolled back or wiped, and extending it would move the witness past the evidence).
/// A cheap check: the full walk is [`verify()`].
async fn anchor_conflict(
    pool: &SqlitePool,
    anchored: Result<Option<AnchorState>, AnchorError>,
    witnessed: Option<ChainHead>,
    head: &ChainHead,
    base: &ChainHead,
) -> Result<Option<String>, RecorderError> {
    if let Some(conflict) = anchor_file_conflict(pool, anchored, head, base).await? {
        return Ok(Some(conflict));
    }
    let Some(witnessed) = witnessed else {
        return Ok(None);
    };
    if witnessed.seq > head.seq {
        return Ok(Some(format!(
            "the keychain witnessed event {} but the log ends at {} (rolled back or wiped)",
            witnessed.seq, head.seq
        )));
    }
    Ok(hash_at(pool, witnessed.seq)
        .await?
        .filter(|hash| *hash != witnessed.hash)
        .map(|_| {
            format!(
                "event {} is not the one the keychain witnessed (the log was replaced)",
                witnessed.seq
            )
        }))
}

/// The hash of event `seq`, if it is in the database.
async fn hash_at(pool: &SqlitePool, seq: i64) -> Result<Option<String>, RecorderError> {
    Ok(
        sqlx::query_scalar("SELECT hash FROM flight_events WHERE seq = ?")
            .bind(seq)
            .fetch_optional(pool)
            .await?,
    )
}

/// The anchor file's part of [`anchor_conflict`].
async fn anchor_file_conflict(
    pool: &SqlitePool,
    anchored: Result<Option<AnchorState>, AnchorError>,
    head: &ChainHead,
    base: &ChainHead,
) -> Result<Option<String>, RecorderError> {
    let anchored = match anchored {
        Ok(a) => a,
        Err(AnchorError::Malformed { .. } | AnchorError::BadSignature { .. }) => {
            return Ok(Some(
                "the anchor file is malformed or signed with another key".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let Some(anchored) = anchored else {
        return Ok(
            (head.seq != 0).then(|| "events exist but the anchor file is missing".to_owned())
        );
    };
    if !anchored.knows_base(base) {
        return Ok(Some(
            "the retention checkpoint is not the one the anchor records".to_owned(),
        ));
    }
    let anchored = anchored.head;
    if anchored.seq > head.seq {
        return Ok(Some(format!(
            "the anchor records event {} but the log ends at {}",
            anchored.seq, head.seq
        )));
    }
    Ok(match hash_at(pool, anchored.seq).await? {
        Some(hash) if hash != anchored.hash => Some(format!(
            "event {} does not have the anchored hash",
            anchored.seq
        )),
        _ => None,
    })
}

/// Runs blocking database work (the writer's connection is synchronous) off the async threads.
async fn on_blocking_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RecorderError> + Send + 'static,
) -> Result<T, RecorderError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| RecorderError::WriterGone)?
}

/// Milliseconds since the Unix epoch (the clock read on the call path, without `chrono`'s
/// calendar conversion).
fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_path_clock_agrees_with_chrono() {
        let before = chrono::Utc::now().timestamp_millis();
        let now = unix_now_ms();
        let after = chrono::Utc::now().timestamp_millis();
        assert!(
            before <= now && now <= after,
            "{before} <= {now} <= {after}"
        );
    }
}

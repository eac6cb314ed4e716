//! The writer's database stage: a thread of its own that owns the writer's connection
//! ([`WriterDb`]) and runs its transactions (appending encoded batches, applying retention), so
//! that the writer task encodes the next batch while this one is being inserted.
//!
//! Jobs run one at a time, in the order they were sent.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use super::anchor::{Anchor, AnchorState};
use super::checkpointer::Checkpointer;
use super::store::{ChainHead, PreparedBatch, RetentionCheckpoint, WrittenRow};
use super::writer::Shared;
use super::writer_db::WriterDb;
use super::RecorderError;

/// A committed append: the rows as written and the retention base they extend.
pub(crate) struct Appended {
    pub rows: Vec<WrittenRow>,
    pub base: ChainHead,
}

/// A committed retention: its checkpoint and the anchor state it leaves.
pub(crate) struct Retained {
    pub checkpoint: RetentionCheckpoint,
    pub anchor: AnchorState,
}

/// The answer to an append, awaited by the writer when it settles the batch.
pub(crate) type AppendReply = oneshot::Receiver<Result<Appended, RecorderError>>;

enum Job {
    Append {
        batch: PreparedBatch,
        reply: oneshot::Sender<Result<Appended, RecorderError>>,
    },
    Retention {
        cutoff_ms: i64,
        reply: oneshot::Sender<Result<Option<Retained>, RecorderError>>,
    },
}

/// The writer's handle on the database stage.
pub(crate) struct Appender {
    jobs: mpsc::Sender<Job>,
    thread: JoinHandle<()>,
}

impl Appender {
    /// Starts the stage's thread on `db`; it nudges `checkpointer` as it appends and closes it
    /// when it ends.
    pub fn spawn(
        db: WriterDb,
        checkpointer: Checkpointer,
        anchor: Anchor,
        shared: Arc<Shared>,
    ) -> Result<Self, RecorderError> {
        // One job waiting behind the one running is enough to keep the connection busy.
        let (jobs, rx) = mpsc::channel(1);
        let stage = Stage {
            db,
            checkpointer,
            anchor,
            shared,
            jobs: rx,
        };
        let thread = std::thread::Builder::new()
            .name("flight-recorder-db".into())
            .spawn(move || stage.run())
            .map_err(RecorderError::Thread)?;
        Ok(Self { jobs, thread })
    }

    /// Hands `batch` over for appending; the returned receiver answers once it is committed.
    pub async fn append(&self, batch: PreparedBatch) -> Result<AppendReply, RecorderError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Append { batch, reply })
            .await
            .map_err(|_| RecorderError::WriterGone)?;
        Ok(answer)
    }

    /// Drops the events older than `cutoff_ms` (see [`WriterDb::retention`]).
    pub async fn retention(&self, cutoff_ms: i64) -> Result<Option<Retained>, RecorderError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Retention { cutoff_ms, reply })
            .await
            .map_err(|_| RecorderError::WriterGone)?;
        answer.await.map_err(|_| RecorderError::WriterGone)?
    }

    /// Finishes the jobs already sent and closes the connection.
    pub async fn close(self) {
        drop(self.jobs);
        let thread = self.thread;
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(())) => {}
            _ => tracing::error!("flight recorder: the database stage ended abnormally"),
        }
    }
}

struct Stage {
    db: WriterDb,
    checkpointer: Checkpointer,
    anchor: Anchor,
    shared: Arc<Shared>,
    jobs: mpsc::Receiver<Job>,
}

impl Stage {
    fn run(mut self) {
        while let Some(job) = self.jobs.blocking_recv() {
            match job {
                Job::Append { mut batch, reply } => {
                    let result = self.db.append(&mut batch).map(|base| Appended {
                        rows: batch.rows,
                        base,
                    });
                    if let Ok(appended) = &result {
                        self.checkpointer.appended(appended.rows.len());
                    }
                    let _ = reply.send(result);
                }
                Job::Retention { cutoff_ms, reply } => {
                    let _ = reply.send(self.retention(cutoff_ms));
                }
            }
        }
        self.checkpointer.close();
    }

    /// Retention in one transaction. The anchor learns of the new checkpoint as *pending* before
    /// the commit (a failure there aborts the retention) and as the base after it (by the writer,
    /// from the returned state), so a crash on either side verifies, while a checkpoint the
    /// anchor never saw shows as deleted events.
    fn retention(&mut self, cutoff_ms: i64) -> Result<Option<Retained>, RecorderError> {
        let now = chrono::Utc::now().timestamp_millis();
        let frozen = self.shared.anchor_frozen.load(Ordering::Relaxed);
        let anchor = &self.anchor;
        let retained = self
            .db
            .retention(cutoff_ms, now, |head, old_base, new_base| {
                if frozen {
                    return Ok(());
                }
                // Written whatever the anchor holds: the transaction holds the database's write
                // lock, so `head` is the newest committed event and no anchor can be ahead of it.
                let _lock = anchor.lock()?;
                anchor.write(&AnchorState {
                    head: head.clone(),
                    base: old_base.clone(),
                    pending_base: Some(new_base.clone()),
                })?;
                Ok(())
            })?;
        Ok(retained.map(|(checkpoint, head)| Retained {
            anchor: AnchorState {
                head,
                base: ChainHead {
                    seq: checkpoint.last_seq,
                    hash: checkpoint.last_hash.clone(),
                },
                pending_base: None,
            },
            checkpoint,
        }))
    }
}

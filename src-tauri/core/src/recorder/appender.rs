//! The writer's database stage: owns the writer's connection and runs its transactions (appending
//! encoded batches, applying retention) in a task of its own, so that the writer encodes the next
//! batch while this one is being inserted.
//!
//! Jobs run one at a time, in the order they were sent. Each append is one `BEGIN IMMEDIATE`
//! transaction that reads the retention base and the head inside it, relinks the batch if the
//! head is not the one it was encoded against (another process appended, or an earlier batch was
//! rolled back), inserts and commits.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::anchor::{Anchor, AnchorError, AnchorState};
use super::store::{self, ChainHead, PreparedBatch, RetentionCheckpoint, WrittenRow};
use super::writer::Shared;
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
    task: JoinHandle<()>,
}

impl Appender {
    pub fn spawn(conn: SqliteConnection, anchor: Anchor, shared: Arc<Shared>) -> Self {
        // One job waiting behind the one running is enough to keep the connection busy.
        let (jobs, rx) = mpsc::channel(1);
        let stage = Stage {
            conn,
            anchor,
            shared,
            jobs: rx,
        };
        Self {
            jobs,
            task: tokio::spawn(stage.run()),
        }
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

    /// Drops the events older than `cutoff_ms` (see [`store::apply_retention`]).
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
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "flight recorder: the database stage ended abnormally");
        }
    }
}

struct Stage {
    conn: SqliteConnection,
    anchor: Anchor,
    shared: Arc<Shared>,
    jobs: mpsc::Receiver<Job>,
}

impl Stage {
    async fn run(mut self) {
        while let Some(job) = self.jobs.recv().await {
            match job {
                Job::Append { batch, reply } => {
                    let _ = reply.send(self.append(batch).await);
                }
                Job::Retention { cutoff_ms, reply } => {
                    let _ = reply.send(self.retention(cutoff_ms).await);
                }
            }
        }
        let _ = self.conn.close().await;
    }

    async fn append(&mut self, mut batch: PreparedBatch) -> Result<Appended, RecorderError> {
        let mut tx = self.conn.begin_with("BEGIN IMMEDIATE").await?;
        let base = store::read_base(&mut tx).await?;
        store::insert_prepared(&mut tx, &mut batch).await?;
        tx.commit().await?;
        Ok(Appended {
            rows: batch.rows,
            base,
        })
    }

    /// Retention in one transaction. The anchor learns of the new checkpoint as *pending* before
    /// the commit (a failure there aborts the retention) and as the base after it (by the writer,
    /// from the returned state), so a crash on either side verifies, while a checkpoint the
    /// anchor never saw shows as deleted events.
    async fn retention(&mut self, cutoff_ms: i64) -> Result<Option<Retained>, RecorderError> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut tx = self.conn.begin_with("BEGIN IMMEDIATE").await?;
        let old_base = store::read_base(&mut tx).await?;
        let Some(checkpoint) = store::apply_retention(&mut tx, cutoff_ms, now).await? else {
            return Ok(None);
        };
        let head = store::read_head(&mut tx).await?;
        let new_base = ChainHead {
            seq: checkpoint.last_seq,
            hash: checkpoint.last_hash.clone(),
        };
        if !self.shared.anchor_frozen.load(Ordering::Relaxed) {
            // Written whatever the anchor holds: this transaction holds the database's write lock,
            // so `head` is the newest committed event and no anchor can be ahead of it.
            let anchor = self.anchor.clone();
            let pending = AnchorState {
                head: head.clone(),
                base: old_base,
                pending_base: Some(new_base.clone()),
            };
            tokio::task::spawn_blocking(move || {
                let _lock = anchor.lock()?;
                anchor.write(&pending)
            })
            .await
            .map_err(|e| AnchorError::Write {
                path: self.anchor.path().to_path_buf(),
                source: std::io::Error::other(e),
            })??;
        }
        tx.commit().await?;
        Ok(Some(Retained {
            checkpoint,
            anchor: AnchorState {
                head,
                base: new_base,
                pending_base: None,
            },
        }))
    }
}

//! The single writer task: the only code that appends to `flight_events`.
//!
//! Inference events arrive on a bounded queue and are committed in batches, one transaction per
//! batch. Governance events, flushes, retention and shutdown arrive on a command channel and are
//! answered only after their transaction is committed (with `synchronous=FULL` on the writer's own
//! connection, so the commit is durable) and the anchor was advanced. Committed events are then
//! broadcast to live subscribers.
//!
//! Another process (the app and `hsk`) may run its own writer on the same database: each batch
//! reads the head and the retention base inside its `BEGIN IMMEDIATE` transaction, so the chain
//! stays one chain, and the anchor only ever moves forward ([`Anchor::advance`]).
//!
//! Queue-full policy: the producer never waits (an inference is recorded from a `Drop` as well,
//! where waiting is impossible); the event is dropped, `dropped_total` counts it and the next
//! inference event written carries the count in `dropped_before`. Nothing is dropped silently.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::{Connection, SqliteConnection};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::anchor::{Anchor, AnchorError, AnchorState};
use super::events::FlightEvent;
use super::store::{self, ChainHead, PendingEvent, RetentionCheckpoint, StoredEvent, WrittenRow};
use super::RecorderError;

/// Counters shared by the writer and the handles.
#[derive(Debug)]
pub(crate) struct Shared {
    pub committed: AtomicU64,
    pub batches: AtomicU64,
    pub dropped_total: AtomicU64,
    /// Drops not yet recorded in an event's `dropped_before`.
    pub pending_drops: AtomicU64,
    pub anchor_failures: AtomicU64,
    /// Set when the anchor did not match the database at open: the anchor is then left as it was,
    /// so verification keeps showing the conflict.
    pub anchor_frozen: AtomicBool,
    pub live: broadcast::Sender<Arc<StoredEvent>>,
}

impl Shared {
    pub fn new(live_capacity: usize) -> Self {
        Self {
            committed: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            dropped_total: AtomicU64::new(0),
            pending_drops: AtomicU64::new(0),
            anchor_failures: AtomicU64::new(0),
            anchor_frozen: AtomicBool::new(false),
            live: broadcast::channel(live_capacity.max(1)).0,
        }
    }

    /// Counts `n` dropped events; returns how many were already waiting to be recorded (0 means
    /// this starts a new run of drops, the moment worth a log line).
    pub fn count_drops(&self, n: u64) -> u64 {
        self.dropped_total.fetch_add(n, Ordering::Relaxed);
        self.pending_drops.fetch_add(n, Ordering::Relaxed)
    }
}

/// A request to the writer that is answered after commit.
pub(crate) enum Command {
    Durable {
        event: Box<PendingEvent>,
        reply: oneshot::Sender<Result<StoredEvent, RecorderError>>,
    },
    Flush {
        reply: oneshot::Sender<Result<(), RecorderError>>,
    },
    Retention {
        cutoff_ms: i64,
        reply: oneshot::Sender<Result<Option<RetentionCheckpoint>, RecorderError>>,
    },
    Shutdown {
        reply: oneshot::Sender<Result<(), RecorderError>>,
    },
}

pub(crate) struct Writer {
    pub conn: SqliteConnection,
    pub anchor: Anchor,
    pub queue: mpsc::Receiver<PendingEvent>,
    pub commands: mpsc::Receiver<Command>,
    pub shared: Arc<Shared>,
    pub max_batch: usize,
}

impl Writer {
    /// Runs until shutdown, or until every handle is gone (then drains the queue first).
    pub async fn run(mut self) {
        let mut queue_open = true;
        loop {
            tokio::select! {
                biased;
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Shutdown { reply }) => {
                        self.queue.close();
                        let result = self.drain().await;
                        let _ = reply.send(result);
                        break;
                    }
                    Some(cmd) => self.handle(cmd).await,
                    None => {
                        self.queue.close();
                        if let Err(e) = self.drain().await {
                            tracing::error!(error = %e, "flight recorder: final drain failed");
                        }
                        break;
                    }
                },
                ev = self.queue.recv(), if queue_open => match ev {
                    Some(ev) => {
                        let mut batch = vec![ev];
                        self.fill(&mut batch);
                        self.commit_queued(batch).await;
                    }
                    None => queue_open = false,
                },
            }
        }
        let _ = self.conn.close().await;
    }

    async fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Durable { event, reply } => {
                let mut batch = Vec::new();
                self.fill(&mut batch);
                let queued = batch.len();
                batch.push(*event);
                let result = self.commit(batch).await;
                let result = match result {
                    Ok(mut written) => written
                        .pop()
                        .ok_or(RecorderError::WriterGone)
                        .and_then(|row| row.to_stored()),
                    Err(e) => {
                        self.shared.count_drops(queued as u64);
                        Err(e)
                    }
                };
                let _ = reply.send(result);
            }
            Command::Flush { reply } => {
                let _ = reply.send(self.drain().await);
            }
            Command::Retention { cutoff_ms, reply } => {
                let result = self.retention(cutoff_ms).await;
                let _ = reply.send(result);
            }
            Command::Shutdown { reply } => {
                let _ = reply.send(Ok(()));
            }
        }
    }

    /// Moves what is queued into `batch`, up to the batch size.
    fn fill(&mut self, batch: &mut Vec<PendingEvent>) {
        while batch.len() < self.max_batch {
            match self.queue.try_recv() {
                Ok(ev) => batch.push(ev),
                Err(_) => break,
            }
        }
    }

    /// Commits everything queued now.
    async fn drain(&mut self) -> Result<(), RecorderError> {
        let mut first_error = None;
        loop {
            let mut batch = Vec::new();
            self.fill(&mut batch);
            if batch.is_empty() {
                break;
            }
            let n = batch.len() as u64;
            if let Err(e) = self.commit(batch).await {
                self.shared.count_drops(n);
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn commit_queued(&mut self, batch: Vec<PendingEvent>) {
        let n = batch.len() as u64;
        if let Err(e) = self.commit(batch).await {
            self.shared.count_drops(n);
            tracing::error!(error = %e, events = n, "flight recorder: a batch of inference events could not be committed");
        }
    }

    async fn commit(
        &mut self,
        mut batch: Vec<PendingEvent>,
    ) -> Result<Vec<WrittenRow>, RecorderError> {
        let drops = self.shared.pending_drops.swap(0, Ordering::Relaxed);
        let mut carried = drops == 0;
        if !carried {
            if let Some(FlightEvent::LlmInference(inf)) = batch
                .iter_mut()
                .map(|p| &mut p.event)
                .find(|e| matches!(e, FlightEvent::LlmInference(_)))
            {
                inf.dropped_before = Some(drops);
                carried = true;
            }
        }
        let result = self.transact(batch).await;
        if !carried || result.is_err() {
            self.shared
                .pending_drops
                .fetch_add(drops, Ordering::Relaxed);
        }
        let (stored, base) = result?;
        if let Some(last) = stored.last() {
            self.advance_anchor(AnchorState {
                head: ChainHead {
                    seq: last.seq,
                    hash: last.hash.clone(),
                },
                base,
                pending_base: None,
            })
            .await;
        }
        self.shared
            .committed
            .fetch_add(stored.len() as u64, Ordering::Relaxed);
        self.shared.batches.fetch_add(1, Ordering::Relaxed);
        // The events are built for the broadcast only when someone listens (the common case is
        // nobody, and building them is a large share of a batch's CPU time).
        if self.shared.live.receiver_count() > 0 {
            for row in &stored {
                match row.to_stored() {
                    Ok(ev) => {
                        let _ = self.shared.live.send(Arc::new(ev));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, seq = row.seq, "flight recorder: a committed event could not be broadcast");
                    }
                }
            }
        }
        Ok(stored)
    }

    /// Appends `batch` in one transaction; returns the rows and the retention base they extend.
    async fn transact(
        &mut self,
        batch: Vec<PendingEvent>,
    ) -> Result<(Vec<WrittenRow>, ChainHead), RecorderError> {
        let mut tx = self.conn.begin_with("BEGIN IMMEDIATE").await?;
        let base = store::read_base(&mut tx).await?;
        let stored = store::insert_batch(&mut tx, batch).await?;
        tx.commit().await?;
        Ok((stored, base))
    }

    /// Retention in one transaction. The anchor learns of the new checkpoint as *pending* before
    /// the commit (a failure there aborts the retention) and as the base after it, so a crash on
    /// either side verifies, while a checkpoint the anchor never saw shows as deleted events.
    async fn retention(
        &mut self,
        cutoff_ms: i64,
    ) -> Result<Option<RetentionCheckpoint>, RecorderError> {
        self.drain().await?;
        let now = chrono::Utc::now().timestamp_millis();
        let mut tx = self.conn.begin_with("BEGIN IMMEDIATE").await?;
        let old_base = store::read_base(&mut tx).await?;
        let Some(cp) = store::apply_retention(&mut tx, cutoff_ms, now).await? else {
            return Ok(None);
        };
        let head = store::read_head(&mut tx).await?;
        let new_base = ChainHead {
            seq: cp.last_seq,
            hash: cp.last_hash.clone(),
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
        self.advance_anchor(AnchorState {
            head,
            base: new_base,
            pending_base: None,
        })
        .await;
        Ok(Some(cp))
    }

    /// Moves the anchor forward to `state` after a durable commit (unless another process already
    /// anchored a later point). A failure is counted and logged, never fatal: the anchor is then
    /// behind the head, which verification accepts.
    async fn advance_anchor(&self, state: AnchorState) {
        if self.shared.anchor_frozen.load(Ordering::Relaxed) {
            return;
        }
        let anchor = self.anchor.clone();
        let result = tokio::task::spawn_blocking(move || anchor.advance(&state)).await;
        let failed = match result {
            Ok(Ok(_)) => return,
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        self.shared.anchor_failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!(error = %failed, "flight recorder: the anchor could not be written");
    }
}

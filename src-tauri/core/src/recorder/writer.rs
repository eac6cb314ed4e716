//! The single writer task: the only code that appends to `flight_events`.
//!
//! Inference events arrive on a bounded queue and are committed in batches, one transaction per
//! batch. Governance events, flushes, retention and shutdown arrive on a command channel and are
//! answered only after their transaction is committed (with `synchronous=FULL` on the writer's own
//! connection, so the commit is durable) and the anchor was advanced. After a batch of inference
//! events the anchor is advanced by the [`AnchorKeeper`] while the writer goes on with the next
//! batch. Committed events are then broadcast to live subscribers.
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
use std::time::Duration;

use sqlx::{Connection, SqliteConnection};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::anchor::{Anchor, AnchorError, AnchorState};
use super::anchor_keeper::{self, AnchorKeeper};
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
    /// Advances the anchor after inference batches, off this task's path.
    pub keeper: AnchorKeeper,
    pub queue: mpsc::Receiver<PendingEvent>,
    pub commands: mpsc::Receiver<Command>,
    pub shared: Arc<Shared>,
    pub max_batch: usize,
    /// How long a batch of inference events that is not full waits for more (group commit).
    pub linger: Duration,
}

/// What the writer's loop does next. Lives on the stack for one turn of the loop; boxing the
/// event would cost an allocation per event for nothing.
#[allow(clippy::large_enum_variant)]
enum Next {
    Command(Option<Command>),
    Event(Option<PendingEvent>),
}

type ShutdownReply = (
    oneshot::Sender<Result<(), RecorderError>>,
    Result<(), RecorderError>,
);

impl Writer {
    /// Runs until shutdown, or until every handle is gone (then drains the queue first).
    pub async fn run(mut self) {
        let mut queue_open = true;
        let mut shutdown = None;
        loop {
            let next = tokio::select! {
                biased;
                cmd = self.commands.recv() => Next::Command(cmd),
                ev = self.queue.recv(), if queue_open => Next::Event(ev),
            };
            let stop = match next {
                Next::Command(cmd) => self.on_command(cmd, &mut shutdown).await,
                Next::Event(Some(ev)) => {
                    let mut batch = vec![ev];
                    let interrupted = self.gather(&mut batch).await;
                    self.commit_queued(batch).await;
                    match interrupted {
                        Some(cmd) => self.on_command(cmd, &mut shutdown).await,
                        None => false,
                    }
                }
                Next::Event(None) => {
                    queue_open = false;
                    false
                }
            };
            if stop {
                break;
            }
        }
        // The last anchor is written before shutdown returns.
        self.keeper.close().await;
        let _ = self.conn.close().await;
        if let Some((reply, result)) = shutdown {
            let _ = reply.send(result);
        }
    }

    /// Handles a command (or the end of the command channel); returns whether to stop.
    async fn on_command(
        &mut self,
        cmd: Option<Command>,
        shutdown: &mut Option<ShutdownReply>,
    ) -> bool {
        match cmd {
            Some(Command::Shutdown { reply }) => {
                self.queue.close();
                *shutdown = Some((reply, self.drain().await));
                true
            }
            Some(cmd) => {
                self.handle(cmd).await;
                false
            }
            None => {
                self.queue.close();
                if let Err(e) = self.drain().await {
                    tracing::error!(error = %e, "flight recorder: final drain failed");
                }
                true
            }
        }
    }

    /// Fills `batch` with what is queued and, if it is not full, lingers once and fills it again
    /// (group commit: at a few events per millisecond one transaction, fsync and anchor serve
    /// many events instead of one each). The linger is one sleep, not a wake per event, so the
    /// writer stays off the CPU the calls being recorded need. A command ends it at once and is
    /// returned, to be handled right after this batch is committed.
    async fn gather(&mut self, batch: &mut Vec<PendingEvent>) -> Option<Option<Command>> {
        self.fill(batch);
        if self.linger.is_zero() || batch.len() >= self.max_batch {
            return None;
        }
        let interrupted = tokio::select! {
            biased;
            cmd = self.commands.recv() => Some(cmd),
            () = tokio::time::sleep(self.linger) => None,
        };
        self.fill(batch);
        interrupted
    }

    async fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Durable { event, reply } => {
                let mut batch = Vec::new();
                self.fill(&mut batch);
                let queued = batch.len();
                batch.push(*event);
                let result = self.commit(batch, Anchoring::Wait).await;
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
                let result = self.drain().await;
                self.keeper.caught_up().await;
                let _ = reply.send(result);
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
            if let Err(e) = self.commit(batch, Anchoring::Background).await {
                self.shared.count_drops(n);
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn commit_queued(&mut self, batch: Vec<PendingEvent>) {
        let n = batch.len() as u64;
        if let Err(e) = self.commit(batch, Anchoring::Background).await {
            self.shared.count_drops(n);
            tracing::error!(error = %e, events = n, "flight recorder: a batch of inference events could not be committed");
        }
    }

    async fn commit(
        &mut self,
        mut batch: Vec<PendingEvent>,
        anchoring: Anchoring,
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
            let state = AnchorState {
                head: ChainHead {
                    seq: last.seq,
                    hash: last.hash.clone(),
                },
                base,
                pending_base: None,
            };
            match anchoring {
                Anchoring::Wait => self.advance_anchor(state).await,
                Anchoring::Background => self.keeper.submit(state),
            }
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
        anchor_keeper::advance(&self.anchor, &self.shared, state).await;
    }
}

/// When the anchor is advanced after a commit.
#[derive(Clone, Copy)]
enum Anchoring {
    /// Before the commit is answered: governance events (record before act).
    Wait,
    /// By the [`AnchorKeeper`], while the writer goes on: inference batches nobody waits on.
    Background,
}

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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};

use super::anchor::{Anchor, AnchorState};
use super::anchor_keeper::{self, AnchorKeeper};
use super::appender::{AppendReply, Appended, Appender};
use super::events::FlightEvent;
use super::store::{
    ChainHead, PendingEvent, PreparedBatch, RetentionCheckpoint, StoredEvent, WrittenRow,
};
use super::{RecorderConfig, RecorderError};

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
    anchor: Anchor,
    /// Advances the anchor after inference batches, off this task's path.
    keeper: AnchorKeeper,
    /// Runs the transactions on the writer's connection while this task encodes the next batch.
    appender: Appender,
    queue: mpsc::Receiver<PendingEvent>,
    commands: mpsc::Receiver<Command>,
    shared: Arc<Shared>,
    max_batch: usize,
    /// How long a batch of inference events that is not full waits for more (group commit).
    linger: Duration,
    /// The head the next batch is encoded against: the last row of the last batch handed to the
    /// appender. `None` after a batch was relinked or failed (the prediction is off until the
    /// batches in flight are settled).
    predicted: Option<ChainHead>,
    /// The head after the last batch that was committed, `None` after a failure.
    last_committed: Option<ChainHead>,
    /// Batches handed to the appender and not yet settled, oldest first (at most two).
    in_flight: VecDeque<InFlight>,
    /// The first failure since the last drain that no caller was waiting for.
    unreported: Option<RecorderError>,
}

/// A batch handed to the appender: what settling it needs.
pub(crate) struct InFlight {
    reply: AppendReply,
    /// Inference events in the batch (counted as dropped if it fails).
    events: u64,
    /// Drops carried in this batch's `dropped_before`, to be carried again if it fails.
    carried_drops: u64,
    /// The last row's place in the chain as encoded (`None`: encoded unlinked).
    expected_last: Option<ChainHead>,
    anchoring: Anchoring,
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
    /// A writer whose chain is at `head`, reading `queue` and `commands`, inserting through
    /// `appender`; it starts its anchor keeper.
    pub fn new(
        anchor: Anchor,
        appender: Appender,
        shared: Arc<Shared>,
        queue: mpsc::Receiver<PendingEvent>,
        commands: mpsc::Receiver<Command>,
        config: &RecorderConfig,
        head: ChainHead,
    ) -> Self {
        Self {
            keeper: AnchorKeeper::spawn(anchor.clone(), shared.clone()),
            anchor,
            appender,
            queue,
            commands,
            shared,
            max_batch: config.max_batch.max(1),
            linger: config.batch_linger,
            predicted: Some(head.clone()),
            last_committed: Some(head),
            in_flight: VecDeque::new(),
            unreported: None,
        }
    }

    /// Runs until shutdown, or until every handle is gone (then drains the queue first).
    pub async fn run(mut self) {
        let mut queue_open = true;
        let mut shutdown = None;
        loop {
            let next = if self.in_flight.is_empty() {
                tokio::select! {
                    biased;
                    cmd = self.commands.recv() => Next::Command(cmd),
                    ev = self.queue.recv(), if queue_open => Next::Event(ev),
                }
            } else {
                // Something is being inserted: take what is queued now, or else settle it (its
                // anchor, counters and broadcast are not delayed by an idle queue).
                match self.commands.try_recv() {
                    Ok(cmd) => Next::Command(Some(cmd)),
                    Err(_) => match self.queue.try_recv() {
                        Ok(ev) => Next::Event(Some(ev)),
                        Err(_) => {
                            let settled = self.settle_all().await;
                            self.keep_unreported(settled);
                            continue;
                        }
                    },
                }
            };
            let stop = match next {
                Next::Command(cmd) => self.on_command(cmd, &mut shutdown).await,
                Next::Event(Some(ev)) => {
                    let mut batch = vec![ev];
                    let interrupted = self.gather(&mut batch).await;
                    let submitted = self.submit(batch, Anchoring::Background).await;
                    self.keep_unreported(submitted);
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
        let settled = self.settle_all().await;
        self.keep_unreported(settled);
        // The last anchor is written before shutdown returns.
        self.keeper.close().await;
        self.appender.close().await;
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
    /// writer stays off the CPU the calls being recorded need (a batch in flight is settled after
    /// it, at most one linger later). A command ends it at once and is returned, to be handled
    /// right after this batch is handed over.
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
                // Whatever is in flight first, so that the reply below is this batch's.
                let settled = self.settle_all().await;
                self.keep_unreported(settled);
                let mut batch = Vec::new();
                self.fill(&mut batch);
                batch.push(*event);
                let result = match self.submit(batch, Anchoring::Wait).await {
                    Ok(()) => self.settle_oldest().await.and_then(|written| {
                        written
                            .last()
                            .ok_or(RecorderError::WriterGone)
                            .and_then(|row| row.to_stored())
                    }),
                    Err(e) => Err(e),
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
        self.fill_up_to(batch, self.max_batch);
    }

    /// Moves what is queued into `batch` until it holds `limit` events.
    fn fill_up_to(&mut self, batch: &mut Vec<PendingEvent>, limit: usize) {
        while batch.len() < limit {
            match self.queue.try_recv() {
                Ok(ev) => batch.push(ev),
                Err(_) => break,
            }
        }
    }

    /// Commits everything queued now; returns the first failure since the last drain (a batch
    /// that failed earlier, while nobody waited on it, included).
    async fn drain(&mut self) -> Result<(), RecorderError> {
        let unreported = self.unreported.take();
        let drained = self.commit_queued().await;
        unreported.map_or(drained, Err)
    }

    /// Commits everything queued now (not what arrives meanwhile: under a flood that never
    /// pauses the queue is never empty, and a flush must still return); returns the first
    /// failure among these batches (and the ones in flight).
    async fn commit_queued(&mut self) -> Result<(), RecorderError> {
        let mut first_error = self.settle_all().await.err();
        let mut remaining = self.queue.len();
        while remaining > 0 {
            let mut batch = Vec::new();
            self.fill_up_to(&mut batch, remaining.min(self.max_batch));
            if batch.is_empty() {
                break;
            }
            remaining -= batch.len();
            if let Err(e) = self.submit(batch, Anchoring::Background).await {
                first_error.get_or_insert(e);
            }
        }
        if let Err(e) = self.settle_all().await {
            first_error.get_or_insert(e);
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Encodes `batch` and hands it to the appender; settles the previous batch while this one
    /// waits its turn, so that at most two are in flight. Errors of a settled batch are counted
    /// and logged there and returned; a batch that cannot be handed over is counted as dropped.
    async fn submit(
        &mut self,
        mut batch: Vec<PendingEvent>,
        anchoring: Anchoring,
    ) -> Result<(), RecorderError> {
        let mut result = Ok(());
        if self.predicted.is_none() {
            result = self.settle_all().await;
            self.predicted = self.last_committed.clone();
        }
        // A governance event that fails is its caller's error (the action does not proceed), not
        // a drop: only inference events are counted as lost.
        let events = batch
            .iter()
            .filter(|p| matches!(p.event, FlightEvent::LlmInference(_)))
            .count() as u64;
        let carried_drops = self.carry_drops(&mut batch);
        let handed = match PreparedBatch::encode(batch, self.predicted.as_ref()) {
            Ok(prepared) => {
                let expected_last = self.predicted.as_ref().and(prepared.last());
                self.appender
                    .append(prepared)
                    .await
                    .map(|reply| (reply, expected_last))
            }
            Err(e) => Err(e),
        };
        let (reply, expected_last) = match handed {
            Ok(handed) => handed,
            Err(e) => {
                self.lost(events, carried_drops, &e);
                self.predicted = None;
                return result.and(Err(e));
            }
        };
        self.predicted.clone_from(&expected_last);
        self.in_flight.push_back(InFlight {
            reply,
            events,
            carried_drops,
            expected_last,
            anchoring,
        });
        while self.in_flight.len() > 1 {
            if let Err(e) = self.settle_oldest().await {
                result = result.and(Err(e));
            }
        }
        result
    }

    /// Keeps the first failure that nobody is waiting for, for the next flush or shutdown to
    /// report (it was already counted and logged).
    fn keep_unreported(&mut self, result: Result<(), RecorderError>) {
        if let Err(e) = result {
            self.unreported.get_or_insert(e);
        }
    }

    /// Puts the count of drops not yet recorded into the first inference event of `batch`;
    /// returns it (0 when there were none or nowhere to put them).
    fn carry_drops(&self, batch: &mut [PendingEvent]) -> u64 {
        let drops = self.shared.pending_drops.swap(0, Ordering::Relaxed);
        if drops == 0 {
            return 0;
        }
        match batch.iter_mut().find_map(|p| match &mut p.event {
            FlightEvent::LlmInference(inf) => Some(inf),
            _ => None,
        }) {
            Some(inf) => {
                inf.dropped_before = Some(drops);
                drops
            }
            None => {
                self.shared
                    .pending_drops
                    .fetch_add(drops, Ordering::Relaxed);
                0
            }
        }
    }

    /// Counts a batch that was not committed as dropped (and its carried drops as still to be
    /// recorded).
    fn lost(&self, events: u64, carried_drops: u64, error: &RecorderError) {
        self.shared
            .pending_drops
            .fetch_add(carried_drops, Ordering::Relaxed);
        self.shared.count_drops(events);
        tracing::error!(error = %error, events, "flight recorder: a batch of events could not be committed");
    }

    /// Settles every batch in flight; returns the first failure.
    async fn settle_all(&mut self) -> Result<(), RecorderError> {
        let mut first_error = None;
        while !self.in_flight.is_empty() {
            if let Err(e) = self.settle_oldest().await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Waits for the oldest batch in flight to be committed, then anchors, counts and broadcasts
    /// it. Returns its rows.
    async fn settle_oldest(&mut self) -> Result<Vec<WrittenRow>, RecorderError> {
        let Some(flight) = self.in_flight.pop_front() else {
            return Ok(Vec::new());
        };
        let result = match flight.reply.await {
            Ok(result) => result,
            Err(_) => Err(RecorderError::WriterGone),
        };
        let Appended { rows, base } = match result {
            Ok(appended) => appended,
            Err(e) => {
                self.lost(flight.events, flight.carried_drops, &e);
                self.predicted = None;
                self.last_committed = None;
                return Err(e);
            }
        };
        let Some(last) = rows.last() else {
            return Ok(rows);
        };
        let head = ChainHead {
            seq: last.seq,
            hash: last.hash.clone(),
        };
        if flight.expected_last.as_ref() != Some(&head) {
            // Relinked: the batches after it were encoded on a chain that is not the real one.
            self.predicted = None;
        }
        self.last_committed = Some(head.clone());
        let state = AnchorState {
            head,
            base,
            pending_base: None,
        };
        match flight.anchoring {
            Anchoring::Wait => self.advance_anchor(state).await,
            Anchoring::Background => self.keeper.submit(state),
        }
        self.shared
            .committed
            .fetch_add(rows.len() as u64, Ordering::Relaxed);
        self.shared.batches.fetch_add(1, Ordering::Relaxed);
        // The events are built for the broadcast only when someone listens (the common case is
        // nobody, and building them is a large share of a batch's CPU time).
        if self.shared.live.receiver_count() > 0 {
            for row in &rows {
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
        Ok(rows)
    }

    /// Retention, after everything queued before it is committed; the anchor moves to the new
    /// base once the retention is committed.
    async fn retention(
        &mut self,
        cutoff_ms: i64,
    ) -> Result<Option<RetentionCheckpoint>, RecorderError> {
        self.commit_queued().await?;
        let Some(retained) = self.appender.retention(cutoff_ms).await? else {
            return Ok(None);
        };
        self.advance_anchor(retained.anchor).await;
        Ok(Some(retained.checkpoint))
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
pub(crate) enum Anchoring {
    /// Before the commit is answered: governance events (record before act).
    Wait,
    /// By the [`AnchorKeeper`], while the writer goes on: inference batches nobody waits on.
    Background,
}

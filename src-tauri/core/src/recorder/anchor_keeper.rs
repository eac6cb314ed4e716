//! The anchor keeper: advances the anchor after inference batches off the writer's path.
//!
//! Writing the anchor costs a file write and three fsyncs (file, rename, directory). For a batch of
//! inference events nobody waits on, the writer hands the new state to this task and goes on with
//! the next batch; the keeper writes only the newest state it has (older ones are superseded by
//! it) through [`Anchor::advance`], so the anchor still only moves forward and is still written
//! only after the commit it describes is durable. Governance events and retention do not go through
//! here: the writer advances the anchor itself before it answers them (record before act).
//!
//! A failure is counted in `anchor_failures` and logged, never fatal: the anchor is then behind
//! the head, which verification accepts.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::anchor::{Anchor, AnchorState};
use super::writer::Shared;

/// Handle to the keeper task.
pub(crate) struct AnchorKeeper {
    states: mpsc::UnboundedSender<AnchorState>,
    /// The highest head sequence handed over.
    submitted: i64,
    /// The highest head sequence the keeper has attempted to anchor (written or failed).
    attempted: watch::Receiver<i64>,
    task: JoinHandle<()>,
}

impl AnchorKeeper {
    /// Starts the keeper for `anchor`.
    pub fn spawn(anchor: Anchor, shared: Arc<Shared>) -> Self {
        let (states, rx) = mpsc::unbounded_channel();
        let (attempted_tx, attempted) = watch::channel(0);
        let task = tokio::spawn(keep(anchor, shared, rx, attempted_tx));
        Self {
            states,
            submitted: 0,
            attempted,
            task,
        }
    }

    /// Hands over the state after a durable commit; never waits.
    pub fn submit(&mut self, state: AnchorState) {
        self.submitted = self.submitted.max(state.head.seq);
        // Fails only once the keeper is gone (the runtime is shutting down); then the anchor stays
        // behind the head, which verification accepts.
        let _ = self.states.send(state);
    }

    /// Waits until everything handed over so far has been attempted (returns at once if the
    /// keeper is gone).
    pub async fn caught_up(&mut self) {
        let submitted = self.submitted;
        let _ = self
            .attempted
            .wait_for(|attempted| *attempted >= submitted)
            .await;
    }

    /// Writes what was handed over and stops.
    pub async fn close(self) {
        drop(self.states);
        let _ = self.task.await;
    }
}

async fn keep(
    anchor: Anchor,
    shared: Arc<Shared>,
    mut states: mpsc::UnboundedReceiver<AnchorState>,
    attempted: watch::Sender<i64>,
) {
    while let Some(mut state) = states.recv().await {
        // Only the newest state matters: it supersedes every one queued before it.
        while let Ok(newer) = states.try_recv() {
            state = newer;
        }
        let seq = state.head.seq;
        if !shared.anchor_frozen.load(Ordering::Relaxed) {
            advance(&anchor, &shared, state).await;
        }
        attempted.send_modify(|a| *a = (*a).max(seq));
    }
}

/// Advances `anchor` to `state` on the blocking pool, counting and logging a failure.
pub(crate) async fn advance(anchor: &Anchor, shared: &Shared, state: AnchorState) {
    let anchor = anchor.clone();
    let failed = match tokio::task::spawn_blocking(move || anchor.advance(&state)).await {
        Ok(Ok(_)) => return,
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    shared.anchor_failures.fetch_add(1, Ordering::Relaxed);
    tracing::error!(error = %failed, "flight recorder: the anchor could not be written");
}

//! The console's live feed: every event committed from now on that passes the filters, in
//! sequence order, without reloading.
//!
//! Two sources, merged by sequence number so nothing is shown twice or skipped: the recorder's
//! broadcast (immediate, for events this process writes) and a short poll of the database (for
//! events another process writes to the same data directory, e.g. `hsk` while the app runs, and
//! to fill any gap). Following never opens the recorder: until some other call opens it the feed
//! only polls, and it attaches to the broadcast as soon as the recorder is open. When more events
//! arrived than [`MAX_BACKLOG`] since the last look (a lagging receiver, a bulk import), the feed
//! sends [`LiveUpdate::Resync`] instead of a flood, and the UI re-queries its first page.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::recorder::{store, EventQuery, StoredEvent};

use super::super::error::FacadeError;
use super::super::Handshake;
use super::filter::{matches, ConsoleFilter};

/// Most events forwarded one by one after a gap; beyond that the UI is told to re-query.
pub const MAX_BACKLOG: u32 = 500;

/// What the live feed sends.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveUpdate {
    /// A new event that passes the filters.
    Event { event: Box<StoredEvent> },
    /// Too many events arrived to forward one by one: re-query the first page.
    Resync {
        #[ts(type = "number")]
        head_seq: i64,
    },
}

/// A live feed of events (see the module doc). Made by [`Handshake::console_feed`].
pub struct EventFeed {
    hs: Handshake,
    query: EventQuery,
    cursor: i64,
    live: Option<broadcast::Receiver<Arc<StoredEvent>>>,
}

impl Handshake {
    /// A live feed of the events after `after_seq` (default: the newest now) that pass `filter`.
    /// Fails only on an invalid filter or a database error.
    pub async fn console_feed(
        &self,
        filter: &ConsoleFilter,
        after_seq: Option<i64>,
    ) -> Result<EventFeed, FacadeError> {
        let query = filter.to_query()?;
        let cursor = match after_seq {
            Some(seq) => seq,
            None => store::head_seq(self.db().pool()).await?,
        };
        Ok(EventFeed {
            hs: self.clone(),
            query,
            cursor,
            live: None,
        })
    }
}

impl EventFeed {
    /// Sends updates to `send` until it returns `false` (the UI went away) or the database fails.
    /// The database is polled every `poll` (and at once when the feed starts).
    pub async fn run(
        mut self,
        poll: Duration,
        mut send: impl FnMut(LiveUpdate) -> bool,
    ) -> Result<(), FacadeError> {
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if self.live.is_none() {
                self.live = self.hs.recorder.get().map(|r| r.subscribe());
            }
            let received = match &mut self.live {
                Some(rx) => tokio::select! {
                    msg = rx.recv() => Some(msg),
                    _ = tick.tick() => None,
                },
                None => {
                    tick.tick().await;
                    None
                }
            };
            let keep = match received {
                Some(Ok(event)) => self.on_event(&event, &mut send).await?,
                Some(Err(RecvError::Lagged(_))) => self.catch_up(&mut send).await?,
                Some(Err(RecvError::Closed)) => {
                    self.live = None;
                    self.catch_up(&mut send).await?
                }
                None => self.catch_up(&mut send).await?,
            };
            if !keep {
                return Ok(());
            }
        }
    }

    async fn on_event(
        &mut self,
        event: &StoredEvent,
        send: &mut impl FnMut(LiveUpdate) -> bool,
    ) -> Result<bool, FacadeError> {
        if event.seq <= self.cursor {
            return Ok(true);
        }
        if event.seq > self.cursor + 1 {
            // Something was committed in between (another process): read it in order.
            return self.catch_up(send).await;
        }
        self.cursor = event.seq;
        Ok(!matches(&self.query, event)
            || send(LiveUpdate::Event {
                event: Box::new(event.clone()),
            }))
    }

    /// Forwards what the database holds after the cursor.
    async fn catch_up(
        &mut self,
        send: &mut impl FnMut(LiveUpdate) -> bool,
    ) -> Result<bool, FacadeError> {
        let page = EventQuery {
            after_seq: Some(self.cursor),
            limit: Some(MAX_BACKLOG + 1),
            ..EventQuery::default()
        };
        let events = store::query(self.hs.db().pool(), &page).await?;
        if events.len() > MAX_BACKLOG as usize {
            let head_seq = store::head_seq(self.hs.db().pool()).await?;
            self.cursor = head_seq;
            return Ok(send(LiveUpdate::Resync { head_seq }));
        }
        for event in events {
            self.cursor = event.seq;
            if matches(&self.query, &event)
                && !send(LiveUpdate::Event {
                    event: Box::new(event),
                })
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

//! The operator console's reads of the Flight Recorder: pages of events newest first under the
//! console's filters, one event, the timeline above the table ([`timeline`]), export to a file in
//! the data directory, and the live feed ([`feed`]). Like `events.rs`, nothing here opens the
//! recorder or starts its writer: it reads the database (the feed attaches to the recorder's
//! broadcast only once something else opened it).

mod feed;
mod filter;
mod timeline;

pub use feed::{EventFeed, LiveUpdate, MAX_BACKLOG};
pub use filter::ConsoleFilter;
pub use timeline::{
    ConsoleTimeline, EscalationStep, TierTotals, TimelineCompletion, TimelineEscalation,
    TIMELINE_MAX,
};

use std::path::PathBuf;

use serde::Serialize;
use tokio::io::BufWriter;

use crate::recorder::{self, store, EventQuery, EventType, RecorderError, StoredEvent};

use super::error::FacadeError;
use super::Handshake;

/// Most events one page holds.
pub const MAX_PAGE: u32 = 1_000;

/// A page of the console's table, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct ConsolePage {
    pub events: Vec<StoredEvent>,
    /// The newest event in the log (filters aside); 0 when it is empty. The live feed starts here.
    #[ts(type = "number")]
    pub head_seq: i64,
    /// Older events match too: ask again with `before_seq` = the last event's `seq`.
    pub has_more: bool,
}

/// Where an export was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ConsoleExport {
    pub path: String,
    #[ts(type = "number")]
    pub events: u64,
}

impl Handshake {
    /// The newest events passing `filter`, older than `before_seq` when given, at most `limit`
    /// (default 100, at most [`MAX_PAGE`]).
    pub async fn console_events(
        &self,
        filter: &ConsoleFilter,
        before_seq: Option<i64>,
        limit: Option<u32>,
    ) -> Result<ConsolePage, FacadeError> {
        let limit = limit.unwrap_or(100).clamp(1, MAX_PAGE);
        let query = EventQuery {
            limit: Some(limit + 1),
            ..filter.to_query()?
        };
        let pool = self.db().pool();
        let head_seq = store::head_seq(pool).await?;
        let mut events = store::query_newest(pool, &query, &[], before_seq).await?;
        let has_more = events.len() > limit as usize;
        events.truncate(limit as usize);
        Ok(ConsolePage {
            events,
            head_seq,
            has_more,
        })
    }

    /// The event with sequence number `seq`, if it is in the log.
    pub async fn console_event(&self, seq: i64) -> Result<Option<StoredEvent>, FacadeError> {
        let query = EventQuery {
            after_seq: Some(seq - 1),
            limit: Some(1),
            ..EventQuery::default()
        };
        let events = store::query(self.db().pool(), &query).await?;
        Ok(events.into_iter().find(|e| e.seq == seq))
    }

    /// Completions and escalations passing `filter` (its event type aside), the newest
    /// [`TIMELINE_MAX`] of each, with totals per tier.
    pub async fn console_timeline(
        &self,
        filter: &ConsoleFilter,
    ) -> Result<ConsoleTimeline, FacadeError> {
        let query = EventQuery {
            event_type: None,
            limit: Some(TIMELINE_MAX),
            ..filter.to_query()?
        };
        let pool = self.db().pool();
        let mut events =
            store::query_newest(pool, &query, &[EventType::LlmInference], None).await?;
        let completions = events.len();
        let cloud = [
            EventType::CloudRequested,
            EventType::CloudApproved,
            EventType::CloudDenied,
            EventType::CloudExecuted,
        ];
        events.extend(store::query_newest(pool, &query, &cloud, None).await?);
        let truncated = completions == TIMELINE_MAX as usize
            || events.len() - completions == TIMELINE_MAX as usize;
        Ok(timeline::build(&events, truncated))
    }

    /// Writes the events passing `filter` as JSON Lines to a new file
    /// `<data_dir>/exports/flight-recorder-<UTC time>.jsonl`; returns its path and how many
    /// events it holds.
    pub async fn console_export(
        &self,
        filter: &ConsoleFilter,
    ) -> Result<ConsoleExport, FacadeError> {
        let query = filter.to_query()?;
        let dir = self.data_dir().join("exports");
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(RecorderError::Export)?;
        let (path, file) = new_export_file(dir).await?;
        let mut out = BufWriter::new(file);
        match recorder::export_jsonl(self.db().pool(), &query, &mut out).await {
            Ok(events) => {
                out.into_inner()
                    .sync_all()
                    .await
                    .map_err(RecorderError::Export)?;
                Ok(ConsoleExport {
                    path: path.display().to_string(),
                    events,
                })
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                Err(e.into())
            }
        }
    }
}

/// Creates a file that did not exist, named after the current time.
async fn new_export_file(dir: PathBuf) -> Result<(PathBuf, tokio::fs::File), RecorderError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    let mut attempt = 0u32;
    loop {
        let name = match attempt {
            0 => format!("flight-recorder-{stamp}.jsonl"),
            n => format!("flight-recorder-{stamp}-{n}.jsonl"),
        };
        let path = dir.join(name);
        match tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(e) => return Err(RecorderError::Export(e)),
        }
    }
}

#[cfg(test)]
mod tests;

//! Commands behind the operator console: pages of Flight Recorder events under the console's
//! filters, one event, the timeline, chain verification, export to a file, and the live feed
//! (a `Channel` the core's [`EventFeed`] writes to until the view unsubscribes or goes away).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use handshake_core::facade::console::{
    ConsoleExport, ConsoleFilter, ConsolePage, ConsoleTimeline, EventFeed, LiveUpdate,
};
use handshake_core::recorder::{EventType, StoredEvent, VerifyReport};
use tauri::async_runtime::JoinHandle;
use tauri::ipc::Channel;

use crate::error::CommandError;
use crate::state::AppState;

/// How often a live feed looks for events other processes wrote.
const FEED_POLL: Duration = Duration::from_millis(750);

/// The running live feeds, by the id of the channel they write to.
#[derive(Default)]
pub struct ConsoleFeeds(Mutex<HashMap<u32, JoinHandle<()>>>);

impl ConsoleFeeds {
    /// Runs `feed` into `channel` (replacing a feed on the same channel).
    fn start(&self, feed: EventFeed, channel: Channel<LiveUpdate>) {
        let id = channel.id();
        let task = tauri::async_runtime::spawn(async move {
            let send = move |update| channel.send(update).is_ok();
            if let Err(error) = feed.run(FEED_POLL, send).await {
                tracing::warn!(%error, "the console's live feed stopped");
            }
        });
        self.insert(id, task);
    }

    fn insert(&self, id: u32, task: JoinHandle<()>) {
        let mut feeds = self.0.lock().unwrap_or_else(|p| p.into_inner());
        feeds.retain(|_, t| !t.inner().is_finished());
        if let Some(old) = feeds.insert(id, task) {
            old.abort();
        }
    }

    /// Stops the feed on channel `id`; whether there was one.
    fn stop(&self, id: u32) -> bool {
        let mut feeds = self.0.lock().unwrap_or_else(|p| p.into_inner());
        feeds.remove(&id).map(|task| task.abort()).is_some()
    }
}

/// The newest events passing `filter`, older than `before_seq` when given.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn console_events(
    state: tauri::State<'_, AppState>,
    filter: ConsoleFilter,
    before_seq: Option<i64>,
    limit: Option<u32>,
) -> Result<ConsolePage, CommandError> {
    Ok(state
        .core()?
        .console_events(&filter, before_seq, limit)
        .await?)
}

/// One event, or `null` when no event has that sequence number.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn console_event(
    state: tauri::State<'_, AppState>,
    seq: i64,
) -> Result<Option<StoredEvent>, CommandError> {
    Ok(state.core()?.console_event(seq).await?)
}

/// Completions and escalations over time, local and cloud apart.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn console_timeline(
    state: tauri::State<'_, AppState>,
    filter: ConsoleFilter,
) -> Result<ConsoleTimeline, CommandError> {
    Ok(state.core()?.console_timeline(&filter).await?)
}

/// Walks the hash chain and checks the anchor.
#[tauri::command]
#[tracing::instrument(skip_all, err)]
pub async fn console_verify(
    state: tauri::State<'_, AppState>,
) -> Result<VerifyReport, CommandError> {
    Ok(state
        .core()?
        .events_verify(handshake_core::recorder::VerifyDepth::Full)
        .await?)
}

/// Exports the events passing `filter` to a new JSON Lines file in the data directory.
#[tauri::command]
#[tracing::instrument(skip(state), err)]
pub async fn console_export(
    state: tauri::State<'_, AppState>,
    filter: ConsoleFilter,
) -> Result<ConsoleExport, CommandError> {
    Ok(state.core()?.console_export(&filter).await?)
}

/// Starts sending every new event passing `filter` (after `after_seq`, default the newest now)
/// to `channel`; stop with `console_unfollow`.
#[tauri::command]
#[tracing::instrument(skip(state, feeds, channel), err)]
pub async fn console_follow(
    state: tauri::State<'_, AppState>,
    feeds: tauri::State<'_, ConsoleFeeds>,
    filter: ConsoleFilter,
    after_seq: Option<i64>,
    channel: Channel<LiveUpdate>,
) -> Result<(), CommandError> {
    let feed = state.core()?.console_feed(&filter, after_seq).await?;
    feeds.start(feed, channel);
    Ok(())
}

/// Stops the live feed on the channel with id `channel_id`; whether one was running.
#[tauri::command]
#[tracing::instrument(skip(feeds))]
pub fn console_unfollow(feeds: tauri::State<'_, ConsoleFeeds>, channel_id: u32) -> bool {
    feeds.stop(channel_id)
}

/// Types shared with the UI.
pub fn bindings(b: &mut crate::bindings::Bindings) {
    b.add::<ConsoleFilter>()
        .add::<ConsolePage>()
        .add::<StoredEvent>()
        .add::<ConsoleTimeline>()
        .add::<VerifyReport>()
        .add::<ConsoleExport>()
        .add::<LiveUpdate>()
        .add::<EventType>();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_feed_is_stopped_by_its_channel_id_and_replaced_on_reuse() {
        let feeds = ConsoleFeeds::default();
        let forever = || tauri::async_runtime::spawn(std::future::pending::<()>());
        let first = forever();
        let first_inner = first.inner().abort_handle();
        feeds.insert(7, first);
        feeds.insert(7, forever());
        for _ in 0..100 {
            if first_inner.is_finished() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            first_inner.is_finished(),
            "the replaced feed was not stopped"
        );
        assert!(feeds.stop(7));
        assert!(!feeds.stop(7), "a stopped feed is gone");
        assert!(!feeds.stop(8));
    }
}

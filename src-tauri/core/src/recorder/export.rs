//! Export of Flight Recorder events as JSON Lines: one [`StoredEvent`] per line, in sequence
//! order, paged through the query API so memory stays bounded whatever the log's size.

use sqlx::SqlitePool;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::store::{self, EventQuery, StoredEvent, MAX_QUERY_LIMIT};
use super::RecorderError;

/// Writes every event matching `query` (all pages; `limit` is the page size) to `out`, one JSON
/// object per line, and returns how many were written.
pub async fn export_jsonl<W: AsyncWrite + Unpin>(
    pool: &SqlitePool,
    query: &EventQuery,
    out: &mut W,
) -> Result<u64, RecorderError> {
    let mut page = query.clone();
    page.limit = Some(query.limit.unwrap_or(MAX_QUERY_LIMIT));
    let mut written = 0u64;
    loop {
        let events = store::query(pool, &page).await?;
        let Some(last) = events.last().map(|e: &StoredEvent| e.seq) else {
            break;
        };
        let mut buf = Vec::with_capacity(events.len() * 512);
        for event in &events {
            serde_json::to_writer(&mut buf, event).map_err(RecorderError::Encode)?;
            buf.push(b'\n');
        }
        out.write_all(&buf).await.map_err(RecorderError::Export)?;
        written += events.len() as u64;
        page.after_seq = Some(last);
    }
    out.flush().await.map_err(RecorderError::Export)?;
    Ok(written)
}

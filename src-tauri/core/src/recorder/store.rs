//! The Flight Recorder's rows: the stored event and its query surface (filters, pagination,
//! the retention checkpoint, read through the sqlx pool), and the encoding of a batch onto the
//! chain ([`PreparedBatch`]) that the writer's own connection (`writer_db.rs`) inserts.
//!
//! There is no update or delete API. The only rows that ever leave `flight_events` are the ones
//! below a retention checkpoint written in the same transaction (the triggers of migration
//! `0003_flight_recorder.sql` refuse anything else).

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use uuid::Uuid;

use super::chain::{row_hash, RowContent, GENESIS_HASH};
use super::events::{Correlation, EventType, FlightEvent};
use super::RecorderError;

/// Most rows a query returns at once.
pub const MAX_QUERY_LIMIT: u32 = 10_000;

/// An event as committed: its place in the chain, its ids and its payload.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct StoredEvent {
    #[ts(type = "number")]
    pub seq: i64,
    #[ts(type = "string")]
    pub event_id: Uuid,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    #[ts(type = "string | null")]
    pub trace_id: Option<Uuid>,
    pub job_id: Option<String>,
    pub profile_id: Option<String>,
    pub provider_id: Option<String>,
    pub model_id: Option<String>,
    /// The typed event's fields (see `events.rs`).
    #[ts(type = "Record<string, unknown>")]
    pub payload: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The newest link of the chain: the last event, or the retention checkpoint when every event
/// was dropped, or the genesis (0, zeros) of an empty log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, ts_rs::TS)]
pub struct ChainHead {
    #[ts(type = "number")]
    pub seq: i64,
    pub hash: String,
}

impl ChainHead {
    /// The head of a log with nothing ever written.
    pub fn genesis() -> Self {
        Self {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }
}

/// A retention checkpoint: events up to `last_seq` were dropped; `last_hash` was the hash of that
/// event, where the chain of the remaining events starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RetentionCheckpoint {
    pub last_seq: i64,
    pub last_hash: String,
    pub dropped: i64,
    pub cutoff_ms: i64,
    pub applied_at_ms: i64,
}

/// Which events to return: every filter is optional; results are in sequence order, after
/// `after_seq`, at most `limit` (capped at [`MAX_QUERY_LIMIT`]).
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct EventQuery {
    pub event_type: Option<EventType>,
    #[ts(type = "string | null")]
    pub trace_id: Option<Uuid>,
    pub job_id: Option<String>,
    pub profile_id: Option<String>,
    pub provider_id: Option<String>,
    pub model_id: Option<String>,
    /// Inclusive lower bound on `occurred_at`.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on `occurred_at`.
    pub until: Option<DateTime<Utc>>,
    /// Pagination: only events with a greater sequence number.
    pub after_seq: Option<i64>,
    pub limit: Option<u32>,
}

/// An event ready to be written (its time fixed by the caller).
#[derive(Clone, Debug)]
pub(crate) struct PendingEvent {
    /// `None`: the writer draws the id when it encodes the event (inference events: off the
    /// call path).
    pub event_id: Option<Uuid>,
    pub occurred_at_ms: i64,
    pub event: FlightEvent,
    pub correlation: Correlation,
}

impl PendingEvent {
    /// An inference event's trace, provider and model columns, where the caller left them out,
    /// are the event's own (the recording client leaves them to the writer, off the call path).
    fn fill_correlation(&mut self) {
        if let FlightEvent::LlmInference(inf) = &self.event {
            let c = &mut self.correlation;
            c.trace_id.get_or_insert(inf.trace_id);
            c.provider_id.get_or_insert_with(|| inf.provider_id.clone());
            c.model_id.get_or_insert_with(|| inf.model_id.clone());
        }
    }
}

/// A row as written by the writer: what the writer needs after the commit (the head for the
/// anchor, and the [`StoredEvent`] only where someone asks for it: a live subscriber or the
/// caller of `append_durable`). The payload is kept as the exact JSON text that was hashed.
#[derive(Debug)]
pub(crate) struct WrittenRow {
    pub seq: i64,
    pub event_id: Uuid,
    pub event_type: &'static str,
    pub occurred_at_ms: i64,
    pub correlation: Correlation,
    pub payload: String,
    pub prev_hash: String,
    pub hash: String,
}

impl WrittenRow {
    /// The row as the query surface returns it (its payload parsed back from the stored text).
    pub(crate) fn to_stored(&self) -> Result<StoredEvent, RecorderError> {
        let c = &self.correlation;
        let text = |v: &Option<super::events::Ident>| v.as_ref().map(|v| v.as_str().to_owned());
        Ok(StoredEvent {
            seq: self.seq,
            event_id: self.event_id,
            event_type: self.event_type.to_owned(),
            occurred_at: ms_to_time(self.occurred_at_ms),
            trace_id: c.trace_id,
            job_id: text(&c.job_id),
            profile_id: text(&c.profile_id),
            provider_id: text(&c.provider_id),
            model_id: text(&c.model_id),
            payload: serde_json::from_str(&self.payload).map_err(RecorderError::Encode)?,
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        })
    }
}

/// A batch of events encoded for the chain: payloads serialised, ids formatted, and each row
/// linked onto a head. Encoding is the CPU-heavy part of an append and needs no database, so the
/// writer does it for the next batch while the previous one is being inserted; the links are
/// checked against the real head inside the transaction (`WriterDb::append`, [`Self::link_onto`]).
#[derive(Debug, Default)]
pub(crate) struct PreparedBatch {
    pub rows: Vec<WrittenRow>,
    /// Each row's event id and trace id as the text that is hashed and stored.
    ids: Vec<(String, Option<String>)>,
}

impl PreparedBatch {
    /// Encodes `events` and links them onto `head` (or leaves them unlinked, for
    /// [`Self::link_onto`] to link in the transaction, when the head is not known).
    ///
    /// Each payload is serialised once, straight from the typed event to the JSON text that is
    /// hashed and stored (no intermediate `serde_json::Value`).
    pub(crate) fn encode(
        events: Vec<PendingEvent>,
        head: Option<&ChainHead>,
    ) -> Result<Self, RecorderError> {
        let mut rows = Vec::with_capacity(events.len());
        let mut ids = Vec::with_capacity(events.len());
        let mut uuid_buf = Uuid::encode_buffer();
        for mut pending in events {
            pending.fill_correlation();
            let event_id = pending.event_id.unwrap_or_else(Uuid::now_v7);
            let payload = serde_json::to_string(&pending.event).map_err(RecorderError::Encode)?;
            ids.push((
                event_id.hyphenated().encode_lower(&mut uuid_buf).to_owned(),
                pending
                    .correlation
                    .trace_id
                    .map(|t| t.hyphenated().encode_lower(&mut uuid_buf).to_owned()),
            ));
            rows.push(WrittenRow {
                seq: 0,
                event_id,
                event_type: pending.event.event_type().as_str(),
                occurred_at_ms: pending.occurred_at_ms,
                correlation: pending.correlation,
                payload,
                prev_hash: String::new(),
                hash: String::new(),
            });
        }
        let mut batch = Self { rows, ids };
        if let Some(head) = head {
            batch.link(head);
        }
        Ok(batch)
    }

    /// Numbers and hashes the rows as the continuation of `head`.
    fn link(&mut self, head: &ChainHead) {
        let mut seq = head.seq;
        let mut prev = head.hash.clone();
        for (row, (event_id, trace_id)) in self.rows.iter_mut().zip(&self.ids) {
            seq += 1;
            let c = &row.correlation;
            let content = RowContent {
                seq,
                event_id,
                event_type: row.event_type,
                occurred_at_ms: row.occurred_at_ms,
                trace_id: trace_id.as_deref(),
                job_id: c.job_id.as_ref().map(|v| v.as_str()),
                profile_id: c.profile_id.as_ref().map(|v| v.as_str()),
                provider_id: c.provider_id.as_ref().map(|v| v.as_str()),
                model_id: c.model_id.as_ref().map(|v| v.as_str()),
                payload: &row.payload,
            };
            let hash = row_hash(&prev, &content);
            row.seq = seq;
            row.prev_hash = std::mem::replace(&mut prev, hash.clone());
            row.hash = hash;
        }
    }

    /// Links the rows onto `head` unless they already continue it (they were encoded against
    /// another head when a different process appended meanwhile, or an earlier batch was rolled
    /// back, or the writer did not know the head).
    pub(crate) fn link_onto(&mut self, head: &ChainHead) {
        let extends = self
            .rows
            .first()
            .is_none_or(|r| r.seq == head.seq + 1 && r.prev_hash == head.hash);
        if !extends {
            self.link(head);
        }
    }

    /// Each row with its event id and trace id as stored.
    pub(crate) fn rows_with_ids(
        &self,
    ) -> impl ExactSizeIterator<Item = (&WrittenRow, &str, Option<&str>)> {
        self.rows
            .iter()
            .zip(&self.ids)
            .map(|(row, (event_id, trace_id))| (row, event_id.as_str(), trace_id.as_deref()))
    }

    /// The last row's place in the chain, or `None` for an empty batch.
    pub(crate) fn last(&self) -> Option<ChainHead> {
        self.rows.last().map(|r| ChainHead {
            seq: r.seq,
            hash: r.hash.clone(),
        })
    }
}

/// The newest retention checkpoint, if retention ever ran.
pub async fn latest_checkpoint(
    pool: &SqlitePool,
) -> Result<Option<RetentionCheckpoint>, RecorderError> {
    let row = sqlx::query(CHECKPOINT_SQL).fetch_optional(pool).await?;
    row.map(|r| checkpoint_from_row(&r)).transpose()
}

const CHECKPOINT_SQL: &str = "SELECT last_seq, last_hash, dropped, cutoff_ms, applied_at_ms \
     FROM flight_retention ORDER BY last_seq DESC LIMIT 1";

fn checkpoint_from_row(row: &SqliteRow) -> Result<RetentionCheckpoint, RecorderError> {
    Ok(RetentionCheckpoint {
        last_seq: row.try_get("last_seq")?,
        last_hash: row.try_get("last_hash")?,
        dropped: row.try_get("dropped")?,
        cutoff_ms: row.try_get("cutoff_ms")?,
        applied_at_ms: row.try_get("applied_at_ms")?,
    })
}

const EVENT_COLUMNS: &str = "seq, event_id, event_type, occurred_at_ms, trace_id, job_id, \
     profile_id, provider_id, model_id, payload, prev_hash, hash";

/// `{before}SELECT <columns> FROM flight_events ... WHERE 1 = 1`, for `query`. When a time bound is
/// the only filter with an index, the time index is named: left to itself SQLite walks the table
/// in `seq` order (to skip the sort) and reads every event outside the window; through the index it
/// reads only the window's events (and sorts them, keeping `limit` at a time).
fn select_events<'a>(
    before: &str,
    query: &EventQuery,
    types: &[EventType],
) -> QueryBuilder<'a, Sqlite> {
    let keyed = query.event_type.is_some()
        || query.trace_id.is_some()
        || query.job_id.is_some()
        || query.profile_id.is_some()
        || query.provider_id.is_some()
        || query.model_id.is_some()
        || !types.is_empty();
    let timed = query.from.is_some() || query.until.is_some();
    let hint = if timed && !keyed {
        " INDEXED BY flight_events_time"
    } else {
        ""
    };
    QueryBuilder::new(format!(
        "{before}SELECT {EVENT_COLUMNS} FROM flight_events{hint} WHERE 1 = 1"
    ))
}

/// Appends `query`'s filters (not its paging) as `AND ...` clauses.
fn push_filters(qb: &mut QueryBuilder<'_, Sqlite>, query: &EventQuery) {
    if let Some(t) = query.event_type {
        qb.push(" AND event_type = ").push_bind(t.as_str());
    }
    if let Some(t) = query.trace_id {
        qb.push(" AND trace_id = ").push_bind(t.to_string());
    }
    for (column, value) in [
        ("job_id", &query.job_id),
        ("profile_id", &query.profile_id),
        ("provider_id", &query.provider_id),
        ("model_id", &query.model_id),
    ] {
        if let Some(v) = value {
            qb.push(" AND ")
                .push(column)
                .push(" = ")
                .push_bind(v.clone());
        }
    }
    if let Some(from) = query.from {
        qb.push(" AND occurred_at_ms >= ")
            .push_bind(from.timestamp_millis());
    }
    if let Some(until) = query.until {
        qb.push(" AND occurred_at_ms < ")
            .push_bind(until.timestamp_millis());
    }
}

/// Events matching `query`, in sequence order.
pub async fn query(
    pool: &SqlitePool,
    query: &EventQuery,
) -> Result<Vec<StoredEvent>, RecorderError> {
    let rows = oldest_first("", query).build().fetch_all(pool).await?;
    rows.iter().map(event_from_row).collect()
}

/// The statement behind [`query`], after `before` (the query plan test puts `EXPLAIN QUERY PLAN`
/// in front of the same text).
fn oldest_first<'a>(before: &str, query: &'a EventQuery) -> QueryBuilder<'a, Sqlite> {
    let mut qb = select_events(before, query, &[]);
    push_filters(&mut qb, query);
    if let Some(after) = query.after_seq {
        qb.push(" AND seq > ").push_bind(after);
    }
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_QUERY_LIMIT);
    qb.push(" ORDER BY seq LIMIT ").push_bind(i64::from(limit));
    qb
}

/// Events matching `query`'s filters and, when `types` is not empty, of one of `types`, newest
/// first, older than `before_seq` (the console pages backwards with it); at most `query.limit`.
/// `query.after_seq` is ignored.
pub async fn query_newest(
    pool: &SqlitePool,
    query: &EventQuery,
    types: &[EventType],
    before_seq: Option<i64>,
) -> Result<Vec<StoredEvent>, RecorderError> {
    let rows = newest_first("", query, types, before_seq)
        .build()
        .fetch_all(pool)
        .await?;
    rows.iter().map(event_from_row).collect()
}

/// The statement behind [`query_newest`], after `before`.
fn newest_first<'a>(
    before: &str,
    query: &'a EventQuery,
    types: &[EventType],
    before_seq: Option<i64>,
) -> QueryBuilder<'a, Sqlite> {
    let mut qb = select_events(before, query, types);
    push_filters(&mut qb, query);
    if !types.is_empty() {
        qb.push(" AND event_type IN (");
        let mut list = qb.separated(", ");
        for t in types {
            list.push_bind(t.as_str());
        }
        qb.push(")");
    }
    if let Some(before) = before_seq {
        qb.push(" AND seq < ").push_bind(before);
    }
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_QUERY_LIMIT);
    qb.push(" ORDER BY seq DESC LIMIT ")
        .push_bind(i64::from(limit));
    qb
}

/// The sequence number of the newest event (0 when the log is empty).
pub async fn head_seq(pool: &SqlitePool) -> Result<i64, RecorderError> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM flight_events")
        .fetch_one(pool)
        .await?;
    Ok(seq.unwrap_or(0))
}

/// The newest `n` events, oldest first (for `hsk recorder tail`).
pub async fn tail(pool: &SqlitePool, n: u32) -> Result<Vec<StoredEvent>, RecorderError> {
    let rows = sqlx::query(
        "SELECT * FROM (SELECT seq, event_id, event_type, occurred_at_ms, trace_id, job_id, profile_id, \
         provider_id, model_id, payload, prev_hash, hash FROM flight_events ORDER BY seq DESC LIMIT ?) \
         ORDER BY seq",
    )
    .bind(i64::from(n.min(MAX_QUERY_LIMIT)))
    .fetch_all(pool)
    .await?;
    rows.iter().map(event_from_row).collect()
}

pub(crate) fn event_from_row(row: &SqliteRow) -> Result<StoredEvent, RecorderError> {
    let seq: i64 = row.try_get("seq")?;
    let corrupt = |what: &str| RecorderError::CorruptRow {
        seq,
        what: what.to_owned(),
    };
    let event_id: String = row.try_get("event_id")?;
    let trace_id: Option<String> = row.try_get("trace_id")?;
    let payload: String = row.try_get("payload")?;
    Ok(StoredEvent {
        seq,
        event_id: Uuid::parse_str(&event_id).map_err(|_| corrupt("event_id is not a UUID"))?,
        event_type: row.try_get("event_type")?,
        occurred_at: ms_to_time(row.try_get("occurred_at_ms")?),
        trace_id: trace_id
            .map(|t| Uuid::parse_str(&t))
            .transpose()
            .map_err(|_| corrupt("trace_id is not a UUID"))?,
        job_id: row.try_get("job_id")?,
        profile_id: row.try_get("profile_id")?,
        provider_id: row.try_get("provider_id")?,
        model_id: row.try_get("model_id")?,
        payload: serde_json::from_str(&payload).map_err(|_| corrupt("payload is not JSON"))?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

pub(crate) fn ms_to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::recorder::events::{Ident, JobStarted};

    fn events(n: usize) -> Vec<PendingEvent> {
        (0..n)
            .map(|i| PendingEvent {
                event_id: Some(Uuid::now_v7()),
                occurred_at_ms: 1_700_000_000_000 + i as i64,
                event: FlightEvent::JobStarted(JobStarted {
                    job_id: Ident::new(format!("job-{i}")).unwrap(),
                    profile_id: Ident::new("p1").unwrap(),
                }),
                correlation: Correlation::none(),
            })
            .collect()
    }

    /// The plan SQLite chooses for `qb`'s statement (its `detail` lines).
    async fn plan(pool: &SqlitePool, mut qb: QueryBuilder<'_, Sqlite>) -> String {
        let rows = qb.build().fetch_all(pool).await.unwrap();
        rows.iter()
            .map(|r| r.try_get::<String, _>("detail").unwrap())
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[tokio::test]
    async fn every_filter_the_cli_and_console_offer_reads_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Database::open(dir.path()).await.unwrap();
        let when = Utc::now();
        let cases: [(EventQuery, &str); 8] = [
            (
                EventQuery {
                    event_type: Some(EventType::JobStarted),
                    ..Default::default()
                },
                "flight_events_type",
            ),
            (
                EventQuery {
                    trace_id: Some(Uuid::now_v7()),
                    ..Default::default()
                },
                "flight_events_trace",
            ),
            (
                EventQuery {
                    job_id: Some("j".into()),
                    ..Default::default()
                },
                "flight_events_job",
            ),
            (
                EventQuery {
                    profile_id: Some("p".into()),
                    ..Default::default()
                },
                "flight_events_profile",
            ),
            (
                EventQuery {
                    provider_id: Some("oll".into()),
                    ..Default::default()
                },
                "flight_events_provider",
            ),
            (
                EventQuery {
                    model_id: Some("oll/m".into()),
                    ..Default::default()
                },
                "flight_events_model",
            ),
            (
                EventQuery {
                    from: Some(when),
                    ..Default::default()
                },
                "flight_events_time",
            ),
            (
                EventQuery {
                    until: Some(when),
                    ..Default::default()
                },
                "flight_events_time",
            ),
        ];
        let explain = "EXPLAIN QUERY PLAN ";
        for (query, index) in &cases {
            for plan in [
                plan(db.pool(), oldest_first(explain, query)).await,
                plan(db.pool(), newest_first(explain, query, &[], Some(10))).await,
            ] {
                assert!(
                    plan.contains(&format!("INDEX {index} ")),
                    "{query:?}: {plan}"
                );
            }
        }
        // The console's filter by several types at once.
        let types = [EventType::JobStarted, EventType::ProfileChanged];
        let plan = plan(
            db.pool(),
            newest_first(explain, &EventQuery::default(), &types, None),
        )
        .await;
        assert!(plan.contains("INDEX flight_events_type "), "{plan}");
        db.close().await;
    }

    fn links(batch: &PreparedBatch) -> Vec<(i64, String, String)> {
        batch
            .rows
            .iter()
            .map(|r| (r.seq, r.prev_hash.clone(), r.hash.clone()))
            .collect()
    }

    #[test]
    fn a_batch_encoded_on_a_stale_head_is_relinked_onto_the_real_one() {
        let predicted = ChainHead {
            seq: 7,
            hash: "a".repeat(64),
        };
        let real = ChainHead {
            seq: 9,
            hash: "b".repeat(64),
        };
        let pending = events(3);
        let mut stale = PreparedBatch::encode(pending.clone(), Some(&predicted)).unwrap();
        let fresh = PreparedBatch::encode(pending.clone(), Some(&real)).unwrap();
        assert_eq!(stale.rows[0].seq, 8);
        stale.link_onto(&real);
        assert_eq!(
            links(&stale),
            links(&fresh),
            "exactly as if encoded on the real head"
        );
        assert_eq!(stale.rows[0].seq, 10);
        assert_eq!(stale.rows[0].prev_hash, real.hash);
        assert_eq!(stale.rows[1].prev_hash, stale.rows[0].hash);
        assert_eq!(stale.last().unwrap().seq, 12);

        let mut unlinked = PreparedBatch::encode(pending, None).unwrap();
        unlinked.link_onto(&real);
        assert_eq!(
            links(&unlinked),
            links(&fresh),
            "an unlinked batch is linked"
        );
    }

    #[test]
    fn a_batch_that_continues_the_head_is_left_as_it_is() {
        let head = ChainHead {
            seq: 3,
            hash: "c".repeat(64),
        };
        let mut batch = PreparedBatch::encode(events(2), Some(&head)).unwrap();
        let before = links(&batch);
        batch.link_onto(&head);
        assert_eq!(links(&batch), before);
        // The same seq on a different hash (another process's event) is not a continuation.
        let other = ChainHead {
            seq: 3,
            hash: "d".repeat(64),
        };
        batch.link_onto(&other);
        assert_eq!(batch.rows[0].prev_hash, other.hash);
        assert_ne!(links(&batch), before);
    }
}

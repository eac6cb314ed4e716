//! The writer's own SQLite connection and the only statements that change the Flight Recorder's
//! tables: appending a batch onto the chain and applying retention, each in one `BEGIN IMMEDIATE`
//! transaction.
//!
//! This connection is `rusqlite`, not the application's `sqlx` pool: the writer binds each value
//! straight from its batch and steps prepared multi-row INSERTs on its own thread, where `sqlx`
//! would copy every value twice and cross a channel per statement (docs/benchmarks.md measures
//! the difference). Both libraries link the same SQLite (`libsqlite3-sys` 0.30); the queries,
//! verification and export stay on the pool.
//!
//! Durability: `synchronous=FULL`, so a commit is on disk before the writer acknowledges it.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, TransactionBehavior};

use super::store::{ChainHead, PreparedBatch, RetentionCheckpoint};
use super::RecorderError;

/// Rows per multi-row INSERT (12 parameters each; SQLite allows 32,766 per statement). Every
/// full chunk reuses one prepared statement; a batch's remainder is split into powers of two, so
/// at most a dozen distinct statements are ever prepared.
const INSERT_CHUNK: usize = 256;

/// The writer's connection.
pub(crate) struct WriterDb {
    conn: Connection,
    /// The INSERT for 2^i rows at index i (1 to [`INSERT_CHUNK`] rows).
    insert_sql: Vec<String>,
}

impl WriterDb {
    /// Opens the (existing, migrated) database at `path` for writing.
    pub fn open(path: &Path) -> Result<Self, RecorderError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // A batch dirties pages all over the indexes; a 64 MiB page cache keeps them in memory
        // instead of spilling them to the WAL mid-transaction and reading them back, and
        // checkpointing only after [`WAL_CHECKPOINT_BYTES`] of WAL writes a page rewritten by
        // several batches to the database once (docs/benchmarks.md).
        conn.pragma_update(None, "cache_size", -65536)?;
        let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            WAL_CHECKPOINT_BYTES / page_size.max(512),
        )?;
        // After a checkpoint the WAL is reused from its start; this bounds what stays on disk.
        conn.pragma_update(None, "journal_size_limit", WAL_CHECKPOINT_BYTES)?;
        // Statement journals (a multi-row INSERT under triggers needs one) in memory rather than
        // in a temp file written page by page.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.set_prepared_statement_cache_capacity(32);
        let insert_sql = (0..=INSERT_CHUNK.ilog2())
            .map(|i| insert_sql(1 << i))
            .collect();
        Ok(Self { conn, insert_sql })
    }

    /// The head and the retention base, read in one snapshot.
    pub fn read_state(&mut self) -> Result<(ChainHead, ChainHead), RecorderError> {
        let tx = self.conn.transaction()?;
        let base = read_base(&tx)?;
        let head = read_head(&tx, &base)?;
        tx.commit()?;
        Ok((head, base))
    }

    /// Appends `batch` after the head in one transaction, relinking it first if the head is not
    /// the one it was encoded against (another process appended meanwhile, or the previous
    /// batch was rolled back). Returns the retention base the batch extends.
    pub fn append(&mut self, batch: &mut PreparedBatch) -> Result<ChainHead, RecorderError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let base = read_base(&tx)?;
        let head = read_head(&tx, &base)?;
        batch.link_onto(&head);
        let mut rows = batch.rows_with_ids();
        let mut values: Vec<ToSqlOutput<'_>> = Vec::with_capacity(INSERT_CHUNK * COLUMNS);
        while rows.len() > 0 {
            let n = chunk_len(rows.len());
            let sql = &self.insert_sql[n.ilog2() as usize];
            let mut stmt = tx.prepare_cached(sql)?;
            values.clear();
            for (row, event_id, trace_id) in rows.by_ref().take(n) {
                let c = &row.correlation;
                values.extend([
                    int(row.seq),
                    text(event_id),
                    text(row.event_type),
                    int(row.occurred_at_ms),
                    opt_text(trace_id),
                    opt_text(c.job_id.as_ref().map(|v| v.as_str())),
                    opt_text(c.profile_id.as_ref().map(|v| v.as_str())),
                    opt_text(c.provider_id.as_ref().map(|v| v.as_str())),
                    opt_text(c.model_id.as_ref().map(|v| v.as_str())),
                    text(&row.payload),
                    text(&row.prev_hash),
                    text(&row.hash),
                ]);
            }
            stmt.execute(params_from_iter(values.iter()))?;
        }
        tx.commit()?;
        Ok(base)
    }

    /// Drops the events that occurred before `cutoff_ms`, as a prefix of the chain (it stops at
    /// the first newer event), recording a checkpoint first, in one transaction. `before_commit`
    /// runs inside it, holding the database's write lock, with the head and the old and new
    /// bases; an error there rolls the retention back. Returns the checkpoint and the head, or
    /// `None` if nothing was old enough.
    pub fn retention(
        &mut self,
        cutoff_ms: i64,
        now_ms: i64,
        before_commit: impl FnOnce(&ChainHead, &ChainHead, &ChainHead) -> Result<(), RecorderError>,
    ) -> Result<Option<(RetentionCheckpoint, ChainHead)>, RecorderError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let old_base = read_base(&tx)?;
        let first_kept: Option<i64> = tx.query_row(
            "SELECT MIN(seq) FROM flight_events WHERE occurred_at_ms >= ?1",
            [cutoff_ms],
            |r| r.get(0),
        )?;
        let last_dropped = match first_kept {
            Some(seq) => seq - 1,
            None => tx
                .query_row("SELECT MAX(seq) FROM flight_events", [], |r| {
                    r.get::<_, Option<i64>>(0)
                })?
                .unwrap_or(0),
        };
        let Some((last_seq, last_hash)) = tx
            .query_row(
                "SELECT seq, hash FROM flight_events WHERE seq <= ?1 ORDER BY seq DESC LIMIT 1",
                [last_dropped],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?
        else {
            return Ok(None);
        };
        let dropped: i64 = tx.query_row(
            "SELECT COUNT(*) FROM flight_events WHERE seq <= ?1",
            [last_seq],
            |r| r.get(0),
        )?;
        let checkpoint = RetentionCheckpoint {
            last_seq,
            last_hash,
            dropped,
            cutoff_ms,
            applied_at_ms: now_ms,
        };
        tx.execute(
            "INSERT INTO flight_retention (last_seq, last_hash, dropped, cutoff_ms, applied_at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                checkpoint.last_seq,
                checkpoint.last_hash,
                checkpoint.dropped,
                checkpoint.cutoff_ms,
                checkpoint.applied_at_ms
            ],
        )?;
        tx.execute(
            "DELETE FROM flight_events WHERE seq <= ?1",
            [checkpoint.last_seq],
        )?;
        let new_base = ChainHead {
            seq: checkpoint.last_seq,
            hash: checkpoint.last_hash.clone(),
        };
        let head = read_head(&tx, &new_base)?;
        before_commit(&head, &old_base, &new_base)?;
        tx.commit()?;
        Ok(Some((checkpoint, head)))
    }
}

/// WAL bytes after which the writer checkpoints (SQLite's default is 1,000 pages, 4 MB at 4 KiB
/// pages): 40 MiB, so a page rewritten by several batches reaches the database file once. Under
/// a flood the background checkpointer (`checkpointer.rs`) has copied most of the WAL by then.
const WAL_CHECKPOINT_BYTES: i64 = 40 * 1024 * 1024;

/// Columns of `flight_events` an INSERT binds.
const COLUMNS: usize = 12;

/// Where the chain starts: the newest retention checkpoint, or the genesis.
fn read_base(conn: &Connection) -> Result<ChainHead, RecorderError> {
    Ok(conn
        .prepare_cached(
            "SELECT last_seq, last_hash FROM flight_retention ORDER BY last_seq DESC LIMIT 1",
        )?
        .query_row([], |r| {
            Ok(ChainHead {
                seq: r.get(0)?,
                hash: r.get(1)?,
            })
        })
        .optional()?
        .unwrap_or_else(ChainHead::genesis))
}

/// The newest event, or `base` when there is none.
fn read_head(conn: &Connection, base: &ChainHead) -> Result<ChainHead, RecorderError> {
    Ok(conn
        .prepare_cached("SELECT seq, hash FROM flight_events ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| {
            Ok(ChainHead {
                seq: r.get(0)?,
                hash: r.get(1)?,
            })
        })
        .optional()?
        .unwrap_or_else(|| base.clone()))
}

fn int(v: i64) -> ToSqlOutput<'static> {
    ToSqlOutput::Borrowed(ValueRef::Integer(v))
}

fn text(v: &str) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes()))
}

fn opt_text(v: Option<&str>) -> ToSqlOutput<'_> {
    v.map_or(ToSqlOutput::Borrowed(ValueRef::Null), text)
}

/// How many of `remaining` rows the next INSERT takes: a full chunk, or else the largest power
/// of two that fits.
fn chunk_len(remaining: usize) -> usize {
    if remaining >= INSERT_CHUNK {
        INSERT_CHUNK
    } else {
        1 << remaining.ilog2()
    }
}

fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO flight_events (seq, event_id, event_type, occurred_at_ms, trace_id, job_id, \
         profile_id, provider_id, model_id, payload, prev_hash, hash) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?,?,?,?,?,?,?)");
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_full_or_powers_of_two_and_cover_every_row() {
        for total in [1usize, 2, 3, 255, 256, 257, 1000, 4096, 4097] {
            let mut remaining = total;
            let mut sizes = std::collections::BTreeSet::new();
            while remaining > 0 {
                let n = chunk_len(remaining);
                assert!(n <= remaining && (n == INSERT_CHUNK || n.is_power_of_two()));
                sizes.insert(n);
                remaining -= n;
            }
            assert!(sizes.len() <= 9, "{total}: {sizes:?}");
        }
    }
}

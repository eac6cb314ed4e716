//! Verification: walks the chain from the newest retention checkpoint (or the genesis) to the
//! head, recomputing every hash, then checks the head against the anchor and the keychain's head
//! witness. Reports the first broken link and what broke it.
//!
//! [`VerifyDepth::Incremental`] starts the walk at the verified mark (`verified_mark.rs`: where
//! the last successful verification stood, sealed with the anchor key) once it has checked that
//! the marked event is still there with the marked hash, so routine verification costs what was
//! added since; [`VerifyDepth::Full`] walks everything. Both end with the same anchor and witness
//! checks, and both move the mark to the head they verified. The walk reads through its own
//! `rusqlite` connection on a blocking thread (sqlx's per-row cost was most of a full walk).
//!
//! How a break is classified (first match wins, in chain order):
//! - a missing sequence number: `deleted` at the missing number;
//! - a row whose `prev_hash` is not the previous row's hash but is the hash of another row:
//!   `reordered` (its content belongs elsewhere in the chain);
//! - a row whose content does not hash to its `hash`: `edited` at that row;
//! - a self-consistent row whose `prev_hash` does not link: `edited` at the previous row (it was
//!   rewritten with a recomputed hash);
//! - a head behind the anchor: `truncated_tail` at the first missing number;
//! - the anchored event's hash differs from the anchor, or the anchor is missing, malformed or
//!   not signed with our key while events exist: `anchor_mismatch`;
//! - after all of the above, an anchor or a log behind the head the keychain witnessed, or an event
//!   at the witnessed number with another hash: `rolled_back` (an older copy put back, or the log
//!   and its anchor deleted; see `witness.rs`);
//! - (checked first) a retention checkpoint the anchor does not know (neither its base nor the one
//!   it recorded as pending): `deleted` from the anchored base on, i.e. a forged checkpoint used
//!   to drop a prefix.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Serialize;

use super::anchor::{Anchor, AnchorError, AnchorLock, AnchorState};
use super::chain::{row_hash, RowContent};
use super::store::ChainHead;
use super::verified_mark;
use super::RecorderError;

/// What broke the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    Edited,
    Deleted,
    Reordered,
    TruncatedTail,
    AnchorMismatch,
    RolledBack,
}

/// How much of the chain [`verify`] walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyDepth {
    /// Every event from the retention checkpoint (or the genesis).
    Full,
    /// From the verified mark, when it still matches; otherwise everything.
    Incremental,
}

/// The result of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum VerifyReport {
    /// Every link holds. `count` events were walked from `from_seq` (after a retention
    /// checkpoint, or 1; after the verified mark for an incremental walk); `anchored_seq` is
    /// where the anchor stood (it may be behind `head` after a crash between commit and anchor
    /// write).
    Ok {
        #[ts(type = "number")]
        count: u64,
        #[ts(type = "number")]
        from_seq: i64,
        head: ChainHead,
        #[ts(type = "number | null")]
        anchored_seq: Option<i64>,
    },
    /// The first broken link.
    Broken {
        #[ts(type = "number")]
        sequence: i64,
        kind: BreakKind,
        detail: String,
    },
}

impl VerifyReport {
    /// Whether the chain verified.
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok { .. })
    }
}

fn broken(sequence: i64, kind: BreakKind, detail: impl Into<String>) -> VerifyReport {
    VerifyReport::Broken {
        sequence,
        kind,
        detail: detail.into(),
    }
}

/// Verifies the chain in the database file `db_path` against `anchor`.
///
/// Other processes may be writing meanwhile: the anchor (and the witness) are read under the
/// anchor's lock and before the database, whose state is then read in one transaction (one
/// snapshot), so a writer that commits, anchors or applies retention during the walk never makes
/// a sound log look broken.
pub async fn verify(
    db_path: &Path,
    anchor: &Anchor,
    depth: VerifyDepth,
) -> Result<VerifyReport, RecorderError> {
    // Lock, then a connection: the order `FlightRecorder::open` takes them in too.
    let lock = anchor.lock_if_present_async().await?;
    let (path, anchor) = (db_path.to_path_buf(), anchor.clone());
    tokio::task::spawn_blocking(move || verify_blocking(&path, &anchor, depth, lock))
        .await
        .map_err(|_| RecorderError::WriterGone)?
}

const ROW_COLUMNS: &str =
    "seq, event_id, event_type, occurred_at_ms, trace_id, job_id, profile_id, \
     provider_id, model_id, payload, prev_hash, hash";

fn verify_blocking(
    path: &Path,
    anchor: &Anchor,
    depth: VerifyDepth,
    lock: Option<AnchorLock>,
) -> Result<VerifyReport, RecorderError> {
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let anchored = anchor.read();
    let witnessed = anchor.witnessed()?;
    let tx = conn.transaction()?;
    let checkpoint: Option<ChainHead> = tx
        .query_row(
            "SELECT last_seq, last_hash FROM flight_retention ORDER BY last_seq DESC LIMIT 1",
            [],
            |r| {
                Ok(ChainHead {
                    seq: r.get(0)?,
                    hash: r.get(1)?,
                })
            },
        )
        .optional()?;
    drop(lock);
    let base = checkpoint.clone().unwrap_or_else(ChainHead::genesis);
    let anchored = match anchored {
        Ok(a) => a,
        Err(AnchorError::Malformed { .. } | AnchorError::BadSignature { .. }) => {
            return Ok(broken(
                0,
                BreakKind::AnchorMismatch,
                "the anchor file is malformed or not signed with this data directory's key",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(report) = anchored.as_ref().and_then(|a| unknown_base(a, &base)) {
        return Ok(report);
    }
    let start = match depth {
        VerifyDepth::Incremental => verified_mark::read(anchor)
            .filter(|mark| mark.seq > base.seq && still_there(&tx, mark).unwrap_or(false))
            .unwrap_or_else(|| base.clone()),
        VerifyDepth::Full => base.clone(),
    };
    let anchored = anchored.map(|a| a.head);
    let mut walk = Walk::from(start.clone());
    walk.watch(anchored.as_ref().map(|a| a.seq));
    walk.watch(witnessed.as_ref().map(|w| w.seq));
    if let Some(report) = walk.run(&tx, &base)? {
        return Ok(report);
    }
    // Anchored or witnessed events at or below the start were not walked: read their hashes.
    for seq in [&anchored, &witnessed].into_iter().flatten().map(|h| h.seq) {
        if seq > base.seq && seq <= start.seq {
            if let Some(hash) = hash_at(&tx, seq)? {
                walk.seen.push((seq, hash));
            }
        }
    }
    drop(tx);
    let report = check_anchor(
        anchored.as_ref(),
        walk.seen_at(anchored.as_ref()),
        &walk.head,
        base.seq,
        walk.count,
        start.seq + 1,
    );
    let report = check_witness(report, witnessed.as_ref(), &walk, base.seq);
    if let VerifyReport::Ok { head, .. } = &report {
        if head.seq > 0 {
            // A shortcut for the next walk; a directory that cannot be written still verifies.
            if let Err(error) = verified_mark::write(anchor, head) {
                tracing::debug!(%error, "flight recorder: the verified mark was not written");
            }
        }
    }
    Ok(report)
}

/// The anchor's base check: a retention checkpoint the anchor does not know.
fn unknown_base(anchored: &AnchorState, base: &ChainHead) -> Option<VerifyReport> {
    if anchored.knows_base(base) {
        return None;
    }
    Some(if base.seq > anchored.base.seq {
        broken(
            anchored.base.seq + 1,
            BreakKind::Deleted,
            format!(
                "events {} to {} were removed under a retention checkpoint the anchor does not know",
                anchored.base.seq + 1,
                base.seq
            ),
        )
    } else {
        broken(
            base.seq.max(1),
            BreakKind::AnchorMismatch,
            "the retention checkpoint differs from the anchored one",
        )
    })
}

/// Whether the marked event is still there with the marked hash, and its content still hashes to
/// it (an edited row below the mark is then the full walk's to find).
fn still_there(conn: &Connection, mark: &ChainHead) -> Result<bool, RecorderError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ROW_COLUMNS} FROM flight_events WHERE seq = ?"
    ))?;
    let mut rows = stmt.query([mark.seq])?;
    let Some(row) = rows.next()? else {
        return Ok(false);
    };
    let (content, prev_hash, hash) = row_content(row)?;
    Ok(hash == mark.hash && row_hash(prev_hash, &content) == hash)
}

fn hash_at(conn: &Connection, seq: i64) -> Result<Option<String>, RecorderError> {
    Ok(conn
        .query_row("SELECT hash FROM flight_events WHERE seq = ?", [seq], |r| {
            r.get(0)
        })
        .optional()?)
}

/// A row's hashed content, its `prev_hash` and its `hash`, borrowed from the row.
fn row_content<'r>(
    row: &'r rusqlite::Row<'_>,
) -> Result<(RowContent<'r>, &'r str, &'r str), rusqlite::Error> {
    let text = |i: usize| -> Result<&'r str, rusqlite::Error> {
        row.get_ref(i)?.as_str().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    };
    let opt = |i: usize| -> Result<Option<&'r str>, rusqlite::Error> {
        row.get_ref(i)?.as_str_or_null().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    };
    Ok((
        RowContent {
            seq: row.get(0)?,
            event_id: text(1)?,
            event_type: text(2)?,
            occurred_at_ms: row.get(3)?,
            trace_id: opt(4)?,
            job_id: opt(5)?,
            profile_id: opt(6)?,
            provider_id: opt(7)?,
            model_id: opt(8)?,
            payload: text(9)?,
        },
        text(10)?,
        text(11)?,
    ))
}

/// The walk along the chain: where it stands, how many events it checked, and the hashes it saw
/// at the numbers the anchor and the witness name.
struct Walk {
    head: ChainHead,
    count: u64,
    watched: Vec<i64>,
    seen: Vec<(i64, String)>,
}

impl Walk {
    fn from(head: ChainHead) -> Self {
        Self {
            head,
            count: 0,
            watched: Vec::new(),
            seen: Vec::new(),
        }
    }

    fn watch(&mut self, seq: Option<i64>) {
        self.watched.extend(seq);
    }

    fn seen_at(&self, at: Option<&ChainHead>) -> Option<&str> {
        let seq = at?.seq;
        self.seen
            .iter()
            .find(|(s, _)| *s == seq)
            .map(|(_, h)| h.as_str())
    }

    /// Walks every event after `self.head`; `Some(report)` at the first break.
    fn run(
        &mut self,
        conn: &Connection,
        base: &ChainHead,
    ) -> Result<Option<VerifyReport>, RecorderError> {
        // A full walk reads from the lowest row, so that a row left below the retention
        // checkpoint is seen; an incremental one starts after its mark.
        let from = if self.head.seq == base.seq {
            i64::MIN
        } else {
            self.head.seq
        };
        let mut stmt = conn.prepare(&format!(
            "SELECT {ROW_COLUMNS} FROM flight_events WHERE seq > ? ORDER BY seq"
        ))?;
        let mut rows = stmt.query([from])?;
        while let Some(row) = rows.next()? {
            let (content, prev_hash, hash) = row_content(row)?;
            let seq = content.seq;
            if seq <= self.head.seq {
                // Only possible below a checkpoint whose rows were not all dropped.
                return Ok(Some(broken(
                    seq,
                    BreakKind::Edited,
                    "an event at or below the retention checkpoint is still present",
                )));
            }
            if seq != self.head.seq + 1 {
                return Ok(Some(broken(
                    self.head.seq + 1,
                    BreakKind::Deleted,
                    format!("events {} to {} are missing", self.head.seq + 1, seq - 1),
                )));
            }
            let self_consistent = row_hash(prev_hash, &content) == hash;
            if prev_hash != self.head.hash {
                let prev_hash = prev_hash.to_owned();
                drop(rows);
                return Ok(Some(misplaced(conn, seq, &prev_hash, self_consistent)?));
            }
            if !self_consistent {
                return Ok(Some(broken(
                    seq,
                    BreakKind::Edited,
                    "the event's content does not match its hash",
                )));
            }
            if self.watched.contains(&seq) {
                self.seen.push((seq, hash.to_owned()));
            }
            self.head = ChainHead {
                seq,
                hash: hash.to_owned(),
            };
            self.count += 1;
        }
        Ok(None)
    }
}

/// A row whose `prev_hash` does not link to the event before it: reordered, edited, or the one
/// before it rewritten.
fn misplaced(
    conn: &Connection,
    seq: i64,
    prev_hash: &str,
    self_consistent: bool,
) -> Result<VerifyReport, RecorderError> {
    let elsewhere: Option<i64> = conn
        .query_row(
            "SELECT seq FROM flight_events WHERE hash = ? AND seq != ?",
            rusqlite::params![prev_hash, seq - 1],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match (elsewhere, self_consistent) {
        (Some(other), _) => broken(
            seq,
            BreakKind::Reordered,
            format!("the content at {seq} follows the event now at {other}"),
        ),
        (None, false) => broken(
            seq,
            BreakKind::Edited,
            "the event's content does not match its hash",
        ),
        (None, true) => broken(
            seq - 1,
            BreakKind::Edited,
            "the event was rewritten: the next event no longer links to it",
        ),
    })
}

fn check_anchor(
    anchored: Option<&ChainHead>,
    anchored_hash_seen: Option<&str>,
    head: &ChainHead,
    base_seq: i64,
    count: u64,
    from_seq: i64,
) -> VerifyReport {
    let Some(anchored) = anchored else {
        if head.seq == 0 {
            return VerifyReport::Ok {
                count,
                from_seq,
                head: head.clone(),
                anchored_seq: None,
            };
        }
        return broken(
            base_seq + 1,
            BreakKind::AnchorMismatch,
            "events exist but the anchor file is missing",
        );
    };
    if anchored.seq > head.seq {
        return broken(
            head.seq + 1,
            BreakKind::TruncatedTail,
            format!(
                "the anchor records event {} but the log ends at {}",
                anchored.seq, head.seq
            ),
        );
    }
    let matches = if anchored.seq <= base_seq {
        // Anchored at genesis, or at an event retention has since dropped: only order can be checked.
        true
    } else {
        anchored_hash_seen == Some(anchored.hash.as_str())
    };
    if !matches {
        return broken(
            anchored.seq,
            BreakKind::AnchorMismatch,
            "the anchored event's hash differs from the anchor",
        );
    }
    VerifyReport::Ok {
        count,
        from_seq,
        head: head.clone(),
        anchored_seq: Some(anchored.seq),
    }
}

/// The keychain witness's check, after the anchor's: a log behind the witnessed head, or another
/// event at the witnessed number, was rolled back.
fn check_witness(
    report: VerifyReport,
    witnessed: Option<&ChainHead>,
    walk: &Walk,
    base_seq: i64,
) -> VerifyReport {
    let (VerifyReport::Ok { head, .. }, Some(witnessed)) = (&report, witnessed) else {
        return report;
    };
    if witnessed.seq > head.seq {
        return broken(
            head.seq + 1,
            BreakKind::RolledBack,
            format!(
                "the keychain witnessed event {} but the log and its anchor end at {}: an older copy was put back, or the log was deleted",
                witnessed.seq, head.seq
            ),
        );
    }
    if witnessed.seq > base_seq && walk.seen_at(Some(witnessed)) != Some(witnessed.hash.as_str()) {
        return broken(
            witnessed.seq,
            BreakKind::RolledBack,
            "the event at the number the keychain witnessed has another hash: the log was replaced by another one",
        );
    }
    report
}

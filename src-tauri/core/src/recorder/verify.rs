//! Verification: walks the chain from the newest retention checkpoint (or the genesis) to the
//! head, recomputing every hash, then checks the head against the anchor. Reports the first
//! broken link and what broke it.
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

use futures::TryStreamExt;
use serde::Serialize;
use sqlx::{Connection, Row, SqlitePool};

use super::anchor::{Anchor, AnchorError};
use super::chain::{row_hash, RowContent};
use super::store::{latest_checkpoint_conn, ChainHead};
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

/// The result of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum VerifyReport {
    /// Every link holds. `count` events were checked from `from_seq` (after a retention
    /// checkpoint, or 1); `anchored_seq` is where the anchor stood (it may be behind `head`
    /// after a crash between commit and anchor write).
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

/// Verifies the chain in `pool` against `anchor`.
///
/// Other processes may be writing meanwhile: the anchor is read under its lock and before the
/// database, whose state is then read in one transaction (one snapshot), so a writer that commits,
/// anchors or applies retention during the walk never makes a sound log look broken.
pub async fn verify(pool: &SqlitePool, anchor: &Anchor) -> Result<VerifyReport, RecorderError> {
    // Lock, then a connection: the order `FlightRecorder::open` takes them in too.
    let lock = anchor.lock_if_present_async().await?;
    let mut conn = pool.acquire().await?;
    let read_anchor = anchor.clone();
    let (anchored, witnessed) =
        tokio::task::spawn_blocking(move || (read_anchor.read(), read_anchor.witnessed()))
            .await
            .map_err(|_| RecorderError::WriterGone)?;
    let witnessed = witnessed?;
    let mut tx = conn.begin().await?;
    let checkpoint = latest_checkpoint_conn(&mut tx).await?;
    drop(lock);
    let mut head = match &checkpoint {
        Some(cp) => ChainHead {
            seq: cp.last_seq,
            hash: cp.last_hash.clone(),
        },
        None => ChainHead::genesis(),
    };
    let from_seq = head.seq + 1;
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
    if let Some(a) = &anchored {
        if !a.knows_base(&head) {
            return Ok(if head.seq > a.base.seq {
                broken(
                    a.base.seq + 1,
                    BreakKind::Deleted,
                    format!(
                        "events {} to {} were removed under a retention checkpoint the anchor does not know",
                        a.base.seq + 1,
                        head.seq
                    ),
                )
            } else {
                broken(
                    head.seq.max(1),
                    BreakKind::AnchorMismatch,
                    "the retention checkpoint differs from the anchored one",
                )
            });
        }
    }
    let anchored = anchored.map(|a| a.head);
    let mut anchored_hash_seen: Option<String> = None;
    let mut witnessed_hash_seen: Option<String> = None;
    let mut count: u64 = 0;
    let mut rows = sqlx::query(
        "SELECT seq, event_id, event_type, occurred_at_ms, trace_id, job_id, profile_id, provider_id, \
         model_id, payload, prev_hash, hash FROM flight_events ORDER BY seq",
    )
    .fetch(&mut *tx);
    while let Some(row) = rows.try_next().await? {
        let seq: i64 = row.try_get("seq")?;
        let prev_hash: String = row.try_get("prev_hash")?;
        let hash: String = row.try_get("hash")?;
        if seq <= head.seq {
            // Only possible below a checkpoint whose rows were not all dropped.
            return Ok(broken(
                seq,
                BreakKind::Edited,
                "an event at or below the retention checkpoint is still present",
            ));
        }
        if seq != head.seq + 1 {
            return Ok(broken(
                head.seq + 1,
                BreakKind::Deleted,
                format!("events {} to {} are missing", head.seq + 1, seq - 1),
            ));
        }
        let (event_id, event_type, payload): (String, String, String) = (
            row.try_get("event_id")?,
            row.try_get("event_type")?,
            row.try_get("payload")?,
        );
        let ids: [Option<String>; 5] = [
            row.try_get("trace_id")?,
            row.try_get("job_id")?,
            row.try_get("profile_id")?,
            row.try_get("provider_id")?,
            row.try_get("model_id")?,
        ];
        let content = RowContent {
            seq,
            event_id: &event_id,
            event_type: &event_type,
            occurred_at_ms: row.try_get("occurred_at_ms")?,
            trace_id: ids[0].as_deref(),
            job_id: ids[1].as_deref(),
            profile_id: ids[2].as_deref(),
            provider_id: ids[3].as_deref(),
            model_id: ids[4].as_deref(),
            payload: &payload,
        };
        let self_consistent = row_hash(&prev_hash, &content) == hash;
        if prev_hash != head.hash {
            drop(rows);
            let elsewhere: Option<i64> =
                sqlx::query_scalar("SELECT seq FROM flight_events WHERE hash = ? AND seq != ?")
                    .bind(&prev_hash)
                    .bind(seq - 1)
                    .fetch_optional(&mut *tx)
                    .await?;
            return Ok(match (elsewhere, self_consistent) {
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
            });
        }
        if !self_consistent {
            return Ok(broken(
                seq,
                BreakKind::Edited,
                "the event's content does not match its hash",
            ));
        }
        if anchored.as_ref().is_some_and(|a| a.seq == seq) {
            anchored_hash_seen = Some(hash.clone());
        }
        if witnessed.as_ref().is_some_and(|w| w.seq == seq) {
            witnessed_hash_seen = Some(hash.clone());
        }
        head = ChainHead { seq, hash };
        count += 1;
    }
    let report = check_anchor(
        anchored,
        anchored_hash_seen,
        head,
        from_seq,
        count,
        checkpoint.is_some(),
    );
    Ok(match (report, witnessed) {
        (VerifyReport::Ok { head, .. }, Some(witnessed)) if witnessed.seq > head.seq => broken(
            head.seq + 1,
            BreakKind::RolledBack,
            format!(
                "the keychain witnessed event {} but the log and its anchor end at {}: an older copy was put back, or the log was deleted",
                witnessed.seq, head.seq
            ),
        ),
        (VerifyReport::Ok { .. }, Some(witnessed))
            if witnessed.seq >= from_seq
                && witnessed_hash_seen.as_deref() != Some(witnessed.hash.as_str()) =>
        {
            broken(
                witnessed.seq,
                BreakKind::RolledBack,
                "the event at the number the keychain witnessed has another hash: the log was replaced by another one",
            )
        }
        (report, _) => report,
    })
}

fn check_anchor(
    anchored: Option<ChainHead>,
    anchored_hash_seen: Option<String>,
    head: ChainHead,
    from_seq: i64,
    count: u64,
    had_checkpoint: bool,
) -> VerifyReport {
    let Some(anchored) = anchored else {
        if count == 0 && !had_checkpoint {
            return VerifyReport::Ok {
                count,
                from_seq,
                head,
                anchored_seq: None,
            };
        }
        return broken(
            from_seq,
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
    let matches = if anchored.seq == 0 || anchored.seq < from_seq {
        // Anchored at genesis, or at an event retention has since dropped: only order can be checked.
        anchored.seq < from_seq
    } else {
        anchored_hash_seen.as_deref() == Some(anchored.hash.as_str())
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
        head,
        anchored_seq: Some(anchored.seq),
    }
}

//! The Flight Recorder log against real SQLite files: appending, the append-only triggers,
//! verification against every kind of tampering, the anchor, and retention.
#![allow(clippy::unwrap_used)]

mod recorder_common;

use std::time::Duration;

use handshake_core::recorder::anchor::Anchor;
use handshake_core::recorder::chain::{row_hash, RowContent};
use handshake_core::recorder::*;
use recorder_common::*;
use sqlx::Row;
use uuid::Uuid;

fn broken(report: VerifyReport) -> (i64, BreakKind) {
    match report {
        VerifyReport::Broken { sequence, kind, .. } => (sequence, kind),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

#[tokio::test]
async fn appended_events_chain_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let (db, rec) = open(dir.path()).await;
    let stored = append_jobs(&rec, 0..5).await;
    assert_eq!(
        stored.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(stored[0].prev_hash, "0".repeat(64));
    for pair in stored.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    assert_eq!(stored[2].event_type, "FR-EVT-PROFILE-002");
    assert_eq!(stored[2].payload["job_id"], "job-2");
    let row = sqlx::query("SELECT event_type, job_id, profile_id FROM flight_events WHERE seq = 3")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>("event_type"), "FR-EVT-PROFILE-002");
    assert_eq!(row.get::<String, _>("job_id"), "job-2");
    match rec.verify().await.unwrap() {
        VerifyReport::Ok {
            count,
            from_seq,
            head,
            anchored_seq,
        } => {
            assert_eq!(
                (count, from_seq, head.seq, anchored_seq),
                (5, 1, 5, Some(5))
            );
            assert_eq!(head.hash, stored[4].hash);
        }
        other => panic!("{other:?}"),
    }
    // Reopening continues the chain.
    rec.shutdown().await.unwrap();
    let (_db, rec) = open(dir.path()).await;
    let next = append_jobs(&rec, 5..6).await;
    assert_eq!(next[0].seq, 6);
    assert_eq!(next[0].prev_hash, stored[4].hash);
    assert!(rec.verify().await.unwrap().is_ok());
    assert!(!rec.stats().anchor_conflict);
}

#[tokio::test]
async fn plain_sql_update_delete_and_backdated_insert_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (db, rec) = open(dir.path()).await;
    append_jobs(&rec, 0..3).await;
    let update = sqlx::query("UPDATE flight_events SET payload = '{}' WHERE seq = 2")
        .execute(db.pool())
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = sqlx::query("DELETE FROM flight_events WHERE seq = 3")
        .execute(db.pool())
        .await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    let delete_all = sqlx::query("DELETE FROM flight_events")
        .execute(db.pool())
        .await;
    assert!(delete_all.is_err());
    let insert = sqlx::query(
        "INSERT INTO flight_events (seq, event_id, event_type, occurred_at_ms, payload, prev_hash, hash) \
         VALUES (2, 'x', 'FR-EVT-PROFILE-002', 0, '{}', 'a', 'b')",
    )
    .execute(db.pool())
    .await;
    assert!(insert.is_err());
    let cp_delete = sqlx::query("DELETE FROM flight_retention")
        .execute(db.pool())
        .await;
    assert!(
        cp_delete.is_ok(),
        "an empty retention table has nothing to refuse"
    );
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM flight_events")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(count, 3);
    assert!(rec.verify().await.unwrap().is_ok());
}

#[tokio::test]
async fn an_edited_row_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (db, rec) = open(dir.path()).await;
    append_jobs(&rec, 0..5).await;
    drop_guards(&db).await;
    sqlx::query("UPDATE flight_events SET payload = '{\"job_id\":\"job-x\",\"profile_id\":\"p1\"}' WHERE seq = 3")
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(broken(rec.verify().await.unwrap()), (3, BreakKind::Edited));
}

#[tokio::test]
async fn an_edited_row_with_a_recomputed_hash_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (db, rec) = open(dir.path()).await;
    append_jobs(&rec, 0..5).await;
    drop_guards(&db).await;
    let row = sqlx::query("SELECT event_id, event_type, occurred_at_ms, job_id, profile_id, prev_hash FROM flight_events WHERE seq = 3")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let payload = "{\"job_id\":\"job-2\",\"profile_id\":\"p-evil\"}";
    let (event_id, event_type, job, profile, prev): (String, String, String, String, String) = (
        row.get("event_id"),
        row.get("event_type"),
        row.get("job_id"),
        row.get("profile_id"),
        row.get("prev_hash"),
    );
    let content = RowContent {
        seq: 3,
        event_id: &event_id,
        event_type: &event_type,
        occurred_at_ms: row.get("occurred_at_ms"),
        trace_id: None,
        job_id: Some(&job),
        profile_id: Some(&profile),
        provider_id: None,
        model_id: None,
        payload,
    };
    let forged = row_hash(&prev, &content);
    sqlx::query("UPDATE flight_events SET payload = ?, hash = ? WHERE seq = 3")
        .bind(payload)
        .bind(forged)
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(broken(rec.verify().await.unwrap()), (3, BreakKind::Edited));
}

#[tokio::test]
async fn a_deleted_row_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (db, rec) = open(dir.path()).await;
    append_jobs(&rec, 0..5).await;
    drop_guards(&db).await;
    sqlx::query("DELETE FROM flight_events WHERE seq = 3")
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(broken(rec.verify().await.unwrap()), (3, BreakKind::Deleted));
}

#[tokio::test]
async fn reordered_rows_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (db, rec) = open(dir.path()).await;
    append_jobs(&rec, 0..5).await;
    drop_guards(&db).await;
    // Swap the contents of rows 3 and 4 (everything but the sequence number).
    let cols = "event_id, event_type, occurred_at_ms, trace_id, job_id, profile_id, provider_id, model_id, payload, prev_hash, hash";
    let mut tx = db.pool().begin().await.unwrap();
    sqlx::query(&format!(
        "CREATE TEMP TABLE swap AS SELECT seq, {cols} FROM flight_events WHERE seq IN (3, 4)"
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("DELETE FROM flight_events WHERE seq IN (3, 4)")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(&format!(
        "INSERT INTO flight_events (seq, {cols}) SELECT 7 - seq, {cols} FROM swap"
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let at3: String = sqlx::query_scalar("SELECT job_id FROM flight_events WHERE seq = 3")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(at3, "job-3", "the swap happened");
    assert_eq!(
        broken(rec.verify().await.unwrap()),
        (3, BreakKind::Reordered)
    );
}

#[tokio::test]
async fn a_truncated_tail_is_detected_by_the_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let (db, rec) = open(dir.path()).await;
    append_jobs(&rec, 0..5).await;
    drop_guards(&db).await;
    sqlx::query("DELETE FROM flight_events WHERE seq >= 4")
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(
        broken(rec.verify().await.unwrap()),
        (4, BreakKind::TruncatedTail)
    );

    // Reopening does not paper over it: the anchor is frozen as evidence.
    rec.shutdown().await.unwrap();
    let (_db, rec) = open(dir.path()).await;
    assert!(rec.stats().anchor_conflict);
    append_jobs(&rec, 10..13).await;
    assert_eq!(
        broken(rec.verify().await.unwrap()),
        (5, BreakKind::AnchorMismatch)
    );
}

#[tokio::test]
async fn a_rewritten_chain_with_valid_hashes_mismatches_the_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let (db, rec) = open(dir.path()).await;
    append_jobs(&rec, 0..5).await;
    drop_guards(&db).await;
    // Replace the last event by a forged one that links correctly.
    let prev: String = sqlx::query_scalar("SELECT hash FROM flight_events WHERE seq = 4")
        .fetch_one(db.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM flight_events WHERE seq = 5")
        .execute(db.pool())
        .await
        .unwrap();
    let event_id = Uuid::new_v4().to_string();
    let payload = "{\"job_id\":\"forged\",\"profile_id\":\"p1\"}";
    let content = RowContent {
        seq: 5,
        event_id: &event_id,
        event_type: "FR-EVT-PROFILE-002",
        occurred_at_ms: 1,
        trace_id: None,
        job_id: None,
        profile_id: None,
        provider_id: None,
        model_id: None,
        payload,
    };
    sqlx::query("INSERT INTO flight_events (seq, event_id, event_type, occurred_at_ms, payload, prev_hash, hash) VALUES (5, ?, 'FR-EVT-PROFILE-002', 1, ?, ?, ?)")
        .bind(&event_id)
        .bind(payload)
        .bind(&prev)
        .bind(row_hash(&prev, &content))
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(
        broken(rec.verify().await.unwrap()),
        (5, BreakKind::AnchorMismatch)
    );
}

#[tokio::test]
async fn a_forged_or_missing_anchor_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (db, rec) = open(dir.path()).await;
    append_jobs(&rec, 0..3).await;
    let anchor_path = dir.path().join("recorder.anchor");
    let genuine = std::fs::read(&anchor_path).unwrap();

    // Signed with another key (someone without the keychain key wrote it).
    Anchor::new(dir.path(), AnchorKey::from_bytes([1; 32]))
        .write(&AnchorState::at(ChainHead {
            seq: 2,
            hash: "0".repeat(64),
        }))
        .unwrap();
    assert_eq!(
        broken(rec.verify().await.unwrap()).1,
        BreakKind::AnchorMismatch
    );

    std::fs::remove_file(&anchor_path).unwrap();
    assert_eq!(
        broken(rec.verify().await.unwrap()),
        (1, BreakKind::AnchorMismatch)
    );

    std::fs::write(&anchor_path, genuine).unwrap();
    assert!(rec.verify().await.unwrap().is_ok());
    drop(db);
}

#[tokio::test]
async fn an_anchor_behind_the_head_is_a_crash_not_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, rec) = open(dir.path()).await;
    let stored = append_jobs(&rec, 0..5).await;
    // As if the process died after committing 4 and 5 but before rewriting the anchor.
    Anchor::new(dir.path(), AnchorKey::from_bytes(KEY))
        .write(&AnchorState::at(ChainHead {
            seq: 3,
            hash: stored[2].hash.clone(),
        }))
        .unwrap();
    match rec.verify().await.unwrap() {
        VerifyReport::Ok {
            count,
            head,
            anchored_seq,
            ..
        } => {
            assert_eq!((count, head.seq, anchored_seq), (5, 5, Some(3)));
        }
        other => panic!("{other:?}"),
    }
    rec.shutdown().await.unwrap();
    let (_db, rec) = open(dir.path()).await;
    assert!(!rec.stats().anchor_conflict);
    append_jobs(&rec, 5..6).await;
    match rec.verify().await.unwrap() {
        VerifyReport::Ok { anchored_seq, .. } => assert_eq!(anchored_seq, Some(6)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn retention_drops_a_prefix_through_a_recorded_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (db, rec) = open(dir.path()).await;
    let old = append_jobs(&rec, 0..3).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cutoff = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    append_jobs(&rec, 3..5).await;

    let cp = rec.apply_retention_before(cutoff).await.unwrap().unwrap();
    assert_eq!((cp.last_seq, cp.dropped), (3, 3));
    assert_eq!(cp.last_hash, old[2].hash);
    let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM flight_events ORDER BY seq")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(seqs, vec![4, 5]);
    match rec.verify().await.unwrap() {
        VerifyReport::Ok {
            count,
            from_seq,
            head,
            ..
        } => assert_eq!((count, from_seq, head.seq), (2, 4, 5)),
        other => panic!("{other:?}"),
    }
    // Above the checkpoint, deletion is still refused; the checkpoint itself cannot be removed.
    assert!(sqlx::query("DELETE FROM flight_events WHERE seq = 4")
        .execute(db.pool())
        .await
        .is_err());
    assert!(sqlx::query("DELETE FROM flight_retention")
        .execute(db.pool())
        .await
        .is_err());
    assert!(sqlx::query("UPDATE flight_retention SET last_seq = 5")
        .execute(db.pool())
        .await
        .is_err());
    // Nothing old enough: nothing happens.
    assert_eq!(rec.apply_retention_before(cutoff).await.unwrap(), None);

    // Dropping everything leaves the checkpoint as the head; the chain continues from it.
    let all = rec
        .apply_retention_before(chrono::Utc::now() + chrono::Duration::hours(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((all.last_seq, all.dropped), (5, 2));
    assert!(rec.verify().await.unwrap().is_ok());
    let next = append_jobs(&rec, 5..6).await;
    assert_eq!(next[0].seq, 6);
    assert_eq!(next[0].prev_hash, all.last_hash);
    match rec.verify().await.unwrap() {
        VerifyReport::Ok {
            count, from_seq, ..
        } => assert_eq!((count, from_seq), (1, 6)),
        other => panic!("{other:?}"),
    }
    // Retention via days is off by default and a no-op for fresh events.
    assert_eq!(rec.apply_retention(30).await.unwrap(), None);
}

#[tokio::test]
async fn a_forged_checkpoint_dropping_a_prefix_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (db, rec) = open(dir.path()).await;
    let stored = append_jobs(&rec, 0..5).await;
    // Plain SQL, as someone with the file but not the keychain key could: a checkpoint at 2, then
    // the delete trigger allows dropping 1 and 2.
    sqlx::query("INSERT INTO flight_retention (last_seq, last_hash, dropped, cutoff_ms, applied_at_ms) VALUES (2, ?, 2, 0, 0)")
        .bind(&stored[1].hash)
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM flight_events WHERE seq <= 2")
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(broken(rec.verify().await.unwrap()), (1, BreakKind::Deleted));
    rec.shutdown().await.unwrap();
    let (_db, rec) = open(dir.path()).await;
    assert!(rec.stats().anchor_conflict);
}

#[tokio::test]
async fn a_crash_on_either_side_of_a_retention_commit_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, rec) = open(dir.path()).await;
    let stored = append_jobs(&rec, 0..4).await;
    let head = ChainHead {
        seq: 4,
        hash: stored[3].hash.clone(),
    };
    let cp = ChainHead {
        seq: 2,
        hash: stored[1].hash.clone(),
    };
    let anchor = Anchor::new(dir.path(), AnchorKey::from_bytes(KEY));
    // Before the commit: the anchor already names the pending checkpoint, the database does not.
    anchor
        .write(&AnchorState {
            head: head.clone(),
            base: ChainHead::genesis(),
            pending_base: Some(cp.clone()),
        })
        .unwrap();
    assert!(rec.verify().await.unwrap().is_ok());
    // After the commit: the same anchor, the database has the checkpoint.
    rec.shutdown().await.unwrap();
    let (db, _) = open(dir.path()).await;
    sqlx::query("INSERT INTO flight_retention (last_seq, last_hash, dropped, cutoff_ms, applied_at_ms) VALUES (2, ?, 2, 0, 0)")
        .bind(&cp.hash)
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM flight_events WHERE seq <= 2")
        .execute(db.pool())
        .await
        .unwrap();
    anchor
        .write(&AnchorState {
            head,
            base: ChainHead::genesis(),
            pending_base: Some(cp),
        })
        .unwrap();
    let report = verify_data_dir(
        &db,
        dir.path(),
        KeySource::Fixed(AnchorKey::from_bytes(KEY)),
    )
    .await
    .unwrap();
    match report {
        VerifyReport::Ok {
            count, from_seq, ..
        } => assert_eq!((count, from_seq), (2, 3)),
        other => panic!("{other:?}"),
    }
    // And the real retention path leaves an anchor that knows its checkpoint.
    let (_db2, rec) = open(dir.path()).await;
    assert!(!rec.stats().anchor_conflict);
    let state = anchor.read().unwrap().unwrap();
    assert_eq!((state.base.seq, state.pending_base), (2, None));
    assert!(rec.verify().await.unwrap().is_ok());
}

fn walked(report: VerifyReport) -> (u64, i64, i64) {
    match report {
        VerifyReport::Ok {
            count,
            from_seq,
            head,
            ..
        } => (count, from_seq, head.seq),
        other => panic!("expected ok, got {other:?}"),
    }
}

#[tokio::test]
async fn incremental_verification_walks_only_what_was_added_since_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let (db, rec) = open(dir.path()).await;
    append_jobs(&rec, 0..10).await;
    // No mark yet: the first walk is a full one, and leaves the mark at the head.
    assert_eq!(
        walked(rec.verify_to(VerifyDepth::Incremental).await.unwrap()),
        (10, 1, 10)
    );
    assert!(verified_mark::mark_path(dir.path()).exists());
    append_jobs(&rec, 10..13).await;
    assert_eq!(
        walked(rec.verify_to(VerifyDepth::Incremental).await.unwrap()),
        (3, 11, 13)
    );
    assert_eq!(
        walked(rec.verify_to(VerifyDepth::Incremental).await.unwrap()),
        (0, 14, 13),
        "nothing new, nothing walked"
    );
    assert_eq!(walked(rec.verify().await.unwrap()), (13, 1, 13));

    // A mark edited by hand is not trusted: the walk starts at the beginning.
    let mark = verified_mark::mark_path(dir.path());
    let text = std::fs::read_to_string(&mark).unwrap();
    std::fs::write(&mark, text.replace("\"seq\":13", "\"seq\":12")).unwrap();
    assert_eq!(
        walked(rec.verify_to(VerifyDepth::Incremental).await.unwrap()),
        (13, 1, 13)
    );

    // An edit below the mark is the full walk's to find (the documented trade); an edit of the
    // marked event itself sends the incremental walk back to the beginning, where it is found.
    drop_guards(&db).await;
    sqlx::query("UPDATE flight_events SET payload = '{\"job_id\":\"job-x\",\"profile_id\":\"p1\"}' WHERE seq = 4")
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(
        walked(rec.verify_to(VerifyDepth::Incremental).await.unwrap()),
        (0, 14, 13)
    );
    assert_eq!(broken(rec.verify().await.unwrap()), (4, BreakKind::Edited));
    sqlx::query("UPDATE flight_events SET payload = '{\"job_id\":\"job-y\",\"profile_id\":\"p1\"}' WHERE seq = 13")
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(
        broken(rec.verify_to(VerifyDepth::Incremental).await.unwrap()),
        (4, BreakKind::Edited)
    );
}

#[tokio::test]
async fn incremental_verification_still_sees_a_truncated_tail_and_a_forged_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let (db, rec) = open(dir.path()).await;
    append_jobs(&rec, 0..6).await;
    assert!(rec.verify().await.unwrap().is_ok());
    drop_guards(&db).await;
    sqlx::query("DELETE FROM flight_events WHERE seq > 4")
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(
        broken(rec.verify_to(VerifyDepth::Incremental).await.unwrap()),
        (5, BreakKind::TruncatedTail)
    );
    std::fs::write(dir.path().join("recorder.anchor"), b"{}").unwrap();
    assert_eq!(
        broken(rec.verify_to(VerifyDepth::Incremental).await.unwrap()).1,
        BreakKind::AnchorMismatch
    );
}

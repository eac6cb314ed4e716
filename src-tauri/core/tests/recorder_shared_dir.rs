//! Two Flight Recorders on one data directory, as when the app and `hsk` run at once: they keep
//! one chain, the anchor never moves back, and a process that opens or verifies meanwhile never
//! sees a sound log as tampered with — also across a retention applied by one of them.
#![allow(clippy::unwrap_used)]

mod recorder_common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use handshake_core::recorder::anchor::Anchor;
use handshake_core::recorder::store::ChainHead;
use handshake_core::recorder::*;
use recorder_common::*;
use uuid::Uuid;

const PER_WRITER: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_writers_keep_one_chain_and_a_forward_only_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let (_db1, rec1) = open(&path).await;
    let (db2, rec2) = open(&path).await;
    let done = Arc::new(AtomicBool::new(false));

    // Reads the anchor as often as it can: its head must never go back.
    let watcher = {
        let (path, done) = (path.clone(), done.clone());
        tokio::task::spawn_blocking(move || {
            let anchor = Anchor::new(&path, AnchorKey::from_bytes(KEY));
            let (mut last, mut reads): (Option<AnchorState>, u64) = (None, 0);
            while !done.load(Ordering::Relaxed) {
                if let Some(state) = anchor.read().unwrap() {
                    // Head, base and pending retention: the whole state only moves forward.
                    if let Some(last) = &last {
                        assert!(
                            &state == last || state.supersedes(last),
                            "the anchor moved back from {last:?} to {state:?}"
                        );
                    }
                    last = Some(state);
                    reads += 1;
                }
            }
            reads
        })
    };
    // Verifies and opens a third recorder over and over while both write.
    let checker = {
        let (path, done) = (path.clone(), done.clone());
        tokio::spawn(async move {
            let mut rounds = 0_u32;
            while !done.load(Ordering::Relaxed) || rounds == 0 {
                let report =
                    verify_data_dir(&db2, &path, KeySource::Fixed(AnchorKey::from_bytes(KEY)))
                        .await
                        .unwrap();
                assert!(
                    report.is_ok(),
                    "verify while two processes write: {report:?}"
                );
                let (_db3, rec3) = open(&path).await;
                assert!(
                    !rec3.stats().anchor_conflict,
                    "a recorder opened while two others write saw a conflict"
                );
                rec3.shutdown().await.unwrap();
                rounds += 1;
            }
            rounds
        })
    };

    let write = |rec: FlightRecorder, offset: usize, retention_at: Option<usize>| {
        tokio::spawn(async move {
            for i in 0..PER_WRITER {
                if Some(i) == retention_at {
                    let cp = rec
                        .apply_retention_before(chrono::Utc::now())
                        .await
                        .unwrap();
                    assert!(cp.is_some(), "retention dropped nothing");
                }
                let (event, corr) = job_started(offset + i);
                rec.append_durable(event, corr).await.unwrap();
                let inf = inference(Uuid::now_v7(), "local");
                let corr = inference_corr(&inf);
                rec.record_inference(inf, corr);
            }
            rec.flush().await.unwrap();
            rec
        })
    };
    let a = write(rec1, 0, Some(PER_WRITER / 2));
    let b = write(rec2, PER_WRITER, None);
    let (rec1, rec2) = (a.await.unwrap(), b.await.unwrap());
    done.store(true, Ordering::Relaxed);
    let reads = watcher.await.unwrap();
    let rounds = checker.await.unwrap();
    assert!(reads > 10 && rounds > 0, "reads {reads}, rounds {rounds}");

    // Each writer's last commit is anchored or superseded: the anchor is at the head.
    let head = assert_verified_and_anchored_at_head(&rec1).await;
    assert_eq!(head.seq, (4 * PER_WRITER) as i64);
    assert_eq!(
        rec1.stats().anchor_failures + rec2.stats().anchor_failures,
        0
    );
    assert_eq!(rec1.stats().dropped_total + rec2.stats().dropped_total, 0);
}

/// Another process's retention between its pending anchor and its anchor after the commit: a
/// recorder opening then keeps the pending base, so after that retention commits (and its process
/// dies before anchoring again) the log still verifies and opens without a conflict.
#[tokio::test]
async fn opening_keeps_another_process_pending_retention() {
    let dir = tempfile::tempdir().unwrap();
    let (db, rec) = open(dir.path()).await;
    let stored = append_jobs(&rec, 0..5).await;
    rec.shutdown().await.unwrap();
    let link = |i: usize| ChainHead {
        seq: stored[i].seq,
        hash: stored[i].hash.clone(),
    };
    // The other process wrote its pending anchor: a checkpoint at event 3 is about to commit.
    let anchor = Anchor::new(dir.path(), AnchorKey::from_bytes(KEY));
    let pending = AnchorState {
        head: link(4),
        base: ChainHead::genesis(),
        pending_base: Some(link(2)),
    };
    anchor.write(&pending).unwrap();

    let (_db2, opened) = open(dir.path()).await;
    assert!(!opened.stats().anchor_conflict);
    assert_eq!(
        anchor.read().unwrap(),
        Some(pending),
        "the pending base was erased"
    );

    // The other process commits its retention (as its writer does) and dies before anchoring.
    let mut tx = db.pool().begin().await.unwrap();
    sqlx::query(
        "INSERT INTO flight_retention (last_seq, last_hash, dropped, cutoff_ms, applied_at_ms) \
         VALUES (?, ?, 3, 0, 0)",
    )
    .bind(stored[2].seq)
    .bind(&stored[2].hash)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("DELETE FROM flight_events WHERE seq <= ?")
        .bind(stored[2].seq)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let report = opened.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    let (_db3, again) = open(dir.path()).await;
    assert!(!again.stats().anchor_conflict);
    assert!(again.verify().await.unwrap().is_ok());
}

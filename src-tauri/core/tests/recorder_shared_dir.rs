//! Two Flight Recorders on one data directory, as when the app and `hsk` run at once: they keep
//! one chain, the anchor never moves back, and a process that opens or verifies meanwhile never
//! sees a sound log as tampered with — also across a retention applied by one of them.
#![allow(clippy::unwrap_used)]

mod recorder_common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use handshake_core::recorder::anchor::Anchor;
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
            let (mut last, mut reads) = (0_i64, 0_u64);
            while !done.load(Ordering::Relaxed) {
                if let Some(state) = anchor.read().unwrap() {
                    assert!(
                        state.head.seq >= last,
                        "the anchor moved back from {last} to {}",
                        state.head.seq
                    );
                    last = state.head.seq;
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
    let report = rec1.verify().await.unwrap();
    let VerifyReport::Ok {
        head, anchored_seq, ..
    } = report
    else {
        panic!("{report:?}")
    };
    assert_eq!(anchored_seq, Some(head.seq));
    assert_eq!(head.seq, (4 * PER_WRITER) as i64);
    assert_eq!(
        rec1.stats().anchor_failures + rec2.stats().anchor_failures,
        0
    );
    assert_eq!(rec1.stats().dropped_total + rec2.stats().dropped_total, 0);
}

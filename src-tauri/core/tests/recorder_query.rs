//! Flight Recorder queries, JSON Lines export, the live subscription and the batch writer's
//! queue policy, against real SQLite files.
#![allow(clippy::unwrap_used)]

mod recorder_common;

use std::time::Duration;

use handshake_core::recorder::*;
use recorder_common::*;
use uuid::Uuid;

#[tokio::test]
async fn queries_filter_by_type_trace_job_provider_and_time_and_paginate() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, rec) = open(dir.path()).await;
    let t1 = Uuid::new_v4();
    let t2 = Uuid::new_v4();
    for (trace, provider) in [(t1, "oll"), (t2, "oai"), (t1, "oll")] {
        let ev = inference(trace, provider);
        let corr = inference_corr(&ev);
        rec.record_inference(ev, corr);
    }
    rec.flush().await.unwrap();
    let before_jobs = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    append_jobs(&rec, 0..4).await;
    rec.append_durable(
        FlightEvent::CloudDenied(CloudDenied {
            projection_plan_id: Some(id("plan-1")),
            consent_receipt_id: None,
            reason: DenyReason::Locked,
            payload_sha256: Some(Sha256Hex::digest(b"payload")),
            observed_sha256: None,
        }),
        Correlation::none().trace(t2).job(id("job-1")),
    )
    .await
    .unwrap();

    let q = |f: fn(&mut EventQuery)| {
        let mut q = EventQuery::default();
        f(&mut q);
        q
    };
    let by_type = rec
        .query(&q(|q| q.event_type = Some(EventType::LlmInference)))
        .await
        .unwrap();
    assert_eq!(by_type.len(), 3);
    assert!(by_type
        .iter()
        .all(|e| e.event_type == "FR-EVT-LLM-INFERENCE"));
    let trace_q = EventQuery {
        trace_id: Some(t2),
        ..Default::default()
    };
    let by_trace = rec.query(&trace_q).await.unwrap();
    assert_eq!(
        by_trace
            .iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>(),
        vec!["FR-EVT-LLM-INFERENCE", "FR-EVT-CLOUD-003"]
    );
    let by_job = rec
        .query(&EventQuery {
            job_id: Some("job-1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_job.len(), 2);
    let by_provider = rec
        .query(&EventQuery {
            provider_id: Some("oll".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_provider.len(), 2);
    assert!(by_provider
        .iter()
        .all(|e| e.trace_id == Some(t1) && e.model_id.as_deref() == Some("oll/m")));
    let since = rec
        .query(&EventQuery {
            from: Some(before_jobs),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(since.len(), 5);
    let until = rec
        .query(&EventQuery {
            until: Some(before_jobs),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(until.len(), 3);
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = rec
            .query(&EventQuery {
                after_seq: after,
                limit: Some(3),
                ..Default::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        after = page.last().map(|e| e.seq);
        paged.extend(page.into_iter().map(|e| e.seq));
    }
    assert_eq!(paged, (1..=8).collect::<Vec<_>>());
    let tail = rec.tail(2).await.unwrap();
    assert_eq!(tail.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![7, 8]);
    // Token counts the provider did not report stay null.
    assert!(by_type[0].payload["completion_tokens"].is_null());
    assert_eq!(by_type[0].payload["prompt_tokens"], 2);
}

#[tokio::test]
async fn export_writes_one_json_line_per_event_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, rec) = open(dir.path()).await;
    append_jobs(&rec, 0..7).await;
    let mut out: Vec<u8> = Vec::new();
    let q = EventQuery {
        limit: Some(2),
        after_seq: Some(1),
        ..Default::default()
    };
    let n = rec.export_jsonl(&q, &mut out).await.unwrap();
    assert_eq!(n, 6);
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(
        lines
            .iter()
            .map(|l| l["seq"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![2, 3, 4, 5, 6, 7]
    );
    assert_eq!(lines[0]["event_type"], "FR-EVT-PROFILE-002");
    assert_eq!(lines[0]["payload"]["job_id"], "job-1");
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
}

#[tokio::test]
async fn subscribers_see_committed_events_live() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, rec) = open(dir.path()).await;
    let mut live = rec.subscribe();
    let stored = append_jobs(&rec, 0..2).await;
    let ev = inference(Uuid::new_v4(), "oll");
    let corr = inference_corr(&ev);
    rec.record_inference(ev, corr);
    rec.flush().await.unwrap();
    let a = live.recv().await.unwrap();
    let b = live.recv().await.unwrap();
    let c = live.recv().await.unwrap();
    assert_eq!((a.seq, b.seq, c.seq), (1, 2, 3));
    assert_eq!(a.hash, stored[0].hash);
    assert_eq!(c.event_type, "FR-EVT-LLM-INFERENCE");
}

#[tokio::test]
async fn inference_events_are_batched_and_flush_waits_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, rec) = open(dir.path()).await;
    for _ in 0..1000 {
        let ev = inference(Uuid::new_v4(), "oll");
        let corr = inference_corr(&ev);
        rec.record_inference(ev, corr);
    }
    rec.flush().await.unwrap();
    let stats = rec.stats();
    assert_eq!(stats.committed, 1000);
    assert_eq!(stats.dropped_total, 0);
    assert!(
        stats.batches < 100,
        "expected batching, got {} batches",
        stats.batches
    );
    assert_eq!(stats.queued, 0);
    assert_eq!(rec.tail(1).await.unwrap()[0].seq, 1000);
    assert!(rec.verify().await.unwrap().is_ok());
}

/// Group commit: events trickling in share one transaction while the batch lingers; a governance
/// event, a flush and shutdown never wait for the linger (here an hour, so any wait would trip
/// the timeouts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lingering_batch_gathers_trickling_events_and_never_delays_what_must_not_wait() {
    const NEVER: Duration = Duration::from_secs(3600);
    const PATIENCE: Duration = Duration::from_secs(20);
    let dir = tempfile::tempdir().unwrap();
    let config = RecorderConfig {
        max_batch: 4,
        batch_linger: NEVER,
        ..Default::default()
    };
    let (_db, rec) = open_with(dir.path(), config).await;
    let record = |n: usize| {
        for _ in 0..n {
            let ev = inference(Uuid::now_v7(), "oll");
            let corr = inference_corr(&ev);
            rec.record_inference(ev, corr);
        }
    };

    // Trickling in, events wait together for more.
    for _ in 0..3 {
        record(1);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rec.stats().committed, 0, "a batch that is not full lingers");
    // A governance event ends the linger: the lingering events are committed first, in order,
    // and the governance event right after, without waiting.
    let (event, corr) = job_started(1);
    let stored = tokio::time::timeout(PATIENCE, rec.append_durable(event, corr))
        .await
        .expect("a governance event waited for the linger")
        .unwrap();
    assert_eq!(stored.seq, 4);
    assert_eq!(
        rec.stats().batches,
        2,
        "the three trickling events shared one commit"
    );

    // A flush commits what lingers.
    record(1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    tokio::time::timeout(PATIENCE, rec.flush())
        .await
        .expect("flush waited for the linger")
        .unwrap();
    let stats = rec.stats();
    assert_eq!(
        (stats.committed, stats.batches, stats.dropped_total),
        (5, 3, 0)
    );
    assert!(rec.verify().await.unwrap().is_ok());
    tokio::time::timeout(PATIENCE, rec.shutdown())
        .await
        .expect("shutdown waited for the linger")
        .unwrap();
}

/// A flush waits for the anchor of queued batches, and only for those: right after a governance
/// event (anchored before it was answered), with or without inference batches before it, a flush
/// returns and the anchor stands at the head.
#[tokio::test]
async fn flush_after_a_governance_event_returns_with_the_anchor_at_the_head() {
    const PATIENCE: Duration = Duration::from_secs(20);
    let dir = tempfile::tempdir().unwrap();
    let (_db, rec) = open(dir.path()).await;
    for queued_before in [0, 3] {
        for _ in 0..queued_before {
            let ev = inference(Uuid::now_v7(), "oll");
            let corr = inference_corr(&ev);
            rec.record_inference(ev, corr);
        }
        rec.flush().await.unwrap();
        append_jobs(&rec, 0..1).await;
        tokio::time::timeout(PATIENCE, rec.flush())
            .await
            .expect("flush after a governance event never returned")
            .unwrap();
        assert_verified_and_anchored_at_head(&rec).await;
    }
}

/// A flush commits what was queued when the writer took it up, not what keeps arriving: under a
/// flood that never pauses (the queue never empties) it still returns, and nothing is lost
/// without being counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_returns_while_a_flood_of_events_goes_on() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let config = RecorderConfig {
        queue_capacity: 1_024,
        max_batch: 128,
        ..RecorderConfig::default()
    };
    let (_db, rec) = open_with(dir.path(), config).await;
    let stop = Arc::new(AtomicBool::new(false));
    let produced = Arc::new(AtomicU64::new(0));
    let producer = {
        let (rec, stop, produced) = (rec.clone(), stop.clone(), produced.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let ev = inference(Uuid::now_v7(), "oll");
                let corr = inference_corr(&ev);
                rec.record_inference(ev, corr);
                produced.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before_flush = produced.load(Ordering::Relaxed);
    let flushed = tokio::time::timeout(Duration::from_secs(60), rec.flush()).await;
    let during_flush = produced.load(Ordering::Relaxed) - before_flush;
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();
    assert!(flushed.is_ok(), "a flush under a flood never returned");
    flushed.unwrap().unwrap();
    assert!(during_flush > 0, "the flood went on during the flush");
    assert!(
        rec.stats().dropped_total > 0,
        "the flood outran the writer (else this tests nothing)"
    );

    rec.flush().await.unwrap();
    let stats = rec.stats();
    assert_eq!(
        stats.committed + stats.dropped_total,
        produced.load(Ordering::Relaxed),
        "every event is committed or counted as dropped"
    );
    assert_verified_and_anchored_at_head(&rec).await;
}

/// Under a flood the background checkpointer copies the WAL into the database file while the
/// writer goes on: these events make some 10 MB of WAL, short of the 40 MiB at which the
/// writer's own checkpoint would run, yet the database file grows by them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_checkpointed_into_the_database_file_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let (db, rec) = open(dir.path()).await;
    let file = db.path().to_path_buf();
    let wal = {
        let mut wal = file.clone().into_os_string();
        wal.push("-wal");
        std::path::PathBuf::from(wal)
    };
    let len = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len());
    let before = len(&file);
    for _ in 0..9_000 {
        let ev = inference(Uuid::now_v7(), "oll");
        let corr = inference_corr(&ev);
        rec.record_inference(ev, corr);
    }
    rec.flush().await.unwrap();
    assert!(
        len(&wal) < 40 << 20,
        "the writer's own checkpoint was not due"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while len(&file) < before + (2 << 20) {
        assert!(
            std::time::Instant::now() < deadline,
            "the database file never grew: {} -> {} bytes, WAL {} bytes",
            before,
            len(&file),
            len(&wal)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rec.stats().committed, 9_000);
}

#[tokio::test]
async fn a_full_queue_drops_are_counted_and_recorded_in_the_next_event() {
    let dir = tempfile::tempdir().unwrap();
    let config = RecorderConfig {
        queue_capacity: 4,
        ..Default::default()
    };
    let (_db, rec) = open_with(dir.path(), config).await;
    // The test runtime is single-threaded: the writer cannot run until we await.
    for _ in 0..200 {
        let ev = inference(Uuid::new_v4(), "oll");
        let corr = inference_corr(&ev);
        rec.record_inference(ev, corr);
    }
    assert_eq!(rec.stats().dropped_total, 196);
    rec.flush().await.unwrap();
    assert_eq!(rec.stats().committed, 4);
    let events = rec
        .query(&EventQuery {
            event_type: Some(EventType::LlmInference),
            ..Default::default()
        })
        .await
        .unwrap();
    let recorded: u64 = events
        .iter()
        .filter_map(|e| e.payload["dropped_before"].as_u64())
        .sum();
    assert_eq!(recorded, 196, "every drop is recorded in a later event");
    assert_eq!(events[0].payload["dropped_before"], 196);
    assert!(events[1].payload["dropped_before"].is_null());
}

#[tokio::test]
async fn governance_goes_durable_and_shutdown_commits_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, rec) = open(dir.path()).await;
    let ev = inference(Uuid::new_v4(), "oll");
    let err = rec
        .append_durable(FlightEvent::LlmInference(ev.clone()), Correlation::none())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        RecorderError::NotGovernance {
            event_type: EventType::LlmInference
        }
    ));
    for _ in 0..10 {
        rec.record_inference(ev.clone(), inference_corr(&ev));
    }
    rec.shutdown().await.unwrap();
    assert_eq!(rec.stats().committed, 10);
    let (event, corr) = job_started(1);
    assert!(matches!(
        rec.append_durable(event, corr).await,
        Err(RecorderError::WriterGone)
    ));
    rec.record_inference(ev.clone(), inference_corr(&ev));
    assert_eq!(
        rec.stats().dropped_total,
        1,
        "a write after shutdown is counted, not silent"
    );
    assert_eq!(rec.tail(100).await.unwrap().len(), 10);
}

/// An auditor can re-verify an exported log from its lines alone: each line's payload, written
/// back out, is exactly the text that was hashed, so every row hash recomputes and links.
#[tokio::test]
async fn an_export_recomputes_to_the_same_chain() {
    use handshake_core::recorder::chain::{row_hash, RowContent};
    let dir = tempfile::tempdir().unwrap();
    let (_db, rec) = open(dir.path()).await;
    append_jobs(&rec, 0..3).await;
    for provider in ["oll", "open"] {
        let ev = inference(Uuid::now_v7(), provider);
        let corr = inference_corr(&ev);
        rec.record_inference(ev, corr);
    }
    rec.flush().await.unwrap();
    let mut out: Vec<u8> = Vec::new();
    let n = rec
        .export_jsonl(&EventQuery::default(), &mut out)
        .await
        .unwrap();
    assert_eq!(n, 5);
    let mut prev = "0".repeat(64);
    for line in String::from_utf8(out).unwrap().lines() {
        let l: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = |k: &str| l[k].as_str().map(str::to_owned);
        let occurred: chrono::DateTime<chrono::Utc> = text("occurred_at").unwrap().parse().unwrap();
        let payload = serde_json::to_string(&l["payload"]).unwrap();
        let (event_id, event_type) = (text("event_id").unwrap(), text("event_type").unwrap());
        let (trace, job, profile, provider, model) = (
            text("trace_id"),
            text("job_id"),
            text("profile_id"),
            text("provider_id"),
            text("model_id"),
        );
        let content = RowContent {
            seq: l["seq"].as_i64().unwrap(),
            event_id: &event_id,
            event_type: &event_type,
            occurred_at_ms: occurred.timestamp_millis(),
            trace_id: trace.as_deref(),
            job_id: job.as_deref(),
            profile_id: profile.as_deref(),
            provider_id: provider.as_deref(),
            model_id: model.as_deref(),
            payload: &payload,
        };
        assert_eq!(text("prev_hash").unwrap(), prev, "{line}");
        assert_eq!(
            row_hash(&prev, &content),
            text("hash").unwrap(),
            "the exported line does not recompute to its hash: {line}"
        );
        prev = text("hash").unwrap();
    }
}

/// A batch the database refuses is counted as dropped and carried into the next event, a
/// governance event it refuses fails its caller, and the writer goes on: the batches after a
/// failure are linked onto the real head (not the one the failed batch would have left), so
/// the chain still verifies.
#[tokio::test]
async fn a_refused_batch_is_counted_and_the_chain_goes_on_from_the_real_head() {
    let dir = tempfile::tempdir().unwrap();
    let config = RecorderConfig {
        batch_linger: Duration::ZERO,
        ..Default::default()
    };
    let (db, rec) = open_with(dir.path(), config).await;
    append_jobs(&rec, 0..3).await;
    // A stand-in for a failing disk: the database refuses every append while this exists.
    sqlx::query(
        "CREATE TRIGGER refuse_all BEFORE INSERT ON flight_events \
         BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END",
    )
    .execute(db.pool())
    .await
    .unwrap();
    for _ in 0..5 {
        let ev = inference(Uuid::new_v4(), "oll");
        let corr = inference_corr(&ev);
        rec.record_inference(ev, corr);
    }
    // The writer tries them while nobody waits (linger zero); the next flush reports it, once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rec.stats().dropped_total, 5, "a refused batch is counted");
    let err = rec.flush().await.unwrap_err();
    assert!(
        err.to_string().contains("disk full (test)"),
        "the database's reason reaches the caller: {err}"
    );
    rec.flush().await.unwrap();
    let (event, corr) = job_started(9);
    let err = rec.append_durable(event, corr).await.unwrap_err();
    assert!(matches!(err, RecorderError::WriterDb(_)), "{err:?}");
    assert_eq!(rec.stats().dropped_total, 5);
    assert_eq!(rec.stats().committed, 3);

    sqlx::query("DROP TRIGGER refuse_all")
        .execute(db.pool())
        .await
        .unwrap();
    let ev = inference(Uuid::new_v4(), "oll");
    rec.record_inference(ev.clone(), inference_corr(&ev));
    rec.flush().await.unwrap();
    let (event, corr) = job_started(10);
    let governance = rec.append_durable(event, corr).await.unwrap();
    assert_eq!(governance.seq, 5, "the chain continues from the real head");
    let events = rec.tail(10).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(events[3].payload["dropped_before"], 5);
    let report = rec.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
}

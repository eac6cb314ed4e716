//! The Flight Recorder log against real SQLite files: appending, the append-only triggers,
//! verification against every kind of tampering, retention, queries, export, the live
//! subscription and the batch writer's queue policy.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use handshake_core::db::Database;
use handshake_core::llm::FinishReason;
use handshake_core::recorder::anchor::Anchor;
use handshake_core::recorder::chain::{row_hash, RowContent};
use handshake_core::recorder::*;
use handshake_core::registry::ProviderTier;
use sqlx::Row;
use uuid::Uuid;

const KEY: [u8; 32] = [9; 32];

async fn open_with(dir: &Path, config: RecorderConfig) -> (Database, FlightRecorder) {
    let db = Database::open(dir).await.unwrap();
    let rec = FlightRecorder::open(
        &db,
        dir,
        KeySource::Fixed(AnchorKey::from_bytes(KEY)),
        config,
    )
    .await
    .unwrap();
    (db, rec)
}

async fn open(dir: &Path) -> (Database, FlightRecorder) {
    open_with(dir, RecorderConfig::default()).await
}

fn id(s: &str) -> Ident {
    Ident::new(s).unwrap()
}

fn job_started(i: usize) -> (FlightEvent, Correlation) {
    let event = FlightEvent::JobStarted(JobStarted {
        job_id: id(&format!("job-{i}")),
        profile_id: id("p1"),
    });
    (
        event,
        Correlation::none()
            .job(id(&format!("job-{i}")))
            .profile(id("p1")),
    )
}

async fn append_jobs(rec: &FlightRecorder, range: std::ops::Range<usize>) -> Vec<StoredEvent> {
    let mut out = Vec::new();
    for i in range {
        let (event, corr) = job_started(i);
        out.push(rec.append_durable(event, corr).await.unwrap());
    }
    out
}

fn inference(trace: Uuid, provider: &str) -> LlmInference {
    LlmInference {
        trace_id: trace,
        provider_id: id(provider),
        model_id: id(&format!("{provider}/m")),
        tier: ProviderTier::Local,
        streamed: false,
        prompt_bytes: 5,
        prompt_sha256: Sha256Hex::digest(b"hello"),
        max_tokens: Some(16),
        response_bytes: Some(3),
        prompt_tokens: Some(2),
        completion_tokens: None,
        finish_reason: Some(FinishReason::Stop),
        prompt_truncated: false,
        latency_ms: 12,
        time_to_first_token_ms: Some(4),
        outcome: InferenceOutcome::Success,
        dropped_before: None,
    }
}

fn inference_corr(ev: &LlmInference) -> Correlation {
    Correlation::none()
        .trace(ev.trace_id)
        .provider(ev.provider_id.clone())
        .model(ev.model_id.clone())
}

async fn drop_guards(db: &Database) {
    for t in [
        "flight_events_no_update",
        "flight_events_no_delete",
        "flight_events_append_only",
    ] {
        sqlx::query(&format!("DROP TRIGGER {t}"))
            .execute(db.pool())
            .await
            .unwrap();
    }
}

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
        .write(&ChainHead {
            seq: 2,
            hash: "0".repeat(64),
        })
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
        .write(&ChainHead {
            seq: 3,
            hash: stored[2].hash.clone(),
        })
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

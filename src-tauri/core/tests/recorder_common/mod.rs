//! Helpers shared by the Flight Recorder integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

use handshake_core::db::Database;
use handshake_core::llm::FinishReason;
use handshake_core::recorder::*;
use handshake_core::registry::ProviderTier;
use uuid::Uuid;

pub const KEY: [u8; 32] = [9; 32];

pub async fn open_with(dir: &Path, config: RecorderConfig) -> (Database, FlightRecorder) {
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

pub async fn open(dir: &Path) -> (Database, FlightRecorder) {
    open_with(dir, RecorderConfig::default()).await
}

pub fn id(s: &str) -> Ident {
    Ident::new(s).unwrap()
}

pub fn job_started(i: usize) -> (FlightEvent, Correlation) {
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

pub async fn append_jobs(rec: &FlightRecorder, range: std::ops::Range<usize>) -> Vec<StoredEvent> {
    let mut out = Vec::new();
    for i in range {
        let (event, corr) = job_started(i);
        out.push(rec.append_durable(event, corr).await.unwrap());
    }
    out
}

pub fn inference(trace: Uuid, provider: &str) -> LlmInference {
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

pub fn inference_corr(ev: &LlmInference) -> Correlation {
    Correlation::none()
        .trace(ev.trace_id)
        .provider(ev.provider_id.clone())
        .model(ev.model_id.clone())
}

/// Verifies the chain and asserts it is whole and anchored at its head; returns the head.
pub async fn assert_verified_and_anchored_at_head(rec: &FlightRecorder) -> ChainHead {
    let report = rec.verify().await.unwrap();
    let VerifyReport::Ok {
        head, anchored_seq, ..
    } = report
    else {
        panic!("{report:?}")
    };
    assert_eq!(anchored_seq, Some(head.seq), "the anchor is at the head");
    head
}

/// Drops the append-only triggers, as someone with sqlite and write access to the file can.
pub async fn drop_guards(db: &Database) {
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

//! Durability: a child process appends governance events and prints each acknowledged sequence
//! number; the test kills it with SIGKILL mid-stream, reopens the database and checks that every
//! acknowledged event is present and the chain (and anchor) verify. Repeated at several points,
//! on the same data directory, so each run also starts from a killed predecessor.
//!
//! The child is this very test binary, re-executed with `HSK_RECORDER_CHILD_DIR` set: the same
//! `#[test]` then acts as the child and never returns until killed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use handshake_core::db::Database;
use handshake_core::recorder::*;
use uuid::Uuid;

const CHILD_ENV: &str = "HSK_RECORDER_CHILD_DIR";
const KEY: [u8; 32] = [5; 32];
const TEST_NAME: &str = "acknowledged_events_survive_sigkill";

async fn open(dir: &Path) -> (Database, FlightRecorder) {
    let db = Database::open(dir).await.unwrap();
    let rec = FlightRecorder::open(
        &db,
        dir,
        KeySource::Fixed(AnchorKey::from_bytes(KEY)),
        RecorderConfig::default(),
    )
    .await
    .unwrap();
    (db, rec)
}

/// The child: appends until killed, printing `ACK <seq>` after each durable append returns.
async fn run_child(dir: &Path) -> ! {
    let (_db, rec) = open(dir).await;
    let profile = Ident::new("p-durable").unwrap();
    for i in 0u64.. {
        let job = Ident::new(format!("job-{i}")).unwrap();
        // Some queued inference traffic in between, as in the app.
        let trace = Uuid::new_v4();
        rec.record_inference(
            LlmInference {
                trace_id: trace,
                provider_id: Ident::new("oll").unwrap(),
                model_id: Ident::new("oll/m").unwrap(),
                tier: handshake_core::registry::ProviderTier::Local,
                streamed: false,
                prompt_bytes: 1,
                prompt_sha256: Sha256Hex::digest(b"x"),
                max_tokens: None,
                response_bytes: None,
                prompt_tokens: None,
                completion_tokens: None,
                finish_reason: None,
                prompt_truncated: false,
                latency_ms: 1,
                time_to_first_token_ms: None,
                outcome: InferenceOutcome::Success,
                dropped_before: None,
            },
            Correlation::none().trace(trace),
        );
        let stored = rec
            .append_durable(
                FlightEvent::JobStarted(JobStarted {
                    job_id: job.clone(),
                    profile_id: profile.clone(),
                }),
                Correlation::none().job(job).profile(profile.clone()),
            )
            .await
            .unwrap();
        println!("ACK {}", stored.seq);
    }
    unreachable!("the loop above never ends")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        run_child(Path::new(&dir)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut all_acked = BTreeSet::new();
    for kill_after in [1usize, 17, 60, 140] {
        let mut child = Command::new(&exe)
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut acked = Vec::new();
        let mut lines = BufReader::new(stdout).lines();
        while acked.len() < kill_after {
            let line = lines
                .next()
                .expect("the child stopped before being killed")
                .unwrap();
            if let Some(seq) = line.strip_prefix("ACK ") {
                acked.push(seq.trim().parse::<i64>().unwrap());
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix.
        let status = child.wait().unwrap();
        assert!(!status.success());
        all_acked.extend(acked);

        let (db, rec) = open(dir.path()).await;
        let present: BTreeSet<i64> = sqlx::query_scalar(
            "SELECT seq FROM flight_events WHERE event_type = 'FR-EVT-PROFILE-002'",
        )
        .fetch_all(db.pool())
        .await
        .unwrap()
        .into_iter()
        .collect();
        let missing: Vec<_> = all_acked.difference(&present).collect();
        assert!(
            missing.is_empty(),
            "acknowledged but lost after SIGKILL at {kill_after}: {missing:?}"
        );
        let report = rec.verify().await.unwrap();
        assert!(report.is_ok(), "after SIGKILL at {kill_after}: {report:?}");
        assert!(!rec.stats().anchor_conflict);
        rec.shutdown().await.unwrap();
        db.close().await;
    }
    assert!(all_acked.len() >= 1 + 17 + 60 + 140);
}

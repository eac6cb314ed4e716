//! How the Flight Recorder's costs grow with the log: for each size, builds a log of that many
//! inference events through the public API (`record_inference`, into a real SQLite file in a temp
//! directory), with five rare events (their own provider, model, profile and job) spread through
//! it, then times, as the median of five runs on a warm page cache: opening the database, opening
//! the recorder, `tail(100)`, a query on each filter the CLI and console offer (the rare value: a
//! handful of hits among everything) and a full `verify`; then adds 1,000 events and times the
//! incremental `verify` that follows. Prints one row per size.
//!
//! ```sh
//! cargo run -p handshake-core --release --example recorder_scaling_bench -- [sizes=10000,100000]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a benchmark binary

use std::path::Path;
use std::time::{Duration, Instant};

use handshake_core::db::Database;
use handshake_core::llm::FinishReason;
use handshake_core::recorder::{
    AnchorKey, Correlation, EventQuery, EventType, FlightRecorder, Ident, InferenceOutcome,
    KeySource, LlmInference, RecorderConfig, Sha256Hex, VerifyDepth, VerifyReport,
};
use handshake_core::vocab::ProviderTier;
use uuid::Uuid;

const RARE: usize = 5;
/// Events added after the full verification, for the incremental one.
const NEW_SINCE: usize = 1_000;

fn keys() -> KeySource {
    KeySource::Fixed(AnchorKey::from_bytes([5; 32]))
}

async fn build(dir: &Path, events: usize) {
    let db = Database::open(dir).await.unwrap();
    let config = RecorderConfig {
        queue_capacity: 65_536,
        ..Default::default()
    };
    let rec = FlightRecorder::open(&db, dir, keys(), config)
        .await
        .unwrap();
    let (common, rare) = (
        (
            Ident::new("oll").unwrap(),
            Ident::new("oll/gemma3:270m").unwrap(),
        ),
        (Ident::new("rare").unwrap(), Ident::new("rare/m").unwrap()),
    );
    let digest = Sha256Hex::digest(b"a prompt");
    for i in 0..events {
        while rec.stats().queued >= 60_000 {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        let is_rare = i % (events / RARE).max(1) == 0;
        let (provider, model) = if is_rare { &rare } else { &common };
        let trace = Uuid::now_v7();
        let event = LlmInference {
            trace_id: trace,
            provider_id: provider.clone(),
            model_id: model.clone(),
            tier: ProviderTier::Local,
            streamed: true,
            prompt_bytes: 1234,
            prompt_sha256: digest.clone(),
            max_tokens: Some(256),
            response_bytes: Some(512),
            prompt_tokens: Some(300),
            completion_tokens: Some(120),
            finish_reason: Some(FinishReason::Stop),
            prompt_truncated: false,
            latency_ms: 850,
            time_to_first_token_ms: Some(95),
            outcome: InferenceOutcome::Success,
            dropped_before: None,
        };
        let mut corr = Correlation::none()
            .trace(trace)
            .provider(provider.clone())
            .model(model.clone());
        corr = if is_rare {
            corr.profile(Ident::new("p-rare").unwrap())
                .job(Ident::new("j-rare").unwrap())
        } else {
            corr.profile(Ident::new("p-common").unwrap())
                .job(Ident::new(format!("j-{}", i / 50)).unwrap())
        };
        rec.record_inference(event, corr);
    }
    rec.shutdown().await.unwrap();
    assert_eq!(rec.stats().dropped_total, 0, "nothing dropped");
    db.close().await;
}

async fn median<F, Fut>(mut run: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    let mut times = Vec::new();
    for _ in 0..5 {
        times.push(run().await);
    }
    times.sort();
    times[2]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "10000,100000".into())
        .split(',')
        .map(|s| s.parse().expect("sizes: comma-separated counts"))
        .collect();
    println!("| events | file MB | open db ms | open recorder ms | tail 100 ms | provider ms | model ms | profile ms | job ms | type ms | full verify ms (events/s) | incremental verify ms |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for events in sizes {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        build(d, events).await;
        let file_mb = std::fs::metadata(d.join(handshake_core::db::DB_FILE_NAME))
            .unwrap()
            .len() as f64
            / 1e6;
        let open_db = median(|| async {
            let t = Instant::now();
            let db = Database::open(d).await.unwrap();
            let e = t.elapsed();
            db.close().await;
            e
        })
        .await;
        let db = Database::open(d).await.unwrap();
        let open_rec = median(|| async {
            let t = Instant::now();
            let rec = FlightRecorder::open(&db, d, keys(), RecorderConfig::default())
                .await
                .unwrap();
            let e = t.elapsed();
            rec.shutdown().await.unwrap();
            e
        })
        .await;
        let rec = FlightRecorder::open(&db, d, keys(), RecorderConfig::default())
            .await
            .unwrap();
        let tail = median(|| async {
            let t = Instant::now();
            assert_eq!(rec.tail(100).await.unwrap().len(), 100.min(events));
            t.elapsed()
        })
        .await;
        let filters: [(&str, EventQuery); 5] = [
            (
                "provider",
                EventQuery {
                    provider_id: Some("rare".into()),
                    ..Default::default()
                },
            ),
            (
                "model",
                EventQuery {
                    model_id: Some("rare/m".into()),
                    ..Default::default()
                },
            ),
            (
                "profile",
                EventQuery {
                    profile_id: Some("p-rare".into()),
                    ..Default::default()
                },
            ),
            (
                "job",
                EventQuery {
                    job_id: Some("j-rare".into()),
                    ..Default::default()
                },
            ),
            (
                "type",
                EventQuery {
                    event_type: Some(EventType::JobStarted),
                    ..Default::default()
                },
            ),
        ];
        let mut filter_ms = Vec::new();
        for (name, query) in &filters {
            let q = EventQuery {
                limit: Some(100),
                ..query.clone()
            };
            let time = median(|| async {
                let t = Instant::now();
                let found = rec.query(&q).await.unwrap();
                assert!(found.len() <= RARE + 1, "{name}: {}", found.len());
                t.elapsed()
            })
            .await;
            filter_ms.push(ms(time));
        }
        let t = Instant::now();
        assert!(rec.verify().await.unwrap().is_ok());
        let verify = t.elapsed();
        rec.shutdown().await.unwrap();
        db.close().await;
        // Routine verification: 1,000 events added since the full walk left its mark.
        build(d, NEW_SINCE).await;
        let db = Database::open(d).await.unwrap();
        let rec = FlightRecorder::open(&db, d, keys(), RecorderConfig::default())
            .await
            .unwrap();
        let t = Instant::now();
        let report = rec.verify_to(VerifyDepth::Incremental).await.unwrap();
        let incremental = t.elapsed();
        match report {
            VerifyReport::Ok { count, .. } => assert_eq!(count, NEW_SINCE as u64),
            other => panic!("{other:?}"),
        }
        rec.shutdown().await.unwrap();
        db.close().await;
        println!(
            "| {events} | {file_mb:.0} | {} | {} | {} | {} | {} ({:.0}) | {} |",
            ms(open_db),
            ms(open_rec),
            ms(tail),
            filter_ms.join(" | "),
            ms(verify),
            events as f64 / verify.as_secs_f64(),
            ms(incremental)
        );
    }
}

//! The latency recording adds to a completion: `RecordingClient` wrapping an
//! `OpenAiCompatClient` (R) against the bare client (B), on the zero-delay loopback upstream of
//! `adapter_bench`, with a real Flight Recorder (SQLite file in a temp directory, batch writer,
//! anchor) behind R. Calls alternate B R, R B, ... at concurrency 1 so that machine noise hits
//! both alike; prints p50 and p99 of each and the p50 added by recording as a ratio.
//!
//! ```sh
//! cargo run -p handshake-core --release --example recording_overhead_bench -- [calls] [linger_ms]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a benchmark binary

use std::sync::Arc;
use std::time::{Duration, Instant};

use handshake_core::db::Database;
use handshake_core::llm::{CompletionRequest, LlmClient, OpenAiCompatClient, RetryPolicy};
use handshake_core::recorder::{
    AnchorKey, FlightRecorder, KeySource, RecorderConfig, RecordingClient,
};
use handshake_core::registry::{
    OpenAiCompatOptions, ProviderEndpoint, ProviderKind, ProviderTier, Timeouts,
};

#[path = "support/bench_upstream.rs"]
mod bench_upstream;
use bench_upstream::{http, load_average, upstream};

fn request() -> CompletionRequest {
    CompletionRequest {
        trace_id: uuid::Uuid::new_v4(),
        prompt: "hi".into(),
        model_id: "bench/m".into(),
        max_tokens: Some(64),
        temperature: 0.0,
        stop_sequences: vec![],
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

#[tokio::main]
async fn main() {
    let calls: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(4000);
    // Optional: the writer's group-commit linger in ms (default: the app's).
    let linger = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(RecorderConfig::default().batch_linger);
    let addr = upstream(0).await;
    let endpoint = ProviderEndpoint {
        provider_id: "bench".into(),
        kind: ProviderKind::OpenaiCompat,
        tier: ProviderTier::Local,
        base_url: url::Url::parse(&format!("http://{addr}/v1")).unwrap(),
        api_key: None,
        extra_headers: vec![],
        timeouts: Timeouts::default(),
        openai: OpenAiCompatOptions::default(),
        http: http(),
    };
    let bare: Arc<dyn LlmClient> = Arc::new(
        OpenAiCompatClient::new(endpoint, "m")
            .unwrap()
            .with_retry_policy(RetryPolicy::never()),
    );
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    let recorder = FlightRecorder::open(
        &db,
        dir.path(),
        KeySource::Fixed(AnchorKey::from_bytes([7; 32])),
        RecorderConfig {
            batch_linger: linger,
            ..RecorderConfig::default()
        },
    )
    .await
    .unwrap();
    let recorded = RecordingClient::wrap(bare.clone(), recorder.clone());
    println!("load average at start: {}", load_average());

    for _ in 0..100 {
        bare.completion(request()).await.unwrap();
        recorded.completion(request()).await.unwrap();
    }
    recorder.flush().await.unwrap();
    let committed_before = recorder.stats().committed;

    let (mut b, mut r) = (Vec::with_capacity(calls), Vec::with_capacity(calls));
    for i in 0..calls {
        let order: [&Arc<dyn LlmClient>; 2] = if i % 2 == 0 {
            [&bare, &recorded]
        } else {
            [&recorded, &bare]
        };
        for client in order {
            let t = Instant::now();
            let resp = client.completion(request()).await.unwrap();
            let took = t.elapsed();
            assert_eq!(resp.usage.completion_tokens, Some(16));
            if Arc::ptr_eq(client, &bare) {
                b.push(took);
            } else {
                r.push(took);
            }
        }
    }
    recorder.flush().await.unwrap();
    let stats = recorder.stats();
    assert_eq!(stats.dropped_total, 0, "no inference event may be dropped");
    assert_eq!(
        stats.committed - committed_before,
        calls as u64,
        "one event per recorded call"
    );
    b.sort();
    r.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let (b50, b99) = (us(percentile(&b, 0.5)), us(percentile(&b, 0.99)));
    let (r50, r99) = (us(percentile(&r, 0.5)), us(percentile(&r, 0.99)));
    println!("concurrency 1, {calls} calls each (interleaved)");
    println!("  B bare client      p50 {b50:>8.1} us  p99 {b99:>8.1} us");
    println!("  R RecordingClient  p50 {r50:>8.1} us  p99 {r99:>8.1} us");
    println!(
        "  added by recording: p50 {:+.1} us ({:+.2}%), p99 {:+.1} us ({:+.2}%)",
        r50 - b50,
        (r50 / b50 - 1.0) * 100.0,
        r99 - b99,
        (r99 / b99 - 1.0) * 100.0
    );
    println!(
        "  {} events committed in {} batches, none dropped; load average at end: {}",
        stats.committed,
        stats.batches,
        load_average()
    );
    recorder.shutdown().await.unwrap();
}

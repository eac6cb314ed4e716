//! The latency recording adds to a completion: `RecordingClient` wrapping an
//! `OpenAiCompatClient` (R) against the bare client (B), on the zero-delay loopback upstream of
//! `adapter_bench`, with a real Flight Recorder (SQLite file in a temp directory, batch writer,
//! anchor) behind R. A third arm (F) wraps the same client in a wrapper that only forwards,
//! to tell what any wrapper costs from what recording itself does. Calls rotate through every
//! order of B, F and R at concurrency 1 so that machine noise and position hit all alike;
//! prints p50 and p99 of each and the p50 added by recording as a ratio.
//!
//! ```sh
//! cargo run -p handshake-core --release --example recording_overhead_bench -- [calls] [linger_ms]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a benchmark binary

use std::sync::Arc;
use std::time::{Duration, Instant};

use handshake_core::db::Database;
use handshake_core::llm::{CompletionRequest, LlmClient, OpenAiCompatClient, RetryPolicy};
use handshake_core::llm::{OpenAiCompatOptions, WireConfig};
use handshake_core::recorder::{
    AnchorKey, FlightRecorder, KeySource, RecorderConfig, RecordingClient,
};
use handshake_core::vocab::{ProviderTier, Timeouts};

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

/// Forwards every call to the bare client and records nothing: the same shape as
/// `RecordingClient` (a boxed `async_trait` future around the inner one, a dynamic call), so
/// that R − F is what recording itself adds and F − B what any wrapper costs.
struct Forwarding(Arc<dyn LlmClient>);

#[async_trait::async_trait]
impl LlmClient for Forwarding {
    async fn completion(
        &self,
        req: CompletionRequest,
    ) -> Result<handshake_core::llm::CompletionResponse, handshake_core::llm::LlmError> {
        self.0.completion(req).await
    }

    async fn completion_stream(
        &self,
        req: CompletionRequest,
    ) -> Result<handshake_core::llm::CompletionStream, handshake_core::llm::LlmError> {
        self.0.completion_stream(req).await
    }

    fn profile(&self) -> &handshake_core::llm::ModelProfile {
        self.0.profile()
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
    let endpoint = WireConfig {
        provider_id: "bench".into(),
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
    let forwarding: Arc<dyn LlmClient> = Arc::new(Forwarding(bare.clone()));
    println!("load average at start: {}", load_average());

    // B, F and R in every order in turn, so that machine noise and position hit all three alike.
    let arms: [&Arc<dyn LlmClient>; 3] = [&bare, &forwarding, &recorded];
    const ORDERS: [[usize; 3]; 6] = [
        [0, 1, 2],
        [1, 2, 0],
        [2, 0, 1],
        [0, 2, 1],
        [2, 1, 0],
        [1, 0, 2],
    ];
    for _ in 0..100 {
        for client in arms {
            client.completion(request()).await.unwrap();
        }
    }
    recorder.flush().await.unwrap();
    let committed_before = recorder.stats().committed;

    let mut took: [Vec<Duration>; 3] = std::array::from_fn(|_| Vec::with_capacity(calls));
    for i in 0..calls {
        for arm in ORDERS[i % ORDERS.len()] {
            let t = Instant::now();
            let resp = arms[arm].completion(request()).await.unwrap();
            took[arm].push(t.elapsed());
            assert_eq!(resp.usage.completion_tokens, Some(16));
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
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let [p50, p99]: [[f64; 3]; 2] = [0.5, 0.99].map(|p| {
        std::array::from_fn(|arm| {
            let mut sorted = took[arm].clone();
            sorted.sort();
            us(percentile(&sorted, p))
        })
    });
    println!("concurrency 1, {calls} calls each (interleaved)");
    for (arm, name) in [
        "B bare client     ",
        "F forwarding only ",
        "R RecordingClient ",
    ]
    .iter()
    .enumerate()
    {
        println!(
            "  {name} p50 {:>8.1} us  p99 {:>8.1} us",
            p50[arm], p99[arm]
        );
    }
    let added = |a: usize, b: usize, p: &[f64; 3]| {
        format!(
            "{:+.1} us ({:+.2}%)",
            p[a] - p[b],
            (p[a] / p[b] - 1.0) * 100.0
        )
    };
    println!(
        "  added by recording (R vs B): p50 {}, p99 {}",
        added(2, 0, &p50),
        added(2, 0, &p99)
    );
    println!(
        "  of which a wrapper (F vs B): p50 {}; recording itself (R vs F): p50 {}",
        added(1, 0, &p50),
        added(2, 1, &p50)
    );
    println!(
        "  {} events committed in {} batches, none dropped; load average at end: {}",
        stats.committed,
        stats.batches,
        load_average()
    );
    recorder.shutdown().await.unwrap();
}

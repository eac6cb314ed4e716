//! Overhead of the OpenAI-compatible adapter over a bare HTTP call, against a zero-delay loopback
//! upstream (keep-alive HTTP/1.1, TCP_NODELAY on both sides, a fixed 16-chunk SSE answer).
//!
//! A = plain reqwest POST + read the body + serde-parse each `data:` line.
//! B = `OpenAiCompatClient::completion` (validation, transport, SSE decoding, budget, collect).
//! Runs are interleaved (A, B, A, B, ...) so that machine noise hits both alike.
//!
//! ```sh
//! cargo run -p handshake-core --release --example adapter_bench -- [requests_c1] [requests_c64]
//! # only serve the upstream (for scripts/bench/litellm_bench.py), on a fixed port:
//! cargo run -p handshake-core --release --example adapter_bench -- serve 18080
//! # A and B against an upstream served elsewhere (the same one LiteLLM is measured against):
//! cargo run -p handshake-core --release --example adapter_bench -- --upstream http://127.0.0.1:18080 [c1] [c64]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a benchmark binary

use std::sync::Arc;
use std::time::{Duration, Instant};

use handshake_core::llm::{CompletionRequest, LlmClient, OpenAiCompatClient, RetryPolicy};
use handshake_core::llm::{OpenAiCompatOptions, WireConfig};
use handshake_core::vocab::{ProviderTier, Timeouts};

#[path = "support/bench_upstream.rs"]
mod bench_upstream;
use bench_upstream::{connections, http, load_average, process_cpu_seconds, upstream};

/// A: the least a caller could do by hand.
async fn plain_call(client: &reqwest::Client, url: &str) -> usize {
    let body = serde_json::json!({
        "model": "m", "messages": [{"role": "user", "content": "hi"}],
        "stream": true, "max_tokens": 64, "temperature": 0.0,
    });
    let resp = client.post(url).json(&body).send().await.unwrap();
    let bytes = resp.bytes().await.unwrap();
    let mut text = 0;
    for line in bytes.split(|&b| b == b'\n') {
        if let Some(data) = line.strip_prefix(b"data: ") {
            if data != b"[DONE]" {
                let v: serde_json::Value = serde_json::from_slice(data).unwrap();
                text += v["choices"][0]["delta"]["content"]
                    .as_str()
                    .map_or(0, str::len);
            }
        }
    }
    text
}

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
    let mut raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.first().map(String::as_str) == Some("serve") {
        let port = raw.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        let addr = upstream(port).await;
        println!("upstream: http://{addr}/v1 (serving until killed)");
        std::future::pending::<()>().await;
    }
    let external = match raw.iter().position(|a| a == "--upstream") {
        Some(i) => {
            let url = raw.get(i + 1).cloned().expect("--upstream needs a URL");
            raw.drain(i..=i + 1);
            Some(url.trim_end_matches('/').trim_end_matches("/v1").to_owned())
        }
        None => None,
    };
    let args: Vec<usize> = raw.iter().filter_map(|a| a.parse().ok()).collect();
    let n1 = args.first().copied().unwrap_or(2000);
    let n64 = args.get(1).copied().unwrap_or(20_000);
    let origin = match external {
        Some(origin) => origin,
        None => format!("http://{}", upstream(0).await),
    };
    let url = format!("{origin}/v1/chat/completions");
    let endpoint = WireConfig {
        provider_id: "bench".into(),
        tier: ProviderTier::Local,
        base_url: url::Url::parse(&format!("{origin}/v1")).unwrap(),
        api_key: None,
        extra_headers: vec![],
        timeouts: Timeouts::default(),
        openai: OpenAiCompatOptions::default(),
        http: http(),
    };
    let adapter = Arc::new(
        OpenAiCompatClient::new(endpoint, "m")
            .unwrap()
            .with_retry_policy(RetryPolicy::never()),
    );
    let plain = http();
    println!("load average at start: {}", load_average());

    // Warm both connection pools.
    for _ in 0..50 {
        plain_call(&plain, &url).await;
        adapter.completion(request()).await.unwrap();
    }

    // Concurrency 1, interleaved.
    let (mut a, mut b) = (Vec::with_capacity(n1), Vec::with_capacity(n1));
    for i in 0..n1 {
        // A B, then B A: neither side always runs right after the other.
        for side in if i % 2 == 0 { [0, 1] } else { [1, 0] } {
            let t = Instant::now();
            if side == 0 {
                plain_call(&plain, &url).await;
                a.push(t.elapsed());
            } else {
                let r = adapter.completion(request()).await.unwrap();
                b.push(t.elapsed());
                assert_eq!(r.usage.completion_tokens, Some(16));
            }
        }
    }
    a.sort();
    b.sort();
    let (a50, a99) = (percentile(&a, 0.5), percentile(&a, 0.99));
    let (b50, b99) = (percentile(&b, 0.5), percentile(&b, 0.99));
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("concurrency 1, {n1} calls each (interleaved)");
    println!(
        "  A plain   p50 {:>8.1} us  p99 {:>8.1} us",
        us(a50),
        us(a99)
    );
    println!(
        "  B adapter p50 {:>8.1} us  p99 {:>8.1} us",
        us(b50),
        us(b99)
    );
    println!(
        "  added latency B-A: p50 {:+.1} us, p99 {:+.1} us",
        us(b50) - us(a50),
        us(b99) - us(a99)
    );

    // Concurrency 64: alternate rounds of A and B, n64 calls each in all.
    let rounds = 4;
    let per_round = n64 / rounds;
    let (mut a_time, mut b_time) = (Duration::ZERO, Duration::ZERO);
    let (mut a_cpu, mut b_cpu) = (0.0, 0.0);
    let (mut a_lat, mut b_lat) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let cpu0 = process_cpu_seconds().unwrap_or(0.0);
        a_time += run_concurrent(
            per_round,
            64,
            {
                let plain = plain.clone();
                let url = url.clone();
                move || {
                    let plain = plain.clone();
                    let url = url.clone();
                    async move {
                        plain_call(&plain, &url).await;
                    }
                }
            },
            &mut a_lat,
        )
        .await;
        let cpu1 = process_cpu_seconds().unwrap_or(0.0);
        a_cpu += cpu1 - cpu0;
        b_time += run_concurrent(
            per_round,
            64,
            {
                let adapter = adapter.clone();
                move || {
                    let adapter = adapter.clone();
                    async move {
                        adapter.completion(request()).await.unwrap();
                    }
                }
            },
            &mut b_lat,
        )
        .await;
        b_cpu += process_cpu_seconds().unwrap_or(0.0) - cpu1;
    }
    let total = (per_round * rounds) as f64;
    let (a_rps, b_rps) = (total / a_time.as_secs_f64(), total / b_time.as_secs_f64());
    println!("concurrency 64, {} calls each", per_round * rounds);
    println!("  A plain   {a_rps:>9.0} calls/s");
    println!("  B adapter {b_rps:>9.0} calls/s");
    println!("  throughput ratio B/A: {:.3}", b_rps / a_rps);
    a_lat.sort();
    b_lat.sort();
    for (name, lat) in [("A", &a_lat), ("B", &b_lat)] {
        println!(
            "  {name} latency under load: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms",
            percentile(lat, 0.5).as_secs_f64() * 1e3,
            percentile(lat, 0.9).as_secs_f64() * 1e3,
            percentile(lat, 0.99).as_secs_f64() * 1e3
        );
    }
    if a_cpu > 0.0 && b_cpu > 0.0 {
        // Process CPU (both clients' work and, when in-process, the upstream's) per call.
        println!(
            "  process CPU per call: A {:.1} us, B {:.1} us; calls per CPU-second ratio B/A: {:.3}",
            a_cpu / total * 1e6,
            b_cpu / total * 1e6,
            a_cpu / b_cpu
        );
    }
    println!(
        "upstream accepted {} connections in all; load average at end: {}",
        connections(),
        load_average()
    );
}

async fn run_concurrent<F, Fut>(
    calls: usize,
    concurrency: usize,
    make: F,
    latencies: &mut Vec<Duration>,
) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let next = next.clone();
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut took = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < calls {
                let t = Instant::now();
                make().await;
                took.push(t.elapsed());
            }
            took
        }));
    }
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    started.elapsed()
}

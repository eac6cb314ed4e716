//! Overhead of the OpenAI-compatible adapter over a bare HTTP call, against a zero-delay loopback
//! upstream (keep-alive HTTP/1.1, TCP_NODELAY on both sides, a fixed 16-chunk SSE answer).
//!
//! A = plain reqwest POST + read the body + serde-parse each `data:` line.
//! B = `OpenAiCompatClient::completion` (validation, transport, SSE decoding, budget, collect).
//! Runs are interleaved (A, B, A, B, ...) so that machine noise hits both alike.
//!
//! ```sh
//! cargo run -p handshake-core --release --example adapter_bench -- [requests_c1] [requests_c64]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a benchmark binary

use std::sync::Arc;
use std::time::{Duration, Instant};

use handshake_core::llm::{CompletionRequest, LlmClient, OpenAiCompatClient, RetryPolicy};
use handshake_core::registry::{
    OpenAiCompatOptions, ProviderEndpoint, ProviderKind, ProviderTier, Timeouts,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn sse_body() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..16 {
        s.push_str(&format!(
            "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"tok{i} \"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    s.push_str("data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
    s.push_str("data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":16}}\n\n");
    s.push_str("data: [DONE]\n\n");
    s.into_bytes()
}

/// Serves every request on a keep-alive connection with the same SSE answer, in one write.
async fn serve(mut sock: TcpStream, answer: Arc<Vec<u8>>) {
    sock.set_nodelay(true).ok();
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    loop {
        let head_end = loop {
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + length);
        if sock.write_all(&answer).await.is_err() {
            return;
        }
    }
}

async fn upstream() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = sse_body();
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            CONNECTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::spawn(serve(sock, answer.clone()));
        }
    });
    addr
}

/// Connections the upstream accepted: shows whether both clients reuse pooled connections.
static CONNECTIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .pool_max_idle_per_host(128)
        .build()
        .unwrap()
}

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
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n1 = args.first().copied().unwrap_or(2000);
    let n64 = args.get(1).copied().unwrap_or(20_000);
    let addr = upstream().await;
    let url = format!("http://{addr}/v1/chat/completions");
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
    let adapter = Arc::new(
        OpenAiCompatClient::new(endpoint, "m")
            .unwrap()
            .with_retry_policy(RetryPolicy::never()),
    );
    let plain = http();

    // Warm both connection pools.
    for _ in 0..50 {
        plain_call(&plain, &url).await;
        adapter.completion(request()).await.unwrap();
    }

    // Concurrency 1, interleaved.
    let (mut a, mut b) = (Vec::with_capacity(n1), Vec::with_capacity(n1));
    for _ in 0..n1 {
        let t = Instant::now();
        plain_call(&plain, &url).await;
        a.push(t.elapsed());
        let t = Instant::now();
        let r = adapter.completion(request()).await.unwrap();
        b.push(t.elapsed());
        assert_eq!(r.usage.completion_tokens, Some(16));
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
    for _ in 0..rounds {
        a_time += run_concurrent(per_round, 64, {
            let plain = plain.clone();
            let url = url.clone();
            move || {
                let plain = plain.clone();
                let url = url.clone();
                async move {
                    plain_call(&plain, &url).await;
                }
            }
        })
        .await;
        b_time += run_concurrent(per_round, 64, {
            let adapter = adapter.clone();
            move || {
                let adapter = adapter.clone();
                async move {
                    adapter.completion(request()).await.unwrap();
                }
            }
        })
        .await;
    }
    let total = (per_round * rounds) as f64;
    let (a_rps, b_rps) = (total / a_time.as_secs_f64(), total / b_time.as_secs_f64());
    println!("concurrency 64, {} calls each", per_round * rounds);
    println!("  A plain   {a_rps:>9.0} calls/s");
    println!("  B adapter {b_rps:>9.0} calls/s");
    println!("  throughput ratio B/A: {:.3}", b_rps / a_rps);
    println!(
        "upstream accepted {} connections in all",
        CONNECTIONS.load(std::sync::atomic::Ordering::Relaxed)
    );
}

async fn run_concurrent<F, Fut>(calls: usize, concurrency: usize, make: F) -> Duration
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
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < calls {
                make().await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed()
}

//! Sustained Flight Recorder throughput: inference events through the bounded queue and the batch
//! writer into a real SQLite file, until every event is committed (flush) and the chain verifies.
//!
//! Run: `cargo run --release -p handshake-core --example recorder_bench -- [events] [max_batch]
//! [v7|v4] [spacing_us]` (defaults: 200000 events, batches of 4096, time-ordered v7 trace ids as
//! the app makes them, no pause between events). Prints events/s, events per CPU-second and bytes written per event; see
//! docs/benchmarks.md.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use handshake_core::db::Database;
use handshake_core::llm::FinishReason;
use handshake_core::recorder::*;
use handshake_core::registry::ProviderTier;
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let events: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let max_batch: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4096);
    // Trace ids as the app makes them (v7, time-ordered) or random (v4), to show what random
    // keys cost the trace index.
    let trace_v7 = args.next().as_deref() != Some("v4");
    // Optional: microseconds between events, to see what a trickle of events costs in bytes
    // written (each commit writes whole pages) rather than the sustained rate.
    let spacing = args
        .next()
        .and_then(|a| a.parse().ok())
        .map(Duration::from_micros);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(events, max_batch, trace_v7, spacing))
}

async fn run(
    events: u64,
    max_batch: usize,
    trace_v7: bool,
    spacing: Option<Duration>,
) -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let db = Database::open(dir.path()).await?;
    let capacity = max_batch * 16;
    let config = RecorderConfig {
        queue_capacity: capacity,
        max_batch,
        ..Default::default()
    };
    let keys = KeySource::Fixed(AnchorKey::from_bytes([1; 32]));
    let rec = FlightRecorder::open(&db, dir.path(), keys, config).await?;
    let provider = Ident::new("oll")?;
    let model = Ident::new("oll/gemma3:270m")?;
    let prompt_sha256 = Sha256Hex::digest(b"a prompt of some length");

    let written_started = bytes_written();
    let cpu_started = process_cpu_seconds();
    let started = Instant::now();
    for i in 0..events {
        // Back-pressure for the benchmark only (the app never waits): stay under the capacity.
        while rec.stats().queued as usize >= capacity - 1 {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        let trace = if trace_v7 {
            Uuid::now_v7()
        } else {
            Uuid::new_v4()
        };
        let event = LlmInference {
            trace_id: trace,
            provider_id: provider.clone(),
            model_id: model.clone(),
            tier: ProviderTier::Local,
            streamed: i % 2 == 0,
            prompt_bytes: 1234,
            prompt_sha256: prompt_sha256.clone(),
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
        let corr = Correlation::none()
            .trace(trace)
            .provider(provider.clone())
            .model(model.clone());
        rec.record_inference(event, corr);
        if let Some(spacing) = spacing {
            tokio::time::sleep(spacing).await;
        }
    }
    rec.flush().await?;
    let elapsed = started.elapsed();
    let cpu = process_cpu_seconds()
        .zip(cpu_started)
        .map(|(end, start)| end - start);
    let written = bytes_written()
        .zip(written_started)
        .map(|(end, start)| end - start);
    let stats = rec.stats();
    if stats.dropped_total != 0 {
        return Err(format!("{} events were dropped", stats.dropped_total).into());
    }
    let verify_started = Instant::now();
    let report = rec.verify().await?;
    let verify_elapsed = verify_started.elapsed();
    if !report.is_ok() {
        return Err(format!("the chain did not verify: {report:?}").into());
    }
    let rate = stats.committed as f64 / elapsed.as_secs_f64();
    println!(
        "recorder_bench: {} events committed in {:.2} s = {:.0} events/s ({} batches, max_batch {}); verify {:.0} events/s",
        stats.committed,
        elapsed.as_secs_f64(),
        rate,
        stats.batches,
        max_batch,
        stats.committed as f64 / verify_elapsed.as_secs_f64()
    );
    if let Some(cpu) = cpu {
        println!(
            "recorder_bench: process CPU time {:.2} s (producer and writer) = {:.0} events per CPU-second; load average {}",
            cpu,
            stats.committed as f64 / cpu,
            std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
        );
    }
    if let Some(written) = written {
        println!(
            "recorder_bench: {:.0} bytes written per event (write syscalls: WAL, checkpoints, anchor)",
            written as f64 / stats.committed as f64
        );
    }
    rec.shutdown().await?;
    Ok(())
}

/// Bytes this process passed to write syscalls so far (Linux `/proc/self/io`, `wchar`).
fn bytes_written() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
}

/// User + system CPU time of this process (Linux `/proc/self/stat`, in clock ticks of 1/100 s).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

//! Tests of the console's reads on a real SQLite file, with the recorder opened on a fixed
//! anchor key (no OS keychain needed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;

use super::*;
use crate::recorder::{
    AnchorKey, Correlation, FlightEvent, FlightRecorder, Ident, InferenceOutcome, JobStarted,
    KeySource, LlmInference, RecorderConfig, Sha256Hex,
};
use crate::registry::ProviderTier;

const KEY: [u8; 32] = [7; 32];

async fn open(dir: &std::path::Path) -> Handshake {
    Handshake::open(Some(dir.to_path_buf())).await.unwrap()
}

/// Opens `hs`'s recorder with the test key, as the facade would on first use.
async fn with_recorder(hs: &Handshake) -> &FlightRecorder {
    let recorder = FlightRecorder::open(
        hs.db(),
        hs.data_dir(),
        KeySource::Fixed(AnchorKey::from_bytes(KEY)),
        RecorderConfig::default(),
    )
    .await
    .unwrap();
    hs.recorder.set(recorder).unwrap();
    hs.recorder.get().unwrap()
}

fn id(v: &str) -> Ident {
    Ident::new(v).unwrap()
}

async fn job_started(recorder: &FlightRecorder, job: &str) -> StoredEvent {
    recorder
        .append_durable(
            FlightEvent::JobStarted(JobStarted {
                job_id: id(job),
                profile_id: id("wp-1"),
            }),
            Correlation::none().job(id(job)).profile(id("wp-1")),
        )
        .await
        .unwrap()
}

fn inference(tier: ProviderTier, provider: &str, latency_ms: u64) -> (LlmInference, Correlation) {
    let trace = Uuid::now_v7();
    let event = LlmInference {
        trace_id: trace,
        provider_id: id(provider),
        model_id: id(&format!("{provider}/m")),
        tier,
        streamed: false,
        prompt_bytes: 5,
        prompt_sha256: Sha256Hex::digest(b"hello"),
        max_tokens: Some(16),
        response_bytes: Some(3),
        prompt_tokens: Some(4),
        completion_tokens: Some(2),
        finish_reason: None,
        prompt_truncated: false,
        latency_ms,
        time_to_first_token_ms: None,
        outcome: InferenceOutcome::Success,
        dropped_before: None,
    };
    let correlation = Correlation::none()
        .trace(trace)
        .provider(id(provider))
        .model(id(&format!("{provider}/m")));
    (event, correlation)
}

#[tokio::test]
async fn pages_are_newest_first_and_filtered() {
    let dir = tempfile::tempdir().unwrap();
    let hs = open(dir.path()).await;
    let empty = hs
        .console_events(&ConsoleFilter::default(), None, None)
        .await
        .unwrap();
    assert_eq!(empty.events.len(), 0);
    assert_eq!(empty.head_seq, 0);
    assert!(!empty.has_more);

    let recorder = with_recorder(&hs).await;
    for job in ["job-a", "job-b", "job-a", "job-c", "job-a"] {
        job_started(recorder, job).await;
    }
    let all = ConsoleFilter::default();
    let first = hs.console_events(&all, None, Some(2)).await.unwrap();
    let seqs: Vec<i64> = first.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [5, 4]);
    assert_eq!(first.head_seq, 5);
    assert!(first.has_more);
    let next = hs.console_events(&all, Some(4), Some(10)).await.unwrap();
    let seqs: Vec<i64> = next.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [3, 2, 1]);
    assert!(!next.has_more);

    let job_a = ConsoleFilter {
        job_id: Some("job-a".into()),
        event_type: Some("FR-EVT-PROFILE-002".into()),
        ..ConsoleFilter::default()
    };
    let page = hs.console_events(&job_a, None, None).await.unwrap();
    let seqs: Vec<i64> = page.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [5, 3, 1]);
    let none = ConsoleFilter {
        event_type: Some("FR-EVT-CLOUD-001".into()),
        ..ConsoleFilter::default()
    };
    assert!(hs
        .console_events(&none, None, None)
        .await
        .unwrap()
        .events
        .is_empty());
    let bad = ConsoleFilter {
        trace_id: Some("not-a-uuid".into()),
        ..ConsoleFilter::default()
    };
    let err = hs.console_events(&bad, None, None).await.unwrap_err();
    assert_eq!(err.field(), Some("trace_id"));
}

#[tokio::test]
async fn one_event_by_its_sequence_number() {
    let dir = tempfile::tempdir().unwrap();
    let hs = open(dir.path()).await;
    let recorder = with_recorder(&hs).await;
    job_started(recorder, "job-a").await;
    let written = job_started(recorder, "job-b").await;
    assert_eq!(hs.console_event(2).await.unwrap(), Some(written));
    assert_eq!(hs.console_event(3).await.unwrap(), None);
    assert_eq!(hs.console_event(0).await.unwrap(), None);
}

#[tokio::test]
async fn the_timeline_separates_local_and_cloud() {
    let dir = tempfile::tempdir().unwrap();
    let hs = open(dir.path()).await;
    let recorder = with_recorder(&hs).await;
    job_started(recorder, "job-a").await;
    let (e, c) = inference(ProviderTier::Local, "oll", 120);
    recorder.record_inference(e, c);
    let (e, c) = inference(ProviderTier::Cloud, "open", 900);
    recorder.record_inference(e, c);
    recorder.flush().await.unwrap();
    let t = hs
        .console_timeline(&ConsoleFilter::default())
        .await
        .unwrap();
    assert_eq!(t.completions.len(), 2);
    assert_eq!(t.completions[0].tier, ProviderTier::Local);
    assert_eq!(t.completions[0].latency_ms, 120);
    assert_eq!(t.completions[1].tier, ProviderTier::Cloud);
    assert_eq!(t.local.completions, 1);
    assert_eq!(t.cloud.prompt_tokens, 4);
    assert_eq!(t.cloud.completion_tokens, 2);
    assert!(!t.truncated);
    // The provider filter narrows it; the event-type filter does not apply.
    let oll = ConsoleFilter {
        provider_id: Some("oll".into()),
        event_type: Some("FR-EVT-PROFILE-002".into()),
        ..ConsoleFilter::default()
    };
    let t = hs.console_timeline(&oll).await.unwrap();
    assert_eq!(t.completions.len(), 1);
    assert_eq!(t.cloud.completions, 0);
}

#[tokio::test]
async fn export_writes_a_new_jsonl_file_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let hs = open(dir.path()).await;
    let recorder = with_recorder(&hs).await;
    for job in ["job-a", "job-b", "job-a"] {
        job_started(recorder, job).await;
    }
    let filter = ConsoleFilter {
        job_id: Some("job-a".into()),
        ..ConsoleFilter::default()
    };
    let first = hs.console_export(&filter).await.unwrap();
    let second = hs.console_export(&filter).await.unwrap();
    assert_ne!(
        first.path, second.path,
        "an export never overwrites another"
    );
    assert_eq!(first.events, 2);
    let path = std::path::Path::new(&first.path);
    assert!(path.starts_with(dir.path().join("exports")));
    assert!(path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("flight-recorder-"));
    let text = std::fs::read_to_string(path).unwrap();
    let seqs: Vec<i64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [1, 3]);
}

#[tokio::test]
async fn export_fails_with_a_message_when_the_directory_cannot_be_made() {
    let dir = tempfile::tempdir().unwrap();
    let hs = open(dir.path()).await;
    std::fs::write(dir.path().join("exports"), b"a file in the way").unwrap();
    let err = hs
        .console_export(&ConsoleFilter::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "recorder");
    assert!(err.to_string().contains("export"), "{err}");
    let bad = ConsoleFilter {
        from: Some("soon".into()),
        ..ConsoleFilter::default()
    };
    assert_eq!(
        hs.console_export(&bad).await.unwrap_err().field(),
        Some("from")
    );
}

/// Runs `feed` in a task; its updates arrive on the returned receiver.
fn follow(feed: EventFeed, poll: Duration) -> mpsc::UnboundedReceiver<LiveUpdate> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move { feed.run(poll, move |u| tx.send(u).is_ok()).await });
    rx
}

async fn next(rx: &mut mpsc::UnboundedReceiver<LiveUpdate>) -> LiveUpdate {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a live update within 10 s")
        .expect("the feed is running")
}

fn seq_of(update: &LiveUpdate) -> i64 {
    match update {
        LiveUpdate::Event { event } => event.seq,
        LiveUpdate::Resync { .. } => panic!("unexpected resync"),
    }
}

#[tokio::test]
async fn the_feed_forwards_this_instances_events_at_once_and_filtered() {
    let dir = tempfile::tempdir().unwrap();
    let hs = open(dir.path()).await;
    let recorder = with_recorder(&hs).await;
    job_started(recorder, "job-old").await;
    let filter = ConsoleFilter {
        job_id: Some("job-a".into()),
        ..ConsoleFilter::default()
    };
    let feed = hs.console_feed(&filter, None).await.unwrap();
    // A long poll: what arrives quickly came through the broadcast.
    let mut rx = follow(feed, Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_millis(100)).await;
    job_started(recorder, "job-b").await;
    job_started(recorder, "job-a").await;
    let update = tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        seq_of(&update),
        3,
        "the event before the feed started is not resent"
    );
    job_started(recorder, "job-a").await;
    assert_eq!(seq_of(&next(&mut rx).await), 4);
}

#[tokio::test]
async fn the_feed_sees_another_instances_events_without_opening_the_recorder() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    let feed = app
        .console_feed(&ConsoleFilter::default(), None)
        .await
        .unwrap();
    let mut rx = follow(feed, Duration::from_millis(50));
    // Another process (here: another instance with its own writer) writes to the same file.
    let other = open(dir.path()).await;
    let recorder = with_recorder(&other).await;
    job_started(recorder, "job-a").await;
    job_started(recorder, "job-b").await;
    assert_eq!(seq_of(&next(&mut rx).await), 1);
    assert_eq!(seq_of(&next(&mut rx).await), 2);
    assert!(app.recorder.get().is_none(), "following started a writer");

    // Once the app's own recorder is open, its events and the other's interleave in order.
    let mine = with_recorder(&app).await;
    job_started(mine, "job-c").await;
    job_started(recorder, "job-d").await;
    job_started(mine, "job-e").await;
    let seqs = [
        seq_of(&next(&mut rx).await),
        seq_of(&next(&mut rx).await),
        seq_of(&next(&mut rx).await),
    ];
    assert_eq!(seqs, [3, 4, 5]);
}

#[tokio::test]
async fn a_flood_of_events_asks_the_ui_to_requery() {
    let dir = tempfile::tempdir().unwrap();
    let hs = open(dir.path()).await;
    let recorder = with_recorder(&hs).await;
    for i in 0..=MAX_BACKLOG {
        let (e, c) = inference(ProviderTier::Local, "oll", u64::from(i));
        recorder.record_inference(e, c);
    }
    recorder.flush().await.unwrap();
    let feed = hs
        .console_feed(&ConsoleFilter::default(), Some(0))
        .await
        .unwrap();
    let mut rx = follow(feed, Duration::from_millis(50));
    let head = i64::from(MAX_BACKLOG) + 1;
    assert_eq!(next(&mut rx).await, LiveUpdate::Resync { head_seq: head });
    job_started(recorder, "job-a").await;
    assert_eq!(seq_of(&next(&mut rx).await), head + 1);
}

#[tokio::test]
async fn the_feed_stops_when_the_ui_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let hs = open(dir.path()).await;
    let recorder = with_recorder(&hs).await;
    let feed = hs
        .console_feed(&ConsoleFilter::default(), None)
        .await
        .unwrap();
    let task = tokio::spawn(feed.run(Duration::from_millis(50), |_| false));
    job_started(recorder, "job-a").await;
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the feed ended")
        .unwrap()
        .unwrap();
    let bad = ConsoleFilter {
        event_type: Some("nope".into()),
        ..ConsoleFilter::default()
    };
    assert!(hs.console_feed(&bad, None).await.is_err());
}

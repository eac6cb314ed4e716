//! Streaming runs through the facade (`run_job_stream`, `resume_job_stream`) against a loopback
//! server speaking Ollama's API over real HTTP, which streams its answer line by line, records
//! every `/api/chat` body and notices when the client closes the connection. `tiny` is a local
//! model; `tiny:cloud` is cloud tier (an Ollama cloud model), so it needs consent first.
//!
//! Needs the real keychain (the Flight Recorder's anchor key): run inside a D-Bus session with
//! an unlocked gnome-keyring, as scripts/test.sh does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use handshake_core::consent::{Approver, GovernanceMode, GovernanceSettings, UiSurface};
use handshake_core::facade::{FacadeError, RunEvent, RunOutcome, RunRequest};
use handshake_core::llm::LlmError;
use handshake_core::profiles::{PassOverReason, Role};
use handshake_core::recorder::EventQuery;
use handshake_core::registry::{NewProvider, ProviderKind, ProviderTier};
use handshake_core::Handshake;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the server saw.
#[derive(Default)]
struct Seen {
    chats: Mutex<Vec<serde_json::Value>>,
    closed_early: AtomicBool,
}

/// How `/api/chat` answers: `chunks` content lines 100 ms apart, then the final line, or (with
/// `hang`) one line and then nothing until the client goes away.
#[derive(Clone, Copy)]
struct Script {
    chunks: usize,
    hang: bool,
}

async fn server(script: Script) -> (String, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, len) = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map(|v| v.trim().parse::<usize>().unwrap())
                            .unwrap_or(0);
                        break (pos + 4, len);
                    }
                };
                while buf.len() < head_end + len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                if head.starts_with("POST /api/show") {
                    let body = r#"{"model_info":{"general.architecture":"gemma3","gemma3.context_length":2048}}"#;
                    let reply = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                    let _ = sock.write_all(reply.as_bytes()).await;
                    return;
                }
                if !head.starts_with("POST /api/chat") {
                    let _ = sock.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                    return;
                }
                seen.chats
                    .lock()
                    .unwrap()
                    .push(serde_json::from_slice(&buf[head_end..head_end + len]).unwrap());
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n")
                    .await;
                let line = |content: &str| {
                    format!(
                        "{{\"model\":\"tiny\",\"created_at\":\"2026-11-27T00:00:00Z\",\"message\":{{\"role\":\"assistant\",\"content\":{}}},\"done\":false}}\n",
                        serde_json::to_string(content).unwrap()
                    )
                };
                if script.hang {
                    let _ = sock.write_all(line("first ").as_bytes()).await;
                    // Waits for the client to close; a read of 0 bytes is the close.
                    let closed =
                        tokio::time::timeout(Duration::from_secs(20), sock.read(&mut chunk)).await;
                    if matches!(closed, Ok(Ok(0)) | Ok(Err(_))) {
                        seen.closed_early.store(true, Ordering::SeqCst);
                    }
                    return;
                }
                for i in 0..script.chunks {
                    let _ = sock.write_all(line(&format!("w{i} ")).as_bytes()).await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let done = format!(
                    "{{\"model\":\"tiny\",\"created_at\":\"2026-11-27T00:00:00Z\",\"message\":{{\"role\":\"assistant\",\"content\":\"\"}},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":7,\"eval_count\":{}}}\n",
                    script.chunks
                );
                let _ = sock.write_all(done.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (url, seen)
}

fn assignment(primary: &str, fallback: Option<&str>) -> serde_json::Value {
    let mut a = serde_json::json!({ "primary_model_id": primary, "local_only": false });
    if let Some(f) = fallback {
        a["fallback_model_id"] = f.into();
    }
    a
}

/// A data directory with provider `oll` at `url` and a profile whose worker is `worker` (with
/// an optional fallback) and whose validator is the cloud model; a job started on it.
async fn workspace(
    url: &str,
    worker: (&str, Option<&str>),
) -> (tempfile::TempDir, Handshake, String) {
    workspace_with(&[("oll", url)], worker).await
}

/// [`workspace`] with these local Ollama providers (`oll` among them).
async fn workspace_with(
    providers: &[(&str, &str)],
    worker: (&str, Option<&str>),
) -> (tempfile::TempDir, Handshake, String) {
    let dir = tempfile::tempdir().unwrap();
    let hs = Handshake::open(Some(dir.path().to_path_buf()))
        .await
        .unwrap();
    for (id, url) in providers {
        hs.registry()
            .add(NewProvider::new(
                *id,
                ProviderKind::Ollama,
                ProviderTier::Local,
                *url,
            ))
            .await
            .unwrap();
    }
    let local = assignment("oll/tiny", None);
    let profile = serde_json::json!({
        "schema_version": "hsk.work_profile@0.5",
        "profile_id": "stream-work",
        "name": "Streaming",
        "model_assignments": {
            "frontend": local, "orchestrator": local,
            "worker": assignment(worker.0, worker.1),
            "validator": assignment("oll/tiny:cloud", None)
        },
        "governance": { "automation_level": "FULL_HUMAN", "allow_cloud_escalation": true, "max_cloud_escalations_per_job": 3 }
    });
    let created = hs.create_profile(&profile.to_string()).await.unwrap();
    let job = hs.start_job(Some(&created.profile_id)).await.unwrap();
    (dir, hs, job.job_id)
}

fn request(job_id: &str, role: Role, max_tokens: Option<u32>) -> RunRequest {
    RunRequest {
        job_id: job_id.to_owned(),
        role,
        file_type: None,
        task_type: None,
        prompt: "Say hello. My key is sk-abcdefghijklmnopqrstuvwxyz0123".into(),
        max_tokens,
        temperature: 0.0,
        stop_sequences: vec![],
    }
}

fn deltas(events: &[RunEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Text { delta } => Some(delta.clone()),
            _ => None,
        })
        .collect()
}

async fn inference_payloads(hs: &Handshake) -> Vec<serde_json::Value> {
    hs.shutdown().await.unwrap();
    let query = EventQuery {
        event_type: Some(handshake_core::recorder::EventType::LlmInference),
        ..EventQuery::default()
    };
    hs.events_query(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.payload)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_run_streams_resolution_then_deltas_usage_and_finish_and_is_recorded() {
    let (url, seen) = server(Script {
        chunks: 3,
        hang: false,
    })
    .await;
    let (_dir, hs, job) = workspace(&url, ("oll/tiny", None)).await;
    let mut events = Vec::new();
    let outcome = hs
        .run_job_stream(request(&job, Role::Worker, Some(64)), &mut |e| {
            events.push(e)
        })
        .await
        .unwrap();
    let RunOutcome::Completed { response, .. } = outcome else {
        panic!("expected a completed run");
    };
    let RunEvent::Resolved { resolution } = &events[0] else {
        panic!("the resolution comes first: {events:?}");
    };
    assert_eq!(resolution.chosen_model_id, "oll/tiny");
    assert_eq!(resolution.rule, "base");
    assert!(matches!(events[1], RunEvent::Started { cloud: false, .. }));
    assert_eq!(deltas(&events), ["w0 ", "w1 ", "w2 "]);
    assert_eq!(response.text, "w0 w1 w2 ");
    let usage = events.iter().find_map(|e| match e {
        RunEvent::Usage { usage, max_tokens } => Some((*usage, *max_tokens)),
        _ => None,
    });
    assert_eq!(
        usage.map(|(u, m)| (u.completion_tokens, m)),
        Some((Some(3), Some(64)))
    );
    let Some(RunEvent::Finished {
        latency_ms,
        time_to_first_token_ms,
        ..
    }) = events.last()
    else {
        panic!("finished comes last: {events:?}");
    };
    assert!(
        *latency_ms >= 200,
        "three chunks 100 ms apart: {latency_ms}"
    );
    assert!(time_to_first_token_ms.unwrap() < *latency_ms);
    assert_eq!(seen.chats.lock().unwrap().len(), 1);
    let recorded = inference_payloads(&hs).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["streamed"], true);
    assert_eq!(
        recorded[0]["outcome"]["status"], "success",
        "{}",
        recorded[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_past_max_tokens_stops_with_budget_exceeded_and_does_not_fall_back() {
    let (url, seen) = server(Script {
        chunks: 5,
        hang: false,
    })
    .await;
    let (_dir, hs, job) = workspace(&url, ("oll/tiny", Some("oll/other"))).await;
    let mut events = Vec::new();
    let err = hs
        .run_job_stream(request(&job, Role::Worker, Some(2)), &mut |e| {
            events.push(e)
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            FacadeError::Llm(LlmError::BudgetExceeded { limit: 2, .. })
        ),
        "{err:?}"
    );
    assert_eq!(
        deltas(&events),
        ["w0 ", "w1 "],
        "cut at the first chunk past the limit"
    );
    let resolutions = events
        .iter()
        .filter(|e| matches!(e, RunEvent::Resolved { .. }))
        .count();
    assert_eq!(resolutions, 1, "no fallback once output was streamed");
    assert_eq!(seen.chats.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_primary_falls_back_before_anything_was_streamed() {
    let (url, _seen) = server(Script {
        chunks: 2,
        hang: false,
    })
    .await;
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let (_dir, hs, job) = workspace_with(
        &[("oll", &url), ("gone", &dead_url)],
        ("gone/tiny", Some("oll/tiny")),
    )
    .await;
    let mut events = Vec::new();
    let outcome = hs
        .run_job_stream(request(&job, Role::Worker, None), &mut |e| events.push(e))
        .await
        .unwrap();
    assert!(matches!(outcome, RunOutcome::Completed { .. }));
    let resolutions: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Resolved { resolution } => Some(resolution.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(resolutions.len(), 2, "{events:?}");
    assert_eq!(resolutions[0].chosen_model_id, "gone/tiny");
    assert_eq!(resolutions[1].chosen_model_id, "oll/tiny");
    assert!(resolutions[1]
        .passed_over
        .iter()
        .any(|p| p.model_id == "gone/tiny" && p.reason == PassOverReason::FailedRetryable));
    assert_eq!(deltas(&events), ["w0 ", "w1 "]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_run_closes_the_connection_and_records_a_cancelled_attempt() {
    let (url, seen) = server(Script {
        chunks: 0,
        hang: true,
    })
    .await;
    let (_dir, hs, job) = workspace(&url, ("oll/tiny", None)).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let hs2 = hs.clone();
    let task = tokio::spawn(async move {
        let _ = hs2
            .run_job_stream(request(&job, Role::Worker, None), &mut |e| {
                let _ = tx.send(e);
            })
            .await;
    });
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        if matches!(event, RunEvent::Text { .. }) {
            break;
        }
    }
    task.abort();
    let _ = task.await;
    for _ in 0..100 {
        if seen.closed_early.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        seen.closed_early.load(Ordering::SeqCst),
        "the connection was not closed"
    );
    let recorded = inference_payloads(&hs).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0]["outcome"]["status"], "cancelled",
        "{}",
        recorded[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_run_waits_for_consent_and_resume_streams_exactly_the_approved_bytes() {
    let (url, seen) = server(Script {
        chunks: 2,
        hang: false,
    })
    .await;
    let (_dir, hs, job) = workspace(&url, ("oll/tiny", None)).await;
    let mut events = Vec::new();
    let outcome = hs
        .run_job_stream(request(&job, Role::Validator, Some(32)), &mut |e| {
            events.push(e)
        })
        .await
        .unwrap();
    let RunOutcome::NeedsConsent { escalation, .. } = outcome else {
        panic!("a cloud model needs consent");
    };
    assert!(
        matches!(&events[0], RunEvent::Resolved { resolution } if resolution.requires_escalation)
    );
    assert!(
        matches!(&events[1], RunEvent::NeedsConsent { escalation: e } if e.escalation_id == escalation.escalation_id)
    );
    assert!(
        !escalation.preview.contains("sk-abcdef"),
        "the key is redacted"
    );
    assert!(
        seen.chats.lock().unwrap().is_empty(),
        "nothing sent before consent"
    );

    let approver = Approver {
        user_id: "tester".into(),
        ui_surface: UiSurface::CloudEscalationModal,
        notes: None,
    };
    hs.decide_escalation(&escalation.escalation_id, true, approver)
        .await
        .unwrap();
    let mut resumed = Vec::new();
    let (_, response) = hs
        .resume_job_stream(&job, &mut |e| resumed.push(e))
        .await
        .unwrap();
    assert!(matches!(resumed[0], RunEvent::Started { cloud: true, .. }));
    assert_eq!(deltas(&resumed), ["w0 ", "w1 "]);
    assert_eq!(response.text, "w0 w1 ");
    let chats = seen.chats.lock().unwrap().clone();
    assert_eq!(chats.len(), 1);
    assert_eq!(
        chats[0]["messages"][0]["content"],
        escalation.preview.as_str()
    );
    assert_eq!(chats[0]["stream"], true);
    // A receipt is single-use.
    let again = hs.resume_job_stream(&job, &mut |_| {}).await.unwrap_err();
    assert_eq!(again.code(), "nothing_to_resume");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_mode_denies_the_cloud_run_with_reason_locked() {
    let (url, seen) = server(Script {
        chunks: 1,
        hang: false,
    })
    .await;
    let (_dir, hs, job) = workspace(&url, ("oll/tiny", None)).await;
    GovernanceSettings::new(hs.db())
        .set_mode(GovernanceMode::Locked)
        .await
        .unwrap();
    let mut events = Vec::new();
    let err = hs
        .run_job_stream(request(&job, Role::Validator, None), &mut |e| {
            events.push(e)
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "escalation_denied");
    let FacadeError::Consent(consent) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        consent.deny_reason(),
        Some(handshake_core::recorder::DenyReason::Locked)
    );
    assert!(!events
        .iter()
        .any(|e| matches!(e, RunEvent::NeedsConsent { .. })));
    assert!(seen.chats.lock().unwrap().is_empty());
}

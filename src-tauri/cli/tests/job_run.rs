//! `hsk job run` / `hsk escalation` / `hsk job resume` as a user runs them, end to end: the real
//! binary, a real data directory, the real keychain, and a loopback server speaking Ollama's API
//! that records every request it receives. The model is an Ollama `:cloud` model, so its bytes
//! would leave the machine: every call must wait for consent, and the server proves what was sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Every `/api/chat` body the server received.
type Received = Arc<Mutex<Vec<serde_json::Value>>>;

async fn ollama_server() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received: Received = Arc::default();
    let seen = received.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, content_length) = loop {
                    let n = sock.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        break (pos + 4, len);
                    }
                };
                while buf.len() < head_end + content_length {
                    let n = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let body = &buf[head_end..head_end + content_length];
                let (status, content_type, reply) = if head.starts_with("POST /api/show") {
                    ("200 OK", "application/json", r#"{"model_info":{"general.architecture":"gemma3","gemma3.context_length":2048},"details":{"family":"gemma3"}}"#.to_owned() + "\n")
                } else if head.starts_with("POST /api/chat") {
                    seen.lock()
                        .unwrap()
                        .push(serde_json::from_slice(body).unwrap());
                    let line1 = r#"{"model":"tiny:cloud","created_at":"2026-11-27T00:00:00Z","message":{"role":"assistant","content":"hello from the cloud"},"done":false}"#;
                    let line2 = r#"{"model":"tiny:cloud","created_at":"2026-11-27T00:00:00Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":12,"eval_count":4}"#;
                    (
                        "200 OK",
                        "application/x-ndjson",
                        format!("{line1}\n{line2}\n"),
                    )
                } else {
                    (
                        "404 Not Found",
                        "application/json",
                        r#"{"error":"not found"}"#.to_owned(),
                    )
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                    reply.len()
                );
                let _ = sock.write_all(response.as_bytes()).await;
            });
        }
    });
    (url, received)
}

fn hsk(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hsk"))
        .env_remove("HANDSHAKE_DATA_DIR")
        .arg("--data-dir")
        .arg(dir)
        .arg("--json")
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn profile_json(model: &str) -> String {
    let assignment = serde_json::json!({ "primary_model_id": model, "local_only": false });
    serde_json::json!({
        "schema_version": "hsk.work_profile@0.5",
        "profile_id": "cloud-work",
        "name": "Cloud work",
        "model_assignments": {
            "frontend": assignment, "orchestrator": assignment, "worker": assignment, "validator": assignment
        },
        "governance": { "automation_level": "FULL_HUMAN", "allow_cloud_escalation": true, "max_cloud_escalations_per_job": 5 }
    })
    .to_string()
}

async fn setup() -> (tempfile::TempDir, Received, String) {
    let (url, received) = ollama_server().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&hsk(
        d,
        &[
            "provider",
            "add",
            "--id",
            "oll",
            "--kind",
            "ollama",
            "--tier",
            "local",
            "--base-url",
            &url,
        ],
    ));
    let file = d.join("profile.json");
    std::fs::write(&file, profile_json("oll/tiny:cloud")).unwrap();
    ok(&hsk(
        d,
        &["profile", "create", "--file", file.to_str().unwrap()],
    ));
    ok(&hsk(d, &["profile", "activate", "cloud-work"]));
    let job = ok(&hsk(d, &["job", "start"]))["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (dir, received, job)
}

fn event_types(dir: &Path) -> Vec<String> {
    let out = hsk(dir, &["recorder", "query", "--limit", "1000"]);
    let value = ok(&out);
    let events = value
        .as_array()
        .cloned()
        .unwrap_or_else(|| value["events"].as_array().cloned().unwrap_or_default());
    events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_run_waits_for_consent_then_sends_exactly_the_approved_bytes_once() {
    let (dir, received, job) = setup().await;
    let d = dir.path();
    let prompt = "Summarise: contact alice@example.com, key sk-live-abcdefghijklmnopqrstuvwx";
    let run = hsk(
        d,
        &[
            "job",
            "run",
            &job,
            "--role",
            "worker",
            "--max-tokens",
            "16",
            prompt,
        ],
    );
    assert_eq!(
        run.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let pending: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(pending["status"], "needs_consent");
    let escalation_id = pending["escalation_id"].as_str().unwrap().to_owned();
    let preview = pending["escalation"]["preview"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        !preview.contains("alice@example.com") && !preview.contains("sk-live-"),
        "{preview}"
    );
    assert!(
        received.lock().unwrap().is_empty(),
        "nothing may be sent before consent"
    );

    // Resuming before a decision sends nothing.
    let early = hsk(d, &["job", "resume", &job]);
    assert_eq!(early.status.code(), Some(1));
    assert!(received.lock().unwrap().is_empty());

    let listed = ok(&hsk(d, &["escalation", "list"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let shown = ok(&hsk(d, &["escalation", "show", &escalation_id]));
    assert_eq!(shown["preview"], preview.as_str());
    let receipt = ok(&hsk(
        d,
        &["escalation", "approve", &escalation_id, "--user", "tester"],
    ));
    assert_eq!(receipt["approved"], true);
    assert_eq!(
        receipt["payload_sha256"],
        pending["escalation"]["plan"]["payload_sha256"]
    );

    let resumed = ok(&hsk(d, &["job", "resume", &job]));
    assert_eq!(resumed["response"]["text"], "hello from the cloud");
    {
        let sent = received.lock().unwrap();
        assert_eq!(sent.len(), 1);
        let content = sent[0]["messages"][0]["content"].as_str().unwrap();
        assert_eq!(
            content, preview,
            "the bytes sent are exactly the approved preview"
        );
    }

    // The receipt is single-use: a second resume sends nothing.
    let again = hsk(d, &["job", "resume", &job]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(received.lock().unwrap().len(), 1);

    let types = event_types(d);
    for wanted in [
        "FR-EVT-PROFILE-002",
        "FR-EVT-PROFILE-003",
        "FR-EVT-CLOUD-001",
        "FR-EVT-CLOUD-002",
        "FR-EVT-CLOUD-004",
        "FR-EVT-LLM-INFERENCE",
    ] {
        assert!(
            types.iter().any(|t| t == wanted),
            "{wanted} missing from {types:?}"
        );
    }
    // No event holds the prompt.
    let export = hsk(d, &["recorder", "export"]);
    assert!(!String::from_utf8_lossy(&export.stdout).contains("alice@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_escalation_sends_nothing_and_resume_reports_the_denial() {
    let (dir, received, job) = setup().await;
    let d = dir.path();
    let run = hsk(d, &["job", "run", &job, "--role", "worker", "hello"]);
    assert_eq!(run.status.code(), Some(3));
    let pending: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let escalation_id = pending["escalation_id"].as_str().unwrap();
    let receipt = ok(&hsk(
        d,
        &["escalation", "deny", escalation_id, "--user", "tester"],
    ));
    assert_eq!(receipt["approved"], false);
    let resume = hsk(d, &["job", "resume", &job]);
    assert_eq!(resume.status.code(), Some(1));
    let err: serde_json::Value = serde_json::from_slice(&resume.stderr).unwrap();
    assert!(
        err["error"]["message"].as_str().unwrap().contains("denied"),
        "{err}"
    );
    assert!(received.lock().unwrap().is_empty());
    assert!(event_types(d).iter().any(|t| t == "FR-EVT-CLOUD-003"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_mode_blocks_the_request_itself() {
    let (dir, received, job) = setup().await;
    let d = dir.path();
    ok(&hsk(d, &["governance", "set-mode", "locked"]));
    let run = hsk(d, &["job", "run", &job, "--role", "worker", "hello"]);
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let err: serde_json::Value = serde_json::from_slice(&run.stderr).unwrap();
    assert!(
        err["error"]["message"].as_str().unwrap().contains("denied"),
        "{err}"
    );
    assert!(received.lock().unwrap().is_empty());
    assert!(event_types(d).iter().any(|t| t == "FR-EVT-CLOUD-003"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_primary_falls_back_to_the_local_fallback_and_both_resolutions_are_recorded() {
    let (url, received) = ollama_server().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Nothing listens on port 9: the primary's server is stopped.
    ok(&hsk(
        d,
        &[
            "provider",
            "add",
            "--id",
            "dead",
            "--kind",
            "ollama",
            "--tier",
            "local",
            "--base-url",
            "http://127.0.0.1:9",
        ],
    ));
    ok(&hsk(
        d,
        &[
            "provider",
            "add",
            "--id",
            "live",
            "--kind",
            "ollama",
            "--tier",
            "local",
            "--base-url",
            &url,
        ],
    ));
    let assignment = serde_json::json!({
        "primary_model_id": "dead/tiny", "fallback_model_id": "live/tiny", "local_only": true
    });
    let profile = serde_json::json!({
        "schema_version": "hsk.work_profile@0.5",
        "profile_id": "local-with-fallback",
        "name": "Local with a fallback",
        "model_assignments": {
            "frontend": assignment, "orchestrator": assignment, "worker": assignment, "validator": assignment
        },
        "governance": { "automation_level": "HYBRID", "allow_cloud_escalation": false }
    });
    let file = d.join("profile.json");
    std::fs::write(&file, profile.to_string()).unwrap();
    ok(&hsk(
        d,
        &["profile", "create", "--file", file.to_str().unwrap()],
    ));
    ok(&hsk(d, &["profile", "activate", "local-with-fallback"]));
    let job = ok(&hsk(d, &["job", "start"]))["job_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let done = ok(&hsk(
        d,
        &[
            "job",
            "run",
            &job,
            "--role",
            "validator",
            "--max-tokens",
            "16",
            "check this",
        ],
    ));
    assert_eq!(done["status"], "completed");
    assert_eq!(done["response"]["text"], "hello from the cloud");
    assert_eq!(done["resolution"]["chosen_model_id"], "live/tiny");
    assert_eq!(done["resolution"]["chosen_slot"], "fallback");
    let passed = done["resolution"]["passed_over"].as_array().unwrap();
    assert!(
        passed
            .iter()
            .any(|p| p["model_id"] == "dead/tiny" && p["reason"] == "failed_retryable"),
        "{passed:?}"
    );
    assert_eq!(
        received.lock().unwrap().len(),
        1,
        "the fallback answered once"
    );

    let types = event_types(d);
    let resolved = types.iter().filter(|t| *t == "FR-EVT-PROFILE-003").count();
    assert_eq!(resolved, 2, "primary and fallback resolutions: {types:?}");
    let attempts = types
        .iter()
        .filter(|t| *t == "FR-EVT-LLM-INFERENCE")
        .count();
    assert_eq!(
        attempts, 2,
        "the failed primary attempt and the fallback's: {types:?}"
    );
    assert!(
        !types.iter().any(|t| t.starts_with("FR-EVT-CLOUD")),
        "a local fallback is no escalation"
    );
}

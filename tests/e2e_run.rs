//! End-to-end: the Run view and the cloud-escalation modal in the real app. The data directory is
//! seeded through handshake_core before the app starts: a local Ollama provider at the peer
//! (gemma3:270m) and a cloud-tier OpenAI-compatible provider at a loopback server that counts
//! requests and speaks the chat-completions SSE format (allowed as "public" through
//! HANDSHAKE_TEST_PUBLIC_ADDRS), with a profile whose worker is local and whose validator is the
//! cloud model, and a slow local server for cancelling. Then, in the UI: a local run streams;
//! Cancel stops a long run and closes its connection; a cloud run opens the modal, Approve sends
//! exactly one request and the console shows FR-EVT-CLOUD-001/002/004; Deny sends nothing and the
//! console shows -003 (reason person); LOCKED, switched on in Settings, blocks with no Approve
//! button.
//!
//! Needs the Ollama peer (HANDSHAKE_PEER_OLLAMA_URL; HANDSHAKE_SKIP_PEERS=1 skips) and what
//! tests/e2e_app.rs needs. Screenshots: run-*.png.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "e2e/support.rs"]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use handshake_core::consent::{GovernanceMode, GovernanceSettings};
use handshake_core::registry::{NewProvider, ProviderKind, ProviderTier};
use handshake_core::Handshake;
use support::App;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CLOUD_ANSWER: [&str; 3] = ["Hello ", "from the ", "cloud."];

/// The bodies of every chat completion the cloud server received.
type Received = Arc<Mutex<Vec<serde_json::Value>>>;

fn chunk(delta: serde_json::Value, finish: Option<&str>) -> String {
    let json = serde_json::json!({
        "id": "chatcmpl-e2e", "object": "chat.completion.chunk", "created": 1_764_288_000,
        "model": "gpt-test",
        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }]
    });
    format!("data: {json}\n\n")
}

/// Reads one HTTP/1.1 request: its head (request line and headers) and its body, or `None` when
/// the client went away first.
async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut part = [0u8; 8192];
    let (head_end, len) = loop {
        let n = sock.read(&mut part).await.unwrap_or(0);
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&part[..n]);
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
        let n = sock.read(&mut part).await.unwrap_or(0);
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&part[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    Some((head, buf[head_end..head_end + len].to_vec()))
}

/// A loopback server speaking OpenAI's streamed chat completions (server-sent events).
async fn cloud_server() -> (std::net::SocketAddr, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received: Received = Arc::default();
    let seen = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let Some((head, body)) = read_request(&mut sock).await else {
                    return;
                };
                if !head.starts_with("POST /v1/chat/completions") {
                    let _ = sock
                        .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                    return;
                }
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
                seen.lock().unwrap().push(body);
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n")
                    .await;
                let mut events = vec![chunk(
                    serde_json::json!({"role": "assistant", "content": ""}),
                    None,
                )];
                for piece in CLOUD_ANSWER {
                    events.push(chunk(serde_json::json!({ "content": piece }), None));
                }
                events.push(chunk(serde_json::json!({}), Some("stop")));
                events.push(format!(
                    "data: {}\n\n",
                    serde_json::json!({
                        "id": "chatcmpl-e2e", "object": "chat.completion.chunk", "created": 1_764_288_000,
                        "model": "gpt-test", "choices": [],
                        "usage": { "prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15 }
                    })
                ));
                events.push("data: [DONE]\n\n".to_owned());
                for event in events {
                    let _ = sock.write_all(event.as_bytes()).await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let _ = sock.shutdown().await;
            });
        }
    });
    (addr, received)
}

/// A local Ollama-speaking server whose `/api/chat` streams one NDJSON piece every 100 ms for a
/// minute: long enough to cancel. Sets the flag when the client closes the connection mid-stream.
/// (The shared Ollama peer is not used for cancelling: it keeps its generation lock when a client
/// goes away mid-stream, and then hangs every later request.)
async fn slow_ollama() -> (std::net::SocketAddr, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let closed = Arc::new(AtomicBool::new(false));
    let flag = closed.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let flag = flag.clone();
            tokio::spawn(async move {
                let Some((head, _)) = read_request(&mut sock).await else {
                    return;
                };
                if !head.starts_with("POST /api/chat ") {
                    let _ = sock
                        .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 29\r\nConnection: close\r\n\r\n{\"error\":\"model not found\"}")
                        .await;
                    return;
                }
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n")
                    .await;
                for i in 0..600 {
                    let line = serde_json::json!({
                        "model": "long-story", "created_at": "2026-11-28T00:00:00Z",
                        "message": { "role": "assistant", "content": format!("word{i} ") },
                        "done": false
                    });
                    if sock
                        .write_all(format!("{line}\n").as_bytes())
                        .await
                        .is_err()
                    {
                        flag.store(true, Ordering::SeqCst);
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let done = serde_json::json!({
                    "model": "long-story", "created_at": "2026-11-28T00:01:00Z",
                    "message": { "role": "assistant", "content": "" }, "done": true,
                    "done_reason": "stop", "prompt_eval_count": 5, "eval_count": 600
                });
                let _ = sock.write_all(format!("{done}\n").as_bytes()).await;
            });
        }
    });
    (addr, closed)
}

fn profile(local: &str, slow: &str, cloud: &str) -> String {
    let local = serde_json::json!({ "primary_model_id": local, "local_only": false });
    let slow = serde_json::json!({ "primary_model_id": slow, "local_only": false });
    let cloud = serde_json::json!({ "primary_model_id": cloud, "local_only": false });
    serde_json::json!({
        "schema_version": "hsk.work_profile@0.5",
        "profile_id": "e2e-run",
        "name": "Local worker, cloud validator",
        "model_assignments": {
            "frontend": local, "orchestrator": slow, "worker": local, "validator": cloud
        },
        "governance": { "automation_level": "FULL_HUMAN", "allow_cloud_escalation": true, "max_cloud_escalations_per_job": 5 }
    })
    .to_string()
}

async fn seed(dir: &std::path::Path, ollama: &str, slow_url: &str, cloud_url: &str) {
    let hs = Handshake::open(Some(dir.to_path_buf())).await.unwrap();
    hs.registry()
        .add(NewProvider::new(
            "slow",
            ProviderKind::Ollama,
            ProviderTier::Local,
            slow_url,
        ))
        .await
        .unwrap();
    hs.registry()
        .add(NewProvider::new(
            "oll",
            ProviderKind::Ollama,
            ProviderTier::Local,
            ollama,
        ))
        .await
        .unwrap();
    hs.registry()
        .add(NewProvider::new(
            "cloud",
            ProviderKind::OpenaiCompat,
            ProviderTier::Cloud,
            cloud_url,
        ))
        .await
        .unwrap();
    let created = hs
        .create_profile(&profile(
            "oll/gemma3:270m",
            "slow/long-story",
            "cloud/gpt-test",
        ))
        .await
        .unwrap();
    hs.activate_profile(&created.profile_id).await.unwrap();
    hs.shutdown().await.unwrap();
}

/// The console row of the first event of `event_type`.
fn console_row(event_type: &str) -> String {
    format!("[data-testid=console-row][data-type=\"{event_type}\"]")
}

/// Waits until the run is done; fails at once, with the run's error, when it failed.
async fn wait_done(app: &App) {
    let status = app
        .wait_until("[data-testid=run-status]", LONG, "Done or a failure", |t| {
            t.contains("Done") || t.is_empty()
        })
        .await;
    if !status.contains("Done") {
        // An empty status is idle or failed: give the failure a moment to show, then report it.
        let state = app
            .find("[data-testid=run-status]")
            .await
            .attr("data-state")
            .await
            .unwrap();
        if state.as_deref() == Some("failed") {
            let error = app.text("[data-testid=run-error]", LONG).await;
            panic!("the run failed: {error}");
        }
        app.wait_until("[data-testid=run-status]", LONG, "Done", |t| {
            t.contains("Done")
        })
        .await;
    }
}

async fn run(app: &App, role: &str, prompt: &str) {
    app.select("[data-testid=run-role]", role).await;
    app.fill("[data-testid=run-prompt]", prompt).await;
    app.click("[data-testid=run-start]").await;
}

const LONG: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_stream_and_cloud_escalations_wait_for_the_modal() {
    let Ok(ollama) = std::env::var("HANDSHAKE_PEER_OLLAMA_URL") else {
        if std::env::var("HANDSHAKE_SKIP_PEERS").as_deref() == Ok("1") {
            eprintln!("skipped: HANDSHAKE_SKIP_PEERS=1");
            return;
        }
        panic!("e2e_run needs the Ollama peer: set HANDSHAKE_PEER_OLLAMA_URL (e.g. http://127.0.0.1:11434, as scripts/test.sh does) or HANDSHAKE_SKIP_PEERS=1");
    };
    let (addr, received) = cloud_server().await;
    let (slow_addr, slow_closed) = slow_ollama().await;
    let public = addr.to_string();
    // The seeding registry checks egress too: the loopback server must count as public here.
    std::env::set_var("HANDSHAKE_TEST_PUBLIC_ADDRS", &public);
    let data = tempfile::tempdir().unwrap();
    seed(
        data.path(),
        &ollama,
        &format!("http://{slow_addr}"),
        &format!("http://{addr}/v1"),
    )
    .await;

    let app = App::start(&[
        ("HANDSHAKE_DATA_DIR", data.path().display().to_string()),
        ("HANDSHAKE_TEST_PUBLIC_ADDRS", public),
    ])
    .await;
    app.open_view("run").await;

    // 1. A local run streams in, with the resolved model and why, tokens and latency.
    app.fill("[data-testid=run-max-tokens]", "32").await;
    run(&app, "worker", "Say hello in five words.").await;
    wait_done(&app).await;
    let output = app.text("[data-testid=run-output]", LONG).await;
    assert!(!output.trim().is_empty());
    assert_eq!(
        app.text("[data-testid=run-model]", LONG).await,
        "oll/gemma3:270m"
    );
    assert!(app
        .text("[data-testid=run-rule]", LONG)
        .await
        .contains("base"));
    let tokens = app.text("[data-testid=run-tokens]", LONG).await;
    assert!(tokens.contains("/ 32"), "{tokens}");
    let latency = app.text("[data-testid=run-latency]", LONG).await;
    assert!(latency.contains("ms"), "{latency}");
    assert!(
        received.lock().unwrap().is_empty(),
        "a local run reached the cloud"
    );
    app.screenshot("run-local").await;

    // Cancel stops a long local run once its output has started, and closes its connection.
    run(&app, "orchestrator", "Tell me a very long story.").await;
    app.wait_until("[data-testid=run-output]", LONG, "streamed words", |t| {
        t.contains("word2")
    })
    .await;
    app.click("[data-testid=run-cancel]").await;
    let cancelled = app.text("[data-testid=run-cancelled]", LONG).await;
    assert!(cancelled.contains("Cancelled"), "{cancelled}");
    assert!(!app.exists("[data-testid=run-cancel]").await);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !slow_closed.load(Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < deadline,
            "cancel did not close the connection to the model server"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.screenshot("run-cancelled").await;

    // 2. The cloud role opens the modal; nothing is sent before Approve, exactly one request after.
    let prompt = "Review this note from alice@example.com please.";
    run(&app, "validator", prompt).await;
    assert_eq!(
        app.text("[data-testid=consent-model]", LONG).await,
        "cloud/gpt-test"
    );
    assert_eq!(
        app.text("[data-testid=consent-provider]", LONG).await,
        "cloud"
    );
    // The modal names the host the plan is bound to, not only the provider id.
    assert_eq!(
        app.text("[data-testid=consent-host]", LONG).await,
        format!("http://{addr}")
    );
    let preview = app.text("[data-testid=consent-preview]", LONG).await;
    assert!(!preview.contains("alice@example.com"), "{preview}");
    let bytes: usize = app
        .text("[data-testid=consent-bytes]", LONG)
        .await
        .parse()
        .unwrap();
    assert_eq!(bytes, preview.len());
    let hash = app.text("[data-testid=consent-hash]", LONG).await;
    assert_eq!(hash.len(), 64);
    assert!(app
        .text("[data-testid=consent-redactions]", LONG)
        .await
        .contains("email"));
    assert_eq!(app.text("[data-testid=consent-remaining]", LONG).await, "5");
    assert!(received.lock().unwrap().is_empty(), "sent before consent");
    app.screenshot("run-consent").await;
    app.click("[data-testid=consent-approve]").await;
    app.wait_until("[data-testid=run-output]", LONG, "the cloud answer", |t| {
        t == CLOUD_ANSWER.concat()
    })
    .await;
    wait_done(&app).await;
    {
        let sent = received.lock().unwrap();
        assert_eq!(sent.len(), 1, "exactly one request after approval");
        assert_eq!(sent[0]["stream"], true);
        assert_eq!(
            sent[0]["messages"][0]["content"].as_str().unwrap(),
            preview,
            "exactly the previewed bytes"
        );
    }
    assert!(app
        .text("[data-testid=run-tokens]", LONG)
        .await
        .contains("3 /"));
    assert!(!app.exists("[data-testid=consent-modal]").await);
    app.screenshot("run-approved").await;
    // The operator console shows the escalation's requested, approved and executed events.
    app.open_view("console").await;
    for event in ["FR-EVT-CLOUD-001", "FR-EVT-CLOUD-002", "FR-EVT-CLOUD-004"] {
        app.find(&console_row(event)).await;
    }
    assert!(!app.exists(&console_row("FR-EVT-CLOUD-003")).await);
    app.find("[data-testid=console-timeline-escalation][data-step=executed]")
        .await;
    app.screenshot("run-console-approved").await;
    app.open_view("run").await;

    // 3. Deny: nothing is sent.
    run(&app, "validator", prompt).await;
    app.find("[data-testid=consent-modal]").await;
    app.click("[data-testid=consent-deny]").await;
    let denied = app.text("[data-testid=run-denied]", LONG).await;
    assert!(denied.contains("nothing was sent"), "{denied}");
    assert_eq!(received.lock().unwrap().len(), 1, "a denial sent something");
    app.screenshot("run-denied").await;
    app.open_view("console").await;
    app.click(&format!(
        "{} [data-testid=console-row-open]",
        console_row("FR-EVT-CLOUD-003")
    ))
    .await;
    let detail = app.text("[data-testid=console-detail-payload]", LONG).await;
    assert!(detail.contains("\"person\""), "{detail}");
    app.screenshot("run-console-denied").await;
    app.open_view("run").await;

    // 4. LOCKED, switched on in Settings: the block is shown and there is no Approve button.
    app.open_view("settings").await;
    app.click("[data-testid=settings-mode-locked]").await;
    app.find("[data-testid=settings-mode][data-mode=LOCKED]")
        .await;
    let hs = Handshake::open(Some(data.path().to_path_buf()))
        .await
        .unwrap();
    assert_eq!(
        GovernanceSettings::new(hs.db()).mode().await.unwrap(),
        GovernanceMode::Locked
    );
    drop(hs);
    app.open_view("run").await;
    run(&app, "validator", prompt).await;
    let locked = app.text("[data-testid=consent-locked]", LONG).await;
    assert!(locked.contains("LOCKED"), "{locked}");
    assert!(!app.exists("[data-testid=consent-approve]").await);
    assert!(app
        .text("[data-testid=run-blocked]", LONG)
        .await
        .contains("nothing was sent"));
    assert_eq!(received.lock().unwrap().len(), 1, "LOCKED sent something");
    app.screenshot("run-locked").await;
    app.click("[data-testid=consent-close]").await;
    assert!(!app.exists("[data-testid=consent-modal]").await);
}

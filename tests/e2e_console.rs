//! End-to-end: the operator console and Settings in the real app. While the console is open on
//! an empty data directory, the test does real things through `handshake_core` on the same data
//! directory from its own process (register the peer Ollama, create a profile, start a job, run
//! a completion against gemma3:270m): the events appear in the live table without a reload (the
//! app's feed polls the database, so another process's events show up), the timeline counts the
//! local completion, a type filter narrows the table, a row opens its detail, the chain verifies
//! and an export writes the filtered events to a JSONL file. Then Settings switches to LOCKED and
//! back, and sets and removes a standing rule, each checked in the core. Screenshots:
//! `console-*.png`, `settings-*.png` under `test-artifacts/e2e/`.
//!
//! Needs the peer Ollama (`HANDSHAKE_PEER_OLLAMA_URL`, model gemma3:270m); set
//! `HANDSHAKE_SKIP_PEERS=1` to run without it (the completion is then left out).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "e2e/support.rs"]
mod support;

use std::time::{Duration, Instant};

use fantoccini::Locator;
use handshake_core::consent::{GovernanceMode, GovernanceSettings};
use handshake_core::llm::CompletionRequest;
use handshake_core::registry::{NewProvider, ProviderKind, ProviderTier};
use handshake_core::Handshake;
use support::App;

const PROFILE: &str = r#"{
  "schema_version": "hsk.work_profile@0.5",
  "profile_id": "wp-console",
  "name": "Console e2e",
  "model_assignments": {
    "frontend": {"primary_model_id": "oll/gemma3:270m", "local_only": true},
    "orchestrator": {"primary_model_id": "oll/gemma3:270m", "local_only": true},
    "worker": {"primary_model_id": "oll/gemma3:270m", "local_only": true},
    "validator": {"primary_model_id": "oll/gemma3:270m", "local_only": true}
  },
  "governance": {"automation_level": "FULL_HUMAN", "allow_cloud_escalation": false, "max_cloud_escalations_per_job": 0}
}"#;

/// The peer Ollama's URL, or `None` when the test may run without it.
fn peer_ollama() -> Option<String> {
    match std::env::var("HANDSHAKE_PEER_OLLAMA_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("HANDSHAKE_SKIP_PEERS").as_deref() == Ok("1") => None,
        _ => panic!(
            "HANDSHAKE_PEER_OLLAMA_URL is not set: start the peer Ollama (gemma3:270m) and name \
             it, e.g. HANDSHAKE_PEER_OLLAMA_URL=http://127.0.0.1:11434, or set HANDSHAKE_SKIP_PEERS=1"
        ),
    }
}

/// The `data-*` attributes of every element at `css`.
async fn attrs(app: &App, css: &str, attr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for el in app.client.find_all(Locator::Css(css)).await.unwrap() {
        if let Ok(Some(v)) = el.attr(attr).await {
            out.push(v);
        }
    }
    out
}

/// Waits until `attr` of the element at `css` is `want`.
async fn wait_attr(app: &App, css: &str, attr: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(el) = app.client.find(Locator::Css(css)).await {
            if el.attr(attr).await.ok().flatten().as_deref() == Some(want) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{css} never had {attr}={want}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_follows_the_flight_recorder_and_settings_switch_governance() {
    let peer = peer_ollama();
    let app = App::start(&[]).await;
    let long = Duration::from_secs(30);

    // An empty log says what to do next.
    app.open_view("console").await;
    let empty = app.text("[data-testid=console-empty]", long).await;
    assert!(empty.contains("No events recorded yet"), "{empty}");
    app.screenshot("console-empty").await;

    // Real work through the core, from this process, on the app's data directory.
    let hs = Handshake::open(Some(app.data_dir.path().to_path_buf()))
        .await
        .unwrap();
    let url = peer.clone().unwrap_or_else(|| "http://127.0.0.1:9".into());
    hs.registry()
        .add(NewProvider::new(
            "oll",
            ProviderKind::Ollama,
            ProviderTier::Local,
            url,
        ))
        .await
        .unwrap();
    hs.create_profile(PROFILE).await.unwrap();
    let job = hs.start_job(Some("wp-console")).await.unwrap();
    if peer.is_some() {
        let client = hs.client_for("oll/gemma3:270m").await.unwrap();
        client
            .completion(CompletionRequest {
                trace_id: uuid::Uuid::new_v4(),
                prompt: "Say hi.".into(),
                model_id: "oll/gemma3:270m".into(),
                max_tokens: Some(8),
                temperature: 0.0,
                stop_sequences: Vec::new(),
            })
            .await
            .unwrap();
        hs.recorder().await.unwrap().flush().await.unwrap();
    }

    // They appear in the open console without a reload.
    let table = app
        .wait_until(
            "[data-testid=console-table]",
            long,
            "the seeded events",
            |t| {
                t.contains("FR-EVT-PROFILE-002")
                    && t.contains("FR-EVT-PROFILE-001")
                    && (peer.is_none() || t.contains("FR-EVT-LLM-INFERENCE"))
            },
        )
        .await;
    assert!(table.contains(&job.job_id), "{table}");
    assert!(!app.exists("[data-testid=console-empty]").await);
    if peer.is_some() {
        let local = app
            .wait_until(
                "[data-testid=console-timeline-local]",
                long,
                "one local completion",
                |t| t.contains("Local: 1 completions"),
            )
            .await;
        assert!(local.contains("tokens"), "{local}");
        let cloud = app.text("[data-testid=console-timeline-cloud]", long).await;
        assert!(cloud.contains("Cloud: 0 completions"), "{cloud}");
        let tiers = attrs(
            &app,
            "[data-testid=console-timeline-completion]",
            "data-tier",
        )
        .await;
        assert_eq!(tiers, ["local"]);
    }
    app.screenshot("console-live").await;

    // Filter by type.
    app.select("[data-testid=console-filter-type]", "FR-EVT-PROFILE-002")
        .await;
    app.click("[data-testid=console-filter-apply]").await;
    let deadline = Instant::now() + long;
    loop {
        let types = attrs(&app, "[data-testid=console-row]", "data-type").await;
        if !types.is_empty() && types.iter().all(|t| t == "FR-EVT-PROFILE-002") {
            assert_eq!(types.len(), 1);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the filter never applied: {types:?}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    app.screenshot("console-filtered").await;

    // A new matching event, written while the console is open, appears without a reload.
    let second = hs.start_job(Some("wp-console")).await.unwrap();
    app.wait_until("[data-testid=console-table]", long, "the new job", |t| {
        t.contains(&second.job_id)
    })
    .await;
    assert_eq!(
        attrs(&app, "[data-testid=console-row]", "data-type").await,
        ["FR-EVT-PROFILE-002", "FR-EVT-PROFILE-002"]
    );

    // An event's detail shows its payload.
    app.click("[data-testid=console-row-open]").await;
    let payload = app.text("[data-testid=console-detail-payload]", long).await;
    assert!(payload.contains("\"job_id\""), "{payload}");
    assert!(payload.contains(&second.job_id), "{payload}");
    assert!(payload.contains("wp-console"), "{payload}");
    app.screenshot("console-detail").await;

    // The chain verifies.
    app.click("[data-testid=console-verify]").await;
    wait_attr(
        &app,
        "[data-testid=console-verify-status]",
        "data-status",
        "ok",
    )
    .await;
    let status = app.text("[data-testid=console-verify-status]", long).await;
    assert!(status.contains("Chain OK"), "{status}");
    app.screenshot("console-verified").await;

    // Export writes the filtered events to a file in the data directory.
    app.click("[data-testid=console-export]").await;
    let path = app.text("[data-testid=console-export-path]", long).await;
    let path = std::path::PathBuf::from(path);
    assert!(
        path.starts_with(app.data_dir.path().join("exports")),
        "{path:?}"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines
        .iter()
        .all(|l| l["event_type"] == "FR-EVT-PROFILE-002"));
    let result = app.text("[data-testid=console-export-result]", long).await;
    assert!(result.contains("Exported 2 events"), "{result}");
    app.screenshot("console-exported").await;

    // Settings: LOCKED and back, each stored in the core.
    let governance = GovernanceSettings::new(hs.db());
    app.open_view("settings").await;
    wait_attr(&app, "[data-testid=settings-mode]", "data-mode", "STANDARD").await;
    app.click("[data-testid=settings-mode-locked]").await;
    wait_attr(&app, "[data-testid=settings-mode]", "data-mode", "LOCKED").await;
    let status = app.text("[data-testid=settings-mode-status]", long).await;
    assert!(status.contains("nothing leaves this machine"), "{status}");
    assert_eq!(governance.mode().await.unwrap(), GovernanceMode::Locked);
    wait_attr(&app, "[data-testid=settings-keychain]", "data-state", "ok").await;
    app.screenshot("settings-locked").await;
    app.click("[data-testid=settings-mode-standard]").await;
    wait_attr(&app, "[data-testid=settings-mode]", "data-mode", "STANDARD").await;
    assert_eq!(governance.mode().await.unwrap(), GovernanceMode::Standard);

    // The standing rule: set, then remove.
    app.fill("[data-testid=settings-rule-providers]", "open, groq")
        .await;
    app.fill("[data-testid=settings-rule-max-bytes]", "2048")
        .await;
    app.click("[data-testid=settings-rule-save]").await;
    app.wait_until("[data-testid=settings-rule]", long, "the rule", |t| {
        t.contains("2048 bytes") && t.contains("open, groq")
    })
    .await;
    let rule = governance.standing_rule().await.unwrap().unwrap();
    assert_eq!(rule.provider_ids, ["open", "groq"]);
    assert_eq!(rule.max_payload_bytes, 2048);
    app.screenshot("settings-rule").await;
    app.click("[data-testid=settings-rule-remove]").await;
    app.wait_until("[data-testid=settings-rule]", long, "no rule", |t| {
        t.contains("No standing rule")
    })
    .await;
    assert_eq!(governance.standing_rule().await.unwrap(), None);

    hs.shutdown().await.unwrap();
    app.client.clone().close().await.unwrap();
}

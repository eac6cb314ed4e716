//! `hsk complete` as a user runs it: the real binary, a real data directory and keychain, and the
//! real model servers from `../shared/peers` (llama.cpp behind the Ollama and OpenAI-compatible
//! APIs). The peers' base URLs come from `HANDSHAKE_PEER_OLLAMA_URL` and
//! `HANDSHAKE_PEER_OPENAI_URL` (the test command starts them); without them these tests fail,
//! unless `HANDSHAKE_SKIP_PEERS=1` says to skip the ones that need a peer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use handshake_core::db::Database;
use handshake_core::recorder::store::query;
use handshake_core::recorder::EventQuery;
use handshake_core::registry::{NewProvider, ProviderKind, ProviderRegistry, ProviderTier};
use handshake_core::secrets::Keychain;

fn peer(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("HANDSHAKE_SKIP_PEERS").as_deref() == Ok("1") => None,
        _ => panic!("{var} is not set: start the peers with ../shared/peers/peer.sh (or set HANDSHAKE_SKIP_PEERS=1)"),
    }
}

async fn register(dir: &Path, id: &str, kind: ProviderKind, tier: ProviderTier, url: &str) {
    let db = Database::open(dir).await.unwrap();
    let registry = ProviderRegistry::new(db.clone(), Keychain::new());
    registry
        .add(NewProvider::new(id, kind, tier, url))
        .await
        .unwrap();
    db.close().await;
}

fn hsk(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hsk"))
        .env_remove("HANDSHAKE_DATA_DIR")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

async fn inference_events(dir: &Path, trace_id: &str) -> Vec<serde_json::Value> {
    let db = Database::open(dir).await.unwrap();
    let q = EventQuery {
        trace_id: Some(trace_id.parse().unwrap()),
        ..EventQuery::default()
    };
    let events = query(db.pool(), &q).await.unwrap();
    db.close().await;
    events
        .into_iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

#[tokio::test]
async fn completes_against_the_real_ollama_peer_and_records_it() {
    let Some(url) = peer("HANDSHAKE_PEER_OLLAMA_URL") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    register(
        dir.path(),
        "oll",
        ProviderKind::Ollama,
        ProviderTier::Local,
        &url,
    )
    .await;
    let out = hsk(
        dir.path(),
        &[
            "complete",
            "--json",
            "--provider",
            "oll",
            "--model",
            "gemma3:270m",
            "--max-tokens",
            "8",
            "Say hello.",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let response = &value["response"];
    assert!(!response["text"].as_str().unwrap().is_empty());
    assert!(["stop", "length"].contains(&response["finish_reason"].as_str().unwrap()));
    let completion = response["usage"]["completion_tokens"].as_u64().unwrap();
    assert!((1..=8).contains(&completion), "{completion}");

    let trace_id = value["trace_id"].as_str().unwrap();
    let events = inference_events(dir.path(), trace_id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event_type"], "FR-EVT-LLM-INFERENCE");
    assert_eq!(events[0]["provider_id"], "oll");
    assert_eq!(events[0]["model_id"], "oll/gemma3:270m");
}

#[tokio::test]
async fn streams_from_the_real_openai_compatible_peer_until_max_tokens() {
    let Some(url) = peer("HANDSHAKE_PEER_OPENAI_URL") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    register(
        dir.path(),
        "llama",
        ProviderKind::OpenaiCompat,
        ProviderTier::Local,
        &url,
    )
    .await;
    let trace = uuid::Uuid::new_v4().to_string();
    let out = hsk(
        dir.path(),
        &[
            "complete",
            "--json",
            "--stream",
            "--provider",
            "llama",
            "--model",
            "gemma3-270m",
            "--max-tokens",
            "4",
            "--trace-id",
            &trace,
            "Count from one to one hundred:",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.first().unwrap()["type"], "started");
    assert!(events.iter().any(|e| e["type"] == "text"));
    let last = events.last().unwrap();
    assert_eq!(last["type"], "finished");
    assert_eq!(last["finish_reason"], "length");
    let recorded = inference_events(dir.path(), &trace).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["payload"]["streamed"], true);
    assert_eq!(recorded[0]["payload"]["finish_reason"], "length");
    // The Flight Recorder holds sizes and hashes, never the prompt.
    assert!(!recorded[0].to_string().contains("Count from one"));
}

#[tokio::test]
async fn a_cloud_model_needs_consent_and_exits_3_without_sending() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9; a call that was sent would fail as unreachable, not as consent.
    register(
        dir.path(),
        "oll",
        ProviderKind::Ollama,
        ProviderTier::Local,
        "http://127.0.0.1:9",
    )
    .await;
    let out = hsk(
        dir.path(),
        &[
            "complete",
            "--json",
            "--provider",
            "oll",
            "--model",
            "gpt-oss:120b-cloud",
            "hi",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["code"], "consent_required");
    assert!(out.stdout.is_empty());
}

#[tokio::test]
async fn unknown_providers_and_bad_requests_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = hsk(
        dir.path(),
        &[
            "complete",
            "--json",
            "--provider",
            "nope",
            "--model",
            "m",
            "hi",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(
        err["error"]["code"].as_str().unwrap().contains("not_found"),
        "{err}"
    );

    register(
        dir.path(),
        "oll",
        ProviderKind::Ollama,
        ProviderTier::Local,
        "http://127.0.0.1:9",
    )
    .await;
    let out = hsk(
        dir.path(),
        &[
            "complete",
            "--provider",
            "oll",
            "--model",
            "m",
            "--max-tokens",
            "0",
            "hi",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("max_tokens must be at least 1"), "{stderr}");

    // A refused connection is reported as unreachable, and recorded as an attempt.
    let trace = uuid::Uuid::new_v4().to_string();
    let out = hsk(
        dir.path(),
        &[
            "complete",
            "--json",
            "--provider",
            "oll",
            "--model",
            "m",
            "--trace-id",
            &trace,
            "hi",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["code"], "unreachable");
    let events = inference_events(dir.path(), &trace).await;
    assert_eq!(events.len(), 1, "{events:?}");
}

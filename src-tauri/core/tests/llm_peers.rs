//! Integration tests against real model servers (Gemma 3 270M through llama.cpp), started by
//! `../shared/peers/peer.sh`:
//!
//! ```sh
//! export HANDSHAKE_PEER_OPENAI_URL=$(bash ../shared/peers/peer.sh openai 18080)   # .../v1
//! export HANDSHAKE_PEER_OLLAMA_URL=$(bash ../shared/peers/peer.sh ollama 11434)
//! cargo test -p handshake-core --test llm_peers
//! ```
//!
//! Without those variables every test FAILS, so that CI cannot pass by not running them;
//! `HANDSHAKE_SKIP_PEERS=1` skips them explicitly (a developer without the peers).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod support;

use futures::StreamExt;
use handshake_core::llm::{
    FinishReason, LlmClient, LlmError, OllamaClient, OpenAiCompatClient, StreamEvent,
};
use support::{endpoint, request};

/// The Ollama test peer generates one answer at a time and its event loop can stall when calls
/// overlap; llama-cpp-python's server interrupts a running answer when another request arrives.
/// So the tests of each peer take turns.
static OLLAMA_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
static OPENAI_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const OPENAI_MODEL: &str = "gemma3-270m";
const OLLAMA_MODEL: &str = "gemma3:270m";

/// The peer's base URL, `None` when peers are explicitly skipped; panics when it is unset.
fn peer_url(var: &str) -> Option<url::Url> {
    if std::env::var("HANDSHAKE_SKIP_PEERS").as_deref() == Ok("1") {
        return None;
    }
    let raw = std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: start the peer with ../shared/peers/peer.sh (or set HANDSHAKE_SKIP_PEERS=1)")
    });
    Some(url::Url::parse(raw.trim()).expect("peer URL parses"))
}

fn openai() -> Option<OpenAiCompatClient> {
    let url = peer_url("HANDSHAKE_PEER_OPENAI_URL")?;
    let mut ep = endpoint("peer", url, None);
    ep.timeouts.first_byte_ms = 120_000;
    ep.timeouts.total_ms = 300_000;
    Some(OpenAiCompatClient::new(ep, OPENAI_MODEL).unwrap())
}

async fn ollama(model: &str) -> Option<Result<OllamaClient, LlmError>> {
    let url = peer_url("HANDSHAKE_PEER_OLLAMA_URL")?;
    let mut ep = endpoint("oll", url, None);
    ep.timeouts.first_byte_ms = 120_000;
    ep.timeouts.total_ms = 300_000;
    Some(OllamaClient::new(ep, model).await)
}

fn prompt(
    model_id: &str,
    text: &str,
    max_tokens: Option<u32>,
) -> handshake_core::llm::CompletionRequest {
    let mut req = request(model_id, max_tokens);
    req.prompt = text.into();
    req
}

#[tokio::test]
async fn openai_completion_and_max_tokens() {
    let _turn = OPENAI_TURN.lock().await;
    let Some(client) = openai() else { return };
    let r = client
        .completion(prompt(
            "peer/gemma3-270m",
            "Count from 1 to 50, separated by spaces.",
            Some(8),
        ))
        .await
        .unwrap();
    assert!(!r.text.is_empty());
    assert_eq!(
        r.finish_reason,
        FinishReason::Length,
        "8 tokens cannot hold 50 numbers"
    );
    let counted = r
        .usage
        .completion_tokens
        .expect("counted chunks when the server sends no usage");
    assert!((1..=8).contains(&counted), "{counted}");
    assert!(
        r.time_to_first_token_ms.is_some() && r.latency_ms >= r.time_to_first_token_ms.unwrap_or(0)
    );
}

#[tokio::test]
async fn openai_streaming_and_stop_sequences() {
    let _turn = OPENAI_TURN.lock().await;
    let Some(client) = openai() else { return };
    let mut stream = client
        .completion_stream(prompt(
            "peer/gemma3-270m",
            "Write the numbers 1 to 10, one per line.",
            Some(64),
        ))
        .await
        .unwrap();
    let mut texts = 0;
    let mut finished = None;
    while let Some(item) = stream.next().await {
        match item.unwrap() {
            StreamEvent::Text { .. } => texts += 1,
            StreamEvent::Finished { finish_reason, .. } => finished = Some(finish_reason),
            _ => {}
        }
    }
    assert!(texts > 0);
    assert!(finished.is_some());

    let mut req = prompt(
        "peer/gemma3-270m",
        "Write the numbers 1 to 10, one per line.",
        Some(64),
    );
    req.stop_sequences = vec!["3".into()];
    let r = client.completion(req).await.unwrap();
    assert!(
        !r.text.contains('3'),
        "the stop sequence ends the answer: {:?}",
        r.text
    );
}

#[tokio::test]
async fn openai_models_and_unknown_model() {
    let _turn = OPENAI_TURN.lock().await;
    let Some(client) = openai() else { return };
    let models = client.list_models().await.unwrap();
    assert!(models.iter().any(|m| m == OPENAI_MODEL), "{models:?}");
    let url = peer_url("HANDSHAKE_PEER_OPENAI_URL").unwrap();
    let mut ep = endpoint("peer", url, None);
    ep.timeouts.first_byte_ms = 120_000; // the peer may be busy with another client's answer
    ep.timeouts.total_ms = 300_000;
    let other = OpenAiCompatClient::new(ep, "no-such-model").unwrap();
    // llama-cpp-python serves its one model whatever the name, so an unknown name either works or
    // is refused as not found; it must never be some other kind of failure.
    match other
        .completion(prompt("peer/no-such-model", "hi", Some(2)))
        .await
    {
        Ok(r) => assert!(r.latency_ms >= r.time_to_first_token_ms.unwrap_or(0)),
        Err(e) => assert!(matches!(e, LlmError::ModelNotFound { .. }), "{e:?}"),
    }
}

#[tokio::test]
async fn ollama_completion_streaming_and_max_tokens() {
    let _turn = OLLAMA_TURN.lock().await;
    let Some(client) = ollama(OLLAMA_MODEL).await else {
        return;
    };
    let client = client.unwrap();
    assert_eq!(client.profile().context_window, Some(2048));
    assert_eq!(client.num_ctx(), Some(2048));
    let r = client
        .completion(prompt(
            "oll/gemma3:270m",
            "Count from 1 to 50, separated by spaces.",
            Some(8),
        ))
        .await
        .unwrap();
    assert_eq!(r.finish_reason, FinishReason::Length);
    assert!(
        r.usage
            .completion_tokens
            .is_some_and(|n| (1..=8).contains(&n)),
        "{:?}",
        r.usage
    );
    assert!(r.usage.prompt_tokens.is_some_and(|n| n > 0));
    assert!(!r.prompt_truncated);

    let events: Vec<_> = client
        .completion_stream(prompt("oll/gemma3:270m", "Say hello.", Some(16)))
        .await
        .unwrap()
        .collect()
        .await;
    assert!(matches!(
        events.first(),
        Some(Ok(StreamEvent::Started { .. }))
    ));
    assert!(
        matches!(events.last(), Some(Ok(StreamEvent::Finished { .. }))),
        "{:?}",
        events.last()
    );
}

#[tokio::test]
async fn ollama_stop_sequences_models_and_unknown_model() {
    let _turn = OLLAMA_TURN.lock().await;
    let Some(client) = ollama(OLLAMA_MODEL).await else {
        return;
    };
    let client = client.unwrap();
    let mut req = prompt(
        "oll/gemma3:270m",
        "Write the numbers 1 to 10, one per line.",
        Some(64),
    );
    req.stop_sequences = vec!["3".into()];
    let r = client.completion(req).await.unwrap();
    assert!(
        !r.text.contains('3'),
        "the stop sequence ends the answer: {:?}",
        r.text
    );
    let models = client.list_models().await.unwrap();
    assert!(
        models.iter().any(|m| m == "gemma3:270m") && models.iter().any(|m| m == "gemma3:270m-alt"),
        "{models:?}"
    );
    let missing = ollama("no-such-model:1b").await.unwrap();
    assert!(
        matches!(missing, Err(LlmError::ModelNotFound { .. })),
        "{missing:?}"
    );
}

#[tokio::test]
async fn ollama_swap_unload_then_load() {
    let _turn = OLLAMA_TURN.lock().await;
    let Some(client) = ollama("gemma3:270m-alt").await else {
        return;
    };
    let client = client.unwrap();
    client.load().await.unwrap();
    client.unload().await.unwrap();
    let r = client
        .completion(prompt("oll/gemma3:270m-alt", "Say hi.", Some(4)))
        .await
        .unwrap();
    assert!(r.usage.completion_tokens.is_some_and(|n| n <= 4));
}

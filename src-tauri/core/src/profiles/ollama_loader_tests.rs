//! Unit tests of [`super`] against a loopback server speaking Ollama's `/api/generate`, and a
//! whole swap driven through it.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::llm::OpenAiCompatOptions;
use crate::profiles::swap::{ModelSwap, ModelSwapRequest, SwapError, SwapStep};
use crate::profiles::test_support::{catalog, database};
use crate::vocab::{ProviderTier, Timeouts};

/// Requests seen: (path, request head, JSON body).
type Seen = Arc<Mutex<Vec<(String, String, Value)>>>;

/// Answers like Ollama: 404 with an `error` body for a model in `missing`, else `done: true`.
async fn ollama(missing: &'static [&'static str]) -> (url::Url, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head_end, length) = loop {
                let n = socket.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..pos]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                    break (pos + 4, length);
                }
            };
            while buf.len() < head_end + length {
                let n = socket.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
            }
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let path = head.split_whitespace().nth(1).unwrap().to_owned();
            let auth = head.clone();
            let body: Value = serde_json::from_slice(&buf[head_end..head_end + length]).unwrap();
            let model = body["model"].as_str().unwrap().to_owned();
            log.lock().unwrap().push((path, auth, body.clone()));
            let (status, answer) = if missing.contains(&model.as_str()) {
                (
                    "404 Not Found",
                    json!({"error": format!("model '{model}' not found")}),
                )
            } else {
                let reason = if body.get("keep_alive") == Some(&json!(0)) {
                    "unload"
                } else {
                    "load"
                };
                (
                    "200 OK",
                    json!({"model": model, "response": "", "done": true, "done_reason": reason}),
                )
            };
            let text = answer.to_string();
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
            socket.write_all(reply.as_bytes()).await.unwrap();
        }
    });
    (base, seen)
}

fn endpoint(base_url: url::Url) -> WireConfig {
    WireConfig {
        provider_id: "oll".into(),
        tier: ProviderTier::Local,
        base_url,
        api_key: None,
        extra_headers: Vec::new(),
        timeouts: Timeouts::default(),
        openai: OpenAiCompatOptions::default(),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    }
}

#[tokio::test]
async fn unload_sends_keep_alive_zero_and_load_sends_none() {
    let (base, seen) = ollama(&[]).await;
    let loader = OllamaLoader::new(endpoint(base));
    loader.unload("oll/qwen3:8b").await.unwrap();
    loader.load("oll/hf.co/org/model:Q4_K_M").await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].0, "/api/generate");
    assert_eq!(
        seen[0].2,
        json!({"model": "qwen3:8b", "stream": false, "keep_alive": 0})
    );
    assert_eq!(
        seen[1].2,
        json!({"model": "hf.co/org/model:Q4_K_M", "stream": false})
    );
    assert!(
        !seen[1].1.to_lowercase().contains("authorization"),
        "no key, no header"
    );
}

#[tokio::test]
async fn the_key_and_extra_headers_are_sent() {
    let (base, seen) = ollama(&[]).await;
    let mut endpoint = endpoint(base);
    endpoint.api_key = Some("k-123".to_owned().into());
    endpoint.extra_headers = vec![("x-team".into(), "blue".to_owned().into())];
    OllamaLoader::new(endpoint)
        .load("oll/qwen3:8b")
        .await
        .unwrap();
    let head = seen.lock().unwrap()[0].1.to_lowercase();
    assert!(head.contains("authorization: bearer k-123\r\n"), "{head}");
    assert!(head.contains("x-team: blue\r\n"), "{head}");
}

#[tokio::test]
async fn errors_map_to_llm_errors_and_other_providers_are_refused() {
    let (base, seen) = ollama(&["ghost:1b"]).await;
    let loader = OllamaLoader::new(endpoint(base));
    let err = loader.load("oll/ghost:1b").await.unwrap_err();
    assert!(
        matches!(&err, LlmError::ModelNotFound { model } if model == "ghost:1b"),
        "{err:?}"
    );
    let err = loader.load("lan/qwen3:8b").await.unwrap_err();
    assert!(matches!(err, LlmError::InvalidRequest { .. }), "{err:?}");
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "a foreign model never reaches the server"
    );

    // Nothing listens on a port that was just released.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("http://{}/", closed.local_addr().unwrap())).unwrap();
    drop(closed);
    let err = OllamaLoader::new(endpoint(url))
        .unload("oll/qwen3:8b")
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn a_swap_through_ollama_falls_back_when_the_new_model_is_missing() {
    let (base, seen) = ollama(&["qwen3-coder:30b"]).await;
    let loader = OllamaLoader::new(endpoint(base));
    let (_dir, db) = database().await;
    let request = ModelSwapRequest {
        job_id: None,
        from_model_id: "oll/qwen3:8b".into(),
        to_model_id: "oll/qwen3-coder:30b".into(),
    };
    let (mut swap, _) = ModelSwap::request(&db, request, &catalog()).await.unwrap();
    let (records, outcome) = swap.run(&loader, &json!({"cursor": 1})).await;
    assert!(matches!(
        outcome,
        Err(SwapError::StepFailed {
            step: SwapStep::Load,
            ..
        })
    ));
    assert!(records.last().unwrap().fell_back_to_old_model);
    let calls: Vec<Value> = seen.lock().unwrap().iter().map(|s| s.2.clone()).collect();
    assert_eq!(
        calls,
        [
            json!({"model": "qwen3:8b", "stream": false, "keep_alive": 0}),
            json!({"model": "qwen3-coder:30b", "stream": false}),
            json!({"model": "qwen3:8b", "stream": false}),
        ]
    );
}

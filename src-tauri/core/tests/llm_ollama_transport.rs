//! Transport tests of `OllamaClient` against loopback servers speaking Ollama's NDJSON exactly:
//! request shape (num_predict, num_ctx from /api/show, keep_alive), split and merged lines, error
//! lines mid-stream, a server ignoring num_predict, truncation, load/unload, cloud tags.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod support;

use std::time::Duration;

use futures::StreamExt;
use handshake_core::llm::{
    FinishReason, LlmClient, LlmError, OllamaClient, RetryPolicy, StreamEvent,
};
use handshake_core::registry::ProviderTier;
use support::*;
use tokio::net::TcpStream;

const NDJSON: &str = "application/x-ndjson";

fn line(content: &str) -> String {
    format!(
        "{{\"model\":\"gemma3:270m\",\"created_at\":\"2025-01-01T00:00:00Z\",\"message\":{{\"role\":\"assistant\",\"content\":{}}},\"done\":false}}\n",
        serde_json::to_string(content).unwrap()
    )
}

fn done_line(reason: &str, prompt_eval: Option<u32>, eval: u32) -> String {
    let prompt = prompt_eval
        .map(|n| format!(",\"prompt_eval_count\":{n}"))
        .unwrap_or_default();
    format!(
        "{{\"model\":\"gemma3:270m\",\"message\":{{\"role\":\"assistant\",\"content\":\"\"}},\"done\":true,\"done_reason\":\"{reason}\",\"total_duration\":5{prompt},\"eval_count\":{eval}}}\n"
    )
}

const SHOW: &str = r#"{"details":{"family":"gemma3","parameter_size":"268.10M","quantization_level":"Q4_K_M"},"model_info":{"general.architecture":"gemma3","gemma3.context_length":4096},"capabilities":["completion"]}"#;

/// Answers /api/show with SHOW and /api/chat with `chat`.
async fn daemon(req: Recorded, mut sock: TcpStream, chat: String) {
    match req.path.as_str() {
        "/api/show" => respond(&mut sock, "200 OK", "", "application/json", SHOW.as_bytes()).await,
        "/api/chat" => {
            start_chunked(&mut sock, NDJSON).await;
            let _ = chunk(&mut sock, chat.as_bytes()).await;
            end_chunks(&mut sock).await;
        }
        _ => {
            respond(
                &mut sock,
                "404 Not Found",
                "",
                "text/plain",
                b"404 page not found",
            )
            .await
        }
    }
}

async fn client(server: &LoopbackServer) -> OllamaClient {
    let ep = endpoint("oll", server.url(""), None);
    OllamaClient::new(ep, "gemma3:270m")
        .await
        .unwrap()
        .with_retry_policy(RetryPolicy::never())
}

fn chat_requests(server: &LoopbackServer) -> Vec<Recorded> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/chat")
        .collect()
}

#[tokio::test]
async fn reads_the_profile_and_sends_the_native_request() {
    let body = format!(
        "{}{}{}",
        line("Hel"),
        line("lo"),
        done_line("stop", Some(9), 2)
    );
    let server = LoopbackServer::start(move |req, _, sock| daemon(req, sock, body.clone())).await;
    let client = client(&server)
        .await
        .with_keep_alive(Some(Duration::from_secs(120)));
    assert_eq!(client.profile().model_id, "oll/gemma3:270m");
    assert_eq!(client.profile().context_window, Some(4096));
    assert_eq!(client.profile().tier, ProviderTier::Local);
    let mut req = request("oll/gemma3:270m", Some(16));
    req.stop_sequences = vec!["END".into()];
    req.temperature = 0.5;
    let r = client.completion(req).await.unwrap();
    assert_eq!(r.text, "Hello");
    assert_eq!(r.finish_reason, FinishReason::Stop);
    assert_eq!(
        (r.usage.prompt_tokens, r.usage.completion_tokens),
        (Some(9), Some(2))
    );
    assert!(!r.prompt_truncated);
    let sent = chat_requests(&server)[0].json();
    assert_eq!(sent["model"], "gemma3:270m");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["messages"][0]["content"], "Say hello");
    assert_eq!(sent["options"]["num_predict"], 16);
    assert_eq!(sent["options"]["num_ctx"], 4096);
    assert_eq!(sent["options"]["temperature"], 0.5);
    assert_eq!(sent["options"]["stop"], serde_json::json!(["END"]));
    assert_eq!(sent["keep_alive"], 120);
    assert_eq!(server.requests()[0].header("authorization"), None);
}

#[tokio::test]
async fn lines_split_at_every_byte_and_merged_decode_the_same() {
    let body = format!(
        "{}{}{}",
        line("a"),
        line("é"),
        done_line("length", Some(3), 2)
    );
    let split_body = body.clone();
    let split = LoopbackServer::start(move |req, _, mut sock| {
        let body = split_body.clone();
        async move {
            if req.path == "/api/show" {
                return respond(&mut sock, "200 OK", "", "application/json", SHOW.as_bytes()).await;
            }
            start_chunked(&mut sock, NDJSON).await;
            trickle(&mut sock, body.as_bytes()).await;
            end_chunks(&mut sock).await;
        }
    })
    .await;
    let merged = LoopbackServer::start(move |req, _, sock| daemon(req, sock, body.clone())).await;
    let a = client(&split)
        .await
        .completion(request("oll/gemma3:270m", None))
        .await
        .unwrap();
    let b = client(&merged)
        .await
        .completion(request("oll/gemma3:270m", None))
        .await
        .unwrap();
    assert_eq!(a.text, "aé");
    assert_eq!(a.finish_reason, FinishReason::Length);
    assert_eq!(
        (a.text, a.usage, a.finish_reason),
        (b.text, b.usage, b.finish_reason)
    );
}

#[tokio::test]
async fn an_error_line_mid_stream_ends_the_stream_with_an_error() {
    let body = format!(
        "{}{{\"error\":\"model runner has unexpectedly stopped\"}}\n",
        line("partial")
    );
    let server = LoopbackServer::start(move |req, _, sock| daemon(req, sock, body.clone())).await;
    let items: Vec<_> = client(&server)
        .await
        .completion_stream(request("oll/gemma3:270m", None))
        .await
        .unwrap()
        .collect()
        .await;
    assert!(matches!(items[1], Ok(StreamEvent::Text { .. })));
    assert!(
        matches!(items.last(), Some(Err(LlmError::Provider { status: 200, message })) if message.contains("unexpectedly stopped"))
    );
}

#[tokio::test]
async fn a_server_ignoring_num_predict_is_cut_with_budget_exceeded() {
    let mut body = String::new();
    for _ in 0..20 {
        body.push_str(&line("x"));
    }
    body.push_str(&done_line("stop", Some(4), 20));
    let server = LoopbackServer::start(move |req, _, sock| daemon(req, sock, body.clone())).await;
    let client = client(&server).await;
    let items: Vec<_> = client
        .completion_stream(request("oll/gemma3:270m", Some(5)))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(
        items
            .iter()
            .filter(|i| matches!(i, Ok(StreamEvent::Text { .. })))
            .count(),
        5
    );
    assert!(matches!(
        items.last(),
        Some(Err(LlmError::BudgetExceeded {
            limit: 5,
            observed: 6
        }))
    ));
    // eval_count alone over the limit (few, large chunks) is caught too.
    let body = format!(
        "{}{}",
        line("many tokens in one chunk"),
        done_line("stop", Some(4), 9)
    );
    let server = LoopbackServer::start(move |req, _, sock| daemon(req, sock, body.clone())).await;
    let e = self::client(&server)
        .await
        .completion(request("oll/gemma3:270m", Some(5)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            LlmError::BudgetExceeded {
                limit: 5,
                observed: 9
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn truncation_and_unknown_prompt_counts_are_reported() {
    let body = format!("{}{}", line("x"), done_line("stop", Some(4096), 1));
    let server = LoopbackServer::start(move |req, _, sock| daemon(req, sock, body.clone())).await;
    let r = client(&server)
        .await
        .completion(request("oll/gemma3:270m", None))
        .await
        .unwrap();
    assert!(
        r.prompt_truncated,
        "prompt_eval_count == num_ctx means Ollama cut the prompt"
    );

    let body = format!("{}{}", line("x"), done_line("stop", None, 1));
    let server = LoopbackServer::start(move |req, _, sock| daemon(req, sock, body.clone())).await;
    let r = client(&server)
        .await
        .completion(request("oll/gemma3:270m", None))
        .await
        .unwrap();
    assert_eq!(
        r.usage.prompt_tokens, None,
        "a cached prompt has no prompt_eval_count: unknown, not 0"
    );
    assert!(!r.prompt_truncated);
}

#[tokio::test]
async fn a_stream_without_its_done_line_is_malformed() {
    let body = line("a");
    let server = LoopbackServer::start(move |req, _, sock| daemon(req, sock, body.clone())).await;
    let e = client(&server)
        .await
        .completion(request("oll/gemma3:270m", None))
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::MalformedResponse { .. }), "{e:?}");
}

#[tokio::test]
async fn an_unknown_model_is_model_not_found_at_construction() {
    let server = LoopbackServer::start(|_, _, mut sock| async move {
        respond(
            &mut sock,
            "404 Not Found",
            "",
            "application/json",
            br#"{"error":"model \"nope:1b\" not found, try pulling it first"}"#,
        )
        .await;
    })
    .await;
    let ep = endpoint("oll", server.url(""), None);
    let e = OllamaClient::new(ep, "nope:1b").await.unwrap_err();
    assert!(
        matches!(e, LlmError::ModelNotFound { ref model } if model == "oll/nope:1b"),
        "{e:?}"
    );
}

#[tokio::test]
async fn load_and_unload_send_what_ollama_expects() {
    let server = LoopbackServer::start(|req, _, mut sock| async move {
        let body = req.json();
        let reason = if body["keep_alive"] == 0 { "unload" } else { "load" };
        let answer = format!("{{\"model\":\"gemma3:270m\",\"created_at\":\"x\",\"response\":\"\",\"done\":true,\"done_reason\":\"{reason}\"}}");
        respond(&mut sock, "200 OK", "", "application/json", answer.as_bytes()).await;
    })
    .await;
    let ep = endpoint("oll", server.url("/"), None);
    let client = OllamaClient::with_context_length(ep, "gemma3:270m", Some(2048))
        .unwrap()
        .with_keep_alive(Some(Duration::from_secs(600)));
    client.load().await.unwrap();
    client.unload().await.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs.iter().all(|r| r.path == "/api/generate"));
    let (load, unload) = (reqs[0].json(), reqs[1].json());
    assert!(
        load.get("prompt").is_none(),
        "an empty prompt loads the model"
    );
    assert_eq!(load["keep_alive"], 600);
    assert_eq!(load["stream"], true);
    assert_eq!(unload["keep_alive"], 0);
}

#[tokio::test]
async fn cloud_tagged_models_are_cloud_tier_and_unreachable_without_the_gate() {
    let server = LoopbackServer::start(|_, _, mut sock| async move {
        respond(
            &mut sock,
            "503 Service Unavailable",
            "",
            "application/json",
            br#"{"error":"busy"}"#,
        )
        .await;
    })
    .await;
    let ep = endpoint("oll", server.url(""), None);
    let fast = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    };
    let cloud = OllamaClient::with_context_length(ep.clone(), "gpt-oss:120b-cloud", None)
        .unwrap()
        .with_retry_policy(fast);
    assert_eq!(cloud.profile().tier, ProviderTier::Cloud);
    // Called directly, outside the consent gate, a cloud model is refused before any byte leaves.
    let refused = cloud
        .completion(request("oll/gpt-oss:120b-cloud", None))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, LlmError::ConsentRequired { .. }),
        "{refused:?}"
    );
    assert_eq!(
        server.requests().len(),
        0,
        "an ungated cloud model reached the daemon"
    );
    let local = OllamaClient::with_context_length(ep, "gemma3:270m", None)
        .unwrap()
        .with_retry_policy(fast);
    assert_eq!(local.profile().tier, ProviderTier::Local);
    let e = local
        .completion(request("oll/gemma3:270m", None))
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::Provider { status: 503, .. }));
    assert_eq!(
        server.requests().len(),
        3,
        "a local call is tried three times"
    );
    let sent = server.requests()[2].json();
    assert!(
        sent["options"].get("num_ctx").is_none(),
        "unknown context length: the daemon's default"
    );
}

#[tokio::test]
async fn list_models_reads_tags() {
    let server = LoopbackServer::start(|_, _, mut sock| async move {
        respond(&mut sock, "200 OK", "", "application/json", br#"{"models":[{"name":"gemma3:270m","model":"gemma3:270m"},{"name":"gemma3:270m-alt"}]}"#).await;
    })
    .await;
    let ep = endpoint("oll", server.url(""), Some("ollama-key"));
    let client = OllamaClient::with_context_length(ep, "gemma3:270m", None).unwrap();
    assert_eq!(
        client.list_models().await.unwrap(),
        vec!["gemma3:270m", "gemma3:270m-alt"]
    );
    let req = &server.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("GET", "/api/tags")
    );
    assert_eq!(req.header("authorization"), Some("Bearer ollama-key"));
}

#[tokio::test]
async fn crlf_line_ends_and_a_byte_order_mark_are_accepted() {
    let body = format!(
        "\u{feff}{}{}",
        line("Hel").replace('\n', "\r\n"),
        done_line("stop", Some(3), 1).replace('\n', "\r\n")
    );
    let server = LoopbackServer::start(move |req, _, sock| daemon(req, sock, body.clone())).await;
    let response = client(&server)
        .await
        .completion(request("oll/gemma3:270m", Some(8)))
        .await
        .unwrap();
    assert_eq!(response.text, "Hel");
    assert_eq!(response.finish_reason, FinishReason::Stop);
}

#[tokio::test]
async fn an_answer_cut_mid_body_is_interrupted_not_unreachable() {
    let server = LoopbackServer::start(|req, _, mut sock| async move {
        if req.path == "/api/show" {
            respond(&mut sock, "200 OK", "", "application/json", SHOW.as_bytes()).await;
            return;
        }
        start_chunked(&mut sock, NDJSON).await;
        let _ = chunk(&mut sock, line("a").as_bytes()).await;
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut sock).await;
    })
    .await;
    let error = client(&server)
        .await
        .completion(request("oll/gemma3:270m", None))
        .await
        .unwrap_err();
    assert!(matches!(error, LlmError::Interrupted { .. }), "{error:?}");
    assert!(error.is_retryable());
    // Never reached at all: unreachable, as before.
    let nobody = endpoint("oll", url::Url::parse("http://127.0.0.1:9").unwrap(), None);
    let error = OllamaClient::with_context_length(nobody, "gemma3:270m", None)
        .unwrap()
        .with_retry_policy(RetryPolicy::never())
        .completion(request("oll/gemma3:270m", None))
        .await
        .unwrap_err();
    assert!(matches!(error, LlmError::Unreachable { .. }), "{error:?}");
}

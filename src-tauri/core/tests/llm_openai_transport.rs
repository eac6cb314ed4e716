//! Transport tests of `OpenAiCompatClient` against loopback servers that speak SSE exactly, and
//! misbehave on purpose: split and merged events, comments, error bodies, stalls, a server that
//! ignores max_tokens, one that sends 100 MB, one that closes early.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod support;

use std::time::Duration;

use futures::StreamExt;
use handshake_core::llm::{FinishReason, LlmClient, LlmError, OpenAiCompatClient, StreamEvent};
use handshake_core::registry::{MaxTokensField, OpenAiCompatOptions};
use support::sse::*;
use support::*;

#[tokio::test]
async fn completes_and_sends_the_expected_request_keyless() {
    let server = LoopbackServer::start(|_, _, sock| serve_sse(sock, good_stream())).await;
    let client = client_for(&server, "/v1", None);
    let r = client.completion(request("oai/m1", Some(8))).await.unwrap();
    assert_eq!(r.text, "Hello");
    assert_eq!(r.finish_reason, FinishReason::Stop);
    assert_eq!(r.usage.prompt_tokens, Some(5));
    assert_eq!(r.usage.completion_tokens, Some(2));
    assert_eq!(r.model_id, "oai/m1");
    assert!(r.time_to_first_token_ms.is_some());
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(
        reqs[0].header("authorization"),
        None,
        "keyless servers get no Authorization header"
    );
    let body = reqs[0].json();
    assert_eq!(body["model"], "m1");
    assert_eq!(body["max_tokens"], 8);
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn keyed_calls_send_bearer_and_extra_headers_with_trailing_slash_base() {
    let server = LoopbackServer::start(|_, _, sock| serve_sse(sock, good_stream())).await;
    let mut ep = endpoint("oai", server.url("/v1/"), Some("sk-secret-123"));
    ep.extra_headers = vec![("x-team".into(), secrecy::SecretString::from("blue"))];
    ep.openai = OpenAiCompatOptions {
        max_tokens_field: MaxTokensField::MaxCompletionTokens,
        stream_include_usage: false,
    };
    let client = OpenAiCompatClient::new(ep, "m1").unwrap();
    assert!(
        !format!("{client:?}").contains("sk-secret-123"),
        "the key must not show in Debug"
    );
    client.completion(request("oai/m1", Some(4))).await.unwrap();
    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1/chat/completions");
    assert_eq!(req.header("authorization"), Some("Bearer sk-secret-123"));
    assert_eq!(req.header("x-team"), Some("blue"));
    let body = req.json();
    assert_eq!(body["max_completion_tokens"], 4);
    assert!(body.get("max_tokens").is_none() && body.get("stream_options").is_none());
}

#[tokio::test]
async fn events_split_at_every_byte_and_merged_in_one_read_decode_the_same() {
    let split = LoopbackServer::start(|_, _, mut sock| async move {
        start_chunked(&mut sock, SSE).await;
        trickle(&mut sock, good_stream().replace("\n", "\r\n").as_bytes()).await;
        end_chunks(&mut sock).await;
    })
    .await;
    let merged = LoopbackServer::start(|_, _, sock| serve_sse(sock, good_stream())).await;
    let a = client_for(&split, "/v1", None)
        .completion(request("oai/m1", None))
        .await
        .unwrap();
    let b = client_for(&merged, "/v1", None)
        .completion(request("oai/m1", None))
        .await
        .unwrap();
    assert_eq!(a.text, "Hello");
    assert_eq!(
        (a.text, a.usage, a.finish_reason),
        (b.text, b.usage, b.finish_reason)
    );
}

#[tokio::test]
async fn stream_yields_events_in_order() {
    let server = LoopbackServer::start(|_, _, sock| serve_sse(sock, good_stream())).await;
    let client = client_for(&server, "/v1", None);
    let events: Vec<_> = client
        .completion_stream(request("oai/m1", None))
        .await
        .unwrap()
        .collect()
        .await;
    let events: Vec<StreamEvent> = events.into_iter().map(Result::unwrap).collect();
    assert!(matches!(events.first(), Some(StreamEvent::Started { .. })));
    assert!(matches!(
        events.last(),
        Some(StreamEvent::Finished {
            finish_reason: FinishReason::Stop,
            ..
        })
    ));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, StreamEvent::Text { .. }))
            .count(),
        2
    );
}

async fn error_for(status: &'static str, headers: &'static str, body: &'static str) -> LlmError {
    let server = LoopbackServer::start(move |_, _, mut sock| async move {
        respond(
            &mut sock,
            status,
            headers,
            "application/json",
            body.as_bytes(),
        )
        .await;
    })
    .await;
    client_for(
        &server,
        "/v1",
        Some("sk-live-abcdefghijklmnopqrstuvwxyz123456"),
    )
    .completion(request("oai/m1", None))
    .await
    .unwrap_err()
}

#[tokio::test]
async fn http_errors_map_to_actionable_variants_without_leaking_bodies() {
    let e = error_for("401 Unauthorized", "", r#"{"error":{"message":"Incorrect API key provided: sk-live-abcdefghijklmnopqrstuvwxyz123456"}}"#).await;
    assert!(matches!(e, LlmError::Unauthorized), "{e:?}");
    let e = error_for("404 Not Found", "", "").await;
    assert!(
        matches!(e, LlmError::ModelNotFound { ref model } if model == "oai/m1"),
        "{e:?}"
    );
    let e = error_for(
        "429 Too Many Requests",
        "Retry-After: 7\r\n",
        r#"{"error":{"message":"slow down"}}"#,
    )
    .await;
    assert!(
        matches!(e, LlmError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(7)),
        "{e:?}"
    );
    let e = error_for("429 Too Many Requests", "", "").await;
    assert!(
        matches!(e, LlmError::RateLimited { retry_after: None }),
        "{e:?}"
    );
    let e = error_for(
        "500 Internal Server Error",
        "",
        r#"{"error":{"message":"boom with key sk-live-abcdefghijklmnopqrstuvwxyz123456"}}"#,
    )
    .await;
    match &e {
        LlmError::Provider {
            status: 500,
            message,
        } => {
            assert!(
                message.contains("boom") && !message.contains("sk-live"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let e = error_for(
        "500 Internal Server Error",
        "",
        "<html>echo: Authorization: Bearer sk-live-x</html>",
    )
    .await;
    assert!(
        matches!(e, LlmError::Provider { status: 500, ref message } if !message.contains("sk-live")),
        "{e:?}"
    );
    let e = error_for(
        "400 Bad Request",
        "",
        r#"{"error":{"message":"This model's maximum context length is 2048 tokens"}}"#,
    )
    .await;
    assert!(matches!(e, LlmError::ContextTooLong { .. }), "{e:?}");
}

#[tokio::test]
async fn an_error_object_inside_a_200_stream_is_an_error() {
    let body = format!(
        "{}data: {{\"error\":{{\"message\":\"upstream overloaded\"}}}}\n\n",
        event("a", None)
    );
    let server = LoopbackServer::start(move |_, _, sock| serve_sse(sock, body.clone())).await;
    let e = client_for(&server, "/v1", None)
        .completion(request("oai/m1", None))
        .await
        .unwrap_err();
    assert!(
        matches!(e, LlmError::Provider { status: 200, ref message } if message == "upstream overloaded"),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_server_ignoring_max_tokens_is_cut_at_the_limit() {
    let server = LoopbackServer::start(|_, _, mut sock| async move {
        start_chunked(&mut sock, SSE).await;
        for _ in 0..50 {
            if chunk(&mut sock, event("tok", None).as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = chunk(&mut sock, event("", Some("stop")).as_bytes()).await;
        end_chunks(&mut sock).await;
    })
    .await;
    let client = client_for(&server, "/v1", None);
    let items: Vec<_> = client
        .completion_stream(request("oai/m1", Some(3)))
        .await
        .unwrap()
        .collect()
        .await;
    let texts = items
        .iter()
        .filter(|i| matches!(i, Ok(StreamEvent::Text { .. })))
        .count();
    assert_eq!(texts, 3, "exactly max_tokens chunks reach the caller");
    assert!(
        matches!(
            items.last(),
            Some(Err(LlmError::BudgetExceeded {
                limit: 3,
                observed: 4
            }))
        ),
        "{:?}",
        items.last()
    );
    let e = client
        .completion(request("oai/m1", Some(3)))
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::BudgetExceeded { limit: 3, .. }));
}

#[tokio::test]
async fn reported_usage_over_the_limit_is_budget_exceeded() {
    let body = format!(
        "{}data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":1,\"completion_tokens\":40}}}}\n\ndata: [DONE]\n\n",
        event("one big chunk", Some("stop"))
    );
    let server = LoopbackServer::start(move |_, _, sock| serve_sse(sock, body.clone())).await;
    let e = client_for(&server, "/v1", None)
        .completion(request("oai/m1", Some(5)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            LlmError::BudgetExceeded {
                limit: 5,
                observed: 40
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn invalid_requests_are_rejected_before_any_io() {
    let server = LoopbackServer::start(|_, _, sock| serve_sse(sock, good_stream())).await;
    let client = client_for(&server, "/v1", None);
    let nil = handshake_core::llm::CompletionRequest {
        trace_id: uuid::Uuid::nil(),
        ..request("oai/m1", None)
    };
    assert!(matches!(
        client.completion(nil).await,
        Err(LlmError::InvalidRequest { .. })
    ));
    assert!(matches!(
        client.completion(request("other/m1", None)).await,
        Err(LlmError::InvalidRequest { .. })
    ));
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn model_lists_in_three_shapes() {
    for body in [
        r#"{"object":"list","data":[{"id":"m1"},{"id":"m2"}]}"#,
        r#"[{"id":"m1"},{"id":"m2"}]"#,
        r#"{"models":[{"name":"m1"},{"name":"m2"}]}"#,
    ] {
        let server = LoopbackServer::start(move |_, _, mut sock| async move {
            respond(&mut sock, "200 OK", "", "application/json", body.as_bytes()).await;
        })
        .await;
        let models = client_for(&server, "/v1", None)
            .list_models()
            .await
            .unwrap();
        assert_eq!(models, vec!["m1", "m2"]);
        assert_eq!(server.requests()[0].path, "/v1/models");
    }
}

#[tokio::test]
async fn crlf_line_ends_a_byte_order_mark_and_odd_finish_reasons_are_consistent() {
    let body = format!("\u{feff}{}", good_stream().replace('\n', "\r\n"));
    let server = LoopbackServer::start(move |_, _, sock| serve_sse(sock, body.clone())).await;
    let r = client_for(&server, "/v1", None)
        .completion(request("oai/m1", Some(8)))
        .await
        .unwrap();
    assert_eq!(r.text, "Hello");
    assert_eq!(r.finish_reason, FinishReason::Stop);

    // A server that ends with finish_reason "" and [DONE]: not reported as a clean stop.
    let odd = format!(
        "{}{}data: [DONE]\n\n",
        event("Hi", None),
        event("", Some(""))
    );
    let server = LoopbackServer::start(move |_, _, sock| serve_sse(sock, odd.clone())).await;
    let r = client_for(&server, "/v1", None)
        .completion(request("oai/m1", Some(8)))
        .await
        .unwrap();
    assert_eq!(r.finish_reason, FinishReason::Other);
}

//! Transport tests of `OpenAiCompatClient` against loopback servers that speak SSE exactly, and
//! misbehave on purpose: split and merged events, comments, error bodies, stalls, a server that
//! ignores max_tokens, one that sends 100 MB, one that closes early.

mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use handshake_core::llm::{FinishReason, LlmClient, LlmError, OpenAiCompatClient, RetryPolicy, StreamEvent, TimeoutPhase};
use handshake_core::registry::{MaxTokensField, OpenAiCompatOptions, ProviderKind, ProviderTier};
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const SSE: &str = "text/event-stream";

fn event(content: &str, finish: Option<&str>) -> String {
    let finish = finish.map(|f| format!("\"{f}\"")).unwrap_or_else(|| "null".into());
    format!(
        "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{}}},\"finish_reason\":{finish}}}]}}\n\n",
        serde_json::to_string(content).unwrap()
    )
}

fn good_stream() -> String {
    let mut s = String::new();
    s.push_str(": PROCESSING\n\n");
    s.push_str(&event("Hel", None));
    s.push_str(&event("lo", None));
    s.push_str(&event("", Some("stop")));
    s.push_str("data: {\"id\":\"c\",\"model\":\"m1\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n");
    s.push_str("data: [DONE]\n\n");
    s
}

async fn serve_sse(mut sock: TcpStream, body: String) {
    start_chunked(&mut sock, SSE).await;
    let _ = chunk(&mut sock, body.as_bytes()).await;
    end_chunks(&mut sock).await;
}

fn client_for(server: &LoopbackServer, base: &str, key: Option<&str>) -> OpenAiCompatClient {
    let ep = endpoint(ProviderKind::OpenaiCompat, "oai", server.url(base), key);
    OpenAiCompatClient::new(ep, "m1").unwrap().with_retry_policy(RetryPolicy::never())
}

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
    assert_eq!(reqs[0].header("authorization"), None, "keyless servers get no Authorization header");
    let body = reqs[0].json();
    assert_eq!(body["model"], "m1");
    assert_eq!(body["max_tokens"], 8);
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn keyed_calls_send_bearer_and_extra_headers_with_trailing_slash_base() {
    let server = LoopbackServer::start(|_, _, sock| serve_sse(sock, good_stream())).await;
    let mut ep = endpoint(ProviderKind::OpenaiCompat, "oai", server.url("/v1/"), Some("sk-secret-123"));
    ep.extra_headers = vec![("x-team".into(), secrecy::SecretString::from("blue"))];
    ep.openai = OpenAiCompatOptions { max_tokens_field: MaxTokensField::MaxCompletionTokens, stream_include_usage: false };
    let client = OpenAiCompatClient::new(ep, "m1").unwrap();
    assert!(!format!("{client:?}").contains("sk-secret-123"), "the key must not show in Debug");
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
    let a = client_for(&split, "/v1", None).completion(request("oai/m1", None)).await.unwrap();
    let b = client_for(&merged, "/v1", None).completion(request("oai/m1", None)).await.unwrap();
    assert_eq!(a.text, "Hello");
    assert_eq!((a.text, a.usage, a.finish_reason), (b.text, b.usage, b.finish_reason));
}

#[tokio::test]
async fn stream_yields_events_in_order() {
    let server = LoopbackServer::start(|_, _, sock| serve_sse(sock, good_stream())).await;
    let client = client_for(&server, "/v1", None);
    let events: Vec<_> = client.completion_stream(request("oai/m1", None)).await.unwrap().collect().await;
    let events: Vec<StreamEvent> = events.into_iter().map(Result::unwrap).collect();
    assert!(matches!(events.first(), Some(StreamEvent::Started { .. })));
    assert!(matches!(events.last(), Some(StreamEvent::Finished { finish_reason: FinishReason::Stop, .. })));
    assert_eq!(events.iter().filter(|e| matches!(e, StreamEvent::Text { .. })).count(), 2);
}

async fn error_for(status: &'static str, headers: &'static str, body: &'static str) -> LlmError {
    let server = LoopbackServer::start(move |_, _, mut sock| async move {
        respond(&mut sock, status, headers, "application/json", body.as_bytes()).await;
    })
    .await;
    client_for(&server, "/v1", Some("sk-live-abcdefghijklmnopqrstuvwxyz123456")).completion(request("oai/m1", None)).await.unwrap_err()
}

#[tokio::test]
async fn http_errors_map_to_actionable_variants_without_leaking_bodies() {
    let e = error_for("401 Unauthorized", "", r#"{"error":{"message":"Incorrect API key provided: sk-live-abcdefghijklmnopqrstuvwxyz123456"}}"#).await;
    assert!(matches!(e, LlmError::Unauthorized), "{e:?}");
    let e = error_for("404 Not Found", "", "").await;
    assert!(matches!(e, LlmError::ModelNotFound { ref model } if model == "oai/m1"), "{e:?}");
    let e = error_for("429 Too Many Requests", "Retry-After: 7\r\n", r#"{"error":{"message":"slow down"}}"#).await;
    assert!(matches!(e, LlmError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(7)), "{e:?}");
    let e = error_for("429 Too Many Requests", "", "").await;
    assert!(matches!(e, LlmError::RateLimited { retry_after: None }), "{e:?}");
    let e = error_for("500 Internal Server Error", "", r#"{"error":{"message":"boom with key sk-live-abcdefghijklmnopqrstuvwxyz123456"}}"#).await;
    match &e {
        LlmError::Provider { status: 500, message } => {
            assert!(message.contains("boom") && !message.contains("sk-live"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let e = error_for("500 Internal Server Error", "", "<html>echo: Authorization: Bearer sk-live-x</html>").await;
    assert!(matches!(e, LlmError::Provider { status: 500, ref message } if !message.contains("sk-live")), "{e:?}");
    let e = error_for("400 Bad Request", "", r#"{"error":{"message":"This model's maximum context length is 2048 tokens"}}"#).await;
    assert!(matches!(e, LlmError::ContextTooLong { .. }), "{e:?}");
}

#[tokio::test]
async fn an_error_object_inside_a_200_stream_is_an_error() {
    let body = format!("{}data: {{\"error\":{{\"message\":\"upstream overloaded\"}}}}\n\n", event("a", None));
    let server = LoopbackServer::start(move |_, _, sock| serve_sse(sock, body.clone())).await;
    let e = client_for(&server, "/v1", None).completion(request("oai/m1", None)).await.unwrap_err();
    assert!(matches!(e, LlmError::Provider { status: 200, ref message } if message == "upstream overloaded"), "{e:?}");
}

#[tokio::test]
async fn a_server_ignoring_max_tokens_is_cut_at_the_limit() {
    let server = LoopbackServer::start(|_, _, mut sock| async move {
        start_chunked(&mut sock, SSE).await;
        for _ in 0..50 {
            if chunk(&mut sock, event("tok", None).as_bytes()).await.is_err() {
                return;
            }
        }
        let _ = chunk(&mut sock, event("", Some("stop")).as_bytes()).await;
        end_chunks(&mut sock).await;
    })
    .await;
    let client = client_for(&server, "/v1", None);
    let items: Vec<_> = client.completion_stream(request("oai/m1", Some(3))).await.unwrap().collect().await;
    let texts = items.iter().filter(|i| matches!(i, Ok(StreamEvent::Text { .. }))).count();
    assert_eq!(texts, 3, "exactly max_tokens chunks reach the caller");
    assert!(matches!(items.last(), Some(Err(LlmError::BudgetExceeded { limit: 3, observed: 4 }))), "{:?}", items.last());
    let e = client.completion(request("oai/m1", Some(3))).await.unwrap_err();
    assert!(matches!(e, LlmError::BudgetExceeded { limit: 3, .. }));
}

#[tokio::test]
async fn reported_usage_over_the_limit_is_budget_exceeded() {
    let body = format!(
        "{}data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":1,\"completion_tokens\":40}}}}\n\ndata: [DONE]\n\n",
        event("one big chunk", Some("stop"))
    );
    let server = LoopbackServer::start(move |_, _, sock| serve_sse(sock, body.clone())).await;
    let e = client_for(&server, "/v1", None).completion(request("oai/m1", Some(5))).await.unwrap_err();
    assert!(matches!(e, LlmError::BudgetExceeded { limit: 5, observed: 40 }), "{e:?}");
}

#[tokio::test]
async fn a_stall_mid_stream_is_an_idle_timeout() {
    let server = LoopbackServer::start(|_, _, mut sock| async move {
        start_chunked(&mut sock, SSE).await;
        let _ = chunk(&mut sock, event("a", None).as_bytes()).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let started = Instant::now();
    let e = client_for(&server, "/v1", None).completion(request("oai/m1", None)).await.unwrap_err();
    assert!(matches!(e, LlmError::Timeout { phase: TimeoutPhase::Idle }), "{e:?}");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn no_headers_is_a_first_byte_timeout_and_trickling_hits_the_total() {
    let silent = LoopbackServer::start(|_, _, sock| async move {
        let _open = sock; // hold the connection open, say nothing
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;
    let mut ep = endpoint(ProviderKind::OpenaiCompat, "oai", silent.url("/v1"), None);
    ep.timeouts.first_byte_ms = 300;
    let e = OpenAiCompatClient::new(ep, "m1").unwrap().with_retry_policy(RetryPolicy::never()).completion(request("oai/m1", None)).await.unwrap_err();
    assert!(matches!(e, LlmError::Timeout { phase: TimeoutPhase::FirstByte }), "{e:?}");

    // A comment every 50 ms keeps the idle timer happy forever; only the total deadline stops it.
    let trickler = LoopbackServer::start(|_, _, mut sock| async move {
        start_chunked(&mut sock, SSE).await;
        for _ in 0..200 {
            if chunk(&mut sock, b": keep-alive\n\n").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let mut ep = endpoint(ProviderKind::OpenaiCompat, "oai", trickler.url("/v1"), None);
    ep.timeouts.total_ms = 600;
    let started = Instant::now();
    let e = OpenAiCompatClient::new(ep, "m1").unwrap().completion(request("oai/m1", None)).await.unwrap_err();
    assert!(matches!(e, LlmError::Timeout { phase: TimeoutPhase::Total }), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_100_mb_body_is_cut_as_too_large() {
    let server = LoopbackServer::start(|_, _, mut sock| async move {
        start_chunked(&mut sock, SSE).await;
        let block = vec![b'x'; 1 << 20];
        let _ = chunk(&mut sock, b": ").await;
        for _ in 0..100 {
            if chunk(&mut sock, &block).await.is_err() {
                return;
            }
        }
        end_chunks(&mut sock).await;
    })
    .await;
    let e = client_for(&server, "/v1", None).completion(request("oai/m1", None)).await.unwrap_err();
    assert!(matches!(e, LlmError::MalformedResponse { ref what } if what.contains("too large")), "{e:?}");
}

#[tokio::test]
async fn early_closes_are_errors() {
    // Chunked body cut mid-way: the transport sees an incomplete message.
    let cut = LoopbackServer::start(|_, _, mut sock| async move {
        start_chunked(&mut sock, SSE).await;
        let _ = chunk(&mut sock, event("a", None).as_bytes()).await;
        let _ = sock.shutdown().await;
    })
    .await;
    let e = client_for(&cut, "/v1", None).completion(request("oai/m1", None)).await.unwrap_err();
    assert!(matches!(e, LlmError::Unreachable { .. }), "{e:?}");
    // A complete body that never finished the answer (no finish reason, no [DONE]).
    let unfinished = LoopbackServer::start(|_, _, sock| serve_sse(sock, event("a", None))).await;
    let e = client_for(&unfinished, "/v1", None).completion(request("oai/m1", None)).await.unwrap_err();
    assert!(matches!(e, LlmError::MalformedResponse { .. }), "{e:?}");
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let (tx, rx) = tokio::sync::oneshot::channel::<bool>();
    let tx = std::sync::Mutex::new(Some(tx));
    let server = LoopbackServer::start(move |_, _, mut sock| {
        let tx = tx.lock().unwrap().take();
        async move {
            start_chunked(&mut sock, SSE).await;
            let _ = chunk(&mut sock, event("first", None).as_bytes()).await;
            let closed = wait_for_close(&mut sock, Duration::from_secs(5)).await;
            if let Some(tx) = tx {
                let _ = tx.send(closed);
            }
        }
    })
    .await;
    let client = client_for(&server, "/v1", None);
    let mut stream = client.completion_stream(request("oai/m1", None)).await.unwrap();
    assert!(matches!(stream.next().await, Some(Ok(StreamEvent::Started { .. }))));
    assert!(matches!(stream.next().await, Some(Ok(StreamEvent::Text { .. }))));
    drop(stream);
    let closed = tokio::time::timeout(Duration::from_secs(6), rx).await.unwrap().unwrap();
    assert!(closed, "the server saw the connection closed after the stream was dropped");
}

#[tokio::test]
async fn retries_before_output_for_local_and_never_for_cloud() {
    let flaky = |_, index: usize, mut sock: TcpStream| async move {
        if index < 2 {
            respond(&mut sock, "503 Service Unavailable", "", "application/json", br#"{"error":{"message":"loading"}}"#).await;
        } else {
            serve_sse(sock, good_stream()).await;
        }
    };
    let server = LoopbackServer::start(flaky).await;
    let ep = endpoint(ProviderKind::OpenaiCompat, "oai", server.url("/v1"), None);
    let fast = RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(10), ..RetryPolicy::default() };
    let r = OpenAiCompatClient::new(ep, "m1").unwrap().with_retry_policy(fast).completion(request("oai/m1", None)).await.unwrap();
    assert_eq!(r.text, "Hello");
    assert_eq!(server.requests().len(), 3);

    let cloud_server = LoopbackServer::start(flaky).await;
    let mut ep = endpoint(ProviderKind::OpenaiCompat, "oai", cloud_server.url("/v1"), None);
    ep.tier = ProviderTier::Cloud;
    let e = OpenAiCompatClient::new(ep, "m1").unwrap().with_retry_policy(fast).completion(request("oai/m1", None)).await.unwrap_err();
    assert!(matches!(e, LlmError::Provider { status: 503, .. }), "{e:?}");
    assert_eq!(cloud_server.requests().len(), 1, "a cloud payload is never re-sent");

    // Retry-After is honoured: the second attempt waits at least that long.
    let limited = LoopbackServer::start(|_, index, mut sock| async move {
        if index == 0 {
            respond(&mut sock, "429 Too Many Requests", "Retry-After: 1\r\n", "application/json", b"{}").await;
        } else {
            serve_sse(sock, good_stream()).await;
        }
    })
    .await;
    let ep = endpoint(ProviderKind::OpenaiCompat, "oai", limited.url("/v1"), None);
    let started = Instant::now();
    OpenAiCompatClient::new(ep, "m1").unwrap().with_retry_policy(fast).completion(request("oai/m1", None)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(limited.requests().len(), 2);

    // Not retryable: one request only.
    let unauthorized = LoopbackServer::start(|_, _, mut sock| async move {
        respond(&mut sock, "401 Unauthorized", "", "application/json", b"{}").await;
    })
    .await;
    let ep = endpoint(ProviderKind::OpenaiCompat, "oai", unauthorized.url("/v1"), None);
    let _ = OpenAiCompatClient::new(ep, "m1").unwrap().with_retry_policy(fast).completion(request("oai/m1", None)).await;
    assert_eq!(unauthorized.requests().len(), 1);
}

#[tokio::test]
async fn invalid_requests_are_rejected_before_any_io() {
    let server = LoopbackServer::start(|_, _, sock| serve_sse(sock, good_stream())).await;
    let client = client_for(&server, "/v1", None);
    let nil = handshake_core::llm::CompletionRequest { trace_id: uuid::Uuid::nil(), ..request("oai/m1", None) };
    assert!(matches!(client.completion(nil).await, Err(LlmError::InvalidRequest { .. })));
    assert!(matches!(client.completion(request("other/m1", None)).await, Err(LlmError::InvalidRequest { .. })));
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn model_lists_in_three_shapes() {
    for body in [r#"{"object":"list","data":[{"id":"m1"},{"id":"m2"}]}"#, r#"[{"id":"m1"},{"id":"m2"}]"#, r#"{"models":[{"name":"m1"},{"name":"m2"}]}"#] {
        let server = LoopbackServer::start(move |_, _, mut sock| async move {
            respond(&mut sock, "200 OK", "", "application/json", body.as_bytes()).await;
        })
        .await;
        let models = client_for(&server, "/v1", None).list_models().await.unwrap();
        assert_eq!(models, vec!["m1", "m2"]);
        assert_eq!(server.requests()[0].path, "/v1/models");
    }
}

#[tokio::test]
async fn connection_refused_is_unreachable_and_egress_denials_are_recognised() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let ep = endpoint(ProviderKind::OpenaiCompat, "oai", url::Url::parse(&format!("http://{addr}/v1")).unwrap(), None);
    let e = OpenAiCompatClient::new(ep, "m1").unwrap().with_retry_policy(RetryPolicy::never()).completion(request("oai/m1", None)).await.unwrap_err();
    assert!(matches!(e, LlmError::Unreachable { ref reason } if !reason.contains(&addr.to_string())), "{e:?}");

    let mut ep = endpoint(ProviderKind::OpenaiCompat, "oai", url::Url::parse("http://denied.invalid/v1").unwrap(), None);
    ep.http = reqwest::Client::builder().no_proxy().dns_resolver(std::sync::Arc::new(DenyAll)).build().unwrap();
    let e = OpenAiCompatClient::new(ep, "m1").unwrap().completion(request("oai/m1", None)).await.unwrap_err();
    assert!(matches!(e, LlmError::EgressDenied(_)), "{e:?}");
}

/// A resolver that refuses every name the way the egress policy does.
struct DenyAll;

impl reqwest::dns::Resolve for DenyAll {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async {
            let denied = handshake_core::egress::EgressDenied {
                rule: handshake_core::egress::EgressRule::Metadata,
                target: "169.254.169.254".into(),
            };
            Err(Box::new(denied) as Box<dyn std::error::Error + Send + Sync>)
        })
    }
}

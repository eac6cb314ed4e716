//! Robustness tests of `OpenAiCompatClient` on loopback servers that misbehave: stalls, trickles,
//! 100 MB bodies, early closes, dropped streams, flaky statuses (retries), refused connections
//! and egress denials.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use handshake_core::llm::{
    LlmClient, LlmError, OpenAiCompatClient, RetryPolicy, StreamEvent, TimeoutPhase,
};
use handshake_core::registry::ProviderTier;
use support::sse::*;
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn a_stall_mid_stream_is_an_idle_timeout() {
    let server = LoopbackServer::start(|_, _, mut sock| async move {
        start_chunked(&mut sock, SSE).await;
        let _ = chunk(&mut sock, event("a", None).as_bytes()).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let started = Instant::now();
    let e = client_for(&server, "/v1", None)
        .completion(request("oai/m1", None))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            LlmError::Timeout {
                phase: TimeoutPhase::Idle
            }
        ),
        "{e:?}"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn no_headers_is_a_first_byte_timeout_and_trickling_hits_the_total() {
    let silent = LoopbackServer::start(|_, _, sock| async move {
        let _open = sock; // hold the connection open, say nothing
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;
    let mut ep = endpoint("oai", silent.url("/v1"), None);
    ep.timeouts.first_byte_ms = 300;
    let e = OpenAiCompatClient::new(ep, "m1")
        .unwrap()
        .with_retry_policy(RetryPolicy::never())
        .completion(request("oai/m1", None))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            LlmError::Timeout {
                phase: TimeoutPhase::FirstByte
            }
        ),
        "{e:?}"
    );

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
    let mut ep = endpoint("oai", trickler.url("/v1"), None);
    ep.timeouts.total_ms = 600;
    let started = Instant::now();
    let e = OpenAiCompatClient::new(ep, "m1")
        .unwrap()
        .completion(request("oai/m1", None))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            LlmError::Timeout {
                phase: TimeoutPhase::Total
            }
        ),
        "{e:?}"
    );
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
    let e = client_for(&server, "/v1", None)
        .completion(request("oai/m1", None))
        .await
        .unwrap_err();
    assert!(
        matches!(e, LlmError::MalformedResponse { ref what } if what.contains("too large")),
        "{e:?}"
    );
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
    let e = client_for(&cut, "/v1", None)
        .completion(request("oai/m1", None))
        .await
        .unwrap_err();
    // The server was reached and began to answer: interrupted, not unreachable.
    assert!(matches!(e, LlmError::Interrupted { .. }), "{e:?}");
    assert_eq!(e.kind(), "interrupted");
    // A complete body that never finished the answer (no finish reason, no [DONE]).
    let unfinished = LoopbackServer::start(|_, _, sock| serve_sse(sock, event("a", None))).await;
    let e = client_for(&unfinished, "/v1", None)
        .completion(request("oai/m1", None))
        .await
        .unwrap_err();
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
    let mut stream = client
        .completion_stream(request("oai/m1", None))
        .await
        .unwrap();
    assert!(matches!(
        stream.next().await,
        Some(Ok(StreamEvent::Started { .. }))
    ));
    assert!(matches!(
        stream.next().await,
        Some(Ok(StreamEvent::Text { .. }))
    ));
    drop(stream);
    let closed = tokio::time::timeout(Duration::from_secs(6), rx)
        .await
        .unwrap()
        .unwrap();
    assert!(
        closed,
        "the server saw the connection closed after the stream was dropped"
    );
}

#[tokio::test]
async fn retries_before_output_for_local_and_never_for_cloud() {
    let flaky = |_, index: usize, mut sock: TcpStream| async move {
        if index < 2 {
            respond(
                &mut sock,
                "503 Service Unavailable",
                "",
                "application/json",
                br#"{"error":{"message":"loading"}}"#,
            )
            .await;
        } else {
            serve_sse(sock, good_stream()).await;
        }
    };
    let server = LoopbackServer::start(flaky).await;
    let ep = endpoint("oai", server.url("/v1"), None);
    let fast = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    let r = OpenAiCompatClient::new(ep, "m1")
        .unwrap()
        .with_retry_policy(fast)
        .completion(request("oai/m1", None))
        .await
        .unwrap();
    assert_eq!(r.text, "Hello");
    assert_eq!(server.requests().len(), 3);

    let cloud_server = LoopbackServer::start(flaky).await;
    let mut ep = endpoint("oai", cloud_server.url("/v1"), None);
    ep.tier = ProviderTier::Cloud;
    // A cloud-tier adapter called directly, outside the consent gate, sends nothing at all (the
    // gate's own sends are never retried either: RetryPolicy gives a cloud tier no retry).
    let e = OpenAiCompatClient::new(ep, "m1")
        .unwrap()
        .with_retry_policy(fast)
        .completion(request("oai/m1", None))
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::ConsentRequired { .. }), "{e:?}");
    assert_eq!(
        cloud_server.requests().len(),
        0,
        "an ungated cloud-tier client reached the server"
    );

    // Retry-After is honoured: the second attempt waits at least that long.
    let limited = LoopbackServer::start(|_, index, mut sock| async move {
        if index == 0 {
            respond(
                &mut sock,
                "429 Too Many Requests",
                "Retry-After: 1\r\n",
                "application/json",
                b"{}",
            )
            .await;
        } else {
            serve_sse(sock, good_stream()).await;
        }
    })
    .await;
    let ep = endpoint("oai", limited.url("/v1"), None);
    let started = Instant::now();
    OpenAiCompatClient::new(ep, "m1")
        .unwrap()
        .with_retry_policy(fast)
        .completion(request("oai/m1", None))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(limited.requests().len(), 2);

    // Not retryable: one request only.
    let unauthorized = LoopbackServer::start(|_, _, mut sock| async move {
        respond(&mut sock, "401 Unauthorized", "", "application/json", b"{}").await;
    })
    .await;
    let ep = endpoint("oai", unauthorized.url("/v1"), None);
    let _ = OpenAiCompatClient::new(ep, "m1")
        .unwrap()
        .with_retry_policy(fast)
        .completion(request("oai/m1", None))
        .await;
    assert_eq!(unauthorized.requests().len(), 1);
}

#[tokio::test]
async fn connection_refused_is_unreachable_and_egress_denials_are_recognised() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let ep = endpoint(
        "oai",
        url::Url::parse(&format!("http://{addr}/v1")).unwrap(),
        None,
    );
    let e = OpenAiCompatClient::new(ep, "m1")
        .unwrap()
        .with_retry_policy(RetryPolicy::never())
        .completion(request("oai/m1", None))
        .await
        .unwrap_err();
    assert!(
        matches!(e, LlmError::Unreachable { ref reason } if !reason.contains(&addr.to_string())),
        "{e:?}"
    );

    let mut ep = endpoint(
        "oai",
        url::Url::parse("http://denied.invalid/v1").unwrap(),
        None,
    );
    ep.http = reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(std::sync::Arc::new(DenyAll))
        .build()
        .unwrap();
    let e = OpenAiCompatClient::new(ep, "m1")
        .unwrap()
        .completion(request("oai/m1", None))
        .await
        .unwrap_err();
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

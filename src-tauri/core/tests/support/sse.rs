//! SSE helpers for the OpenAI-compatible transport tests: chunk events as servers send them.

use handshake_core::llm::{OpenAiCompatClient, RetryPolicy};
use tokio::net::TcpStream;

use super::*;

pub const SSE: &str = "text/event-stream";

pub fn event(content: &str, finish: Option<&str>) -> String {
    let finish = finish
        .map(|f| format!("\"{f}\""))
        .unwrap_or_else(|| "null".into());
    format!(
        "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{}}},\"finish_reason\":{finish}}}]}}\n\n",
        serde_json::to_string(content).unwrap()
    )
}

pub fn good_stream() -> String {
    let mut s = String::new();
    s.push_str(": PROCESSING\n\n");
    s.push_str(&event("Hel", None));
    s.push_str(&event("lo", None));
    s.push_str(&event("", Some("stop")));
    s.push_str("data: {\"id\":\"c\",\"model\":\"m1\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n");
    s.push_str("data: [DONE]\n\n");
    s
}

pub async fn serve_sse(mut sock: TcpStream, body: String) {
    start_chunked(&mut sock, SSE).await;
    let _ = chunk(&mut sock, body.as_bytes()).await;
    end_chunks(&mut sock).await;
}

pub fn client_for(server: &LoopbackServer, base: &str, key: Option<&str>) -> OpenAiCompatClient {
    let ep = endpoint("oai", server.url(base), key);
    OpenAiCompatClient::new(ep, "m1")
        .unwrap()
        .with_retry_policy(RetryPolicy::never())
}

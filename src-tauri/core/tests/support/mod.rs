//! Loopback HTTP/1.1 servers for transport tests: real sockets, real HTTP, with full control over
//! what goes on the wire (split writes, stalls, early closes, huge bodies), which a real model
//! server will not produce on demand.
//!
//! Each connection serves one request and closes (`Connection: close`), so every test sees exactly
//! the requests it caused. Shared by the `llm_*` test files; not every file uses every helper.
#![allow(dead_code)]

pub mod sse;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use handshake_core::llm::{OpenAiCompatOptions, WireConfig};
use handshake_core::vocab::{ProviderTier, Timeouts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// A loopback server; `handler` gets each request, its index (0 for the first) and the socket.
pub struct LoopbackServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl LoopbackServer {
    pub async fn start<F, Fut>(handler: F) -> Self
    where
        F: Fn(Recorded, usize, TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                sock.set_nodelay(true).ok();
                let handler = handler.clone();
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut sock).await else {
                        return;
                    };
                    let index = {
                        let mut all = recorded.lock().expect("lock");
                        all.push(req.clone());
                        all.len() - 1
                    };
                    handler(req, index, sock).await;
                });
            }
        });
        Self {
            addr,
            requests,
            task,
        }
    }

    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{}", self.addr, path)).expect("url")
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request(sock: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

/// A whole response with a Content-Length.
pub async fn respond(
    sock: &mut TcpStream,
    status: &str,
    extra_headers: &str,
    content_type: &str,
    body: &[u8],
) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n",
        body.len()
    );
    let _ = sock.write_all(head.as_bytes()).await;
    let _ = sock.write_all(body).await;
    let _ = sock.flush().await;
}

/// Response headers of a chunked body; follow with [`chunk`] and [`end_chunks`].
pub async fn start_chunked(sock: &mut TcpStream, content_type: &str) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let _ = sock.write_all(head.as_bytes()).await;
    let _ = sock.flush().await;
}

/// One chunk of a chunked body, flushed (one TCP write with TCP_NODELAY).
pub async fn chunk(sock: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    sock.write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .await?;
    sock.write_all(data).await?;
    sock.write_all(b"\r\n").await?;
    sock.flush().await
}

pub async fn end_chunks(sock: &mut TcpStream) {
    let _ = sock.write_all(b"0\r\n\r\n").await;
    let _ = sock.flush().await;
}

/// Sends `data` as many one-byte chunks, pausing between them, so the client reads it split at
/// every possible byte.
pub async fn trickle(sock: &mut TcpStream, data: &[u8]) {
    for b in data {
        if chunk(sock, std::slice::from_ref(b)).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// Waits until the client closes the connection (a read returns 0 or fails), up to `limit`.
pub async fn wait_for_close(sock: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .is_ok()
}

/// Timeouts short enough for tests.
pub fn test_timeouts() -> Timeouts {
    Timeouts {
        connect_ms: 2_000,
        first_byte_ms: 3_000,
        idle_ms: 1_000,
        total_ms: 10_000,
    }
}

/// A plain client as the registry would build it, without the egress resolver.
pub fn plain_http(t: &Timeouts) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_millis(t.connect_ms))
        .build()
        .expect("client")
}

pub fn endpoint(provider_id: &str, base_url: url::Url, api_key: Option<&str>) -> WireConfig {
    let timeouts = test_timeouts();
    WireConfig {
        provider_id: provider_id.to_owned(),
        tier: ProviderTier::Local,
        base_url,
        api_key: api_key.map(secrecy::SecretString::from),
        extra_headers: Vec::new(),
        timeouts,
        openai: OpenAiCompatOptions::default(),
        http: plain_http(&timeouts),
    }
}

pub fn request(model_id: &str, max_tokens: Option<u32>) -> handshake_core::llm::CompletionRequest {
    handshake_core::llm::CompletionRequest {
        trace_id: uuid::Uuid::new_v4(),
        prompt: "Say hello".into(),
        model_id: model_id.into(),
        max_tokens,
        temperature: 0.0,
        stop_sequences: vec![],
    }
}

//! Shared by the adapter benchmarks (`adapter_bench`, `recording_overhead_bench`): a zero-delay
//! loopback OpenAI-compatible upstream (keep-alive HTTP/1.1, TCP_NODELAY, a fixed answer of 16
//! content chunks + finish + usage chunk + `[DONE]` in one write), the pooled `reqwest` client
//! both sides use, and process CPU time and load average for the reports.
#![allow(dead_code)] // each benchmark uses a part

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Connections the upstream accepted: shows whether the clients reuse pooled connections.
pub static CONNECTIONS: AtomicUsize = AtomicUsize::new(0);

pub fn connections() -> usize {
    CONNECTIONS.load(Ordering::Relaxed)
}

pub fn sse_body() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..16 {
        s.push_str(&format!(
            "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"tok{i} \"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    s.push_str("data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
    s.push_str("data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":16}}\n\n");
    s.push_str("data: [DONE]\n\n");
    s.into_bytes()
}

/// Serves every request on a keep-alive connection with the same SSE answer, in one write.
async fn serve(mut sock: TcpStream, answer: Arc<Vec<u8>>) {
    sock.set_nodelay(true).ok();
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    loop {
        let head_end = loop {
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + length);
        if sock.write_all(&answer).await.is_err() {
            return;
        }
    }
}

/// Starts the upstream on `127.0.0.1:port` (0: any free port) and returns its address.
pub async fn upstream(port: u16) -> std::net::SocketAddr {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the loopback upstream");
    let addr = listener.local_addr().expect("local address");
    let body = sse_body();
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            CONNECTIONS.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(serve(sock, answer.clone()));
        }
    });
    addr
}

/// The pooled client both sides use.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .pool_max_idle_per_host(128)
        .build()
        .expect("build the reqwest client")
}

/// User + system CPU time of this process so far (Linux `/proc/self/stat`, what getrusage
/// reports for RUSAGE_SELF, in clock ticks of 1/100 s).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The load average, as `/proc/loadavg` has it (1, 5, 15 minutes).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

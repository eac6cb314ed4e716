//! Shared helpers for the registry and egress integration tests: a loopback HTTP/1.1 server that
//! records what it receives, a refused port, and registries over temporary databases.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use handshake_core::db::Database;
use handshake_core::egress::NameResolver;
use handshake_core::registry::ProviderRegistry;
use handshake_core::secrets::Keychain;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server answers: `Some((status, body))`, or `None` to never answer (a hang).
pub type Handler = Arc<dyn Fn(&Seen) -> Option<(u16, String)> + Send + Sync>;

/// A loopback server on 127.0.0.1 with an ephemeral port. Stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub async fn start(
        handler: impl Fn(&Seen) -> Option<(u16, String)> + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let seen2 = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                stream.set_nodelay(true).unwrap();
                let handler = handler.clone();
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let mut lines = head.split("\r\n");
                    let mut request_line = lines.next().unwrap_or("").split(' ');
                    let method = request_line.next().unwrap_or("").to_owned();
                    let path = request_line.next().unwrap_or("").to_owned();
                    let headers = lines
                        .take_while(|l| !l.is_empty())
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                        .collect();
                    let request = Seen {
                        method,
                        path,
                        headers,
                    };
                    seen.lock().unwrap().push(request.clone());
                    match handler(&request) {
                        Some((status, body)) => {
                            let response = format!(
                                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                                body.len()
                            );
                            let _ = stream.write_all(response.as_bytes()).await;
                            let _ = stream.shutdown().await;
                        }
                        None => {
                            // Hang: hold the connection open without answering.
                            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                        }
                    }
                });
            }
        });
        Self { addr, seen, task }
    }

    /// A server answering `body` with 200 on every path.
    pub async fn json(body: &'static str) -> Self {
        Self::start(move |_| Some((200, body.to_owned()))).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A loopback port nothing listens on (bound, then released).
pub async fn refused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A unique keychain service for one test.
pub fn test_keychain(name: &str) -> Keychain {
    Keychain::with_service(format!(
        "dev.handshake.test.{name}.{}",
        uuid::Uuid::new_v4()
    ))
}

/// Fails with instructions when the Secret Service is not reachable.
pub fn require_keychain(keychain: &Keychain) {
    if let Err(e) = keychain.probe() {
        panic!(
            "the keychain tests need the real Secret Service ({e}). Run them as: dbus-run-session -- sh -c \
             'echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; cargo test -p handshake-core'"
        );
    }
}

/// A registry over a fresh database in a temporary directory.
pub async fn registry(
    keychain: Keychain,
    resolver: Arc<dyn NameResolver>,
) -> (tempfile::TempDir, ProviderRegistry) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    (dir, ProviderRegistry::with_resolver(db, keychain, resolver))
}

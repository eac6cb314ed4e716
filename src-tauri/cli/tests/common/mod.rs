//! Shared by the CLI's end-to-end tests: running the real `hsk` binary against a temp data
//! directory (real SQLite, the real OS keychain), and a small loopback HTTP server speaking just
//! enough of Ollama (`/api/tags`, `/api/version`, `/api/generate`) and of OpenAI (`/v1/models`).
//!
//! Tests that touch the keychain run one at a time ([`serial`]): Secret Service calls over D-Bus
//! race, and the Flight Recorder's anchor key is created on first use.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the file's tests to one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// What one run of `hsk` gave.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout as JSON (for `--json` runs).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    /// stderr as the `--json` error body.
    pub fn error(&self) -> Value {
        let v: Value = serde_json::from_str(self.stderr.trim())
            .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {}", self.stderr));
        v["error"].clone()
    }

    /// Panics with both streams unless the run succeeded.
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code,
            Some(0),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs `hsk --data-dir DIR ARGS...` with `stdin` piped in.
pub fn hsk(dir: &Path, args: &[&str], stdin: &str) -> Run {
    hsk_without(dir, args, stdin, &[])
}

/// [`hsk`] with the environment variables `remove` unset (e.g. the D-Bus address, so that the
/// OS keychain is unreachable).
pub fn hsk_without(dir: &Path, args: &[&str], stdin: &str, remove: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hsk"));
    for name in remove {
        command.env_remove(name);
    }
    let mut child = command
        .env_remove("HANDSHAKE_DATA_DIR")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// `hsk --json ARGS...` that must succeed; its stdout as JSON.
pub fn hsk_json(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    hsk(dir, &all, "").ok().json()
}

/// One request the server saw: method, path, lower-cased head, JSON body (or null).
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub head: String,
    pub body: Value,
}

/// A loopback server on its own thread; `base` is `http://127.0.0.1:PORT`.
pub struct Server {
    pub base: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    /// Requests seen so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Starts a server. `/v1/*` answers 401 unless the bearer key is `bearer` (when one is given);
/// `/api/generate` answers 404 for a model named in `missing`.
pub fn server(bearer: Option<&'static str>, missing: &'static [&'static str]) -> Server {
    let (tx, rx) = std::sync::mpsc::channel();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                let log = Arc::clone(&log);
                tokio::spawn(serve(socket, log, bearer, missing));
            }
        });
    });
    let addr = rx.recv().unwrap();
    Server {
        base: format!("http://{addr}"),
        seen,
    }
}

async fn serve(
    mut socket: tokio::net::TcpStream,
    log: Arc<Mutex<Vec<Seen>>>,
    bearer: Option<&'static str>,
    missing: &'static [&'static str],
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        let Ok(n) = socket.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
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
        let Ok(n) = socket.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut words = head.split_whitespace();
    let method = words.next().unwrap_or_default().to_owned();
    let path = words.next().unwrap_or_default().to_owned();
    let body: Value =
        serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or(Value::Null);
    log.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        head: head.to_lowercase(),
        body: body.clone(),
    });
    let authorized = match bearer {
        None => true,
        Some(key) => head
            .lines()
            .any(|l| l.eq_ignore_ascii_case(&format!("authorization: Bearer {key}"))),
    };
    let (status, answer) = match (method.as_str(), path.as_str()) {
        ("GET", "/api/tags") => (
            "200 OK",
            json!({"models": [
                {"name": "gemma3:270m", "model": "gemma3:270m", "size": 291_554_930},
                {"name": "qwen3:0.6b", "model": "qwen3:0.6b", "size": 522_653_767}
            ]}),
        ),
        ("GET", "/api/version") => ("200 OK", json!({"version": "0.12.0"})),
        ("POST", "/api/generate") => {
            let model = body["model"].as_str().unwrap_or_default().to_owned();
            if missing.contains(&model.as_str()) {
                (
                    "404 Not Found",
                    json!({"error": format!("model '{model}' not found")}),
                )
            } else {
                (
                    "200 OK",
                    json!({"model": model, "response": "", "done": true}),
                )
            }
        }
        ("GET", "/v1/models") if authorized => (
            "200 OK",
            json!({"object": "list", "data": [{"id": "gpt-test", "object": "model", "owned_by": "tests"}]}),
        ),
        ("GET", "/v1/models") => (
            "401 Unauthorized",
            json!({"error": {"message": "invalid api key", "type": "invalid_request_error"}}),
        ),
        _ => ("404 Not Found", json!({"error": "not found"})),
    };
    let text = answer.to_string();
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = socket.write_all(reply.as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// Registers a local Ollama provider `id` at `base` (no key).
pub fn add_ollama(dir: &Path, id: &str, base: &str) {
    hsk(
        dir,
        &[
            "provider",
            "add",
            "--id",
            id,
            "--kind",
            "ollama",
            "--tier",
            "local",
            "--base-url",
            base,
        ],
        "",
    )
    .ok();
}

/// A valid Work Profile whose every role runs on `provider`'s models.
pub fn profile_json(profile_id: &str, provider: &str, name: &str) -> Value {
    let m = |model: &str| format!("{provider}/{model}");
    json!({
        "schema_version": "hsk.work_profile@0.5",
        "profile_id": profile_id,
        "name": name,
        "model_assignments": {
            "frontend": {"primary_model_id": m("gemma3:270m"), "local_only": true},
            "orchestrator": {"primary_model_id": m("qwen3:0.6b"), "fallback_model_id": m("gemma3:270m"), "local_only": true},
            "worker": {"primary_model_id": m("qwen3:0.6b"), "local_only": true},
            "validator": {"primary_model_id": m("gemma3:270m"), "local_only": true}
        },
        "governance": {"automation_level": "HYBRID", "allow_cloud_escalation": false}
    })
}

/// Writes `value` as a JSON file in `dir` and returns its path as a string.
pub fn write_json(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path.display().to_string()
}

/// Every file under `dir`, read as bytes (the database, its WAL, the anchor, exports).
pub fn all_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

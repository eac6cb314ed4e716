//! The end-to-end harness: starts the real app binary under tauri-driver (in front of
//! WebKitWebDriver) with its own data directory, and gives tests a few helpers that wait for what
//! the UI shows rather than sleeping. Screenshots go to `test-artifacts/e2e/` (git-ignored).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

/// A running tauri-driver; killed on drop.
pub struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The app under test: its WebDriver session, its data directory and where screenshots go.
pub struct App {
    pub client: Client,
    pub data_dir: tempfile::TempDir,
    pub artifacts: PathBuf,
    _driver: Driver,
}

impl App {
    /// Starts the app with a fresh data directory and extra environment for the app process.
    pub async fn start(env: &[(&str, String)]) -> App {
        let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/e2e");
        std::fs::create_dir_all(&artifacts).unwrap();
        let data_dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let driver = start_driver(data_dir.path(), port, env);
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "wry".into());
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": env!("CARGO_BIN_EXE_handshake") }),
        );
        // tauri-driver speaks plain HTTP on loopback: no TLS connector needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("WebDriver session with the app");
        App {
            client,
            data_dir,
            artifacts,
            _driver: driver,
        }
    }

    /// The element at `css`, once it exists.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                return el;
            }
            assert!(Instant::now() < deadline, "nothing appeared at {css}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the element at `css` once it exists and is enabled.
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let el = self.find(css).await;
            if el.is_enabled().await.unwrap_or(false) && el.click().await.is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "{css} never became clickable");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Replaces the value of the input at `css` with `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// Selects the option with value `value` in the `<select>` at `css`.
    pub async fn select(&self, css: &str, value: &str) {
        let el = self.find(css).await;
        el.select_by_value(value).await.unwrap();
    }

    /// The element's text once it is not blank.
    pub async fn text(&self, css: &str, timeout: Duration) -> String {
        wait_text(&self.client, css, timeout).await
    }

    /// Waits until the text at `css` satisfies `pred`; returns it.
    pub async fn wait_until(
        &self,
        css: &str,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                if let Ok(text) = el.text().await {
                    if pred(&text) {
                        return text;
                    }
                    last = text;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed {what}; last text: {last:?}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Whether something matches `css` right now.
    pub async fn exists(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// Saves a screenshot of the window as `test-artifacts/e2e/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        screenshot(&self.client, &self.artifacts, name).await;
    }

    /// Opens a view from the navigation and waits for its title.
    pub async fn open_view(&self, id: &str) {
        self.click(&format!("[data-testid=nav-{id}]")).await;
        self.text(
            &format!("[data-testid={id}-title]"),
            Duration::from_secs(10),
        )
        .await;
    }
}

fn start_driver(data_dir: &Path, port: u16, env: &[(&str, String)]) -> Driver {
    let program = std::env::var("TAURI_DRIVER").unwrap_or_else(|_| "tauri-driver".into());
    let native =
        std::env::var("WEBKIT_WEBDRIVER").unwrap_or_else(|_| "/usr/bin/WebKitWebDriver".into());
    let native_port = free_port();
    let mut command = Command::new(&program);
    command
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .args(["--native-driver", &native])
        .env("HANDSHAKE_DATA_DIR", data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command.spawn().unwrap_or_else(|e| {
        panic!(
            "cannot start {program}: {e} (install it with `cargo install tauri-driver --locked`)"
        )
    });
    let driver = Driver(child);
    // tauri-driver listens before its WebKitWebDriver does; a session request in between is cut.
    wait_listening(port, "tauri-driver");
    wait_listening(native_port, "WebKitWebDriver");
    driver
}

pub async fn wait_text(client: &Client, css: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(el) = client.find(Locator::Css(css)).await {
            if let Ok(text) = el.text().await {
                if !text.trim().is_empty() {
                    return text;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "nothing with text appeared at {css}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn screenshot(client: &Client, dir: &Path, name: &str) {
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

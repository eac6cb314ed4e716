//! End-to-end: the real desktop app binary in a real window (under Xvfb in CI), driven through
//! WebDriver (tauri-driver in front of WebKitWebDriver). Clicks through the navigation, asserts what
//! each view shows, and saves a screenshot per view under `test-artifacts/e2e/` (git-ignored).
//!
//! Needs a display (`DISPLAY`), `tauri-driver` on PATH (or `TAURI_DRIVER`), `WebKitWebDriver`
//! (Debian's webkit2gtk-driver), a built `ui/dist`, and the OS keychain for the health checks. The
//! test command (`scripts/test.sh`) provides all of them; run it with
//! `cargo test -p handshake --features e2e --test e2e_app`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

const VIEWS: [(&str, &str); 5] = [
    ("providers", "Providers"),
    ("profiles", "Work Profiles"),
    ("run", "Run"),
    ("console", "Operator Console"),
    ("settings", "Settings"),
];

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
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

fn start_driver(data_dir: &Path, port: u16) -> Driver {
    let program = std::env::var("TAURI_DRIVER").unwrap_or_else(|_| "tauri-driver".into());
    let native =
        std::env::var("WEBKIT_WEBDRIVER").unwrap_or_else(|_| "/usr/bin/WebKitWebDriver".into());
    let native_port = free_port();
    let child = Command::new(&program)
        .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
        .args(["--native-driver", &native])
        .env("HANDSHAKE_DATA_DIR", data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e} (install it with `cargo install tauri-driver --locked`)"));
    let driver = Driver(child);
    // tauri-driver listens before its WebKitWebDriver does; a session request in between is cut.
    wait_listening(port, "tauri-driver");
    wait_listening(native_port, "WebKitWebDriver");
    driver
}

async fn wait_text(client: &Client, css: &str, timeout: Duration) -> String {
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

async fn screenshot(client: &Client, dir: &Path, name: &str) {
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

#[tokio::test]
async fn the_app_starts_and_every_view_shows() {
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/e2e");
    std::fs::create_dir_all(&artifacts).unwrap();
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let _driver = start_driver(data.path(), port);

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

    // The window opens on Providers.
    let first = wait_text(
        &client,
        "[data-testid=providers-title]",
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(first, "Providers");
    assert_eq!(client.title().await.unwrap(), "Handshake");

    for (id, label) in VIEWS {
        client
            .find(Locator::Css(&format!("[data-testid=nav-{id}]")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let title = wait_text(
            &client,
            &format!("[data-testid={id}-title]"),
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(title, label, "view {id}");
        let current = client
            .find(Locator::Css(&format!("[data-testid=nav-{id}]")))
            .await
            .unwrap()
            .attr("aria-current")
            .await
            .unwrap();
        assert_eq!(
            current.as_deref(),
            Some("page"),
            "nav {id} is not marked current"
        );
        if id == "settings" {
            // Version and data directory come from the core through a Tauri command.
            let version = wait_text(
                &client,
                "[data-testid=settings-version]",
                Duration::from_secs(10),
            )
            .await;
            assert_eq!(version, env!("CARGO_PKG_VERSION"));
            let dir = wait_text(
                &client,
                "[data-testid=settings-data-dir]",
                Duration::from_secs(10),
            )
            .await;
            assert_eq!(dir, data.path().display().to_string());
            let schema = wait_text(
                &client,
                "[data-testid=settings-schema]",
                Duration::from_secs(10),
            )
            .await;
            assert!(schema.starts_with("version "), "{schema}");
            client
                .find(Locator::Css("[data-testid=settings-run-checks]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let checks = wait_text(
                &client,
                "[data-testid=settings-checks]",
                Duration::from_secs(20),
            )
            .await;
            assert!(checks.contains("database"), "{checks}");
            assert!(checks.contains("keychain"), "{checks}");
        } else {
            let empty = wait_text(
                &client,
                &format!("[data-testid={id}-empty]"),
                Duration::from_secs(5),
            )
            .await;
            assert!(!empty.is_empty());
        }
        screenshot(&client, &artifacts, id).await;
    }

    // The core migrated the database in the data directory the app was pointed at.
    assert!(data.path().join("handshake.db").exists());
    client.close().await.unwrap();
}

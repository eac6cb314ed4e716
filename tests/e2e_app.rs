//! End-to-end: the real desktop app binary in a real window (under Xvfb in CI), driven through
//! WebDriver (tauri-driver in front of WebKitWebDriver). Clicks through the navigation, asserts what
//! each view shows, and saves a screenshot per view under `test-artifacts/e2e/` (git-ignored).
//!
//! Needs a display (`DISPLAY`), `tauri-driver` on PATH (or `TAURI_DRIVER`), `WebKitWebDriver`
//! (Debian's webkit2gtk-driver), a built `ui/dist`, and the OS keychain for the health checks. The
//! test command (`scripts/test.sh`) provides all of them; run it with
//! `cargo test -p handshake --features e2e --test e2e_app`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "e2e/support.rs"]
mod support;

use std::time::Duration;

use fantoccini::Locator;
use support::{wait_text, App};

const VIEWS: [(&str, &str); 5] = [
    ("providers", "Providers"),
    ("profiles", "Work Profiles"),
    ("run", "Run"),
    ("console", "Operator Console"),
    ("settings", "Settings"),
];

#[tokio::test]
async fn the_app_starts_and_every_view_shows() {
    let app = App::start(&[]).await;
    let client = &app.client;
    let data = &app.data_dir;
    let artifacts = &app.artifacts;

    // The window opens on Providers.
    let first = wait_text(
        client,
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
            client,
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
                client,
                "[data-testid=settings-version]",
                Duration::from_secs(10),
            )
            .await;
            assert_eq!(version, env!("CARGO_PKG_VERSION"));
            let dir = wait_text(
                client,
                "[data-testid=settings-data-dir]",
                Duration::from_secs(10),
            )
            .await;
            assert_eq!(dir, data.path().display().to_string());
            let schema = wait_text(
                client,
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
                client,
                "[data-testid=settings-checks]",
                Duration::from_secs(20),
            )
            .await;
            assert!(checks.contains("database"), "{checks}");
            assert!(checks.contains("keychain"), "{checks}");
        } else {
            let empty = wait_text(
                client,
                &format!("[data-testid={id}-empty]"),
                Duration::from_secs(5),
            )
            .await;
            assert!(!empty.is_empty());
        }
        support::screenshot(client, artifacts, id).await;
    }

    // The core migrated the database in the data directory the app was pointed at.
    assert!(data.path().join("handshake.db").exists());
    app.client.clone().close().await.unwrap();
}

//! End-to-end: the Providers screen of the real app binary, driven through WebDriver against real
//! loopback servers. On a fresh data directory it shows the empty state (and, when the Ollama peer
//! is the one at 127.0.0.1:11434, the first-start offer with its models); adds a local Ollama
//! provider pointed at the peer and tests the connection (latency, models); adds a cloud-tier
//! OpenAI-compatible provider whose base URL is a loopback test server made "public" by the
//! test-only egress allowance (`HANDSHAKE_TEST_PUBLIC_ADDRS`), with an API key, and sees "key
//! stored" while the key never appears in the page source; sees the core's typed inline error for
//! a cloud provider at a loopback address outside the allowance; removes a provider after
//! confirming. Screenshots: `test-artifacts/e2e/providers-*.png`.
//!
//! Needs the Ollama peer: `HANDSHAKE_PEER_OLLAMA_URL` (scripts/test.sh sets it); without it the
//! test fails unless `HANDSHAKE_SKIP_PEERS=1`, which skips the local-provider steps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "e2e/support.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::App;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const WAIT: Duration = Duration::from_secs(20);
const CLOUD_MODELS: &str = r#"{"object":"list","data":[{"id":"cloud-model-1","object":"model","created":1700000000,"owned_by":"e2e"},{"id":"cloud-model-2","object":"model","created":1700000000,"owned_by":"e2e"}]}"#;

/// The Ollama peer's URL, or `None` when peers are skipped on purpose.
fn peer_ollama_url() -> Option<String> {
    match std::env::var("HANDSHAKE_PEER_OLLAMA_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().trim_end_matches('/').to_owned()),
        _ if std::env::var("HANDSHAKE_SKIP_PEERS").as_deref() == Ok("1") => None,
        _ => panic!(
            "HANDSHAKE_PEER_OLLAMA_URL is not set: start the Ollama peer (scripts/test.sh does) and \
             export its URL, e.g. HANDSHAKE_PEER_OLLAMA_URL=http://127.0.0.1:11434, or set \
             HANDSHAKE_SKIP_PEERS=1 to skip the local-provider steps"
        ),
    }
}

/// A stand-in for a cloud provider: answers `GET /v1/models` in OpenAI's documented format and
/// records the `Authorization` header of every request.
struct CloudServer {
    addr: SocketAddr,
    authorizations: Arc<Mutex<Vec<Option<String>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CloudServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn cloud_server() -> CloudServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let authorizations = Arc::new(Mutex::new(Vec::new()));
    let seen = authorizations.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).to_string();
                let auth = text
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(n, _)| n.trim().eq_ignore_ascii_case("authorization"))
                    .map(|(_, v)| v.trim().to_owned());
                seen.lock().unwrap().push(auth);
                let (status, body) = if text.starts_with("GET /v1/models ") {
                    ("200 OK", CLOUD_MODELS)
                } else {
                    ("404 Not Found", r#"{"error":"not found"}"#)
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(response.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    CloudServer {
        addr,
        authorizations,
        task,
    }
}

async fn attr(app: &App, css: &str, name: &str) -> Option<String> {
    app.find(css).await.attr(name).await.unwrap()
}

/// Waits until the element at `css` has attribute `name` equal to `value`.
async fn wait_attr(app: &App, css: &str, name: &str, value: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if attr(app, css, name).await.as_deref() == Some(value) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{css} never had {name}={value:?}; last: {:?}",
            attr(app, css, name).await
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn open_add_form(app: &App, preset: &str, id: &str) {
    app.click("[data-testid=providers-add]").await;
    app.find("[data-testid=provider-form]").await;
    app.select("[data-testid=provider-form-preset]", preset)
        .await;
    app.fill("[data-testid=provider-form-id]", id).await;
}

#[tokio::test]
async fn providers_local_and_cloud_with_write_only_keys_and_egress_errors() {
    let peer = peer_ollama_url();
    let cloud = cloud_server().await;
    let app = App::start(&[("HANDSHAKE_TEST_PUBLIC_ADDRS", cloud.addr.to_string())]).await;
    app.text("[data-testid=providers-title]", Duration::from_secs(30))
        .await;

    // A fresh data directory: the empty state says what to do; with the Ollama peer on the
    // default address, the first-start offer lists its models inside it.
    let empty = app.text("[data-testid=providers-empty]", WAIT).await;
    assert!(empty.contains("Add provider"), "{empty}");
    if peer.as_deref() == Some("http://127.0.0.1:11434") {
        let offered = app
            .wait_until(
                "[data-testid=providers-ollama-offer-models]",
                WAIT,
                "the local Ollama's models",
                |t| t.contains("gemma3:270m"),
            )
            .await;
        assert!(offered.contains("gemma3:270m-alt"), "{offered}");
    }
    app.screenshot("providers-empty").await;

    // A local Ollama provider pointed at the peer; "Test connection" lists its models.
    if let Some(url) = &peer {
        open_add_form(&app, "ollama", "peer-ollama").await;
        app.fill("[data-testid=provider-form-base-url]", url).await;
        app.fill("[data-testid=provider-form-default-model]", "gemma3:270m")
            .await;
        app.click("[data-testid=provider-form-save]").await;
        app.find("[data-testid=provider-row-peer-ollama]").await;
        assert_eq!(
            app.text("[data-testid=provider-tier-peer-ollama]", WAIT)
                .await
                .to_lowercase(),
            "local"
        );
        app.click("[data-testid=provider-test-peer-ollama]").await;
        let models = app
            .wait_until(
                "[data-testid=provider-models-peer-ollama]",
                WAIT,
                "the peer's models",
                |t| t.contains("peer-ollama/gemma3:270m"),
            )
            .await;
        assert!(models.contains("peer-ollama/gemma3:270m-alt"), "{models}");
        let latency = app
            .text("[data-testid=provider-latency-peer-ollama]", WAIT)
            .await;
        assert!(latency.ends_with(" ms"), "{latency}");
        wait_attr(
            &app,
            "[data-testid=provider-health-peer-ollama]",
            "data-state",
            "ok",
        )
        .await;
        app.screenshot("providers-local-tested").await;
    }

    // A cloud-tier OpenAI-compatible provider on the allowed loopback server, with a key.
    let key = format!("sk-e2e-{}", uuid_like());
    open_add_form(&app, "custom", "cloudtest").await;
    app.fill("[data-testid=provider-form-name]", "Cloud test")
        .await;
    app.select("[data-testid=provider-form-tier]", "cloud")
        .await;
    app.fill(
        "[data-testid=provider-form-base-url]",
        &format!("http://{}/v1", cloud.addr),
    )
    .await;
    app.fill("[data-testid=provider-form-api-key]", &key).await;
    app.click("[data-testid=provider-form-save]").await;
    let stored = app
        .wait_until(
            "[data-testid=provider-key-cloudtest]",
            WAIT,
            "key stored",
            |t| t == "Key stored",
        )
        .await;
    assert_eq!(stored, "Key stored");
    wait_attr(
        &app,
        "[data-testid=provider-key-cloudtest]",
        "data-state",
        "stored",
    )
    .await;
    assert_eq!(
        app.text("[data-testid=provider-tier-cloudtest]", WAIT)
            .await
            .to_lowercase(),
        "cloud"
    );
    app.click("[data-testid=provider-test-cloudtest]").await;
    app.wait_until(
        "[data-testid=provider-models-cloudtest]",
        WAIT,
        "the cloud server's models",
        |t| t.contains("cloudtest/cloud-model-1") && t.contains("cloudtest/cloud-model-2"),
    )
    .await;
    // The key reached the server as a bearer token, and the page never holds it.
    let auths = cloud.authorizations.lock().unwrap().clone();
    assert!(!auths.is_empty());
    assert!(
        auths
            .iter()
            .all(|a| a.as_deref() == Some(&format!("Bearer {key}"))),
        "{auths:?}"
    );
    let source = app.client.source().await.unwrap();
    assert!(!source.contains(&key), "the API key is in the page source");

    // Editing shows only whether a key is stored, with replace and remove; never its value.
    app.click("[data-testid=provider-edit-cloudtest]").await;
    let status = app
        .text("[data-testid=provider-form-key-status]", WAIT)
        .await;
    assert_eq!(status, "Stored in the OS keychain");
    assert!(app.exists("[data-testid=provider-form-key-replace]").await);
    assert!(!app.exists("[data-testid=provider-form-api-key]").await);
    let source = app.client.source().await.unwrap();
    assert!(!source.contains(&key), "the API key is in the edit form");
    app.screenshot("providers-cloud-key-stored").await;
    app.click("[data-testid=provider-form-cancel]").await;

    // A cloud-tier provider at a loopback address outside the allowance: the core's typed
    // refusal, beside the base URL, and nothing is added.
    let refused = support::free_port();
    open_add_form(&app, "custom", "sneaky").await;
    app.select("[data-testid=provider-form-tier]", "cloud")
        .await;
    app.fill(
        "[data-testid=provider-form-base-url]",
        &format!("http://127.0.0.1:{refused}/v1"),
    )
    .await;
    app.click("[data-testid=provider-form-save]").await;
    let error = app
        .text("[data-testid=provider-form-error-base_url]", WAIT)
        .await;
    assert!(error.contains("contradicts the tier"), "{error}");
    assert_eq!(
        attr(
            &app,
            "[data-testid=provider-form-error-base_url]",
            "data-code"
        )
        .await
        .as_deref(),
        Some("tier_mismatch")
    );
    assert_eq!(
        attr(&app, "[data-testid=provider-form-base-url]", "aria-invalid")
            .await
            .as_deref(),
        Some("true")
    );
    app.screenshot("providers-egress-error").await;
    app.click("[data-testid=provider-form-cancel]").await;
    assert!(!app.exists("[data-testid=provider-row-sneaky]").await);

    // Removing asks first; confirming removes the provider (and its key).
    app.click("[data-testid=provider-remove-cloudtest]").await;
    let dialog = app.text("[data-testid=provider-remove-dialog]", WAIT).await;
    assert!(dialog.contains("OS keychain"), "{dialog}");
    app.screenshot("providers-remove-confirm").await;
    app.click("[data-testid=provider-remove-dialog-confirm]")
        .await;
    let deadline = std::time::Instant::now() + WAIT;
    while app.exists("[data-testid=provider-row-cloudtest]").await {
        assert!(
            std::time::Instant::now() < deadline,
            "cloudtest was not removed"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(!app.exists("[data-testid=provider-remove-dialog]").await);
    app.screenshot("providers-after-remove").await;

    // The core agrees with what the screen showed.
    let hs = handshake_core::Handshake::open(Some(app.data_dir.path().to_path_buf()))
        .await
        .unwrap();
    let ids: Vec<String> = hs
        .provider_rows()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.provider_id)
        .collect();
    let expected: Vec<&str> = if peer.is_some() {
        vec!["peer-ollama"]
    } else {
        vec![]
    };
    assert_eq!(ids, expected);
    app.client.clone().close().await.unwrap();
}

/// A random-looking suffix without extra dependencies.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}{}", std::process::id())
}

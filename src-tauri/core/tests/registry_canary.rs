//! The canary: a provider registered with unique canary secrets (API key, rotated key, secret
//! header) is driven through every operation, failures included: a loopback server that answers
//! 401 and echoes the Authorization header in its body, a server that never answers (timeout), a
//! refused connection, invalid inputs that embed the canary, export and import. Then the SQLite
//! files (main, -wal, -shm), every log line (tracing at TRACE, reqwest's `log` records included),
//! the export, the import report and every error (Display and Debug) are searched for the
//! canaries: none may appear anywhere. Runs against the real Secret Service.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use handshake_core::egress::StaticResolver;
use handshake_core::registry::{
    HeaderInput, NewProvider, ProviderKind, ProviderTier, ProviderUpdate, RegistryError, Timeouts,
};
use secrecy::SecretString;

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn key(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

/// Everything a person or a log could see of an operation's outcome.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    fn result<T: std::fmt::Debug>(&mut self, what: &str, r: &Result<T, RegistryError>) {
        match r {
            Ok(v) => self.0.push(format!("{what}: ok {v:?}")),
            Err(e) => {
                self.0.push(format!("{what}: {e}"));
                self.0.push(format!("{what}: {e:?}"));
                self.0
                    .push(format!("{what}: code={} field={:?}", e.code(), e.field()));
            }
        }
    }
    fn err<T: std::fmt::Debug>(
        &mut self,
        what: &str,
        r: Result<T, RegistryError>,
    ) -> RegistryError {
        self.result(what, &r);
        r.expect_err(what)
    }
}

#[tokio::test]
async fn canary_secrets_appear_nowhere() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .unwrap();

    let keychain = common::test_keychain("canary");
    common::require_keychain(&keychain);
    let id = uuid::Uuid::new_v4().simple().to_string();
    let canary = format!("sk-canary-key-{id}");
    let canary_header = format!("canary-header-{id}");
    let canary_rotated = format!("sk-canary-rotated-{id}");
    let canaries = [
        canary.clone(),
        canary_header.clone(),
        canary_rotated.clone(),
    ];

    let echo = common::TestServer::start(|req| {
        let auth = req.header("authorization").unwrap_or("none").to_owned();
        Some((
            401,
            format!(
                r#"{{"error":{{"message":"invalid key: {auth}","type":"invalid_request_error"}}}}"#
            ),
        ))
    })
    .await;
    let hang = common::TestServer::start(|_| None).await;
    let refused = common::refused_port().await;

    let (dir, reg) = common::registry(keychain.clone(), Arc::new(StaticResolver::new())).await;
    let mut seen = Seen::default();

    let mut new = NewProvider::new(
        "canary",
        ProviderKind::OpenaiCompat,
        ProviderTier::Local,
        echo.url("/v1"),
    );
    new.api_key = Some(key(&canary));
    new.extra_headers = vec![
        HeaderInput::secret("X-Api-Key", key(&canary_header)),
        HeaderInput::plain("X-Title", "t"),
    ];
    new.timeouts = Timeouts {
        connect_ms: 500,
        first_byte_ms: 400,
        idle_ms: 400,
        total_ms: 1_500,
    };
    let added = reg.add(new).await;
    seen.result("add", &added);
    added.unwrap();
    seen.result("get", &reg.get("canary").await);
    seen.result("list", &reg.list().await);
    seen.result("endpoint", &reg.endpoint("canary").await);
    seen.result("secret_status", &reg.secret_status("canary").await);

    // 401 with the key echoed in the body.
    seen.err("test 401", reg.test_connection("canary").await);
    seen.err("models 401", reg.list_models("canary").await);
    let auth_seen = echo.requests()[0]
        .header("authorization")
        .unwrap()
        .to_owned();
    assert_eq!(
        auth_seen,
        format!("Bearer {canary}"),
        "the key really went to the server and was echoed"
    );
    assert_eq!(
        echo.requests()[0].header("x-api-key"),
        Some(canary_header.as_str())
    );

    // Timeout, refused connection.
    let to = |url: String| ProviderUpdate {
        base_url: Some(url),
        ..Default::default()
    };
    seen.result(
        "update hang",
        &reg.update("canary", to(hang.url("/v1"))).await,
    );
    seen.err("test timeout", reg.test_connection("canary").await);
    seen.result(
        "update refused",
        &reg.update("canary", to(format!("http://127.0.0.1:{refused}/v1")))
            .await,
    );
    seen.err("test refused", reg.test_connection("canary").await);

    // Rotation, then the rotated key echoed.
    seen.result(
        "rotate",
        &reg.rotate_key("canary", key(&canary_rotated)).await,
    );
    seen.result(
        "update echo",
        &reg.update("canary", to(echo.url("/v1"))).await,
    );
    seen.err("test rotated 401", reg.test_connection("canary").await);
    assert!(echo
        .requests()
        .iter()
        .any(|r| r.header("authorization") == Some(&format!("Bearer {canary_rotated}"))));

    // Inputs that embed a canary must be refused without repeating it.
    let attempt = |base: String| {
        NewProvider::new(
            "leak",
            ProviderKind::OpenaiCompat,
            ProviderTier::Cloud,
            base,
        )
    };
    seen.err(
        "userinfo",
        reg.add(attempt(format!("https://user:{canary}@api.example.com/v1")))
            .await,
    );
    seen.err(
        "userinfo only",
        reg.add(attempt(format!("https://{canary}@api.example.com/v1")))
            .await,
    );
    seen.err(
        "query key",
        reg.add(attempt(format!(
            "https://api.example.com/v1?api_key={canary}"
        )))
        .await,
    );
    seen.err(
        "query token",
        reg.add(attempt(format!(
            "https://api.example.com/v1?x=1&token={canary}"
        )))
        .await,
    );
    seen.err(
        "bad url",
        reg.add(attempt(format!("https://[{canary}/v1"))).await,
    );
    seen.err(
        "egress path",
        reg.add(attempt(format!("http://169.254.169.254/{canary}")))
            .await,
    );
    let mut plain_secret = attempt("https://8.8.8.8/v1".into());
    plain_secret.extra_headers = vec![HeaderInput::plain(
        "Authorization",
        format!("Bearer {canary}"),
    )];
    seen.err("authorization header", reg.add(plain_secret).await);
    let mut plain_key = attempt("https://8.8.8.8/v1".into());
    plain_key.extra_headers = vec![HeaderInput::plain("X-Api-Key", canary.clone())];
    seen.err("plain key header", reg.add(plain_key).await);
    let mut bad_value = attempt("https://8.8.8.8/v1".into());
    bad_value.extra_headers = vec![HeaderInput::secret(
        "x-token",
        key(&format!("{canary}\r\nx: y")),
    )];
    seen.err("bad header value", reg.add(bad_value).await);
    let mut bad_key = attempt("https://8.8.8.8/v1".into());
    bad_key.api_key = Some(key(&format!("{canary} {canary}")));
    seen.err("bad key", reg.add(bad_key).await);
    let mut dup = NewProvider::new(
        "canary",
        ProviderKind::OpenaiCompat,
        ProviderTier::Local,
        echo.url("/v1"),
    );
    dup.api_key = Some(key(&canary));
    seen.err("duplicate", reg.add(dup).await);
    seen.err("set_key unknown", reg.set_key("nope", key(&canary)).await);
    seen.err(
        "set_key bad",
        reg.set_key("canary", key(&format!("{canary}\u{7}"))).await,
    );

    // Export and import (into a fresh database).
    let export = reg.export_json().await.unwrap();
    let (dir2, reg2) = common::registry(keychain.clone(), Arc::new(StaticResolver::new())).await;
    let report = reg2.import_json(&export).await;
    seen.result("import", &report);
    seen.err(
        "import garbage",
        reg2.import_json(&format!("{{\"format\": \"{canary}\""))
            .await,
    );

    // Deleting the key and removing the provider.
    seen.result("delete_key", &reg.delete_key("canary").await);
    seen.result("remove", &reg.remove("canary").await);
    seen.result("remove imported", &reg2.remove("canary").await);

    // Now search everywhere.
    let mut db_files = Vec::new();
    for d in [dir.path(), dir2.path()] {
        for name in ["handshake.db", "handshake.db-wal", "handshake.db-shm"] {
            if let Ok(bytes) = std::fs::read(d.join(name)) {
                db_files.push((d.join(name), bytes));
            }
        }
    }
    reg.db().close().await;
    reg2.db().close().await;
    for d in [dir.path(), dir2.path()] {
        for name in ["handshake.db", "handshake.db-wal", "handshake.db-shm"] {
            if let Ok(bytes) = std::fs::read(d.join(name)) {
                db_files.push((d.join(name), bytes));
            }
        }
    }
    assert!(db_files
        .iter()
        .any(|(p, b)| p.ends_with("handshake.db") && !b.is_empty()));
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    assert!(logs.contains("provider added"), "the logs were captured");
    assert!(
        logs.contains("connection test failed"),
        "the failures were logged"
    );
    assert!(seen.0.len() > 40, "{}", seen.0.len());
    for c in &canaries {
        for (path, bytes) in &db_files {
            assert!(
                !bytes.windows(c.len()).any(|w| w == c.as_bytes()),
                "canary in {}",
                path.display()
            );
        }
        assert!(!logs.contains(c.as_str()), "canary in the logs");
        assert!(!export.contains(c.as_str()), "canary in the export");
        for line in &seen.0 {
            assert!(!line.contains(c.as_str()), "canary in: {line}");
        }
    }
}

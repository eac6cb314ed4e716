//! A keychain that cannot be reached: the registry fails with a clear error and stores nothing,
//! never falling back to plaintext. Its own test binary, because it points the process's D-Bus
//! session address at nothing (libdbus remembers the session bus per process).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use handshake_core::egress::StaticResolver;
use handshake_core::registry::{
    NewProvider, ProviderKind, ProviderRegistry, ProviderTier, RegistryError,
};
use handshake_core::secrets::SecretsError;
use secrecy::SecretString;

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn db_bytes(dir: &tempfile::TempDir) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["handshake.db", "handshake.db-wal"] {
        if let Ok(b) = std::fs::read(dir.path().join(name)) {
            bytes.extend(b);
        }
    }
    bytes
}

fn key(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

#[tokio::test]
async fn an_unavailable_keychain_is_a_clear_error_and_nothing_is_stored() {
    // Secret Service over a bus address that does not exist: the keychain is unavailable.
    let dir = tempfile::tempdir().unwrap();
    let db = handshake_core::db::Database::open(dir.path())
        .await
        .unwrap();
    let saved = std::env::var("DBUS_SESSION_BUS_ADDRESS").ok();
    std::env::set_var(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/handshake-test-bus",
    );
    let reg = ProviderRegistry::with_resolver(
        db,
        common::test_keychain("unavailable"),
        Arc::new(StaticResolver::new()),
    );
    let mut new = NewProvider::new(
        "p",
        ProviderKind::OpenaiCompat,
        ProviderTier::Local,
        "http://127.0.0.1:8000/v1",
    );
    let secret = format!("sk-unavail-{}", uuid::Uuid::new_v4());
    new.api_key = Some(key(&secret));
    let err = reg.add(new).await.unwrap_err();
    match saved {
        Some(v) => std::env::set_var("DBUS_SESSION_BUS_ADDRESS", v),
        None => std::env::remove_var("DBUS_SESSION_BUS_ADDRESS"),
    }
    assert!(
        matches!(
            err,
            RegistryError::Secrets(SecretsError::Unavailable { .. })
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "keychain_unavailable");
    assert!(
        err.to_string()
            .contains("never stores secrets anywhere else"),
        "{err}"
    );
    assert!(!format!("{err} {err:?}").contains(&secret));
    assert!(
        reg.list().await.unwrap().is_empty(),
        "no provider without its key"
    );
    reg.db().close().await;
    assert!(!contains(&db_bytes(&dir), &secret));
}

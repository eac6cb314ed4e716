//! The registry with secrets, against the real Secret Service (run under dbus-run-session with an
//! unlocked gnome-keyring; see docs/security.md). Keychain tests hold one lock: D-Bus races.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use handshake_core::egress::StaticResolver;
use handshake_core::registry::{
    ExtraHeaderValue, HeaderInput, HeaderValueInput, NewProvider, ProviderKind, ProviderRecord,
    ProviderRegistry, ProviderTier, ProviderUpdate, RegistryError, SecretState,
};
use handshake_core::secrets::Keychain;
use secrecy::{ExposeSecret, SecretString};

static KEYCHAIN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn key(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

async fn fresh(keychain: &Keychain) -> (tempfile::TempDir, ProviderRegistry) {
    common::require_keychain(keychain);
    common::registry(keychain.clone(), Arc::new(StaticResolver::new())).await
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

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn keys_live_in_the_keychain_and_are_sent_as_bearer() {
    let _k = KEYCHAIN.lock().await;
    let keychain = common::test_keychain("keys");
    let (dir, reg) = fresh(&keychain).await;
    let server = common::TestServer::json(r#"{"data":[{"id":"m"}]}"#).await;
    let secret = format!("sk-test-{}", uuid::Uuid::new_v4());
    let mut new = NewProvider::new(
        "vllm",
        ProviderKind::OpenaiCompat,
        ProviderTier::Local,
        server.url("/v1"),
    );
    new.api_key = Some(key(&format!("  {secret}\n")));
    let added = reg.add(new).await.unwrap();
    let handle = added.secret_handle.clone().unwrap();
    assert!(
        handle.as_str().ends_with("/provider/vllm/api_key"),
        "{handle}"
    );
    assert_eq!(
        keychain.get(&handle).unwrap().expose_secret(),
        secret,
        "stored trimmed, in the keychain"
    );
    assert!(
        !contains(&db_bytes(&dir), &secret),
        "the key is not in the database"
    );

    let test = reg.test_connection("vllm").await.unwrap();
    assert!(test.authenticated);
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some(format!("Bearer {secret}").as_str())
    );

    // A duplicate add never overwrites the stored key.
    let mut dup = NewProvider::new(
        "vllm",
        ProviderKind::OpenaiCompat,
        ProviderTier::Local,
        server.url("/v1"),
    );
    dup.api_key = Some(key("sk-other"));
    assert!(matches!(
        reg.add(dup).await,
        Err(RegistryError::DuplicateId { .. })
    ));
    assert_eq!(keychain.get(&handle).unwrap().expose_secret(), secret);

    // Rotation applies to the next call.
    let rotated = format!("sk-rotated-{}", uuid::Uuid::new_v4());
    reg.rotate_key("vllm", key(&rotated)).await.unwrap();
    reg.test_connection("vllm").await.unwrap();
    assert_eq!(
        server.requests()[1].header("authorization"),
        Some(format!("Bearer {rotated}").as_str())
    );

    // Deleting the key makes the provider keyless: no Authorization header at all.
    let record = reg.delete_key("vllm").await.unwrap();
    assert_eq!(record.secret_handle, None);
    assert!(!keychain.contains(&handle).unwrap());
    reg.test_connection("vllm").await.unwrap();
    assert_eq!(server.requests()[2].header("authorization"), None);
    assert!(matches!(
        reg.rotate_key("vllm", key("sk-x")).await,
        Err(RegistryError::NoKeyToRotate { .. })
    ));
    assert!(matches!(
        reg.set_key("vllm", key("  ")).await,
        Err(RegistryError::InvalidKey { .. })
    ));
    reg.set_key("vllm", key(&secret)).await.unwrap();
    assert_eq!(
        reg.secret_status("vllm").await.unwrap().api_key,
        SecretState::Stored
    );

    // Removing the provider removes its secrets.
    reg.remove("vllm").await.unwrap();
    assert!(!keychain.contains(&handle).unwrap());
}

#[tokio::test]
async fn secret_headers_go_to_the_keychain_and_plain_ones_to_the_database() {
    let _k = KEYCHAIN.lock().await;
    let keychain = common::test_keychain("headers");
    let (dir, reg) = fresh(&keychain).await;
    let server = common::TestServer::json(r#"{"data":[]}"#).await;
    let secret = format!("hdr-{}", uuid::Uuid::new_v4());
    let mut new = NewProvider::new(
        "gw",
        ProviderKind::OpenaiCompat,
        ProviderTier::Local,
        server.url("/v1"),
    );
    new.extra_headers = vec![
        HeaderInput::plain("X-Title", "Handshake"),
        HeaderInput::secret("X-Api-Key", key(&secret)),
    ];
    let added = reg.add(new).await.unwrap();
    let handle = match &added.extra_headers[1].value {
        ExtraHeaderValue::Secret { handle } => handle.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(keychain.get(&handle).unwrap().expose_secret(), secret);
    assert!(!contains(&db_bytes(&dir), &secret));
    assert!(contains(&db_bytes(&dir), "Handshake"));
    reg.test_connection("gw").await.unwrap();
    assert_eq!(
        server.requests()[0].header("x-api-key"),
        Some(secret.as_str())
    );
    assert_eq!(server.requests()[0].header("authorization"), None);

    // Keeping the secret by name, then dropping the header, which deletes it from the keychain.
    let keep = ProviderUpdate {
        extra_headers: Some(vec![HeaderInput {
            name: "x-api-key".into(),
            value: HeaderValueInput::KeepSecret,
        }]),
        ..Default::default()
    };
    let kept = reg.update("gw", keep).await.unwrap();
    assert_eq!(kept.extra_headers.len(), 1);
    assert!(keychain.contains(&handle).unwrap());
    let drop = ProviderUpdate {
        extra_headers: Some(Vec::new()),
        ..Default::default()
    };
    reg.update("gw", drop).await.unwrap();
    assert!(!keychain.contains(&handle).unwrap());
    reg.remove("gw").await.unwrap();
}

#[tokio::test]
async fn export_round_trips_through_import_into_a_fresh_database() {
    let _k = KEYCHAIN.lock().await;
    let keychain = common::test_keychain("export");
    let (_dir, reg) = fresh(&keychain).await;
    let secret = format!("sk-export-{}", uuid::Uuid::new_v4());
    let mut a = NewProvider::new(
        "openai",
        ProviderKind::OpenaiCompat,
        ProviderTier::Local,
        "http://127.0.0.1:8000/v1",
    );
    a.api_key = Some(key(&secret));
    a.extra_headers = vec![
        HeaderInput::plain("x-title", "t"),
        HeaderInput::secret("x-org-token", key(&secret)),
    ];
    a.default_model = Some("gpt-4o-mini".into());
    let mut b = NewProvider::new(
        "oll",
        ProviderKind::Ollama,
        ProviderTier::Local,
        "http://127.0.0.1:11434",
    );
    b.proxy_url = Some("http://127.0.0.1:3128".into());
    let c = NewProvider::new(
        "lan",
        ProviderKind::OpenaiCompat,
        ProviderTier::Local,
        "http://10.1.2.3:8080/v1",
    );
    for p in [a, b, c] {
        reg.add(p).await.unwrap();
    }
    let original: Vec<ProviderRecord> = reg.list().await.unwrap();
    let json = reg.export_json().await.unwrap();
    assert!(!json.contains(&secret), "no secret in the export");
    assert!(json.contains("\"$secret_handle\""), "{json}");
    assert!(json.contains("\"stored\": true"), "{json}");

    let (_dir2, fresh_reg) = fresh(&keychain).await;
    let report = fresh_reg.import_json(&json).await.unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let needs: Vec<(String, Vec<String>)> = report
        .imported
        .iter()
        .map(|i| (i.provider_id.clone(), i.needs_secrets.clone()))
        .collect();
    assert!(
        needs.contains(&(
            "openai".into(),
            vec!["api_key".into(), "header:x-org-token".into()]
        )),
        "{needs:?}"
    );
    assert!(needs.contains(&("oll".into(), vec![])));

    // The same records, except that secret handles belong to the new database's namespace.
    let imported = fresh_reg.list().await.unwrap();
    assert_eq!(imported.len(), original.len());
    let strip = |r: &ProviderRecord| {
        let mut r = r.clone();
        r.secret_handle = r
            .secret_handle
            .as_ref()
            .map(|_| handshake_core::secrets::SecretHandle::new("-"));
        for h in &mut r.extra_headers {
            if let ExtraHeaderValue::Secret { handle } = &mut h.value {
                *handle = handshake_core::secrets::SecretHandle::new("-");
            }
        }
        r
    };
    for (o, i) in original.iter().zip(&imported) {
        // An import is a new revision here: its `updated_at` is the import's time.
        assert!(i.updated_at >= o.updated_at, "{}", i.provider_id);
        let same_revision = ProviderRecord {
            updated_at: o.updated_at,
            ..i.clone()
        };
        assert_eq!(strip(o), strip(&same_revision));
    }
    let old_handle = original[2].secret_handle.clone().unwrap();
    let new_handle = imported[2].secret_handle.clone().unwrap();
    assert_ne!(old_handle, new_handle, "the databases share no handle");
    // The imported provider needs its key again; the original keeps its own.
    assert_eq!(
        fresh_reg.secret_status("openai").await.unwrap().api_key,
        SecretState::Missing
    );
    assert!(matches!(
        fresh_reg.endpoint("openai").await,
        Err(RegistryError::MissingSecret { .. })
    ));
    assert_eq!(keychain.get(&old_handle).unwrap().expose_secret(), secret);
    fresh_reg.set_key("openai", key("sk-new")).await.unwrap();
    let headers = vec![
        HeaderInput::plain("x-title", "t"),
        HeaderInput::secret("x-org-token", key("org-new")),
    ];
    let update = ProviderUpdate {
        extra_headers: Some(headers),
        ..Default::default()
    };
    fresh_reg.update("openai", update).await.unwrap();
    assert_eq!(
        fresh_reg
            .endpoint("openai")
            .await
            .unwrap()
            .wire
            .api_key
            .unwrap()
            .expose_secret(),
        "sk-new"
    );
    assert_eq!(keychain.get(&old_handle).unwrap().expose_secret(), secret);

    // Importing again rejects taken ids, and a crafted file is validated like an add.
    let again = fresh_reg.import_json(&json).await.unwrap();
    assert_eq!(again.rejected.len(), 3);
    assert!(again.rejected.iter().all(|r| r.code == "duplicate_id"));
    let crafted = json
        .replace("http://10.1.2.3:8080/v1", "http://169.254.169.254/")
        .replace("\"lan\"", "\"lan2\"");
    let report = fresh_reg.import_json(&crafted).await.unwrap();
    let lan2 = report
        .rejected
        .iter()
        .find(|r| r.provider_id == "lan2")
        .unwrap();
    assert_eq!(lan2.code, "egress_denied");
    assert!(matches!(
        fresh_reg.import_json("{}").await,
        Err(RegistryError::InvalidExport { .. })
    ));
    for r in [&reg, &fresh_reg] {
        for p in r.list().await.unwrap() {
            r.remove(&p.provider_id).await.unwrap();
        }
    }
}

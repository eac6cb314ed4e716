//! The facade's provider settings (what the desktop Providers screen calls) against real loopback
//! HTTP servers: list rows with key status, add/edit from a draft with field-named errors, the
//! connection test, and the first-start offer of a local Ollama. The key tests need the Secret
//! Service (run under dbus-run-session with an unlocked gnome-keyring; see docs/security.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use handshake_core::facade::{ProviderDraft, LOCAL_OLLAMA_ID};
use handshake_core::registry::{ProviderKind, ProviderTier, SecretState};
use handshake_core::secrets::Keychain;
use handshake_core::Handshake;
use secrecy::SecretString;

const TAGS: &str = r#"{"models":[{"name":"gemma3:270m","size":291},{"name":"gemma3:270m-alt"}]}"#;
const OPENAI_MODELS: &str =
    r#"{"object":"list","data":[{"id":"gemma3-270m","object":"model","owned_by":"me"}]}"#;

async fn open() -> (tempfile::TempDir, Handshake) {
    let dir = tempfile::tempdir().unwrap();
    let hs = Handshake::open(Some(dir.path().to_path_buf()))
        .await
        .unwrap();
    (dir, hs)
}

fn draft(id: &str, kind: ProviderKind, tier: ProviderTier, base_url: &str) -> ProviderDraft {
    ProviderDraft {
        provider_id: id.into(),
        display_name: format!("{id} server"),
        kind,
        tier,
        base_url: base_url.into(),
        default_model: Some("  ".into()),
        preset_id: None,
    }
}

#[tokio::test]
async fn first_start_offers_a_local_ollama_with_its_models_and_adds_it_in_one_step() {
    let (_dir, hs) = open().await;
    let server = common::TestServer::json(TAGS).await;
    let base = server.url("");

    let offer = hs.local_ollama_offer(&base).await.unwrap().expect("offer");
    assert_eq!(offer.provider_id, LOCAL_OLLAMA_ID);
    let ids: Vec<&str> = offer.models.iter().map(|m| m.model_id.as_str()).collect();
    assert_eq!(ids, ["ollama/gemma3:270m", "ollama/gemma3:270m-alt"]);
    assert_eq!(offer.models[0].size_bytes, Some(291));
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("GET", "/api/tags")
    );

    let row = hs
        .accept_local_ollama(&offer.base_url, Some(offer.models[0].name.clone()))
        .await
        .unwrap();
    assert_eq!(row.provider_id, "ollama");
    assert_eq!(
        (row.kind, row.tier),
        (ProviderKind::Ollama, ProviderTier::Local)
    );
    assert_eq!(row.default_model.as_deref(), Some("gemma3:270m"));
    assert_eq!(row.api_key, SecretState::NotSet);
    assert_eq!(hs.provider_rows().await.unwrap(), vec![row]);

    // Once a provider exists there is no first start any more: no offer, no probe.
    assert!(hs.local_ollama_offer(&base).await.unwrap().is_none());
    assert_eq!(server.requests().len(), 1);
    // Accepting twice names the duplicate id.
    let again = hs.accept_local_ollama(&base, None).await.unwrap_err();
    assert_eq!(again.code(), "duplicate_id");
    assert_eq!(again.field(), Some("provider_id"));
}

#[tokio::test]
async fn no_offer_when_nothing_usable_answers() {
    let (_dir, hs) = open().await;
    let refused = common::refused_port().await;
    let base = format!("http://127.0.0.1:{refused}");
    assert!(hs.local_ollama_offer(&base).await.unwrap().is_none());

    let failing = common::TestServer::start(|_| Some((500, "{}".into()))).await;
    assert!(hs
        .local_ollama_offer(&failing.url(""))
        .await
        .unwrap()
        .is_none());
    let not_ollama = common::TestServer::json(r#"{"hello":"world"}"#).await;
    assert!(hs
        .local_ollama_offer(&not_ollama.url(""))
        .await
        .unwrap()
        .is_none());

    // A server that accepts and never answers costs the first start at most the short timeout.
    let hanging = common::TestServer::start(|_| None).await;
    let started = Instant::now();
    assert!(hs
        .local_ollama_offer(&hanging.url(""))
        .await
        .unwrap()
        .is_none());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(hanging.requests().len(), 1);

    // A public address is not a local Ollama: refused by the egress policy, never contacted.
    assert!(hs
        .local_ollama_offer("http://93.184.216.34:11434")
        .await
        .unwrap()
        .is_none());
    assert!(hs.local_ollama_offer("not a url").await.unwrap().is_none());
}

#[tokio::test]
async fn form_errors_name_the_field_the_form_marks() {
    let (_dir, hs) = open().await;
    // A cloud-tier provider on a loopback address: the core refuses it against the tier.
    let err = hs
        .add_provider(
            draft(
                "cloudy",
                ProviderKind::OpenaiCompat,
                ProviderTier::Cloud,
                "http://127.0.0.1:9/v1",
            ),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "tier_mismatch");
    assert_eq!(err.field(), Some("tier"));
    assert!(err.to_string().contains("cloud"), "{err}");

    let err = hs
        .add_provider(
            draft(
                "bad",
                ProviderKind::OpenaiCompat,
                ProviderTier::Local,
                "ftp://127.0.0.1/v1",
            ),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("base_url"));
    let err = hs
        .add_provider(
            draft(
                "Bad Id",
                ProviderKind::Ollama,
                ProviderTier::Local,
                "http://127.0.0.1:11434",
            ),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("provider_id"));
    assert!(hs.provider_rows().await.unwrap().is_empty());

    let missing = hs.test_provider("ghost").await.unwrap_err();
    assert_eq!(missing.code(), "provider_not_found");
    assert_eq!(
        hs.remove_provider("ghost").await.unwrap_err().code(),
        "provider_not_found"
    );
}

#[tokio::test]
async fn edit_and_test_connection_report_latency_and_models() {
    let (_dir, hs) = open().await;
    let server = common::TestServer::json(OPENAI_MODELS).await;
    let mut new = draft(
        "vllm",
        ProviderKind::OpenaiCompat,
        ProviderTier::Local,
        &server.url("/v1"),
    );
    new.preset_id = Some("vllm".into());
    let row = hs.add_provider(new, None).await.unwrap();
    assert_eq!(row.default_model, None, "a blank default model is none");
    assert_eq!(row.display_name, "vllm server");

    let report = hs.test_provider("vllm").await.unwrap();
    assert_eq!(report.status, 200);
    assert!(!report.authenticated);
    assert!(report.total_ms >= report.latency_ms);
    assert_eq!(report.models.len(), 1);
    assert_eq!(report.models[0].model_id, "vllm/gemma3-270m");
    assert_eq!(server.requests()[0].path, "/v1/models");

    let mut edit = draft(
        "ignored",
        ProviderKind::OpenaiCompat,
        ProviderTier::Local,
        &server.url("/v1"),
    );
    edit.display_name = "My vLLM".into();
    edit.default_model = Some("gemma3-270m".into());
    let edited = hs.update_provider("vllm", edit.clone()).await.unwrap();
    assert_eq!(edited.provider_id, "vllm");
    assert_eq!(edited.display_name, "My vLLM");
    assert_eq!(edited.default_model.as_deref(), Some("gemma3-270m"));

    // An edit that makes it cloud tier on a loopback address is refused and changes nothing.
    edit.tier = ProviderTier::Cloud;
    let err = hs.update_provider("vllm", edit).await.unwrap_err();
    assert_eq!(err.code(), "tier_mismatch");
    assert_eq!(hs.provider_row("vllm").await.unwrap(), edited);

    // A server that went away: a typed call failure, not a hang.
    drop(server);
    let refused = common::refused_port().await;
    let mut gone = draft(
        "x",
        ProviderKind::OpenaiCompat,
        ProviderTier::Local,
        &format!("http://127.0.0.1:{refused}/v1"),
    );
    gone.display_name = "My vLLM".into();
    hs.update_provider("vllm", gone).await.unwrap();
    let err = hs.test_provider("vllm").await.unwrap_err();
    assert_eq!(err.code(), "call_failed");

    hs.remove_provider("vllm").await.unwrap();
    assert!(hs.provider_rows().await.unwrap().is_empty());
}

#[tokio::test]
async fn api_keys_show_only_as_stored_or_not() {
    common::require_keychain(&Keychain::new());
    let (_dir, hs) = open().await;
    let server = common::TestServer::json(OPENAI_MODELS).await;
    let secret = format!("sk-facade-{}", uuid::Uuid::new_v4());
    let row = hs
        .add_provider(
            draft(
                "keyed",
                ProviderKind::OpenaiCompat,
                ProviderTier::Local,
                &server.url("/v1"),
            ),
            Some(SecretString::from(secret.clone())),
        )
        .await
        .unwrap();
    assert_eq!(row.api_key, SecretState::Stored);
    let shown = serde_json::to_string(&hs.provider_rows().await.unwrap()).unwrap();
    assert!(!shown.contains(&secret), "{shown}");
    assert!(shown.contains(r#""api_key":"stored""#), "{shown}");

    let report = hs.test_provider("keyed").await.unwrap();
    assert!(report.authenticated);
    let auth = server.requests()[0]
        .header("authorization")
        .map(str::to_owned);
    assert_eq!(auth, Some(format!("Bearer {secret}")));

    let removed = hs.delete_provider_key("keyed").await.unwrap();
    assert_eq!(removed.api_key, SecretState::NotSet);
    let blank = hs
        .set_provider_key("keyed", SecretString::from("   ".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(blank.field(), Some("api_key"));
    assert!(!blank.to_string().contains(&secret));
    let replaced = hs
        .set_provider_key("keyed", SecretString::from(format!("{secret}-2")))
        .await
        .unwrap();
    assert_eq!(replaced.api_key, SecretState::Stored);
    hs.remove_provider("keyed").await.unwrap();
    assert!(hs.provider_rows().await.unwrap().is_empty());
}

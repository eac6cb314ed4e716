//! The registry without secrets: validation with typed, field-named errors, tier against
//! address (literals and names resolved by a map resolver), persistence in a real SQLite file,
//! keyless connection tests and model lists against loopback servers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use handshake_core::db::Database;
use handshake_core::egress::{EgressRule, StaticResolver};
use handshake_core::llm::{LlmError, TimeoutPhase};
use handshake_core::registry::{
    preset, NewProvider, ProviderField, ProviderKind, ProviderRegistry, ProviderTier,
    ProviderUpdate, RegistryError, Timeouts,
};

use ProviderKind::{Ollama, OpenaiCompat};
use ProviderTier::{Cloud, Local};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn resolver() -> Arc<StaticResolver> {
    Arc::new(
        StaticResolver::new()
            .with("gpu-box.lan", &[ip("192.168.1.50")])
            .with("imds.test", &[ip("169.254.169.254")])
            .with("api.example.com", &[ip("8.8.8.8")])
            .with("rebind.test", &[ip("8.8.8.8"), ip("127.0.0.1")]),
    )
}

async fn fresh() -> (tempfile::TempDir, ProviderRegistry) {
    common::registry(common::test_keychain("validation"), resolver()).await
}

#[tokio::test]
async fn add_get_list_update_remove_persist() {
    let (dir, reg) = fresh().await;
    let server = common::TestServer::json(r#"{"models":[]}"#).await;
    let mut new = NewProvider::new("oll", Ollama, Local, server.url(""));
    new.display_name = "  My Ollama ".into();
    new.default_model = Some("gemma3:270m".into());
    let added = reg.add(new).await.unwrap();
    assert_eq!(added.display_name, "My Ollama");
    assert_eq!(added.secret_handle, None);
    assert_eq!(reg.get("oll").await.unwrap(), added);
    let lan = reg
        .add(NewProvider::new(
            "lan",
            OpenaiCompat,
            Local,
            "http://gpu-box.lan:8000/v1",
        ))
        .await
        .unwrap();
    assert_eq!(reg.list().await.unwrap(), vec![lan.clone(), added.clone()]);

    let updated = reg
        .update(
            "lan",
            ProviderUpdate {
                display_name: Some("GPU box".into()),
                default_model: Some(Some("qwen".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.display_name, "GPU box");
    assert!(updated.updated_at > lan.updated_at);
    assert_eq!(updated.created_at, lan.created_at);

    // Everything survives closing and reopening the database file.
    reg.db().close().await;
    let db = Database::open(dir.path()).await.unwrap();
    let reg = ProviderRegistry::with_resolver(db, common::test_keychain("validation"), resolver());
    assert_eq!(reg.get("lan").await.unwrap(), updated);
    assert_eq!(reg.get("oll").await.unwrap(), added);

    reg.remove("lan").await.unwrap();
    assert!(matches!(
        reg.get("lan").await,
        Err(RegistryError::NotFound { .. })
    ));
    assert!(matches!(
        reg.remove("lan").await,
        Err(RegistryError::NotFound { .. })
    ));
    assert_eq!(reg.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_input_is_refused_with_the_field_named() {
    let (_dir, reg) = fresh().await;
    reg.add(NewProvider::new(
        "oll",
        Ollama,
        Local,
        "http://127.0.0.1:11434",
    ))
    .await
    .unwrap();
    let cases: Vec<(NewProvider, &str, ProviderField)> = vec![
        (
            NewProvider::new("oll", Ollama, Local, "http://127.0.0.1:11434"),
            "duplicate_id",
            ProviderField::ProviderId,
        ),
        (
            NewProvider::new("Bad/Id", Ollama, Local, "http://127.0.0.1:11434"),
            "invalid_id",
            ProviderField::ProviderId,
        ),
        (
            NewProvider::new("a/b", Ollama, Local, "http://127.0.0.1:11434"),
            "invalid_id",
            ProviderField::ProviderId,
        ),
        (
            NewProvider::new("x", OpenaiCompat, Cloud, "not a url"),
            "invalid_url",
            ProviderField::BaseUrl,
        ),
        (
            NewProvider::new("x", OpenaiCompat, Cloud, "ftp://api.example.com"),
            "unsupported_scheme",
            ProviderField::BaseUrl,
        ),
        // Stored in another form than typed (a parser reads `\` as `/`, and `@` after the host
        // reads as another host): refused.
        (
            NewProvider::new(
                "x",
                OpenaiCompat,
                Cloud,
                "https://api.example.com\\@127.0.0.1/",
            ),
            "invalid_url",
            ProviderField::BaseUrl,
        ),
        (
            NewProvider::new("x", OpenaiCompat, Local, "http://127.0.0.1:8000\\v1"),
            "invalid_url",
            ProviderField::BaseUrl,
        ),
        (
            NewProvider::new(
                "x",
                OpenaiCompat,
                Cloud,
                "https://api.example.com/@127.0.0.1/v1",
            ),
            "invalid_url",
            ProviderField::BaseUrl,
        ),
        (
            NewProvider::new(
                "x",
                OpenaiCompat,
                Cloud,
                "https://u:sk-1@api.example.com/v1",
            ),
            "userinfo_in_url",
            ProviderField::BaseUrl,
        ),
        (
            NewProvider::new(
                "x",
                OpenaiCompat,
                Cloud,
                "https://api.example.com/v1?api_key=sk-1",
            ),
            "secret_in_query",
            ProviderField::BaseUrl,
        ),
        (
            NewProvider::new(
                "x",
                OpenaiCompat,
                Cloud,
                "https://api.example.com/v1?token=sk-1",
            ),
            "secret_in_query",
            ProviderField::BaseUrl,
        ),
        (
            NewProvider::new("x", OpenaiCompat, Cloud, "http://api.example.com/v1"),
            "egress_denied",
            ProviderField::BaseUrl,
        ),
        // Tier against address: literals, and names resolved now.
        (
            NewProvider::new("x", OpenaiCompat, Local, "http://8.8.8.8/v1"),
            "tier_mismatch",
            ProviderField::Tier,
        ),
        (
            NewProvider::new("x", OpenaiCompat, Cloud, "https://10.0.0.2/v1"),
            "tier_mismatch",
            ProviderField::Tier,
        ),
        (
            NewProvider::new("x", OpenaiCompat, Cloud, "https://gpu-box.lan/v1"),
            "tier_mismatch",
            ProviderField::Tier,
        ),
        (
            NewProvider::new("x", OpenaiCompat, Local, "http://api.example.com/v1"),
            "tier_mismatch",
            ProviderField::Tier,
        ),
        (
            NewProvider::new("x", OpenaiCompat, Local, "http://rebind.test/v1"),
            "tier_mismatch",
            ProviderField::Tier,
        ),
        (
            NewProvider::new("x", OpenaiCompat, Local, "http://imds.test/"),
            "egress_denied",
            ProviderField::BaseUrl,
        ),
        (
            NewProvider::new("x", OpenaiCompat, Cloud, "https://imds.test/"),
            "egress_denied",
            ProviderField::BaseUrl,
        ),
        (
            NewProvider::new("x", OpenaiCompat, Local, "http://[fe80::1]/"),
            "egress_denied",
            ProviderField::BaseUrl,
        ),
    ];
    for (new, code, field) in cases {
        let url = new.base_url.clone();
        let err = reg.add(new).await.expect_err(&url);
        assert_eq!(err.code(), code, "{url}: {err}");
        assert_eq!(err.field(), Some(field), "{url}: {err}");
    }
    let err = reg
        .add(NewProvider::new(
            "x",
            OpenaiCompat,
            Local,
            "http://imds.test/",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.egress_denied().unwrap().rule, EgressRule::Metadata);
    assert!(
        err.to_string()
            .contains("imds.test:80 -> 169.254.169.254:80"),
        "{err}"
    );
    let mut bad_timeouts = NewProvider::new("x", Ollama, Local, "http://127.0.0.1:1");
    bad_timeouts.timeouts = Timeouts {
        connect_ms: 0,
        ..Timeouts::default()
    };
    assert_eq!(
        reg.add(bad_timeouts).await.unwrap_err().field(),
        Some(ProviderField::Timeouts)
    );
    assert!(matches!(
        "gemini"
            .parse::<ProviderKind>()
            .map_err(RegistryError::from),
        Err(RegistryError::UnknownKind { .. })
    ));
    assert_eq!(
        "openai-compat".parse::<ProviderKind>().unwrap(),
        OpenaiCompat
    );
    assert!(matches!(
        "edge".parse::<ProviderTier>().map_err(RegistryError::from),
        Err(RegistryError::UnknownTier { .. })
    ));
    // Nothing but the first provider was stored.
    assert_eq!(reg.list().await.unwrap().len(), 1);
    // An update is checked the same way.
    let err = reg
        .update(
            "oll",
            ProviderUpdate {
                tier: Some(Cloud),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "tier_mismatch", "{err}");
    let err = reg
        .update(
            "oll",
            ProviderUpdate {
                base_url: Some("http://8.8.8.8:11434".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "tier_mismatch");
}

#[tokio::test]
async fn a_name_that_does_not_resolve_now_is_accepted_and_checked_on_connect() {
    let (_dir, reg) = fresh().await;
    // The preset's `localhost` is not in the map resolver: accepted, refused at connect time.
    let added = reg
        .add(preset("ollama").unwrap().new_provider("ollama"))
        .await
        .unwrap();
    assert_eq!(added.base_url, "http://localhost:11434/");
    let err = reg.test_connection("ollama").await.unwrap_err();
    match err {
        RegistryError::Call {
            error: LlmError::Unreachable { reason },
            ..
        } => assert!(reason.contains("localhost"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn keyless_connection_test_lists_models_and_sends_no_authorization() {
    let (_dir, reg) = fresh().await;
    let ollama = common::TestServer::json(
        r#"{"models":[{"name":"gemma3:270m","model":"gemma3:270m","size":291554930}]}"#,
    )
    .await;
    reg.add(NewProvider::new("oll", Ollama, Local, ollama.url("")))
        .await
        .unwrap();
    let test = reg.test_connection("oll").await.unwrap();
    assert_eq!(test.status, 200);
    assert!(!test.authenticated);
    assert_eq!(test.url, ollama.url("/api/tags"));
    assert_eq!(test.models.len(), 1);
    assert_eq!(test.models[0].model_id, "oll/gemma3:270m");
    assert_eq!(test.models[0].size_bytes, Some(291554930));
    assert!(test.latency_ms <= test.total_ms);
    let seen = ollama.requests();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, "/api/tags");
    assert_eq!(seen[0].header("authorization"), None);

    for (body, names) in [
        (
            r#"{"object":"list","data":[{"id":"m1","owned_by":"me"},{"id":"m2"}]}"#,
            vec!["m1", "m2"],
        ),
        (r#"[{"id":"bare"}]"#, vec!["bare"]),
        (
            r#"{"models":[{"name":"n1"},{"id":"n2"}]}"#,
            vec!["n1", "n2"],
        ),
    ] {
        let server = common::TestServer::json(body).await;
        reg.update(
            "oll",
            ProviderUpdate {
                kind: Some(OpenaiCompat),
                base_url: Some(server.url("/v1")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let models = reg.list_models("oll").await.unwrap();
        assert_eq!(
            models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            names
        );
        assert_eq!(
            server.requests()[0].path,
            "/v1/models",
            "the client was rebuilt for the new base_url"
        );
    }
}

#[tokio::test]
async fn failures_are_typed() {
    let (_dir, reg) = fresh().await;
    let unauthorized =
        common::TestServer::start(|_| Some((401, r#"{"error":"bad key"}"#.into()))).await;
    let hang = common::TestServer::start(|_| None).await;
    let malformed = common::TestServer::json("<html>").await;
    let port = common::refused_port().await;
    let mut new = NewProvider::new("p", OpenaiCompat, Local, unauthorized.url("/v1"));
    new.timeouts = Timeouts {
        connect_ms: 500,
        first_byte_ms: 300,
        idle_ms: 300,
        total_ms: 1_000,
    };
    reg.add(new).await.unwrap();
    let call = |e: RegistryError| match e {
        RegistryError::Call { error, .. } => error,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        call(reg.test_connection("p").await.unwrap_err()),
        LlmError::Unauthorized
    ));
    let set = |url: String| ProviderUpdate {
        base_url: Some(url),
        ..Default::default()
    };
    reg.update("p", set(hang.url("/v1"))).await.unwrap();
    assert!(matches!(
        call(reg.test_connection("p").await.unwrap_err()),
        LlmError::Timeout {
            phase: TimeoutPhase::FirstByte
        }
    ));
    reg.update("p", set(format!("http://127.0.0.1:{port}/v1")))
        .await
        .unwrap();
    assert!(matches!(
        call(reg.test_connection("p").await.unwrap_err()),
        LlmError::Unreachable { .. }
    ));
    reg.update("p", set(malformed.url("/v1"))).await.unwrap();
    assert!(matches!(
        call(reg.list_models("p").await.unwrap_err()),
        LlmError::MalformedResponse { .. }
    ));
    assert!(matches!(
        reg.test_connection("nope").await,
        Err(RegistryError::NotFound { .. })
    ));
}

#[tokio::test]
async fn endpoint_hands_adapters_an_egress_checked_client() {
    let (_dir, reg) = fresh().await;
    let server = common::TestServer::json(r#"{"data":[]}"#).await;
    let mut new = NewProvider::new("vllm", OpenaiCompat, Local, server.url("/v1"));
    new.extra_headers = vec![handshake_core::registry::HeaderInput::plain(
        "X-Title",
        "Handshake",
    )];
    reg.add(new).await.unwrap();
    let endpoint = reg.endpoint("vllm").await.unwrap();
    assert_eq!(endpoint.kind, OpenaiCompat);
    let endpoint = endpoint.wire;
    assert!(endpoint.api_key.is_none());
    let url = endpoint.url("chat/completions").unwrap();
    assert_eq!(url.as_str(), server.url("/v1/chat/completions"));
    let response = endpoint
        .http
        .post(url)
        .headers(endpoint.headers().unwrap())
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.requests()[0].header("x-title"), Some("Handshake"));
    // The same client refuses to leave the base_url.
    let err = endpoint
        .http
        .get("http://169.254.169.254/latest/meta-data/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        handshake_core::egress::find_denial(&err).unwrap().rule,
        EgressRule::OutsideBaseUrl
    );
}

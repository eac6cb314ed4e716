//! Routes around the guard that do not start at the guard: a profile fallback from a local model
//! to a cloud one, a local provider re-pointed at a public address, and (with the `test-egress`
//! feature) a cloud-tier provider from the registry. None reaches the loopback server without
//! consent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod consent_common;

use std::sync::Arc;

use consent_common::*;
use handshake_core::consent::{EscalationRequest, GovernedClient, UiSurface};
use handshake_core::egress::StaticResolver;
use handshake_core::profiles::{
    resolve_for_job, Availability, CandidateSlot, ModelHealth, ResolveRequest, Role,
};
use handshake_core::recorder::{DenyReason, EventType};
use handshake_core::registry::{
    NewProvider, ProviderKind, ProviderRegistry, ProviderTier, ProviderUpdate,
};
use handshake_core::secrets::Keychain;

/// The local worker model is down; everything else is up.
struct LocalDown;

impl ModelHealth for LocalDown {
    fn availability(&self, model_id: &str) -> Availability {
        if model_id == "oll/qwen3:8b" {
            Availability::Unavailable
        } else {
            Availability::Available
        }
    }
}

#[tokio::test]
async fn a_fallback_from_local_to_cloud_goes_through_the_guard() {
    let ws = Workspace::new(profile("wp-fallback", "HYBRID", true, None)).await;
    let server = WireServer::start().await;
    let resolution = resolve_for_job(
        &ws.jobs,
        &ws.job_id,
        &ResolveRequest::role(Role::Worker),
        &catalog(),
        &LocalDown,
    )
    .await
    .unwrap();
    assert!(resolution.crossed_to_cloud && resolution.requires_escalation);
    assert_eq!(resolution.chosen_slot, CandidateSlot::Fallback);
    assert_eq!(resolution.chosen_model_id, CLOUD_MODEL);
    // The client for the chosen model comes back only behind the gate.
    let client = HttpChatClient::new(
        reqwest::Client::new(),
        server.base_url(),
        &resolution.chosen_model_id,
        ProviderTier::Cloud,
    );
    let GovernedClient::Cloud(gate) =
        GovernedClient::new(Arc::new(client), &ws.guard, destination())
    else {
        panic!("a cloud-tier client must come back gated");
    };
    let request =
        EscalationRequest::for_resolution(&resolution, &ws.profile, destination(), "fix the build")
            .unwrap();
    assert!(!request.local_only);
    let pending = ws.guard.request_escalation(request).await.unwrap();
    let err = ws
        .guard
        .execute_approved(&pending.escalation_id, &gate)
        .await
        .unwrap_err();
    assert_eq!(err.deny_reason(), Some(DenyReason::NoReceipt));
    assert!(server.requests().is_empty());
    assert_eq!(ws.denial_reasons().await, vec!["no_receipt"]);
    ws.guard
        .approve(
            &pending.escalation_id,
            person(UiSurface::CloudEscalationModal),
        )
        .await
        .unwrap();
    ws.guard
        .execute_approved(&pending.escalation_id, &gate)
        .await
        .unwrap();
    assert_eq!(server.prompts(), vec!["fix the build".to_owned()]);
    assert_eq!(ws.events(EventType::CloudExecuted).await.len(), 1);
    // A local client is handed out as is.
    let local = HttpChatClient::new(
        reqwest::Client::new(),
        server.base_url(),
        "oll/qwen3:8b",
        ProviderTier::Local,
    );
    assert!(!GovernedClient::new(Arc::new(local), &ws.guard, destination()).is_cloud());
}

#[tokio::test]
async fn a_local_only_assignment_resolved_to_cloud_is_denied() {
    let ws = Workspace::new(profile("wp-lo", "HYBRID", true, None)).await;
    let mut resolution = resolve_for_job(
        &ws.jobs,
        &ws.job_id,
        &ResolveRequest::role(Role::Frontend),
        &catalog(),
        &LocalDown,
    )
    .await
    .unwrap();
    // Whatever hands the guard a cloud model for the local_only frontend is refused.
    resolution.chosen_model_id = CLOUD_MODEL.into();
    let request =
        EscalationRequest::for_resolution(&resolution, &ws.profile, destination(), "hi").unwrap();
    assert!(request.local_only);
    let err = ws.guard.request_escalation(request).await.unwrap_err();
    assert_eq!(err.deny_reason(), Some(DenyReason::LocalOnly));
    assert_eq!(ws.denial_reasons().await, vec!["local_only"]);
}

async fn registry() -> (tempfile::TempDir, ProviderRegistry) {
    let dir = tempfile::tempdir().unwrap();
    let db = handshake_core::db::Database::open(dir.path())
        .await
        .unwrap();
    let resolver = StaticResolver::new()
        .with("api.example.com", &["8.8.8.8".parse().unwrap()])
        .with(
            "rebind.test",
            &["127.0.0.1".parse().unwrap(), "8.8.4.4".parse().unwrap()],
        );
    let keychain = Keychain::with_service(format!(
        "dev.handshake.test.consent.{}",
        uuid::Uuid::new_v4()
    ));
    (
        dir,
        ProviderRegistry::with_resolver(db, keychain, Arc::new(resolver)),
    )
}

#[tokio::test]
async fn a_local_provider_repointed_at_a_public_address_is_refused() {
    let (_dir, reg) = registry().await;
    let server = WireServer::start().await;
    reg.add(NewProvider::new(
        "lan",
        ProviderKind::OpenaiCompat,
        ProviderTier::Local,
        server.base_url(),
    ))
    .await
    .unwrap();
    for public in [
        "http://8.8.8.8:11434/v1",
        "https://api.example.com/v1",
        "http://rebind.test:8080/v1",
    ] {
        let err = reg
            .update(
                "lan",
                ProviderUpdate {
                    base_url: Some(public.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "tier_mismatch", "{public}: {err}");
    }
    // The stored provider is unchanged and still local.
    let stored = reg.get("lan").await.unwrap();
    assert_eq!(stored.tier, ProviderTier::Local);
    assert!(
        stored.base_url.starts_with(&server.base_url()),
        "{}",
        stored.base_url
    );
    assert!(server.requests().is_empty());
}

/// With `--features test-egress`: a cloud-tier provider registered in the registry, reaching the
/// loopback server through the registry's egress-checked client, is only callable through the
/// gate, and a local provider re-pointed at that "public" server is refused.
#[cfg(feature = "test-egress")]
#[tokio::test]
async fn a_registry_cloud_provider_is_only_reachable_through_the_gate() {
    let server = WireServer::start().await;
    std::env::set_var(
        handshake_core::egress::TEST_PUBLIC_ADDRS_ENV,
        server.addr.to_string(),
    );
    let (_dir, reg) = registry().await;
    reg.add(NewProvider::new(
        "open",
        ProviderKind::OpenaiCompat,
        ProviderTier::Cloud,
        server.base_url(),
    ))
    .await
    .unwrap();
    let local_port = WireServer::start().await;
    reg.add(NewProvider::new(
        "lan",
        ProviderKind::OpenaiCompat,
        ProviderTier::Local,
        local_port.base_url(),
    ))
    .await
    .unwrap();
    let err = reg
        .update(
            "lan",
            ProviderUpdate {
                base_url: Some(server.base_url()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "tier_mismatch", "{err}");

    let ws = Workspace::new(profile("wp-reg", "HYBRID", true, None)).await;
    let endpoint = reg.endpoint("open").await.unwrap();
    let client = HttpChatClient::new(
        endpoint.wire.http.clone(),
        endpoint
            .wire
            .base_url
            .as_str()
            .trim_end_matches('/')
            .to_owned(),
        CLOUD_MODEL,
        endpoint.wire.tier,
    );
    let GovernedClient::Cloud(gate) =
        GovernedClient::new(Arc::new(client), &ws.guard, destination())
    else {
        panic!("a cloud-tier client must come back gated");
    };
    let pending = ws
        .guard
        .request_escalation(ws.request("via registry"))
        .await
        .unwrap();
    let err = ws
        .guard
        .execute_approved(&pending.escalation_id, &gate)
        .await
        .unwrap_err();
    assert_eq!(err.deny_reason(), Some(DenyReason::NoReceipt));
    assert!(server.requests().is_empty());
    ws.guard
        .approve(&pending.escalation_id, person(UiSurface::OperatorConsole))
        .await
        .unwrap();
    ws.guard
        .execute_approved(&pending.escalation_id, &gate)
        .await
        .unwrap();
    assert_eq!(server.prompts(), vec!["via registry".to_owned()]);
    assert_eq!(ws.events(EventType::CloudExecuted).await.len(), 1);
    std::env::remove_var(handshake_core::egress::TEST_PUBLIC_ADDRS_ENV);
}

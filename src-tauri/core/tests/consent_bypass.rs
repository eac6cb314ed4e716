//! Attempts to get around the cloud escalation guard, each of which must be blocked, recorded
//! as FR-EVT-CLOUD-003 with the right reason, and leave the loopback "cloud" server untouched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod consent_common;

use std::sync::Arc;
use std::time::Duration;

use consent_common::*;
use handshake_core::consent::{
    CloudEscalationGuard, CloudGate, ConsentError, EscalationRequest, EscalationStatus,
    GovernanceMode, GuardConfig, UiSurface,
};
use handshake_core::llm::{
    CompletionRequest, CompletionResponse, CompletionStream, LlmClient, LlmError, ModelProfile,
    OpenAiCompatClient,
};
use handshake_core::llm::{OpenAiCompatOptions, WireConfig};
use handshake_core::recorder::{DenyReason, EventType, Sha256Hex};
use handshake_core::vocab::{Destination, ProviderTier, Timeouts};

fn denied(result: Result<impl std::fmt::Debug, ConsentError>) -> DenyReason {
    match result {
        Err(e) => e
            .deny_reason()
            .unwrap_or_else(|| panic!("not a denial: {e:?}")),
        Ok(v) => panic!("expected a denial, got {v:?}"),
    }
}

async fn hybrid() -> Workspace {
    Workspace::new(profile("wp-hybrid", "HYBRID", true, None)).await
}

#[tokio::test]
async fn an_approved_escalation_sends_exactly_the_approved_bytes_once() {
    let ws = hybrid().await;
    let server = WireServer::start().await;
    let gate = ws.gate(&server);
    let pending = ws
        .guard
        .request_escalation(ws.request("summarise the notes of dave@example.com"))
        .await
        .unwrap();
    assert_eq!(pending.status, EscalationStatus::Pending);
    assert_eq!(pending.preview, "summarise the notes of [REDACTED:email]");
    assert_eq!(pending.plan.redactions_applied, vec!["email"]);
    assert_eq!(
        pending.plan.payload_sha256,
        Sha256Hex::digest(pending.preview.as_bytes()).as_str()
    );
    assert_eq!(pending.binding.model_id, CLOUD_MODEL);
    assert_eq!(pending.binding.provider_id, "open");
    assert!(pending.requires_person);
    let receipt = ws
        .guard
        .approve(
            &pending.escalation_id,
            person(UiSurface::CloudEscalationModal),
        )
        .await
        .unwrap();
    assert!(receipt.approved);
    assert_eq!(receipt.payload_sha256, pending.plan.payload_sha256);
    assert_eq!(receipt.projection_plan_id, pending.escalation_id);
    let answer = ws
        .guard
        .execute_approved(&pending.escalation_id, &gate)
        .await
        .unwrap();
    assert_eq!(answer.text, "done");
    assert_eq!(server.prompts(), vec![pending.preview.clone()]);
    let executed = ws.events(EventType::CloudExecuted).await;
    assert_eq!(executed.len(), 1);
    assert_eq!(executed[0]["payload_sha256"], pending.plan.payload_sha256);
    assert_eq!(executed[0]["outcome"]["status"], "dispatched");
    assert_eq!(ws.events(EventType::CloudRequested).await.len(), 1);
    assert_eq!(ws.events(EventType::CloudApproved).await.len(), 1);
    assert_eq!(
        ws.guard.show(&pending.escalation_id).await.unwrap().status,
        EscalationStatus::Executed
    );
    assert_eq!(ws.jobs.get(&ws.job_id).await.unwrap().cloud_escalations, 1);
}

#[tokio::test]
async fn no_receipt_is_denied_and_nothing_is_sent() {
    let ws = hybrid().await;
    let server = WireServer::start().await;
    let pending = ws
        .guard
        .request_escalation(ws.request("hello"))
        .await
        .unwrap();
    let reason = denied(
        ws.guard
            .execute_approved(&pending.escalation_id, &ws.gate(&server))
            .await,
    );
    assert_eq!(reason, DenyReason::NoReceipt);
    // A made-up receipt id is no receipt either.
    let reason = denied(
        ws.guard
            .authorize(&pending.escalation_id, "cr-forged")
            .await,
    );
    assert_eq!(reason, DenyReason::NoReceipt);
    assert_eq!(ws.denial_reasons().await, vec!["no_receipt", "no_receipt"]);
    assert!(server.requests().is_empty());
    // Still pending: the person can still answer.
    assert_eq!(ws.guard.list_pending().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_denied_receipt_is_a_denial() {
    let ws = hybrid().await;
    let server = WireServer::start().await;
    let pending = ws
        .guard
        .request_escalation(ws.request("hello"))
        .await
        .unwrap();
    let receipt = ws
        .guard
        .deny(&pending.escalation_id, person(UiSurface::OperatorConsole))
        .await
        .unwrap();
    assert!(!receipt.approved);
    let reason = denied(
        ws.guard
            .execute_approved(&pending.escalation_id, &ws.gate(&server))
            .await,
    );
    assert_eq!(reason, DenyReason::Person);
    let reason = denied(
        ws.guard
            .authorize(&pending.escalation_id, &receipt.consent_receipt_id)
            .await,
    );
    assert_eq!(reason, DenyReason::Person);
    // A decided escalation cannot be approved afterwards.
    let err = ws
        .guard
        .approve(
            &pending.escalation_id,
            person(UiSurface::CloudEscalationModal),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "already_decided");
    assert_eq!(
        ws.denial_reasons().await,
        vec!["person", "person", "person"]
    );
    assert!(ws.events(EventType::CloudApproved).await.is_empty());
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_receipt_for_another_plan_is_refused_even_with_the_same_payload() {
    let ws = hybrid().await;
    let server = WireServer::start().await;
    let a = ws
        .guard
        .request_escalation(ws.request("same text"))
        .await
        .unwrap();
    let b = ws
        .guard
        .request_escalation(ws.request("same text"))
        .await
        .unwrap();
    assert_eq!(a.plan.payload_sha256, b.plan.payload_sha256);
    let receipt_b = ws
        .guard
        .approve(&b.escalation_id, person(UiSurface::CloudEscalationModal))
        .await
        .unwrap();
    let reason = denied(
        ws.guard
            .authorize(&a.escalation_id, &receipt_b.consent_receipt_id)
            .await,
    );
    assert_eq!(reason, DenyReason::PlanMismatch);
    assert_eq!(ws.denial_reasons().await, vec!["plan_mismatch"]);
    assert!(server.requests().is_empty());
    assert_eq!(
        ws.guard.show(&a.escalation_id).await.unwrap().status,
        EscalationStatus::Pending
    );
}

#[tokio::test]
async fn a_receipt_replayed_for_a_second_call_is_refused() {
    let ws = hybrid().await;
    let server = WireServer::start().await;
    let gate = ws.gate(&server);
    let pending = ws
        .guard
        .request_escalation(ws.request("once"))
        .await
        .unwrap();
    let receipt = ws
        .guard
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
    let reason = denied(
        ws.guard
            .execute_approved(&pending.escalation_id, &gate)
            .await,
    );
    assert_eq!(reason, DenyReason::Replay);
    let reason = denied(
        ws.guard
            .authorize(&pending.escalation_id, &receipt.consent_receipt_id)
            .await,
    );
    assert_eq!(reason, DenyReason::Replay);
    assert_eq!(ws.denial_reasons().await, vec!["replay", "replay"]);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_payload_changed_after_approval_is_hard_blocked() {
    let ws = hybrid().await;
    let server = WireServer::start().await;
    let gate = ws.gate(&server);
    let pending = ws
        .guard
        .request_escalation(ws.request("approved text"))
        .await
        .unwrap();
    let receipt = ws
        .guard
        .approve(
            &pending.escalation_id,
            person(UiSurface::CloudEscalationModal),
        )
        .await
        .unwrap();
    let approval = ws
        .guard
        .authorize(&pending.escalation_id, &receipt.consent_receipt_id)
        .await
        .unwrap();
    let mut request = ws
        .guard
        .approved_request(&pending.escalation_id)
        .await
        .unwrap();
    assert_eq!(request.prompt, "approved text");
    request.prompt.push_str(" plus the unredacted secret");
    let observed = Sha256Hex::digest(request.prompt.as_bytes());
    let reason = denied(gate.send(approval, request).await);
    assert_eq!(reason, DenyReason::HashMismatch);
    let denials = ws.events(EventType::CloudDenied).await;
    assert_eq!(denials.len(), 1);
    assert_eq!(denials[0]["reason"], "hash_mismatch");
    assert_eq!(denials[0]["observed_sha256"], observed.as_str());
    assert_eq!(denials[0]["payload_sha256"], pending.plan.payload_sha256);
    assert!(server.requests().is_empty());
    // The plan is blocked for good; resuming it is refused with the same reason.
    let shown = ws.guard.show(&pending.escalation_id).await.unwrap();
    assert_eq!(shown.status, EscalationStatus::Blocked);
    assert_eq!(shown.blocked_reason, Some(DenyReason::HashMismatch));
    let reason = denied(
        ws.guard
            .execute_approved(&pending.escalation_id, &gate)
            .await,
    );
    assert_eq!(reason, DenyReason::HashMismatch);
    assert!(server.requests().is_empty());
    assert!(ws.events(EventType::CloudExecuted).await.is_empty());
}

#[tokio::test]
async fn a_request_for_another_model_under_an_approval_is_refused() {
    let ws = hybrid().await;
    let server = WireServer::start().await;
    let pending = ws
        .guard
        .request_escalation(ws.request("text"))
        .await
        .unwrap();
    let receipt = ws
        .guard
        .approve(
            &pending.escalation_id,
            person(UiSurface::CloudEscalationModal),
        )
        .await
        .unwrap();
    let approval = ws
        .guard
        .authorize(&pending.escalation_id, &receipt.consent_receipt_id)
        .await
        .unwrap();
    let mut request = ws
        .guard
        .approved_request(&pending.escalation_id)
        .await
        .unwrap();
    request.model_id = "open/gpt-4o".into();
    let reason = denied(ws.gate(&server).send(approval, request).await);
    assert_eq!(reason, DenyReason::PlanMismatch);
    assert_eq!(ws.denial_reasons().await, vec!["plan_mismatch"]);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn locked_switched_on_between_approval_and_send_denies() {
    let ws = hybrid().await;
    let server = WireServer::start().await;
    let gate = ws.gate(&server);
    // (a) LOCKED after the receipt, before resume.
    let first = ws
        .guard
        .request_escalation(ws.request("one"))
        .await
        .unwrap();
    ws.guard
        .approve(
            &first.escalation_id,
            person(UiSurface::CloudEscalationModal),
        )
        .await
        .unwrap();
    ws.guard
        .settings()
        .set_mode(GovernanceMode::Locked)
        .await
        .unwrap();
    let reason = denied(ws.guard.execute_approved(&first.escalation_id, &gate).await);
    assert_eq!(reason, DenyReason::Locked);
    // (b) LOCKED after the Approval was minted, right before the send.
    ws.guard
        .settings()
        .set_mode(GovernanceMode::Standard)
        .await
        .unwrap();
    let second = ws
        .guard
        .request_escalation(ws.request("two"))
        .await
        .unwrap();
    let receipt = ws
        .guard
        .approve(
            &second.escalation_id,
            person(UiSurface::CloudEscalationModal),
        )
        .await
        .unwrap();
    let approval = ws
        .guard
        .authorize(&second.escalation_id, &receipt.consent_receipt_id)
        .await
        .unwrap();
    let request = ws
        .guard
        .approved_request(&second.escalation_id)
        .await
        .unwrap();
    ws.guard
        .settings()
        .set_mode(GovernanceMode::Locked)
        .await
        .unwrap();
    let reason = denied(gate.send(approval, request).await);
    assert_eq!(reason, DenyReason::Locked);
    // (c) LOCKED at request and at approval time.
    let reason = denied(ws.guard.request_escalation(ws.request("three")).await);
    assert_eq!(reason, DenyReason::Locked);
    ws.guard
        .settings()
        .set_mode(GovernanceMode::Standard)
        .await
        .unwrap();
    let fourth = ws
        .guard
        .request_escalation(ws.request("four"))
        .await
        .unwrap();
    ws.guard
        .settings()
        .set_mode(GovernanceMode::Locked)
        .await
        .unwrap();
    let reason = denied(
        ws.guard
            .approve(
                &fourth.escalation_id,
                person(UiSurface::CloudEscalationModal),
            )
            .await,
    );
    assert_eq!(reason, DenyReason::Locked);
    assert_eq!(
        ws.denial_reasons().await,
        vec!["locked", "locked", "locked", "locked"]
    );
    assert!(server.requests().is_empty());
    // Unlocking does not revive a plan blocked by LOCKED.
    ws.guard
        .settings()
        .set_mode(GovernanceMode::Standard)
        .await
        .unwrap();
    let reason = denied(ws.guard.execute_approved(&first.escalation_id, &gate).await);
    assert_eq!(reason, DenyReason::Locked);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn profile_and_local_only_deny_at_request() {
    let ws = Workspace::new(profile("wp-noc", "HYBRID", false, None)).await;
    let reason = denied(ws.guard.request_escalation(ws.request("x")).await);
    assert_eq!(reason, DenyReason::Profile);
    let ws2 = hybrid().await;
    let mut request = ws2.request("x");
    request.local_only = true;
    let reason = denied(ws2.guard.request_escalation(request).await);
    assert_eq!(reason, DenyReason::LocalOnly);
    assert_eq!(ws.denial_reasons().await, vec!["profile"]);
    assert_eq!(ws2.denial_reasons().await, vec!["local_only"]);
    assert!(ws.guard.list(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_expired_receipt_is_refused() {
    let config = GuardConfig {
        receipt_ttl: Duration::from_millis(1),
        ..GuardConfig::default()
    };
    let ws = Workspace::with_config(profile("wp-ttl", "HYBRID", true, None), config).await;
    let server = WireServer::start().await;
    let pending = ws
        .guard
        .request_escalation(ws.request("late"))
        .await
        .unwrap();
    ws.guard
        .approve(
            &pending.escalation_id,
            person(UiSurface::CloudEscalationModal),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let reason = denied(
        ws.guard
            .execute_approved(&pending.escalation_id, &ws.gate(&server))
            .await,
    );
    assert_eq!(reason, DenyReason::Expired);
    assert_eq!(ws.denial_reasons().await, vec!["expired"]);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn over_max_bytes_is_refused_before_any_plan() {
    let ws = hybrid().await;
    let mut request = ws.request(&"y".repeat(100));
    request.max_bytes = Some(99);
    let err = ws.guard.request_escalation(request).await.unwrap_err();
    assert!(matches!(
        err,
        ConsentError::PayloadTooLarge {
            bytes: 100,
            max_bytes: 99
        }
    ));
    assert!(ws.guard.list(None).await.unwrap().is_empty());
    assert!(ws.events(EventType::CloudRequested).await.is_empty());
}

#[tokio::test]
async fn streaming_sends_pass_the_same_checks() {
    use futures::StreamExt;
    let ws = hybrid().await;
    let server = WireServer::start().await;
    let gate = ws.gate(&server);
    let mut ids = Vec::new();
    for prompt in ["stream me", "tamper me"] {
        let pending = ws
            .guard
            .request_escalation(ws.request(prompt))
            .await
            .unwrap();
        ws.guard
            .approve(
                &pending.escalation_id,
                person(UiSurface::CloudEscalationModal),
            )
            .await
            .unwrap();
        ids.push(pending.escalation_id);
    }
    let receipt = ws.guard.receipt_for(&ids[0]).await.unwrap().unwrap();
    let approval = ws
        .guard
        .authorize(&ids[0], &receipt.consent_receipt_id)
        .await
        .unwrap();
    let request = ws.guard.approved_request(&ids[0]).await.unwrap();
    let events: Vec<_> = gate
        .send_stream(approval, request)
        .await
        .unwrap()
        .collect()
        .await;
    assert!(events.iter().all(|e| e.is_ok()) && events.len() == 3);
    assert_eq!(server.prompts(), vec!["stream me".to_owned()]);
    let receipt = ws.guard.receipt_for(&ids[1]).await.unwrap().unwrap();
    let approval = ws
        .guard
        .authorize(&ids[1], &receipt.consent_receipt_id)
        .await
        .unwrap();
    let mut request = ws.guard.approved_request(&ids[1]).await.unwrap();
    request.prompt = "something else".into();
    let reason = match gate.send_stream(approval, request).await {
        Err(e) => e.deny_reason(),
        Ok(_) => None,
    };
    assert_eq!(reason, Some(DenyReason::HashMismatch));
    assert_eq!(ws.denial_reasons().await, vec!["hash_mismatch"]);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn an_approval_whose_plan_was_blocked_meanwhile_sends_nothing() {
    let ws = hybrid().await;
    let server = WireServer::start().await;
    let gate = ws.gate(&server);
    let pending = ws
        .guard
        .request_escalation(ws.request("blocked after authorize"))
        .await
        .unwrap();
    let receipt = ws
        .guard
        .approve(
            &pending.escalation_id,
            person(UiSurface::CloudEscalationModal),
        )
        .await
        .unwrap();
    let approval = ws
        .guard
        .authorize(&pending.escalation_id, &receipt.consent_receipt_id)
        .await
        .unwrap();
    let request = ws
        .guard
        .approved_request(&pending.escalation_id)
        .await
        .unwrap();
    // Meanwhile a concurrent attempt under LOCKED blocks the plan; then the mode is relaxed again
    // before the first send reaches the gate.
    ws.guard
        .settings()
        .set_mode(GovernanceMode::Locked)
        .await
        .unwrap();
    denied(
        ws.guard
            .authorize(&pending.escalation_id, &receipt.consent_receipt_id)
            .await,
    );
    ws.guard
        .settings()
        .set_mode(GovernanceMode::Standard)
        .await
        .unwrap();
    let reason = denied(gate.send(approval, request).await);
    assert_eq!(reason, DenyReason::Locked, "the plan's recorded block");
    assert!(server.requests().is_empty(), "a blocked plan was sent");
    assert_eq!(
        ws.guard.show(&pending.escalation_id).await.unwrap().status,
        EscalationStatus::Blocked
    );
    assert!(ws.events(EventType::CloudExecuted).await.is_empty());
}

/// A wrapper that changes the prompt after the gate has checked it (a buggy or hostile layer
/// between the gate and the adapter).
struct Tamper(Arc<dyn LlmClient>);

#[async_trait::async_trait]
impl LlmClient for Tamper {
    async fn completion(&self, mut req: CompletionRequest) -> Result<CompletionResponse, LlmError> {
        req.prompt.push_str(" and my password is hunter2");
        self.0.completion(req).await
    }
    async fn completion_stream(
        &self,
        mut req: CompletionRequest,
    ) -> Result<CompletionStream, LlmError> {
        req.prompt.push_str(" and my password is hunter2");
        self.0.completion_stream(req).await
    }
    fn profile(&self) -> &ModelProfile {
        self.0.profile()
    }
}

/// The real OpenAI-compatible adapter for the workspace's cloud model, at `server`.
fn cloud_adapter(server: &WireServer) -> Arc<dyn LlmClient> {
    let timeouts = Timeouts::default();
    let endpoint = WireConfig {
        provider_id: "open".into(),
        tier: ProviderTier::Cloud,
        base_url: url::Url::parse(&format!("{}/", server.base_url())).unwrap(),
        api_key: None,
        extra_headers: Vec::new(),
        timeouts,
        openai: OpenAiCompatOptions::default(),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    };
    Arc::new(OpenAiCompatClient::new(endpoint, "gpt-4o-mini").unwrap())
}

#[tokio::test]
async fn a_cloud_adapter_sends_only_inside_the_gate_and_only_the_approved_bytes() {
    let ws = hybrid().await;
    let server = WireServer::start().await;
    let adapter = cloud_adapter(&server);
    let at_server = destination_at(&server);
    let escalate = |prompt: &str| EscalationRequest {
        destination: at_server.clone(),
        ..ws.request(prompt)
    };

    // Outside the gate, even a hand-built cloud-tier adapter sends nothing.
    let mut direct = ws
        .guard
        .request_escalation(escalate("direct"))
        .await
        .map(|p| p.escalation_id)
        .unwrap();
    let request = ws.guard.approved_request(&direct).await.unwrap();
    let refused = adapter.completion(request).await.unwrap_err();
    assert!(
        matches!(refused, LlmError::ConsentRequired { .. }),
        "{refused:?}"
    );
    assert!(
        server.requests().is_empty(),
        "an ungated adapter reached the server"
    );

    // Through the gate but with a layer that changes the prompt after the gate's check: refused at
    // the adapter, recorded as a hash mismatch, nothing sent.
    let tampered_gate = CloudGate::new(
        Arc::new(Tamper(adapter.clone())),
        ws.guard.clone(),
        at_server.clone(),
    );
    let pending = ws
        .guard
        .request_escalation(escalate("summarise"))
        .await
        .unwrap();
    ws.guard
        .approve(
            &pending.escalation_id,
            person(UiSurface::CloudEscalationModal),
        )
        .await
        .unwrap();
    let reason = denied(
        ws.guard
            .execute_approved(&pending.escalation_id, &tampered_gate)
            .await,
    );
    assert_eq!(reason, DenyReason::HashMismatch);
    assert!(
        server.requests().is_empty(),
        "tampered bytes reached the server"
    );
    assert!(ws
        .denial_reasons()
        .await
        .contains(&"hash_mismatch".to_owned()));

    // The same adapter through an honest gate: exactly the approved prompt arrives.
    direct = ws
        .guard
        .request_escalation(escalate("summarise honestly"))
        .await
        .unwrap()
        .escalation_id;
    ws.guard
        .approve(&direct, person(UiSurface::CloudEscalationModal))
        .await
        .unwrap();
    let honest_gate = CloudGate::new(adapter, ws.guard.clone(), at_server.clone());
    // The loopback server answers with plain JSON rather than SSE, so the answer may not parse:
    // what matters here is what reached it.
    let _ = ws.guard.execute_approved(&direct, &honest_gate).await;
    assert_eq!(server.prompts(), vec!["summarise honestly".to_owned()]);
}

#[tokio::test]
async fn a_provider_changed_after_approval_sends_nothing() {
    let ws = hybrid().await;
    let server = WireServer::start().await;
    let adapter = cloud_adapter(&server);
    let approved_at = destination_at(&server);
    let approve = |prompt: &'static str, destination: Destination| {
        let ws = &ws;
        async move {
            let pending = ws
                .guard
                .request_escalation(EscalationRequest {
                    destination,
                    ..ws.request(prompt)
                })
                .await
                .unwrap();
            ws.guard
                .approve(
                    &pending.escalation_id,
                    person(UiSurface::CloudEscalationModal),
                )
                .await
                .unwrap();
            pending.escalation_id
        }
    };

    // The provider was edited after the approval (a new revision): the gate refuses before the
    // adapter is called, records why and blocks the plan.
    let edited = Destination {
        revision: approved_at.revision + 1,
        ..approved_at.clone()
    };
    let escalation = approve("edited provider", approved_at.clone()).await;
    let gate = CloudGate::new(adapter.clone(), ws.guard.clone(), edited);
    let reason = denied(ws.guard.execute_approved(&escalation, &gate).await);
    assert_eq!(reason, DenyReason::DestinationChanged);
    let shown = ws.guard.show(&escalation).await.unwrap();
    assert_eq!(shown.status, EscalationStatus::Blocked);

    // The gate is told the approved destination but the adapter sends elsewhere: the adapter's
    // own check refuses, and the refusal is recorded as a changed destination.
    let elsewhere = Destination {
        origin: "https://other.example:443".into(),
        ..approved_at.clone()
    };
    let escalation = approve("another origin", elsewhere.clone()).await;
    let gate = CloudGate::new(adapter, ws.guard.clone(), elsewhere);
    let reason = denied(ws.guard.execute_approved(&escalation, &gate).await);
    assert_eq!(reason, DenyReason::DestinationChanged);

    assert!(
        server.requests().is_empty(),
        "bytes left for a changed destination"
    );
    assert_eq!(
        ws.denial_reasons().await,
        vec!["destination_changed", "destination_changed"]
    );
}

#[tokio::test]
async fn a_send_whose_executed_event_cannot_be_recorded_is_not_made() {
    let ws = hybrid().await;
    let server = WireServer::start().await;
    let gate = ws.gate(&server);
    let pending = ws
        .guard
        .request_escalation(ws.request("record me first"))
        .await
        .unwrap();
    let receipt = ws
        .guard
        .approve(
            &pending.escalation_id,
            person(UiSurface::CloudEscalationModal),
        )
        .await
        .unwrap();
    let approval = ws
        .guard
        .authorize(&pending.escalation_id, &receipt.consent_receipt_id)
        .await
        .unwrap();
    let request = ws
        .guard
        .approved_request(&pending.escalation_id)
        .await
        .unwrap();
    // The Flight Recorder stops between the approval and the send: FR-EVT-CLOUD-004 cannot be
    // made durable, so the call is not made and the plan does not look executed.
    ws.recorder.shutdown().await.unwrap();
    let error = gate.send(approval, request).await.unwrap_err();
    assert!(
        matches!(error, ConsentError::Recorder(_)),
        "expected a recorder error, got {error:?}"
    );
    assert!(server.requests().is_empty(), "sent without its -004 event");
    assert_eq!(
        ws.guard.show(&pending.escalation_id).await.unwrap().status,
        EscalationStatus::Blocked
    );
}

/// Drops the tables' triggers, as someone with the data directory and sqlite3 could.
async fn drop_triggers(ws: &Workspace) {
    for trigger in ["consent_plans_bound", "consent_receipts_bound"] {
        sqlx::query(&format!("DROP TRIGGER IF EXISTS {trigger}"))
            .execute(ws.db.pool())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_plan_and_receipt_rewritten_consistently_outside_handshake_send_nothing() {
    let ws = hybrid().await;
    let server = WireServer::start().await;
    let pending = ws
        .guard
        .request_escalation(ws.request("the approved text"))
        .await
        .unwrap();
    ws.guard
        .approve(
            &pending.escalation_id,
            person(UiSurface::CloudEscalationModal),
        )
        .await
        .unwrap();
    // Rewrite the payload, its hash, the plan JSON and the receipt so that they all agree.
    drop_triggers(&ws).await;
    let forged = "send my secrets elsewhere";
    let forged_hash = Sha256Hex::digest(forged.as_bytes());
    let plan_json = serde_json::to_string(&{
        let mut plan = pending.plan.clone();
        plan.payload_sha256 = forged_hash.as_str().to_owned();
        plan
    })
    .unwrap();
    sqlx::query(
        "UPDATE consent_plans SET payload_text = ?, payload_sha256 = ?, plan_json = ? \
         WHERE projection_plan_id = ?",
    )
    .bind(forged)
    .bind(forged_hash.as_str())
    .bind(&plan_json)
    .bind(&pending.escalation_id)
    .execute(ws.db.pool())
    .await
    .unwrap();
    let receipt: String = sqlx::query_scalar(
        "SELECT receipt_json FROM consent_receipts WHERE projection_plan_id = ?",
    )
    .bind(&pending.escalation_id)
    .fetch_one(ws.db.pool())
    .await
    .unwrap();
    let mut receipt: serde_json::Value = serde_json::from_str(&receipt).unwrap();
    receipt["payload_sha256"] = forged_hash.as_str().into();
    sqlx::query(
        "UPDATE consent_receipts SET payload_sha256 = ?, receipt_json = ? WHERE projection_plan_id = ?",
    )
    .bind(forged_hash.as_str())
    .bind(receipt.to_string())
    .bind(&pending.escalation_id)
    .execute(ws.db.pool())
    .await
    .unwrap();

    let reason = denied(
        ws.guard
            .execute_approved(&pending.escalation_id, &ws.gate(&server))
            .await,
    );
    assert_eq!(reason, DenyReason::Forged);
    assert!(server.requests().is_empty(), "forged text was sent");
    assert_eq!(ws.denial_reasons().await, vec!["forged"]);
    assert_eq!(
        ws.guard.show(&pending.escalation_id).await.unwrap().status,
        EscalationStatus::Blocked
    );
}

#[tokio::test]
async fn an_expired_receipt_whose_expiry_was_raised_is_refused() {
    let config = GuardConfig {
        receipt_ttl: Duration::from_millis(1),
        ..GuardConfig::default()
    };
    let ws = Workspace::with_config(profile("wp-ttl2", "HYBRID", true, None), config).await;
    let server = WireServer::start().await;
    let pending = ws
        .guard
        .request_escalation(ws.request("late"))
        .await
        .unwrap();
    ws.guard
        .approve(
            &pending.escalation_id,
            person(UiSurface::CloudEscalationModal),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop_triggers(&ws).await;
    sqlx::query("UPDATE consent_receipts SET expires_at_ms = expires_at_ms + 86400000")
        .execute(ws.db.pool())
        .await
        .unwrap();
    let reason = denied(
        ws.guard
            .execute_approved(&pending.escalation_id, &ws.gate(&server))
            .await,
    );
    assert_eq!(reason, DenyReason::Forged);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn an_approval_made_while_the_clock_was_a_day_ahead_is_refused() {
    let day_ahead = GuardConfig {
        clock_offset_ms: 86_400_000,
        ..GuardConfig::default()
    };
    let ws = Workspace::with_config(profile("wp-clock", "HYBRID", true, None), day_ahead).await;
    let server = WireServer::start().await;
    let pending = ws
        .guard
        .request_escalation(ws.request("approved tomorrow"))
        .await
        .unwrap();
    ws.guard
        .approve(
            &pending.escalation_id,
            person(UiSurface::CloudEscalationModal),
        )
        .await
        .unwrap();
    // The clock is put right: the same data, a guard reading the true time.
    let guard = CloudEscalationGuard::new(
        &ws.db,
        ws.recorder.clone(),
        GuardConfig::default(),
        ledger(),
    );
    let reason = denied(
        guard
            .execute_approved(&pending.escalation_id, &ws.gate(&server))
            .await,
    );
    assert_eq!(reason, DenyReason::FutureDated);
    assert!(server.requests().is_empty());
    assert_eq!(ws.denial_reasons().await, vec!["future_dated"]);
}

/// Issue 20, item 1: a data directory moved to a machine whose keychain does not hold its anchor
/// key cannot send an approval made elsewhere: the seals do not match under another key.
#[tokio::test]
async fn an_approval_moved_to_a_machine_without_its_key_sends_nothing() {
    let ws = hybrid().await;
    let server = WireServer::start().await;
    let pending = ws
        .guard
        .request_escalation(ws.request("approved on the first machine"))
        .await
        .unwrap();
    ws.guard
        .approve(
            &pending.escalation_id,
            person(UiSurface::CloudEscalationModal),
        )
        .await
        .unwrap();
    ws.recorder.shutdown().await.unwrap();
    // The other machine: the same files, another anchor key (its keychain never held ours).
    let elsewhere = tempfile::tempdir().unwrap();
    let recorder = handshake_core::recorder::FlightRecorder::open(
        &ws.db,
        elsewhere.path(),
        handshake_core::recorder::KeySource::Fixed(
            handshake_core::recorder::AnchorKey::from_bytes([9; 32]),
        ),
        handshake_core::recorder::RecorderConfig::default(),
    )
    .await
    .unwrap();
    let guard = CloudEscalationGuard::new(&ws.db, recorder, GuardConfig::default(), ledger());
    let reason = denied(
        guard
            .execute_approved(&pending.escalation_id, &ws.gate(&server))
            .await,
    );
    assert_eq!(reason, DenyReason::Forged);
    assert!(server.requests().is_empty());
}

/// Rows from before seals, and a sealed field edited on its own (one that does not change the
/// payload hash), are refused as forged too.
#[tokio::test]
async fn an_unsealed_plan_or_an_edited_parameter_sends_nothing() {
    for edit in [
        "UPDATE consent_plans SET seal = NULL",
        "UPDATE consent_plans SET max_tokens = 4096",
        "UPDATE consent_plans SET destination_origin = 'https://elsewhere.example:443'",
        "UPDATE consent_plans SET local_only = 0, stop_sequences = '[\"x\"]'",
    ] {
        let ws = hybrid().await;
        let server = WireServer::start().await;
        let pending = ws
            .guard
            .request_escalation(ws.request("sealed"))
            .await
            .unwrap();
        ws.guard
            .approve(
                &pending.escalation_id,
                person(UiSurface::CloudEscalationModal),
            )
            .await
            .unwrap();
        drop_triggers(&ws).await;
        sqlx::query(edit).execute(ws.db.pool()).await.unwrap();
        let reason = denied(
            ws.guard
                .execute_approved(&pending.escalation_id, &ws.gate(&server))
                .await,
        );
        assert_eq!(reason, DenyReason::Forged, "{edit}");
        assert!(server.requests().is_empty(), "{edit}");
    }
}

/// A person is never asked to approve text edited outside Handshake.
#[tokio::test]
async fn a_forged_plan_cannot_be_approved() {
    let ws = hybrid().await;
    let pending = ws
        .guard
        .request_escalation(ws.request("original"))
        .await
        .unwrap();
    drop_triggers(&ws).await;
    sqlx::query("UPDATE consent_plans SET payload_text = 'forged'")
        .execute(ws.db.pool())
        .await
        .unwrap();
    let reason = denied(
        ws.guard
            .approve(
                &pending.escalation_id,
                person(UiSurface::CloudEscalationModal),
            )
            .await,
    );
    assert_eq!(reason, DenyReason::Forged);
    assert!(ws.events(EventType::CloudApproved).await.is_empty());
}

//! What the consent flow leaves behind: the spec JSON of plans and receipts, who may approve
//! under each automation level (the standing rule for AUTONOMOUS), and no payload, prompt or
//! secret in any event, export or error (RT-LEAK-001).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod consent_common;

use consent_common::*;
use handshake_core::consent::{Approver, ConsentError, StandingRule, UiSurface};
use handshake_core::recorder::{EventQuery, EventType};

const SECRET: &str = "sk-CANARYcanary0123456789abcdef";
const EMAIL: &str = "erin.canary@example.net";

#[tokio::test]
async fn plans_and_receipts_have_exactly_the_spec_fields() {
    let ws = Workspace::new(profile("wp-json", "HYBRID", true, Some(3))).await;
    let pending = ws
        .guard
        .request_escalation(ws.request("hello"))
        .await
        .unwrap();
    let plan = serde_json::to_value(&pending.plan).unwrap();
    let mut keys: Vec<_> = plan.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "created_at",
            "include_artifact_refs",
            "job_id",
            "max_bytes",
            "payload_sha256",
            "projection_plan_id",
            "redactions_applied",
            "schema_version"
        ]
    );
    assert_eq!(plan["schema_version"], "hsk.projection_plan@0.4");
    assert_eq!(plan["job_id"], ws.job_id.as_str());
    assert_eq!(pending.job_escalations_cap, Some(3));
    assert_eq!(pending.remaining_escalations, Some(3));
    let receipt = ws
        .guard
        .approve(
            &pending.escalation_id,
            Approver {
                user_id: "alice".into(),
                ui_surface: UiSurface::OperatorConsole,
                notes: None,
            },
        )
        .await
        .unwrap();
    let json = serde_json::to_value(&receipt).unwrap();
    let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "approved",
            "approved_at",
            "consent_receipt_id",
            "payload_sha256",
            "projection_plan_id",
            "schema_version",
            "ui_surface",
            "user_id"
        ]
    );
    assert_eq!(json["schema_version"], "hsk.consent_receipt@0.4");
    assert_eq!(json["ui_surface"], "operator_console");
    // Minted by the app: a fresh id, not the plan's, and the stored one is what `receipt_for` reads.
    assert!(receipt.consent_receipt_id.starts_with("cr-"));
    assert_eq!(
        ws.guard.receipt_for(&pending.escalation_id).await.unwrap(),
        Some(receipt)
    );
    // The person's user id must be an identifier.
    let other = ws.guard.request_escalation(ws.request("x")).await.unwrap();
    let err = ws
        .guard
        .approve(
            &other.escalation_id,
            Approver {
                user_id: "alice smith".into(),
                ui_surface: UiSurface::OperatorConsole,
                notes: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ConsentError::InvalidUserId));
}

#[tokio::test]
async fn full_human_and_hybrid_need_a_person_autonomous_may_use_the_standing_rule() {
    for level in ["FULL_HUMAN", "HYBRID"] {
        let ws = Workspace::new(profile("wp-person", level, true, None)).await;
        let pending = ws.guard.request_escalation(ws.request("x")).await.unwrap();
        assert!(pending.requires_person);
        let err = ws
            .guard
            .approve(&pending.escalation_id, person(UiSurface::Settings))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "surface_not_allowed");
        let err = ws
            .guard
            .approve_by_standing_rule(&pending.escalation_id)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "surface_not_allowed");
        assert!(ws.events(EventType::CloudApproved).await.is_empty());
    }

    let ws = Workspace::new(profile("wp-auto", "AUTONOMOUS", true, None)).await;
    let server = WireServer::start().await;
    let pending = ws
        .guard
        .request_escalation(ws.request("auto task"))
        .await
        .unwrap();
    assert!(!pending.requires_person);
    // No rule yet: nothing is approved.
    let err = ws
        .guard
        .approve_by_standing_rule(&pending.escalation_id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "no_standing_rule");
    // A rule for another provider, or for smaller payloads, does not cover it.
    let mut rule = StandingRule {
        set_by_user_id: "bob".into(),
        provider_ids: vec!["other".into()],
        max_payload_bytes: 1024,
    };
    ws.guard
        .settings()
        .set_standing_rule(Some(&rule))
        .await
        .unwrap();
    assert_eq!(
        ws.guard
            .approve_by_standing_rule(&pending.escalation_id)
            .await
            .unwrap_err()
            .code(),
        "no_standing_rule"
    );
    rule.provider_ids = vec!["open".into()];
    rule.max_payload_bytes = 3;
    ws.guard
        .settings()
        .set_standing_rule(Some(&rule))
        .await
        .unwrap();
    assert_eq!(
        ws.guard
            .approve_by_standing_rule(&pending.escalation_id)
            .await
            .unwrap_err()
            .code(),
        "no_standing_rule"
    );
    rule.max_payload_bytes = 1024;
    ws.guard
        .settings()
        .set_standing_rule(Some(&rule))
        .await
        .unwrap();
    let receipt = ws
        .guard
        .approve_by_standing_rule(&pending.escalation_id)
        .await
        .unwrap();
    assert_eq!(receipt.ui_surface, Some(UiSurface::Settings));
    assert_eq!(receipt.user_id, "bob");
    let approved = ws.events(EventType::CloudApproved).await;
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0]["ui_surface"], "settings");
    assert_eq!(approved[0]["user_id"], "bob");
    ws.guard
        .execute_approved(&pending.escalation_id, &ws.gate(&server))
        .await
        .unwrap();
    // Still per payload: the next escalation needs its own approval.
    let next = ws
        .guard
        .request_escalation(ws.request("another"))
        .await
        .unwrap();
    let err = ws
        .guard
        .execute_approved(&next.escalation_id, &ws.gate(&server))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "escalation_denied");
    assert_eq!(server.prompts(), vec!["auto task".to_owned()]);
}

#[tokio::test]
async fn no_event_export_or_error_holds_the_prompt_or_its_secrets() {
    let ws = Workspace::new(profile("wp-leak", "HYBRID", true, None)).await;
    let server = WireServer::start().await;
    let gate = ws.gate(&server);
    let prompt = format!("deploy with key {SECRET} and mail {EMAIL} the secret plan");
    let pending = ws
        .guard
        .request_escalation(ws.request(&prompt))
        .await
        .unwrap();
    assert_eq!(pending.plan.redactions_applied, vec!["api_key", "email"]);
    assert!(!pending.preview.contains(SECRET) && !pending.preview.contains(EMAIL));
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
    // Denials of every kind, to have their messages too.
    let mut errors = Vec::new();
    errors.push(
        ws.guard
            .execute_approved(&pending.escalation_id, &gate)
            .await
            .unwrap_err()
            .to_string(),
    );
    let other = ws
        .guard
        .request_escalation(ws.request(&prompt))
        .await
        .unwrap();
    errors.push(
        ws.guard
            .execute_approved(&other.escalation_id, &gate)
            .await
            .unwrap_err()
            .to_string(),
    );
    // What left the machine is the redacted text only.
    let sent = server.requests();
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].body.contains(SECRET) && !sent[0].body.contains(EMAIL));
    // The export of every event holds neither the prompt, nor its secrets, nor the payload.
    let mut export = Vec::new();
    ws.recorder
        .export_jsonl(&EventQuery::default(), &mut export)
        .await
        .unwrap();
    let export = String::from_utf8(export).unwrap();
    assert!(export.contains("FR-EVT-CLOUD-001") && export.contains("FR-EVT-CLOUD-004"));
    for needle in [SECRET, EMAIL, "the secret plan", pending.preview.as_str()] {
        assert!(!export.contains(needle), "export holds {needle:?}");
        for e in &errors {
            assert!(!e.contains(needle), "error {e:?} holds {needle:?}");
        }
    }
    // The raw prompt is kept as a local payload reference only.
    let requested = ws.events(EventType::CloudRequested).await;
    assert!(requested[0]["payload_ref"].is_string());
    assert_eq!(requested[0]["payload_bytes"], pending.payload_bytes);
}

#[tokio::test]
async fn stored_plans_and_receipts_cannot_be_rewritten() {
    let ws = Workspace::new(profile("wp-immutable", "HYBRID", true, None)).await;
    let server = WireServer::start().await;
    let pending = ws
        .guard
        .request_escalation(ws.request("fixed"))
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
    let pool = ws.db.pool();
    let rewrite_payload = sqlx::query(
        "UPDATE consent_plans SET payload_text = 'other', payload_sha256 = ? WHERE projection_plan_id = ?",
    )
    .bind(handshake_core::recorder::Sha256Hex::digest(b"other").as_str())
    .bind(&pending.escalation_id)
    .execute(pool)
    .await;
    assert!(rewrite_payload.is_err());
    let rebind = sqlx::query(
        "UPDATE consent_receipts SET projection_plan_id = 'pp-other' WHERE consent_receipt_id = ?",
    )
    .bind(&receipt.consent_receipt_id)
    .execute(pool)
    .await;
    assert!(rebind.is_err());
    ws.guard
        .execute_approved(&pending.escalation_id, &ws.gate(&server))
        .await
        .unwrap();
    let unconsume = sqlx::query(
        "UPDATE consent_receipts SET consumed_at_ms = NULL WHERE consent_receipt_id = ?",
    )
    .bind(&receipt.consent_receipt_id)
    .execute(pool)
    .await;
    assert!(unconsume.is_err());
    assert_eq!(server.prompts(), vec!["fixed".to_owned()]);
}

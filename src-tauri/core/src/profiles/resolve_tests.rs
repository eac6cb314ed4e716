//! Unit tests of [`super`]: precedence, fallbacks, constraints at every step, and the facts of
//! FR-EVT-PROFILE-003.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::llm::{LlmError, TimeoutPhase};
use crate::profiles::test_support::{catalog, database, profile, HealthMap};
use crate::profiles::{JobStore, ProfileStore};

fn req(role: Role, file_type: Option<&str>, task_type: Option<&str>) -> ResolveRequest {
    ResolveRequest {
        role,
        file_type: file_type.map(str::to_owned),
        task_type: task_type.map(str::to_owned),
    }
}

#[test]
fn task_type_beats_file_type_beats_base() {
    let p = profile("wp-1");
    let health = HealthMap::default();
    let r = |rq: ResolveRequest| resolve(&p, &rq, &catalog(), &health).unwrap();

    let base = r(req(Role::Worker, None, None));
    assert_eq!(
        (base.rule.as_str(), base.chosen_model_id.as_str()),
        ("base", "oll/qwen3:8b")
    );
    assert!(!base.requires_escalation && base.passed_over.is_empty());

    let file = r(req(Role::Worker, Some(".RS"), None));
    assert_eq!(file.rule, "file_type:rs");
    assert_eq!(file.chosen_model_id, "oll/qwen3-coder:30b");

    let task = r(req(Role::Worker, Some("rs"), Some("review")));
    assert_eq!(task.rule, "task_type:review");
    assert_eq!(task.chosen_model_id, "open/gpt-4o");
    assert_eq!(task.chosen_tier, ProviderTier::Cloud);
    assert!(task.requires_escalation, "every cloud call needs consent");
    assert!(!task.crossed_to_cloud, "the primary itself is cloud");

    // A rule that does not name the role leaves the role on the next level down.
    let frontend = r(req(Role::Frontend, Some("rs"), Some("review")));
    assert_eq!(frontend.rule, "base");
    let unknown_task = r(req(Role::Worker, Some("rs"), Some("translate")));
    assert_eq!(unknown_task.rule, "file_type:rs");
}

#[test]
fn an_unhealthy_local_primary_falls_back_to_cloud_only_as_an_escalation() {
    let p = profile("wp-1");
    let health = HealthMap::default();
    health.set("oll/qwen3:8b", Availability::Unhealthy);
    let r = resolve(&p, &req(Role::Worker, None, None), &catalog(), &health).unwrap();
    assert_eq!(r.chosen_model_id, "open/gpt-4o-mini");
    assert_eq!(r.chosen_slot, CandidateSlot::Fallback);
    assert!(r.requires_escalation && r.crossed_to_cloud);
    assert_eq!(
        r.passed_over,
        vec![PassedOver {
            model_id: "oll/qwen3:8b".into(),
            slot: CandidateSlot::Primary,
            reason: PassOverReason::Unhealthy
        }]
    );
}

#[test]
fn an_unavailable_primary_falls_back_to_a_local_fallback_without_escalation() {
    let p = profile("wp-1");
    let health = HealthMap::default();
    health.set("oll/qwen3:8b", Availability::Unavailable);
    let r = resolve(
        &p,
        &req(Role::Orchestrator, None, None),
        &catalog(),
        &health,
    )
    .unwrap();
    assert_eq!(r.chosen_model_id, "oll/gemma3:270m");
    assert!(!r.requires_escalation && !r.crossed_to_cloud);
    assert_eq!(r.passed_over[0].reason, PassOverReason::Unavailable);
}

#[test]
fn constraints_are_enforced_even_on_an_unvalidated_profile() {
    let health = HealthMap::default();
    let mut p = profile("wp-1");
    // Orchestrator: primary outside allowed_models, fallback a cloud model under local_only.
    p.model_assignments.orchestrator.primary_model_id = "oll/qwen3-coder:30b".into();
    p.model_assignments.orchestrator.fallback_model_id = Some("oll/gpt-oss:120b-cloud".into());
    p.model_assignments.orchestrator.allowed_models = Some(vec!["oll/gpt-oss:120b-cloud".into()]);
    let err = resolve(
        &p,
        &req(Role::Orchestrator, None, None),
        &catalog(),
        &health,
    )
    .unwrap_err();
    match &err {
        ResolveError::NoUsableModel {
            passed_over,
            rule,
            role,
            ..
        } => {
            assert_eq!((rule.as_str(), *role), ("base", Role::Orchestrator));
            let reasons: Vec<_> = passed_over.iter().map(|p| p.reason).collect();
            assert_eq!(
                reasons,
                vec![
                    PassOverReason::NotAllowed,
                    PassOverReason::LocalOnlyViolation
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("oll/gpt-oss:120b-cloud"), "{err}");

    // A profile that disallows cloud escalation never resolves to a cloud model.
    let mut closed = profile("wp-2");
    closed.governance.allow_cloud_escalation = false;
    health.set("oll/qwen3:8b", Availability::Unhealthy);
    let err = resolve(&closed, &req(Role::Worker, None, None), &catalog(), &health).unwrap_err();
    assert!(
        matches!(&err, ResolveError::NoUsableModel { passed_over, .. }
        if passed_over[1].reason == PassOverReason::CloudEscalationDisabled)
    );

    // Unknown providers and malformed ids are passed over, not chosen.
    let mut odd = profile("wp-3");
    odd.model_assignments.frontend.primary_model_id = "ghost/x".into();
    odd.model_assignments.frontend.fallback_model_id = Some("no-slash".into());
    let err = resolve(&odd, &req(Role::Frontend, None, None), &catalog(), &health).unwrap_err();
    assert!(
        matches!(&err, ResolveError::NoUsableModel { passed_over, .. }
        if passed_over.iter().map(|p| p.reason).collect::<Vec<_>>()
            == vec![PassOverReason::UnknownProvider, PassOverReason::InvalidModelId])
    );
}

#[test]
fn a_retryable_failure_moves_to_the_fallback_and_then_stops() {
    let p = profile("wp-1");
    let health = HealthMap::default();
    let first = resolve(
        &p,
        &req(Role::Orchestrator, None, None),
        &catalog(),
        &health,
    )
    .unwrap();
    assert_eq!(first.chosen_model_id, "oll/qwen3:8b");

    let timeout = LlmError::Timeout {
        phase: TimeoutPhase::FirstByte,
    };
    let second =
        next_after_failure(&p, &first, timeout.is_retryable(), &catalog(), &health).unwrap();
    assert_eq!(second.chosen_model_id, "oll/gemma3:270m");
    assert_eq!(second.rule, "base");
    assert_eq!(
        second.passed_over[0].reason,
        PassOverReason::FailedRetryable
    );

    let err = next_after_failure(&p, &second, true, &catalog(), &health).unwrap_err();
    assert!(
        matches!(&err, ResolveError::NoUsableModel { passed_over, .. }
        if passed_over.len() == 2 && passed_over.iter().all(|p| p.reason == PassOverReason::FailedRetryable))
    );

    let unauthorized = LlmError::Unauthorized;
    let err = next_after_failure(&p, &first, unauthorized.is_retryable(), &catalog(), &health);
    assert!(
        matches!(err, Err(ResolveError::NotRetryable { model_id }) if model_id == "oll/qwen3:8b")
    );

    let other = profile("wp-other");
    assert!(matches!(
        next_after_failure(&other, &first, true, &catalog(), &health),
        Err(ResolveError::ProfileMismatch { .. })
    ));
}

#[test]
fn a_retryable_failure_keeps_the_override_rule() {
    let p = profile("wp-1");
    let health = HealthMap::default();
    let first = resolve(
        &p,
        &req(Role::Worker, None, Some("review")),
        &catalog(),
        &health,
    )
    .unwrap();
    let next = next_after_failure(&p, &first, true, &catalog(), &health).unwrap();
    assert_eq!(next.rule, "task_type:review");
    assert_eq!(next.chosen_model_id, "oll/qwen3:8b");
    assert!(!next.requires_escalation);
}

#[tokio::test]
async fn resolve_for_job_uses_the_pinned_profile_and_names_the_job() {
    let (_dir, db) = database().await;
    let store = ProfileStore::new(&db);
    store.create(profile("wp-a"), &catalog()).await.unwrap();
    let mut b = profile("wp-b");
    b.model_assignments.worker.primary_model_id = "oll/gemma3:270m".into();
    store.create(b, &catalog()).await.unwrap();
    store.activate("wp-a").await.unwrap();
    let jobs = JobStore::new(&db);
    let job = jobs.start_job().await.unwrap().job_id;
    store.activate("wp-b").await.unwrap();
    let health = HealthMap::default();
    let r = resolve_for_job(
        &jobs,
        &job,
        &req(Role::Worker, None, None),
        &catalog(),
        &health,
    )
    .await
    .unwrap();
    assert_eq!(r.profile_id, "wp-a");
    assert_eq!(r.job_id.as_deref(), Some(job.as_str()));
    assert_eq!(r.chosen_model_id, "oll/qwen3:8b");
    let err = resolve_for_job(
        &jobs,
        "job-ghost",
        &req(Role::Worker, None, None),
        &catalog(),
        &health,
    )
    .await;
    assert!(matches!(
        err,
        Err(ResolveError::Job(JobError::NotFound { .. }))
    ));
}

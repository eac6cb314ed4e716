//! Concurrency attacks on the guard: the per-job cap hit by concurrent sends, and one receipt
//! raced by many sends. Exactly the allowed number of calls reach the loopback server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod consent_common;

use consent_common::*;
use handshake_core::consent::UiSurface;
use handshake_core::recorder::{DenyReason, EventType};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_per_job_cap_holds_under_concurrent_sends() {
    let ws = Workspace::new(profile("wp-cap", "HYBRID", true, Some(2))).await;
    let server = WireServer::start().await;
    let gate = ws.gate(&server);
    let mut ids = Vec::new();
    for i in 0..6 {
        let pending = ws
            .guard
            .request_escalation(ws.request(&format!("task {i}")))
            .await
            .unwrap();
        assert_eq!(pending.remaining_escalations, Some(2));
        ws.guard
            .approve(&pending.escalation_id, person(UiSurface::OperatorConsole))
            .await
            .unwrap();
        ids.push(pending.escalation_id);
    }
    let results =
        futures::future::join_all(ids.iter().map(|id| ws.guard.execute_approved(id, &gate))).await;
    let sent = results.iter().filter(|r| r.is_ok()).count();
    let capped = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.deny_reason() == Some(DenyReason::Cap)))
        .count();
    assert_eq!((sent, capped), (2, 4), "{results:?}");
    assert_eq!(server.requests().len(), 2);
    assert_eq!(ws.jobs.get(&ws.job_id).await.unwrap().cloud_escalations, 2);
    assert_eq!(ws.denial_reasons().await, vec!["cap"; 4]);
    assert_eq!(ws.events(EventType::CloudExecuted).await.len(), 2);
    // The job has no escalations left: a new request is denied up front.
    let err = ws
        .guard
        .request_escalation(ws.request("one more"))
        .await
        .unwrap_err();
    assert_eq!(err.deny_reason(), Some(DenyReason::Cap));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_receipt_raced_by_many_sends_approves_exactly_one() {
    let ws = Workspace::new(profile("wp-race", "HYBRID", true, None)).await;
    let server = WireServer::start().await;
    let gate = ws.gate(&server);
    let pending = ws
        .guard
        .request_escalation(ws.request("race"))
        .await
        .unwrap();
    ws.guard
        .approve(
            &pending.escalation_id,
            person(UiSurface::CloudEscalationModal),
        )
        .await
        .unwrap();
    let results = futures::future::join_all(
        (0..8).map(|_| ws.guard.execute_approved(&pending.escalation_id, &gate)),
    )
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(r.deny_reason(), Some(DenyReason::Replay), "{r:?}");
    }
    assert_eq!(server.requests().len(), 1);
    assert_eq!(ws.denial_reasons().await, vec!["replay"; 7]);
    assert_eq!(ws.jobs.get(&ws.job_id).await.unwrap().cloud_escalations, 1);
}

//! Work Profiles under concurrency, on a real SQLite file: the per-job cloud escalation cap
//! holds against many simultaneous reservations, and jobs started before and after a profile
//! switch keep resolving with their own profiles while the switch happens.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use handshake_core::db::Database;
use handshake_core::profiles::{
    resolve_for_job, Availability, JobError, JobStore, ModelHealth, ProfileStore, ResolveRequest,
    Role, StaticCatalog, WorkProfile,
};
use handshake_core::registry::ProviderTier;

struct AllAvailable;

impl ModelHealth for AllAvailable {
    fn availability(&self, _model_id: &str) -> Availability {
        Availability::Available
    }
}

fn catalog() -> StaticCatalog {
    StaticCatalog::new()
        .with_provider("oll", ProviderTier::Local)
        .with_provider("open", ProviderTier::Cloud)
}

fn profile(profile_id: &str, worker: &str, cap: u32) -> WorkProfile {
    let assignment =
        |model: &str| serde_json::json!({"primary_model_id": model, "local_only": false});
    serde_json::from_value(serde_json::json!({
        "schema_version": "hsk.work_profile@0.5",
        "profile_id": profile_id,
        "name": profile_id,
        "model_assignments": {
            "frontend": assignment("oll/gemma3:270m"),
            "orchestrator": assignment("oll/gemma3:270m"),
            "worker": assignment(worker),
            "validator": assignment("oll/gemma3:270m"),
        },
        "governance": {
            "automation_level": "AUTONOMOUS",
            "allow_cloud_escalation": true,
            "max_cloud_escalations_per_job": cap
        }
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reservations_never_pass_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    let profiles = ProfileStore::new(&db);
    profiles
        .create(profile("wp-cap", "oll/qwen3:8b", 7), &catalog())
        .await
        .unwrap();
    profiles.activate("wp-cap").await.unwrap();
    let jobs = Arc::new(JobStore::new(&db));
    let job = jobs.start_job().await.unwrap().job_id;

    let tasks: Vec<_> = (0..60)
        .map(|_| {
            let jobs = Arc::clone(&jobs);
            let job = job.clone();
            tokio::spawn(async move { jobs.reserve_cloud_escalation(&job).await })
        })
        .collect();
    let mut granted = Vec::new();
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(n) => granted.push(n),
            Err(JobError::CapReached { cap: 7, .. }) => refused += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    granted.sort_unstable();
    assert_eq!(
        granted,
        (1..=7).collect::<Vec<u32>>(),
        "each count is handed out once"
    );
    assert_eq!(refused, 53);
    assert_eq!(jobs.get(&job).await.unwrap().cloud_escalations, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_started_around_a_switch_resolve_with_their_own_profiles_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    let profiles = ProfileStore::new(&db);
    profiles
        .create(profile("wp-local", "oll/qwen3:8b", 1), &catalog())
        .await
        .unwrap();
    profiles
        .create(profile("wp-cloud", "open/gpt-4o", 1), &catalog())
        .await
        .unwrap();
    let jobs = Arc::new(JobStore::new(&db));

    profiles.activate("wp-local").await.unwrap();
    let before = jobs.start_job().await.unwrap();
    let switched = profiles.activate("wp-cloud").await.unwrap();
    assert_eq!(switched.previous.as_deref(), Some("wp-local"));
    let after = jobs.start_job().await.unwrap();
    assert_eq!(
        (before.profile_id.as_str(), after.profile_id.as_str()),
        ("wp-local", "wp-cloud")
    );

    // Keep switching the active profile while both jobs resolve.
    let flipper = {
        let profiles = profiles.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                let id = if i % 2 == 0 { "wp-local" } else { "wp-cloud" };
                profiles.activate(id).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let run = |job_id: String, expected_model: &'static str, expected_profile: &'static str| {
        let jobs = Arc::clone(&jobs);
        tokio::spawn(async move {
            let req = ResolveRequest::role(Role::Worker);
            for _ in 0..40 {
                let r = resolve_for_job(&jobs, &job_id, &req, &catalog(), &AllAvailable)
                    .await
                    .unwrap();
                assert_eq!(r.profile_id, expected_profile);
                assert_eq!(r.chosen_model_id, expected_model);
                assert_eq!(r.requires_escalation, expected_model.starts_with("open/"));
                tokio::task::yield_now().await;
            }
        })
    };
    let a = run(before.job_id.clone(), "oll/qwen3:8b", "wp-local");
    let b = run(after.job_id.clone(), "open/gpt-4o", "wp-cloud");
    a.await.unwrap();
    b.await.unwrap();
    flipper.await.unwrap();

    let listed = profiles.list().await.unwrap();
    let used = |id: &str| {
        listed
            .iter()
            .find(|p| p.profile_id == id)
            .unwrap()
            .used_by_jobs
            .clone()
    };
    assert_eq!(used("wp-local"), vec![before.job_id]);
    assert_eq!(used("wp-cloud"), vec![after.job_id]);
}

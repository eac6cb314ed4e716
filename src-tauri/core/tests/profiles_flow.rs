//! The Work Profile flow end to end through the public API, on a real SQLite file: import a
//! profile's JSON, activate it, start a job, refuse an in-place edit of the used profile, save a
//! new version, resolve with a retryable failure, reserve escalations, and swap the job's local
//! model with a load that fails and resumes on the old model.

#![allow(clippy::unwrap_used)]

use std::sync::Mutex;

use async_trait::async_trait;
use handshake_core::db::Database;
use handshake_core::llm::LlmError;
use handshake_core::profiles::{
    next_after_failure, resolve_for_job, Availability, JobError, JobStore, ModelHealth,
    ModelLoader, ModelSwap, ModelSwapRequest, PassOverReason, ProfileError, ProfileStore,
    ResolveRequest, Role, StaticCatalog, StepOutcome, SwapStep,
};
use handshake_core::registry::ProviderTier;

const PROFILE: &str = r#"{
  "schema_version": "hsk.work_profile@0.5",
  "profile_id": "wp-dev",
  "name": "Dev",
  "model_assignments": {
    "frontend": {"primary_model_id": "oll/gemma3:270m", "local_only": true},
    "orchestrator": {"primary_model_id": "oll/gemma3:270m", "local_only": true},
    "worker": {"primary_model_id": "oll/qwen3:8b", "fallback_model_id": "open/gpt-4o-mini", "local_only": false},
    "validator": {"primary_model_id": "oll/gemma3:270m", "local_only": true}
  },
  "governance": {"automation_level": "FULL_HUMAN", "allow_cloud_escalation": true, "max_cloud_escalations_per_job": 1},
  "overrides": {"filetype_rules": {"rs": {"worker": {"primary_model_id": "oll/qwen3-coder:30b", "local_only": true}}}}
}"#;

struct Healthy;

impl ModelHealth for Healthy {
    fn availability(&self, _model_id: &str) -> Availability {
        Availability::Available
    }
}

#[derive(Default)]
struct Loader(Mutex<Vec<String>>);

#[async_trait]
impl ModelLoader for Loader {
    async fn unload(&self, model_id: &str) -> Result<(), LlmError> {
        self.0.lock().unwrap().push(format!("unload {model_id}"));
        Ok(())
    }
    async fn load(&self, model_id: &str) -> Result<(), LlmError> {
        self.0.lock().unwrap().push(format!("load {model_id}"));
        if model_id == "oll/qwen3-coder:30b" {
            return Err(LlmError::ModelNotFound {
                model: model_id.into(),
            });
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_profile_from_import_to_a_failed_swap() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    let catalog = StaticCatalog::new()
        .with_provider("oll", ProviderTier::Local)
        .with_provider("open", ProviderTier::Cloud);
    let profiles = ProfileStore::new(&db);
    let jobs = JobStore::new(&db);

    let created = profiles.import_json(PROFILE, &catalog).await.unwrap();
    assert_eq!(
        (created.profile_id.as_str(), created.parent_profile_id),
        ("wp-dev", None)
    );
    profiles.activate("wp-dev").await.unwrap();
    let job = jobs.start_job().await.unwrap();
    assert_eq!(job.profile_id, "wp-dev");

    // The used profile cannot change; the edit becomes a new version.
    let mut edited = profiles.get("wp-dev").await.unwrap().profile;
    edited.model_assignments.worker.local_only = true;
    edited.model_assignments.worker.fallback_model_id = None;
    let err = profiles
        .edit("wp-dev", edited.clone(), &catalog)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProfileError::InUse { job_count: 1, .. }),
        "{err:?}"
    );
    let v2 = profiles
        .save_as_new_version("wp-dev", edited, &catalog)
        .await
        .unwrap();
    assert_eq!(v2.parent_profile_id.as_deref(), Some("wp-dev"));
    let switched = profiles.activate(&v2.profile_id).await.unwrap();
    assert_eq!(switched.previous.as_deref(), Some("wp-dev"));

    // The job still resolves with wp-dev: a retryable local failure reaches the cloud fallback,
    // flagged as an escalation, and the job's single escalation is then used up.
    let worker = ResolveRequest::role(Role::Worker);
    let first = resolve_for_job(&jobs, &job.job_id, &worker, &catalog, &Healthy)
        .await
        .unwrap();
    assert_eq!(
        (first.profile_id.as_str(), first.chosen_model_id.as_str()),
        ("wp-dev", "oll/qwen3:8b")
    );
    let pinned = jobs.pinned_profile(&job.job_id).await.unwrap();
    let unreachable = LlmError::Unreachable {
        reason: "connection reset".into(),
    };
    let next = next_after_failure(
        &pinned,
        &first,
        unreachable.is_retryable(),
        &catalog,
        &Healthy,
    )
    .unwrap();
    assert_eq!(next.chosen_model_id, "open/gpt-4o-mini");
    assert!(next.requires_escalation && next.crossed_to_cloud);
    assert_eq!(next.passed_over[0].reason, PassOverReason::FailedRetryable);
    assert_eq!(jobs.reserve_cloud_escalation(&job.job_id).await.unwrap(), 1);
    assert!(matches!(
        jobs.reserve_cloud_escalation(&job.job_id).await,
        Err(JobError::CapReached { cap: 1, .. })
    ));

    // Swap the job's worker model for the `.rs` override's model; the load fails, the job
    // resumes on the old model with its saved state.
    let rs = ResolveRequest {
        role: Role::Worker,
        file_type: Some("rs".into()),
        task_type: None,
    };
    let target = resolve_for_job(&jobs, &job.job_id, &rs, &catalog, &Healthy)
        .await
        .unwrap();
    let loader = Loader::default();
    let request = ModelSwapRequest {
        job_id: Some(job.job_id.clone()),
        from_model_id: first.chosen_model_id.clone(),
        to_model_id: target.chosen_model_id.clone(),
    };
    let (mut swap, requested) = ModelSwap::request(&db, request, &catalog).await.unwrap();
    assert_eq!(requested.job_id.as_deref(), Some(job.job_id.as_str()));
    let (records, outcome) = swap.run(&loader, &serde_json::json!({"step": 3})).await;
    let err = outcome.unwrap_err();
    assert!(err.to_string().contains("at step load"), "{err}");
    let trail: Vec<_> = records
        .iter()
        .map(|r| (r.event_id.as_str(), r.outcome))
        .collect();
    assert_eq!(
        trail,
        [
            ("FR-EVT-MODEL-002", StepOutcome::Ok),
            ("FR-EVT-MODEL-003", StepOutcome::Ok),
            ("FR-EVT-MODEL-004", StepOutcome::Failed),
            ("FR-EVT-MODEL-005", StepOutcome::Ok),
        ]
    );
    assert_eq!(records[3].step, SwapStep::Resume);
    assert!(records[3].fell_back_to_old_model);
    assert_eq!(swap.active_model_id(), "oll/qwen3:8b");
    assert_eq!(
        *loader.0.lock().unwrap(),
        [
            "unload oll/qwen3:8b",
            "load oll/qwen3-coder:30b",
            "load oll/qwen3:8b"
        ]
    );

    // Listing shows both versions, the active one, and the job on the first.
    let list = profiles.list().await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].used_by_jobs, vec![job.job_id.clone()]);
    assert!(list[1].active && list[1].used_by_jobs.is_empty());
    assert_eq!(
        profiles.lineage(&v2.profile_id).await.unwrap(),
        vec![v2.profile_id, "wp-dev".into()]
    );
}

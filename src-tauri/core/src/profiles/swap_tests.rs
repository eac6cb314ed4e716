//! Unit tests of [`super`] on real SQLite files, with a loader that fails at a chosen call.

#![allow(clippy::unwrap_used)]

use std::sync::Mutex;

use serde_json::json;

use super::*;
use crate::profiles::test_support::{catalog, database};

/// Records every call; fails the calls listed in `fail` (e.g. `"load oll/qwen3:8b"`).
#[derive(Default)]
struct ScriptedLoader {
    calls: Mutex<Vec<String>>,
    fail: Mutex<Vec<String>>,
}

impl ScriptedLoader {
    fn failing(calls: &[&str]) -> Self {
        let loader = Self::default();
        *loader.fail.lock().unwrap() = calls.iter().map(|c| (*c).to_owned()).collect();
        loader
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn call(&self, call: String) -> Result<(), LlmError> {
        self.calls.lock().unwrap().push(call.clone());
        if self.fail.lock().unwrap().contains(&call) {
            Err(LlmError::Unreachable {
                reason: "connection refused".into(),
            })
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl ModelLoader for ScriptedLoader {
    async fn unload(&self, model_id: &str) -> Result<(), LlmError> {
        self.call(format!("unload {model_id}"))
    }
    async fn load(&self, model_id: &str) -> Result<(), LlmError> {
        self.call(format!("load {model_id}"))
    }
}

fn request() -> ModelSwapRequest {
    ModelSwapRequest {
        job_id: None,
        from_model_id: "oll/qwen3:8b".into(),
        to_model_id: "oll/qwen3-coder:30b".into(),
    }
}

async fn row(db: &Database, swap_id: &str) -> (String, Option<String>, String, Option<String>) {
    let r = sqlx::query(
        "SELECT step, failed_step, active_model_id, error FROM model_swaps WHERE swap_id = ?",
    )
    .bind(swap_id)
    .fetch_one(db.pool())
    .await
    .unwrap();
    (
        r.get("step"),
        r.get("failed_step"),
        r.get("active_model_id"),
        r.get("error"),
    )
}

#[tokio::test]
async fn a_swap_runs_every_step_and_emits_model_001_to_005() {
    let (_dir, db) = database().await;
    let loader = ScriptedLoader::default();
    let (mut swap, requested) = ModelSwap::request(&db, request(), &catalog())
        .await
        .unwrap();
    assert_eq!(requested.event_id, "FR-EVT-MODEL-001");
    let state = json!({"cursor": 42, "notes": "half-way"});
    let (records, outcome) = swap.run(&loader, &state).await;
    outcome.unwrap();
    let ids: Vec<_> = records.iter().map(|r| r.event_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "FR-EVT-MODEL-002",
            "FR-EVT-MODEL-003",
            "FR-EVT-MODEL-004",
            "FR-EVT-MODEL-005"
        ]
    );
    let text = serde_json::to_string(&state).unwrap();
    assert_eq!(
        records[0].job_state_sha256.as_deref(),
        Some(sha256_hex(text.as_bytes()).as_str())
    );
    assert_eq!(records[0].job_state_bytes, Some(text.len() as u64));
    assert!(!records[3].fell_back_to_old_model);
    assert_eq!(
        loader.calls(),
        ["unload oll/qwen3:8b", "load oll/qwen3-coder:30b"]
    );
    assert_eq!(swap.state(), SwapState::Resumed);
    let (step, failed, active, _) = row(&db, swap.swap_id()).await;
    assert_eq!(
        (step.as_str(), failed, active.as_str()),
        ("resumed", None, "oll/qwen3-coder:30b")
    );
}

#[tokio::test]
async fn a_failed_load_is_persisted_and_resume_reloads_the_old_model() {
    let (_dir, db) = database().await;
    let loader = ScriptedLoader::failing(&["load oll/qwen3-coder:30b"]);
    let (mut swap, _) = ModelSwap::request(&db, request(), &catalog())
        .await
        .unwrap();
    let state = json!({"cursor": 7});
    swap.persist(&state).await.unwrap();
    swap.offload(&loader).await.unwrap();
    let err = swap.load(&loader).await.unwrap_err();
    assert!(err.to_string().contains("at step load"), "{err}");
    match &err {
        SwapError::StepFailed {
            step: SwapStep::Load,
            record,
            ..
        } => {
            assert_eq!(record.event_id, "FR-EVT-MODEL-004");
            assert_eq!(record.outcome, StepOutcome::Failed);
            assert_eq!(record.active_model_id, "oll/qwen3:8b");
        }
        other => panic!("{other:?}"),
    }
    let (step, failed, active, error) = row(&db, swap.swap_id()).await;
    assert_eq!(
        (step.as_str(), failed.as_deref(), active.as_str()),
        ("failed", Some("load"), "oll/qwen3:8b")
    );
    assert!(error.unwrap().contains("unreachable"));

    // After a restart, the swap is reopened from its row and resumed on the old model.
    let mut reopened = ModelSwap::open(&db, swap.swap_id()).await.unwrap();
    assert_eq!(
        reopened.state(),
        SwapState::Failed {
            step: SwapStep::Load
        }
    );
    let (record, saved) = reopened.resume(&loader).await.unwrap();
    assert!(record.fell_back_to_old_model);
    assert_eq!(record.active_model_id, "oll/qwen3:8b");
    assert_eq!(saved, Some(state));
    assert_eq!(
        loader.calls().last().map(String::as_str),
        Some("load oll/qwen3:8b")
    );
    let (step, failed, active, _) = row(&db, swap.swap_id()).await;
    assert_eq!(
        (step.as_str(), failed, active.as_str()),
        ("resumed", None, "oll/qwen3:8b")
    );
}

#[tokio::test]
async fn run_resumes_on_the_old_model_after_a_failed_offload() {
    let (_dir, db) = database().await;
    let loader = ScriptedLoader::failing(&["unload oll/qwen3:8b"]);
    let (mut swap, _) = ModelSwap::request(&db, request(), &catalog())
        .await
        .unwrap();
    let (records, outcome) = swap.run(&loader, &json!({})).await;
    assert!(matches!(
        outcome,
        Err(SwapError::StepFailed {
            step: SwapStep::Offload,
            ..
        })
    ));
    let summary: Vec<_> = records.iter().map(|r| (r.step, r.outcome)).collect();
    assert_eq!(
        summary,
        [
            (SwapStep::Persist, StepOutcome::Ok),
            (SwapStep::Offload, StepOutcome::Failed),
            (SwapStep::Resume, StepOutcome::Ok)
        ]
    );
    assert!(records[2].fell_back_to_old_model);
    assert_eq!(swap.active_model_id(), "oll/qwen3:8b");
    assert!(!loader
        .calls()
        .contains(&"load oll/qwen3-coder:30b".to_owned()));
}

#[tokio::test]
async fn a_failed_reload_is_a_resume_failure_that_can_be_retried() {
    let (_dir, db) = database().await;
    let loader = ScriptedLoader::failing(&["load oll/qwen3-coder:30b", "load oll/qwen3:8b"]);
    let (mut swap, _) = ModelSwap::request(&db, request(), &catalog())
        .await
        .unwrap();
    let (records, outcome) = swap.run(&loader, &json!({"k": 1})).await;
    assert!(matches!(
        outcome,
        Err(SwapError::StepFailed {
            step: SwapStep::Load,
            ..
        })
    ));
    assert_eq!(
        records.last().map(|r| (r.step, r.outcome)),
        Some((SwapStep::Resume, StepOutcome::Failed))
    );
    assert_eq!(
        swap.state(),
        SwapState::Failed {
            step: SwapStep::Resume
        }
    );

    loader.fail.lock().unwrap().clear();
    let (record, saved) = swap.resume(&loader).await.unwrap();
    assert!(record.fell_back_to_old_model);
    assert_eq!(saved, Some(json!({"k": 1})));
}

#[tokio::test]
async fn steps_run_only_in_order_and_only_local_models_swap() {
    let (_dir, db) = database().await;
    let loader = ScriptedLoader::default();
    let (mut swap, _) = ModelSwap::request(&db, request(), &catalog())
        .await
        .unwrap();
    let err = swap.load(&loader).await.unwrap_err();
    assert!(matches!(
        err,
        SwapError::OutOfOrder {
            step: SwapStep::Load,
            state: SwapState::Requested,
            ..
        }
    ));
    assert!(matches!(
        swap.resume(&loader).await,
        Err(SwapError::OutOfOrder { .. })
    ));
    assert!(
        loader.calls().is_empty(),
        "an out-of-order step touches no model"
    );

    // A second driver of the same swap cannot overwrite the first one's progress.
    let mut twin = ModelSwap::open(&db, swap.swap_id()).await.unwrap();
    swap.persist(&json!(1)).await.unwrap();
    assert!(matches!(
        twin.persist(&json!(2)).await,
        Err(SwapError::OutOfOrder { .. })
    ));

    for to in [
        "oll/gpt-oss:120b-cloud",
        "open/gpt-4o",
        "ghost/x",
        "noslash",
    ] {
        let mut req = request();
        req.to_model_id = to.into();
        let err = ModelSwap::request(&db, req, &catalog()).await.unwrap_err();
        assert!(
            matches!(err, SwapError::NotSwappable { .. }),
            "{to}: {err:?}"
        );
    }
    assert!(matches!(
        ModelSwap::open(&db, "swap-ghost").await,
        Err(SwapError::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_storage_failure_names_the_step_and_leaves_the_swap_where_it_was() {
    let (_dir, db) = database().await;
    let (mut swap, _) = ModelSwap::request(&db, request(), &catalog())
        .await
        .unwrap();
    db.close().await;
    let err = swap.persist(&json!({"k": 1})).await.unwrap_err();
    assert!(
        matches!(
            err,
            SwapError::Storage {
                step: SwapStep::Persist,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("step persist"), "{err}");
    assert_eq!(swap.state(), SwapState::Requested);
}

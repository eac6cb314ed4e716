//! Fixtures shared by the profile module's unit tests: a catalog with a local Ollama, a LAN
//! server and a cloud provider, a sample profile, a health map and a fresh file database.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Mutex;

use super::catalog::{Availability, ModelHealth, StaticCatalog};
use super::schema::WorkProfile;
use crate::db::Database;
use crate::vocab::ProviderTier;

pub(crate) fn catalog() -> StaticCatalog {
    StaticCatalog::new()
        .with_models(
            "oll",
            ProviderTier::Local,
            &[
                "gemma3:270m",
                "qwen3:8b",
                "qwen3-coder:30b",
                "gpt-oss:120b-cloud",
            ],
        )
        .with_provider("lan", ProviderTier::Local)
        .with_provider("open", ProviderTier::Cloud)
}

pub(crate) fn profile_json(profile_id: &str) -> serde_json::Value {
    serde_json::json!({
        "schema_version": "hsk.work_profile@0.5",
        "profile_id": profile_id,
        "name": "Dev",
        "model_assignments": {
            "frontend": {"primary_model_id": "oll/gemma3:270m", "local_only": true},
            "orchestrator": {
                "primary_model_id": "oll/qwen3:8b",
                "fallback_model_id": "oll/gemma3:270m",
                "local_only": true,
                "allowed_models": ["oll/qwen3:8b", "oll/gemma3:270m"]
            },
            "worker": {
                "primary_model_id": "oll/qwen3:8b",
                "fallback_model_id": "open/gpt-4o-mini",
                "local_only": false
            },
            "validator": {"primary_model_id": "lan/hf.co/org/model:Q4_K_M", "local_only": true}
        },
        "governance": {"automation_level": "HYBRID", "allow_cloud_escalation": true},
        "overrides": {
            "filetype_rules": {
                "rs": {"worker": {"primary_model_id": "oll/qwen3-coder:30b", "local_only": true}}
            },
            "task_type_rules": {
                "review": {"worker": {
                    "primary_model_id": "open/gpt-4o",
                    "fallback_model_id": "oll/qwen3:8b",
                    "local_only": false
                }}
            }
        }
    })
}

pub(crate) fn profile(profile_id: &str) -> WorkProfile {
    serde_json::from_value(profile_json(profile_id)).unwrap()
}

/// Every model available except those set otherwise.
#[derive(Default)]
pub(crate) struct HealthMap(Mutex<HashMap<String, Availability>>);

impl HealthMap {
    pub(crate) fn set(&self, model_id: &str, availability: Availability) {
        self.0
            .lock()
            .unwrap()
            .insert(model_id.to_owned(), availability);
    }
}

impl ModelHealth for HealthMap {
    fn availability(&self, model_id: &str) -> Availability {
        self.0
            .lock()
            .unwrap()
            .get(model_id)
            .copied()
            .unwrap_or(Availability::Available)
    }
}

pub(crate) async fn database() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    (dir, db)
}

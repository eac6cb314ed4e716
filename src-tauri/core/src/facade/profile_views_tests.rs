//! Tests of the Work Profiles screen's facade reads and draft checks, over a real data directory
//! and a loopback model server (no keychain needed: nothing here records an event).
#![allow(clippy::unwrap_used)]

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::registry::NewProvider;

fn profile_json(id: &str, worker: &str) -> String {
    serde_json::json!({
        "schema_version": "hsk.work_profile@0.5",
        "profile_id": id,
        "name": "Dev",
        "model_assignments": {
            "frontend": {"primary_model_id": "oll/gemma3:270m", "local_only": true},
            "orchestrator": {"primary_model_id": "oll/gemma3:270m", "local_only": true},
            "worker": {"primary_model_id": worker, "local_only": true},
            "validator": {"primary_model_id": "oll/gemma3:270m", "local_only": true}
        },
        "governance": {"automation_level": "HYBRID", "allow_cloud_escalation": false}
    })
    .to_string()
}

/// A loopback Ollama that answers every request with `/api/tags` listing `models`.
async fn fake_ollama(models: &'static [&'static str]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let list: Vec<_> = models
                .iter()
                .map(|m| serde_json::json!({"name": m, "model": m}))
                .collect();
            let body = serde_json::json!({ "models": list }).to_string();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    format!("http://{addr}")
}

fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

async fn open_with_ollama(url: &str) -> (tempfile::TempDir, Handshake) {
    let dir = tempfile::tempdir().unwrap();
    let hs = Handshake::open(Some(dir.path().to_path_buf()))
        .await
        .unwrap();
    hs.registry()
        .add(NewProvider::new(
            "oll",
            ProviderKind::Ollama,
            ProviderTier::Local,
            url,
        ))
        .await
        .unwrap();
    (dir, hs)
}

#[tokio::test]
async fn versions_list_children_usage_and_the_active_profile() {
    let (_dir, hs) = open_with_ollama(&refused_url()).await;
    let catalog = hs.catalog().await.unwrap();
    let store = hs.profiles();
    store
        .import_json(&profile_json("wp-a", "oll/gemma3:270m"), &catalog)
        .await
        .unwrap();
    store.activate("wp-a").await.unwrap();
    let job = hs.jobs().start_job().await.unwrap();
    let edited: WorkProfile = serde_json::from_str(&profile_json("wp-b", "oll/qwen3:8b")).unwrap();
    store
        .save_as_new_version("wp-a", edited, &catalog)
        .await
        .unwrap();

    let list = hs.profile_versions().await.unwrap();
    let ids: Vec<_> = list.iter().map(|p| p.profile_id.as_str()).collect();
    assert_eq!(ids, ["wp-a", "wp-b"]);
    assert_eq!(list[0].child_profile_ids, ["wp-b"]);
    assert_eq!(list[0].used_by_jobs, [job.job_id]);
    assert!(list[0].active && !list[1].active);
    assert_eq!(list[1].parent_profile_id.as_deref(), Some("wp-a"));
    assert!(list[1].child_profile_ids.is_empty() && list[1].used_by_jobs.is_empty());
}

#[tokio::test]
async fn a_draft_is_checked_field_by_field_without_being_saved() {
    let (_dir, hs) = open_with_ollama(&refused_url()).await;

    let bad = profile_json("wp-new", "gemma3:270m");
    let err = hs.check_profile_draft(&bad, None).await.unwrap_err();
    assert_eq!(err.code(), "invalid");
    let FacadeError::Profile(ProfileError::Invalid(errors)) = &err else {
        panic!("{err:?}");
    };
    assert!(
        errors.has_path("model_assignments.worker.primary_model_id"),
        "{errors:?}"
    );

    let unknown = profile_json("wp-new", "ghost/model");
    let err = hs.check_profile_draft(&unknown, None).await.unwrap_err();
    assert!(err.to_string().contains("no provider `ghost`"), "{err}");

    let good = profile_json("wp-new", "oll/gemma3:270m");
    let checked = hs.check_profile_draft(&good, None).await.unwrap();
    assert_eq!(checked.profile_id, "wp-new");
    assert!(
        hs.profile_versions().await.unwrap().is_empty(),
        "checking saves nothing"
    );

    let spaced = profile_json("wp new", "oll/gemma3:270m");
    let err = hs.check_profile_draft(&spaced, None).await.unwrap_err();
    assert_eq!(
        (err.code(), err.field()),
        ("invalid_id", Some("profile_id"))
    );
}

#[tokio::test]
async fn a_new_draft_may_not_take_an_existing_id_but_an_edit_may_repeat_its_own() {
    let (_dir, hs) = open_with_ollama(&refused_url()).await;
    let catalog = hs.catalog().await.unwrap();
    let json = profile_json("wp-a", "oll/gemma3:270m");
    hs.profiles().import_json(&json, &catalog).await.unwrap();

    let err = hs.check_profile_draft(&json, None).await.unwrap_err();
    assert_eq!((err.code(), err.field()), ("id_taken", Some("profile_id")));
    let err = hs.check_profile_draft(&json, Some("wp-other")).await;
    assert!(
        err.is_err(),
        "an edit naming another existing id is refused"
    );
    hs.check_profile_draft(&json, Some("wp-a")).await.unwrap();
}

#[tokio::test]
async fn saving_an_edit_of_a_missing_profile_is_refused_before_anything_changes() {
    let (_dir, hs) = open_with_ollama(&refused_url()).await;
    let json = profile_json("wp-x", "oll/gemma3:270m");
    let err = hs.save_profile_edit("wp-ghost", &json).await.unwrap_err();
    assert_eq!(err.code(), "profile_not_found");
    assert!(hs.profile_versions().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_model_catalog_lists_models_with_tiers_and_says_why_a_provider_has_none() {
    let url = fake_ollama(&["gemma3:270m", "gpt-oss:120b-cloud"]).await;
    let (_dir, hs) = open_with_ollama(&url).await;
    hs.registry()
        .add(NewProvider::new(
            "down",
            ProviderKind::Ollama,
            ProviderTier::Local,
            refused_url(),
        ))
        .await
        .unwrap();

    let providers = hs.model_catalog().await.unwrap();
    let down = providers.iter().find(|p| p.provider_id == "down").unwrap();
    assert!(down.models.is_empty());
    assert!(down.models_error.is_some());
    let oll = providers.iter().find(|p| p.provider_id == "oll").unwrap();
    assert_eq!(oll.tier, ProviderTier::Local);
    assert_eq!(oll.models_error, None);
    let tiers: Vec<_> = oll
        .models
        .iter()
        .map(|m| (m.model_id.as_str(), m.tier))
        .collect();
    assert_eq!(
        tiers,
        [
            ("oll/gemma3:270m", ProviderTier::Local),
            ("oll/gpt-oss:120b-cloud", ProviderTier::Cloud)
        ]
    );
}

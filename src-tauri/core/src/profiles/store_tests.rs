//! Unit tests of [`super`] on real SQLite files: versions, immutability, activation, export.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::profiles::jobs::JobStore;
use crate::profiles::test_support::{catalog, database, profile};

#[tokio::test]
async fn create_get_export_and_reimport_elsewhere() {
    let (_dir, db) = database().await;
    let store = ProfileStore::new(&db);
    let created = store.create(profile("wp-1"), &catalog()).await.unwrap();
    assert_eq!(created.profile_id, "wp-1");
    assert_eq!(created.parent_profile_id, None);
    let stored = store.get("wp-1").await.unwrap();
    assert_eq!(stored.profile, profile("wp-1"));
    assert_eq!(stored.body_sha256, created.body_sha256);
    assert!(!stored.active && stored.used_by_jobs.is_empty());

    let exported = store.export_json("wp-1").await.unwrap();
    assert_eq!(sha256_hex(exported.as_bytes()), created.body_sha256);
    let (_dir2, other) = database().await;
    let imported = ProfileStore::new(&other)
        .import_json(&exported, &catalog())
        .await
        .unwrap();
    assert_eq!(imported.body_sha256, created.body_sha256);
    assert!(matches!(
        store.get("nope").await,
        Err(ProfileError::NotFound { .. })
    ));
}

#[tokio::test]
async fn an_invalid_profile_is_refused_and_not_stored() {
    let (_dir, db) = database().await;
    let store = ProfileStore::new(&db);
    let mut bad = profile("wp-bad");
    bad.model_assignments.worker.fallback_model_id = Some("nowhere".into());
    match store.create(bad, &catalog()).await {
        Err(ProfileError::Invalid(errors)) => {
            assert!(
                errors.has_path("model_assignments.worker.fallback_model_id"),
                "{errors}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(store.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn editing_an_unused_profile_creates_a_new_version_and_keeps_the_old() {
    let (_dir, db) = database().await;
    let store = ProfileStore::new(&db);
    store.create(profile("wp-1"), &catalog()).await.unwrap();
    let mut edited = profile("wp-1");
    edited.name = "Dev, cheaper".into();
    let v2 = store.edit("wp-1", edited, &catalog()).await.unwrap();
    assert_ne!(
        v2.profile_id, "wp-1",
        "an edit always gets a new profile_id"
    );
    assert_eq!(v2.parent_profile_id.as_deref(), Some("wp-1"));
    assert_eq!(store.get("wp-1").await.unwrap().profile.name, "Dev");
    let new = store.get(&v2.profile_id).await.unwrap();
    assert_eq!(new.profile.name, "Dev, cheaper");
    assert_eq!(
        new.profile.profile_id, v2.profile_id,
        "the stored body names its own id"
    );
    assert_eq!(
        store.lineage(&v2.profile_id).await.unwrap(),
        vec![v2.profile_id.clone(), "wp-1".into()]
    );
}

#[tokio::test]
async fn a_used_profile_refuses_edits_and_offers_a_new_version() {
    let (_dir, db) = database().await;
    let store = ProfileStore::new(&db);
    store.create(profile("wp-1"), &catalog()).await.unwrap();
    store.activate("wp-1").await.unwrap();
    let job = JobStore::new(&db).start_job().await.unwrap();

    let mut edited = profile("wp-1");
    edited.governance.allow_cloud_escalation = false;
    let err = store
        .edit("wp-1", edited.clone(), &catalog())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProfileError::InUse { profile_id, job_count: 1 } if profile_id == "wp-1")
    );
    assert!(err.to_string().contains("new version"), "{err}");
    // Re-importing the used id is refused the same way.
    let text = serde_json::to_string(&edited).unwrap();
    assert!(matches!(
        store.import_json(&text, &catalog()).await,
        Err(ProfileError::InUse { .. })
    ));

    edited.profile_id = "wp-1-locked".into();
    let v2 = store
        .save_as_new_version("wp-1", edited, &catalog())
        .await
        .unwrap();
    assert_eq!(v2.profile_id, "wp-1-locked");
    assert_eq!(v2.parent_profile_id.as_deref(), Some("wp-1"));
    let old = store.get("wp-1").await.unwrap();
    assert!(old.profile.governance.allow_cloud_escalation);
    assert_eq!(old.used_by_jobs, vec![job.job_id]);

    // The table itself refuses to change a stored profile.
    let update = sqlx::query("UPDATE work_profiles SET name = 'x' WHERE profile_id = 'wp-1'")
        .execute(db.pool())
        .await;
    assert!(update.unwrap_err().to_string().contains("immutable"));
}

#[tokio::test]
async fn importing_an_existing_unused_id_is_refused_as_taken() {
    let (_dir, db) = database().await;
    let store = ProfileStore::new(&db);
    store.create(profile("wp-1"), &catalog()).await.unwrap();
    let text = serde_json::to_string(&profile("wp-1")).unwrap();
    let err = store.import_json(&text, &catalog()).await.unwrap_err();
    assert!(matches!(err, ProfileError::IdTaken { .. }), "{err:?}");
}

#[tokio::test]
async fn activate_reports_the_previous_profile_and_list_shows_it() {
    let (_dir, db) = database().await;
    let store = ProfileStore::new(&db);
    store.create(profile("wp-a"), &catalog()).await.unwrap();
    store.create(profile("wp-b"), &catalog()).await.unwrap();
    assert_eq!(store.active_profile_id().await.unwrap(), None);
    let first = store.activate("wp-a").await.unwrap();
    assert_eq!(
        first,
        ProfileActivated {
            profile_id: "wp-a".into(),
            previous: None
        }
    );
    let second = store.activate("wp-b").await.unwrap();
    assert_eq!(second.previous.as_deref(), Some("wp-a"));
    assert!(matches!(
        store.activate("ghost").await,
        Err(ProfileError::NotFound { .. })
    ));
    assert_eq!(
        store.active_profile_id().await.unwrap().as_deref(),
        Some("wp-b")
    );

    let list = store.list().await.unwrap();
    let active: Vec<_> = list
        .iter()
        .filter(|p| p.active)
        .map(|p| p.profile_id.as_str())
        .collect();
    assert_eq!(active, vec!["wp-b"]);
    assert_eq!(list.len(), 2);
    let value: String =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = 'active_profile_id'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(value, "wp-b");
}

#[tokio::test]
async fn a_new_version_cannot_take_an_existing_id_and_codes_are_stable() {
    let (_dir, db) = database().await;
    let store = ProfileStore::new(&db);
    store.create(profile("wp-1"), &catalog()).await.unwrap();
    store.create(profile("wp-2"), &catalog()).await.unwrap();
    store.activate("wp-2").await.unwrap();
    JobStore::new(&db).start_job().await.unwrap();
    // wp-2 is used, but the collision is about the id, not about editing wp-2.
    let err = store
        .save_as_new_version("wp-1", profile("wp-2"), &catalog())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProfileError::IdTaken { profile_id } if profile_id == "wp-2"),
        "{err:?}"
    );
    assert_eq!(err.code(), "id_taken");
    let err = store
        .edit("ghost", profile("wp-3"), &catalog())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found");
    assert_eq!(store.list().await.unwrap().len(), 2);
}

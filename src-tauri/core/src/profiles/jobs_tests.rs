//! Unit tests of [`super`] on real SQLite files: pinning, finishing and the escalation cap.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::profiles::test_support::{catalog, database, profile};

async fn setup() -> (tempfile::TempDir, Database, JobStore) {
    let (dir, db) = database().await;
    let store = ProfileStore::new(&db);
    store.create(profile("wp-a"), &catalog()).await.unwrap();
    store.activate("wp-a").await.unwrap();
    let jobs = JobStore::new(&db);
    (dir, db, jobs)
}

#[tokio::test]
async fn a_job_needs_an_active_profile() {
    let (_dir, db) = database().await;
    let err = JobStore::new(&db).start_job().await.unwrap_err();
    assert!(matches!(err, JobError::NoActiveProfile), "{err:?}");
}

#[tokio::test]
async fn a_job_keeps_its_profile_after_a_switch() {
    let (_dir, db, jobs) = setup().await;
    let started = jobs.start_job().await.unwrap();
    assert_eq!(started.profile_id, "wp-a");
    let store = ProfileStore::new(&db);
    let mut b = profile("wp-b");
    b.name = "B".into();
    store.create(b, &catalog()).await.unwrap();
    store.activate("wp-b").await.unwrap();
    let job = jobs.get(&started.job_id).await.unwrap();
    assert_eq!(job.profile_id, "wp-a");
    assert_eq!(job.status, JobStatus::Running);
    assert_eq!(
        jobs.pinned_profile(&started.job_id).await.unwrap().name,
        "Dev"
    );
    assert_eq!(jobs.start_job().await.unwrap().profile_id, "wp-b");
    let repin = sqlx::query("UPDATE jobs SET profile_id = 'wp-b' WHERE job_id = ?")
        .bind(&started.job_id)
        .execute(db.pool())
        .await;
    assert!(repin.unwrap_err().to_string().contains("keeps the profile"));
}

#[tokio::test]
async fn the_cap_stops_reservations_and_finished_jobs_reserve_nothing() {
    let (_dir, _db, jobs) = setup().await;
    let job = jobs.start_job().await.unwrap().job_id;
    assert_eq!(jobs.try_reserve_cloud_escalation(&job, 2).await.unwrap(), 1);
    assert_eq!(jobs.try_reserve_cloud_escalation(&job, 2).await.unwrap(), 2);
    let err = jobs
        .try_reserve_cloud_escalation(&job, 2)
        .await
        .unwrap_err();
    assert!(
        matches!(err, JobError::CapReached { cap: 2, .. }),
        "{err:?}"
    );
    assert_eq!(jobs.get(&job).await.unwrap().cloud_escalations, 2);

    let done = jobs.finish(&job, JobStatus::Succeeded).await.unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    assert!(done.finished_at.is_some());
    let err = jobs
        .try_reserve_cloud_escalation(&job, 10)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            JobError::NotRunning {
                status: JobStatus::Succeeded,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        jobs.finish(&job, JobStatus::Failed).await,
        Err(JobError::NotRunning { .. })
    ));
    let err = jobs
        .try_reserve_cloud_escalation("job-ghost", 1)
        .await
        .unwrap_err();
    assert!(matches!(err, JobError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn reservations_follow_the_pinned_profile_governance() {
    let (_dir, db, jobs) = setup().await;
    let store = ProfileStore::new(&db);
    let mut capped = profile("wp-capped");
    capped.governance.max_cloud_escalations_per_job = Some(1);
    store.create(capped, &catalog()).await.unwrap();
    let mut closed = profile("wp-closed");
    closed.governance.allow_cloud_escalation = false;
    closed.model_assignments.worker.fallback_model_id = None;
    closed.overrides = None;
    store.create(closed, &catalog()).await.unwrap();

    store.activate("wp-capped").await.unwrap();
    let capped_job = jobs.start_job().await.unwrap().job_id;
    store.activate("wp-closed").await.unwrap();
    let closed_job = jobs.start_job().await.unwrap().job_id;

    assert_eq!(jobs.reserve_cloud_escalation(&capped_job).await.unwrap(), 1);
    assert!(matches!(
        jobs.reserve_cloud_escalation(&capped_job).await,
        Err(JobError::CapReached { cap: 1, .. })
    ));
    assert!(matches!(
        jobs.reserve_cloud_escalation(&closed_job).await,
        Err(JobError::CloudEscalationDisabled { .. })
    ));
    assert_eq!(jobs.get(&closed_job).await.unwrap().cloud_escalations, 0);
}

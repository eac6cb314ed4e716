//! The anchor key and the head witness through the real OS keychain (Secret Service on Linux).
//! Run under `dbus-run-session` with an unlocked gnome-keyring (see docs/recorder.md); the tests
//! take turns because Secret Service tests race on D-Bus.
#![allow(clippy::unwrap_used)]

mod recorder_common;

use std::path::Path;

use handshake_core::db::{Database, DB_FILE_NAME};
use handshake_core::recorder::anchor::{Anchor, ANCHOR_FILE_NAME, ANCHOR_KEY_HANDLE};
use handshake_core::recorder::*;
use handshake_core::secrets::{Keychain, SecretHandle};
use recorder_common::drop_guards;
use secrecy::SecretString;

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn test_keychain() -> Keychain {
    Keychain::with_service(format!(
        "dev.handshake.test.recorder.{}",
        uuid::Uuid::new_v4()
    ))
}

async fn append_jobs(dir: &Path, keychain: &Keychain, jobs: std::ops::Range<usize>) -> bool {
    let db = Database::open(dir).await.unwrap();
    let rec = FlightRecorder::open(
        &db,
        dir,
        KeySource::Keychain(keychain.clone()),
        RecorderConfig::default(),
    )
    .await
    .unwrap();
    for i in jobs {
        rec.append_durable(
            FlightEvent::JobStarted(JobStarted {
                job_id: Ident::new(format!("j{i}")).unwrap(),
                profile_id: Ident::new("p1").unwrap(),
            }),
            Correlation::none(),
        )
        .await
        .unwrap();
    }
    let conflict = rec.stats().anchor_conflict;
    rec.shutdown().await.unwrap();
    db.close().await;
    conflict
}

async fn verify_with_witness(dir: &Path, keychain: &Keychain) -> VerifyReport {
    let db = Database::open(dir).await.unwrap();
    let report = verify_data_dir(&db, dir, KeySource::Keychain(keychain.clone()))
        .await
        .unwrap();
    db.close().await;
    report
}

fn broken(report: VerifyReport) -> (i64, BreakKind, String) {
    match report {
        VerifyReport::Broken {
            sequence,
            kind,
            detail,
        } => (sequence, kind, detail),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

#[tokio::test]
async fn the_anchor_key_is_generated_in_the_keychain_once_and_reused() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let keychain = Keychain::with_service(format!(
        "dev.handshake.test.recorder.{}",
        uuid::Uuid::new_v4()
    ));
    let handle = SecretHandle::new(ANCHOR_KEY_HANDLE);
    assert!(
        !keychain.contains(&handle).unwrap(),
        "a fresh service has no key yet"
    );

    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).await.unwrap();
    let rec = FlightRecorder::open(
        &db,
        dir.path(),
        KeySource::Keychain(keychain.clone()),
        RecorderConfig::default(),
    )
    .await
    .unwrap();
    assert!(
        keychain.contains(&handle).unwrap(),
        "the key was generated and stored on first use"
    );
    let key_hex = {
        use secrecy::ExposeSecret;
        keychain.get(&handle).unwrap().expose_secret().to_owned()
    };
    assert_eq!(key_hex.len(), 64);
    rec.append_durable(
        FlightEvent::JobStarted(JobStarted {
            job_id: Ident::new("j1").unwrap(),
            profile_id: Ident::new("p1").unwrap(),
        }),
        Correlation::none(),
    )
    .await
    .unwrap();
    assert!(rec.verify().await.unwrap().is_ok());
    rec.shutdown().await.unwrap();

    // A second open reads the same key: the anchor still verifies, and the key did not change.
    let again = verify_data_dir(&db, dir.path(), KeySource::Keychain(keychain.clone()))
        .await
        .unwrap();
    assert!(again.is_ok(), "{again:?}");
    {
        use secrecy::ExposeSecret;
        assert_eq!(
            keychain.get(&handle).unwrap().expose_secret(),
            key_hex.as_str()
        );
    }

    // Another keychain service means another key: the anchor is not accepted.
    let other = Keychain::with_service(format!(
        "dev.handshake.test.recorder.{}",
        uuid::Uuid::new_v4()
    ));
    let foreign = verify_data_dir(&db, dir.path(), KeySource::Keychain(other.clone()))
        .await
        .unwrap();
    assert!(
        matches!(
            foreign,
            VerifyReport::Broken {
                kind: BreakKind::AnchorMismatch,
                ..
            }
        ),
        "{foreign:?}"
    );

    keychain.delete(&handle).unwrap();
    other.delete(&handle).unwrap();
}

#[tokio::test]
async fn a_rolled_back_or_wiped_log_is_reported_by_the_keychain_witness() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let keychain = test_keychain();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let witness = HeadWitness::for_data_dir(keychain.clone(), d);

    assert!(!append_jobs(d, &keychain, 0..3).await);
    let saved_anchor = std::fs::read(d.join(ANCHOR_FILE_NAME)).unwrap();
    assert!(!append_jobs(d, &keychain, 3..8).await);
    let witnessed = witness.read().unwrap().unwrap();
    assert_eq!(witnessed.seq, 8, "the witness follows the anchored head");
    assert!(verify_with_witness(d, &keychain).await.is_ok());

    // It only moves forward: an older head (a stale writer) does not put it back.
    assert!(!witness
        .advance(&ChainHead {
            seq: 2,
            hash: "00".repeat(32)
        })
        .unwrap());
    assert_eq!(witness.read().unwrap(), Some(witnessed.clone()));

    // Roll back: the last five rows deleted (guards dropped) and the older anchor put back.
    {
        let db = Database::open(d).await.unwrap();
        drop_guards(&db).await;
        sqlx::query("DELETE FROM flight_events WHERE seq > 3")
            .execute(db.pool())
            .await
            .unwrap();
        db.close().await;
    }
    std::fs::write(d.join(ANCHOR_FILE_NAME), &saved_anchor).unwrap();
    // The files alone are consistent: the anchor without the witness accepts the older head.
    {
        let db = Database::open(d).await.unwrap();
        let key = KeySource::Keychain(keychain.clone()).load().await.unwrap();
        let alone = verify::verify(db.path(), &Anchor::new(d, key), VerifyDepth::Full)
            .await
            .unwrap();
        assert!(alone.is_ok(), "{alone:?}");
        db.close().await;
    }
    let (at, kind, detail) = broken(verify_with_witness(d, &keychain).await);
    assert_eq!((at, kind), (4, BreakKind::RolledBack), "{detail}");
    assert!(detail.contains("witnessed event 8"), "{detail}");

    // Recording on the rolled-back log goes on, but moves neither the anchor nor the witness past
    // the evidence, even once its head passes the witnessed number.
    assert!(
        append_jobs(d, &keychain, 100..110).await,
        "the recorder saw the conflict"
    );
    assert_eq!(witness.read().unwrap(), Some(witnessed.clone()));
    let (at, kind, detail) = broken(verify_with_witness(d, &keychain).await);
    assert_eq!((at, kind), (8, BreakKind::RolledBack), "{detail}");

    // Wipe: the database and the anchor deleted; an empty log at this path is still behind.
    for name in [
        DB_FILE_NAME.to_owned(),
        format!("{DB_FILE_NAME}-wal"),
        format!("{DB_FILE_NAME}-shm"),
        ANCHOR_FILE_NAME.to_owned(),
    ] {
        let _ = std::fs::remove_file(d.join(name));
    }
    let (at, kind, detail) = broken(verify_with_witness(d, &keychain).await);
    assert_eq!((at, kind), (1, BreakKind::RolledBack), "{detail}");
    assert!(detail.contains("end at 0"), "{detail}");

    // An entry that is not a witness is refused, not read as "no witness".
    keychain
        .set(
            witness.handle(),
            &SecretString::from("not a witness".to_owned()),
        )
        .unwrap();
    let db = Database::open(d).await.unwrap();
    let refused = verify_data_dir(&db, d, KeySource::Keychain(keychain.clone())).await;
    assert!(
        matches!(
            refused,
            Err(RecorderError::Anchor(AnchorError::BadWitness { .. }))
        ),
        "{refused:?}"
    );
    db.close().await;

    keychain.delete(witness.handle()).unwrap();
    keychain
        .delete(&SecretHandle::new(ANCHOR_KEY_HANDLE))
        .unwrap();
}

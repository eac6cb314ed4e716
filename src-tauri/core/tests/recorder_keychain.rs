//! The anchor key through the real OS keychain (Secret Service on Linux). Run under
//! `dbus-run-session` with an unlocked gnome-keyring (see docs/recorder.md); serialised in one
//! test because Secret Service tests race on D-Bus.
#![allow(clippy::unwrap_used)]

use handshake_core::db::Database;
use handshake_core::recorder::anchor::ANCHOR_KEY_HANDLE;
use handshake_core::recorder::*;
use handshake_core::secrets::{Keychain, SecretHandle};

#[tokio::test]
async fn the_anchor_key_is_generated_in_the_keychain_once_and_reused() {
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

//! What the keychain's head witness costs a governance event: `append_durable` (commit, fsync,
//! anchor write, and with the witness a keychain read and write) into two Flight Recorders side by
//! side, one whose anchor key comes from the keychain (the app's setup: the witness is kept) and
//! one with a fixed key (no witness, otherwise identical). Events alternate between the two so
//! that machine noise hits both alike; prints p50 and p99 of each and the difference.
//!
//! Needs a Secret Service (run under `dbus-run-session` with an unlocked gnome-keyring, as the
//! test suite does); its entries go to a throwaway service and are deleted at the end.
//!
//! ```sh
//! cargo run -p handshake-core --release --example witness_cost_bench -- [events]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a benchmark binary

use std::time::{Duration, Instant};

use handshake_core::db::Database;
use handshake_core::recorder::anchor::ANCHOR_KEY_HANDLE;
use handshake_core::recorder::{
    AnchorKey, Correlation, FlightEvent, FlightRecorder, HeadWitness, Ident, JobStarted, KeySource,
    RecorderConfig,
};
use handshake_core::secrets::{Keychain, SecretHandle};

fn event(i: usize) -> FlightEvent {
    FlightEvent::JobStarted(JobStarted {
        job_id: Ident::new(format!("job-{i}")).unwrap(),
        profile_id: Ident::new("p1").unwrap(),
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("events"))
        .unwrap_or(300);
    let keychain = Keychain::with_service(format!("dev.handshake.bench.{}", uuid::Uuid::new_v4()));
    let (with_dir, without_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let open = |dir: std::path::PathBuf, keys: KeySource| async move {
        let db = Database::open(&dir).await.unwrap();
        let rec = FlightRecorder::open(&db, &dir, keys, RecorderConfig::default())
            .await
            .unwrap();
        (db, rec)
    };
    let (_db_w, with) = open(
        with_dir.path().to_path_buf(),
        KeySource::Keychain(keychain.clone()),
    )
    .await;
    let (_db_n, without) = open(
        without_dir.path().to_path_buf(),
        KeySource::Fixed(AnchorKey::from_bytes([3; 32])),
    )
    .await;

    let (mut w, mut n) = (Vec::with_capacity(events), Vec::with_capacity(events));
    for i in 0..events {
        for (rec, times) in [(&with, &mut w), (&without, &mut n)] {
            let start = Instant::now();
            rec.append_durable(event(i), Correlation::none())
                .await
                .unwrap();
            times.push(start.elapsed());
        }
    }
    with.shutdown().await.unwrap();
    without.shutdown().await.unwrap();
    let witness = HeadWitness::for_data_dir(keychain.clone(), with_dir.path());
    let witnessed = witness.read().unwrap().expect("a witness was kept");
    assert_eq!(witnessed.seq, events as i64, "the witness is at the head");

    w.sort();
    n.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("governance events: {events} into each recorder, alternating");
    for (name, t) in [("with witness (keychain)", &w), ("without (fixed key)", &n)] {
        println!(
            "{name:>24}: p50 {:>8.0} µs   p99 {:>8.0} µs",
            us(percentile(t, 0.5)),
            us(percentile(t, 0.99))
        );
    }
    println!(
        "{:>24}: p50 {:>+8.0} µs   p99 {:>+8.0} µs",
        "witness adds",
        us(percentile(&w, 0.5)) - us(percentile(&n, 0.5)),
        us(percentile(&w, 0.99)) - us(percentile(&n, 0.99))
    );
    keychain.delete(witness.handle()).unwrap();
    keychain
        .delete(&SecretHandle::new(ANCHOR_KEY_HANDLE))
        .unwrap();
}

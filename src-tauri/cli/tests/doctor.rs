//! `hsk --version` and `hsk doctor` as a user runs them: the real binary, a real data directory,
//! the real OS keychain (run under dbus-run-session with gnome-keyring, as the test command does).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn hsk() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hsk"));
    cmd.env_remove("HANDSHAKE_DATA_DIR");
    cmd
}

#[test]
fn version_prints_the_crate_version() {
    let out = hsk().arg("--version").output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.trim(), format!("hsk {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn doctor_json_names_every_check_and_passes_with_a_working_keychain() {
    let dir = tempfile::tempdir().unwrap();
    let out = hsk()
        .args(["doctor", "--json", "--ollama-url", "http://127.0.0.1:9"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["data_dir", "database", "keychain", "ollama"]);
    let state = |name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state("keychain"), "ok");
    assert_eq!(state("database"), "ok");
    // Nothing answers on port 9: an absent Ollama is reported but is not a failure.
    assert_eq!(state("ollama"), "absent");
    assert_eq!(report["ok"], true);
    assert_eq!(report["data_dir"], dir.path().display().to_string());
    assert!(report["schema_version"].as_i64().unwrap() >= 1);
    assert!(dir.path().join("handshake.db").exists());
}

#[test]
fn doctor_honours_the_environment_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = hsk()
        .env("HANDSHAKE_DATA_DIR", dir.path())
        .args(["doctor", "--json", "--ollama-url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["data_dir"], dir.path().display().to_string());
    assert!(dir.path().join("handshake.db").exists());
}

#[test]
fn doctor_fails_readably_on_a_corrupt_database_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("handshake.db");
    std::fs::write(&db, b"definitely not sqlite").unwrap();
    let out = hsk()
        .args(["doctor", "--ollama-url", "http://127.0.0.1:9"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("hsk: required checks failed: database:"),
        "{stderr}"
    );
    assert!(stderr.contains("left untouched"), "{stderr}");
    assert_eq!(std::fs::read(&db).unwrap(), b"definitely not sqlite");

    // With --json the error on stderr is JSON too, and stdout still holds the report.
    let out = hsk()
        .args(["doctor", "--json", "--ollama-url", "http://127.0.0.1:9"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["code"], "checks_failed");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
}

#[test]
fn doctor_integrity_reads_every_page_and_plain_doctor_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let doctor = |extra: &[&str]| {
        hsk()
            .args(["doctor", "--json", "--ollama-url", "http://127.0.0.1:9"])
            .args(extra)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap()
    };
    assert!(doctor(&[]).status.success());
    // The last page (a table created by the newest migration, far from the schema) scribbled.
    let db = dir.path().join("handshake.db");
    let mut bytes = std::fs::read(&db).unwrap();
    let last = bytes.len() - handshake_core::db::PAGE_SIZE as usize;
    bytes[last..].fill(0xA5);
    std::fs::write(&db, &bytes).unwrap();

    let quick = doctor(&[]);
    assert!(
        quick.status.success(),
        "opening reads the header and schema only"
    );
    let out = doctor(&["--integrity"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let integrity = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "integrity")
        .unwrap()
        .clone();
    assert_eq!(integrity["state"], "failed", "{integrity}");
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "left untouched");
}

#[test]
fn usage_errors_exit_non_zero_on_stderr() {
    let out = hsk().arg("no-such-command").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(!out.stderr.is_empty());
}

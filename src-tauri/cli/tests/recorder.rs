//! `hsk recorder ...` end to end: profile and job commands leave FR-EVT-PROFILE-001/002 events
//! that `query` finds, `verify` passes on an intact log and exits 4 on a tampered one, and
//! `export` writes JSON Lines.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{add_ollama, hsk, hsk_json, profile_json, serial, write_json};

/// A data directory with a created and activated profile and one started job.
fn with_events(d: &Path) -> String {
    add_ollama(d, "oll", "http://127.0.0.1:11434");
    let file = write_json(d, "dev.json", &profile_json("wp-dev", "oll", "Dev"));
    hsk_json(d, &["profile", "create", "--file", &file]);
    hsk_json(d, &["profile", "activate", "wp-dev"]);
    hsk_json(d, &["job", "start"])["job_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn profile_and_job_commands_are_recorded_and_queryable() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let job = with_events(d);

    let changed = hsk_json(d, &["recorder", "query", "--type", "FR-EVT-PROFILE-001"]);
    let changed = changed.as_array().unwrap();
    assert_eq!(changed.len(), 2);
    assert_eq!(changed[0]["payload"]["change"], "created");
    assert_eq!(changed[0]["payload"]["profile_id"], "wp-dev");
    assert!(changed[0]["payload"]["parent_profile_id"].is_null());
    assert_eq!(changed[1]["payload"]["change"], "activated");
    assert_eq!(changed[1]["profile_id"], "wp-dev");

    let started = hsk_json(d, &["recorder", "query", "--type", "FR-EVT-PROFILE-002"]);
    assert_eq!(started.as_array().unwrap().len(), 1);
    assert_eq!(started[0]["job_id"], job.as_str());
    assert_eq!(started[0]["payload"]["profile_id"], "wp-dev");

    let by_job = hsk_json(d, &["recorder", "query", "--job", &job]);
    assert_eq!(by_job.as_array().unwrap().len(), 1);
    let paged = hsk_json(
        d,
        &["recorder", "query", "--after-seq", "1", "--limit", "1"],
    );
    assert_eq!(paged.as_array().unwrap().len(), 1);
    assert_eq!(paged[0]["seq"], 2);
    let window = hsk_json(
        d,
        &[
            "recorder",
            "query",
            "--since",
            "2000-01-01T00:00:00Z",
            "--until",
            "2000-01-02T00:00:00Z",
        ],
    );
    assert_eq!(window.as_array().unwrap().len(), 0);

    let tail = hsk_json(d, &["recorder", "tail", "-n", "2"]);
    assert_eq!(tail.as_array().unwrap().len(), 2);
    assert_eq!(tail[1]["event_type"], "FR-EVT-PROFILE-002");
    let text = hsk(d, &["recorder", "tail"], "").ok().stdout;
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains("FR-EVT-PROFILE-002"), "{text}");

    let verified = hsk_json(d, &["recorder", "verify"]);
    assert_eq!(verified["status"], "ok");
    assert_eq!(verified["count"], 3);
    assert_eq!(verified["anchored_seq"], 3);
    // Routine verification walks only what was added since; --full walks everything again.
    let again = hsk_json(d, &["recorder", "verify"]);
    assert_eq!(
        (again["count"].clone(), again["from_seq"].clone()),
        (0.into(), 4.into())
    );
    let text = hsk(d, &["recorder", "verify", "--full"], "").ok().stdout;
    assert!(text.starts_with("ok: 3 event(s) verified from 1"), "{text}");
}

#[test]
fn bad_filters_are_typed_errors() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (args, field) in [
        (
            vec!["--json", "recorder", "query", "--type", "FR-EVT-NOPE"],
            "--type",
        ),
        (
            vec!["--json", "recorder", "query", "--since", "yesterday"],
            "--since",
        ),
        (
            vec!["--json", "recorder", "query", "--until", "2026-13-01"],
            "--until",
        ),
        (
            vec!["--json", "recorder", "query", "--trace", "not-a-uuid"],
            "--trace",
        ),
    ] {
        let run = hsk(d, &args, "");
        assert_eq!(run.code, Some(1), "{args:?}");
        assert_eq!(run.error()["code"], "invalid_argument", "{args:?}");
        assert_eq!(run.error()["field"], field, "{args:?}");
    }
    // An empty log verifies and exports nothing.
    assert_eq!(hsk_json(d, &["recorder", "verify"])["count"], 0);
    assert_eq!(hsk(d, &["recorder", "export"], "").ok().stdout, "");
}

#[test]
fn export_writes_json_lines() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    with_events(d);
    let stdout = hsk(d, &["recorder", "export"], "").ok().stdout;
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[2]["event_type"], "FR-EVT-PROFILE-002");
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);

    let file = d.join("events.jsonl");
    let done = hsk_json(
        d,
        &[
            "recorder",
            "export",
            "--type",
            "FR-EVT-PROFILE-001",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(done["events"], 2);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 2);
    for line in text.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(event["event_type"], "FR-EVT-PROFILE-001");
    }
}

#[test]
fn verify_exits_3_with_the_first_broken_link() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    with_events(d);
    // The anchor certifies the head; a forged one is caught.
    std::fs::write(d.join("recorder.anchor"), b"{\"forged\": true}").unwrap();
    let run = hsk(d, &["--json", "recorder", "verify"], "");
    assert_eq!(run.code, Some(4));
    assert_eq!(run.json()["status"], "broken");
    assert_eq!(run.json()["kind"], "anchor_mismatch");
    assert_eq!(run.error()["code"], "chain_broken");

    // A missing anchor while events exist is a break too; in text, stderr names it.
    std::fs::remove_file(d.join("recorder.anchor")).unwrap();
    let run = hsk(d, &["recorder", "verify"], "");
    assert_eq!(run.code, Some(4));
    assert!(
        run.stderr
            .starts_with("hsk: the Flight Recorder chain is broken at event"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("anchor_mismatch"), "{}", run.stderr);
}

/// Copies every file of `from` into `to` (a backup taken, or put back, while nothing runs).
fn copy_files(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn verify_reports_a_restored_backup_and_a_wiped_log_as_rolled_back() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    with_events(d);
    let backup = tempfile::tempdir().unwrap();
    copy_files(d, backup.path());
    hsk_json(d, &["job", "start"]);
    hsk_json(d, &["job", "start"]);
    assert_eq!(hsk(d, &["recorder", "verify"], "").code, Some(0));

    // The backup, put back, is consistent on disk; the keychain's witness is not fooled.
    copy_files(backup.path(), d);
    let run = hsk(d, &["--json", "recorder", "verify"], "");
    assert_eq!(run.code, Some(4), "{}", run.stdout);
    assert_eq!(run.json()["kind"], "rolled_back");

    // Every event and the anchor deleted: not "ok: 0 event(s)".
    for entry in std::fs::read_dir(d).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::remove_file(path).unwrap();
        }
    }
    let run = hsk(d, &["recorder", "verify"], "");
    assert_eq!(run.code, Some(4), "{}", run.stdout);
    assert!(run.stderr.contains("rolled_back"), "{}", run.stderr);
}

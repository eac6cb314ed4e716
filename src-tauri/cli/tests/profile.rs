//! `hsk profile ...` and `hsk job ...` end to end: profiles validated against the registered
//! providers, edits as new versions, the in-use refusal, activation, and jobs that keep the
//! profile they pinned across a later activation.

#![allow(clippy::unwrap_used)]

mod common;

use common::{add_ollama, hsk, hsk_json, profile_json, serial, write_json};

#[test]
fn create_list_show_activate_and_export_a_profile() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add_ollama(d, "oll", "http://127.0.0.1:11434");
    let file = write_json(d, "dev.json", &profile_json("wp-dev", "oll", "Dev"));

    let created = hsk_json(d, &["profile", "create", "--file", &file]);
    assert_eq!(created["profile_id"], "wp-dev");
    assert!(created["parent_profile_id"].is_null());
    assert_eq!(created["body_sha256"].as_str().unwrap().len(), 64);

    let list = hsk_json(d, &["profile", "list"]);
    assert_eq!(list[0]["profile_id"], "wp-dev");
    assert_eq!(list[0]["active"], false);

    let activated = hsk_json(d, &["profile", "activate", "wp-dev"]);
    assert_eq!(activated["profile_id"], "wp-dev");
    assert!(activated["previous"].is_null());
    let text = hsk(d, &["profile", "list"], "").ok().stdout;
    assert!(text.starts_with("* wp-dev (Dev)"), "{text}");

    let shown = hsk_json(d, &["profile", "show", "wp-dev"]);
    assert_eq!(shown["active"], true);
    assert_eq!(
        shown["profile"]["model_assignments"]["worker"]["primary_model_id"],
        "oll/qwen3:0.6b"
    );

    // Export re-imports elsewhere, byte for byte.
    let out = d.join("export.json");
    hsk_json(
        d,
        &[
            "profile",
            "export",
            "wp-dev",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let stdout = hsk(d, &["profile", "export", "wp-dev"], "").ok().stdout;
    assert_eq!(stdout.trim_end(), std::fs::read_to_string(&out).unwrap());
    let other = tempfile::tempdir().unwrap();
    add_ollama(other.path(), "oll", "http://127.0.0.1:11434");
    let again = hsk_json(
        other.path(),
        &["profile", "create", "--file", out.to_str().unwrap()],
    );
    assert_eq!(again["body_sha256"], created["body_sha256"]);

    // The same id twice is refused.
    let run = hsk(d, &["--json", "profile", "create", "--file", &file], "");
    assert_eq!(run.code, Some(1));
    assert_eq!(run.error()["code"], "id_taken");
}

#[test]
fn invalid_profiles_and_unknown_ids_are_typed_errors() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // No provider `oll` is registered yet: every model id names an unknown provider.
    let file = write_json(d, "dev.json", &profile_json("wp-dev", "oll", "Dev"));
    let run = hsk(d, &["--json", "profile", "create", "--file", &file], "");
    assert_eq!(run.code, Some(1));
    assert_eq!(run.error()["code"], "invalid");
    let message = run.error()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("model_assignments.worker.primary_model_id"),
        "{message}"
    );

    add_ollama(d, "oll", "http://127.0.0.1:11434");
    let spaced = write_json(d, "spaced.json", &profile_json("wp dev", "oll", "Dev"));
    let run = hsk(d, &["--json", "profile", "create", "--file", &spaced], "");
    assert_eq!(run.error()["code"], "invalid_id");
    assert_eq!(run.error()["field"], "profile_id");

    let garbage = d.join("garbage.json");
    std::fs::write(&garbage, "{").unwrap();
    let run = hsk(
        d,
        &[
            "--json",
            "profile",
            "create",
            "--file",
            garbage.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(run.error()["code"], "invalid");

    for args in [
        vec!["--json", "profile", "show", "wp-ghost"],
        vec!["--json", "profile", "activate", "wp-ghost"],
        vec!["--json", "profile", "export", "wp-ghost"],
        vec!["--json", "profile", "edit", "wp-ghost", "--file", &file],
    ] {
        let run = hsk(d, &args, "");
        assert_eq!(run.code, Some(1), "{args:?}");
        assert_eq!(run.error()["code"], "profile_not_found", "{args:?}");
    }
    let run = hsk(d, &["--json", "job", "start"], "");
    assert_eq!(run.error()["code"], "no_active_profile");
    let run = hsk(d, &["--json", "job", "show", "job-ghost"], "");
    assert_eq!(run.error()["code"], "job_not_found");
    let run = hsk(
        d,
        &["--json", "profile", "create", "--file", "/nonexistent.json"],
        "",
    );
    assert_eq!(run.error()["code"], "io");
}

#[test]
fn a_used_profile_refuses_in_place_edit_and_jobs_keep_their_profile() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add_ollama(d, "oll", "http://127.0.0.1:11434");
    let v1 = write_json(d, "v1.json", &profile_json("wp-dev", "oll", "Dev"));
    hsk_json(d, &["profile", "create", "--file", &v1]);

    // Not used yet: an edit is a new version with the edited profile as parent.
    let draft = write_json(
        d,
        "draft.json",
        &profile_json("wp-dev-draft", "oll", "Dev draft"),
    );
    let edited = hsk_json(d, &["profile", "edit", "wp-dev", "--file", &draft]);
    assert_eq!(edited["profile_id"], "wp-dev-draft");
    assert_eq!(edited["parent_profile_id"], "wp-dev");

    hsk_json(d, &["profile", "activate", "wp-dev"]);
    let job1 = hsk(d, &["job", "start"], "").ok().stdout.trim().to_owned();
    assert!(job1.starts_with("job-"), "{job1}");
    let shown = hsk_json(d, &["job", "show", &job1]);
    assert_eq!(shown["profile_id"], "wp-dev");
    assert_eq!(shown["status"], "running");

    // Used by a job: the in-place edit is refused ...
    let v2 = write_json(d, "v2.json", &profile_json("wp-dev-2", "oll", "Dev 2"));
    let run = hsk(
        d,
        &["--json", "profile", "edit", "wp-dev", "--file", &v2],
        "",
    );
    assert_eq!(run.code, Some(1));
    assert_eq!(run.error()["code"], "in_use");
    assert!(run.error()["message"]
        .as_str()
        .unwrap()
        .contains("new version"));
    // ... and saved as a new version when asked.
    let saved = hsk_json(
        d,
        &["profile", "edit", "wp-dev", "--file", &v2, "--new-version"],
    );
    assert_eq!(saved["profile_id"], "wp-dev-2");
    assert_eq!(saved["parent_profile_id"], "wp-dev");

    // Switching the active profile never changes a started job.
    let switched = hsk_json(d, &["profile", "activate", "wp-dev-2"]);
    assert_eq!(switched["previous"], "wp-dev");
    assert_eq!(hsk_json(d, &["job", "show", &job1])["profile_id"], "wp-dev");
    let job2 = hsk_json(d, &["job", "start"]);
    assert_eq!(job2["profile_id"], "wp-dev-2");
    assert_ne!(job2["job_id"], job1.as_str());

    // --profile pins the named profile without activating it: the active profile changes only
    // through `profile activate`, an explicit, recorded step.
    let job3 = hsk_json(d, &["job", "start", "--profile", "wp-dev"]);
    assert_eq!(job3["profile_id"], "wp-dev");
    assert_eq!(hsk_json(d, &["profile", "show", "wp-dev"])["active"], false);
    assert_eq!(
        hsk_json(d, &["profile", "show", "wp-dev-2"])["active"],
        true
    );
    let missing = hsk(d, &["--json", "job", "start", "--profile", "wp-none"], "");
    assert_eq!(missing.code, Some(1));
    assert_eq!(missing.error()["code"], "profile_not_found");
    let used = hsk_json(d, &["profile", "show", "wp-dev"])["used_by_jobs"].clone();
    assert_eq!(used.as_array().unwrap().len(), 2);
    let text = hsk(d, &["job", "show", &job1], "").ok().stdout;
    assert!(text.contains("profile:    wp-dev\n"), "{text}");
}

#[test]
fn without_a_keychain_nothing_changes_unrecorded() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    add_ollama(d, "oll", "http://127.0.0.1:11434");
    let file = write_json(d, "dev.json", &profile_json("wp-dev", "oll", "Dev"));
    // The Flight Recorder's anchor key lives in the keychain: without it, the profile is not
    // created at all (rather than created without its FR-EVT-PROFILE-001).
    let run = common::hsk_without(
        d,
        &["--json", "profile", "create", "--file", &file],
        "",
        &["DBUS_SESSION_BUS_ADDRESS"],
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.error()["code"]
            .as_str()
            .unwrap()
            .starts_with("keychain_"),
        "{}",
        run.stderr
    );
    assert_eq!(
        hsk_json(d, &["profile", "list"]).as_array().unwrap().len(),
        0
    );
    assert_eq!(
        hsk_json(d, &["recorder", "tail"]).as_array().unwrap().len(),
        0
    );
}

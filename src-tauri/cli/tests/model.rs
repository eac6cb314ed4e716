//! `hsk model swap` end to end against a loopback server speaking Ollama's `/api/generate`:
//! every step recorded (FR-EVT-MODEL-001..005), a failed load resumes on the old model, and
//! swaps that would leave the local Ollama provider are refused before any call.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{add_ollama, hsk, hsk_json, profile_json, serial, server, write_json};

/// A data directory with provider `oll` at `base`, an active profile and a running job.
fn with_job(d: &Path, base: &str) -> String {
    add_ollama(d, "oll", base);
    let file = write_json(d, "dev.json", &profile_json("wp-dev", "oll", "Dev"));
    hsk_json(d, &["profile", "create", "--file", &file]);
    hsk_json(d, &["job", "start", "--profile", "wp-dev"])["job_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn events(d: &Path, event_type: &str) -> Vec<serde_json::Value> {
    hsk_json(d, &["recorder", "query", "--type", event_type])
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_swap_unloads_loads_and_records_every_step() {
    let _serial = serial();
    let ollama = server(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let job = with_job(d, &ollama.base);
    let state = write_json(d, "state.json", &serde_json::json!({"cursor": 7}));

    let report = hsk_json(
        d,
        &[
            "model",
            "swap",
            "--job",
            &job,
            "--provider",
            "oll",
            "--from",
            "gemma3:270m",
            "--to",
            "qwen3:0.6b",
            "--state",
            &state,
        ],
    );
    assert_eq!(report["active_model_id"], "oll/qwen3:0.6b");
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "FR-EVT-MODEL-001",
            "FR-EVT-MODEL-002",
            "FR-EVT-MODEL-003",
            "FR-EVT-MODEL-004",
            "FR-EVT-MODEL-005"
        ]
    );

    // Ollama saw an unload (keep_alive 0) of the old model, then a load of the new one.
    let generate: Vec<serde_json::Value> = ollama
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/generate")
        .map(|r| r.body)
        .collect();
    assert_eq!(generate.len(), 2);
    assert_eq!(generate[0]["model"], "gemma3:270m");
    assert_eq!(generate[0]["keep_alive"], 0);
    assert_eq!(generate[1]["model"], "qwen3:0.6b");
    assert!(generate[1].get("keep_alive").is_none());

    for (event_type, field, value) in [
        ("FR-EVT-MODEL-001", "to_model_id", "oll/qwen3:0.6b"),
        ("FR-EVT-MODEL-003", "model_id", "oll/gemma3:270m"),
        ("FR-EVT-MODEL-004", "model_id", "oll/qwen3:0.6b"),
    ] {
        let found = events(d, event_type);
        assert_eq!(found.len(), 1, "{event_type}");
        assert_eq!(found[0]["payload"][field], value, "{event_type}");
        assert_eq!(found[0]["payload"]["outcome"]["status"], "success");
        assert_eq!(found[0]["job_id"], job.as_str());
        assert_eq!(found[0]["provider_id"], "oll");
    }
    let persisted = events(d, "FR-EVT-MODEL-002");
    assert_eq!(
        persisted[0]["payload"]["state_sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    assert!(
        !persisted[0].to_string().contains("cursor"),
        "the job state is not in the event"
    );
    assert_eq!(events(d, "FR-EVT-MODEL-005").len(), 1);
    assert_eq!(hsk_json(d, &["recorder", "verify"])["status"], "ok");

    // Full ids work without --provider; the text output lists the steps.
    let text = hsk(
        d,
        &[
            "model",
            "swap",
            "--job",
            &job,
            "--from",
            "oll/qwen3:0.6b",
            "--to",
            "oll/gemma3:270m",
        ],
        "",
    )
    .ok()
    .stdout;
    assert!(text.contains("now runs on oll/gemma3:270m"), "{text}");
}

#[test]
fn a_failed_load_resumes_on_the_old_model_and_exits_non_zero() {
    let _serial = serial();
    let ollama = server(None, &["missing:1b"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let job = with_job(d, &ollama.base);
    let run = hsk(
        d,
        &[
            "--json",
            "model",
            "swap",
            "--job",
            &job,
            "--provider",
            "oll",
            "--from",
            "gemma3:270m",
            "--to",
            "missing:1b",
        ],
        "",
    );
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.is_empty());
    assert_eq!(run.error()["code"], "step_failed");
    let message = run.error()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("failed at step load"), "{message}");
    assert!(
        message.ends_with("the job resumed on `oll/gemma3:270m`"),
        "{message}"
    );

    let loaded = events(d, "FR-EVT-MODEL-004");
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0]["payload"]["outcome"]["status"], "failed");
    assert_eq!(loaded[0]["payload"]["outcome"]["stopped_at"], "load");
    assert_eq!(
        loaded[0]["payload"]["outcome"]["error_kind"],
        "model_not_found"
    );
    let resumed = events(d, "FR-EVT-MODEL-005");
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0]["payload"]["outcome"]["status"], "success");
    assert_eq!(resumed[0]["model_id"], "oll/gemma3:270m");
    // unload old, load new (404), reload old.
    let models: Vec<String> = ollama
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/generate")
        .map(|r| r.body["model"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(models, ["gemma3:270m", "missing:1b", "gemma3:270m"]);
}

#[test]
fn swaps_off_a_local_ollama_provider_are_refused() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let job = with_job(d, "http://127.0.0.1:9");
    hsk(
        d,
        &[
            "provider",
            "add",
            "--id",
            "lan",
            "--kind",
            "openai_compat",
            "--tier",
            "local",
            "--base-url",
            "http://127.0.0.1:9/v1",
        ],
        "",
    )
    .ok();
    let swap = |from: &str, to: &str, job: &str| {
        hsk(
            d,
            &[
                "--json", "model", "swap", "--job", job, "--from", from, "--to", to,
            ],
            "",
        )
    };
    let run = swap("oll/gemma3:270m", "lan/gemma3:270m", &job);
    assert_eq!(run.error()["code"], "swap_refused");
    let run = swap("lan/a", "lan/b", &job);
    assert_eq!(run.error()["code"], "swap_refused");
    assert!(run.error()["message"].as_str().unwrap().contains("Ollama"));
    let run = swap("oll/gemma3:270m", "oll/gpt-oss:120b-cloud", &job);
    assert_eq!(run.error()["code"], "not_swappable");
    let run = swap("ghost/a", "ghost/b", &job);
    assert_eq!(run.error()["code"], "provider_not_found");
    let run = swap("gemma3", "oll/b", &job);
    assert_eq!(run.error()["code"], "swap_refused");
    let run = swap("oll/a", "oll/b", "job-ghost");
    assert_eq!(run.error()["code"], "job_not_found");
    // Nothing was requested, so nothing was recorded.
    assert!(events(d, "FR-EVT-MODEL-001").is_empty());
}

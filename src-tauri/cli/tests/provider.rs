//! `hsk provider ...` end to end: the real binary, a temp data directory, the real OS keychain
//! (run under dbus-run-session with an unlocked gnome-keyring) and loopback servers speaking
//! Ollama's and OpenAI's model listings.

#![allow(clippy::unwrap_used)]

mod common;

use common::{hsk, hsk_json, serial, server};

#[test]
fn add_list_show_update_remove_an_ollama_provider() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let added = hsk_json(
        d,
        &[
            "provider",
            "add",
            "--id",
            "oll",
            "--kind",
            "ollama",
            "--tier",
            "local",
            "--base-url",
            "http://127.0.0.1:11434",
            "--name",
            "Local Ollama",
            "--default-model",
            "gemma3:270m",
            "--header",
            "x-team=blue",
        ],
    );
    assert_eq!(added["provider_id"], "oll");
    assert_eq!(added["kind"], "ollama");
    assert_eq!(added["tier"], "local");
    assert_eq!(added["display_name"], "Local Ollama");
    assert_eq!(added["extra_headers"][0]["name"], "x-team");

    let list = hsk_json(d, &["provider", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let text = hsk(d, &["provider", "list"], "").ok().stdout;
    assert!(text.contains("oll (Local Ollama): ollama local"), "{text}");

    let shown = hsk_json(d, &["provider", "show", "oll"]);
    assert_eq!(shown["provider"]["default_model"], "gemma3:270m");
    assert_eq!(shown["secrets"]["api_key"], "not_set");

    let updated = hsk_json(
        d,
        &[
            "provider",
            "update",
            "oll",
            "--name",
            "Ollama",
            "--clear-default-model",
            "--clear-headers",
        ],
    );
    assert_eq!(updated["display_name"], "Ollama");
    assert!(updated["default_model"].is_null());
    assert_eq!(updated["extra_headers"].as_array().unwrap().len(), 0);

    let removed = hsk_json(d, &["provider", "rm", "oll"]);
    assert_eq!(removed["removed"], "oll");
    assert_eq!(
        hsk_json(d, &["provider", "list"]).as_array().unwrap().len(),
        0
    );
}

#[test]
fn a_preset_fills_kind_tier_and_base_url() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let added = hsk_json(
        dir.path(),
        &["provider", "add", "--id", "local", "--preset", "ollama"],
    );
    assert_eq!(added["kind"], "ollama");
    assert_eq!(added["tier"], "local");
    assert!(added["base_url"]
        .as_str()
        .unwrap()
        .starts_with("http://localhost:11434"));
    let presets = hsk_json(dir.path(), &["provider", "presets"]);
    assert!(presets
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["preset_id"] == "openai"));

    let bad = hsk(
        dir.path(),
        &["--json", "provider", "add", "--id", "x", "--preset", "nope"],
        "",
    );
    assert_eq!(bad.code, Some(1));
    assert_eq!(bad.error()["code"], "invalid_argument");
    assert_eq!(bad.error()["field"], "--preset");
}

#[test]
fn invalid_input_is_a_typed_error_naming_the_field() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let add = |extra: &[&str]| {
        let mut args = vec!["--json", "provider", "add", "--id", "p"];
        args.extend_from_slice(extra);
        hsk(d, &args, "")
    };
    let run = add(&[
        "--kind",
        "ollama",
        "--tier",
        "local",
        "--base-url",
        "not a url",
    ]);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.is_empty());
    assert_eq!(run.error()["code"], "invalid_url");
    assert_eq!(run.error()["field"], "base_url");
    assert!(run.error()["message"]
        .as_str()
        .unwrap()
        .contains("base_url"));

    let run = add(&[
        "--kind",
        "ollama",
        "--tier",
        "local",
        "--base-url",
        "ftp://127.0.0.1/",
    ]);
    assert_eq!(run.error()["code"], "unsupported_scheme");
    assert_eq!(run.error()["field"], "base_url");

    // Loopback is not where a cloud provider's bytes go.
    let run = add(&[
        "--kind",
        "openai_compat",
        "--tier",
        "cloud",
        "--base-url",
        "https://127.0.0.1/v1",
    ]);
    assert_eq!(run.error()["code"], "tier_mismatch");
    assert_eq!(run.error()["field"], "tier");

    let run = add(&[
        "--kind",
        "grpc",
        "--tier",
        "local",
        "--base-url",
        "http://127.0.0.1/",
    ]);
    assert_eq!(run.error()["code"], "unknown_kind");
    assert_eq!(run.error()["field"], "kind");

    let run = add(&["--kind", "ollama", "--base-url", "http://127.0.0.1/"]);
    assert_eq!(run.error()["code"], "invalid_argument");
    assert_eq!(run.error()["field"], "--tier");

    let run = hsk(
        d,
        &[
            "--json", "provider", "add", "--id", "Bad Id", "--preset", "ollama",
        ],
        "",
    );
    assert_eq!(run.error()["code"], "invalid_id");
    assert_eq!(run.error()["field"], "provider_id");

    // Without --json the error is one readable line on stderr.
    let run = hsk(
        d,
        &[
            "provider",
            "add",
            "--id",
            "p",
            "--kind",
            "ollama",
            "--tier",
            "local",
            "--base-url",
            "not a url",
        ],
        "",
    );
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.starts_with("hsk: invalid URL in base_url"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unknown_provider_is_provider_not_found() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--json", "provider", "show", "ghost"],
        vec!["--json", "provider", "rm", "ghost"],
        vec!["--json", "provider", "test", "ghost"],
        vec!["--json", "provider", "set-key", "ghost"],
        vec!["--json", "provider", "update", "ghost", "--name", "x"],
    ] {
        let run = hsk(dir.path(), &args, "sk-never-read\n");
        assert_eq!(run.code, Some(1), "{args:?}");
        assert_eq!(run.error()["code"], "provider_not_found", "{args:?}");
        assert!(run.error()["message"].as_str().unwrap().contains("ghost"));
    }
}

#[test]
fn test_and_models_show_latency_and_the_ollama_model_list() {
    let _serial = serial();
    let ollama = server(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    common::add_ollama(dir.path(), "oll", &ollama.base);
    let test = hsk_json(dir.path(), &["provider", "test", "oll"]);
    assert_eq!(test["status"], 200);
    assert_eq!(test["authenticated"], false);
    assert!(test["latency_ms"].as_u64().is_some());
    let ids: Vec<&str> = test["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["oll/gemma3:270m", "oll/qwen3:0.6b"]);
    let text = hsk(dir.path(), &["provider", "test", "oll"], "")
        .ok()
        .stdout;
    assert!(text.contains("answered HTTP 200 in"), "{text}");
    assert!(
        text.contains("2 model(s): gemma3:270m, qwen3:0.6b"),
        "{text}"
    );
    let models = hsk(dir.path(), &["provider", "models", "oll"], "")
        .ok()
        .stdout;
    assert_eq!(models.trim(), "oll/gemma3:270m\noll/qwen3:0.6b");
    assert!(ollama
        .requests()
        .iter()
        .all(|r| !r.head.contains("authorization")));

    // Nothing listening: a typed call failure, not a panic.
    let dead = tempfile::tempdir().unwrap();
    common::add_ollama(dead.path(), "oll", "http://127.0.0.1:9");
    let run = hsk(dead.path(), &["--json", "provider", "test", "oll"], "");
    assert_eq!(run.code, Some(1));
    assert_eq!(run.error()["code"], "call_failed");
}

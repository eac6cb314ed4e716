//! `hsk provider ...` and secrets end to end: keys and secret header values come from stdin or a
//! hidden terminal prompt, never argv; a canary key reaches the server and nowhere else (stdout,
//! stderr, export files, the data directory); export and import report the secrets to re-enter.

#![allow(clippy::unwrap_used)]

mod common;

use common::{all_files, contains, hsk, hsk_json, serial, server};

const CANARY: &str = "sk-canary-7f3a9c1e5b";

#[test]
fn keys_come_from_stdin_and_never_leak() {
    let _serial = serial();
    let openai = server(Some(CANARY), &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = format!("{}/v1", openai.base);
    let mut streams = String::new();
    let mut run = |args: &[&str], stdin: &str| {
        let r = hsk(d, args, stdin);
        streams.push_str(&r.stdout);
        streams.push_str(&r.stderr);
        r
    };
    run(
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
            &base,
        ],
        "",
    )
    .ok();

    // Keyless: the server refuses, as a typed unauthorized call failure.
    let r = run(&["--json", "provider", "test", "lan"], "");
    assert_eq!(r.code, Some(1));
    assert_eq!(r.error()["code"], "call_failed");

    // A key on argv is refused without being repeated, and nothing is stored.
    let r = run(&["--json", "provider", "set-key", "lan", CANARY], "");
    assert_eq!(r.code, Some(1));
    assert_eq!(r.error()["code"], "secret_in_argv");
    let r = run(
        &[
            "--json",
            "provider",
            "add",
            "--id",
            "x",
            "--preset",
            "openai",
            "--api-key",
            CANARY,
        ],
        "",
    );
    assert_eq!(r.error()["code"], "secret_in_argv");
    let r = run(
        &["--json", "provider", "update", "lan", "--key", CANARY],
        "",
    );
    assert_eq!(r.error()["code"], "secret_in_argv");
    let shown = run(&["--json", "provider", "show", "lan"], "").ok().json();
    assert_eq!(shown["secrets"]["api_key"], "not_set");

    // Empty stdin: no key.
    let r = run(&["--json", "provider", "set-key", "lan"], "");
    assert_eq!(r.error()["code"], "no_secret_input");

    // From stdin: stored in the keychain, sent as a bearer key.
    let r = run(
        &["--json", "provider", "set-key", "lan"],
        &format!("{CANARY}\n"),
    )
    .ok();
    assert!(r.json()["secret_handle"]
        .as_str()
        .unwrap()
        .ends_with("/provider/lan/api_key"));
    let shown = run(&["--json", "provider", "show", "lan"], "").ok().json();
    assert_eq!(shown["secrets"]["api_key"], "stored");
    let test = run(&["--json", "provider", "test", "lan"], "").ok().json();
    assert_eq!(test["authenticated"], true);
    assert_eq!(test["models"][0]["model_id"], "lan/gpt-test");
    run(
        &["provider", "set-key", "lan", "--rotate"],
        &format!("{CANARY}\n"),
    )
    .ok();

    // A secret header's value comes from stdin too.
    run(
        &[
            "provider",
            "add",
            "--id",
            "hdr",
            "--kind",
            "openai_compat",
            "--tier",
            "local",
            "--base-url",
            &base,
            "--key-stdin",
            "--secret-header",
            "x-api-token",
        ],
        &format!("{CANARY}\n{CANARY}-header\n"),
    )
    .ok();
    let shown = run(&["--json", "provider", "show", "hdr"], "").ok().json();
    assert_eq!(shown["secrets"]["api_key"], "stored");
    assert_eq!(shown["secrets"]["headers"][0][1], "stored");
    let text = run(&["provider", "show", "hdr"], "").ok().stdout;
    assert!(
        text.contains("x-api-token: <secret: stored in the OS keychain>"),
        "{text}"
    );

    // Updating headers: keep the stored secret, add a plain one; then clear them all.
    let updated = run(
        &[
            "--json",
            "provider",
            "update",
            "hdr",
            "--keep-secret-header",
            "x-api-token",
            "--header",
            "x-team=red",
        ],
        "",
    )
    .ok()
    .json();
    assert_eq!(updated["extra_headers"].as_array().unwrap().len(), 2);
    let shown = run(&["--json", "provider", "show", "hdr"], "").ok().json();
    assert_eq!(shown["secrets"]["headers"][0][1], "stored");
    let r = run(
        &[
            "--json",
            "provider",
            "update",
            "hdr",
            "--secret-header",
            "x-other",
        ],
        "",
    );
    assert_eq!(r.error()["code"], "no_secret_input");
    let r = run(
        &[
            "--json",
            "provider",
            "update",
            "hdr",
            "--header",
            "authorization=Bearer x",
        ],
        "",
    );
    assert_eq!(r.code, Some(1));
    assert!(!r.stderr.contains("Bearer x"), "{}", r.stderr);

    let export = d.join("providers.json");
    run(
        &["provider", "export", "--out", export.to_str().unwrap()],
        "",
    )
    .ok();
    run(&["provider", "export"], "").ok();
    run(&["provider", "list"], "").ok();

    // The key reached the server, and nowhere else.
    assert!(openai
        .requests()
        .iter()
        .any(|r| r.head.contains(&format!("bearer {CANARY}"))));
    for (path, bytes) in all_files(d) {
        assert!(!contains(&bytes, CANARY), "the key is in {path}");
    }
    run(&["provider", "rm", "hdr"], "").ok();
    run(&["provider", "rm", "lan"], "").ok();
    assert!(!streams.contains(CANARY), "a key was printed:\n{streams}");
}

#[test]
fn export_then_import_reports_the_secrets_to_enter_again() {
    let _serial = serial();
    let from = tempfile::tempdir().unwrap();
    hsk(
        from.path(),
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
            "http://127.0.0.1:8080/v1",
            "--key-stdin",
        ],
        "sk-export-test\n",
    )
    .ok();
    common::add_ollama(from.path(), "oll", "http://127.0.0.1:11434");
    let file = from.path().join("providers.json");
    let done = hsk_json(
        from.path(),
        &["provider", "export", "--out", file.to_str().unwrap()],
    );
    assert_eq!(done["providers"], 2);
    let exported: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(exported["format"], "handshake.providers@1");
    assert_eq!(exported["providers"][0]["api_key"]["stored"], true);
    assert!(!contains(&std::fs::read(&file).unwrap(), "sk-export-test"));
    let stdout = hsk(from.path(), &["provider", "export"], "").ok().stdout;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["providers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let to = tempfile::tempdir().unwrap();
    let report = hsk_json(to.path(), &["provider", "import", file.to_str().unwrap()]);
    let imported = report["imported"].as_array().unwrap();
    assert_eq!(imported.len(), 2);
    let lan = imported.iter().find(|p| p["provider_id"] == "lan").unwrap();
    assert_eq!(lan["needs_secrets"], serde_json::json!(["api_key"]));
    let text = hsk(to.path(), &["provider", "show", "lan"], "").ok().stdout;
    assert!(text.contains("MISSING from the keychain"), "{text}");

    // Importing again: every id is taken, reported and a non-zero exit.
    let again = hsk(
        to.path(),
        &["--json", "provider", "import", file.to_str().unwrap()],
        "",
    );
    assert_eq!(again.code, Some(1));
    assert_eq!(again.error()["code"], "import_rejected");
    assert_eq!(again.json()["rejected"].as_array().unwrap().len(), 2);

    let missing = hsk(
        to.path(),
        &["--json", "provider", "import", "/nonexistent/file.json"],
        "",
    );
    assert_eq!(missing.error()["code"], "io");
    let garbage = to.path().join("garbage.json");
    std::fs::write(&garbage, "{not json").unwrap();
    let bad = hsk(
        to.path(),
        &["--json", "provider", "import", garbage.to_str().unwrap()],
        "",
    );
    assert_eq!(bad.error()["code"], "invalid_export");
    hsk(from.path(), &["provider", "rm", "lan"], "").ok();
}

/// On a terminal, `set-key` prompts with echo off: the key never shows. util-linux `script`
/// gives the command a pseudo-terminal; the key is typed the moment the prompt is up (hsk turns
/// echo off before it prints the prompt, so even a key pasted at once is not echoed; typed before
/// the prompt, the terminal would echo it, as it would for any program).
#[test]
fn set_key_on_a_terminal_prompts_without_echo() {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};

    let _serial = serial();
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
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
    let command = format!(
        "'{}' --data-dir '{}' provider set-key lan",
        env!("CARGO_BIN_EXE_hsk"),
        d.display()
    );
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env_remove("HANDSHAKE_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 256];
    while !contains(&seen, "(input hidden): ") {
        let n = stdout.read(&mut chunk).unwrap();
        assert!(n > 0, "no prompt: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&chunk[..n]);
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{CANARY}\n").as_bytes()).unwrap();
    stdout.read_to_end(&mut seen).unwrap();
    drop(stdin);
    assert!(
        child.wait().unwrap().success(),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    let text = String::from_utf8_lossy(&seen);
    assert!(
        text.contains("API key of lan stored in the OS keychain"),
        "{text}"
    );
    assert!(!text.contains(CANARY), "the key was echoed: {text}");
    let shown = hsk_json(d, &["provider", "show", "lan"]);
    assert_eq!(shown["secrets"]["api_key"], "stored");
    hsk(d, &["provider", "rm", "lan"], "").ok();
}

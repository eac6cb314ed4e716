//! Issue 14's reproduction, as a user runs it: a local OpenAI-compatible provider (which may be a
//! local Ollama's `/v1`, forwarding `:cloud` models to Ollama's cloud) asked for a cloud-tagged
//! model. Every spelling of the tag is refused with exit 3 before anything is sent, a name whose
//! tier cannot be told is refused as invalid, and the loopback server sees nothing until a local
//! model is asked for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{hsk, serial, server};

#[test]
fn a_cloud_tag_through_a_local_openai_compatible_provider_exits_3_and_sends_nothing() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let upstream = server(None, &[]);
    let base = format!("{}/v1", upstream.base);
    hsk(
        d,
        &[
            "provider",
            "add",
            "--id",
            "lo",
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

    let complete = |model: &str| {
        hsk(
            d,
            &[
                "--json",
                "complete",
                "--provider",
                "lo",
                "--model",
                model,
                "my secret contract text",
            ],
            "",
        )
    };
    for cloud in [
        "gpt-oss:120b-cloud",
        "x:cloud",
        "X:CLOUD",
        "x:120B-CLOUD",
        "ns/x:cloud",
        "registry.ollama.ai/library/x:cloud",
    ] {
        let run = complete(cloud);
        assert_eq!(run.code, Some(3), "{cloud}: {}", run.stderr);
        assert_eq!(run.error()["code"], "consent_required", "{cloud}");
    }
    for undecidable in [
        "x:cloud ",
        "x:cloud@sha256:00",
        "x:cloud:latest",
        "x:clo\u{200b}ud",
    ] {
        let run = complete(undecidable);
        assert_eq!(run.code, Some(1), "{undecidable:?}: {}", run.stderr);
        assert_eq!(run.error()["code"], "invalid_model_id", "{undecidable:?}");
    }
    assert!(
        upstream.requests().is_empty(),
        "a refused model reached the server: {:?}",
        upstream.requests()
    );
    for run in [complete("x:cloud"), complete("x:cloud:latest")] {
        assert!(
            !run.stderr.contains("my secret contract text"),
            "the prompt is echoed in an error: {}",
            run.stderr
        );
    }

    // A local model on the same provider is sent: the server was listening all along.
    complete("gemma3:270m");
    let seen = upstream.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].body["model"], "gemma3:270m");
}

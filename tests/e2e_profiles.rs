//! End-to-end: the Work Profiles screen in the real app against the peer Ollama. A local provider
//! is registered through the core on the app's data directory; the test then builds a profile in
//! the editor (the worker's model is first typed wrong and the message appears beside it), fixes
//! and saves it, activates it, has a job use it, edits it (the editor says a new version will be
//! made, the notice says one was) and sees the version link in the list; then exports its JSON.
//! Screenshots `profiles-*.png` under `test-artifacts/e2e/`.
//!
//! Needs what `scripts/e2e.sh` provides and the peer Ollama (`HANDSHAKE_PEER_OLLAMA_URL`, default
//! http://127.0.0.1:11434, serving `gemma3:270m`); with `HANDSHAKE_SKIP_PEERS=1` it is skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "e2e/support.rs"]
mod support;

use std::time::Duration;

use handshake_core::registry::{NewProvider, ProviderKind, ProviderTier};
use handshake_core::Handshake;
use support::App;

const WAIT: Duration = Duration::from_secs(20);
const WORKER_ERROR: &str =
    "[data-testid=\"field-error-model_assignments.worker.primary_model_id\"]";

fn peer_ollama() -> Option<String> {
    match std::env::var("HANDSHAKE_PEER_OLLAMA_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("HANDSHAKE_SKIP_PEERS").as_deref() == Ok("1") => None,
        _ => {
            let url = "http://127.0.0.1:11434";
            let reachable = std::net::TcpStream::connect_timeout(
                &url.trim_start_matches("http://").parse().unwrap(),
                Duration::from_secs(2),
            )
            .is_ok();
            assert!(
                reachable,
                "HANDSHAKE_PEER_OLLAMA_URL is unset and no Ollama answers at {url}; start the peer \
                 servers (scripts/test.sh does) or set HANDSHAKE_SKIP_PEERS=1"
            );
            Some(url.to_owned())
        }
    }
}

fn row(id: &str) -> String {
    format!("[data-testid=\"profile-row-{id}\"]")
}

#[tokio::test]
async fn build_validate_activate_use_and_version_a_profile() {
    let Some(ollama) = peer_ollama() else {
        eprintln!("skipped: HANDSHAKE_SKIP_PEERS=1");
        return;
    };
    let app = App::start(&[]).await;
    app.text("[data-testid=providers-title]", Duration::from_secs(30))
        .await;

    // A local provider, registered through the core on the app's own data directory.
    let core = Handshake::open(Some(app.data_dir.path().to_path_buf()))
        .await
        .unwrap();
    core.registry()
        .add(NewProvider::new(
            "oll",
            ProviderKind::Ollama,
            ProviderTier::Local,
            ollama.as_str(),
        ))
        .await
        .unwrap();

    app.open_view("profiles").await;
    let empty = app
        .wait_until(
            "[data-testid=profiles-empty]",
            WAIT,
            "the invitation to create a profile",
            |t| t.contains("Create a profile"),
        )
        .await;
    assert!(empty.contains("No Work Profiles yet"), "{empty}");
    app.screenshot("profiles-empty").await;

    // The editor, prefilled from the registry's catalog.
    app.click("[data-testid=profile-new]").await;
    app.fill("[data-testid=profile-name]", "E2E Dev").await;
    let frontend = app.find("[data-testid=role-frontend-primary]").await;
    assert_eq!(
        frontend.prop("value").await.unwrap().as_deref(),
        Some("oll/gemma3:270m"),
        "the pickers start on the local provider's model"
    );
    app.text("[data-testid=role-frontend-primary-tier]", WAIT)
        .await;
    let id = app.find("[data-testid=profile-id]").await;
    assert_eq!(
        id.prop("value").await.unwrap().as_deref(),
        Some("wp-e2e-dev")
    );

    // A bad field: the core's message appears beside the worker's primary model.
    app.fill("[data-testid=role-worker-primary]", "gemma3:270m")
        .await;
    let message = app.text(WORKER_ERROR, WAIT).await;
    assert!(message.contains("is not a model id"), "{message}");
    let inside = app
        .exists(&format!("[data-testid=role-worker] {WORKER_ERROR}"))
        .await;
    assert!(inside, "the message sits in the worker's assignment");
    app.client
        .execute(
            "document.querySelector('[data-testid=role-worker]').scrollIntoView({block: 'center'})",
            vec![],
        )
        .await
        .unwrap();
    app.screenshot("profiles-validation").await;

    // Fixed: the message goes away; saving creates the profile.
    app.fill("[data-testid=role-worker-primary]", "oll/gemma3:270m")
        .await;
    app.wait_until(
        "[data-testid=profile-check-status]",
        WAIT,
        "a valid draft",
        |t| t.contains("Looks valid"),
    )
    .await;
    assert!(!app.exists(WORKER_ERROR).await);
    app.click("[data-testid=profile-save]").await;
    let notice = app.text("[data-testid=profiles-notice]", WAIT).await;
    assert!(notice.contains("Created wp-e2e-dev"), "{notice}");

    // Activate it.
    app.click(&format!(
        "{} [data-testid=profile-activate]",
        row("wp-e2e-dev")
    ))
    .await;
    app.text(
        &format!("{} [data-testid=profile-row-active]", row("wp-e2e-dev")),
        WAIT,
    )
    .await;
    assert_eq!(
        core.profiles()
            .active_profile_id()
            .await
            .unwrap()
            .as_deref(),
        Some("wp-e2e-dev")
    );

    // A job starts on the active profile (through the core), so the profile can no longer change.
    let job = core.jobs().start_job().await.unwrap();
    assert_eq!(job.profile_id, "wp-e2e-dev");
    app.open_view("settings").await;
    app.open_view("profiles").await;
    let used = app
        .text(
            &format!("{} [data-testid=profile-row-used]", row("wp-e2e-dev")),
            WAIT,
        )
        .await;
    assert_eq!(used, "used by 1 job");

    // Editing it says a new version will be made, and saving says one was.
    app.click(&format!("{} [data-testid=profile-edit]", row("wp-e2e-dev")))
        .await;
    let warning = app.text("[data-testid=profile-editor-used]", WAIT).await;
    assert!(
        warning.contains("saving creates a new version"),
        "{warning}"
    );
    app.screenshot("profiles-editor-used").await;
    app.fill("[data-testid=profile-name]", "E2E Dev 2").await;
    app.fill("[data-testid=profile-id]", "wp-e2e-dev-2").await;
    // Every kind of field: a whitelist, the governance knobs and a file-type rule row.
    app.click("[data-testid=role-validator-restrict]").await;
    app.fill(
        "[data-testid=role-validator-allowed-input]",
        "oll/gemma3:270m",
    )
    .await;
    app.click("[data-testid=role-validator-allowed-add]").await;
    app.select("[data-testid=profile-automation]", "FULL_HUMAN")
        .await;
    app.click("[data-testid=profile-allow-cloud]").await;
    app.fill("[data-testid=profile-max-escalations]", "2").await;
    app.click("[data-testid=rule-filetype-add]").await;
    app.fill("[data-testid=rule-filetype-0-key]", "rs").await;
    app.click("[data-testid=rule-filetype-0-worker-on]").await;
    app.wait_until(
        "[data-testid=profile-check-status]",
        WAIT,
        "a valid draft",
        |t| t.contains("Looks valid"),
    )
    .await;
    app.screenshot("profiles-editor-fields").await;
    app.click("[data-testid=profile-save]").await;
    let notice = app
        .wait_until(
            "[data-testid=profiles-notice]",
            WAIT,
            "the new-version notice",
            |t| t.contains("new version"),
        )
        .await;
    assert!(notice.contains("used by 1 job"), "{notice}");
    assert!(
        notice.contains("new version wp-e2e-dev-2 (parent wp-e2e-dev)"),
        "{notice}"
    );
    let parent = app
        .text(
            &format!("{} [data-testid=profile-row-parent]", row("wp-e2e-dev-2")),
            WAIT,
        )
        .await;
    assert!(parent.contains("version of wp-e2e-dev"), "{parent}");
    let children = app
        .text(
            &format!("{} [data-testid=profile-row-children]", row("wp-e2e-dev")),
            WAIT,
        )
        .await;
    assert!(children.contains("wp-e2e-dev-2"), "{children}");
    assert!(
        app.exists(&format!(
            "{} [data-testid=profile-row-active]",
            row("wp-e2e-dev-2")
        ))
        .await,
        "the new version replaced the active one"
    );
    app.screenshot("profiles-new-version").await;

    // The store agrees: the old version is unchanged and still pinned by the job.
    let stored = core.profiles().get("wp-e2e-dev-2").await.unwrap();
    assert_eq!(stored.parent_profile_id.as_deref(), Some("wp-e2e-dev"));
    assert_eq!(stored.profile.name, "E2E Dev 2");
    let body = &stored.profile;
    assert_eq!(
        body.model_assignments.validator.allowed_models.as_deref(),
        Some(&["oll/gemma3:270m".to_owned()][..])
    );
    assert_eq!(
        body.governance.automation_level,
        handshake_core::profiles::AutomationLevel::FullHuman
    );
    assert!(body.governance.allow_cloud_escalation);
    assert_eq!(body.governance.max_cloud_escalations_per_job, Some(2));
    let rules = body
        .overrides
        .as_ref()
        .unwrap()
        .filetype_rules
        .as_ref()
        .unwrap();
    assert_eq!(
        rules["rs"].worker.as_ref().unwrap().primary_model_id,
        "oll/gemma3:270m"
    );
    assert!(rules["rs"].frontend.is_none());
    assert_eq!(
        core.profiles()
            .get("wp-e2e-dev")
            .await
            .unwrap()
            .profile
            .name,
        "E2E Dev"
    );

    // Export shows the stored JSON.
    app.click(&format!(
        "{} [data-testid=profile-export]",
        row("wp-e2e-dev-2")
    ))
    .await;
    let exported = app.find("[data-testid=profile-export-json]").await;
    let json = exported.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(
        json,
        core.profiles().export_json("wp-e2e-dev-2").await.unwrap()
    );
    app.screenshot("profiles-export").await;

    drop(core);
    app.client.clone().close().await.unwrap();
}

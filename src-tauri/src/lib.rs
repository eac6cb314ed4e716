//! The Handshake desktop app: a thin Tauri shell over `handshake-core`.
//!
//! Owns the window, the Tauri commands (one file per domain under [`commands`], each delegating to
//! the core in a line or two) and the typed errors the UI branches on ([`error`]). It holds no
//! domain logic.

pub mod bindings;
pub mod commands;
pub mod error;
pub mod state;

use tauri::Manager;

/// Builds the app with its commands, generic over the runtime so tests can use the mock runtime.
pub fn builder<R: tauri::Runtime>() -> tauri::Builder<R> {
    tauri::Builder::<R>::new()
        .invoke_handler(tauri::generate_handler![
            commands::settings::app_info,
            commands::settings::doctor,
            commands::governance::governance,
            commands::governance::set_governance_mode,
            commands::governance::set_standing_rule,
            commands::escalations::escalations,
            commands::escalations::escalation,
            commands::escalations::decide_escalation,
            // Work Profiles
            commands::profiles::profiles,
            commands::profiles::profile,
            commands::profiles::check_profile,
            commands::profiles::create_profile,
            commands::profiles::save_profile,
            commands::profiles::activate_profile,
            commands::profiles::export_profile,
            commands::profiles::model_catalog,
            commands::profiles::model_tier,
            // Providers
            commands::providers::provider_presets,
            commands::providers::providers,
            commands::providers::add_provider,
            commands::providers::update_provider,
            commands::providers::set_provider_key,
            commands::providers::delete_provider_key,
            commands::providers::remove_provider,
            commands::providers::test_provider,
            commands::providers::local_ollama_offer,
            commands::providers::accept_local_ollama,
            // Operator console.
            commands::console::console_events,
            commands::console::console_event,
            commands::console::console_timeline,
            commands::console::console_verify,
            commands::console::console_export,
            commands::console::console_follow,
            commands::console::console_unfollow,
            // Run view: choices, streamed runs, resume after consent, cancel.
            commands::run::run_choices,
            commands::run::start_run,
            commands::run::resume_run,
            commands::run::cancel_run,
        ])
        // Operator console: its live feeds.
        .manage(commands::console::ConsoleFeeds::default())
        .setup(|app| {
            // Open the data directory and run migrations before the window asks for anything.
            let state = tauri::async_runtime::block_on(state::AppState::open());
            if let Err(message) = state.core() {
                tracing::error!(%message, "Handshake could not open its data directory");
            }
            // The full integrity check (every page) runs once the window is up, off its path:
            // opening read only the header and the schema (docs/recorder.md, "Opening").
            if let Ok(core) = state.core() {
                let core = core.clone();
                tauri::async_runtime::spawn(async move {
                    tokio::time::sleep(INTEGRITY_CHECK_DELAY).await;
                    match core.check_integrity().await {
                        Ok(()) => tracing::info!("database integrity check passed"),
                        Err(error) => tracing::error!(%error, "the database failed its integrity check; see Settings"),
                    }
                });
            }
            app.manage(state);
            // Run view: the runs in progress, for cancel_run.
            app.manage(commands::run::Runs::default());
            Ok(())
        })
}

/// Runs the desktop app.
pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let app = match builder::<tauri::Wry>().build(tauri::generate_context!()) {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "the desktop app stopped with an error");
            std::process::exit(1);
        }
    };
    app.run(|app, event| {
        if let tauri::RunEvent::Exit = event {
            // The event loop ends the process without dropping the managed state: flush the
            // Flight Recorder and end the session on the data directory cleanly here.
            if let Ok(core) = app.state::<state::AppState>().core() {
                if let Err(error) = tauri::async_runtime::block_on(core.close()) {
                    tracing::error!(%error, "the Flight Recorder could not be flushed on exit");
                }
            }
        }
    });
}

/// How long after start the background integrity check waits, so that the first paint does not
/// share the disk with it.
const INTEGRITY_CHECK_DELAY: std::time::Duration = std::time::Duration::from_secs(3);

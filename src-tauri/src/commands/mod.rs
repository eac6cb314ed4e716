//! Tauri commands, one file per domain. Each delegates to the core in a line or two and returns
//! typed results or a [`crate::error::CommandError`]; each file also lists the types its commands
//! share with the UI (`bindings`).

pub mod console;
pub mod escalations;
pub mod governance;
pub mod profiles;
pub mod providers;
pub mod run;
pub mod settings;

/// Every type the commands take or return, for `ui/src/lib/bindings.ts`.
pub fn bindings(b: &mut crate::bindings::Bindings) {
    settings::bindings(b);
    governance::bindings(b);
    escalations::bindings(b);
    profiles::bindings(b);
    providers::bindings(b);
    console::bindings(b);
    run::bindings(b);
}

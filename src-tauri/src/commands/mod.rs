//! Tauri commands, one file per domain. Each delegates to the core and returns typed results.

pub mod settings;

//! `hsk doctor`: every health check, and exit 0 only when every required one passes.

use std::path::PathBuf;
use std::process::ExitCode;

use handshake_core::doctor::{self, CheckState};
use handshake_core::paths::resolve_data_dir;
use handshake_core::secrets::Keychain;

use crate::error::CliError;
use crate::output::Output;

pub async fn run(
    data_dir: Option<PathBuf>,
    ollama_url: &str,
    integrity: bool,
    out: &Output,
) -> Result<ExitCode, CliError> {
    let data_dir = resolve_data_dir(data_dir).map_err(|e| CliError::Start(e.into()))?;
    let report = doctor::run(
        data_dir,
        &Keychain::new(),
        ollama_url,
        if integrity {
            doctor::Integrity::Full
        } else {
            doctor::Integrity::Quick
        },
    )
    .await;
    out.result(&report, || {
        let mut text = format!(
            "Handshake {}\ndata directory: {}\n",
            report.version, report.data_dir
        );
        for check in &report.checks {
            let mark = match check.state {
                CheckState::Ok => "ok",
                CheckState::Failed => "FAILED",
                CheckState::Absent => "absent",
            };
            let optional = if check.required { "" } else { " (optional)" };
            text.push_str(&format!(
                "{:<10} {:<7} {}{}\n",
                check.name, mark, check.detail, optional
            ));
        }
        text.truncate(text.trim_end().len());
        text
    });
    if report.ok {
        Ok(ExitCode::SUCCESS)
    } else {
        let failed: Vec<String> = report
            .checks
            .iter()
            .filter(|c| c.required && c.state != CheckState::Ok)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        Err(CliError::ChecksFailed(format!(
            "required checks failed: {}",
            failed.join("; ")
        )))
    }
}

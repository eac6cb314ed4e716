//! `hsk governance ...`: the workspace's GovernanceMode (LOCKED: no cloud call of any kind;
//! STANDARD: profiles' governance knobs apply).

use std::process::ExitCode;

use clap::Subcommand;

use handshake_core::consent::{GovernanceMode, GovernanceSettings};
use handshake_core::Handshake;

use crate::error::CliError;
use crate::output::Output;

/// `hsk governance ...`.
#[derive(Debug, Subcommand)]
pub enum GovernanceCommand {
    /// Print the current mode.
    Mode,
    /// Set the mode: `locked` or `standard`.
    SetMode { mode: String },
}

/// Runs one `hsk governance` command.
pub async fn run(
    hs: &Handshake,
    cmd: GovernanceCommand,
    out: &Output,
) -> Result<ExitCode, CliError> {
    let settings = GovernanceSettings::new(hs.db());
    let mode = match cmd {
        GovernanceCommand::Mode => settings.mode().await.map_err(consent)?,
        GovernanceCommand::SetMode { mode } => {
            let parsed = GovernanceMode::parse(&mode).ok_or_else(|| CliError::InvalidArg {
                arg: "mode",
                reason: format!("{mode:?} is not `locked` or `standard`"),
            })?;
            settings.set_mode(parsed).await.map_err(consent)?;
            parsed
        }
    };
    out.result(
        &serde_json::json!({ "governance_mode": mode.as_str() }),
        || mode.as_str().to_owned(),
    );
    Ok(ExitCode::SUCCESS)
}

fn consent(error: handshake_core::consent::ConsentError) -> CliError {
    CliError::Core(error.into())
}

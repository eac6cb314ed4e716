//! `hsk model swap`: move a running job from one local model to another on the same Ollama
//! provider. The core drives every step (request, persist, offload, load, resume) and records
//! FR-EVT-MODEL-001..005; a failed offload or load resumes the job on the old model and exits
//! non-zero.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use handshake_core::facade::SwapInput;
use handshake_core::Handshake;

use super::read_file;
use crate::error::CliError;
use crate::output::Output;

/// `hsk model ...`.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Swap the model a job runs on (local Ollama only).
    Swap {
        #[arg(long, value_name = "JOB_ID")]
        job: String,
        /// The provider; --from and --to are then model names as it knows them. Without it they
        /// are full ids `<provider_id>/<model>`.
        #[arg(long, value_name = "PROVIDER_ID")]
        provider: Option<String>,
        #[arg(long, value_name = "MODEL")]
        from: String,
        #[arg(long, value_name = "MODEL")]
        to: String,
        /// A JSON file with the job state to save during the swap (default `{}`).
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
    },
}

fn full_id(provider: Option<&str>, model: &str) -> String {
    match provider {
        Some(p) => format!("{p}/{model}"),
        None => model.to_owned(),
    }
}

/// Runs one `hsk model` command.
pub async fn run(hs: &Handshake, cmd: ModelCommand, out: &Output) -> Result<ExitCode, CliError> {
    match cmd {
        ModelCommand::Swap {
            job,
            provider,
            from,
            to,
            state,
        } => {
            let job_state = match &state {
                None => serde_json::json!({}),
                Some(path) => {
                    serde_json::from_str(&read_file(path)?).map_err(|e| CliError::InvalidArg {
                        arg: "--state",
                        reason: format!("not JSON ({e})"),
                    })?
                }
            };
            let report = hs
                .swap_model(SwapInput {
                    job_id: job,
                    from_model_id: full_id(provider.as_deref(), &from),
                    to_model_id: full_id(provider.as_deref(), &to),
                    job_state,
                })
                .await?;
            out.result(&report, || {
                let mut lines: Vec<String> = report
                    .steps
                    .iter()
                    .map(|s| format!("{} {:<9} ok", s.event_id, s.step))
                    .collect();
                lines.push(format!(
                    "job {} now runs on {} (swap {})",
                    report.job_id, report.active_model_id, report.swap_id
                ));
                lines.join("\n")
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

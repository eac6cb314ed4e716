//! `hsk job ...`: starting a job (it pins the active Work Profile; FR-EVT-PROFILE-002 is recorded
//! by the core before the job id is printed) and showing one.

use std::process::ExitCode;

use clap::Subcommand;
use serde::Serialize;

use handshake_core::Handshake;

use crate::error::CliError;
use crate::output::Output;

/// `hsk job ...`.
#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Start a job pinned to the active profile (or to --profile, which is activated first).
    Start {
        #[arg(long, value_name = "PROFILE_ID")]
        profile: Option<String>,
    },
    /// One job: its pinned profile, status and cloud escalations.
    Show { job_id: String },
}

#[derive(Serialize)]
struct Started<'a> {
    job_id: &'a str,
    profile_id: &'a str,
}

/// Runs one `hsk job` command.
pub async fn run(hs: &Handshake, cmd: JobCommand, out: &Output) -> Result<ExitCode, CliError> {
    match cmd {
        JobCommand::Start { profile } => {
            let started = hs.start_job(profile.as_deref()).await?;
            let shown = Started {
                job_id: &started.job_id,
                profile_id: &started.profile_id,
            };
            // The bare job id, so `JOB=$(hsk job start)` works.
            out.result(&shown, || started.job_id.clone());
        }
        JobCommand::Show { job_id } => {
            let job = hs.jobs().get(&job_id).await?;
            out.result(&job, || {
                format!(
                    "job:        {}\nprofile:    {}\nstatus:     {}\nstarted:    {}\nfinished:   {}\ncloud escalations: {}",
                    job.job_id,
                    job.profile_id,
                    serde_json::to_value(job.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    job.started_at,
                    job.finished_at.as_deref().unwrap_or("-"),
                    job.cloud_escalations
                )
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

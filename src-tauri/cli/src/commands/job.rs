//! `hsk job ...`: starting a job (it pins the active Work Profile; FR-EVT-PROFILE-002 is recorded
//! by the core before the job id is printed) and showing one.

use std::process::ExitCode;

use clap::Subcommand;
use serde::Serialize;

use handshake_core::facade::{RunOutcome, RunRequest};
use handshake_core::profiles::Role;
use handshake_core::Handshake;

use crate::error::{CliError, EXIT_CONSENT_REQUIRED};
use crate::output::Output;

/// `hsk job ...`.
#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Start a job pinned to the active profile, or to --profile (which stays inactive).
    Start {
        #[arg(long, value_name = "PROFILE_ID")]
        profile: Option<String>,
    },
    /// One job: its pinned profile, status and cloud escalations.
    Show { job_id: String },
    /// Run a prompt for a role under the job's pinned profile: resolution, guard, adapter,
    /// Flight Recorder. Exits 3, printing the plan and its escalation id, when the resolved model
    /// is cloud tier and needs consent first.
    Run {
        job_id: String,
        /// frontend, orchestrator, worker or validator.
        #[arg(long)]
        role: String,
        #[arg(long)]
        file_type: Option<String>,
        #[arg(long)]
        task_type: Option<String>,
        #[arg(long)]
        max_tokens: Option<u32>,
        #[arg(long, default_value_t = 0.0)]
        temperature: f32,
        #[arg(long = "stop")]
        stop: Vec<String>,
        prompt: String,
    },
    /// Send the job's approved cloud escalation (exactly the approved bytes), or report its denial.
    Resume { job_id: String },
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
        JobCommand::Run {
            job_id,
            role,
            file_type,
            task_type,
            max_tokens,
            temperature,
            stop,
            prompt,
        } => {
            let role: Role = serde_json::from_value(serde_json::Value::String(role.clone()))
                .map_err(|_| CliError::InvalidArg {
                    arg: "role",
                    reason: format!(
                        "{role:?} is not one of frontend, orchestrator, worker, validator"
                    ),
                })?;
            let request = RunRequest {
                job_id,
                role,
                file_type,
                task_type,
                prompt,
                max_tokens,
                temperature,
                stop_sequences: stop,
            };
            match hs.run_job(request).await? {
                outcome @ RunOutcome::Completed { .. } => {
                    let RunOutcome::Completed { response, .. } = &outcome else {
                        unreachable!()
                    };
                    out.result(&outcome, || response.text.clone());
                }
                outcome @ RunOutcome::NeedsConsent { .. } => {
                    let RunOutcome::NeedsConsent {
                        escalation_id,
                        escalation,
                        ..
                    } = &outcome
                    else {
                        unreachable!()
                    };
                    out.result(&outcome, || {
                        format!(
                            "this run needs your consent before anything is sent to {} at {}\n\
                             escalation: {escalation_id}\nbytes: {}\nredactions: {}\npayload_sha256: {}\n\
                             --- exactly what would be sent ---\n{}\n---\n\
                             approve with `hsk escalation approve {escalation_id}`, then `hsk job resume {}`",
                            escalation.binding.model_id,
                            escalation.binding.destination.origin,
                            escalation.payload_bytes,
                            escalation.plan.redactions_applied.join(", "),
                            escalation.plan.payload_sha256,
                            escalation.preview,
                            escalation.binding.job_id,
                        )
                    });
                    return Ok(ExitCode::from(EXIT_CONSENT_REQUIRED));
                }
            }
        }
        JobCommand::Resume { job_id } => {
            let (escalation, response) = hs.resume_job(&job_id).await?;
            let value = serde_json::json!({ "escalation_id": escalation.escalation_id, "response": response });
            out.result(&value, || response.text.clone());
        }
    }
    Ok(ExitCode::SUCCESS)
}

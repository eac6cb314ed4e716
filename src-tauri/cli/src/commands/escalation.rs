//! `hsk escalation ...`: the cloud escalations waiting for a person, and the person's decision.
//! Receipts (ids, times) are minted by the core's guard, never taken from the command line.

use std::process::ExitCode;

use clap::Subcommand;

use handshake_core::consent::{Approver, EscalationStatus, UiSurface};
use handshake_core::Handshake;

use crate::error::CliError;
use crate::output::Output;

/// `hsk escalation ...`.
#[derive(Debug, Subcommand)]
pub enum EscalationCommand {
    /// Escalations waiting for a decision (`--all` for every state).
    List {
        #[arg(long)]
        all: bool,
    },
    /// One escalation: destination, bytes, redactions, exactly what would be sent, its hash.
    Show { escalation_id: String },
    /// Approve sending exactly the shown bytes.
    Approve {
        escalation_id: String,
        /// Who approves (recorded in the receipt).
        #[arg(long, env = "USER", default_value = "operator")]
        user: String,
        #[arg(long)]
        notes: Option<String>,
    },
    /// Deny it: nothing is sent.
    Deny {
        escalation_id: String,
        #[arg(long, env = "USER", default_value = "operator")]
        user: String,
        #[arg(long)]
        notes: Option<String>,
    },
}

/// Runs one `hsk escalation` command.
pub async fn run(
    hs: &Handshake,
    cmd: EscalationCommand,
    out: &Output,
) -> Result<ExitCode, CliError> {
    match cmd {
        EscalationCommand::List { all } => {
            let status = if all {
                None
            } else {
                Some(EscalationStatus::Pending)
            };
            let list = hs.escalations(status).await?;
            out.result(&list, || {
                if list.is_empty() {
                    return "no escalations".to_owned();
                }
                list.iter()
                    .map(|e| {
                        format!(
                            "{}  {:?}  job {}  -> {} at {}  {} bytes",
                            e.escalation_id,
                            e.status,
                            e.binding.job_id,
                            e.binding.model_id,
                            e.binding.destination.origin,
                            e.payload_bytes
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        EscalationCommand::Show { escalation_id } => {
            let e = hs.escalation(&escalation_id).await?;
            out.result(&e, || {
                format!(
                    "escalation: {}\nstatus: {:?}\ndestination: {} at {} ({} tier)\njob: {}\nbytes: {}\n\
                     redactions: {}\npayload_sha256: {}\nremaining escalations: {}\n\
                     --- exactly what would be sent ---\n{}",
                    e.escalation_id,
                    e.status,
                    e.binding.model_id,
                    e.binding.destination.origin,
                    e.binding.destination.tier,
                    e.binding.job_id,
                    e.payload_bytes,
                    e.plan.redactions_applied.join(", "),
                    e.plan.payload_sha256,
                    e.remaining_escalations.map_or("no cap".to_owned(), |n| n.to_string()),
                    e.preview
                )
            });
        }
        EscalationCommand::Approve {
            escalation_id,
            user,
            notes,
        } => {
            let approver = Approver {
                user_id: user,
                ui_surface: UiSurface::OperatorConsole,
                notes,
            };
            let receipt = hs.decide_escalation(&escalation_id, true, approver).await?;
            out.result(&receipt, || {
                format!("approved: receipt {}", receipt.consent_receipt_id)
            });
        }
        EscalationCommand::Deny {
            escalation_id,
            user,
            notes,
        } => {
            let approver = Approver {
                user_id: user,
                ui_surface: UiSurface::OperatorConsole,
                notes,
            };
            let receipt = hs
                .decide_escalation(&escalation_id, false, approver)
                .await?;
            out.result(&receipt, || {
                format!("denied: receipt {}", receipt.consent_receipt_id)
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

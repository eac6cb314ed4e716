//! `hsk profile ...`: Work Profiles. Changes go through the core's facade, which validates the
//! body against the registered providers and records FR-EVT-PROFILE-001 before returning.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use handshake_core::profiles::ProfileSummary;
use handshake_core::Handshake;

use super::{read_file, write_output};
use crate::error::CliError;
use crate::output::Output;

/// `hsk profile ...`.
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Create a profile from a JSON file (`hsk.work_profile@0.5`) under the id it names.
    Create {
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
    /// Save an edited body of profile ID as a new version whose parent is ID. A profile a job
    /// used is refused unless --new-version.
    Edit {
        id: String,
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// Save the new version even though a job used the profile.
        #[arg(long)]
        new_version: bool,
    },
    /// Every profile, with its parent, whether it is active and the jobs that used it.
    List,
    /// One profile with its body.
    Show { id: String },
    /// Make ID the active profile (jobs already started keep theirs).
    Activate { id: String },
    /// The stored JSON of a profile (re-importable with `create`).
    Export {
        id: String,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Runs one `hsk profile` command.
pub async fn run(hs: &Handshake, cmd: ProfileCommand, out: &Output) -> Result<ExitCode, CliError> {
    match cmd {
        ProfileCommand::Create { file } => {
            let text = read_file(&file)?;
            let created = hs.create_profile(&text).await?;
            out.result(&created, || {
                format!(
                    "created Work Profile {} ({})",
                    created.profile_id, created.name
                )
            });
        }
        ProfileCommand::Edit {
            id,
            file,
            new_version,
        } => {
            let text = read_file(&file)?;
            let created = hs.edit_profile(&id, &text, new_version).await?;
            out.result(&created, || {
                format!(
                    "saved Work Profile {} as a new version of {id}",
                    created.profile_id
                )
            });
        }
        ProfileCommand::List => {
            let profiles = hs.profiles().list().await?;
            out.result(&profiles, || list_text(&profiles));
        }
        ProfileCommand::Show { id } => {
            let stored = hs.profiles().get(&id).await?;
            out.result(&stored, || {
                let body = serde_json::to_string_pretty(&stored.profile).unwrap_or_default();
                format!(
                    "profile:  {}{}\nparent:   {}\ncreated:  {}\nsha256:   {}\njobs:     {}\n{body}",
                    stored.profile.profile_id,
                    if stored.active { " (active)" } else { "" },
                    stored.parent_profile_id.as_deref().unwrap_or("-"),
                    stored.created_at,
                    stored.body_sha256,
                    if stored.used_by_jobs.is_empty() {
                        "-".to_owned()
                    } else {
                        stored.used_by_jobs.join(", ")
                    }
                )
            });
        }
        ProfileCommand::Activate { id } => {
            let activated = hs.activate_profile(&id).await?;
            out.result(&activated, || match &activated.previous {
                Some(previous) => format!("activated {id} (was {previous})"),
                None => format!("activated {id}"),
            });
        }
        ProfileCommand::Export { id, out: file } => {
            let json = hs.profiles().export_json(&id).await?;
            write_output(file.as_deref(), json.as_bytes())?;
            if let Some(path) = file {
                let path = path.display().to_string();
                out.result(&serde_json::json!({"profile_id": id, "path": path}), || {
                    format!("exported {id} to {path}")
                });
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list_text(profiles: &[ProfileSummary]) -> String {
    if profiles.is_empty() {
        return "no Work Profiles; create one with `hsk profile create --file F`".into();
    }
    profiles
        .iter()
        .map(|p| {
            format!(
                "{} {} ({}){}{}",
                if p.active { "*" } else { " " },
                p.profile_id,
                p.name,
                p.parent_profile_id
                    .as_deref()
                    .map(|parent| format!(", parent {parent}"))
                    .unwrap_or_default(),
                if p.used_by_jobs.is_empty() {
                    String::new()
                } else {
                    format!(", used by {} job(s)", p.used_by_jobs.len())
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

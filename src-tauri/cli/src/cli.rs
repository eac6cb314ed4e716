//! The command line's grammar (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands::{
    job::JobCommand, model::ModelCommand, profile::ProfileCommand, provider::ProviderCommand,
    recorder::RecorderCommand,
};

/// Handshake: run LLM work safely across local and cloud models.
#[derive(Debug, Parser)]
#[command(name = "hsk", version, about, propagate_version = true)]
pub struct Cli {
    /// Use this data directory instead of the platform's (also: HANDSHAKE_DATA_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one completion against a local-tier model and print the answer.
    Complete(CompleteArgs),
    /// Check the data directory, database, OS keychain and a local Ollama.
    Doctor {
        /// Where to look for Ollama.
        #[arg(long, default_value = handshake_core::doctor::DEFAULT_OLLAMA_URL)]
        ollama_url: String,
        /// Also read every page of the database (SQLite's quick_check; about a second per
        /// million Flight Recorder events). Opening checks only the header and the schema.
        #[arg(long)]
        integrity: bool,
    },
    /// The provider registry: add, list, keys (from stdin only), test, export and import.
    Provider {
        #[command(subcommand)]
        command: ProviderCommand,
    },
    /// The Flight Recorder: tail, query, verify and export (read-only).
    Recorder {
        #[command(subcommand)]
        command: RecorderCommand,
    },
    /// Work Profiles: create, edit (as a new version), list, show, activate and export.
    Profile {
        #[command(subcommand)]
        command: ProfileCommand,
    },
    /// Jobs: start one (it pins the active profile) and show one.
    Job {
        #[command(subcommand)]
        command: JobCommand,
    },
    /// Cloud escalations: list, show, approve or deny what would be sent to a cloud model.
    Escalation {
        #[command(subcommand)]
        command: crate::commands::escalation::EscalationCommand,
    },
    /// The workspace's governance mode (LOCKED denies every cloud call).
    Governance {
        #[command(subcommand)]
        command: crate::commands::governance::GovernanceCommand,
    },
    /// Local models: swap the model a job runs on.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
}

/// `hsk complete`.
#[derive(Debug, clap::Args)]
pub struct CompleteArgs {
    /// The registered provider to call.
    #[arg(long)]
    pub provider: String,
    /// The model name as that provider knows it (e.g. `gemma3:270m`).
    #[arg(long)]
    pub model: String,
    /// Most tokens to generate; a provider that produces more fails the call (BudgetExceeded).
    #[arg(long)]
    pub max_tokens: Option<u32>,
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// A stop sequence (repeatable).
    #[arg(long = "stop")]
    pub stop: Vec<String>,
    /// Correlates the call in the Flight Recorder; a new one is made when absent.
    #[arg(long)]
    pub trace_id: Option<uuid::Uuid>,
    /// Print the answer as it is generated (with --json: one JSON event per line).
    #[arg(long)]
    pub stream: bool,
    /// The prompt.
    pub prompt: String,
}

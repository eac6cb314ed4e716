//! `hsk provider ...`: the provider registry. Keys and secret header values are read from stdin
//! (or a hidden prompt on a terminal), never from argv; nothing printed ever holds a secret (the
//! registry's records and exports hold keychain handles only).

use std::process::ExitCode;

use clap::Subcommand;
use serde::Serialize;

use handshake_core::registry::{
    presets, ExtraHeaderValue, ProviderRecord, ProviderTier, SecretState, SecretStatus,
};
use handshake_core::Handshake;

use super::provider_input::{AddArgs, UpdateArgs};
use super::{read_file, write_output};
use crate::error::CliError;
use crate::output::Output;
use crate::secret_input::read_secret;

/// `hsk provider ...`.
#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Register a provider (keys: --key-stdin; secret headers: --secret-header, values on stdin).
    Add(Box<AddArgs>),
    /// Every registered provider.
    List,
    /// One provider and whether its secrets are in the keychain.
    Show { id: String },
    /// Change a provider (only the given fields; header options replace every header).
    Update(Box<UpdateArgs>),
    /// Remove a provider and delete its secrets from the keychain.
    Rm { id: String },
    /// Store the provider's API key: one line on stdin, or a hidden prompt on a terminal.
    SetKey {
        id: String,
        /// Fail unless the provider already has a key (rotation).
        #[arg(long)]
        rotate: bool,
        /// Refused: keys are never taken from argv.
        #[arg(hide = true, num_args = 0.., allow_hyphen_values = true)]
        key_in_argv: Vec<String>,
    },
    /// Delete the provider's API key from the keychain (the provider becomes keyless).
    DeleteKey { id: String },
    /// Reach the provider, authenticate, list its models and report the latency.
    Test { id: String },
    /// The models the provider offers.
    Models { id: String },
    /// Write every provider as JSON (secrets replaced by handle markers).
    Export {
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// Import an export file; reports the secrets to enter again.
    Import { file: std::path::PathBuf },
    /// The providers Handshake knows (for `add --preset`).
    Presets,
}

#[derive(Serialize)]
struct Shown {
    provider: ProviderRecord,
    secrets: SecretStatus,
}

#[derive(Serialize)]
struct Removed<'a> {
    removed: &'a str,
}

#[derive(Serialize)]
struct Exported {
    path: String,
    providers: usize,
}

/// Runs one `hsk provider` command.
pub async fn run(hs: &Handshake, cmd: ProviderCommand, out: &Output) -> Result<ExitCode, CliError> {
    let registry = hs.registry();
    match cmd {
        ProviderCommand::Add(args) => {
            let new = args.into_new_provider()?;
            let record = registry.add(new).await?;
            out.result(&record, || {
                let mut text = format!("added {}", describe(&record));
                if record.tier == ProviderTier::Cloud && record.secret_handle.is_none() {
                    text.push_str(&format!(
                        "\nno API key yet: `hsk provider set-key {}` (reads it from stdin, or prompts in a terminal)",
                        record.provider_id
                    ));
                }
                text
            });
        }
        ProviderCommand::List => {
            let records = registry.list().await?;
            out.result(&records, || {
                if records.is_empty() {
                    return "no providers; add one with `hsk provider add`".into();
                }
                records.iter().map(describe).collect::<Vec<_>>().join("\n")
            });
        }
        ProviderCommand::Show { id } => {
            let shown = Shown {
                provider: registry.get(&id).await?,
                secrets: registry.secret_status(&id).await?,
            };
            out.result(&shown, || show_text(&shown));
        }
        ProviderCommand::Update(args) => {
            let (id, update) = args.into_update()?;
            let record = registry.update(&id, update).await?;
            out.result(&record, || format!("updated {}", describe(&record)));
        }
        ProviderCommand::Rm { id } => {
            registry.remove(&id).await?;
            out.result(&Removed { removed: &id }, || format!("removed {id}"));
        }
        ProviderCommand::SetKey {
            id,
            rotate,
            key_in_argv,
        } => {
            if !key_in_argv.is_empty() {
                return Err(CliError::SecretInArgv { what: "an API key" });
            }
            // Fail on an unknown provider before asking for a key.
            registry.get(&id).await?;
            let key = read_secret(&format!("API key for {id}"))?;
            let record = if rotate {
                registry.rotate_key(&id, key).await?
            } else {
                registry.set_key(&id, key).await?
            };
            out.result(&record, || {
                format!("API key of {id} stored in the OS keychain")
            });
        }
        ProviderCommand::DeleteKey { id } => {
            let record = registry.delete_key(&id).await?;
            out.result(&record, || format!("API key of {id} deleted"));
        }
        ProviderCommand::Test { id } => {
            let test = registry.test_connection(&id).await?;
            out.result(&test, || {
                let names: Vec<&str> = test.models.iter().map(|m| m.name.as_str()).collect();
                format!(
                    "ok: {} answered HTTP {} in {} ms ({} ms in all), {}\n{} model(s): {}",
                    test.url,
                    test.status,
                    test.latency_ms,
                    test.total_ms,
                    if test.authenticated {
                        "authenticated"
                    } else {
                        "no key sent"
                    },
                    names.len(),
                    names.join(", ")
                )
            });
        }
        ProviderCommand::Models { id } => {
            let models = registry.list_models(&id).await?;
            out.result(&models, || {
                models
                    .iter()
                    .map(|m| m.model_id.clone())
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        ProviderCommand::Export { out: file } => {
            let json = registry.export_json().await?;
            match file {
                None => write_output(None, json.as_bytes())?,
                Some(path) => {
                    write_output(Some(&path), json.as_bytes())?;
                    let providers = registry.list().await?.len();
                    let done = Exported {
                        path: path.display().to_string(),
                        providers,
                    };
                    out.result(&done, || {
                        format!("exported {providers} provider(s) to {}", done.path)
                    });
                }
            }
        }
        ProviderCommand::Import { file } => {
            let text = read_file(&file)?;
            let report = registry.import_json(&text).await?;
            out.result(&report, || {
                let mut lines = Vec::new();
                for p in &report.imported {
                    if p.needs_secrets.is_empty() {
                        lines.push(format!("imported {}", p.provider_id));
                    } else {
                        lines.push(format!(
                            "imported {}: enter again {} (`hsk provider set-key {}` for the key, `hsk provider update {} --secret-header NAME` for headers)",
                            p.provider_id,
                            p.needs_secrets.join(", "),
                            p.provider_id,
                            p.provider_id
                        ));
                    }
                }
                for r in &report.rejected {
                    lines.push(format!("rejected {} ({}): {}", r.provider_id, r.code, r.message));
                }
                lines.join("\n")
            });
            if !report.rejected.is_empty() {
                return Err(CliError::ImportRejected {
                    rejected: report.rejected.len(),
                });
            }
        }
        ProviderCommand::Presets => {
            let all = presets();
            out.result(&all, || {
                all.iter()
                    .map(|p| {
                        format!(
                            "{:<12} {:<13} {:<5} {}{}",
                            p.preset_id,
                            p.kind.as_str(),
                            p.tier.as_str(),
                            p.base_url,
                            if p.needs_key { " (needs a key)" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(r: &ProviderRecord) -> String {
    format!(
        "{} ({}): {} {} {}{}",
        r.provider_id,
        r.display_name,
        r.kind.as_str(),
        r.tier.as_str(),
        r.base_url,
        if r.secret_handle.is_some() {
            ", key in keychain"
        } else {
            ""
        }
    )
}

fn state(s: SecretState) -> &'static str {
    match s {
        SecretState::NotSet => "not set",
        SecretState::Stored => "stored in the OS keychain",
        SecretState::Missing => "MISSING from the keychain: enter it again",
    }
}

fn show_text(shown: &Shown) -> String {
    let p = &shown.provider;
    let mut lines = vec![
        format!("id:            {}", p.provider_id),
        format!("name:          {}", p.display_name),
        format!("kind:          {}", p.kind.as_str()),
        format!("tier:          {}", p.tier.as_str()),
        format!("base_url:      {}", p.base_url),
        format!(
            "default_model: {}",
            p.default_model.as_deref().unwrap_or("-")
        ),
        format!("api key:       {}", state(shown.secrets.api_key)),
    ];
    for h in &p.extra_headers {
        let value = match &h.value {
            ExtraHeaderValue::Plain { value } => value.clone(),
            ExtraHeaderValue::Secret { .. } => {
                let s = shown
                    .secrets
                    .headers
                    .iter()
                    .find(|(name, _)| *name == h.name)
                    .map_or(SecretState::Missing, |(_, s)| *s);
                format!("<secret: {}>", state(s))
            }
        };
        lines.push(format!("header:        {}: {value}", h.name));
    }
    if let Some(proxy) = &p.proxy_url {
        lines.push(format!("proxy:         {proxy}"));
    }
    lines.join("\n")
}

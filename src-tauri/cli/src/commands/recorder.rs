//! `hsk recorder ...`: reading the Flight Recorder. Every command here only reads (the database,
//! and the anchor file for `verify`): no writer is started, no event or anchor is written, so it
//! is safe while the desktop app records.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde::Serialize;

use handshake_core::recorder::{EventQuery, EventType, StoredEvent, VerifyDepth, VerifyReport};
use handshake_core::Handshake;

use crate::error::CliError;
use crate::output::Output;

/// `hsk recorder ...`.
#[derive(Debug, Subcommand)]
pub enum RecorderCommand {
    /// The newest events, oldest first.
    Tail {
        #[arg(short = 'n', long = "lines", default_value_t = 20)]
        n: u32,
    },
    /// Events matching every given filter, in sequence order.
    Query(QueryArgs),
    /// Walk the hash chain and check the anchor and the keychain's witness; exits 4 at the first
    /// broken link. Walks what was added since the last verification unless `--full`.
    Verify {
        /// Walk every event, not only those after the last verified one.
        #[arg(long)]
        full: bool,
    },
    /// Write events as JSON Lines (one event per line).
    Export {
        #[command(flatten)]
        filter: QueryArgs,
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Filters of `query` and `export`.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// An event id such as FR-EVT-PROFILE-001.
    #[arg(long = "type", value_name = "EVENT_ID")]
    pub event_type: Option<String>,
    #[arg(long = "trace", value_name = "UUID")]
    pub trace: Option<String>,
    #[arg(long = "job", value_name = "JOB_ID")]
    pub job: Option<String>,
    #[arg(long = "profile", value_name = "PROFILE_ID")]
    pub profile: Option<String>,
    #[arg(long = "provider", value_name = "PROVIDER_ID")]
    pub provider: Option<String>,
    #[arg(long = "model", value_name = "MODEL_ID")]
    pub model: Option<String>,
    /// Events at or after this time (RFC 3339, e.g. 2026-11-28T00:00:00Z).
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// Events before this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<String>,
    /// Only events with a greater sequence number (pagination).
    #[arg(long, value_name = "SEQ")]
    pub after_seq: Option<i64>,
    /// At most N events (default 100, at most 10000; for export: the page size).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

fn time(
    arg: &'static str,
    value: Option<&str>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, CliError> {
    value
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|e| CliError::InvalidArg {
                    arg,
                    reason: format!("not an RFC 3339 time ({e})"),
                })
        })
        .transpose()
}

impl QueryArgs {
    fn to_query(&self) -> Result<EventQuery, CliError> {
        let event_type = self
            .event_type
            .as_deref()
            .map(|t| {
                EventType::parse(t).ok_or_else(|| CliError::InvalidArg {
                    arg: "--type",
                    reason: format!(
                        "unknown event id `{t}`; one of {}",
                        EventType::ALL.map(EventType::as_str).join(", ")
                    ),
                })
            })
            .transpose()?;
        let trace_id = self
            .trace
            .as_deref()
            .map(|t| {
                uuid::Uuid::parse_str(t).map_err(|e| CliError::InvalidArg {
                    arg: "--trace",
                    reason: format!("not a UUID ({e})"),
                })
            })
            .transpose()?;
        Ok(EventQuery {
            event_type,
            trace_id,
            job_id: self.job.clone(),
            profile_id: self.profile.clone(),
            provider_id: self.provider.clone(),
            model_id: self.model.clone(),
            from: time("--since", self.since.as_deref())?,
            until: time("--until", self.until.as_deref())?,
            after_seq: self.after_seq,
            limit: self.limit,
        })
    }
}

#[derive(Serialize)]
struct ExportDone {
    path: String,
    events: u64,
}

/// Runs one `hsk recorder` command.
pub async fn run(hs: &Handshake, cmd: RecorderCommand, out: &Output) -> Result<ExitCode, CliError> {
    match cmd {
        RecorderCommand::Tail { n } => {
            let events = hs.events_tail(n).await?;
            out.result(&events, || events_text(&events));
        }
        RecorderCommand::Query(args) => {
            let events = hs.events_query(&args.to_query()?).await?;
            out.result(&events, || events_text(&events));
        }
        RecorderCommand::Verify { full } => {
            let depth = if full {
                VerifyDepth::Full
            } else {
                VerifyDepth::Incremental
            };
            let report = hs.events_verify(depth).await?;
            out.result(&report, || match &report {
                VerifyReport::Ok {
                    count,
                    from_seq,
                    head,
                    anchored_seq,
                } => format!(
                    "ok: {count} event(s) verified from {from_seq} to {}; anchored at {}",
                    head.seq,
                    anchored_seq.map_or("-".to_owned(), |s| s.to_string())
                ),
                VerifyReport::Broken { .. } => "BROKEN (see stderr)".to_owned(),
            });
            if let VerifyReport::Broken {
                sequence,
                kind,
                detail,
            } = report
            {
                let kind = serde_json::to_value(kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                return Err(CliError::ChainBroken {
                    sequence,
                    kind,
                    detail,
                });
            }
        }
        RecorderCommand::Export { filter, out: file } => {
            let query = filter.to_query()?;
            match &file {
                None => {
                    let mut stdout = tokio::io::stdout();
                    hs.events_export(&query, &mut stdout).await?;
                }
                Some(path) => {
                    let mut f = tokio::fs::File::create(path)
                        .await
                        .map_err(|e| CliError::io("cannot create", path.display(), e))?;
                    let events = hs.events_export(&query, &mut f).await?;
                    f.sync_all()
                        .await
                        .map_err(|e| CliError::io("cannot write", path.display(), e))?;
                    let done = ExportDone {
                        path: path.display().to_string(),
                        events,
                    };
                    out.result(&done, || {
                        format!("exported {events} event(s) to {}", done.path)
                    });
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn events_text(events: &[StoredEvent]) -> String {
    if events.is_empty() {
        return "no events".into();
    }
    events
        .iter()
        .map(|e| {
            let mut ids = Vec::new();
            for (name, value) in [
                ("job", &e.job_id),
                ("profile", &e.profile_id),
                ("provider", &e.provider_id),
                ("model", &e.model_id),
            ] {
                if let Some(v) = value {
                    ids.push(format!("{name}={v}"));
                }
            }
            if let Some(t) = e.trace_id {
                ids.push(format!("trace={t}"));
            }
            format!(
                "{:>6} {} {:<20} {} {}",
                e.seq,
                e.occurred_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                e.event_type,
                ids.join(" "),
                e.payload
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

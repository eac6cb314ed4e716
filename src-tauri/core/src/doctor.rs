//! Health checks behind `hsk doctor` and the Settings view: data directory, schema version, the
//! database's full integrity check when asked for ([`Integrity::Full`]: its cost grows with the
//! file), OS keychain (store, read back and delete a probe entry) and a default local Ollama.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::db::{supported_schema_version, Database};
use crate::secrets::Keychain;

/// Where a default Ollama answers.
pub const DEFAULT_OLLAMA_URL: &str = "http://127.0.0.1:11434";

/// The state of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    Ok,
    /// Failed, and Handshake cannot work without it.
    Failed,
    /// Not there, and Handshake works without it (a local Ollama is optional).
    Absent,
}

/// One named check and what it found.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct Check {
    pub name: String,
    pub state: CheckState,
    pub required: bool,
    pub detail: String,
}

/// Every check, and whether everything required works.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct DoctorReport {
    pub version: String,
    pub data_dir: String,
    #[ts(type = "number | null")]
    pub schema_version: Option<i64>,
    #[ts(type = "number")]
    pub supported_schema_version: i64,
    pub checks: Vec<Check>,
    pub ok: bool,
}

/// Whether the doctor reads every page of the database (SQLite's `quick_check`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Integrity {
    /// Header and schema only, as every open does: the same cost at any size.
    Quick,
    /// Every page: about a second at a million Flight Recorder events.
    Full,
}

/// Runs every check. Never fails: a failure is a check in the report.
pub async fn run(
    data_dir: PathBuf,
    keychain: &Keychain,
    ollama_url: &str,
    integrity: Integrity,
) -> DoctorReport {
    let mut checks = Vec::new();
    let mut schema_version = None;

    match Database::open(&data_dir).await {
        Ok(db) => {
            checks.push(ok(
                "data_dir",
                true,
                format!("{} is writable", data_dir.display()),
            ));
            match db.schema_version().await {
                Ok(v) => {
                    schema_version = Some(v);
                    checks.push(ok(
                        "database",
                        true,
                        format!("{} at schema version {v}", db.path().display()),
                    ));
                }
                Err(e) => checks.push(failed("database", e.to_string())),
            }
            if integrity == Integrity::Full {
                checks.push(match db.check_integrity().await {
                    Ok(()) => ok(
                        "integrity",
                        true,
                        "SQLite's quick_check read every page".into(),
                    ),
                    Err(e) => failed("integrity", e.to_string()),
                });
            }
            db.close().await;
        }
        Err(e) => checks.push(failed("database", e.to_string())),
    }

    match keychain.probe_async().await {
        Ok(()) => checks.push(ok(
            "keychain",
            true,
            "stored, read back and deleted a probe entry".into(),
        )),
        Err(e) => checks.push(failed("keychain", e.to_string())),
    }

    checks.push(probe_ollama(ollama_url).await);

    let ok_all = checks
        .iter()
        .all(|c| !c.required || c.state == CheckState::Ok);
    DoctorReport {
        version: crate::VERSION.to_owned(),
        data_dir: data_dir.display().to_string(),
        schema_version,
        supported_schema_version: supported_schema_version(),
        checks,
        ok: ok_all,
    }
}

async fn probe_ollama(base_url: &str) -> Check {
    let client = match reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(2))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return absent(format!(
                "could not build an HTTP client: {}",
                e.without_url()
            ))
        }
    };
    let started = Instant::now();
    let url = format!("{}/api/version", base_url.trim_end_matches('/'));
    match client.get(&url).send().await {
        Ok(resp) if resp.status().is_success() => {
            let version = resp
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v.get("version").and_then(|v| v.as_str()).map(str::to_owned))
                .unwrap_or_else(|| "unknown version".into());
            Check {
                name: "ollama".into(),
                state: CheckState::Ok,
                required: false,
                detail: format!(
                    "{base_url} answered ({version}) in {} ms",
                    started.elapsed().as_millis()
                ),
            }
        }
        Ok(resp) => absent(format!(
            "{base_url} answered HTTP {}",
            resp.status().as_u16()
        )),
        Err(e) => absent(format!("no Ollama at {base_url} ({})", describe(&e))),
    }
}

fn describe(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection refused"
    } else {
        "request failed"
    }
}

fn ok(name: &str, required: bool, detail: String) -> Check {
    Check {
        name: name.into(),
        state: CheckState::Ok,
        required,
        detail,
    }
}

fn failed(name: &str, detail: String) -> Check {
    Check {
        name: name.into(),
        state: CheckState::Failed,
        required: true,
        detail,
    }
}

fn absent(detail: String) -> Check {
    Check {
        name: "ollama".into(),
        state: CheckState::Absent,
        required: false,
        detail,
    }
}

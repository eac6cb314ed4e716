//! Handshake's domain logic, with no dependency on Tauri so that every rule is testable headless.
//!
//! One module per concept:
//! - [`vocab`]: the vocabulary every module shares (provider kind and tier, `ModelId`, roles,
//!   timeouts, destinations) and the one rule that decides a model's effective tier.
//! - [`paths`]: where the app keeps its data (platform data directory, or an override).
//! - [`db`]: the one SQLite database, its migrations and its forward-compatibility guard.
//! - [`secrets`]: the OS keychain, the only place a provider secret is ever stored.
//! - [`llm`]: the `LlmClient` trait, the only way any code talks to a model, and its adapters.
//! - [`registry`]: the providers a user registered (kind, tier, base_url, secret handle).
//! - [`recorder`]: the Flight Recorder, an append-only, hash-chained and anchored event log.
//! - [`egress`]: which network addresses a provider may reach, checked on resolved addresses.
//! - [`consent`]: cloud escalation consent: ProjectionPlan, ConsentReceipt, the guard and gate.
//! - [`profiles`]: Work Profiles, the jobs that pin them, model resolution and local model swaps.
//! - [`doctor`]: the health checks behind `hsk doctor` and the Settings view.
//! - [`facade`]: [`facade::Handshake`], the one object the shells (desktop app and CLI) hold.

pub mod consent;
pub mod db;
pub mod doctor;
pub mod egress;
pub mod facade;
pub mod llm;
pub mod paths;
pub mod profiles;
pub mod recorder;
pub mod registry;
pub mod secrets;
pub mod vocab;

pub use facade::Handshake;

/// The version of this build of Handshake, shared by the app and the CLI.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

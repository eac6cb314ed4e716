//! The workspace's GovernanceMode (`LOCKED` or `STANDARD`, setting `governance_mode`, default
//! `STANDARD`) and the standing rule under which AUTONOMOUS profiles may have cloud escalations
//! approved without a click (setting `consent_standing_rule`).
//!
//! Guarantee: the mode is read from the database on every check (no cache), so switching to
//! LOCKED takes effect for the very next send, in this process or another one.

use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;

use super::ConsentError;
use crate::db::Database;

/// The settings key of the GovernanceMode.
pub const GOVERNANCE_MODE_SETTING: &str = "governance_mode";
/// The settings key of the AUTONOMOUS standing rule.
pub const STANDING_RULE_SETTING: &str = "consent_standing_rule";

/// Whether any cloud call may happen in this workspace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GovernanceMode {
    /// No cloud call of any kind, whatever a profile says.
    Locked,
    /// Profiles' governance knobs apply.
    #[default]
    Standard,
}

impl GovernanceMode {
    /// `LOCKED` or `STANDARD`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Locked => "LOCKED",
            Self::Standard => "STANDARD",
        }
    }

    /// Parses `LOCKED` / `STANDARD` (any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "LOCKED" => Some(Self::Locked),
            "STANDARD" => Some(Self::Standard),
            _ => None,
        }
    }
}

/// A rule a person set in settings: cloud escalations of jobs whose profile is AUTONOMOUS may be
/// approved automatically, one payload at a time, within these limits. Every such approval is a
/// receipt with `ui_surface: settings` and `user_id` = the person who set the rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct StandingRule {
    /// Who set the rule (becomes the receipt's `user_id`).
    pub set_by_user_id: String,
    /// Providers the rule covers; an escalation to any other one needs a person.
    pub provider_ids: Vec<String>,
    /// Largest payload the rule approves, in bytes.
    #[ts(type = "number")]
    pub max_payload_bytes: u64,
}

/// Reads and writes the governance settings.
#[derive(Clone, Debug)]
pub struct GovernanceSettings {
    pool: SqlitePool,
}

impl GovernanceSettings {
    /// The settings of `db`.
    pub fn new(db: &Database) -> Self {
        Self {
            pool: db.pool().clone(),
        }
    }

    /// The current mode (`STANDARD` when never set). An unreadable value is treated as LOCKED:
    /// a corrupt setting must not open the way to the cloud.
    pub async fn mode(&self) -> Result<GovernanceMode, ConsentError> {
        let value: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
            .bind(GOVERNANCE_MODE_SETTING)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match value {
            None => GovernanceMode::Standard,
            Some(v) => GovernanceMode::parse(&v).unwrap_or(GovernanceMode::Locked),
        })
    }

    /// Sets the mode.
    pub async fn set_mode(&self, mode: GovernanceMode) -> Result<(), ConsentError> {
        self.put(GOVERNANCE_MODE_SETTING, mode.as_str()).await
    }

    /// The standing rule for AUTONOMOUS profiles, if a person set one.
    pub async fn standing_rule(&self) -> Result<Option<StandingRule>, ConsentError> {
        let value: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
            .bind(STANDING_RULE_SETTING)
            .fetch_optional(&self.pool)
            .await?;
        // An unreadable rule approves nothing.
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    /// Sets (`Some`) or removes (`None`) the standing rule.
    pub async fn set_standing_rule(&self, rule: Option<&StandingRule>) -> Result<(), ConsentError> {
        match rule {
            Some(rule) => {
                super::check_user_id(&rule.set_by_user_id)?;
                let json = serde_json::to_string(rule).map_err(|_| ConsentError::Corrupt {
                    what: "standing rule",
                })?;
                self.put(STANDING_RULE_SETTING, &json).await
            }
            None => {
                sqlx::query("DELETE FROM settings WHERE key = ?")
                    .bind(STANDING_RULE_SETTING)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    }

    async fn put(&self, key: &str, value: &str) -> Result<(), ConsentError> {
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(chrono::Utc::now().to_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn mode_defaults_to_standard_persists_and_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).await.unwrap();
        let settings = GovernanceSettings::new(&db);
        assert_eq!(settings.mode().await.unwrap(), GovernanceMode::Standard);
        settings.set_mode(GovernanceMode::Locked).await.unwrap();
        assert_eq!(
            GovernanceSettings::new(&db).mode().await.unwrap(),
            GovernanceMode::Locked
        );
        settings.set_mode(GovernanceMode::Standard).await.unwrap();
        assert_eq!(settings.mode().await.unwrap(), GovernanceMode::Standard);
        settings.put(GOVERNANCE_MODE_SETTING, "open").await.unwrap();
        assert_eq!(settings.mode().await.unwrap(), GovernanceMode::Locked);
    }

    #[tokio::test]
    async fn standing_rule_round_trips_and_can_be_removed() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).await.unwrap();
        let settings = GovernanceSettings::new(&db);
        assert_eq!(settings.standing_rule().await.unwrap(), None);
        let rule = StandingRule {
            set_by_user_id: "alice".into(),
            provider_ids: vec!["open".into()],
            max_payload_bytes: 4096,
        };
        settings.set_standing_rule(Some(&rule)).await.unwrap();
        assert_eq!(settings.standing_rule().await.unwrap(), Some(rule));
        settings.set_standing_rule(None).await.unwrap();
        assert_eq!(settings.standing_rule().await.unwrap(), None);
        let bad = StandingRule {
            set_by_user_id: "two words".into(),
            provider_ids: vec![],
            max_payload_bytes: 1,
        };
        assert!(settings.set_standing_rule(Some(&bad)).await.is_err());
    }
}

//! The workspace's governance settings as the shells show and change them: the mode (LOCKED
//! denies every cloud call) and the standing rule AUTONOMOUS profiles may use instead of a
//! person's click. Who set a rule is given by the shell (the OS user of the desktop, `--user` in
//! the CLI), never taken from the rule's submitted fields.

use serde::{Deserialize, Serialize};

use crate::consent::{GovernanceMode, GovernanceSettings, StandingRule};

use super::error::FacadeError;
use super::Handshake;

/// The mode and the standing rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(rename = "Governance")]
pub struct GovernanceView {
    pub mode: GovernanceMode,
    pub standing_rule: Option<StandingRule>,
}

/// A standing rule as a person submits it in settings.
#[derive(Clone, Debug, Deserialize, ts_rs::TS)]
pub struct StandingRuleInput {
    /// Providers the rule covers.
    pub provider_ids: Vec<String>,
    /// Largest payload the rule approves, in bytes.
    #[ts(type = "number")]
    pub max_payload_bytes: u64,
}

impl Handshake {
    fn governance_settings(&self) -> GovernanceSettings {
        GovernanceSettings::new(self.db())
    }

    /// The current mode and standing rule.
    pub async fn governance(&self) -> Result<GovernanceView, FacadeError> {
        let settings = self.governance_settings();
        Ok(GovernanceView {
            mode: settings.mode().await?,
            standing_rule: settings.standing_rule().await?,
        })
    }

    /// Switches LOCKED / STANDARD; returns the settings as stored.
    pub async fn set_governance_mode(
        &self,
        mode: GovernanceMode,
    ) -> Result<GovernanceView, FacadeError> {
        self.governance_settings().set_mode(mode).await?;
        self.governance().await
    }

    /// Sets the standing rule as set by `set_by_user_id` (or removes it with `None`); returns the
    /// settings as stored. A rule must cover at least one provider and a positive size.
    pub async fn set_standing_rule(
        &self,
        rule: Option<StandingRuleInput>,
        set_by_user_id: &str,
    ) -> Result<GovernanceView, FacadeError> {
        let rule = match rule {
            None => None,
            Some(input) => {
                if input.provider_ids.iter().all(|p| p.trim().is_empty()) {
                    return Err(FacadeError::InvalidInput {
                        field: "provider_ids",
                        reason: "a standing rule must name at least one provider".into(),
                    });
                }
                if input.max_payload_bytes == 0 {
                    return Err(FacadeError::InvalidInput {
                        field: "max_payload_bytes",
                        reason: "a standing rule must allow more than 0 bytes".into(),
                    });
                }
                Some(StandingRule {
                    set_by_user_id: set_by_user_id.to_owned(),
                    provider_ids: input
                        .provider_ids
                        .into_iter()
                        .map(|p| p.trim().to_owned())
                        .filter(|p| !p.is_empty())
                        .collect(),
                    max_payload_bytes: input.max_payload_bytes,
                })
            }
        };
        self.governance_settings()
            .set_standing_rule(rule.as_ref())
            .await?;
        self.governance().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn workspace() -> (tempfile::TempDir, Handshake) {
        let dir = tempfile::tempdir().unwrap();
        let hs = Handshake::open(Some(dir.path().to_path_buf()))
            .await
            .unwrap();
        (dir, hs)
    }

    #[tokio::test]
    async fn mode_switches_and_persists() {
        let (_dir, hs) = workspace().await;
        assert_eq!(
            hs.governance().await.unwrap().mode,
            GovernanceMode::Standard
        );
        let locked = hs
            .set_governance_mode(GovernanceMode::Locked)
            .await
            .unwrap();
        assert_eq!(locked.mode, GovernanceMode::Locked);
        assert_eq!(hs.governance().await.unwrap().mode, GovernanceMode::Locked);
    }

    #[tokio::test]
    async fn a_standing_rule_is_set_by_the_given_user_and_removed() {
        let (_dir, hs) = workspace().await;
        let input = StandingRuleInput {
            provider_ids: vec![" open ".into(), "".into()],
            max_payload_bytes: 4096,
        };
        let set = hs.set_standing_rule(Some(input), "alice").await.unwrap();
        let rule = set.standing_rule.unwrap();
        assert_eq!(rule.set_by_user_id, "alice");
        assert_eq!(rule.provider_ids, ["open"]);
        assert_eq!(rule.max_payload_bytes, 4096);
        let removed = hs.set_standing_rule(None, "alice").await.unwrap();
        assert_eq!(removed.standing_rule, None);
    }

    #[tokio::test]
    async fn an_empty_rule_is_refused_at_its_field() {
        let (_dir, hs) = workspace().await;
        let none = StandingRuleInput {
            provider_ids: vec![" ".into()],
            max_payload_bytes: 10,
        };
        let error = hs.set_standing_rule(Some(none), "alice").await.unwrap_err();
        assert_eq!(error.code(), "invalid_input");
        assert_eq!(error.field(), Some("provider_ids"));
        let zero = StandingRuleInput {
            provider_ids: vec!["open".into()],
            max_payload_bytes: 0,
        };
        let error = hs.set_standing_rule(Some(zero), "alice").await.unwrap_err();
        assert_eq!(error.field(), Some("max_payload_bytes"));
        let error = hs
            .set_standing_rule(
                Some(StandingRuleInput {
                    provider_ids: vec!["open".into()],
                    max_payload_bytes: 1,
                }),
                "has space",
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), "invalid_user_id");
        assert_eq!(hs.governance().await.unwrap().standing_rule, None);
    }
}

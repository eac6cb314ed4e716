//! [`Role`]: the runtime roles of spec 4.3.7.1 that a Work Profile assigns a model to.

use serde::{Deserialize, Serialize};

/// A runtime role a model is assigned to.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Frontend,
    Orchestrator,
    Worker,
    Validator,
}

impl Role {
    /// Every role, in the order of the spec.
    pub const ALL: [Role; 4] = [
        Role::Frontend,
        Role::Orchestrator,
        Role::Worker,
        Role::Validator,
    ];

    /// The role's JSON key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Frontend => "frontend",
            Self::Orchestrator => "orchestrator",
            Self::Worker => "worker",
            Self::Validator => "validator",
        }
    }

    /// The role named by a JSON key, if any.
    pub fn from_key(key: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.as_str() == key)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

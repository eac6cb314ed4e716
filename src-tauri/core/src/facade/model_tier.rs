//! [`ModelTierView`]: where a model id's bytes would go, as the core decides it, for a screen
//! that shows it (the profile editor's model pickers) and decides nothing itself.

use serde::Serialize;

use crate::profiles::{effective_tier, NoTier};
use crate::vocab::{ModelId, ModelIdProblem, ProviderTier};

use super::error::FacadeError;
use super::Handshake;

/// The tier of a model id, or why it has none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ModelTierView {
    /// Nothing typed yet.
    Empty,
    /// A local-tier model: its bytes stay on this machine or network.
    Local,
    /// A cloud-tier model: every call needs a projection plan and consent.
    Cloud,
    /// No provider with this id is registered.
    UnknownProvider { provider_id: String },
    /// The id is malformed, or its tier cannot be judged with certainty (refused everywhere).
    Malformed {
        problem: ModelIdProblem,
        message: String,
    },
}

impl Handshake {
    /// The tier of `model_id` by the one rule, against the registered providers now.
    pub async fn model_tier(&self, model_id: &str) -> Result<ModelTierView, FacadeError> {
        if model_id.is_empty() {
            return Ok(ModelTierView::Empty);
        }
        let malformed = |problem: ModelIdProblem| ModelTierView::Malformed {
            problem,
            message: problem.to_string(),
        };
        let id = match ModelId::parse(model_id) {
            Ok(id) => id,
            Err(problem) => return Ok(malformed(problem)),
        };
        let catalog = self.catalog().await?;
        Ok(match effective_tier(&catalog, &id) {
            Ok(ProviderTier::Local) => ModelTierView::Local,
            Ok(ProviderTier::Cloud) => ModelTierView::Cloud,
            Err(NoTier::UnknownProvider) => ModelTierView::UnknownProvider {
                provider_id: id.provider_id().to_owned(),
            },
            Err(NoTier::Undecidable(problem)) => malformed(problem),
        })
    }
}

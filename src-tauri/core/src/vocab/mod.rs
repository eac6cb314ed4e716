//! The core's vocabulary: the small types every other module may use, and the one rule that
//! decides where a model's bytes go. This module imports nothing of the core.
//!
//! - [`ProviderKind`], [`ProviderTier`]: a provider's wire protocol, and where its bytes go.
//! - [`ModelId`]: `<provider_id>/<model name>`, parsed and validated once, displayed one way.
//! - [`effective_tier`]: a model's tier: its provider's, raised to `cloud` by an Ollama cloud tag
//!   on every provider kind, and refused when the name cannot be judged with certainty.
//! - [`Role`]: the runtime roles a model is assigned to.
//! - [`Timeouts`]: the deadlines of calls to one provider.
//! - [`Destination`]: where an approved cloud call's bytes go (provider, origin, tier, revision).

mod destination;
mod model_id;
mod provider;
mod role;
mod tier_rule;

pub use destination::{origin_of, Destination};
pub use model_id::{ModelId, ModelIdProblem};
pub use provider::{ProviderKind, ProviderTier, Timeouts, UnknownName};
pub use role::Role;
pub use tier_rule::{effective_tier, has_cloud_tag};

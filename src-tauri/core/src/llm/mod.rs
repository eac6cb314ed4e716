//! The one way any code talks to a model (spec 4.2.3, Single Client Invariant [CX-101]).
//!
//! Owns the [`LlmClient`] trait, its request and response types ([`types`]), and the error a caller
//! can act on ([`LlmError`]). Adapters for each provider wire format live in submodules; the
//! registry hands out `Arc<dyn LlmClient>` so callers never know which adapter serves them.

mod budget;
pub(crate) mod cloud_pass;
mod driver;
mod error;
pub mod ollama;
pub mod openai;
mod redact;
mod retry;
mod transport;
mod types;
mod wire_config;

pub use error::{LlmError, TimeoutPhase};
pub use ollama::OllamaClient;
pub use openai::{MaxTokensField, OpenAiCompatClient, OpenAiCompatOptions};
pub use retry::RetryPolicy;
pub use transport::MAX_RESPONSE_BYTES;
pub use types::{
    CompletionRequest, CompletionResponse, CompletionStream, FinishReason, ModelProfile,
    StreamEvent, TokenUsage,
};
pub use wire_config::WireConfig;

use async_trait::async_trait;

/// HSK-TRAIT-004: LLM Client Adapter. Object-safe: the registry hands out `Arc<dyn LlmClient>`.
#[async_trait]
pub trait LlmClient: Send + Sync {
    /// Executes a completion request.
    ///
    /// Returns the generated text and usage, or an [`LlmError`] if the request fails or the
    /// provider exceeds `max_tokens` ([`LlmError::BudgetExceeded`]).
    async fn completion(&self, req: CompletionRequest) -> Result<CompletionResponse, LlmError>;

    /// Starts a streaming completion: text deltas, usage and a stop reason as they arrive.
    ///
    /// Two levels of failure: the outer `Result` says the call could not start, an `Err` item in
    /// the stream says it failed midway (after which the stream ends). Dropping the stream cancels
    /// the call and closes its connection.
    async fn completion_stream(&self, req: CompletionRequest)
        -> Result<CompletionStream, LlmError>;

    /// The model profile (capabilities, token limits).
    fn profile(&self) -> &ModelProfile;
}

//! [`LlmError`]: every way a completion can fail, as variants a caller can act on. HTTP statuses
//! map to variants in one place ([`LlmError::from_http_status`]).

use std::time::Duration;

use serde::Serialize;

use crate::egress::EgressDenied;
use crate::vocab::ModelIdProblem;

/// Which timeout fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutPhase {
    /// Establishing the connection (TCP and TLS).
    Connect,
    /// Waiting for the first byte of the answer.
    FirstByte,
    /// Waiting between two chunks of a streaming answer.
    Idle,
    /// The whole call.
    Total,
}

impl std::fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::FirstByte => "first byte",
            Self::Idle => "idle",
            Self::Total => "total",
        })
    }
}

/// Why a completion failed. Messages never hold a secret, a prompt or a raw provider body.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("invalid request: {reason}")]
    InvalidRequest { reason: String },
    /// The model name is malformed, or its tier cannot be judged with certainty.
    #[error("invalid model name: {problem}")]
    InvalidModel { problem: ModelIdProblem },
    #[error("the provider rejected the credentials (401)")]
    Unauthorized,
    #[error("the provider refused access (403)")]
    Forbidden,
    #[error("rate limited by the provider{}", retry_after.map(|d| format!("; retry after {} s", d.as_secs())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    #[error("model not found: {model}")]
    ModelNotFound { model: String },
    #[error("the prompt is longer than the model's context window{}", detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    ContextTooLong { detail: Option<String> },
    #[error("the provider is unreachable: {reason}")]
    Unreachable { reason: String },
    /// The provider was reached and began to answer, and the answer broke off (the connection
    /// closed in the middle of the body).
    #[error("the provider's answer was interrupted: {reason}")]
    Interrupted { reason: String },
    #[error("timed out ({phase})")]
    Timeout { phase: TimeoutPhase },
    #[error("budget exceeded: max_tokens was {limit}, the provider produced {observed}")]
    BudgetExceeded { limit: u32, observed: u32 },
    #[error("malformed response from the provider: {what}")]
    MalformedResponse { what: String },
    #[error("the provider answered {status}: {message}")]
    Provider { status: u16, message: String },
    #[error(transparent)]
    EgressDenied(#[from] EgressDenied),
    #[error("a cloud call needs an approved consent receipt: {reason}")]
    ConsentRequired { reason: String },
    #[error("cancelled")]
    Cancelled,
}

impl LlmError {
    /// A stable, machine-readable name for the variant (used by the Flight Recorder and the UI).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidRequest { .. } => "invalid_request",
            Self::InvalidModel { .. } => "invalid_model_id",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::RateLimited { .. } => "rate_limited",
            Self::ModelNotFound { .. } => "model_not_found",
            Self::ContextTooLong { .. } => "context_too_long",
            Self::Unreachable { .. } => "unreachable",
            Self::Interrupted { .. } => "interrupted",
            Self::Timeout { .. } => "timeout",
            Self::BudgetExceeded { .. } => "budget_exceeded",
            Self::MalformedResponse { .. } => "malformed_response",
            Self::Provider { .. } => "provider_error",
            Self::EgressDenied(_) => "egress_denied",
            Self::ConsentRequired { .. } => "consent_required",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether trying again (later, or against a fallback) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. }
            | Self::Unreachable { .. }
            | Self::Interrupted { .. }
            | Self::Timeout { .. } => true,
            Self::Provider { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// Maps an HTTP error status to a variant. `message` must already be redacted (no secrets,
    /// no echoed request); `model` names the requested model for a 404.
    pub fn from_http_status(
        status: u16,
        message: String,
        retry_after: Option<Duration>,
        model: &str,
    ) -> Self {
        match status {
            400 if looks_like_context_overflow(&message) => Self::ContextTooLong {
                detail: Some(message),
            },
            400 | 422 => Self::InvalidRequest { reason: message },
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::ModelNotFound {
                model: model.to_owned(),
            },
            408 => Self::Timeout {
                phase: TimeoutPhase::Total,
            },
            413 => Self::ContextTooLong {
                detail: Some(message),
            },
            429 => Self::RateLimited { retry_after },
            _ => Self::Provider { status, message },
        }
    }
}

fn looks_like_context_overflow(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("context length")
        || m.contains("context window")
        || m.contains("maximum context")
        || m.contains("too many tokens")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_actionable_variants() {
        let e =
            |s| LlmError::from_http_status(s, "m".into(), Some(Duration::from_secs(7)), "oll/x");
        assert!(matches!(e(401), LlmError::Unauthorized));
        assert!(matches!(e(403), LlmError::Forbidden));
        assert!(matches!(e(404), LlmError::ModelNotFound { ref model } if model == "oll/x"));
        assert!(
            matches!(e(429), LlmError::RateLimited { retry_after: Some(d) } if d.as_secs() == 7)
        );
        assert!(matches!(e(400), LlmError::InvalidRequest { .. }));
        assert!(matches!(e(503), LlmError::Provider { status: 503, .. }));
        assert!(e(503).is_retryable());
        assert!(!e(401).is_retryable());
        let overflow = LlmError::from_http_status(
            400,
            "This model's maximum context length is 2048".into(),
            None,
            "m",
        );
        assert!(matches!(overflow, LlmError::ContextTooLong { .. }));
    }

    #[test]
    fn kinds_are_stable_names() {
        assert_eq!(LlmError::Cancelled.kind(), "cancelled");
        assert_eq!(
            LlmError::BudgetExceeded {
                limit: 1,
                observed: 2
            }
            .kind(),
            "budget_exceeded"
        );
        assert_eq!(
            LlmError::BudgetExceeded {
                limit: 1,
                observed: 2
            }
            .to_string(),
            "budget exceeded: max_tokens was 1, the provider produced 2"
        );
    }
}

//! [`RegistryError`]: every way a registry operation fails, each naming the field a UI should
//! mark ([`RegistryError::field`]) and a stable code ([`RegistryError::code`]).
//!
//! No message ever holds a secret: URL errors name the problem (userinfo present, which query
//! parameter), never the URL; key and header errors never echo the value.

use serde::Serialize;

use crate::egress::{EgressDenied, EgressError};
use crate::llm::LlmError;
use crate::secrets::{SecretHandle, SecretsError};

/// The input field an error belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ProviderField {
    ProviderId,
    DisplayName,
    Kind,
    Tier,
    BaseUrl,
    ApiKey,
    ExtraHeaders,
    DefaultModel,
    Timeouts,
    ProxyUrl,
}

impl ProviderField {
    /// The stable snake_case name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProviderId => "provider_id",
            Self::DisplayName => "display_name",
            Self::Kind => "kind",
            Self::Tier => "tier",
            Self::BaseUrl => "base_url",
            Self::ApiKey => "api_key",
            Self::ExtraHeaders => "extra_headers",
            Self::DefaultModel => "default_model",
            Self::Timeouts => "timeouts",
            Self::ProxyUrl => "proxy_url",
        }
    }
}

impl std::fmt::Display for ProviderField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid provider id {id:?}: {reason}")]
    InvalidId { id: String, reason: String },
    #[error("a provider with id {id:?} already exists")]
    DuplicateId { id: String },
    #[error("no provider with id {id:?}")]
    NotFound { id: String },
    #[error("unknown provider kind {value:?} (expected ollama or openai_compat)")]
    UnknownKind { value: String },
    #[error("unknown provider tier {value:?} (expected local or cloud)")]
    UnknownTier { value: String },
    #[error("invalid {field}: {reason}")]
    InvalidField {
        field: ProviderField,
        reason: String,
    },
    #[error("invalid URL in {field}: {reason}")]
    InvalidUrl {
        field: ProviderField,
        reason: String,
    },
    #[error("unsupported scheme {scheme:?} in {field} (use http or https)")]
    UnsupportedScheme {
        field: ProviderField,
        scheme: String,
    },
    #[error("the URL in {field} contains a user name or password; enter the key in the API key field, where it goes to the OS keychain")]
    UserinfoInUrl { field: ProviderField },
    #[error("the URL in {field} has a query parameter {param:?} that looks like a credential; enter the key in the API key field, where it goes to the OS keychain")]
    SecretInQuery { field: ProviderField, param: String },
    #[error("the base_url contradicts the tier: {denied}")]
    TierMismatch { denied: EgressDenied },
    #[error("{field} is refused by the egress policy: {denied}")]
    EgressDenied {
        field: ProviderField,
        denied: EgressDenied,
    },
    #[error("cannot resolve {host} (in {field}) to check it against the egress policy: {detail}")]
    Unresolvable {
        field: ProviderField,
        host: String,
        detail: String,
    },
    #[error("invalid extra header {name:?}: {reason}")]
    InvalidHeader { name: String, reason: String },
    #[error("the header {name:?} carries a credential; mark it secret so its value goes to the OS keychain")]
    HeaderMustBeSecret { name: String },
    #[error("invalid API key: {reason}")]
    InvalidKey { reason: String },
    #[error("provider {provider_id:?} has no API key to rotate; set one first")]
    NoKeyToRotate { provider_id: String },
    #[error("the secret {handle} of provider {provider_id:?} is missing from the OS keychain; enter it again")]
    MissingSecret {
        provider_id: String,
        handle: SecretHandle,
    },
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error("provider {provider_id:?}: {error}")]
    Call {
        provider_id: String,
        error: LlmError,
    },
    #[error("cannot build the HTTP client: {detail}")]
    Client { detail: String },
    #[error("invalid export file: {reason}")]
    InvalidExport { reason: String },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("the stored provider {provider_id:?} is unreadable: {reason}")]
    Corrupt { provider_id: String, reason: String },
}

impl RegistryError {
    /// The input field the error belongs to, if any.
    pub fn field(&self) -> Option<ProviderField> {
        match self {
            Self::InvalidId { .. } | Self::DuplicateId { .. } => Some(ProviderField::ProviderId),
            Self::UnknownKind { .. } => Some(ProviderField::Kind),
            Self::UnknownTier { .. } | Self::TierMismatch { .. } => Some(ProviderField::Tier),
            Self::InvalidField { field, .. }
            | Self::InvalidUrl { field, .. }
            | Self::UnsupportedScheme { field, .. }
            | Self::UserinfoInUrl { field }
            | Self::SecretInQuery { field, .. }
            | Self::EgressDenied { field, .. }
            | Self::Unresolvable { field, .. } => Some(*field),
            Self::InvalidHeader { .. } | Self::HeaderMustBeSecret { .. } => {
                Some(ProviderField::ExtraHeaders)
            }
            Self::InvalidKey { .. } | Self::NoKeyToRotate { .. } => Some(ProviderField::ApiKey),
            Self::MissingSecret { handle, .. } => Some(if handle.as_str().ends_with("/api_key") {
                ProviderField::ApiKey
            } else {
                ProviderField::ExtraHeaders
            }),
            _ => None,
        }
    }

    /// A stable, machine-readable name for the variant.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidId { .. } => "invalid_id",
            Self::DuplicateId { .. } => "duplicate_id",
            Self::NotFound { .. } => "not_found",
            Self::UnknownKind { .. } => "unknown_kind",
            Self::UnknownTier { .. } => "unknown_tier",
            Self::InvalidField { .. } => "invalid_field",
            Self::InvalidUrl { .. } => "invalid_url",
            Self::UnsupportedScheme { .. } => "unsupported_scheme",
            Self::UserinfoInUrl { .. } => "userinfo_in_url",
            Self::SecretInQuery { .. } => "secret_in_query",
            Self::TierMismatch { .. } => "tier_mismatch",
            Self::EgressDenied { .. } => "egress_denied",
            Self::Unresolvable { .. } => "unresolvable",
            Self::InvalidHeader { .. } => "invalid_header",
            Self::HeaderMustBeSecret { .. } => "header_must_be_secret",
            Self::InvalidKey { .. } => "invalid_key",
            Self::NoKeyToRotate { .. } => "no_key_to_rotate",
            Self::MissingSecret { .. } => "missing_secret",
            Self::Secrets(SecretsError::Unavailable { .. }) => "keychain_unavailable",
            Self::Secrets(SecretsError::Locked) => "keychain_locked",
            Self::Secrets(_) => "keychain_error",
            Self::Call { .. } => "call_failed",
            Self::Client { .. } => "client_error",
            Self::InvalidExport { .. } => "invalid_export",
            Self::Db(_) => "database_error",
            Self::Corrupt { .. } => "corrupt_record",
        }
    }

    /// The egress refusal behind this error, if any (tier mismatch, refused URL, refused call).
    pub fn egress_denied(&self) -> Option<&EgressDenied> {
        match self {
            Self::TierMismatch { denied } | Self::EgressDenied { denied, .. } => Some(denied),
            Self::Call {
                error: LlmError::EgressDenied(denied),
                ..
            } => Some(denied),
            _ => None,
        }
    }

    /// Maps an egress failure on the URL in `field`: on the base_url, a rule that says the tier is
    /// wrong for the address becomes [`RegistryError::TierMismatch`].
    pub(crate) fn from_egress(field: ProviderField, error: EgressError) -> Self {
        use crate::egress::EgressRule::{PrivateForCloudTier, PublicForLocalTier};
        match error {
            EgressError::Denied(denied)
                if field == ProviderField::BaseUrl
                    && matches!(denied.rule, PrivateForCloudTier | PublicForLocalTier) =>
            {
                Self::TierMismatch { denied }
            }
            EgressError::Denied(denied) => Self::EgressDenied { field, denied },
            EgressError::Resolve { host, detail } => Self::Unresolvable {
                field,
                host,
                detail,
            },
            EgressError::Client { detail } => Self::Client { detail },
        }
    }
}

impl From<crate::vocab::UnknownName> for RegistryError {
    fn from(unknown: crate::vocab::UnknownName) -> Self {
        match unknown {
            crate::vocab::UnknownName::Kind { value } => Self::UnknownKind { value },
            crate::vocab::UnknownName::Tier { value } => Self::UnknownTier { value },
        }
    }
}

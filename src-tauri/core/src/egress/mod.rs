//! Egress policy: which network addresses a provider may reach, judged on the resolved address at
//! connect time. A base_url is untrusted input (RT-SSRF-001).
//!
//! - [`address`]: what an address is (loopback, private, public, metadata, ...), by meaning.
//! - [`policy`]: the rules per tier and scheme, and the test-only loopback allowance.
//! - [`resolver`]: the injectable [`NameResolver`] and the [`EgressResolver`] reqwest resolves
//!   through (resolve once, check every address, connect to the checked addresses).
//! - [`client`]: the per-provider `reqwest::Client` with every connection checked.
//!
//! A refusal is always an [`EgressDenied`] naming the [`EgressRule`], never a generic I/O error;
//! [`find_denial`] recovers it from a reqwest error. docs/security.md states the rules.

pub mod address;
pub mod client;
pub mod policy;
pub mod resolver;

pub use address::{classify, AddressClass};
pub use client::{
    build_client, check_request_url, preflight, preflight_proxy, ClientSpec, EgressError,
};
pub use policy::{check_socket, check_url_literal, TEST_PUBLIC_ADDRS_ENV};
pub use resolver::{EgressResolver, NameResolver, StaticResolver, SystemResolver};

use serde::Serialize;

/// The rule that refused a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum EgressRule {
    /// Cloud metadata services (169.254.169.254, fd00:ec2::254, ...): never reachable.
    Metadata,
    /// Link-local addresses: never reachable.
    LinkLocal,
    /// Unspecified, multicast, broadcast, CGNAT, benchmarking, documentation or reserved ranges.
    NonRoutable,
    /// A loopback or private address for a provider the user did not register as local.
    PrivateForCloudTier,
    /// A public address for a provider registered as local.
    PublicForLocalTier,
    /// Plain http to a cloud-tier provider (cloud needs https).
    InsecureScheme,
    /// A scheme other than http and https (or a URL without a known port).
    UnsupportedScheme,
    /// A request to another origin (scheme, host, port) than the provider's base_url.
    OutsideBaseUrl,
}

impl EgressRule {
    /// Every rule.
    pub const ALL: [EgressRule; 8] = [
        Self::Metadata,
        Self::LinkLocal,
        Self::NonRoutable,
        Self::PrivateForCloudTier,
        Self::PublicForLocalTier,
        Self::InsecureScheme,
        Self::UnsupportedScheme,
        Self::OutsideBaseUrl,
    ];

    /// The stable snake_case name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Metadata => "metadata",
            Self::LinkLocal => "link_local",
            Self::NonRoutable => "non_routable",
            Self::PrivateForCloudTier => "private_for_cloud_tier",
            Self::PublicForLocalTier => "public_for_local_tier",
            Self::InsecureScheme => "insecure_scheme",
            Self::UnsupportedScheme => "unsupported_scheme",
            Self::OutsideBaseUrl => "outside_base_url",
        }
    }

    /// What the rule means, for a person.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Metadata => "cloud metadata services are never reachable",
            Self::LinkLocal => "link-local addresses are never reachable",
            Self::NonRoutable => "the address is not routable (unspecified, multicast, broadcast, CGNAT, benchmarking, documentation or reserved)",
            Self::PrivateForCloudTier => "a cloud provider may only reach public addresses; register it as local to use a loopback or private address",
            Self::PublicForLocalTier => "a local provider may only reach loopback or private addresses; a public address makes it a cloud provider",
            Self::InsecureScheme => "a cloud provider needs https",
            Self::UnsupportedScheme => "only http and https are supported",
            Self::OutsideBaseUrl => "a provider's client only reaches its own base_url",
        }
    }

    /// The form used in DNS labels (no underscores).
    pub(crate) fn as_label(self) -> &'static str {
        match self {
            Self::Metadata => "metadata",
            Self::LinkLocal => "link-local",
            Self::NonRoutable => "non-routable",
            Self::PrivateForCloudTier => "private-for-cloud-tier",
            Self::PublicForLocalTier => "public-for-local-tier",
            Self::InsecureScheme => "insecure-scheme",
            Self::UnsupportedScheme => "unsupported-scheme",
            Self::OutsideBaseUrl => "outside-base-url",
        }
    }

    pub(crate) fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_label() == label)
    }
}

impl std::fmt::Display for EgressRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused connection: the rule and the address it was judged on (`host:port`, or
/// `name:port -> ip:port` for a resolved name; never a path, query or credential).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, ts_rs::TS)]
#[error("egress denied by rule {rule} for {target}: {}", rule.explanation())]
pub struct EgressDenied {
    pub rule: EgressRule,
    pub target: String,
}

/// Finds an [`EgressDenied`] in an error or anywhere in its source chain (reqwest wraps the
/// resolver's refusal in hyper's connect error). Adapters map reqwest errors with this first.
pub fn find_denial(err: &(dyn std::error::Error + 'static)) -> Option<EgressDenied> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(denied) = e.downcast_ref::<EgressDenied>() {
            return Some(denied.clone());
        }
        if let Some(EgressError::Denied(denied)) = e.downcast_ref::<EgressError>() {
            return Some(denied.clone());
        }
        // io::Error::source() skips the error it wraps (it returns that error's source), so step
        // into the wrapped error explicitly.
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            let inner: &(dyn std::error::Error + 'static) = inner;
            if let Some(found) = find_denial(inner) {
                return Some(found);
            }
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Box<dyn std::error::Error + Send + Sync>);

    #[test]
    fn find_denial_walks_the_chain() {
        let denied = EgressDenied {
            rule: EgressRule::Metadata,
            target: "169.254.169.254:80".into(),
        };
        let err = Outer(Box::new(Outer(Box::new(denied.clone()))));
        assert_eq!(find_denial(&err), Some(denied.clone()));
        let io = std::io::Error::other("plain");
        assert_eq!(find_denial(&io), None);
        let wrapped = Outer(Box::new(std::io::Error::other(denied.clone())));
        assert_eq!(find_denial(&wrapped), Some(denied));
    }

    #[test]
    fn labels_round_trip() {
        for rule in EgressRule::ALL {
            assert_eq!(EgressRule::from_label(rule.as_label()), Some(rule));
            assert_eq!(
                serde_json::to_value(rule).unwrap(),
                serde_json::json!(rule.as_str())
            );
        }
    }
}

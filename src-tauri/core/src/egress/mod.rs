//! Egress policy: which network addresses a provider may reach, judged on the resolved address at
//! connect time. A base_url is untrusted input (RT-SSRF-001).

use serde::Serialize;

/// The rule that refused a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
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
}

/// A refused connection: the rule and the address it was judged on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, ts_rs::TS)]
#[error("egress denied by rule {rule:?} for {target}")]
pub struct EgressDenied {
    pub rule: EgressRule,
    pub target: String,
}

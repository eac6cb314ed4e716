//! The rules: which address a provider of a given tier may reach, and over which scheme.
//!
//! - Every tier: never metadata, link-local or non-routable addresses.
//! - `local`: loopback and private addresses only, over http or https.
//! - `cloud`: public unicast addresses only, over https only.
//!
//! Checks take a socket address (IP and port) because the test-only allowance
//! ([`test_public_addrs`]) names exact loopback sockets.

use std::net::{IpAddr, SocketAddr};

use url::{Host, Url};

use super::address::{classify, is_metadata_host, AddressClass};
use super::{EgressDenied, EgressRule};
use crate::vocab::ProviderTier;

/// Environment variable read by builds with the `test-egress` feature: a comma-separated list of
/// loopback socket addresses (`127.0.0.1:PORT,[::1]:PORT`) that count as public addresses, so a
/// cloud-tier provider can point at a loopback test server (over plain http as well). Ignored by
/// default builds.
pub const TEST_PUBLIC_ADDRS_ENV: &str = "HANDSHAKE_TEST_PUBLIC_ADDRS";

/// The loopback sockets that count as public in this build (always empty without `test-egress`).
pub fn test_public_addrs() -> Vec<SocketAddr> {
    #[cfg(feature = "test-egress")]
    {
        std::env::var(TEST_PUBLIC_ADDRS_ENV)
            .unwrap_or_default()
            .split(',')
            .filter_map(|entry| entry.trim().parse::<SocketAddr>().ok())
            .filter(|addr| addr.ip().is_loopback())
            .collect()
    }
    #[cfg(not(feature = "test-egress"))]
    {
        Vec::new()
    }
}

/// Whether `addr` is one of the loopback sockets that count as public in this build.
pub fn is_test_public(addr: SocketAddr) -> bool {
    if !cfg!(feature = "test-egress") {
        return false;
    }
    let canonical = SocketAddr::new(addr.ip().to_canonical(), addr.port());
    test_public_addrs().contains(&canonical)
}

/// How `addr` counts for egress in this build: [`classify`], except that the test-only loopback
/// sockets count as public.
pub fn classify_socket(addr: SocketAddr) -> AddressClass {
    if is_test_public(addr) {
        AddressClass::Public
    } else {
        classify(addr.ip())
    }
}

/// Checks one connection: a provider of `tier` reaching `addr` over `scheme` (`http`/`https`).
/// `target` names what is being reached in the refusal (host and port, never a full URL).
pub fn check_socket(
    tier: ProviderTier,
    scheme: &str,
    addr: SocketAddr,
    target: &str,
) -> Result<(), EgressDenied> {
    let rule = match classify_socket(addr) {
        AddressClass::Metadata => Some(EgressRule::Metadata),
        AddressClass::LinkLocal => Some(EgressRule::LinkLocal),
        AddressClass::NonRoutable { .. } => Some(EgressRule::NonRoutable),
        AddressClass::Loopback | AddressClass::Private => match tier {
            ProviderTier::Local => scheme_rule(tier, scheme, addr),
            ProviderTier::Cloud => Some(EgressRule::PrivateForCloudTier),
        },
        AddressClass::Public => match tier {
            ProviderTier::Local => Some(EgressRule::PublicForLocalTier),
            ProviderTier::Cloud => scheme_rule(tier, scheme, addr),
        },
    };
    match rule {
        None => Ok(()),
        Some(rule) => Err(EgressDenied {
            rule,
            target: describe_target(target, addr),
        }),
    }
}

/// A configured proxy may be loopback, private or public, but never metadata, link-local or
/// non-routable.
pub fn check_proxy_socket(addr: SocketAddr, target: &str) -> Result<(), EgressDenied> {
    let rule = match classify(addr.ip()) {
        AddressClass::Metadata => EgressRule::Metadata,
        AddressClass::LinkLocal => EgressRule::LinkLocal,
        AddressClass::NonRoutable { .. } => EgressRule::NonRoutable,
        AddressClass::Loopback | AddressClass::Private | AddressClass::Public => return Ok(()),
    };
    Err(EgressDenied {
        rule,
        target: describe_target(target, addr),
    })
}

fn scheme_rule(tier: ProviderTier, scheme: &str, addr: SocketAddr) -> Option<EgressRule> {
    match (tier, scheme) {
        (_, "https") => None,
        (ProviderTier::Local, "http") => None,
        (ProviderTier::Cloud, "http") if is_test_public(addr) => None,
        _ => Some(EgressRule::InsecureScheme),
    }
}

fn describe_target(target: &str, addr: SocketAddr) -> String {
    let literal = addr.to_string();
    if target.is_empty() || target == literal {
        literal
    } else {
        format!("{target} -> {literal}")
    }
}

/// What a URL's host is, after rust-url's normalisation (`2130706433`, `0x7f.1`, `0177.0.0.1`
/// and `127.1` are all `127.0.0.1` by now).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlTarget {
    /// An IP literal: checked right away, no resolution happens.
    Literal(SocketAddr),
    /// A DNS name: its addresses are checked when it is resolved.
    Name { host: String, port: u16 },
}

/// `host:port` for messages (brackets around IPv6).
pub fn host_port(url: &Url) -> String {
    let port = url.port_or_known_default().unwrap_or(0);
    match url.host() {
        Some(Host::Ipv6(ip)) => format!("[{ip}]:{port}"),
        Some(host) => format!("{host}:{port}"),
        None => String::from("(no host)"),
    }
}

/// Splits a URL into what must be checked. Refuses URLs without a host, an unknown default port,
/// or a metadata host name, as a denial naming the URL's `host:port` only.
pub fn url_target(url: &Url) -> Result<UrlTarget, EgressDenied> {
    let target = host_port(url);
    let port = url.port_or_known_default().ok_or_else(|| EgressDenied {
        rule: EgressRule::UnsupportedScheme,
        target: target.clone(),
    })?;
    match url.host() {
        Some(Host::Ipv4(ip)) => Ok(UrlTarget::Literal(SocketAddr::new(IpAddr::V4(ip), port))),
        Some(Host::Ipv6(ip)) => Ok(UrlTarget::Literal(SocketAddr::new(IpAddr::V6(ip), port))),
        Some(Host::Domain(name)) => {
            if is_metadata_host(name) {
                return Err(EgressDenied {
                    rule: EgressRule::Metadata,
                    target,
                });
            }
            Ok(UrlTarget::Name {
                host: name.to_owned(),
                port,
            })
        }
        None => Err(EgressDenied {
            rule: EgressRule::NonRoutable,
            target,
        }),
    }
}

/// The checks that need no resolution: scheme, metadata names and IP literals. A URL with a DNS
/// name passes here and is judged on its resolved addresses ([`super::resolver`]).
pub fn check_url_literal(tier: ProviderTier, url: &Url) -> Result<UrlTarget, EgressDenied> {
    let scheme = url.scheme();
    if scheme != "http" && scheme != "https" {
        return Err(EgressDenied {
            rule: EgressRule::UnsupportedScheme,
            target: host_port(url),
        });
    }
    let target = url_target(url)?;
    match &target {
        UrlTarget::Literal(addr) => check_socket(tier, scheme, *addr, "")?,
        UrlTarget::Name { .. } => {
            // Without the test allowance no resolved address can make http acceptable for cloud.
            if tier == ProviderTier::Cloud && scheme == "http" && test_public_addrs().is_empty() {
                return Err(EgressDenied {
                    rule: EgressRule::InsecureScheme,
                    target: host_port(url),
                });
            }
        }
    }
    Ok(target)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn tiers_and_schemes() {
        let local = ProviderTier::Local;
        let cloud = ProviderTier::Cloud;
        assert!(check_url_literal(local, &url("http://127.0.0.1:11434")).is_ok());
        assert!(check_url_literal(local, &url("http://10.0.0.5:8000/v1")).is_ok());
        assert!(check_url_literal(cloud, &url("https://8.8.8.8")).is_ok());
        let rule = |tier, s: &str| check_url_literal(tier, &url(s)).unwrap_err().rule;
        assert_eq!(rule(cloud, "http://8.8.8.8"), EgressRule::InsecureScheme);
        assert_eq!(
            rule(cloud, "http://api.example.com"),
            EgressRule::InsecureScheme
        );
        assert_eq!(
            rule(cloud, "https://127.0.0.1"),
            EgressRule::PrivateForCloudTier
        );
        assert_eq!(
            rule(local, "http://8.8.8.8"),
            EgressRule::PublicForLocalTier
        );
        assert_eq!(rule(local, "http://169.254.169.254"), EgressRule::Metadata);
        assert_eq!(
            rule(local, "http://metadata.google.internal"),
            EgressRule::Metadata
        );
        assert_eq!(
            rule(local, "ftp://127.0.0.1"),
            EgressRule::UnsupportedScheme
        );
    }

    #[test]
    fn refusals_name_host_and_port_only() {
        let err = check_url_literal(
            ProviderTier::Cloud,
            &url("https://10.0.0.1:8443/v1?api-version=1"),
        )
        .unwrap_err();
        assert_eq!(err.target, "10.0.0.1:8443");
        let err = check_socket(
            ProviderTier::Cloud,
            "https",
            "10.0.0.1:443".parse().unwrap(),
            "intranet.example:443",
        )
        .unwrap_err();
        assert_eq!(err.target, "intranet.example:443 -> 10.0.0.1:443");
    }

    #[test]
    fn proxies_may_be_private_but_never_metadata() {
        assert!(check_proxy_socket("10.0.0.1:3128".parse().unwrap(), "").is_ok());
        assert!(check_proxy_socket("127.0.0.1:3128".parse().unwrap(), "").is_ok());
        assert_eq!(
            check_proxy_socket("169.254.169.254:80".parse().unwrap(), "")
                .unwrap_err()
                .rule,
            EgressRule::Metadata
        );
    }
}

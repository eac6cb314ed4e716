//! Name resolution under the egress policy.
//!
//! [`NameResolver`] is the injectable lookup (the system's by default, a fixed map in tests).
//! [`EgressResolver`] is what a provider's `reqwest::Client` resolves through: it resolves a name
//! once, refuses the whole answer when any address is forbidden (so a name that answers both a
//! public and a private address cannot be used for DNS rebinding), and hands hyper exactly the
//! addresses it checked, which hyper then connects to without a second lookup.
//!
//! It also decodes the denial sentinels of [`super::client`]: a request whose URL was refused
//! before connecting is routed to a sentinel host under [`SENTINEL_SUFFIX`], and resolving that
//! host fails with the original [`EgressDenied`], so the refusal reaches the caller through
//! reqwest's error chain ([`super::find_denial`]).

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::policy::{check_proxy_socket, check_socket};
use super::{EgressDenied, EgressRule};
use crate::vocab::ProviderTier;

/// Turns a host name into addresses. Injectable so tests can make a name resolve wherever they
/// need (a private address, a metadata address) without any real DNS.
#[async_trait]
pub trait NameResolver: Send + Sync + fmt::Debug {
    /// The addresses `host` resolves to (a name, never an IP literal).
    async fn lookup(&self, host: &str) -> io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (`getaddrinfo`, through `tokio::net::lookup_host`).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

#[async_trait]
impl NameResolver for SystemResolver {
    async fn lookup(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        let mut ips: Vec<IpAddr> = Vec::new();
        for addr in tokio::net::lookup_host((host, 0)).await? {
            if !ips.contains(&addr.ip()) {
                ips.push(addr.ip());
            }
        }
        Ok(ips)
    }
}

/// A fixed map from names to addresses; any other name fails with `NotFound`. For tests.
#[derive(Clone, Debug, Default)]
pub struct StaticResolver {
    entries: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the addresses of `host`.
    pub fn with(mut self, host: &str, ips: &[IpAddr]) -> Self {
        self.entries.insert(normalise(host), ips.to_vec());
        self
    }
}

#[async_trait]
impl NameResolver for StaticResolver {
    async fn lookup(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        self.entries.get(&normalise(host)).cloned().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{host} is not in the static resolver"),
            )
        })
    }
}

fn normalise(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Suffix of the sentinel host names that carry a refusal to the resolver.
pub const SENTINEL_SUFFIX: &str = "egress-denied.invalid";

const SENTINEL_TARGET_MAX: usize = 96;

/// The sentinel host name that carries `denied` (rule and target) through reqwest's proxy hook.
pub fn sentinel_host(denied: &EgressDenied) -> String {
    let target = &denied.target.as_bytes()[..denied.target.len().min(SENTINEL_TARGET_MAX)];
    let hex = hex::encode(target);
    let mut labels: Vec<&str> = vec![denied.rule.as_label()];
    let mut rest = hex.as_str();
    if rest.is_empty() {
        labels.push("0");
    }
    while !rest.is_empty() {
        let (label, tail) = rest.split_at(rest.len().min(48));
        labels.push(label);
        rest = tail;
    }
    labels.push(SENTINEL_SUFFIX);
    labels.join(".")
}

/// Decodes a sentinel host name built by [`sentinel_host`]; `None` for any other name. A name
/// under the suffix that does not decode is still a refusal.
pub fn decode_sentinel(host: &str) -> Option<EgressDenied> {
    let host = normalise(host);
    let body = host.strip_suffix(SENTINEL_SUFFIX)?.strip_suffix('.')?;
    let mut labels = body.split('.');
    let rule = labels
        .next()
        .and_then(EgressRule::from_label)
        .unwrap_or(EgressRule::NonRoutable);
    let hex: String = labels.filter(|l| *l != "0").collect();
    let target = hex::decode(hex)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_else(|| String::from("(unknown)"));
    Some(EgressDenied { rule, target })
}

/// Whom a client connects to directly: the provider itself, or a configured proxy (which then
/// resolves the provider's name on its side).
#[derive(Clone, Debug)]
pub enum ConnectVia {
    /// Direct connections to the provider's host, with its base_url scheme and port.
    Direct {
        host: String,
        scheme: String,
        port: u16,
    },
    /// Every connection goes to the proxy host.
    Proxy { host: String, port: u16 },
}

/// The `reqwest::dns::Resolve` of a provider's client: resolves through a [`NameResolver`] and
/// returns only addresses the egress policy allows for the provider's tier.
#[derive(Clone, Debug)]
pub struct EgressResolver {
    tier: ProviderTier,
    via: ConnectVia,
    inner: Arc<dyn NameResolver>,
}

impl EgressResolver {
    /// A resolver for a provider of `tier` connecting `via` the provider or a proxy.
    pub fn new(tier: ProviderTier, via: ConnectVia, inner: Arc<dyn NameResolver>) -> Self {
        Self { tier, via, inner }
    }

    /// Resolves and checks `host`: every address must pass, or the whole answer is refused.
    pub async fn resolve_checked(&self, host: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        if let Some(denied) = decode_sentinel(host) {
            return Err(ResolveError::Denied(denied));
        }
        let expected = match &self.via {
            ConnectVia::Direct { host, .. } | ConnectVia::Proxy { host, .. } => host,
        };
        let (scheme, port) = match &self.via {
            ConnectVia::Direct { scheme, port, .. } => (scheme.as_str(), *port),
            ConnectVia::Proxy { port, .. } => ("http", *port),
        };
        let target = format!("{host}:{port}");
        if normalise(host) != normalise(expected) {
            return Err(ResolveError::Denied(EgressDenied {
                rule: EgressRule::OutsideBaseUrl,
                target,
            }));
        }
        let ips = self
            .inner
            .lookup(host)
            .await
            .map_err(|source| ResolveError::Lookup {
                host: host.to_owned(),
                source,
            })?;
        if ips.is_empty() {
            return Err(ResolveError::Lookup {
                host: host.to_owned(),
                source: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
            });
        }
        let mut checked = Vec::with_capacity(ips.len());
        for ip in ips {
            let addr = SocketAddr::new(ip, port);
            let verdict = match self.via {
                ConnectVia::Direct { .. } => check_socket(self.tier, scheme, addr, &target),
                ConnectVia::Proxy { .. } => check_proxy_socket(addr, &target),
            };
            if let Err(denied) = verdict {
                tracing::warn!(rule = %denied.rule, target = %denied.target, "egress denied at resolution");
                return Err(ResolveError::Denied(denied));
            }
            checked.push(addr);
        }
        Ok(checked)
    }
}

/// Why a name could not be turned into connectable addresses.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Denied(EgressDenied),
    #[error("cannot resolve {host}: {source}")]
    Lookup { host: String, source: io::Error },
}

impl Resolve for EgressResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            match this.resolve_checked(name.as_str()).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                // The denial itself is the error (not wrapped), so `find_denial` can downcast it.
                Err(ResolveError::Denied(denied)) => {
                    Err(Box::new(denied) as Box<dyn std::error::Error + Send + Sync>)
                }
                Err(ResolveError::Lookup { source, .. }) => {
                    Err(Box::new(source) as Box<dyn std::error::Error + Send + Sync>)
                }
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn direct(host: &str, scheme: &str, port: u16) -> ConnectVia {
        ConnectVia::Direct {
            host: host.into(),
            scheme: scheme.into(),
            port,
        }
    }

    #[test]
    fn sentinels_round_trip() {
        for (rule, target) in [
            (EgressRule::Metadata, "169.254.169.254:80"),
            (EgressRule::PrivateForCloudTier, "[::ffff:7f00:1]:443"),
            (EgressRule::OutsideBaseUrl, ""),
            (EgressRule::InsecureScheme, &"x".repeat(300)),
        ] {
            let denied = EgressDenied {
                rule,
                target: target.to_owned(),
            };
            let host = sentinel_host(&denied);
            assert!(host.len() < 253, "{host}");
            assert!(
                host.split('.').all(|l| !l.is_empty() && l.len() <= 63),
                "{host}"
            );
            let decoded = decode_sentinel(&host).unwrap();
            assert_eq!(decoded.rule, rule);
            assert!(target.starts_with(&decoded.target) || decoded.target.is_empty());
        }
        assert!(decode_sentinel("api.openai.com").is_none());
    }

    #[tokio::test]
    async fn refuses_the_whole_answer_when_one_address_is_forbidden() {
        let resolver = StaticResolver::new()
            .with(
                "mixed.test",
                &["8.8.8.8".parse().unwrap(), "10.0.0.1".parse().unwrap()],
            )
            .with("public.test", &["8.8.8.8".parse().unwrap()]);
        let r = EgressResolver::new(
            ProviderTier::Cloud,
            direct("mixed.test", "https", 443),
            Arc::new(resolver.clone()),
        );
        match r.resolve_checked("mixed.test").await {
            Err(ResolveError::Denied(d)) => {
                assert_eq!(d.rule, EgressRule::PrivateForCloudTier);
                assert_eq!(d.target, "mixed.test:443 -> 10.0.0.1:443");
            }
            other => panic!("{other:?}"),
        }
        let r = EgressResolver::new(
            ProviderTier::Cloud,
            direct("public.test", "https", 443),
            Arc::new(resolver),
        );
        assert_eq!(
            r.resolve_checked("PUBLIC.test.").await.unwrap(),
            vec!["8.8.8.8:443".parse().unwrap()]
        );
        assert!(matches!(
            r.resolve_checked("other.test").await,
            Err(ResolveError::Denied(EgressDenied {
                rule: EgressRule::OutsideBaseUrl,
                ..
            }))
        ));
    }
}

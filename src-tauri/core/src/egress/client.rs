//! The per-provider `reqwest::Client`, built so that every connection it makes is checked.
//!
//! Three layers, because reqwest parses IP literals before it calls a custom resolver:
//! 1. [`build_client`] refuses a base_url whose literal host, scheme or metadata name is
//!    forbidden, before any client exists.
//! 2. A request guard runs on every request URL (reqwest's proxy hook sees each destination's
//!    scheme, host and port): a URL outside the base_url's origin, an http URL for a cloud
//!    provider, or a forbidden IP literal is routed to a sentinel host that
//!    [`EgressResolver`] refuses with the original [`EgressDenied`]. Nothing is sent.
//! 3. [`EgressResolver`] checks every resolved address of a DNS name and hands hyper only those.
//!
//! The client also ignores proxy environment variables (`no_proxy()`; a proxy is used only when
//! the user configured one), follows no redirects, sets TCP_NODELAY and the connect timeout, pools
//! connections and uses rustls.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::policy::{
    check_proxy_socket, check_socket, check_url_literal, host_port, url_target, UrlTarget,
};
use super::resolver::{sentinel_host, ConnectVia, EgressResolver, NameResolver};
use super::{EgressDenied, EgressRule};
use crate::vocab::ProviderTier;

/// What a provider's client is built from.
#[derive(Clone, Debug)]
pub struct ClientSpec {
    pub tier: ProviderTier,
    /// The provider's base_url: every request must stay on its origin.
    pub base_url: Url,
    /// A proxy the user configured (http or https, no credentials); `None` connects directly.
    pub proxy_url: Option<Url>,
    pub connect_timeout: Duration,
    pub resolver: Arc<dyn NameResolver>,
}

/// Why a client could not be built or a target could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    #[error(transparent)]
    Denied(#[from] EgressDenied),
    #[error("cannot resolve {host}: {detail}")]
    Resolve { host: String, detail: String },
    #[error("cannot build the HTTP client: {detail}")]
    Client { detail: String },
}

/// Builds the provider's client. Fails with [`EgressError::Denied`] when the base_url (or the
/// proxy) is refused by its literal alone; DNS names are judged when they resolve.
pub fn build_client(spec: &ClientSpec) -> Result<reqwest::Client, EgressError> {
    let base_target = check_url_literal(spec.tier, &spec.base_url)?;
    let via = match &spec.proxy_url {
        Some(proxy) => {
            let port = proxy.port_or_known_default().unwrap_or(0);
            match check_proxy_literal(proxy)? {
                UrlTarget::Literal(addr) => ConnectVia::Proxy {
                    host: addr.ip().to_string(),
                    port,
                },
                UrlTarget::Name { host, port } => ConnectVia::Proxy { host, port },
            }
        }
        None => match &base_target {
            UrlTarget::Literal(addr) => ConnectVia::Direct {
                host: addr.ip().to_string(),
                scheme: spec.base_url.scheme().to_owned(),
                port: addr.port(),
            },
            UrlTarget::Name { host, port } => ConnectVia::Direct {
                host: host.clone(),
                scheme: spec.base_url.scheme().to_owned(),
                port: *port,
            },
        },
    };
    let resolver = EgressResolver::new(spec.tier, via, spec.resolver.clone());
    let guard = RequestGuard {
        tier: spec.tier,
        origin: spec.base_url.origin(),
        proxy: spec.proxy_url.clone(),
    };
    reqwest::Client::builder()
        // Order matters: no_proxy() clears every proxy, then the guard is the only one.
        .no_proxy()
        .proxy(reqwest::Proxy::custom(move |url| guard.route(url)))
        .dns_resolver(Arc::new(resolver))
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .connect_timeout(spec.connect_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .use_rustls_tls()
        .user_agent(concat!("handshake/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| EgressError::Client {
            detail: e.without_url().to_string(),
        })
}

/// Checks a request URL against a provider's base_url and tier without sending anything: same
/// origin as the base_url, and the literal, scheme and metadata checks. Adapters need not call it
/// (the client's request guard does the same on every request); it is here for callers that
/// want the refusal before building a request.
pub fn check_request_url(
    tier: ProviderTier,
    base_url: &Url,
    url: &Url,
) -> Result<(), EgressDenied> {
    if url.origin() != base_url.origin() {
        return Err(EgressDenied {
            rule: EgressRule::OutsideBaseUrl,
            target: host_port(url),
        });
    }
    check_url_literal(tier, url).map(|_| ())
}

fn check_proxy_literal(proxy: &Url) -> Result<UrlTarget, EgressDenied> {
    if !matches!(proxy.scheme(), "http" | "https") {
        return Err(EgressDenied {
            rule: EgressRule::UnsupportedScheme,
            target: host_port(proxy),
        });
    }
    let target = url_target(proxy)?;
    if let UrlTarget::Literal(addr) = target {
        check_proxy_socket(addr, "")?;
    }
    Ok(target)
}

/// Runs on every request's destination (scheme, host, port) through reqwest's proxy hook.
struct RequestGuard {
    tier: ProviderTier,
    origin: url::Origin,
    proxy: Option<Url>,
}

impl RequestGuard {
    fn route(&self, url: &Url) -> Option<Url> {
        let verdict = if url.origin() == self.origin {
            check_url_literal(self.tier, url).map(|_| ())
        } else {
            Err(EgressDenied {
                rule: EgressRule::OutsideBaseUrl,
                target: host_port(url),
            })
        };
        match verdict {
            Ok(()) => self.proxy.clone(),
            Err(denied) => {
                tracing::warn!(rule = %denied.rule, target = %denied.target, "egress denied before connecting");
                // The sentinel is a syntactically valid host; if it ever failed to parse, reqwest
                // would connect directly, so fall back to a sentinel without the target.
                Url::parse(&format!("http://{}:9", sentinel_host(&denied)))
                    .or_else(|_| {
                        let bare = EgressDenied {
                            rule: denied.rule,
                            target: String::new(),
                        };
                        Url::parse(&format!("http://{}:9", sentinel_host(&bare)))
                    })
                    .ok()
            }
        }
    }
}

/// Resolves and checks a URL's host the way the client will when it connects, without
/// connecting: the addresses a provider of `tier` would reach, or the refusal. The registry runs
/// this when a provider is added or changed, so a tier that contradicts the address is refused
/// up front. `timeout` bounds the lookup.
pub async fn preflight(
    tier: ProviderTier,
    url: &Url,
    resolver: &dyn NameResolver,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, EgressError> {
    match check_url_literal(tier, url)? {
        UrlTarget::Literal(addr) => Ok(vec![addr]),
        UrlTarget::Name { host, port } => {
            let ips = lookup(resolver, &host, timeout).await?;
            let target = format!("{host}:{port}");
            ips.into_iter()
                .map(|ip| {
                    let addr = SocketAddr::new(ip, port);
                    check_socket(tier, url.scheme(), addr, &target)
                        .map(|()| addr)
                        .map_err(EgressError::from)
                })
                .collect()
        }
    }
}

/// [`preflight`] for a configured proxy: loopback, private or public, never metadata,
/// link-local or non-routable.
pub async fn preflight_proxy(
    proxy: &Url,
    resolver: &dyn NameResolver,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, EgressError> {
    match check_proxy_literal(proxy)? {
        UrlTarget::Literal(addr) => Ok(vec![addr]),
        UrlTarget::Name { host, port } => {
            let ips = lookup(resolver, &host, timeout).await?;
            let target = format!("{host}:{port}");
            ips.into_iter()
                .map(|ip| {
                    let addr = SocketAddr::new(ip, port);
                    check_proxy_socket(addr, &target)
                        .map(|()| addr)
                        .map_err(EgressError::from)
                })
                .collect()
        }
    }
}

async fn lookup(
    resolver: &dyn NameResolver,
    host: &str,
    timeout: Duration,
) -> Result<Vec<std::net::IpAddr>, EgressError> {
    let ips = tokio::time::timeout(timeout, resolver.lookup(host))
        .await
        .map_err(|_| EgressError::Resolve {
            host: host.to_owned(),
            detail: "timed out".into(),
        })?
        .map_err(|e| EgressError::Resolve {
            host: host.to_owned(),
            detail: e.to_string(),
        })?;
    if ips.is_empty() {
        return Err(EgressError::Resolve {
            host: host.to_owned(),
            detail: "no addresses".into(),
        });
    }
    Ok(ips)
}

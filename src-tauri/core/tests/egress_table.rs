//! The egress rules as a table: every spelling of a forbidden address, for each tier, literals
//! and DNS names (resolved by a map resolver), judged exactly as the client judges them at
//! connect time. Then real reqwest calls: a forbidden DNS name is refused by the resolver and the
//! refusal is recovered with `find_denial`; a request off the base_url is refused before any
//! connection; an allowed loopback call goes through on the one checked resolution.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use handshake_core::egress::{
    self, find_denial, ClientSpec, EgressError, EgressRule, NameResolver, StaticResolver,
};
use handshake_core::registry::ProviderTier::{self, Cloud, Local};
use url::Url;

use EgressRule::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn resolver() -> StaticResolver {
    StaticResolver::new()
        .with("private.test", &[ip("10.0.0.5")])
        .with("metadata.test", &[ip("169.254.169.254")])
        .with("metadata6.test", &[ip("fd00:ec2::254")])
        .with("public.test", &[ip("8.8.8.8"), ip("2606:4700:4700::1111")])
        .with("mixed.test", &[ip("8.8.8.8"), ip("192.168.1.1")])
        .with("mapped.test", &[ip("::ffff:127.0.0.1")])
        .with("loop.test", &[ip("127.0.0.1"), ip("::1")])
        .with("cgnat.test", &[ip("100.64.0.1")])
}

#[rustfmt::skip]
const TABLE: &[(&str, ProviderTier, Option<EgressRule>)] = &[
    // Loopback in every spelling, for a cloud provider.
    ("https://127.0.0.1/v1", Cloud, Some(PrivateForCloudTier)),
    ("https://2130706433/", Cloud, Some(PrivateForCloudTier)),
    ("https://0x7f.1/", Cloud, Some(PrivateForCloudTier)),
    ("https://0177.0.0.1/", Cloud, Some(PrivateForCloudTier)),
    ("https://127.1/", Cloud, Some(PrivateForCloudTier)),
    ("https://0x7f000001/", Cloud, Some(PrivateForCloudTier)),
    ("https://127.0.0.1./", Cloud, Some(PrivateForCloudTier)),
    ("https://%31%32%37.0.0.1/", Cloud, Some(PrivateForCloudTier)),
    ("https://\u{ff11}\u{ff12}\u{ff17}.\u{ff10}.\u{ff10}.\u{ff11}/", Cloud, Some(PrivateForCloudTier)),
    ("https://[::1]/", Cloud, Some(PrivateForCloudTier)),
    ("https://[::ffff:127.0.0.1]/", Cloud, Some(PrivateForCloudTier)),
    ("https://[::ffff:7f00:1]/", Cloud, Some(PrivateForCloudTier)),
    ("https://[::127.0.0.1]/", Cloud, Some(PrivateForCloudTier)),
    ("https://[64:ff9b::7f00:1]/", Cloud, Some(PrivateForCloudTier)),
    ("https://[2002:7f00:1::1]/", Cloud, Some(PrivateForCloudTier)),
    ("https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", Cloud, Some(PrivateForCloudTier)),
    // Private ranges for a cloud provider.
    ("https://10.0.0.1/", Cloud, Some(PrivateForCloudTier)),
    ("https://172.16.5.4/", Cloud, Some(PrivateForCloudTier)),
    ("https://192.168.0.10/", Cloud, Some(PrivateForCloudTier)),
    ("https://[fd12:3456::1]/", Cloud, Some(PrivateForCloudTier)),
    ("https://[::ffff:10.1.2.3]/", Cloud, Some(PrivateForCloudTier)),
    // Metadata, every tier, every spelling.
    ("https://169.254.169.254/", Cloud, Some(Metadata)),
    ("http://169.254.169.254/latest/meta-data/", Local, Some(Metadata)),
    ("https://2852039166/", Cloud, Some(Metadata)),
    ("http://0xa9.0xfe.0xa9.0xfe/", Local, Some(Metadata)),
    ("http://0251.0376.0251.0376/", Local, Some(Metadata)),
    ("https://[fd00:ec2::254]/", Cloud, Some(Metadata)),
    ("http://[fd00:ec2::254]/", Local, Some(Metadata)),
    ("https://100.100.100.200/", Cloud, Some(Metadata)),
    ("http://100.100.100.200/", Local, Some(Metadata)),
    ("https://[::ffff:169.254.169.254]/", Cloud, Some(Metadata)),
    ("http://[::ffff:a9fe:a9fe]/", Local, Some(Metadata)),
    ("https://[64:ff9b::a9fe:a9fe]/", Cloud, Some(Metadata)),
    ("https://[2002:a9fe:a9fe::]/", Cloud, Some(Metadata)),
    ("https://[2001::5601:5601]/", Cloud, Some(Metadata)),
    ("http://metadata.google.internal/", Local, Some(Metadata)),
    ("https://168.63.129.16/", Cloud, Some(Metadata)),
    // Link-local, every tier.
    ("https://169.254.1.1/", Cloud, Some(LinkLocal)),
    ("http://169.254.1.1/", Local, Some(LinkLocal)),
    ("https://[fe80::1]/", Cloud, Some(LinkLocal)),
    ("http://[fe80::1]/", Local, Some(LinkLocal)),
    // Non-routable ranges, every tier.
    ("https://0.0.0.0/", Cloud, Some(NonRoutable)),
    ("http://0.0.0.0:11434/", Local, Some(NonRoutable)),
    ("http://0/", Local, Some(NonRoutable)),
    ("https://[::]/", Cloud, Some(NonRoutable)),
    ("http://[::]/", Local, Some(NonRoutable)),
    ("https://224.0.0.1/", Cloud, Some(NonRoutable)),
    ("http://239.255.255.250/", Local, Some(NonRoutable)),
    ("https://[ff02::1]/", Cloud, Some(NonRoutable)),
    ("https://255.255.255.255/", Cloud, Some(NonRoutable)),
    ("https://100.64.0.1/", Cloud, Some(NonRoutable)),
    ("http://100.127.1.1/", Local, Some(NonRoutable)),
    ("https://198.18.0.1/", Cloud, Some(NonRoutable)),
    ("http://198.19.255.1/", Local, Some(NonRoutable)),
    ("https://192.0.2.1/", Cloud, Some(NonRoutable)),
    ("https://198.51.100.1/", Cloud, Some(NonRoutable)),
    ("https://203.0.113.1/", Cloud, Some(NonRoutable)),
    ("https://[2001:db8::1]/", Cloud, Some(NonRoutable)),
    ("https://240.0.0.1/", Cloud, Some(NonRoutable)),
    ("http://240.0.0.1/", Local, Some(NonRoutable)),
    ("https://0.1.2.3/", Cloud, Some(NonRoutable)),
    ("https://[::ffff:100.64.0.1]/", Cloud, Some(NonRoutable)),
    // Public addresses.
    ("https://8.8.8.8/", Cloud, None),
    ("https://[2606:4700:4700::1111]/", Cloud, None),
    ("https://[::ffff:8.8.8.8]/", Cloud, None),
    ("https://[2002:808:808::1]/", Cloud, None),
    ("http://8.8.8.8/", Cloud, Some(InsecureScheme)),
    ("http://8.8.8.8/", Local, Some(PublicForLocalTier)),
    ("http://[2606:4700::1]/", Local, Some(PublicForLocalTier)),
    ("http://[::ffff:8.8.8.8]/", Local, Some(PublicForLocalTier)),
    ("http://[2002:808:808::]/", Local, Some(PublicForLocalTier)),
    ("http://[64:ff9b::808:808]/", Local, Some(PublicForLocalTier)),
    // Loopback and private for a local provider, http or https.
    ("http://127.0.0.1:11434", Local, None),
    ("http://2130706433:8080/", Local, None),
    ("http://127.1:8000/v1", Local, None),
    ("http://[::1]:8000/v1", Local, None),
    ("http://[::ffff:127.0.0.1]/", Local, None),
    ("http://10.0.0.1:8000/v1", Local, None),
    ("http://192.168.1.20:1234/v1", Local, None),
    ("http://172.31.0.9/", Local, None),
    ("http://[fd12::1]/", Local, None),
    ("https://127.0.0.1/", Local, None),
    // DNS names, judged on every resolved address.
    ("https://public.test/v1", Cloud, None),
    ("https://private.test/v1", Cloud, Some(PrivateForCloudTier)),
    ("https://metadata.test/", Cloud, Some(Metadata)),
    ("http://metadata.test/", Local, Some(Metadata)),
    ("http://metadata6.test/", Local, Some(Metadata)),
    ("https://mixed.test/", Cloud, Some(PrivateForCloudTier)),
    ("http://mixed.test/", Local, Some(PublicForLocalTier)),
    ("https://mapped.test/", Cloud, Some(PrivateForCloudTier)),
    ("http://mapped.test/", Local, None),
    ("http://private.test:8000/v1", Local, None),
    ("http://loop.test:11434", Local, None),
    ("http://public.test/", Local, Some(PublicForLocalTier)),
    ("http://cgnat.test/", Local, Some(NonRoutable)),
    ("http://private.test/", Cloud, Some(InsecureScheme)),
    // Schemes.
    ("ftp://127.0.0.1/", Local, Some(UnsupportedScheme)),
    ("ws://127.0.0.1/", Local, Some(UnsupportedScheme)),
];

#[tokio::test]
async fn the_egress_table() {
    assert!(TABLE.len() >= 40, "{}", TABLE.len());
    let resolver = resolver();
    let mut failures = Vec::new();
    for (raw, tier, expected) in TABLE {
        let url = Url::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        let got = match egress::preflight(*tier, &url, &resolver, Duration::from_secs(1)).await {
            Ok(_) => None,
            Err(EgressError::Denied(denied)) => Some(denied.rule),
            Err(other) => panic!("{raw}: unexpected {other}"),
        };
        if got != *expected {
            failures.push(format!(
                "{raw} ({tier}): expected {expected:?}, got {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        TABLE.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn building_a_client_refuses_a_forbidden_literal_base_url() {
    for (raw, tier, rule) in [
        ("http://169.254.169.254/", Local, Metadata),
        ("https://[::ffff:127.0.0.1]/v1", Cloud, PrivateForCloudTier),
        ("http://8.8.8.8/", Cloud, InsecureScheme),
        ("http://0x7f.1/", Cloud, PrivateForCloudTier),
        ("https://0x7f.1/", Cloud, PrivateForCloudTier),
    ] {
        let spec = spec(tier, raw, Arc::new(resolver()));
        match egress::build_client(&spec) {
            Err(EgressError::Denied(d)) => assert_eq!(d.rule, rule, "{raw}"),
            other => panic!("{raw}: {other:?}"),
        }
    }
}

fn spec(tier: ProviderTier, base: &str, resolver: Arc<dyn NameResolver>) -> ClientSpec {
    ClientSpec {
        tier,
        base_url: Url::parse(base).unwrap(),
        proxy_url: None,
        connect_timeout: Duration::from_secs(2),
        resolver,
    }
}

#[tokio::test]
async fn a_real_call_to_a_forbidden_dns_name_is_refused_and_find_denial_names_the_rule() {
    for (base, tier, rule, target) in [
        (
            "http://metadata.test/latest/meta-data/",
            Local,
            Metadata,
            "metadata.test:80 -> 169.254.169.254:80",
        ),
        (
            "https://private.test/v1",
            Cloud,
            PrivateForCloudTier,
            "private.test:443 -> 10.0.0.5:443",
        ),
        (
            "https://mixed.test/v1",
            Cloud,
            PrivateForCloudTier,
            "mixed.test:443 -> 192.168.1.1:443",
        ),
        (
            "http://public.test:8000/v1",
            Local,
            PublicForLocalTier,
            "public.test:8000 -> 8.8.8.8:8000",
        ),
    ] {
        let client = egress::build_client(&spec(tier, base, Arc::new(resolver()))).unwrap();
        let err = client.get(base).send().await.expect_err(base);
        let denied = find_denial(&err).unwrap_or_else(|| panic!("{base}: no denial in {err:?}"));
        assert_eq!(denied.rule, rule, "{base}");
        assert_eq!(denied.target, target, "{base}");
        assert!(err.is_connect(), "{base}: {err:?}");
    }
}

#[tokio::test]
async fn a_request_off_the_base_url_is_refused_before_connecting() {
    let server = common::TestServer::json(r#"{"data":[]}"#).await;
    let base = server.url("/v1");
    let client = egress::build_client(&spec(Local, &base, Arc::new(resolver()))).unwrap();
    // Same origin: allowed, and it really reaches the loopback server.
    let ok = client.get(server.url("/v1/models")).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    for (url, rule) in [
        ("http://169.254.169.254/latest/meta-data/", OutsideBaseUrl),
        ("http://10.0.0.1/", OutsideBaseUrl),
        ("http://2130706433:1/", OutsideBaseUrl),
        ("http://metadata.test/", OutsideBaseUrl),
    ] {
        let err = client.get(url).send().await.expect_err(url);
        let denied = find_denial(&err).unwrap_or_else(|| panic!("{url}: no denial in {err:?}"));
        assert_eq!(denied.rule, rule, "{url}");
    }
    // The https form of the same host is another origin.
    let err = client
        .get(base.replace("http://", "https://"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(find_denial(&err).unwrap().rule, OutsideBaseUrl);
    assert_eq!(
        server.requests().len(),
        1,
        "only the allowed request reached the server"
    );
}

/// Counts lookups, to show a name is resolved once per connection and the checked address is
/// the one connected to.
#[derive(Debug)]
struct Counting {
    inner: StaticResolver,
    calls: AtomicUsize,
}

#[async_trait]
impl NameResolver for Counting {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.lookup(host).await
    }
}

#[tokio::test]
async fn an_allowed_name_is_resolved_once_and_connected_to_the_checked_address() {
    let server = common::TestServer::json(r#"{"models":[]}"#).await;
    let resolver = Arc::new(Counting {
        inner: StaticResolver::new().with("ollama.test", &[ip("127.0.0.1")]),
        calls: AtomicUsize::new(0),
    });
    let base = format!("http://ollama.test:{}", server.addr.port());
    let client = egress::build_client(&spec(Local, &base, resolver.clone())).unwrap();
    let response = client.get(format!("{base}/api/tags")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(resolver.calls.load(Ordering::SeqCst), 1);
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/api/tags");
    assert_eq!(
        seen[0].header("host"),
        Some(format!("ollama.test:{}", server.addr.port()).as_str())
    );
}

#[tokio::test]
async fn a_refused_connection_is_not_a_denial() {
    let port = common::refused_port().await;
    let base = format!("http://127.0.0.1:{port}/v1");
    let client = egress::build_client(&spec(Local, &base, Arc::new(resolver()))).unwrap();
    let err = client
        .get(format!("{base}/models"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect());
    assert_eq!(find_denial(&err), None);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    // A redirect to the metadata service must come back as the 302 itself, never followed.
    let server = common::TestServer::start(|_| Some((302, String::new()))).await;
    let base = server.url("/v1");
    let client = egress::build_client(&spec(Local, &base, Arc::new(resolver()))).unwrap();
    let response = client.get(server.url("/v1/models")).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(server.requests().len(), 1);
}

//! The test-only allowance (`HANDSHAKE_TEST_PUBLIC_ADDRS`, feature `test-egress`), and the
//! client's indifference to proxy environment variables. These tests change the process
//! environment, so they live in their own test binary and hold one lock each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use handshake_core::egress::{
    self, find_denial, ClientSpec, EgressRule, StaticResolver, TEST_PUBLIC_ADDRS_ENV,
};
use handshake_core::registry::ProviderTier;
use url::Url;

static ENV: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn spec(tier: ProviderTier, base: &str) -> ClientSpec {
    ClientSpec {
        tier,
        base_url: Url::parse(base).unwrap(),
        proxy_url: None,
        connect_timeout: Duration::from_secs(2),
        resolver: Arc::new(
            StaticResolver::new().with("cloud.test", &["127.0.0.1".parse().unwrap()]),
        ),
    }
}

#[cfg(not(feature = "test-egress"))]
#[tokio::test]
async fn a_default_build_ignores_the_test_allowance() {
    let _env = ENV.lock().await;
    let server = common::TestServer::json(r#"{"data":[]}"#).await;
    std::env::set_var(TEST_PUBLIC_ADDRS_ENV, server.addr.to_string());
    assert!(egress::policy::test_public_addrs().is_empty());
    let addr: std::net::SocketAddr = server.addr;
    assert_eq!(
        egress::policy::classify_socket(addr),
        egress::AddressClass::Loopback
    );
    let denied = egress::check_socket(ProviderTier::Cloud, "https", addr, "").unwrap_err();
    assert_eq!(denied.rule, EgressRule::PrivateForCloudTier);
    // Neither the literal nor a name resolving to it reaches the server as a cloud provider.
    let literal = format!("https://{addr}/v1");
    assert!(egress::build_client(&spec(ProviderTier::Cloud, &literal)).is_err());
    let named = format!("https://cloud.test:{}/v1", addr.port());
    let client = egress::build_client(&spec(ProviderTier::Cloud, &named)).unwrap();
    let err = client
        .get(format!("{named}/models"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        find_denial(&err).unwrap().rule,
        EgressRule::PrivateForCloudTier
    );
    assert!(server.requests().is_empty());
    std::env::remove_var(TEST_PUBLIC_ADDRS_ENV);
}

#[cfg(feature = "test-egress")]
#[tokio::test]
async fn with_test_egress_listed_loopback_sockets_count_as_public() {
    let _env = ENV.lock().await;
    let server = common::TestServer::json(r#"{"data":[{"id":"m"}]}"#).await;
    let other = common::TestServer::json(r#"{"data":[]}"#).await;
    std::env::set_var(
        TEST_PUBLIC_ADDRS_ENV,
        format!(" {} , not-an-addr, 10.0.0.1:80", server.addr),
    );
    assert_eq!(egress::policy::test_public_addrs(), vec![server.addr]);
    assert_eq!(
        egress::policy::classify_socket(server.addr),
        egress::AddressClass::Public
    );
    // Only the exact socket: another port on loopback stays loopback, and non-loopback entries are ignored.
    assert_eq!(
        egress::policy::classify_socket(other.addr),
        egress::AddressClass::Loopback
    );
    assert!(!egress::policy::is_test_public(
        "10.0.0.1:80".parse().unwrap()
    ));

    // A cloud provider reaches it, over plain http too, by literal and by name.
    let literal = format!("http://{}/v1", server.addr);
    let client = egress::build_client(&spec(ProviderTier::Cloud, &literal)).unwrap();
    assert_eq!(
        client
            .get(format!("{literal}/models"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let named = format!("http://cloud.test:{}/v1", server.addr.port());
    let client = egress::build_client(&spec(ProviderTier::Cloud, &named)).unwrap();
    assert_eq!(
        client
            .get(format!("{named}/models"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(server.requests().len(), 2);

    // It counts as public for a local provider as well.
    let err = egress::build_client(&spec(ProviderTier::Local, &literal)).unwrap_err();
    assert!(err.to_string().contains("public_for_local_tier"), "{err}");
    // The unlisted server stays out of reach for cloud.
    let unlisted = format!("http://{}/v1", other.addr);
    assert!(egress::build_client(&spec(ProviderTier::Cloud, &unlisted)).is_err());
    std::env::remove_var(TEST_PUBLIC_ADDRS_ENV);
}

#[tokio::test]
async fn proxy_environment_variables_are_ignored() {
    let _env = ENV.lock().await;
    let server = common::TestServer::json(r#"{"models":[]}"#).await;
    let dead_proxy = format!("http://127.0.0.1:{}", common::refused_port().await);
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        std::env::set_var(var, &dead_proxy);
    }
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");
    let base = server.url("");
    let client = egress::build_client(&spec(ProviderTier::Local, &base)).unwrap();
    let status = client
        .get(server.url("/api/tags"))
        .send()
        .await
        .map(|r| r.status());
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        std::env::remove_var(var);
    }
    assert_eq!(
        status.unwrap(),
        200,
        "the request went to the server, not to the proxy from the environment"
    );
    assert_eq!(server.requests()[0].path, "/api/tags");
}

#[tokio::test]
async fn a_configured_proxy_is_used_and_checked() {
    let _env = ENV.lock().await;
    // A forward proxy is just an HTTP server that receives absolute-form requests.
    let proxy = common::TestServer::json(r#"{"data":[]}"#).await;
    let mut s = spec(ProviderTier::Local, "http://127.0.0.1:9/v1");
    s.proxy_url = Some(Url::parse(&proxy.url("")).unwrap());
    let client = egress::build_client(&s).unwrap();
    let response = client
        .get("http://127.0.0.1:9/v1/models")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(proxy.requests()[0].path, "http://127.0.0.1:9/v1/models");
    // Off the base_url is still refused, proxy or not.
    let err = client
        .get("http://169.254.169.254/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(find_denial(&err).unwrap().rule, EgressRule::OutsideBaseUrl);
    assert_eq!(proxy.requests().len(), 1);
    // A proxy at a metadata address is refused when the client is built.
    s.proxy_url = Some(Url::parse("http://169.254.169.254:3128").unwrap());
    assert!(egress::build_client(&s).is_err());
}

//! [`WireConfig`]: everything an adapter needs to talk to one provider, and nothing about how
//! the provider was configured or governed. The registry maps its records into it; the adapters
//! know no registry, no profile and no consent.

use reqwest::header::HeaderMap;
use secrecy::SecretString;
use url::Url;

use super::openai::OpenAiCompatOptions;
use super::transport::build_headers;
use super::LlmError;
use crate::egress::{check_request_url, EgressDenied, EgressRule};
use crate::vocab::{origin_of, ProviderTier, Timeouts};

/// A provider as the wire sees it. `http` is built with the egress policy already applied (its
/// resolver checks every resolved address at connect time): one client per provider, pooled and
/// reused for every call.
#[derive(Clone, Debug)]
pub struct WireConfig {
    pub provider_id: String,
    /// The provider's tier as registered; an adapter raises it per model with
    /// [`crate::vocab::effective_tier`].
    pub tier: ProviderTier,
    pub base_url: Url,
    /// The bearer key, read from the keychain; `None` for keyless local servers.
    pub api_key: Option<SecretString>,
    /// Extra headers sent with every request (values may be secrets, so they are typed as such).
    pub extra_headers: Vec<(String, SecretString)>,
    pub timeouts: Timeouts,
    /// Options of an OpenAI-compatible server (ignored by the Ollama adapter).
    pub openai: OpenAiCompatOptions,
    /// The provider's HTTP client: egress-checked resolver, no proxy from the environment, no
    /// redirects, TCP_NODELAY, pooled connections.
    pub http: reqwest::Client,
}

impl WireConfig {
    /// The URL of `relative` (e.g. `chat/completions`, `api/chat`) under the base_url path, with
    /// the base_url's query (e.g. `api-version`) kept. Refused unless it stays on the base_url's
    /// origin and passes the literal checks; the client's resolver repeats the address check.
    pub fn url(&self, relative: &str) -> Result<Url, EgressDenied> {
        let mut base = self.base_url.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let relative = relative.trim_start_matches('/');
        let mut url = base.join(relative).map_err(|_| EgressDenied {
            rule: EgressRule::OutsideBaseUrl,
            target: crate::egress::policy::host_port(&self.base_url),
        })?;
        if url.query().is_none() {
            url.set_query(self.base_url.query());
        }
        check_request_url(self.tier, &self.base_url, &url)?;
        Ok(url)
    }

    /// The headers every request carries: `Authorization: Bearer <key>` only when a key exists,
    /// then the extra headers, all marked sensitive.
    pub fn headers(&self) -> Result<HeaderMap, LlmError> {
        build_headers(self.api_key.as_ref(), &self.extra_headers)
    }

    /// `scheme://host:port` of the base URL: where this provider's bytes go.
    pub fn origin(&self) -> String {
        origin_of(&self.base_url)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use reqwest::header::AUTHORIZATION;

    use super::*;

    fn config(base: &str, tier: ProviderTier, key: Option<&str>) -> WireConfig {
        WireConfig {
            provider_id: "p".into(),
            tier,
            base_url: Url::parse(base).unwrap(),
            api_key: key.map(|k| SecretString::from(k.to_owned())),
            extra_headers: vec![("x-title".into(), SecretString::from("Handshake".to_owned()))],
            timeouts: Timeouts::default(),
            openai: OpenAiCompatOptions::default(),
            http: reqwest::Client::new(),
        }
    }

    #[test]
    fn urls_stay_under_the_base() {
        let e = config("http://127.0.0.1:8000/v1", ProviderTier::Local, None);
        assert_eq!(
            e.url("chat/completions").unwrap().as_str(),
            "http://127.0.0.1:8000/v1/chat/completions"
        );
        assert_eq!(
            e.url("//evil.example/x").unwrap().as_str(),
            "http://127.0.0.1:8000/v1/evil.example/x"
        );
        assert_eq!(
            e.url("http://169.254.169.254/latest").unwrap_err().rule,
            EgressRule::OutsideBaseUrl
        );
        let azure = config(
            "https://x.openai.azure.com/openai/deployments/d?api-version=2024-10-21",
            ProviderTier::Cloud,
            None,
        );
        assert_eq!(
            azure.url("chat/completions").unwrap().as_str(),
            "https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(azure.origin(), "https://x.openai.azure.com:443");
    }

    #[test]
    fn bearer_only_with_a_key_and_marked_sensitive() {
        let keyless = config("http://127.0.0.1:8000/v1", ProviderTier::Local, None);
        let headers = keyless.headers().unwrap();
        assert!(headers.get(AUTHORIZATION).is_none());
        assert_eq!(headers.get("x-title").unwrap(), "Handshake");
        let keyed = config(
            "http://127.0.0.1:8000/v1",
            ProviderTier::Local,
            Some("sk-canary"),
        );
        let headers = keyed.headers().unwrap();
        let auth = headers.get(AUTHORIZATION).unwrap();
        assert!(auth.is_sensitive());
        assert!(!format!("{headers:?}").contains("sk-canary"));
    }
}

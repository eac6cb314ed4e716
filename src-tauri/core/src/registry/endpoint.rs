//! Helpers on [`ProviderEndpoint`] for the adapters: request URLs under the base_url, checked by
//! the egress policy, and the request headers with secrets marked sensitive.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use secrecy::ExposeSecret;
use url::Url;

use super::{ProviderEndpoint, ProviderKind};
use crate::egress::{check_request_url, EgressDenied};
use crate::llm::LlmError;

impl ProviderEndpoint {
    /// The URL of `relative` (e.g. `chat/completions`, `api/chat`) under the base_url path, with
    /// the base_url's query (e.g. `api-version`) kept. Refused unless it stays on the base_url's
    /// origin and passes the literal checks; the client's request guard repeats this on send.
    pub fn url(&self, relative: &str) -> Result<Url, EgressDenied> {
        let mut base = self.base_url.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let relative = relative.trim_start_matches('/');
        let mut url = base.join(relative).map_err(|_| EgressDenied {
            rule: crate::egress::EgressRule::OutsideBaseUrl,
            target: crate::egress::policy::host_port(&self.base_url),
        })?;
        if url.query().is_none() {
            url.set_query(self.base_url.query());
        }
        check_request_url(self.tier, &self.base_url, &url)?;
        Ok(url)
    }

    /// The URL that lists models: `<base>/api/tags` for Ollama, `<base>/models` for an
    /// OpenAI-compatible server (whose base_url ends in `/v1` or its equivalent).
    pub fn models_url(&self) -> Result<Url, EgressDenied> {
        match self.kind {
            ProviderKind::Ollama => self.url("api/tags"),
            ProviderKind::OpenaiCompat => self.url("models"),
        }
    }

    /// The headers every request carries: `Authorization: Bearer <key>` only when a key exists
    /// (a keyless provider gets no Authorization header), then the extra headers. Secret values
    /// are marked sensitive so they never appear in reqwest's or hyper's debug output.
    pub fn headers(&self) -> Result<HeaderMap, LlmError> {
        let mut headers = HeaderMap::new();
        if let Some(key) = &self.api_key {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose_secret()))
                .map_err(|_| LlmError::InvalidRequest {
                    reason: "the API key cannot be sent in a header".into(),
                })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        for (name, value) in &self.extra_headers {
            let header_name =
                HeaderName::from_bytes(name.as_bytes()).map_err(|_| LlmError::InvalidRequest {
                    reason: format!("the header name {name:?} is invalid"),
                })?;
            let mut header_value = HeaderValue::from_str(value.expose_secret()).map_err(|_| {
                LlmError::InvalidRequest {
                    reason: format!("the value of header {name:?} cannot be sent"),
                }
            })?;
            header_value.set_sensitive(true);
            headers.insert(header_name, header_value);
        }
        Ok(headers)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::egress::EgressRule;
    use crate::registry::{OpenAiCompatOptions, ProviderTier, Timeouts};

    fn endpoint(
        base: &str,
        kind: ProviderKind,
        tier: ProviderTier,
        key: Option<&str>,
    ) -> ProviderEndpoint {
        ProviderEndpoint {
            provider_id: "p".into(),
            kind,
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
        let e = endpoint(
            "http://127.0.0.1:8000/v1",
            ProviderKind::OpenaiCompat,
            ProviderTier::Local,
            None,
        );
        assert_eq!(
            e.url("chat/completions").unwrap().as_str(),
            "http://127.0.0.1:8000/v1/chat/completions"
        );
        assert_eq!(
            e.models_url().unwrap().as_str(),
            "http://127.0.0.1:8000/v1/models"
        );
        assert_eq!(
            e.url("//evil.example/x").unwrap().as_str(),
            "http://127.0.0.1:8000/v1/evil.example/x"
        );
        assert_eq!(
            e.url("http://169.254.169.254/latest").unwrap_err().rule,
            EgressRule::OutsideBaseUrl
        );
        let o = endpoint(
            "http://127.0.0.1:11434",
            ProviderKind::Ollama,
            ProviderTier::Local,
            None,
        );
        assert_eq!(
            o.models_url().unwrap().as_str(),
            "http://127.0.0.1:11434/api/tags"
        );
        let azure = endpoint(
            "https://x.openai.azure.com/openai/deployments/d?api-version=2024-10-21",
            ProviderKind::OpenaiCompat,
            ProviderTier::Cloud,
            None,
        );
        assert_eq!(
            azure.url("chat/completions").unwrap().as_str(),
            "https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21"
        );
    }

    #[test]
    fn bearer_only_with_a_key_and_marked_sensitive() {
        let keyless = endpoint(
            "http://127.0.0.1:8000/v1",
            ProviderKind::OpenaiCompat,
            ProviderTier::Local,
            None,
        );
        let headers = keyless.headers().unwrap();
        assert!(headers.get(AUTHORIZATION).is_none());
        assert_eq!(headers.get("x-title").unwrap(), "Handshake");
        let keyed = endpoint(
            "http://127.0.0.1:8000/v1",
            ProviderKind::OpenaiCompat,
            ProviderTier::Local,
            Some("sk-canary"),
        );
        let headers = keyed.headers().unwrap();
        let auth = headers.get(AUTHORIZATION).unwrap();
        assert!(auth.is_sensitive());
        assert!(!format!("{headers:?}").contains("sk-canary"));
    }
}

//! [`Destination`]: where an approved cloud call's bytes go. A plan records it when it is made;
//! the gate refuses to send when the provider no longer matches it.

use serde::{Deserialize, Serialize};

use super::ProviderTier;

/// A provider as it stood when a plan was made: its id, the origin (scheme, host, port) of the
/// base URL the bytes go to, the model's effective tier, and the provider's revision (every edit
/// of its base URL, tier, kind, headers, key or options makes a new one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Destination {
    pub provider_id: String,
    /// `scheme://host:port`, with the port always written.
    pub origin: String,
    pub tier: ProviderTier,
    /// The provider record's revision (milliseconds of its last change; strictly increasing).
    #[ts(type = "number")]
    pub revision: i64,
}

/// `scheme://host:port` of `url`, the port written even when it is the scheme's default.
pub fn origin_of(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn origins_always_name_the_port() {
        let origin = |u: &str| origin_of(&url::Url::parse(u).unwrap());
        assert_eq!(
            origin("https://api.openai.com/v1"),
            "https://api.openai.com:443"
        );
        assert_eq!(origin("http://127.0.0.1:11434"), "http://127.0.0.1:11434");
        assert_eq!(origin("http://[::1]:8080/v1?x=1"), "http://[::1]:8080");
    }
}

//! Checks on everything a user enters for a provider. Each check fails with a
//! [`RegistryError`] naming the field, and none echoes a secret: a URL error never repeats the
//! URL (it may hold `user:key@` or `?api_key=`), a key or header error never repeats the value.
//!
//! The egress checks (tier against address) live in [`crate::egress`]; the registry runs them
//! after these.

use reqwest::header::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{
    header_handle, ExtraHeader, ExtraHeaderValue, HeaderInput, HeaderValueInput, ProviderField,
    RegistryError, Timeouts,
};
use crate::secrets::SecretHandle;

/// Longest provider id.
pub const MAX_ID_LEN: usize = 64;
const MAX_HEADERS: usize = 32;
const MAX_HEADER_VALUE_LEN: usize = 8 * 1024;
const MAX_KEY_LEN: usize = 8 * 1024;
const MAX_TIMEOUT_MS: u64 = 24 * 60 * 60 * 1000;

/// A provider id: 1 to 64 of `[a-z0-9_-]`, starting with a letter or digit. No `/`, because a
/// model id is `<provider_id>/<model>` split at the first `/`.
pub fn provider_id(id: &str) -> Result<(), RegistryError> {
    let fail = |reason: &str| {
        Err(RegistryError::InvalidId {
            id: id.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if id.is_empty() {
        return fail("it is empty");
    }
    if id.len() > MAX_ID_LEN {
        return fail("it is longer than 64 characters");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return fail("use only lowercase letters, digits, '_' and '-' (no '/': model ids are <provider_id>/<model>)");
    }
    if !id.as_bytes()[0].is_ascii_alphanumeric() {
        return fail("it must start with a letter or a digit");
    }
    Ok(())
}

/// A display name: trimmed, 1 to 100 characters, no control characters.
pub fn display_name(name: &str) -> Result<String, RegistryError> {
    let name = name.trim();
    let fail = |reason: &str| {
        Err(RegistryError::InvalidField {
            field: super::ProviderField::DisplayName,
            reason: reason.into(),
        })
    };
    if name.is_empty() {
        return fail("it is empty");
    }
    if name.chars().count() > 100 {
        return fail("it is longer than 100 characters");
    }
    if name.chars().any(char::is_control) {
        return fail("it contains control characters");
    }
    Ok(name.to_owned())
}

/// A model name as the provider knows it (may contain `/` and `:`): no whitespace or control
/// characters, at most 256 characters. `None` or blank means no default.
pub fn default_model(model: Option<&str>) -> Result<Option<String>, RegistryError> {
    let Some(model) = model.map(str::trim).filter(|m| !m.is_empty()) else {
        return Ok(None);
    };
    let fail = |reason: &str| {
        Err(RegistryError::InvalidField {
            field: ProviderField::DefaultModel,
            reason: reason.into(),
        })
    };
    if model.chars().count() > 256 {
        return fail("it is longer than 256 characters");
    }
    if model.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return fail("it contains whitespace or control characters");
    }
    Ok(Some(model.to_owned()))
}

/// Timeouts: every one above zero and at most 24 hours, none longer than the total.
pub fn timeouts(t: &Timeouts) -> Result<(), RegistryError> {
    let fail = |reason: &str| {
        Err(RegistryError::InvalidField {
            field: ProviderField::Timeouts,
            reason: reason.into(),
        })
    };
    let all = [t.connect_ms, t.first_byte_ms, t.idle_ms, t.total_ms];
    if all.contains(&0) {
        return fail("every timeout must be above zero");
    }
    if all.iter().any(|&ms| ms > MAX_TIMEOUT_MS) {
        return fail("no timeout may exceed 24 hours");
    }
    if t.connect_ms > t.total_ms || t.first_byte_ms > t.total_ms || t.idle_ms > t.total_ms {
        return fail("no timeout may be longer than the total");
    }
    Ok(())
}

/// A base_url or proxy URL: absolute http(s) with a host, no user name or password, no fragment,
/// no port 0, and no query parameter that looks like a credential.
pub fn url(field: ProviderField, raw: &str) -> Result<Url, RegistryError> {
    let raw = raw.trim();
    let invalid = |reason: &str| RegistryError::InvalidUrl {
        field,
        reason: reason.to_owned(),
    };
    if raw.is_empty() {
        return Err(invalid("it is empty"));
    }
    // A URL parser reads `\` as `/` (`https://api.example.com\@127.0.0.1/` is host
    // `api.example.com`, path `/@127.0.0.1/`), while a person, a proxy or another parser may read
    // another host into it. Refused, rather than stored in a form other than typed.
    // URL parsers drop tabs and newlines inside the input (`https://api.exa\tmple.com/` becomes
    // `api.example.com`): refused, like every other way of storing something other than typed.
    if raw.chars().any(char::is_control) {
        return Err(invalid(
            "it contains a control character (a tab or a line break)",
        ));
    }
    if raw.contains('\\') {
        return Err(invalid(
            "it contains a backslash, which URL parsers read as `/`; write the URL with `/`",
        ));
    }
    let url = Url::parse(raw).map_err(|e| match e {
        url::ParseError::RelativeUrlWithoutBase => {
            invalid("not an absolute URL (start it with http:// or https://)")
        }
        // ParseError messages describe the problem without repeating the input.
        other => invalid(&other.to_string()),
    })?;
    // Credentials are looked for first, so no later message can be about a URL that holds one.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RegistryError::UserinfoInUrl { field });
    }
    // With no credentials, an `@` can only be after the host, where it reads as a host to people
    // and to some tools (`https://api.example.com/@127.0.0.1/`).
    if raw.contains('@') {
        return Err(invalid(
            "it contains `@` after the host, which can be read as another host; remove it",
        ));
    }
    if let Some(param) = url
        .query_pairs()
        .map(|(name, _)| name.into_owned())
        .find(|name| is_credential_name(name))
    {
        return Err(RegistryError::SecretInQuery { field, param });
    }
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(RegistryError::UnsupportedScheme {
            field,
            scheme: url.scheme().to_owned(),
        });
    }
    if url.host().is_none() {
        return Err(invalid("it has no host"));
    }
    if url.port() == Some(0) {
        return Err(invalid("port 0 is not a port a server listens on"));
    }
    if url.fragment().is_some() {
        return Err(invalid(
            "it has a #fragment, which means nothing to a server",
        ));
    }
    if field == ProviderField::ProxyUrl && url.path() != "/" {
        return Err(invalid("a proxy URL has no path"));
    }
    Ok(url)
}

/// Whether a query parameter or header name looks like it carries a credential.
pub fn is_credential_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    const PARTS: &[&str] = &[
        "key",
        "token",
        "secret",
        "passw",
        "auth",
        "credential",
        "signature",
        "bearer",
        "cookie",
        "session",
    ];
    const WORDS: &[&str] = &["sig", "pwd", "pass", "jwt", "code", "access"];
    PARTS.iter().any(|p| lower.contains(p))
        || lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| WORDS.contains(&word))
}

/// An API key: surrounding whitespace trimmed (pasted keys often end in a newline), then 1 to
/// 8192 visible ASCII characters so it can travel in an `Authorization` header.
pub fn api_key(key: &SecretString) -> Result<SecretString, RegistryError> {
    let trimmed = key.expose_secret().trim();
    let fail = |reason: &str| {
        Err(RegistryError::InvalidKey {
            reason: reason.to_owned(),
        })
    };
    if trimmed.is_empty() {
        return fail("it is empty");
    }
    if trimmed.len() > MAX_KEY_LEN {
        return fail("it is longer than 8192 characters");
    }
    if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
        return fail("it contains whitespace, control or non-ASCII characters");
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

/// Headers that Handshake sets itself, or that belong to the connection.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "accept-encoding",
];

/// The validated headers of a provider, and the secret values to store in the keychain.
pub struct CheckedHeaders {
    pub headers: Vec<ExtraHeader>,
    pub secrets: Vec<(SecretHandle, SecretString)>,
}

/// Checks extra headers. Names are lowercased; `authorization` is refused (the API key is sent as
/// `Authorization: Bearer`); a credential-looking name must be secret. `existing` holds the
/// stored headers, for [`HeaderValueInput::KeepSecret`].
pub fn headers(
    namespace: &str,
    provider_id: &str,
    inputs: &[HeaderInput],
    existing: &[ExtraHeader],
) -> Result<CheckedHeaders, RegistryError> {
    if inputs.len() > MAX_HEADERS {
        return Err(RegistryError::InvalidField {
            field: ProviderField::ExtraHeaders,
            reason: format!("at most {MAX_HEADERS} extra headers"),
        });
    }
    let mut out = CheckedHeaders {
        headers: Vec::new(),
        secrets: Vec::new(),
    };
    for input in inputs {
        let raw_name = input.name.trim();
        let fail = |reason: &str| RegistryError::InvalidHeader {
            name: raw_name.to_owned(),
            reason: reason.to_owned(),
        };
        let name = HeaderName::from_bytes(raw_name.as_bytes())
            .map_err(|_| fail("not a valid header name"))?;
        let name = name.as_str().to_owned();
        if RESERVED_HEADERS.contains(&name.as_str()) {
            return Err(fail("Handshake sets this header itself"));
        }
        if name == "authorization" {
            return Err(fail(
                "set the API key instead: it is sent as Authorization: Bearer",
            ));
        }
        if out.headers.iter().any(|h| h.name == name) {
            return Err(fail("given more than once"));
        }
        let value = match &input.value {
            HeaderValueInput::Plain(value) => {
                if is_credential_name(&name) {
                    return Err(RegistryError::HeaderMustBeSecret { name });
                }
                check_header_value(value).map_err(&fail)?;
                ExtraHeaderValue::Plain {
                    value: value.clone(),
                }
            }
            HeaderValueInput::Secret(value) => {
                let trimmed = value.expose_secret().trim();
                check_header_value(trimmed).map_err(&fail)?;
                if trimmed.is_empty() {
                    return Err(fail("the secret value is empty"));
                }
                let handle = header_handle(namespace, provider_id, &name);
                out.secrets
                    .push((handle.clone(), SecretString::from(trimmed.to_owned())));
                ExtraHeaderValue::Secret { handle }
            }
            HeaderValueInput::KeepSecret => {
                let kept = existing
                    .iter()
                    .find(|h| h.name == name)
                    .and_then(|h| match &h.value {
                        ExtraHeaderValue::Secret { handle } => Some(handle.clone()),
                        ExtraHeaderValue::Plain { .. } => None,
                    });
                let handle = kept.ok_or_else(|| fail("there is no stored secret value to keep"))?;
                ExtraHeaderValue::Secret { handle }
            }
        };
        out.headers.push(ExtraHeader { name, value });
    }
    Ok(out)
}

fn check_header_value(value: &str) -> Result<(), &'static str> {
    if value.len() > MAX_HEADER_VALUE_LEN {
        return Err("the value is longer than 8192 bytes");
    }
    if HeaderValue::from_str(value).is_err() || !value.is_ascii() {
        return Err("the value contains characters a header cannot carry");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["openai", "oll", "lan-2", "my_vllm", "0x"] {
            assert!(provider_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "OpenAI", "a/b", "a b", "-x", "_x", "ä", &"a".repeat(65)] {
            assert!(
                matches!(provider_id(bad), Err(RegistryError::InvalidId { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn urls() {
        let f = ProviderField::BaseUrl;
        assert_eq!(
            url(f, " https://api.openai.com/v1 ").unwrap().as_str(),
            "https://api.openai.com/v1"
        );
        assert!(matches!(
            url(f, "https://user:sk-123@api.example.com/v1"),
            Err(RegistryError::UserinfoInUrl { .. })
        ));
        assert!(matches!(
            url(f, "https://sk-123@api.example.com/v1"),
            Err(RegistryError::UserinfoInUrl { .. })
        ));
        for (raw, param) in [
            ("https://api.example.com/v1?api_key=sk-1", "api_key"),
            ("https://api.example.com/v1?key=sk-1", "key"),
            (
                "https://api.example.com/v1?x=1&access_token=sk-1",
                "access_token",
            ),
            ("https://api.example.com/v1?token=sk-1", "token"),
            ("https://api.example.com/v1?sig=abc", "sig"),
        ] {
            match url(f, raw) {
                Err(RegistryError::SecretInQuery { param: p, .. }) => assert_eq!(p, param),
                other => panic!("{raw}: {other:?}"),
            }
        }
        assert!(url(
            f,
            "https://x.openai.azure.com/openai?api-version=2024-10-21"
        )
        .is_ok());
        assert!(matches!(
            url(f, "ftp://example.com"),
            Err(RegistryError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            url(f, "file:///etc/passwd"),
            Err(RegistryError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            url(f, "api.openai.com/v1"),
            Err(RegistryError::InvalidUrl { .. })
        ));
        assert!(matches!(
            url(f, "http://127.0.0.1:0"),
            Err(RegistryError::InvalidUrl { .. })
        ));
        assert!(matches!(
            url(f, "http://[::1"),
            Err(RegistryError::InvalidUrl { .. })
        ));
        assert!(matches!(
            url(ProviderField::ProxyUrl, "http://proxy:3128/x"),
            Err(RegistryError::InvalidUrl { .. })
        ));
        for typed in [
            "https://api.example.com\\@127.0.0.1/",
            "https://api.example.com\\v1",
            "https://api.example.com/@127.0.0.1/",
            "https://api.example.com/v1?x=a@b",
            "https://api.exa\tmple.com/",
            "https://api.example.com/v\n1",
        ] {
            match url(f, typed) {
                Err(RegistryError::InvalidUrl { reason, .. }) => {
                    assert!(
                        reason.contains("backslash")
                            || reason.contains('@')
                            || reason.contains("control"),
                        "{reason}"
                    )
                }
                other => panic!("{typed}: {other:?}"),
            }
        }
    }

    #[test]
    fn errors_never_repeat_the_secret() {
        let f = ProviderField::BaseUrl;
        for raw in [
            "https://user:CANARY@api.example.com",
            "https://api.example.com/v1?api_key=CANARY",
            "https://CANARY@api.example.com",
            "htt ps://CANARY",
        ] {
            let err = url(f, raw).unwrap_err();
            assert!(!format!("{err} {err:?}").contains("CANARY"), "{raw}: {err}");
        }
        let err = api_key(&SecretString::from("sk CANARY".to_owned())).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("CANARY"));
        let err = headers("ns", "p", &[HeaderInput::plain("X-Api-Key", "CANARY")], &[])
            .err()
            .unwrap();
        assert!(matches!(err, RegistryError::HeaderMustBeSecret { .. }));
        assert!(!format!("{err} {err:?}").contains("CANARY"));
        let err = headers(
            "ns",
            "p",
            &[HeaderInput::secret(
                "x-foo",
                SecretString::from("CANARY\n\u{1}x".to_owned()),
            )],
            &[],
        )
        .err()
        .unwrap();
        assert!(!format!("{err} {err:?}").contains("CANARY"));
    }

    #[test]
    fn keys_are_trimmed() {
        let key = api_key(&SecretString::from("  sk-abc\n".to_owned())).unwrap();
        assert_eq!(key.expose_secret(), "sk-abc");
        assert!(api_key(&SecretString::from("   ".to_owned())).is_err());
    }

    #[test]
    fn header_rules() {
        let ok = headers(
            "ns",
            "p",
            &[
                HeaderInput::plain("X-Title", "Handshake"),
                HeaderInput::secret("api-key", SecretString::from("v".to_owned())),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(ok.headers[0].name, "x-title");
        assert_eq!(
            ok.headers[1].value,
            ExtraHeaderValue::Secret {
                handle: header_handle("ns", "p", "api-key")
            }
        );
        assert_eq!(ok.secrets.len(), 1);
        for bad in ["Authorization", "Host", "Content-Length", "bad name"] {
            assert!(
                headers("ns", "p", &[HeaderInput::plain(bad, "v")], &[]).is_err(),
                "{bad}"
            );
        }
        assert!(headers(
            "ns",
            "p",
            &[HeaderInput::plain("a", "1"), HeaderInput::plain("A", "2")],
            &[]
        )
        .is_err());
        let keep = HeaderInput {
            name: "api-key".into(),
            value: HeaderValueInput::KeepSecret,
        };
        assert!(headers("ns", "p", std::slice::from_ref(&keep), &[]).is_err());
        assert!(headers("ns", "p", &[keep], &ok.headers).is_ok());
    }

    #[test]
    fn timeout_rules() {
        assert!(timeouts(&Timeouts::default()).is_ok());
        assert!(timeouts(&Timeouts {
            connect_ms: 0,
            ..Timeouts::default()
        })
        .is_err());
        assert!(timeouts(&Timeouts {
            connect_ms: 700_000,
            ..Timeouts::default()
        })
        .is_err());
    }
}

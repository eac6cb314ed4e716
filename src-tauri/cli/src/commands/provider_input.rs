//! Turning `hsk provider add` / `update` arguments into the registry's [`NewProvider`] and
//! [`ProviderUpdate`]: presets, kind and tier names, plain headers (`NAME=VALUE`) and secret
//! headers (values read from stdin, never argv).

use clap::Args;

use handshake_core::registry::{
    preset, HeaderInput, HeaderValueInput, NewProvider, ProviderKind, ProviderTier, ProviderUpdate,
};

use crate::error::CliError;
use crate::secret_input::read_secret;

/// `hsk provider add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The provider id (`[a-z0-9_-]`, 1 to 64); model ids are `<id>/<model>`.
    #[arg(long)]
    pub id: String,
    /// `ollama` or `openai_compat` (filled by --preset).
    #[arg(long)]
    pub kind: Option<String>,
    /// `local` or `cloud` (filled by --preset).
    #[arg(long)]
    pub tier: Option<String>,
    /// The server's URL (filled by --preset), e.g. http://127.0.0.1:11434.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// A display name (default: the preset's, else the id).
    #[arg(long)]
    pub name: Option<String>,
    /// The model to use when a request names only the provider.
    #[arg(long)]
    pub default_model: Option<String>,
    /// A known provider (`hsk provider presets`): fills kind, tier and base URL.
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// A plain header sent with every request (repeatable).
    #[arg(long = "header", value_name = "NAME=VALUE")]
    pub headers: Vec<String>,
    /// A header whose value goes to the OS keychain, read from stdin (repeatable, in order).
    #[arg(long = "secret-header", value_name = "NAME")]
    pub secret_headers: Vec<String>,
    /// Read the API key from stdin (first line, before any secret header values).
    #[arg(long)]
    pub key_stdin: bool,
    /// A proxy for this provider only (http or https, no credentials).
    #[arg(long, value_name = "URL")]
    pub proxy_url: Option<String>,
    /// Refused: keys are never taken from argv.
    #[arg(long = "api-key", alias = "key", hide = true, value_name = "REFUSED")]
    pub api_key_in_argv: Option<String>,
}

/// `hsk provider update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    pub id: String,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub kind: Option<String>,
    #[arg(long)]
    pub tier: Option<String>,
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    #[arg(long, conflicts_with = "clear_default_model")]
    pub default_model: Option<String>,
    #[arg(long)]
    pub clear_default_model: bool,
    /// Replace every extra header: plain `NAME=VALUE` (repeatable).
    #[arg(long = "header", value_name = "NAME=VALUE")]
    pub headers: Vec<String>,
    /// Replace every extra header: a secret header whose new value is read from stdin.
    #[arg(long = "secret-header", value_name = "NAME")]
    pub secret_headers: Vec<String>,
    /// Replace every extra header: keep this secret header's stored value.
    #[arg(long = "keep-secret-header", value_name = "NAME")]
    pub keep_secret_headers: Vec<String>,
    /// Remove every extra header.
    #[arg(long)]
    pub clear_headers: bool,
    #[arg(long, value_name = "URL", conflicts_with = "clear_proxy")]
    pub proxy_url: Option<String>,
    #[arg(long)]
    pub clear_proxy: bool,
    /// Refused: keys are never taken from argv.
    #[arg(long = "api-key", alias = "key", hide = true, value_name = "REFUSED")]
    pub api_key_in_argv: Option<String>,
}

fn plain_header(arg: &str) -> Result<HeaderInput, CliError> {
    // The value is not repeated in the error: a misplaced secret must not be echoed.
    match arg.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok(HeaderInput::plain(name.trim(), value))
        }
        _ => Err(CliError::InvalidArg {
            arg: "--header",
            reason: "expected NAME=VALUE".into(),
        }),
    }
}

fn secret_header(name: &str) -> Result<HeaderInput, CliError> {
    let value = read_secret(&format!("value of secret header {name}"))?;
    Ok(HeaderInput::secret(name, value))
}

impl AddArgs {
    /// The provider to add; reads the key and secret header values from stdin, in that order.
    pub fn into_new_provider(self) -> Result<NewProvider, CliError> {
        if self.api_key_in_argv.is_some() {
            return Err(CliError::SecretInArgv { what: "an API key" });
        }
        let mut new = match &self.preset {
            Some(name) => preset(name)
                .ok_or_else(|| CliError::InvalidArg {
                    arg: "--preset",
                    reason: format!("no preset `{name}`; see `hsk provider presets`"),
                })?
                .new_provider(self.id.clone()),
            None => {
                let missing = |arg: &'static str| CliError::InvalidArg {
                    arg,
                    reason: "required without --preset".into(),
                };
                let kind = self.kind.as_deref().ok_or_else(|| missing("--kind"))?;
                let tier = self.tier.as_deref().ok_or_else(|| missing("--tier"))?;
                let base_url = self.base_url.clone().ok_or_else(|| missing("--base-url"))?;
                NewProvider::new(
                    self.id.clone(),
                    kind.parse::<ProviderKind>()?,
                    tier.parse::<ProviderTier>()?,
                    base_url,
                )
            }
        };
        if let Some(kind) = &self.kind {
            new.kind = kind.parse()?;
        }
        if let Some(tier) = &self.tier {
            new.tier = tier.parse()?;
        }
        if let Some(base_url) = self.base_url {
            new.base_url = base_url;
        }
        if let Some(name) = self.name {
            new.display_name = name;
        }
        new.default_model = self.default_model;
        new.proxy_url = self.proxy_url;
        if self.key_stdin {
            new.api_key = Some(read_secret(&format!("API key for {}", self.id))?);
        }
        for header in &self.headers {
            new.extra_headers.push(plain_header(header)?);
        }
        for name in &self.secret_headers {
            new.extra_headers.push(secret_header(name)?);
        }
        Ok(new)
    }
}

impl UpdateArgs {
    /// The changes; reads new secret header values from stdin, in order.
    pub fn into_update(self) -> Result<(String, ProviderUpdate), CliError> {
        if self.api_key_in_argv.is_some() {
            return Err(CliError::SecretInArgv { what: "an API key" });
        }
        let mut update = ProviderUpdate {
            display_name: self.name,
            kind: self.kind.as_deref().map(str::parse).transpose()?,
            tier: self.tier.as_deref().map(str::parse).transpose()?,
            base_url: self.base_url,
            ..ProviderUpdate::default()
        };
        if self.clear_default_model {
            update.default_model = Some(None);
        } else if let Some(model) = self.default_model {
            update.default_model = Some(Some(model));
        }
        if self.clear_proxy {
            update.proxy_url = Some(None);
        } else if let Some(proxy) = self.proxy_url {
            update.proxy_url = Some(Some(proxy));
        }
        let replaces_headers = self.clear_headers
            || !self.headers.is_empty()
            || !self.secret_headers.is_empty()
            || !self.keep_secret_headers.is_empty();
        if replaces_headers {
            let mut headers = Vec::new();
            for header in &self.headers {
                headers.push(plain_header(header)?);
            }
            for name in &self.keep_secret_headers {
                headers.push(HeaderInput {
                    name: name.clone(),
                    value: HeaderValueInput::KeepSecret,
                });
            }
            for name in &self.secret_headers {
                headers.push(secret_header(name)?);
            }
            update.extra_headers = Some(headers);
        }
        Ok((self.id, update))
    }
}

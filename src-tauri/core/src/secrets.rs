//! Provider secrets, kept only in the OS keychain (Secret Service on Linux, Keychain on macOS,
//! Credential Manager on Windows) through `keyring`.
//!
//! Guarantees: a secret is held as [`SecretString`], whose `Debug` prints `[REDACTED]` and which has
//! no `Display`; what the rest of the app stores is a [`SecretHandle`] (a name, never the value).
//! When the keychain is unavailable or locked the operation fails with [`SecretsError`]: there is
//! no plaintext fallback of any kind.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The keychain service name under which every Handshake secret is stored.
pub const KEYCHAIN_SERVICE: &str = "dev.handshake.app";

/// The name of a secret in the keychain (the keychain "user"/account field). Safe to store, log
/// and export: it never contains the secret itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(transparent)]
pub struct SecretHandle(String);

impl SecretHandle {
    /// A handle with the given name.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The handle's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SecretHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a keychain operation failed. Messages name the handle, never the secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the OS keychain is not available ({detail}); Handshake never stores secrets anywhere else")]
    Unavailable { detail: String },
    #[error("the OS keychain is locked; unlock it and try again")]
    Locked,
    #[error("no secret named {handle} is stored in the OS keychain")]
    NotFound { handle: SecretHandle },
    #[error("the keychain refused the secret named {handle}: {detail}")]
    Rejected { handle: SecretHandle, detail: String },
    #[error("the secret is empty")]
    Empty,
}

/// Access to the OS keychain. Every call blocks on the platform store, so async callers should use
/// the `*_async` variants, which run it off the async executor.
#[derive(Clone, Debug, Default)]
pub struct Keychain {
    service: String,
}

impl Keychain {
    /// The keychain under Handshake's own service name.
    pub fn new() -> Self {
        Self { service: KEYCHAIN_SERVICE.to_owned() }
    }

    /// A keychain under another service name (tests keep their entries apart with this).
    pub fn with_service(service: impl Into<String>) -> Self {
        Self { service: service.into() }
    }

    fn entry(&self, handle: &SecretHandle) -> Result<keyring::Entry, SecretsError> {
        keyring::Entry::new(&self.service, handle.as_str()).map_err(|e| map_error(e, handle))
    }

    /// Stores (or replaces, which is how a key is rotated) the secret under `handle`.
    pub fn set(&self, handle: &SecretHandle, secret: &SecretString) -> Result<(), SecretsError> {
        if secret.expose_secret().is_empty() {
            return Err(SecretsError::Empty);
        }
        self.entry(handle)?
            .set_password(secret.expose_secret())
            .map_err(|e| map_error(e, handle))
    }

    /// Reads the secret stored under `handle`.
    pub fn get(&self, handle: &SecretHandle) -> Result<SecretString, SecretsError> {
        self.entry(handle)?
            .get_password()
            .map(SecretString::from)
            .map_err(|e| map_error(e, handle))
    }

    /// Whether a secret is stored under `handle`.
    pub fn contains(&self, handle: &SecretHandle) -> Result<bool, SecretsError> {
        match self.get(handle) {
            Ok(_) => Ok(true),
            Err(SecretsError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes the secret under `handle`; deleting one that is not there is not an error.
    pub fn delete(&self, handle: &SecretHandle) -> Result<(), SecretsError> {
        match self.entry(handle)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(e, handle)),
        }
    }

    /// Stores, reads back and deletes a probe entry: proves the keychain works end to end.
    pub fn probe(&self) -> Result<(), SecretsError> {
        let handle = SecretHandle::new(format!("doctor-probe-{}", uuid::Uuid::new_v4()));
        let value = SecretString::from(uuid::Uuid::new_v4().to_string());
        self.set(&handle, &value)?;
        let read = self.get(&handle);
        let deleted = self.delete(&handle);
        let read = read?;
        deleted?;
        if read.expose_secret() != value.expose_secret() {
            return Err(SecretsError::Rejected {
                handle,
                detail: "the value read back differs from the one stored".into(),
            });
        }
        Ok(())
    }

    /// [`Keychain::probe`] off the async executor.
    pub async fn probe_async(&self) -> Result<(), SecretsError> {
        let keychain = self.clone();
        tokio::task::spawn_blocking(move || keychain.probe())
            .await
            .map_err(|e| SecretsError::Unavailable { detail: format!("keychain task failed: {e}") })?
    }
}

fn map_error(error: keyring::Error, handle: &SecretHandle) -> SecretsError {
    match error {
        keyring::Error::NoEntry => SecretsError::NotFound { handle: handle.clone() },
        keyring::Error::NoStorageAccess(inner) => {
            let detail = inner.to_string();
            if detail.to_ascii_lowercase().contains("locked") {
                SecretsError::Locked
            } else {
                SecretsError::Unavailable { detail }
            }
        }
        keyring::Error::PlatformFailure(inner) => SecretsError::Unavailable { detail: inner.to_string() },
        keyring::Error::BadEncoding(_) => SecretsError::Rejected {
            handle: handle.clone(),
            detail: "the stored value is not valid UTF-8".into(),
        },
        keyring::Error::TooLong(field, _) => SecretsError::Rejected {
            handle: handle.clone(),
            detail: format!("the {field} is too long for this keychain"),
        },
        keyring::Error::Invalid(field, reason) => SecretsError::Rejected {
            handle: handle.clone(),
            detail: format!("invalid {field}: {reason}"),
        },
        keyring::Error::Ambiguous(_) => SecretsError::Rejected {
            handle: handle.clone(),
            detail: "more than one entry matches".into(),
        },
        other => SecretsError::Unavailable { detail: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let secret = SecretString::from("sk-canary-1234567890".to_owned());
        let printed = format!("{secret:?}");
        assert!(!printed.contains("canary"), "{printed}");
    }

    #[test]
    fn empty_secret_is_refused_before_touching_the_keychain() {
        let keychain = Keychain::with_service("dev.handshake.test.empty");
        let err = keychain.set(&SecretHandle::new("x"), &SecretString::from(String::new())).unwrap_err();
        assert!(matches!(err, SecretsError::Empty));
    }
}
